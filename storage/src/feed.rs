//! The checkpoint feed behind `GET .../delta`: every record in the order it was stored (arrival),
//! not by its own time, so a record that arrives late (an old `createdDateTime`) still comes after
//! a checkpoint handed out before it arrived.
//!
//! Each ingest transaction appends one `feed_journal` row per record it stored, as its last
//! statement, and the feed reads the journal by `seq` joined to the set's table (which applies the
//! tenant, the caller's scope and retention as every other read does).
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

/// The advisory-lock namespace (first key) of the feed's per-tenant lock on PostgreSQL.
const LOCK_NAMESPACE: i32 = 0x1D7A;

/// The name of `kind`'s feed in the journal, if the set has one: the four top-level sets. A
/// risky user's history is not a feed; its changes show as the user's new state in `riskyUsers`.
#[must_use]
pub fn feed_name(kind: SetKind) -> Option<&'static str> {
    kind.has_feed().then(|| kind.segment())
}

/// One stored record to append to the journal.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub set: SetKind,
    pub id: String,
    pub ticks: i64,
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
        sql.push("INSERT INTO feed_journal (tenant_id, set_name, id, created_ticks) VALUES ");
        for (i, (name, e)) in chunk.iter().enumerate() {
            sql.push(if i > 0 { ", (" } else { "(" });
            sql.bind(Param::Text(tenant.as_str().to_owned())).push(", ");
            sql.bind(Param::Text((*name).to_owned())).push(", ");
            sql.bind(Param::Text(e.id.clone())).push(", ");
            sql.bind(Param::BigInt(e.ticks)).push(")");
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
struct FeedRow {
    #[diesel(sql_type = BigInt)]
    seq: i64,
    #[diesel(sql_type = BigInt)]
    created_ticks: i64,
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    doc: String,
    #[diesel(sql_type = Nullable<Text>)]
    doc_extra: Option<String>,
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
    pub limit: usize,
}

/// One page of a feed.
#[derive(Debug, Clone, Default)]
pub struct FeedPage {
    /// (position, record), in arrival order.
    pub rows: Vec<(i64, StoredDocument)>,
    /// The highest position of the set's journal in the same snapshot (at least `after`): when
    /// the page is the last, the next read can start here without missing or repeating a record.
    pub horizon: i64,
}

impl Store {
    /// The SQL of one feed page (also for EXPLAIN tests).
    ///
    /// # Panics
    /// Never for the sets that have a feed; the caller checks [`feed_name`].
    #[must_use]
    pub fn feed_sql(&self, q: &FeedQuery<'_>, view: &TenantView) -> Sql {
        let backend = self.backend();
        let name = feed_name(q.set.kind).unwrap_or_default();
        let mut sql = Sql::new(backend);
        sql.push("SELECT j.seq AS seq, s.created_ticks AS created_ticks, s.id AS id, s.doc AS doc, ")
            .push("s.doc_extra AS doc_extra FROM feed_journal j JOIN ")
            .push(q.set.table)
            .push(" s ON s.tenant_id = j.tenant_id AND s.id = j.id");
        if backend == Backend::Postgres && crate::partitions::is_partitioned(q.set.kind) {
            // The journal keeps the sign-in's time: each lookup goes to one day partition.
            sql.push(" AND s.created_ticks = j.created_ticks");
        }
        push_scope(&mut sql, q.set, q.tenant, q.user, view);
        sql.push(" AND j.tenant_id = ").bind(Param::Text(q.tenant.as_str().to_owned()));
        sql.push(" AND j.set_name = ").bind(Param::Text(name.to_owned()));
        sql.push(" AND j.seq > ").bind(Param::BigInt(q.after));
        sql.push(" ORDER BY j.seq LIMIT ").bind(Param::BigInt(i64::try_from(q.limit).unwrap_or(i64::MAX)));
        sql
    }

    /// One page of the feed of `q.set` after `q.after`, as `view` sees the tenant, with the
    /// journal's highest position in the same snapshot.
    ///
    /// # Errors
    /// Database errors.
    pub fn feed_page(&self, q: &FeedQuery<'_>, view: &TenantView) -> StorageResult<FeedPage> {
        let page = self.feed_sql(q, view);
        let mut highest = Sql::new(self.backend());
        highest
            .push("SELECT MAX(seq) AS seq FROM feed_journal WHERE tenant_id = ")
            .bind(Param::Text(q.tenant.as_str().to_owned()))
            .push(" AND set_name = ")
            .bind(Param::Text(feed_name(q.set.kind).unwrap_or_default().to_owned()));
        let mut conn = self.conn()?;
        let (rows, top) = in_snapshot(&mut conn, |c| {
            let rows: Vec<FeedRow> = page.load(c)?;
            let top = highest.load::<Highest>(c)?.first().and_then(|h| h.seq);
            Ok((rows, top))
        })?;
        let rows: Vec<(i64, StoredDocument)> = rows
            .into_iter()
            .map(|r| {
                (r.seq, StoredDocument { created_ticks: r.created_ticks, id: r.id, doc: r.doc, doc_extra: r.doc_extra })
            })
            .collect();
        Ok(FeedPage { rows, horizon: top.unwrap_or(0).max(q.after) })
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
