//! SQLite checkpoints off the writer's path.
//!
//! In WAL mode every commit appends the pages it changed to the WAL, and a checkpoint copies them
//! back into the database file. SQLite's automatic checkpoint runs inside the commit that crosses
//! 1,000 pages, so the one writer stops to copy and fsync: a fifth of its time during ingest
//! (measured in `bench/ANALYSIS.md`). Here the writer connection has the automatic checkpoint off
//! and, after each write, wakes a thread that runs a `PASSIVE` checkpoint on its own connection
//! while the writer goes on with the next batch. A page changed by several commits in the meantime
//! is copied once.
//!
//! A passive checkpoint never waits for readers or the writer, so it may fall behind; the WAL
//! cannot restart from its beginning until everything in it is copied, and would grow. When the
//! WAL file passes [`WAL_LIMIT_BYTES`] the writer itself runs a `TRUNCATE` checkpoint before its
//! next batch: that bounds the file, and slows writers to the pace the disk keeps.

use std::path::PathBuf;
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError};

use diesel::connection::SimpleConnection;
use diesel::{QueryableByName, RunQueryDsl};

use crate::conn::{AnyConnection, DatabaseUrl};

/// Past this size of the WAL file the writer checkpoints before writing again.
pub(crate) const WAL_LIMIT_BYTES: u64 = 256 * 1024 * 1024;

/// The background checkpointer of one SQLite database.
#[derive(Debug)]
pub(crate) struct Checkpointer {
    wake: SyncSender<()>,
    wal: PathBuf,
    /// Held while a checkpoint runs: SQLite refuses a second checkpointer at once without waiting,
    /// so the writer's forced checkpoint waits here for the background one to end.
    turn: Arc<Mutex<()>>,
}

#[derive(QueryableByName)]
struct CheckpointRow {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    busy: i32,
}

impl Checkpointer {
    /// Starts the thread for the database at `url` (SQLite only; `None` for PostgreSQL).
    pub(crate) fn start(url: &DatabaseUrl) -> Option<Self> {
        let DatabaseUrl::Sqlite { path } = url else { return None };
        // One pending wake-up is enough: a checkpoint copies everything committed before it starts.
        let (wake, woken) = mpsc::sync_channel::<()>(1);
        let url = url.clone();
        let turn = Arc::new(Mutex::new(()));
        let thread_turn = Arc::clone(&turn);
        let spawned = std::thread::Builder::new().name("sqlite-checkpoint".into()).spawn(move || {
            let mut conn = None;
            // Ends when the store (the sender) is dropped.
            while woken.recv().is_ok() {
                if conn.is_none() {
                    conn = crate::conn::establish(&url)
                        .map_err(|e| tracing::warn!(error = %e, "checkpoint connection"))
                        .ok();
                }
                let _turn = thread_turn.lock().unwrap_or_else(PoisonError::into_inner);
                if let Some(c) = conn.as_mut()
                    && let Err(e) = checkpoint(c, "PASSIVE")
                {
                    tracing::warn!(error = %e, "background checkpoint failed");
                    conn = None;
                }
            }
        });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "no checkpoint thread; SQLite checkpoints inside commits");
            return None;
        }
        Some(Self { wake, wal: PathBuf::from(format!("{path}-wal")), turn })
    }

    /// After a write: wakes the thread (if it is not already due to run).
    pub(crate) fn written(&self) {
        match self.wake.try_send(()) {
            Ok(()) | Err(TrySendError::Full(())) => {}
            Err(TrySendError::Disconnected(())) => tracing::warn!("checkpoint thread is gone"),
        }
    }

    /// Before a write, on the writer connection: if the WAL has grown past its limit (the
    /// background checkpoints fell behind), copies it back and truncates it now.
    ///
    /// # Errors
    /// Database errors of the checkpoint.
    pub(crate) fn bound_wal(&self, writer: &mut AnyConnection) -> diesel::QueryResult<()> {
        let size = std::fs::metadata(&self.wal).map_or(0, |m| m.len());
        if size > WAL_LIMIT_BYTES {
            tracing::info!(wal_mb = size / 1_048_576, "WAL over its limit: checkpointing before the next write");
            let _turn = self.turn.lock().unwrap_or_else(PoisonError::into_inner);
            checkpoint(writer, "TRUNCATE")?;
        }
        Ok(())
    }
}

impl Checkpointer {
    /// On the writer connection: copies the whole WAL back and truncates it, in turn with the
    /// background checkpoint (at shutdown, so that the database file alone is complete).
    ///
    /// # Errors
    /// Database errors of the checkpoint.
    pub(crate) fn truncate(&self, writer: &mut AnyConnection) -> diesel::QueryResult<()> {
        let _turn = self.turn.lock().unwrap_or_else(PoisonError::into_inner);
        checkpoint(writer, "TRUNCATE")
    }
}

/// Runs `PRAGMA wal_checkpoint(mode)`; a checkpoint that readers kept from finishing is not an
/// error (the next one goes on from there).
fn checkpoint(c: &mut AnyConnection, mode: &str) -> diesel::QueryResult<()> {
    let AnyConnection::Sqlite(s) = c else { return Ok(()) };
    let rows: Vec<CheckpointRow> = diesel::sql_query(format!("PRAGMA wal_checkpoint({mode})")).load(s)?;
    if rows.first().is_some_and(|r| r.busy != 0) {
        tracing::debug!(mode, "checkpoint could not finish: readers or a writer in the way");
    }
    Ok(())
}

/// Turns SQLite's automatic checkpoint off on the writer connection (the checkpointer does it).
///
/// # Errors
/// Database errors.
pub(crate) fn manual(c: &mut AnyConnection) -> diesel::QueryResult<()> {
    c.batch_execute("PRAGMA wal_autocheckpoint = 0")
}
