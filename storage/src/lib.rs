//! idtrail's storage layer: diesel over SQLite (embedded default) and PostgreSQL (production).
//!
//! Every read takes the tenant, and the caller's scope within it, as arguments and puts them in
//! the SQL it runs; every value is a bound parameter. This crate never sees HTTP.

pub mod apply;
pub mod backup;
mod budget;
mod checkpoint;
pub mod conn;
pub mod entities;
mod group_commit;
mod risky_users;
pub mod rollups;
pub use risky_users::RiskyUserChange;
pub mod error;
pub mod feed;
pub mod filter;
pub mod indexes;
mod partitions;
pub mod prepared;
pub mod replicas;
pub mod schema;
pub mod sign_ins;
pub mod sql;
pub mod tenants;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use domain::ids::{LicenseTier, TenantId};
use domain::policy::{DataSet, Masks, RetentionPolicy};
use domain::query::EntitySet;
use domain::time::{Clock, SystemClock};

pub use conn::{Backend, DEFAULT_STATEMENT_TIMEOUT, DatabaseUrl};
pub use entities::{Query, Record};
pub use error::{StorageError, StorageResult};
pub use feed::{FeedPage, FeedQuery};
pub use sign_ins::{IngestOutcome, SignInRecord, StoredDocument};
pub mod purge;
pub use tenants::Tenant;

/// The store: a pool of connections to one database, and the clock that decides "now".
#[derive(Debug)]
pub struct Store {
    pool: conn::Pool,
    pool_events: Arc<conn::PoolEvents>,
    /// PostgreSQL read replicas for lists, counts and lookups (none: all on the primary).
    replicas: Option<replicas::Replicas>,
    backend: Backend,
    clock: Arc<dyn Clock>,
    known_partitions: Mutex<HashSet<i64>>,
    url: DatabaseUrl,
    /// SQLite has one writer at a time: this process writes through one connection, opened on
    /// first use, and its writers wait here in order rather than spinning in SQLite's busy handler
    /// (and failing with "database is locked" past its timeout).
    sqlite_writer: Mutex<Option<conn::AnyConnection>>,
    /// How pooled connections are set up: statement budget, prepared statements (replicas' pools too).
    session: conn::Session,
    /// SQLite: sign-in batches waiting for the writer, stored together (`group_commit.rs`).
    ingest_queue: group_commit::Queue,
    /// Whether ingest keeps the rollups (always, but for the bench's measurement of their cost).
    rollups: bool,
    /// SQLite: copies the WAL back into the database beside the writer, not inside its commits.
    checkpointer: Option<checkpoint::Checkpointer>,
    retention: RetentionPolicy,
    default_tier: LicenseTier,
    /// Tenants' tiers as last read, and when: every request needs its tenant's tier, and reading it
    /// was a second statement (a second round trip on PostgreSQL) beside the one the request is for.
    tiers: Mutex<HashMap<TenantId, (LicenseTier, Instant)>>,
}

/// How long a tier read from the database is used without reading it again. A change made through
/// this store applies at once; one made by another process (`idtrail tenant set`, another
/// instance) within this time.
pub const TIER_REFRESH: Duration = Duration::from_secs(1);

/// Tenants whose tiers are remembered at most; past it the memory starts over.
const MAX_REMEMBERED_TIERS: usize = 10_000;

/// The connection pool's numbers (see [`Store::pool_stats`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PoolStats {
    /// Connections the pool may open.
    pub max_size: u32,
    /// Connections open now.
    pub connections: u32,
    /// Open connections not checked out.
    pub idle: u32,
    /// Checkouts since the start.
    pub checkouts: u64,
    /// Seconds checkouts waited, in all (a timed-out one counts its whole timeout).
    pub wait_seconds: f64,
    /// Checkouts that got no connection in time.
    pub timeouts: u64,
}

/// What one tenant may see right now: its tier, and from when each data set is visible.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TenantView {
    pub tier: LicenseTier,
    /// Ticks; older rows are past retention and invisible.
    pub sign_ins_from: i64,
    /// Ticks; older directory audits are past retention.
    pub audits_from: i64,
    /// Ticks; older risk detections are past retention, and so are risky users whose risk was
    /// remediated or dismissed before it (users still at risk are kept).
    pub risk_detections_from: i64,
}

impl TenantView {
    /// The oldest instant of `set` the tenant may see.
    #[must_use]
    pub fn window_start(&self, set: &EntitySet) -> i64 {
        match set.kind.retention_table() {
            DataSet::SignIns => self.sign_ins_from,
            DataSet::DirectoryAudits => self.audits_from,
            DataSet::RiskDetections => self.risk_detections_from,
        }
    }

    /// What the tenant's license masks in `set`.
    #[must_use]
    pub fn masks(&self, set: &EntitySet) -> Masks {
        set.kind.masks(self.tier)
    }
}

impl Store {
    /// Opens (and migrates) the database at `url` with a pool of `pool_size` connections.
    ///
    /// # Errors
    /// [`StorageError::Config`] for a bad URL, [`StorageError::Unavailable`] when the database
    /// cannot be reached, [`StorageError::Migration`].
    pub fn open(url: &str, pool_size: u32) -> StorageResult<Self> {
        Self::open_with_clock(url, pool_size, Arc::new(SystemClock))
    }

    /// Like [`Store::open`], with a given clock (tests move time instead of sleeping).
    ///
    /// # Errors
    /// As [`Store::open`].
    pub fn open_with_clock(url: &str, pool_size: u32, clock: Arc<dyn Clock>) -> StorageResult<Self> {
        Self::open_configured(url, pool_size, Some(DEFAULT_STATEMENT_TIMEOUT), clock)
    }

    /// Like [`Store::open_with_clock`], with the time one statement of the pool may run
    /// (`None`: unbounded). Past it PostgreSQL cancels the statement and SQLite interrupts it; the
    /// caller gets [`StorageError::Timeout`].
    ///
    /// # Errors
    /// As [`Store::open`].
    pub fn open_configured(
        url: &str,
        pool_size: u32,
        statement_timeout: Option<Duration>,
        clock: Arc<dyn Clock>,
    ) -> StorageResult<Self> {
        Self::open_with_session(url, pool_size, conn::Session { statement_timeout, ..conn::Session::default() }, clock)
    }

    /// Like [`Store::open_configured`], with every setting of the pooled connections (see
    /// [`conn::Session`]: the statement budget, and how many statement shapes each prepares).
    ///
    /// # Errors
    /// As [`Store::open`].
    pub fn open_with_session(
        url: &str,
        pool_size: u32,
        session: conn::Session,
        clock: Arc<dyn Clock>,
    ) -> StorageResult<Self> {
        let url = DatabaseUrl::parse(url)?;
        let backend = url.backend();
        let pool_events = Arc::new(conn::PoolEvents::default());
        let pool = conn::connect(&url, pool_size.max(1), pool_events.clone(), session)?;
        let store = Self {
            pool,
            pool_events,
            replicas: None,
            backend,
            clock,
            known_partitions: Mutex::new(HashSet::new()),
            checkpointer: checkpoint::Checkpointer::start(&url),
            url,
            sqlite_writer: Mutex::new(None),
            ingest_queue: group_commit::Queue::default(),
            rollups: true,
            session,
            retention: RetentionPolicy::default(),
            default_tier: LicenseTier::Free,
            tiers: Mutex::new(HashMap::new()),
        };
        store.run_storage_tasks()?;
        Ok(store)
    }

    /// A store whose ingest keeps no rollups: for measuring what they cost (`bench`'s I2) only,
    /// since its reports would miss every sign-in it stores.
    #[doc(hidden)]
    #[must_use]
    pub fn without_rollups_for_measurement(mut self) -> Self {
        self.rollups = false;
        self
    }

    /// Sets the retention table and the tier of tenants not (yet) registered.
    #[must_use]
    pub fn with_policy(mut self, retention: RetentionPolicy, default_tier: LicenseTier) -> Self {
        self.retention = retention;
        self.default_tier = default_tier;
        self
    }

    /// Sends lists, counts and lookups to the streaming replicas `urls` (each with a pool of the
    /// primary's size) while their replay lag is at most `max_lag_ms`; see [`replicas`].
    ///
    /// # Errors
    /// [`StorageError::Config`] when the store or a URL is not PostgreSQL.
    pub fn with_replicas(mut self, urls: &[String], max_lag_ms: u64) -> StorageResult<Self> {
        if urls.is_empty() {
            return Ok(self);
        }
        if self.backend != Backend::Postgres {
            return Err(StorageError::Config(
                "database_read_urls needs a PostgreSQL database_url (replicas of SQLite do not exist)".into(),
            ));
        }
        self.replicas = Some(replicas::Replicas::open(urls, self.pool.max_size(), max_lag_ms, self.session)?);
        Ok(self)
    }

    /// Whether read replicas are configured.
    #[must_use]
    pub fn has_replicas(&self) -> bool {
        self.replicas.is_some()
    }

    /// Measures the replicas' lag and marks each usable or not (the service calls it every
    /// [`replicas::CHECK_INTERVAL`]).
    pub fn check_replicas(&self) {
        if let Some(r) = &self.replicas {
            r.check(|| self.conn());
        }
    }

    /// The replicas' state and where reads went; `None` without replicas.
    #[must_use]
    pub fn read_routing(&self) -> Option<replicas::ReadRouting> {
        self.replicas.as_ref().map(replicas::Replicas::routing)
    }

    /// Runs the read `f` on a well replica, else on the primary.
    pub(crate) fn read<T>(&self, f: impl Fn(&mut conn::AnyConnection) -> StorageResult<T>) -> StorageResult<T> {
        match &self.replicas {
            Some(r) => r.read(|| self.conn(), f),
            None => f(&mut **self.conn()?),
        }
    }

    #[must_use]
    pub fn retention(&self) -> &RetentionPolicy {
        &self.retention
    }

    /// What `tenant` may see now, from its current tier (read again from the database once it is
    /// [`TIER_REFRESH`] old; at once after a change through this store).
    ///
    /// # Errors
    /// Database errors.
    pub fn tenant_view(&self, tenant: &TenantId) -> StorageResult<TenantView> {
        let remembered = self.tiers.lock().unwrap_or_else(PoisonError::into_inner).get(tenant).copied();
        if let Some((tier, read)) = remembered
            && read.elapsed() < TIER_REFRESH
        {
            return Ok(self.view_for(tier));
        }
        let read = Instant::now();
        let tier = self.tenant(tenant)?.map_or(self.default_tier, |t| t.tier);
        let mut tiers = self.tiers.lock().unwrap_or_else(PoisonError::into_inner);
        if tiers.len() >= MAX_REMEMBERED_TIERS {
            tiers.clear();
        }
        tiers.insert(tenant.clone(), (tier, read));
        Ok(self.view_for(tier))
    }

    /// Forgets the remembered tier of `tenant` (after this store changed it).
    pub(crate) fn forget_tier(&self, tenant: &TenantId) {
        self.tiers.lock().unwrap_or_else(PoisonError::into_inner).remove(tenant);
    }

    /// What a tenant on `tier` may see now.
    #[must_use]
    pub fn view_for(&self, tier: LicenseTier) -> TenantView {
        let now = self.clock.now_ticks();
        TenantView {
            tier,
            sign_ins_from: self.retention.window_start(DataSet::SignIns, tier, now),
            audits_from: self.retention.window_start(DataSet::DirectoryAudits, tier, now),
            risk_detections_from: self.retention.window_start(DataSet::RiskDetections, tier, now),
        }
    }

    #[must_use]
    pub fn backend(&self) -> Backend {
        self.backend
    }

    #[must_use]
    pub fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    /// Runs `f` in one write transaction as a writer (see [`Store::write`]), committing if it
    /// succeeds and rolling back if it fails.
    ///
    /// # Errors
    /// As [`Store::write`]; database errors, after which nothing is changed.
    pub(crate) fn write_transaction<T>(
        &self,
        f: impl FnOnce(&mut conn::AnyConnection) -> diesel::QueryResult<T>,
    ) -> StorageResult<T> {
        self.write(|conn| Ok(entities::in_write_transaction(conn, f)?))
    }

    /// Runs `f` as a writer: on SQLite on this process's one writer connection, in turn with the
    /// process's other writers; on PostgreSQL, where writers run side by side, on a pooled one.
    ///
    /// # Errors
    /// [`StorageError::Unavailable`] when no connection can be had; whatever `f` returns.
    fn write<T>(&self, f: impl FnOnce(&mut conn::AnyConnection) -> StorageResult<T>) -> StorageResult<T> {
        if self.backend == Backend::Postgres {
            return f(&mut **self.conn()?);
        }
        let mut writer = self.sqlite_writer.lock().unwrap_or_else(|poisoned| {
            // A writer panicked, perhaps inside a transaction: go on with a fresh connection.
            let mut writer = poisoned.into_inner();
            *writer = None;
            self.sqlite_writer.clear_poison();
            writer
        });
        let c = match &mut *writer {
            Some(c) => c,
            slot @ None => {
                let mut c = conn::establish_writer(&self.url).map_err(|e| StorageError::Unavailable(e.to_string()))?;
                if self.checkpointer.is_some() {
                    checkpoint::manual(&mut c)?;
                }
                slot.insert(c)
            }
        };
        if let Some(checkpointer) = &self.checkpointer {
            checkpointer.bound_wal(c)?;
        }
        let result = f(c);
        if let Some(checkpointer) = &self.checkpointer {
            checkpointer.written();
        }
        result
    }

    pub(crate) fn conn(&self) -> StorageResult<conn::PooledConn> {
        self.pool.get().map_err(|e| {
            // Every connection open and none idle: the wait ran out behind other requests.
            let state = self.pool.state();
            if state.connections >= self.pool.max_size() && state.idle_connections == 0 {
                StorageError::Busy(e.to_string())
            } else {
                StorageError::from(e)
            }
        })
    }

    /// The pool's connections and how many of them are idle (not checked out) right now.
    #[must_use]
    pub fn pool_state(&self) -> (u32, u32) {
        let state = self.pool.state();
        (state.connections, state.idle_connections)
    }

    /// The pool's size, state and what it has done, for `/metrics`.
    #[must_use]
    pub fn pool_stats(&self) -> PoolStats {
        let state = self.pool.state();
        let (checkouts, wait_seconds) = self.pool_events.totals();
        PoolStats {
            max_size: self.pool.max_size(),
            connections: state.connections,
            idle: state.idle_connections,
            checkouts,
            wait_seconds,
            timeouts: self.pool_events.timeouts(),
        }
    }

    /// SQLite: waits for a write in progress, then copies the WAL into the database file and
    /// truncates it (at shutdown: the file alone then holds every commit). PostgreSQL: nothing.
    ///
    /// # Errors
    /// Database errors.
    pub fn checkpoint_wal(&self) -> StorageResult<()> {
        let Some(checkpointer) = &self.checkpointer else { return Ok(()) };
        self.write(|c| Ok(checkpointer.truncate(c)?))
    }

    /// Checks that the database answers.
    ///
    /// # Errors
    /// [`StorageError::Unavailable`] when it does not.
    pub fn ping(&self) -> StorageResult<()> {
        let mut c = self.conn()?;
        c.batch_execute("SELECT 1").map_err(|e| StorageError::Unavailable(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pool whose every connection is held elsewhere answers `Busy` after its wait, not
    /// `Unavailable`: the database is up, and the client is told so.
    #[test]
    fn a_pool_with_every_connection_held_is_busy_not_unavailable() {
        let path = std::env::temp_dir().join(format!("idtrail-busy-{}.db", std::process::id()));
        let store = Store::open(&format!("sqlite://{}", path.display()), 1).unwrap();
        let held = store.conn().unwrap();
        let err = store.conn().err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.starts_with("every database connection is busy"), "{err}");
        drop(held);
        assert!(store.conn().is_ok());
        drop(store);
        for suffix in ["", "-wal", "-shm"] {
            std::fs::remove_file(format!("{}{suffix}", path.display())).ok();
        }
    }
}
