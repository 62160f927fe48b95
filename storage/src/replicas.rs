//! PostgreSQL read replicas: lists, counts and lookups (`Store::page_in`, `count_in`, `get_in`)
//! go to a streaming replica whose replay lag is under `max_lag`; everything else (ingest,
//! actions and what they read back, tiers, purges, the feeds) stays on the primary.
//!
//! [`Replicas::check`] (every [`CHECK_INTERVAL`], from the service's loop) measures each
//! replica's lag against the primary's WAL position; one that fails to answer or lags too far is skipped until a later check finds
//! it well again. A read that finds its replica gone (the connection lost, the pool timing out, a
//! query cancelled by a recovery conflict) is retried on the primary at once. A replica is never
//! migrated or written: it replays the primary's WAL.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use diesel::sql_types::{Bool, Double, Text};
use diesel::{QueryableByName, RunQueryDsl};

use crate::conn::{self, AnyConnection, DatabaseUrl, Pool, PoolEvents};
use crate::error::{StorageError, StorageResult};

/// How often the service measures its replicas' lag.
pub const CHECK_INTERVAL: Duration = Duration::from_millis(500);

/// How long a read (or a check) waits for a replica connection before giving up on it.
const REPLICA_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// A replica's state as last checked, for `/metrics` and logs.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplicaStatus {
    /// The replica's position in `database_read_urls`.
    pub index: usize,
    /// Whether reads go to it.
    pub healthy: bool,
    /// Replay lag at the last check, in milliseconds (`None`: it did not answer).
    pub lag_ms: Option<f64>,
}

/// Where reads went since the start.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadRouting {
    pub replicas: Vec<ReplicaStatus>,
    /// Reads served by the primary (no replica configured or well, or a retry).
    pub primary_reads: u64,
    /// Reads served by a replica.
    pub replica_reads: u64,
}

#[derive(Debug)]
struct Replica {
    pool: Pool,
    healthy: AtomicBool,
    /// Milliseconds × 1000 of the last measured lag; `u64::MAX` when it did not answer.
    lag_micros: AtomicU64,
}

/// The replicas of one store.
#[derive(Debug)]
pub(crate) struct Replicas {
    list: Vec<Replica>,
    max_lag_ms: f64,
    next: AtomicUsize,
    primary_reads: AtomicU64,
    replica_reads: AtomicU64,
}

#[derive(QueryableByName)]
struct Lag {
    #[diesel(sql_type = Bool)]
    standby: bool,
    #[diesel(sql_type = Double)]
    lag_ms: f64,
}

#[derive(QueryableByName)]
struct Position {
    #[diesel(sql_type = Text)]
    lsn: String,
}

/// The primary's WAL position, read just before the replicas are measured against it.
const PRIMARY_LSN_SQL: &str = "SELECT pg_current_wal_lsn()::text AS lsn";

/// A standby's replay lag: zero when it has replayed the primary's position of just before (`$1`),
/// else the age of the last transaction it replayed (never replayed one: far behind). Comparing
/// with the primary, not with what the standby has received, keeps a standby that has not yet
/// received the latest WAL from passing for caught up. A server that is not a standby has no lag.
const LAG_SQL: &str = "SELECT pg_is_in_recovery() AS standby, CASE \
     WHEN NOT pg_is_in_recovery() THEN 0 \
     WHEN pg_last_wal_replay_lsn() >= $1::pg_lsn THEN 0 \
     ELSE COALESCE(EXTRACT(EPOCH FROM (now() - pg_last_xact_replay_timestamp())) * 1000, 1e12) END::float8 AS lag_ms";

impl Replicas {
    /// Pools for `urls` (PostgreSQL only), each of `size` connections, opened on demand: a replica
    /// down at start is skipped until it answers. None is used before its first check.
    pub(crate) fn open(urls: &[String], size: u32, max_lag_ms: u64, session: conn::Session) -> StorageResult<Self> {
        let mut list = Vec::with_capacity(urls.len());
        for url in urls {
            let parsed = DatabaseUrl::parse(url)?;
            if !matches!(parsed, DatabaseUrl::Postgres { .. }) {
                return Err(StorageError::Config(format!(
                    "database_read_urls: read replicas are PostgreSQL streaming replicas; got '{url}'"
                )));
            }
            let pool =
                conn::unchecked_pool(&parsed, size, REPLICA_CONNECT_TIMEOUT, Arc::new(PoolEvents::default()), session);
            list.push(Replica { pool, healthy: AtomicBool::new(false), lag_micros: AtomicU64::new(u64::MAX) });
        }
        #[allow(clippy::cast_precision_loss)]
        let max_lag_ms = max_lag_ms as f64;
        Ok(Self {
            list,
            max_lag_ms,
            next: AtomicUsize::new(0),
            primary_reads: AtomicU64::new(0),
            replica_reads: AtomicU64::new(0),
        })
    }

    /// Measures every replica against the primary's WAL position and marks it well or not; logs
    /// changes. Without the primary's position (it does not answer) no replica is well: none can
    /// be shown to be caught up.
    pub(crate) fn check(&self, primary: impl FnOnce() -> StorageResult<conn::PooledConn>) {
        let position = primary().map_err(|e| e.to_string()).and_then(|mut c| match &mut **c {
            AnyConnection::Postgresql(pg) => diesel::sql_query(PRIMARY_LSN_SQL)
                .load::<Position>(pg)
                .map_err(|e| e.to_string())
                .and_then(|rows| rows.into_iter().next().map(|p| p.lsn).ok_or_else(|| "no row".to_owned())),
            AnyConnection::Sqlite(_) => Err("not PostgreSQL".to_owned()),
        });
        for (index, replica) in self.list.iter().enumerate() {
            let measured = position.clone().and_then(|lsn| {
                replica.pool.get().map_err(|e| e.to_string()).and_then(|mut c| match &mut **c {
                    AnyConnection::Postgresql(pg) => diesel::sql_query(LAG_SQL)
                        .bind::<Text, _>(lsn)
                        .load::<Lag>(pg)
                        .map_err(|e| e.to_string())
                        .and_then(|rows| rows.into_iter().next().ok_or_else(|| "no row".to_owned())),
                    AnyConnection::Sqlite(_) => Err("not PostgreSQL".to_owned()),
                })
            });
            let healthy = match &measured {
                Ok(lag) => {
                    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                    let micros = (lag.lag_ms.max(0.0) * 1000.0).min(u64::MAX as f64 / 2.0) as u64;
                    replica.lag_micros.store(micros, Ordering::Relaxed);
                    if !lag.standby {
                        tracing::debug!(replica = index, "a read URL is not a standby; read from it all the same");
                    }
                    lag.lag_ms <= self.max_lag_ms
                }
                Err(_) => {
                    replica.lag_micros.store(u64::MAX, Ordering::Relaxed);
                    false
                }
            };
            let was = replica.healthy.swap(healthy, Ordering::Relaxed);
            if was != healthy {
                match &measured {
                    Ok(lag) if healthy => tracing::info!(replica = index, lag_ms = lag.lag_ms, "read replica in use"),
                    Ok(lag) => tracing::warn!(replica = index, lag_ms = lag.lag_ms, "read replica lags: skipped"),
                    Err(e) => tracing::warn!(replica = index, error = %e, "read replica unreachable: skipped"),
                }
            }
        }
    }

    /// Runs the read `f` on a well replica (in turn), or on `primary` when none is well or the
    /// replica turns out to be gone (it is then skipped until a check finds it well).
    pub(crate) fn read<T>(
        &self,
        primary: impl FnOnce() -> StorageResult<conn::PooledConn>,
        f: impl Fn(&mut AnyConnection) -> StorageResult<T>,
    ) -> StorageResult<T> {
        let n = self.list.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        for i in 0..n {
            let Some(replica) = self.list.get((start + i) % n) else { continue };
            if !replica.healthy.load(Ordering::Relaxed) {
                continue;
            }
            let outcome = replica.pool.get().map_err(StorageError::from).and_then(|mut c| f(&mut c));
            match outcome {
                Err(e) if gone(&e) => {
                    tracing::warn!(replica = (start + i) % n, error = %e, "read replica failed: skipped, read on the primary");
                    replica.healthy.store(false, Ordering::Relaxed);
                }
                other => {
                    self.replica_reads.fetch_add(1, Ordering::Relaxed);
                    return other;
                }
            }
        }
        self.primary_reads.fetch_add(1, Ordering::Relaxed);
        f(&mut **primary()?)
    }

    pub(crate) fn routing(&self) -> ReadRouting {
        ReadRouting {
            replicas: self
                .list
                .iter()
                .enumerate()
                .map(|(index, r)| {
                    let micros = r.lag_micros.load(Ordering::Relaxed);
                    #[allow(clippy::cast_precision_loss)]
                    let lag_ms = (micros != u64::MAX).then(|| micros as f64 / 1000.0);
                    ReplicaStatus { index, healthy: r.healthy.load(Ordering::Relaxed), lag_ms }
                })
                .collect(),
            primary_reads: self.primary_reads.load(Ordering::Relaxed),
            replica_reads: self.replica_reads.load(Ordering::Relaxed),
        }
    }
}

/// Whether a replica's error says the replica (not the query) failed: unreachable, its connection
/// lost, or the query cancelled because replay needed the rows it read.
fn gone(e: &StorageError) -> bool {
    match e {
        StorageError::Unavailable(_) | StorageError::Busy(_) => true,
        StorageError::Database(diesel::result::Error::DatabaseError(_, info)) => {
            // Replay cancelled the query, or the replica has not yet replayed a table the primary has.
            let m = info.message();
            m.contains("conflict with recovery")
                || m.contains("recovery is in progress")
                || m.contains("does not exist")
        }
        _ => false,
    }
}
