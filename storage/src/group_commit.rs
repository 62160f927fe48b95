//! SQLite group commit for sign-in ingest: batches that arrive while the writer is busy are
//! stored together in its next transaction.
//!
//! Why: a commit writes every page it changed to the WAL, and the background checkpoint copies
//! them back. Four of the B-trees a sign-in goes into take rows in random order (the primary key
//! on the GUID id, correlation id, IP address, the feed journal's id), so a 5,000-row commit
//! dirties a large part of each, and a commit of three such batches dirties hardly more: one
//! transaction instead of three writes and checkpoints those pages once (bench/ANALYSIS.md, issue
//! 20 part 4). PostgreSQL needs none of this: its writers run side by side.
//!
//! What it must never do:
//! - answer a batch before the transaction holding it has committed (durability as before: the
//!   response means the rows are in the WAL, under `synchronous = NORMAL`);
//! - let one batch's failure store part of it or change another: a batch whose statements fail
//!   rolls the group's transaction back and is answered with its error, and the other batches
//!   are stored again without it; a failed BEGIN or COMMIT answers every batch of the group with
//!   the error, and nothing of them is stored;
//! - change what a batch stores: each runs exactly what a lone batch runs (sign-ins, child rows,
//!   rollups, feed entries), in arrival order, so a batch sees the rows of the batches before it
//!   in the group as stored and counts repeats of them as duplicates.

use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Mutex, PoisonError};

use diesel::connection::SimpleConnection;
use domain::ids::TenantId;

use crate::conn::AnyConnection;
use crate::sign_ins::SignInRecord;

/// At most this many sign-ins in one group transaction: bounds the transaction's WAL frames and
/// how long the first batch of a group waits for the others.
const MAX_GROUP_ROWS: usize = 30_000;

/// A batch waiting for the writer.
pub(crate) struct Job {
    id: u64,
    pub(crate) tenant: TenantId,
    pub(crate) records: Vec<SignInRecord>,
    done: SyncSender<diesel::QueryResult<usize>>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Job({}, {} records)", self.id, self.records.len())
    }
}

/// Batches waiting for the writer, in arrival order.
#[derive(Debug, Default)]
pub(crate) struct Queue {
    pending: Mutex<(u64, Vec<Job>)>,
}

/// A queued batch: its id in the queue and where its outcome (sign-ins stored) arrives.
pub(crate) struct Ticket {
    id: u64,
    pub(crate) outcome: Receiver<diesel::QueryResult<usize>>,
}

impl Queue {
    /// Queues `records` of `tenant`.
    pub(crate) fn push(&self, tenant: TenantId, records: Vec<SignInRecord>) -> Ticket {
        let (done, outcome) = sync_channel(1);
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        pending.0 += 1;
        let id = pending.0;
        pending.1.push(Job { id, tenant, records, done });
        Ticket { id, outcome }
    }

    /// Takes the oldest batches, up to [`MAX_GROUP_ROWS`] sign-ins (at least one batch).
    pub(crate) fn take(&self) -> Vec<Job> {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        let mut rows = 0;
        let n = pending
            .1
            .iter()
            .take_while(|j| {
                rows += j.records.len();
                rows <= MAX_GROUP_ROWS
            })
            .count()
            .max(1)
            .min(pending.1.len());
        pending.1.drain(..n).collect()
    }

    /// Removes the ticket's batch if no writer has taken it; false when one has (its outcome
    /// will arrive).
    pub(crate) fn withdraw(&self, ticket: &Ticket) -> bool {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        let before = pending.1.len();
        pending.1.retain(|j| j.id != ticket.id);
        pending.1.len() != before
    }
}

/// Stores `jobs` in one transaction on the writer connection and sends each its outcome once the
/// transaction has ended. `store_one` is what a lone batch runs.
///
/// No savepoints: SQLite copies every page a savepoint changes into its sub-journal (in memory,
/// `temp_store = MEMORY`), which for a 5,000-row batch doubled the writer's resident memory. A
/// batch that fails instead rolls the whole transaction back; it is answered with its error and
/// the others are stored again without it.
pub(crate) fn run(
    conn: &mut AnyConnection,
    mut jobs: Vec<Job>,
    mut store_one: impl FnMut(&mut AnyConnection, &TenantId, &[SignInRecord]) -> diesel::QueryResult<usize>,
) {
    while !jobs.is_empty() {
        match attempt(conn, &jobs, &mut store_one) {
            Ok(stored) => {
                for (job, n) in jobs.into_iter().zip(stored) {
                    // The receiver is gone only if its request was dropped; its rows are stored.
                    let _ = job.done.send(Ok(n));
                }
                return;
            }
            Err(Failed::Batch(i, e)) => {
                let failed = jobs.remove(i);
                let _ = failed.done.send(Err(e));
            }
            Err(Failed::Transaction(e)) => {
                for job in jobs {
                    let _ = job.done.send(Err(copy_error(&e)));
                }
                return;
            }
        }
    }
}

/// Why a group transaction did not commit.
enum Failed {
    /// The batch at this index failed; the transaction was rolled back.
    Batch(usize, diesel::result::Error),
    /// BEGIN or COMMIT failed: nothing of the group is stored.
    Transaction(diesel::result::Error),
}

fn attempt(
    conn: &mut AnyConnection,
    jobs: &[Job],
    store_one: &mut impl FnMut(&mut AnyConnection, &TenantId, &[SignInRecord]) -> diesel::QueryResult<usize>,
) -> Result<Vec<usize>, Failed> {
    conn.batch_execute("BEGIN IMMEDIATE").map_err(Failed::Transaction)?;
    let mut stored = Vec::with_capacity(jobs.len());
    for (i, job) in jobs.iter().enumerate() {
        match store_one(conn, &job.tenant, &job.records) {
            Ok(n) => stored.push(n),
            Err(e) => {
                let _ = conn.batch_execute("ROLLBACK");
                return Err(Failed::Batch(i, e));
            }
        }
    }
    if let Err(e) = conn.batch_execute("COMMIT") {
        let _ = conn.batch_execute("ROLLBACK");
        return Err(Failed::Transaction(e));
    }
    Ok(stored)
}

/// The same error again, for each batch a failed transaction held (diesel's error is not Clone).
fn copy_error(e: &diesel::result::Error) -> diesel::result::Error {
    match e {
        diesel::result::Error::DatabaseError(kind, info) => {
            diesel::result::Error::DatabaseError(*kind, Box::new(info.message().to_owned()))
        }
        other => diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::Unknown,
            Box::new(other.to_string()),
        ),
    }
}
