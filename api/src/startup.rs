//! Startup: the one wiring of the service, used by `idtrail serve` and by the test harness alike.
//!
//! [`start`] opens the store (migrations, the configured pool and retention policy), creates a
//! week of PostgreSQL day partitions ahead, builds the token verifier, the [`AppState`], and
//! starts the background loops: partitions ahead (hourly), the retention purge (every
//! `purge_interval_seconds`, first at once) and, with read replicas, their lag checks. What it
//! returns keeps the loops alive: dropping the [`Started`] stops them. The caller binds the HTTP server (or, in tests, calls the app in
//! process) with [`Started::state`].

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use domain::ids::LicenseTier;
use domain::time::{Clock, SystemClock};
use storage::Store;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::auth::TokenVerifier;
use crate::config::Config;
use crate::state::AppState;

/// Days of partitions kept ready ahead of today: tomorrow (the latest day an event may have, see
/// `Store::partition_range`), so that midnight never waits for a partition.
pub const PARTITION_DAYS_AHEAD: i64 = 1;

/// How often the partitions ahead are renewed.
pub const PARTITION_INTERVAL: Duration = Duration::from_secs(3600);

/// What [`start`] needs besides the configuration.
#[derive(Debug, Clone)]
pub struct Options {
    /// The store's clock (the tests pass a manual one and move it).
    pub clock: Arc<dyn Clock>,
    /// The HS256 secret when `auth_hs256_secret` is not configured: the development secret of
    /// `serve`, the tests' secret. `None` with no secret configured: JWKS keys only.
    pub hs256_secret: Option<Vec<u8>>,
}

impl Default for Options {
    fn default() -> Self {
        Self { clock: Arc::new(SystemClock), hs256_secret: None }
    }
}

/// A started service: its state and its background loops. [`Started::stop`] ends the loops
/// between two runs and waits for them; dropping it aborts them.
#[derive(Debug)]
pub struct Started {
    pub state: AppState,
    tasks: Vec<JoinHandle<()>>,
    shutdown: watch::Sender<bool>,
    purges: watch::Receiver<u64>,
}

impl Started {
    /// The number of purges the purge loop has finished (successful or not); it changes after
    /// each. Waiting on it (`wait_for`) tells when a purge started after a given moment is done.
    #[must_use]
    pub fn purges(&self) -> watch::Receiver<u64> {
        self.purges.clone()
    }

    /// Stops the background loops and waits until they have ended (a purge or partition run in
    /// progress finishes first), so that they no longer hold the store.
    pub async fn stop(mut self) {
        self.shutdown.send_replace(true);
        for task in std::mem::take(&mut self.tasks) {
            if let Err(e) = task.await {
                tracing::warn!(error = %e, "a background task ended badly");
            }
        }
    }
}

impl Drop for Started {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Opens the store of `config` with its pool size, retention table and default tier.
///
/// # Errors
/// A bad retention or license key; the database cannot be opened or migrated.
pub fn open_store(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<Store> {
    let retention = config.retention().map_err(anyhow::Error::msg)?;
    let default_tier = LicenseTier::parse(&config.default_license)?;
    Ok(Store::open_with_session(&config.database_url, config.pool_size, config.session(), clock)
        .with_context(|| format!("opening {}", config.database_url))?
        .with_policy(retention, default_tier)
        .with_replicas(&config.database_read_urls, config.max_replica_lag_ms)?)
}

/// Wires the service from `config` and starts its background loops on the current Tokio
/// runtime. Blocking work (opening the store, creating partitions, fetching a JWKS URL) runs on
/// blocking threads.
///
/// # Errors
/// The store cannot be opened, partitions cannot be created, the token verifier or the state
/// cannot be built from the configuration.
pub async fn start(config: Config, options: Options) -> anyhow::Result<Started> {
    let store = {
        let (config, clock) = (config.clone(), options.clock.clone());
        tokio::task::spawn_blocking(move || open_store(&config, clock)).await??
    };
    let store = Arc::new(store);
    {
        let store = store.clone();
        tokio::task::spawn_blocking(move || store.create_partitions_ahead(PARTITION_DAYS_AHEAD)).await??;
    }
    // May fetch the JWKS URL.
    let verifier = {
        let (config, secret) = (config.clone(), options.hs256_secret.clone());
        tokio::task::spawn_blocking(move || TokenVerifier::from_config(&config, secret.as_deref()))
            .await?
            .map_err(anyhow::Error::msg)?
    };
    let purge_every = config.purge_interval_seconds;
    let state = {
        let store = store.clone();
        tokio::task::spawn_blocking(move || AppState::new(store, verifier, config))
            .await?
            .map_err(anyhow::Error::msg)?
    };
    let (shutdown, stopping) = watch::channel(false);
    let (done, purges) = watch::channel(0);
    let mut tasks = vec![tokio::spawn(every(PARTITION_INTERVAL, false, stopping.clone(), move || {
        let store = store.clone();
        async move {
            match tokio::task::spawn_blocking(move || store.create_partitions_ahead(PARTITION_DAYS_AHEAD)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "creating partitions ahead failed"),
                Err(e) => tracing::warn!(error = %e, "partition task failed"),
            }
        }
    }))];
    if state.store.has_replicas() {
        // Replicas are measured before any read may go to them, then every CHECK_INTERVAL.
        let store = state.store.clone();
        tasks.push(tokio::spawn(every(storage::replicas::CHECK_INTERVAL, true, stopping.clone(), move || {
            let store = store.clone();
            async move {
                if let Err(e) = tokio::task::spawn_blocking(move || store.check_replicas()).await {
                    tracing::warn!(error = %e, "replica check failed");
                }
            }
        })));
    }
    if purge_every > 0 {
        let (store, metrics) = (state.store.clone(), state.metrics.clone());
        tasks.push(tokio::spawn(every(Duration::from_secs(purge_every), true, stopping, move || {
            let (store, done, metrics) = (store.clone(), done.clone(), metrics.clone());
            async move {
                match tokio::task::spawn_blocking(move || store.purge(false)).await {
                    Ok(Ok(r)) => {
                        metrics.purged(&r);
                        tracing::info!(sign_ins = r.total_sign_ins(), "purge done");
                    }
                    Ok(Err(e)) => tracing::warn!(error = %e, "purge failed"),
                    Err(e) => tracing::warn!(error = %e, "purge task failed"),
                }
                done.send_modify(|n| *n += 1);
            }
        })));
    }
    Ok(Started { state, tasks, shutdown, purges })
}

/// Runs `job` every `period` (the first time at once when `now`, else after one period) until
/// `stopping` turns true; a run in progress is finished first.
async fn every<F, Fut>(period: Duration, now: bool, mut stopping: watch::Receiver<bool>, mut job: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let first = tokio::time::Instant::now() + if now { Duration::ZERO } else { period };
    let mut tick = tokio::time::interval_at(first, period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => job().await,
            // The only change is to `true`; an error means the sender is gone: stop too.
            _ = stopping.changed() => return,
        }
    }
}
