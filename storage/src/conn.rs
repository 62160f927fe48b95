//! Connections: one `AnyConnection` enum over SQLite and PostgreSQL, chosen from the URL scheme
//! (never by trial, since SQLite accepts any string), pooled with r2d2, migrated at start.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use diesel::connection::{Instrumentation, InstrumentationEvent, SimpleConnection};
use diesel::r2d2::{self, ManageConnection};
use diesel::{Connection, PgConnection, SqliteConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::error::{StorageError, StorageResult};
use crate::prepared;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    Postgresql(PgConnection),
    Sqlite(SqliteConnection),
}

impl std::fmt::Debug for AnyConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AnyConnection({})", self.backend().name())
    }
}

impl AnyConnection {
    /// Which database this connection talks to.
    #[must_use]
    pub fn backend(&self) -> Backend {
        match self {
            Self::Sqlite(_) => Backend::Sqlite,
            Self::Postgresql(_) => Backend::Postgres,
        }
    }
}

/// Which database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

/// A database URL, parsed: `sqlite://PATH` (relative or, with a third slash, absolute), or
/// `postgres://...` / `postgresql://...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite { path: String },
    Postgres { url: String },
}

impl DatabaseUrl {
    /// Parses a database URL.
    ///
    /// # Errors
    /// [`StorageError::Config`] for any other scheme or an empty SQLite path.
    pub fn parse(url: &str) -> StorageResult<Self> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self::Postgres { url: url.to_owned() });
        }
        if let Some(rest) = url.strip_prefix("sqlite:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if path.is_empty() {
                return Err(StorageError::Config(format!("the SQLite URL '{url}' names no file")));
            }
            return Ok(Self::Sqlite { path: path.to_owned() });
        }
        Err(StorageError::Config(format!(
            "unsupported database URL '{url}': use sqlite://PATH or postgres://USER@HOST/DB"
        )))
    }

    #[must_use]
    pub fn backend(&self) -> Backend {
        match self {
            Self::Sqlite { .. } => Backend::Sqlite,
            Self::Postgres { .. } => Backend::Postgres,
        }
    }
}

/// Opens SQLite's writer connection: the one connection this process writes through (see
/// `Store::write`). Its page cache is larger than a reader's: nobody else writes, so the index
/// pages it holds stay valid from one batch to the next instead of being read back from the file.
///
/// # Errors
/// When the database cannot be opened.
pub(crate) fn establish_writer(url: &DatabaseUrl) -> Result<AnyConnection, diesel::ConnectionError> {
    let mut c = establish(url)?;
    if let AnyConnection::Sqlite(s) = &mut c {
        s.batch_execute(&format!("PRAGMA cache_size = -{WRITER_CACHE_KIB}"))
            .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
    }
    Ok(c)
}

/// The SQLite writer connection's page cache, in KiB.
const WRITER_CACHE_KIB: u32 = 64 * 1024;

/// How every pooled SQLite connection is set up (the bench's baseline uses it too).
///
/// WAL lets readers run beside the one writer; busy_timeout makes writers of other processes queue
/// instead of failing (this process has one writer, see `Store::write`); NORMAL sync is durable
/// across process crashes in WAL mode. Readers keep SQLite's default 2 MB page cache: a reader's
/// cache is dropped whenever another connection commits, and a scan's pages come from the OS cache
/// anyway (16 MB measured slower under concurrency, and multiplied memory by the pool size); the
/// writer has its own, larger one (`establish_writer`). The WAL is truncated back to 64 MB after
/// checkpoints instead of keeping its peak size. The busy timeout comes first: the `journal_mode`
/// statement reads the database, and the last connection of another store closing (it checkpoints
/// and removes the WAL under an exclusive lock) would otherwise fail it at once with "database is
/// locked".
pub const SQLITE_SESSION: &str = "PRAGMA busy_timeout = 30000; PRAGMA journal_mode = WAL; \
     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY; \
     PRAGMA journal_size_limit = 67108864;";

/// How every PostgreSQL connection is set up (the bench's baseline uses it too).
///
/// Pooled connections add their statement budget (`Manager`): past it the database cancels the
/// statement and the caller gets 503. Partitionwise joins let a lambda over child rows (`appliedConditionalAccessPolicies/any(...)`)
/// be joined day partition by day partition, where the planner can start from the child rows'
/// index; across all partitions at once it scanned every sign-in (bench/ANALYSIS.md, Q5).
pub const POSTGRES_SESSION: &str = "SET TIME ZONE 'UTC'; SET enable_partitionwise_join = on";

/// How long one statement of a pooled connection may run when nothing else is configured
/// (`statement_timeout_ms`).
pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens one connection and prepares it for use.
pub(crate) fn establish(url: &DatabaseUrl) -> Result<AnyConnection, diesel::ConnectionError> {
    match url {
        DatabaseUrl::Sqlite { path } => {
            crate::budget::register();
            let mut c = SqliteConnection::establish(path)?;
            c.batch_execute(SQLITE_SESSION).map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
            Ok(AnyConnection::Sqlite(c))
        }
        DatabaseUrl::Postgres { url } => {
            let mut c = PgConnection::establish(url)?;
            c.batch_execute(POSTGRES_SESSION).map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
            Ok(AnyConnection::Postgresql(c))
        }
    }
}

/// Whether `e` says the connection itself is gone (the server closed it, was restarted, or an
/// administrator terminated the backend), as opposed to a statement that failed on a live one.
#[must_use]
pub fn is_connection_lost(e: &diesel::result::Error) -> bool {
    use diesel::result::DatabaseErrorKind;
    matches!(
        e,
        diesel::result::Error::DatabaseError(
            DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
            _
        )
    ) || matches!(e, diesel::result::Error::DatabaseError(_, info)
        if ["server closed the connection", "no connection to the server", "terminating connection", "could not receive data"]
            .iter()
            .any(|m| info.message().contains(m)))
}

/// A pooled connection and whether a statement on it found the connection gone; such a
/// connection is discarded when it goes back to the pool, so the next checkout gets a new one.
pub struct PoolConn {
    conn: AnyConnection,
    lost: Arc<AtomicBool>,
}

impl std::fmt::Debug for PoolConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PoolConn({:?}, lost: {})", self.conn, self.lost.load(Ordering::Relaxed))
    }
}

impl std::ops::Deref for PoolConn {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for PoolConn {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.conn
    }
}

/// How the pool's connections are set up beyond their URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Session {
    /// How long one statement may run (`None`: unbounded).
    pub statement_timeout: Option<Duration>,
    /// Statement shapes each PostgreSQL connection prepares and keeps at most (0: none; see
    /// [`crate::prepared`]). SQLite connections prepare none.
    pub prepared_statements: usize,
}

impl Default for Session {
    fn default() -> Self {
        Self { statement_timeout: Some(DEFAULT_STATEMENT_TIMEOUT), prepared_statements: prepared::DEFAULT_CAPACITY }
    }
}

/// The r2d2 manager: builds the right variant from the URL, with the statement budget.
#[derive(Debug)]
pub struct Manager {
    url: DatabaseUrl,
    session: Session,
}

/// What each connection keeps beside diesel's own state, held as its instrumentation (the one
/// place diesel lets a connection carry state of ours and tell us of every statement): whether a
/// statement found the connection gone, SQLite's statement budget, and the shapes it prepared.
pub struct ConnState {
    lost: Arc<AtomicBool>,
    /// SQLite's budget is kept by `budget.rs`, told here when each statement starts and ends.
    sqlite_budget: Option<Duration>,
    /// Statements may nest (a cursor still open while another runs): the outermost one's
    /// deadline holds until it ends.
    running: u32,
    pub(crate) shapes: Option<prepared::Shapes>,
    /// The process's default instrumentation (`diesel::connection::set_default_instrumentation`:
    /// a statement logger, a test's capture) still sees every event.
    default: Option<Box<dyn Instrumentation>>,
}

impl ConnState {
    fn new(sqlite_budget: Option<Duration>, prepared_statements: usize) -> Self {
        Self {
            lost: Arc::new(AtomicBool::new(false)),
            sqlite_budget,
            running: 0,
            shapes: (prepared_statements > 0).then(|| prepared::Shapes::new(prepared_statements)),
            default: diesel::connection::get_default_instrumentation(),
        }
    }

    /// The state of `conn`, when it was set up by this module.
    pub(crate) fn of<C: Connection>(conn: &mut C) -> Option<&mut Self> {
        conn.instrumentation().downcast_mut::<Self>()
    }

    /// Marks the connection for discarding when it goes back to the pool.
    pub(crate) fn discard(&self) {
        self.lost.store(true, Ordering::Relaxed);
    }

    /// Statements prepared and kept by this connection now (diesel's cache).
    #[must_use]
    pub fn prepared_statements(&self) -> usize {
        self.shapes.as_ref().map_or(0, prepared::Shapes::prepared)
    }
}

impl Instrumentation for ConnState {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        match &event {
            InstrumentationEvent::StartQuery { .. } => {
                if let Some(budget) = self.sqlite_budget {
                    if self.running == 0 {
                        crate::budget::start(budget);
                    }
                    self.running += 1;
                }
            }
            InstrumentationEvent::FinishQuery { error, .. } => {
                // Every statement reports its outcome here, so a lost connection is noticed by
                // the statement that found it, at no cost to the others.
                if error.is_some_and(is_connection_lost) {
                    self.discard();
                }
                if self.sqlite_budget.is_some() {
                    self.running = self.running.saturating_sub(1);
                    if self.running == 0 {
                        crate::budget::finish();
                    }
                }
            }
            InstrumentationEvent::CacheQuery { .. } => {
                if let Some(shapes) = &mut self.shapes {
                    shapes.prepared_one();
                }
            }
            _ => {}
        }
        if let Some(default) = &mut self.default {
            default.on_connection_event(event);
        }
    }
}

/// Lets a connection opened outside the pool (the bench's baseline) reuse statements as pooled
/// ones do, keeping at most `capacity` prepared.
pub fn reuse_statements(conn: &mut AnyConnection, capacity: usize) {
    let capacity = prepared_capacity(conn.backend(), capacity);
    conn.set_instrumentation(ConnState::new(None, capacity));
}

/// Statements a connection of `backend` keeps prepared. PostgreSQL only: SQLite compiles a
/// statement in microseconds, and reusing them measured no gain over HTTP (bench/ANALYSIS.md,
/// P1-P4 on SQLite: 0.71-1.49x, mostly below 1, within the machine's noise).
fn prepared_capacity(backend: Backend, capacity: usize) -> usize {
    if backend == Backend::Postgres { capacity } else { 0 }
}

impl ManageConnection for Manager {
    type Connection = PoolConn;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<PoolConn, r2d2::Error> {
        let mut conn = establish(&self.url).map_err(r2d2::Error::ConnectionError)?;
        let budget = self.session.statement_timeout;
        let mut state = ConnState::new(
            budget.filter(|_| conn.backend() == Backend::Sqlite),
            prepared_capacity(conn.backend(), self.session.prepared_statements),
        );
        if let AnyConnection::Postgresql(c) = &mut conn {
            let mut setup = Vec::new();
            if let Some(budget) = budget {
                setup.push(format!("SET statement_timeout = {}", budget.as_millis().max(1)));
            }
            // Statements are planned for their values until a shape earns a generic plan
            // (`prepared`); set here, in the same round trip, so that the first needs no switch.
            if let Some(shapes) = &mut state.shapes {
                setup.push(prepared::Plan::Custom.setting().to_owned());
                shapes.set_mode(Some(prepared::Plan::Custom), false);
            }
            if !setup.is_empty() {
                c.batch_execute(&setup.join("; ")).map_err(r2d2::Error::QueryError)?;
            }
        }
        let lost = state.lost.clone();
        conn.set_instrumentation(state);
        Ok(PoolConn { conn, lost })
    }

    fn is_valid(&self, conn: &mut PoolConn) -> Result<(), r2d2::Error> {
        conn.batch_execute("SELECT 1").map_err(r2d2::Error::QueryError)
    }

    /// Discards a connection a statement found gone, one left in a broken transaction state
    /// (diesel's own check), or one returned during a panic.
    fn has_broken(&self, conn: &mut PoolConn) -> bool {
        std::thread::panicking()
            || conn.lost.load(Ordering::Relaxed)
            || diesel::r2d2::R2D2Connection::is_broken(&mut conn.conn)
    }
}

/// What the pool has done since it was built: checkouts, the time they waited (for a free
/// connection or for one to open), and checkouts that gave up (the request answered 503). Read
/// by `/metrics`.
#[derive(Debug, Default)]
pub struct PoolEvents {
    checkouts: AtomicU64,
    wait_nanos: AtomicU64,
    timeouts: AtomicU64,
}

impl PoolEvents {
    /// (checkouts, seconds they waited in all).
    #[must_use]
    pub fn totals(&self) -> (u64, f64) {
        let nanos = self.wait_nanos.load(Ordering::Relaxed);
        #[allow(clippy::cast_precision_loss)]
        let seconds = nanos as f64 / 1e9;
        (self.checkouts.load(Ordering::Relaxed), seconds)
    }

    #[must_use]
    pub fn timeouts(&self) -> u64 {
        self.timeouts.load(Ordering::Relaxed)
    }
}

#[derive(Debug)]
struct CountEvents(Arc<PoolEvents>);

impl r2d2::HandleEvent for CountEvents {
    fn handle_checkout(&self, event: r2d2::event::CheckoutEvent) {
        let nanos = u64::try_from(event.duration().as_nanos()).unwrap_or(u64::MAX);
        self.0.checkouts.fetch_add(1, Ordering::Relaxed);
        self.0.wait_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    fn handle_timeout(&self, event: r2d2::event::TimeoutEvent) {
        let nanos = u64::try_from(event.timeout().as_nanos()).unwrap_or(u64::MAX);
        self.0.timeouts.fetch_add(1, Ordering::Relaxed);
        self.0.wait_nanos.fetch_add(nanos, Ordering::Relaxed);
    }
}

pub type Pool = r2d2::Pool<Manager>;
pub type PooledConn = r2d2::PooledConnection<Manager>;

/// Runs the backend's pending migrations on a fresh connection.
fn migrate(url: &DatabaseUrl) -> StorageResult<()> {
    let conn = establish(url).map_err(|e| StorageError::Unavailable(e.to_string()))?;
    let result = match conn {
        AnyConnection::Sqlite(mut c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|_| ()),
        AnyConnection::Postgresql(mut c) => c.run_pending_migrations(POSTGRES_MIGRATIONS).map(|_| ()),
    };
    result.map_err(|e| StorageError::Migration(e.to_string()))
}

/// Migrates the database and builds a pool of `size` connections set up as `session` says.
///
/// # Errors
/// [`StorageError::Unavailable`] when the database cannot be reached; [`StorageError::Migration`].
pub fn connect(url: &DatabaseUrl, size: u32, events: Arc<PoolEvents>, session: Session) -> StorageResult<Pool> {
    migrate(url)?;
    r2d2::Pool::builder()
        .max_size(size)
        // No connection is opened in the background to keep one idle: a one-shot command (`idtrail
        // tenant set`) could exit while such a connect was under way in libpq, and crash in its
        // TLS teardown. Connections open on demand and stay pooled.
        .min_idle(Some(0))
        // How long a request waits for a connection (the pool is busy, or the database is down and
        // each attempt to connect fails) before it answers 503.
        .connection_timeout(Duration::from_secs(5))
        // No `SELECT 1` before every use: it doubled the statements of a read. A connection the
        // server dropped fails the one statement that finds it gone (503, retried by the client)
        // and is discarded on its way back (`has_broken`); the next checkout connects anew.
        .test_on_check_out(false)
        .event_handler(Box::new(CountEvents(events)))
        .build(Manager { url: url.clone(), session })
        .map_err(|e| StorageError::Unavailable(e.to_string()))
}

/// A pool that opens its connections on demand and runs no migrations: a read replica's, which
/// may be down at start and is never written.
pub(crate) fn unchecked_pool(
    url: &DatabaseUrl,
    size: u32,
    timeout: Duration,
    events: Arc<PoolEvents>,
    session: Session,
) -> Pool {
    r2d2::Pool::builder()
        .max_size(size.max(1))
        .min_idle(Some(0))
        .connection_timeout(timeout)
        .test_on_check_out(false)
        .event_handler(Box::new(CountEvents(events)))
        .build_unchecked(Manager { url: url.clone(), session })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_choose_the_backend_by_scheme() {
        assert_eq!(
            DatabaseUrl::parse("sqlite://idtrail.db").unwrap(),
            DatabaseUrl::Sqlite { path: "idtrail.db".into() }
        );
        assert_eq!(DatabaseUrl::parse("sqlite:///tmp/x.db").unwrap(), DatabaseUrl::Sqlite { path: "/tmp/x.db".into() });
        assert_eq!(DatabaseUrl::parse("postgres://u@h/db").unwrap().backend(), Backend::Postgres);
        assert!(DatabaseUrl::parse("mysql://x").is_err());
        assert!(DatabaseUrl::parse("sqlite://").is_err());
    }

    #[test]
    fn a_sqlite_statement_past_its_budget_is_interrupted_and_the_next_one_runs() {
        let path = std::env::temp_dir().join(format!("idtrail-budget-{}.db", std::process::id()));
        let url = DatabaseUrl::Sqlite { path: path.display().to_string() };
        let pool = connect(
            &url,
            1,
            Arc::new(PoolEvents::default()),
            Session { statement_timeout: Some(Duration::from_millis(100)), ..Session::default() },
        )
        .unwrap();
        let mut c = pool.get().unwrap();
        let endless = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT COUNT(*) FROM n";
        let started = std::time::Instant::now();
        let e = c.batch_execute(endless).unwrap_err();
        assert!(matches!(StorageError::from(e), StorageError::Timeout));
        assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
        c.batch_execute("SELECT 1").unwrap();
        // Without a budget (a connection of its own, like the writer) the same thread runs freely.
        let mut own = establish(&url).unwrap();
        own.batch_execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n LIMIT 200000) SELECT COUNT(*) FROM n",
        )
        .unwrap();
        drop((c, pool, own));
        for suffix in ["", "-wal", "-shm"] {
            std::fs::remove_file(format!("{}{suffix}", path.display())).ok();
        }
    }
}
