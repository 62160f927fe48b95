//! Prometheus metrics (`prometheus-client`, the Prometheus project's crate), served at `/metrics`
//! on `metrics_bind`: a listener of its own, loopback by default, never the public one.
//!
//! Labels name routes by their template (`/v1.0/auditLogs/signIns/{id}`), methods, statuses,
//! entity sets and outcomes: a small, fixed set of values. They must never carry a tenant id, a
//! user, a raw path or a query string: each distinct value is a new series kept for the life of the
//! process, and the scrape is readable by whoever reaches the metrics port.

use std::sync::Mutex;
use std::sync::PoisonError;
use std::sync::atomic::AtomicU64;

use actix_web::{HttpResponse, web};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use storage::IngestOutcome;

use crate::state::AppState;

/// What `/metrics` answers with (OpenMetrics text, which Prometheus reads).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The route label of a request that matched no route (404s of unknown paths).
pub const UNMATCHED_ROUTE: &str = "unmatched";

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RowLabels {
    set: &'static str,
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SetLabels {
    set: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReplicaLabels {
    replica: u32,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TargetLabels {
    target: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

/// Request latency buckets, in seconds: 1 ms to about 33 s.
fn latency_histogram() -> Histogram {
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(0.001, 2.0, 16))
}

/// Why a request was refused for load rather than for what it asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// A (tenant, client app) rate limit answered 429.
    RateLimit,
    /// A budget refused the request: a statement past `statement_timeout_ms`, a tenant over its
    /// query slots, an ingest batch that found no slot in time.
    Budget,
}

impl Rejection {
    fn label(self) -> &'static str {
        match self {
            Self::RateLimit => "rate_limit",
            Self::Budget => "budget",
        }
    }
}

/// The service's metrics. Counters are updated where things happen; the pool and process gauges
/// are read when scraped.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    process: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    rows: Family<RowLabels, Counter>,
    purged: Family<SetLabels, Counter>,
    rejections: Family<ReasonLabels, Counter>,
    pool_max: Gauge,
    pool_open: Gauge,
    pool_in_use: Gauge,
    pool_checkouts: Counter,
    pool_wait: Counter<f64, AtomicU64>,
    pool_timeouts: Counter,
    replica_healthy: Family<ReplicaLabels, Gauge>,
    replica_lag: Family<ReplicaLabels, Gauge<f64, AtomicU64>>,
    reads: Family<TargetLabels, Counter>,
    resident: Gauge,
    open_fds: Gauge,
    /// One scrape at a time: the pool counters are brought up to date from the store's.
    scraping: Mutex<()>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    #[must_use]
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("idtrail");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route template and status",
            requests.clone(),
        );
        let latency = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
        registry.register_with_unit(
            "http_request_duration",
            "Time from a request's arrival to its response's head, by route template",
            Unit::Seconds,
            latency.clone(),
        );
        let rows = Family::<RowLabels, Counter>::default();
        registry.register(
            "ingested_rows",
            "Ingested records by entity set and outcome: inserted, duplicates (already stored), expired \
             (past retention, not stored), refused (in a batch refused for invalid records)",
            rows.clone(),
        );
        let purged = Family::<SetLabels, Counter>::default();
        registry.register("purged_rows", "Rows deleted by the retention purge, by entity set", purged.clone());
        let rejections = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "rejected_requests",
            "Requests refused for load: rate_limit (429 of a tenant and client app), budget",
            rejections.clone(),
        );
        let (pool_max, pool_open, pool_in_use) = (Gauge::default(), Gauge::default(), Gauge::default());
        registry.register("db_pool_max_connections", "Database connections the pool may open", pool_max.clone());
        registry.register("db_pool_connections", "Database connections open in the pool", pool_open.clone());
        registry.register("db_pool_in_use_connections", "Pooled connections checked out now", pool_in_use.clone());
        let (pool_checkouts, pool_timeouts) = (Counter::default(), Counter::default());
        let pool_wait = Counter::<f64, AtomicU64>::default();
        registry.register("db_pool_checkouts", "Connections taken from the pool", pool_checkouts.clone());
        registry.register_with_unit(
            "db_pool_wait",
            "Time spent waiting for a pooled connection (for a free one, or for one to open)",
            Unit::Seconds,
            pool_wait.clone(),
        );
        registry.register(
            "db_pool_timeouts",
            "Requests that got no connection within the pool's timeout (answered 503)",
            pool_timeouts.clone(),
        );
        let replica_healthy = Family::<ReplicaLabels, Gauge>::default();
        registry.register(
            "db_replica_healthy",
            "1 while reads go to the read replica (by its position in database_read_urls), 0 while it is skipped",
            replica_healthy.clone(),
        );
        let replica_lag = Family::<ReplicaLabels, Gauge<f64, AtomicU64>>::default();
        registry.register_with_unit(
            "db_replica_lag",
            "The read replica's replay lag at its last check (NaN: it did not answer)",
            Unit::Seconds,
            replica_lag.clone(),
        );
        let reads = Family::<TargetLabels, Counter>::default();
        registry.register(
            "db_reads",
            "Lists, counts and lookups by where they ran (primary, replica), when read replicas are configured",
            reads.clone(),
        );
        let mut process = Registry::default();
        let (resident, open_fds) = (Gauge::default(), Gauge::default());
        process.register_with_unit("process_resident_memory", "Resident memory size", Unit::Bytes, resident.clone());
        process.register("process_open_fds", "Open file descriptors", open_fds.clone());
        Self {
            registry,
            process,
            requests,
            latency,
            rows,
            purged,
            rejections,
            pool_max,
            pool_open,
            pool_in_use,
            pool_checkouts,
            pool_wait,
            pool_timeouts,
            replica_healthy,
            replica_lag,
            reads,
            resident,
            open_fds,
            scraping: Mutex::new(()),
        }
    }

    /// Counts an answered request; `route` is its template ([`UNMATCHED_ROUTE`] when none matched).
    pub fn request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels { method: method.to_owned(), route: route.to_owned(), status })
            .inc();
        self.latency.get_or_create(&RouteLabels { route: route.to_owned() }).observe(seconds);
    }

    /// Counts the records of a stored batch of `set`.
    pub fn ingested(&self, set: &'static str, outcome: &IngestOutcome) {
        for (name, n) in
            [("inserted", outcome.inserted), ("duplicates", outcome.duplicates), ("expired", outcome.expired)]
        {
            self.rows.get_or_create(&RowLabels { set, outcome: name }).inc_by(n as u64);
        }
    }

    /// Counts the records of a batch of `set` refused for invalid records.
    pub fn refused(&self, set: &'static str, records: usize) {
        self.rows.get_or_create(&RowLabels { set, outcome: "refused" }).inc_by(records as u64);
    }

    /// Counts what a purge deleted.
    pub fn purged(&self, report: &storage::purge::PurgeReport) {
        if report.dry_run {
            return;
        }
        self.purged.get_or_create(&SetLabels { set: "signIns" }).inc_by(report.total_sign_ins());
        for (set, _, n) in &report.others {
            self.purged.get_or_create(&SetLabels { set }).inc_by(*n);
        }
    }

    /// Counts a request refused for load.
    pub fn rejected(&self, why: Rejection) {
        self.rejections.get_or_create(&ReasonLabels { reason: why.label() }).inc();
    }

    /// The exposition: every metric, the pool's and the process's read now.
    #[must_use]
    pub fn render(&self, store: &storage::Store) -> String {
        let _turn = self.scraping.lock().unwrap_or_else(PoisonError::into_inner);
        let pool = store.pool_stats();
        self.pool_max.set(i64::from(pool.max_size));
        self.pool_open.set(i64::from(pool.connections));
        self.pool_in_use.set(i64::from(pool.connections.saturating_sub(pool.idle)));
        self.pool_checkouts.inc_by(pool.checkouts.saturating_sub(self.pool_checkouts.get()));
        let waited = pool.wait_seconds - self.pool_wait.get();
        if waited > 0.0 {
            self.pool_wait.inc_by(waited);
        }
        self.pool_timeouts.inc_by(pool.timeouts.saturating_sub(self.pool_timeouts.get()));
        if let Some(routing) = store.read_routing() {
            for r in &routing.replicas {
                let labels = ReplicaLabels { replica: u32::try_from(r.index).unwrap_or(u32::MAX) };
                self.replica_healthy.get_or_create(&labels).set(i64::from(r.healthy));
                self.replica_lag.get_or_create(&labels).set(r.lag_ms.map_or(f64::NAN, |ms| ms / 1000.0));
            }
            for (target, n) in [("primary", routing.primary_reads), ("replica", routing.replica_reads)] {
                let counter = self.reads.get_or_create(&TargetLabels { target });
                counter.inc_by(n.saturating_sub(counter.get()));
            }
        }
        if let Some(bytes) = resident_bytes() {
            self.resident.set(bytes);
        }
        if let Some(n) = open_fds() {
            self.open_fds.set(n);
        }
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode_registry(&mut out, &self.registry)
            .and_then(|()| encode_registry(&mut out, &self.process))
            .and_then(|()| encode_eof(&mut out));
        out
    }
}

/// Resident memory from `/proc/self/status` (`VmRSS`, in KiB); `None` off Linux.
fn resident_bytes() -> Option<i64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: i64 = line.trim_start_matches("VmRSS:").trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kib * 1024)
}

/// Open file descriptors: the entries of `/proc/self/fd`; `None` off Linux.
fn open_fds() -> Option<i64> {
    let n = std::fs::read_dir("/proc/self/fd").ok()?.count();
    i64::try_from(n).ok()
}

/// `GET /metrics`.
pub async fn serve_metrics(state: web::Data<AppState>) -> HttpResponse {
    let state = state.into_inner();
    let text = web::block(move || state.metrics.render(&state.store)).await.unwrap_or_default();
    HttpResponse::Ok().content_type(CONTENT_TYPE).body(text)
}

/// The metrics listener's application: `/metrics` and nothing else.
pub fn app(
    state: AppState,
) -> actix_web::App<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    actix_web::App::new().app_data(web::Data::new(state)).route("/metrics", web::get().to(serve_metrics))
}
