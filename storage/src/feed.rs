//! The checkpoint feed behind `GET .../delta`: every record in the order it was stored (arrival),
//! not by its own time, so a record that arrives late (an old `createdDateTime`) still comes after
//! a checkpoint handed out before it arrived.
//!
//! Each ingest transaction appends one `feed_journal` row per record it stored, as its last
//! statement. The feed reads the journal by `seq` in batches, then each batch's records by key
//! from the set's table with the tenant, the caller's scope and retention of every other read
//! (`push_scope`); sign-ins by (time, id), so only the batch's day partitions are read.
//!
//! The hard part is that a `seq` must be in *commit* order: a value taken at insert time lets
//! transaction A (seq 10) commit after B (seq 11), and a poller that already saw 11 would skip 10
//! for ever. So:
//! - SQLite has one writer at a time (`Store::write`, and `BEGIN IMMEDIATE` across processes): the
//!   AUTOINCREMENT value taken inside the write transaction is in commit order already.
//! - PostgreSQL writers run side by side: each takes the tenant's transaction-level advisory lock
//!   right before appending its journal rows and keeps it until it has committed (and is visible:
//!   PostgreSQL releases locks after it marks the transaction committed). A later seq of the
//!   tenant is therefore taken only after every earlier one is visible, and in any snapshot the
//!   tenant's visible seqs are every committed seq up to the highest visible one. Only that final
//!   insert is serialised per tenant, not the ingest; nothing else waits on the lock, and whoever
//!   holds it waits on nothing (it is the transaction's last statement), so it cannot deadlock.
//!
//! A page and the position after it are read in one snapshot (`REPEATABLE READ` on PostgreSQL, a
//! read transaction on SQLite), so "the highest seq seen" never runs ahead of what was served.
//!
//! A risky user's change deletes the user's earlier journal row and appends a new one, so the feed
//! shows each user once, at the position of its latest change, with its state when read.

use std::collections::HashMap;

use diesel::QueryableByName;
use diesel::connection::SimpleConnection;
use diesel::sql_types::{BigInt, Nullable, Text};
use domain::ids::TenantId;
use domain::query::EntitySet;
use domain::sets::SetKind;

use crate::conn::{AnyConnection, Backend};
use crate::entities::push_scope;
use crate::error::StorageResult;
use crate::sign_ins::StoredDocument;
use crate::sql::{Param, Sql};
use crate::{Store, TenantView};

/// Journal rows per INSERT (5 parameters each).
const CHUNK: usize = 1_000;

/// Journal entries read per statement by a feed page (at most 4 parameters each in the records' lookup).
const FEED_BATCH: usize = 1_000;

/// The advisory-lock namespace (first key) of the feed's per-tenant lock on PostgreSQL.
const LOCK_NAMESPACE: i32 = 0x1D7A;

/// The name of `kind`'s feed in the journal, if the set has one: the four top-level sets. A
/// risky user's history is not a feed; its changes show as the user's new state in `riskyUsers`.
#[must_use]
pub fn feed_name(kind: SetKind) -> Option<&'static str> {
    kind.has_feed().then(|| kind.segment())
}

/// Whether the journal of `kind` keeps each record's user, for own-only reads (a user's own
/// sign-ins) that then read only that user's entries.
fn journals_user(kind: SetKind) -> bool {
    match kind {
        SetKind::SignIns => true,
        SetKind::DirectoryAudits | SetKind::RiskDetections | SetKind::RiskyUsers | SetKind::RiskyUserHistory => false,
    }
}

/// One stored record to append to the journal.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub set: SetKind,
    pub id: String,
    pub ticks: i64,
    /// The record's user (lower case) where [`journals_user`] says the journal keeps it.
    pub user: Option<String>,
}

/// Appends `entries` (in order) to the journal of `tenant`. Must be the last statement of the write
/// transaction that stored them (see the module comment).
pub(crate) fn append(c: &mut AnyConnection, tenant: &TenantId, entries: &[Entry]) -> diesel::QueryResult<()> {
    let entries: Vec<(&'static str, &Entry)> =
        entries.iter().filter_map(|e| feed_name(e.set).map(|name| (name, e))).collect();
    if entries.is_empty() {
        return Ok(());
    }
    let backend = c.backend();
    if backend == Backend::Postgres {
        let mut lock = Sql::new(backend);
        lock.push("SELECT pg_advisory_xact_lock(")
            .bind(Param::Integer(LOCK_NAMESPACE))
            .push(", hashtext(")
            .bind(Param::Text(tenant.as_str().to_owned()))
            .push("))");
        lock.execute(c)?;
    }
    for chunk in entries.chunks(CHUNK) {
        let mut sql = Sql::new(backend);
        sql.push("INSERT INTO feed_journal (tenant_id, set_name, id, created_ticks, user_id) VALUES ");
        for (i, (name, e)) in chunk.iter().enumerate() {
            sql.push(if i > 0 { ", (" } else { "(" });
            sql.bind(Param::Text(tenant.as_str().to_owned())).push(", ");
            sql.bind(Param::Text((*name).to_owned())).push(", ");
            sql.bind(Param::Text(e.id.clone())).push(", ");
            sql.bind(Param::BigInt(e.ticks)).push(", ");
            let user = if journals_user(e.set) { e.user.clone() } else { None };
            sql.bind(Param::NullableText(user)).push(")");
        }
        sql.execute(c)?;
    }
    Ok(())
}

/// Deletes the journal rows of these records (they were deleted or are about to be replaced).
pub(crate) fn delete_ids(
    c: &mut AnyConnection,
    backend: Backend,
    set: SetKind,
    tenant: &str,
    ids: &[String],
) -> diesel::QueryResult<()> {
    let Some(name) = feed_name(set) else { return Ok(()) };
    if ids.is_empty() {
        return Ok(());
    }
    let mut del = Sql::new(backend);
    del.push("DELETE FROM feed_journal WHERE tenant_id = ").bind(Param::Text(tenant.to_owned()));
    del.push(" AND set_name = ").bind(Param::Text(name.to_owned()));
    del.push(" AND id IN ").bind_list(crate::entities::id_params(ids));
    del.execute(c)?;
    Ok(())
}

#[derive(QueryableByName)]
struct JournalRow {
    #[diesel(sql_type = BigInt)]
    seq: i64,
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = BigInt)]
    created_ticks: i64,
}

#[derive(QueryableByName)]
struct Highest {
    #[diesel(sql_type = Nullable<BigInt>)]
    seq: Option<i64>,
}

/// A read of one set's feed.
#[derive(Debug, Clone)]
pub struct FeedQuery<'a> {
    pub set: &'static EntitySet,
    pub tenant: &'a TenantId,
    /// Only this user's records (a user's own sign-ins).
    pub user: Option<&'a str>,
    /// The position to read after (0: from the start).
    pub after: i64,
    /// Records wanted at most.
    pub limit: usize,
}

/// One page of a feed.
#[derive(Debug, Clone, Default)]
pub struct FeedPage {
    /// (position, record), in arrival order: `limit` of them when there may be more.
    pub rows: Vec<(i64, StoredDocument)>,
    /// Read to the end of the journal: the highest position of the set's journal in the same
    /// snapshot (at least `after`), where the next read can start without missing or repeating a
    /// record. `None` when the page is full.
    pub horizon: Option<i64>,
}

impl Store {
    /// The SQL that reads the next `batch` journal entries of `q` after `after` (the tenant's, or
    /// one user's): one range of the journal's index, never the set's table.
    #[must_use]
    pub fn feed_journal_sql(&self, q: &FeedQuery<'_>, after: i64, batch: usize) -> Sql {
        let mut sql = Sql::new(self.backend());
        sql.push("SELECT seq, id, created_ticks FROM feed_journal WHERE tenant_id = ")
            .bind(Param::Text(q.tenant.as_str().to_owned()))
            .push(" AND set_name = ")
            .bind(Param::Text(feed_name(q.set.kind).unwrap_or_default().to_owned()));
        if let Some(user) = q.user
            && journals_user(q.set.kind)
        {
            // Only the user's entries (`feed_journal_by_user`), not the whole tenant's.
            sql.push(" AND user_id = ").bind(Param::Text(user.to_owned()));
        }
        sql.push(" AND seq > ").bind(Param::BigInt(after));
        sql.push(" ORDER BY seq LIMIT ").bind(Param::BigInt(i64::try_from(batch).unwrap_or(i64::MAX)));
        sql
    }

    /// The SQL that reads the records of journal entries `keys` (time, id) that the caller may see:
    /// by key, with the tenant, scope and retention of every read (`push_scope`); on PostgreSQL a
    /// sign-in by (time, id), so each is looked up in its own day partition.
    #[must_use]
    pub fn feed_records_sql(&self, q: &FeedQuery<'_>, view: &TenantView, keys: &[(i64, String)]) -> Sql {
        let backend = self.backend();
        let mut sql = Sql::new(backend);
        sql.push("SELECT s.created_ticks, s.id, s.doc, s.doc_extra FROM ").push(q.set.table).push(" s");
        push_scope(&mut sql, q.set, q.tenant, q.user, view);
        if backend == Backend::Postgres && crate::partitions::is_partitioned(q.set.kind) {
            // Each list on its own lets the planner read the partitions' primary key
            // (tenant_id, created_ticks, id) with `= ANY`; the pairs then keep exactly the keys.
            sql.push(" AND s.created_ticks IN ").bind_list(keys.iter().map(|(ticks, _)| Param::BigInt(*ticks)));
            sql.push(" AND s.id IN ").bind_list(keys.iter().map(|(_, id)| Param::Text(id.clone())));
            sql.push(" AND (s.created_ticks, s.id) IN (");
            for (i, (ticks, id)) in keys.iter().enumerate() {
                sql.push(if i > 0 { ", (" } else { "(" });
                sql.bind(Param::BigInt(*ticks)).push(", ").bind(Param::Text(id.clone())).push(")");
            }
            sql.push(")");
        } else {
            sql.push(" AND s.id IN ").bind_list(keys.iter().map(|(_, id)| Param::Text(id.clone())));
        }
        sql
    }

    /// Up to `q.limit` records of the feed of `q.set` after `q.after`, as `view` sees the tenant,
    /// read in one snapshot: the journal in batches, each batch's records by key (entries whose
    /// record the caller cannot see, or that was purged, are passed over), and, when the journal
    /// ends before the page is full, its highest position.
    ///
    /// # Errors
    /// Database errors.
    pub fn feed_page(&self, q: &FeedQuery<'_>, view: &TenantView) -> StorageResult<FeedPage> {
        let batch = q.limit.clamp(FEED_BATCH / 10, FEED_BATCH);
        let mut highest = Sql::new(self.backend());
        highest
            .push("SELECT MAX(seq) AS seq FROM feed_journal WHERE tenant_id = ")
            .bind(Param::Text(q.tenant.as_str().to_owned()))
            .push(" AND set_name = ")
            .bind(Param::Text(feed_name(q.set.kind).unwrap_or_default().to_owned()));
        let mut conn = self.conn()?;
        in_snapshot(&mut conn, |c| {
            let mut rows = Vec::new();
            let mut after = q.after;
            loop {
                let entries: Vec<JournalRow> = self.feed_journal_sql(q, after, batch).load(c)?;
                let Some(last) = entries.last().map(|e| e.seq) else { break };
                let keys: Vec<(i64, String)> = entries.iter().map(|e| (e.created_ticks, e.id.clone())).collect();
                let found: HashMap<String, StoredDocument> = self
                    .feed_records_sql(q, view, &keys)
                    .load::<StoredDocument>(c)?
                    .into_iter()
                    .map(|d| (d.id.clone(), d))
                    .collect();
                for e in &entries {
                    if let Some(doc) = found.get(&e.id) {
                        rows.push((e.seq, doc.clone()));
                        if rows.len() >= q.limit {
                            return Ok(FeedPage { rows, horizon: None });
                        }
                    }
                }
                if entries.len() < batch {
                    break;
                }
                after = last;
            }
            let top = highest.load::<Highest>(c)?.first().and_then(|h| h.seq);
            Ok(FeedPage { rows, horizon: Some(top.unwrap_or(0).max(after).max(q.after)) })
        })
        .map_err(Into::into)
    }
}

/// Runs `f`'s reads in one snapshot: a read-only `REPEATABLE READ` transaction on PostgreSQL, a
/// read transaction on SQLite (WAL readers keep the snapshot of their first read until it ends).
fn in_snapshot<T>(
    conn: &mut AnyConnection,
    f: impl FnOnce(&mut AnyConnection) -> diesel::QueryResult<T>,
) -> diesel::QueryResult<T> {
    let begin = match conn.backend() {
        Backend::Postgres => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
        Backend::Sqlite => "BEGIN DEFERRED",
    };
    conn.batch_execute(begin)?;
    match f(conn) {
        Ok(v) => {
            conn.batch_execute("COMMIT")?;
            Ok(v)
        }
        Err(e) => {
            let _ = conn.batch_execute("ROLLBACK");
            Err(e)
        }
    }
}
