//! Loading: NDJSON batches posted to `POST /ingest/signIns` by parallel clients (the real ingest
//! path), and the baselines for I1: `psql \copy` of the same rows as CSV into a fresh database with
//! the same table layout (PostgreSQL), an `INSERT ... SELECT` of them into a fresh file with the
//! same layout (SQLite).

use std::net::SocketAddr;
use std::path::Path;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

use crate::data::{Batch, BatchFile, Pass};
use crate::db::{self, Db};
use crate::http::Conn;

/// Watches the disk while data is loaded: stops the load when free space falls below a floor
/// (the machine is shared: a full disk would also stop the PostgreSQL server everyone uses), and
/// records the largest SQLite WAL file seen.
#[derive(Debug)]
pub struct DiskGuard {
    stop: AtomicBool,
    low: AtomicBool,
    max_wal: AtomicU64,
    min_free: AtomicU64,
}

impl DiskGuard {
    /// Free space the load must leave on every watched file system.
    pub const FLOOR: u64 = 8 << 30;

    pub fn new() -> Self {
        Self {
            stop: AtomicBool::new(false),
            low: AtomicBool::new(false),
            max_wal: AtomicU64::new(0),
            min_free: AtomicU64::new(u64::MAX),
        }
    }

    /// Samples `dirs` (free space) and `wal` (size) every 500 ms until [`DiskGuard::stop`].
    pub fn watch(&self, dirs: &[PathBuf], wal: Option<&Path>) {
        while !self.stop.load(Ordering::Relaxed) {
            for d in dirs {
                if let Ok(free) = db::free_bytes(d) {
                    self.min_free.fetch_min(free, Ordering::Relaxed);
                    if free < Self::FLOOR {
                        self.low.store(true, Ordering::Relaxed);
                    }
                }
            }
            if let Some(w) = wal.and_then(|w| std::fs::metadata(w).ok()) {
                self.max_wal.fetch_max(w.len(), Ordering::Relaxed);
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// An error once free space fell below the floor.
    pub fn check(&self) -> anyhow::Result<()> {
        if self.low.load(Ordering::Relaxed) {
            bail!(
                "stopped loading: free disk fell below {} GB{}",
                Self::FLOOR >> 30,
                match self.max_wal() {
                    0 => String::new(),
                    w => format!(" (the SQLite WAL file had grown to {:.1} GB)", w as f64 / f64::from(1 << 30)),
                }
            );
        }
        Ok(())
    }

    pub fn max_wal(&self) -> u64 {
        self.max_wal.load(Ordering::Relaxed)
    }

    pub fn min_free(&self) -> u64 {
        self.min_free.load(Ordering::Relaxed)
    }
}

impl Default for DiskGuard {
    fn default() -> Self {
        Self::new()
    }
}

/// What a load over HTTP did.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct IngestStats {
    pub rows: u64,
    pub inserted: u64,
    pub duplicates: u64,
    pub expired: u64,
    pub batches: u64,
    pub clients: usize,
    pub seconds: f64,
    /// Sign-ins stored per second.
    pub rate: f64,
    /// Batches the service refused with 5xx or 429 and the client sent again (as a Graph client
    /// would; ingest is idempotent), and the first such answer.
    #[serde(default)]
    pub retries: u64,
    #[serde(default)]
    pub first_error: Option<String>,
}

/// What a baseline bulk copy did.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CopyStats {
    pub method: String,
    pub rows: u64,
    pub child_rows: u64,
    pub csv_bytes: u64,
    pub seconds: f64,
    pub rate: f64,
    /// SQLite: the same copy without `WHERE true`, which SQLite makes a whole-B-tree transfer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfer: Option<Transfer>,
}

/// SQLite's transfer copy of the same rows (see [`sqlite_copy_baseline`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Transfer {
    pub seconds: f64,
    pub rate: f64,
}

#[derive(Default)]
struct Totals {
    rows: AtomicU64,
    inserted: AtomicU64,
    duplicates: AtomicU64,
    expired: AtomicU64,
    batches: AtomicU64,
    retries: AtomicU64,
    first_error: std::sync::Mutex<Option<String>>,
}

impl Totals {
    fn stats(&self, clients: usize, seconds: f64) -> IngestStats {
        let inserted = self.inserted.load(Ordering::Relaxed);
        IngestStats {
            rows: self.rows.load(Ordering::Relaxed),
            inserted,
            duplicates: self.duplicates.load(Ordering::Relaxed),
            expired: self.expired.load(Ordering::Relaxed),
            batches: self.batches.load(Ordering::Relaxed),
            clients,
            seconds,
            rate: inserted as f64 / seconds.max(1e-9),
            retries: self.retries.load(Ordering::Relaxed),
            first_error: self.first_error.lock().ok().and_then(|e| e.clone()),
        }
    }
}

/// How long a refused batch is sent again before the load gives up: refusals are the service's
/// back-pressure (ingest slots, `Retry-After`), which a producer answers by waiting and sending
/// again, and on a busy machine a batch may wait several slot timeouts in a row.
const GIVE_UP_AFTER: Duration = Duration::from_secs(300);

/// Posts one NDJSON batch; returns (inserted, duplicates, expired). A 5xx or 429 answer is
/// retried after a pause (counted in `totals`) for up to [`GIVE_UP_AFTER`].
fn post(conn: &mut Conn, token: &str, body: &[u8], totals: &Totals) -> anyhow::Result<(u64, u64, u64)> {
    let auth = format!("Bearer {token}");
    let mut attempt: u32 = 0;
    let started = Instant::now();
    let r = loop {
        attempt += 1;
        let r = conn.request(
            "POST",
            "/ingest/signIns",
            &[("Authorization", &auth), ("Content-Type", "application/x-ndjson")],
            body,
        )?;
        let retryable = r.status >= 500 || r.status == 429;
        if !retryable || started.elapsed() >= GIVE_UP_AFTER {
            break r;
        }
        totals.retries.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut e) = totals.first_error.lock() {
            e.get_or_insert_with(|| format!("HTTP {}: {}", r.status, r.text().chars().take(300).collect::<String>()));
        }
        std::thread::sleep(Duration::from_millis(250 * u64::from(attempt.min(8))));
    };
    if r.status != 200 {
        let text = r.text();
        bail!("ingest answered {}: {}", r.status, text.chars().take(600).collect::<String>());
    }
    let v: serde_json::Value = serde_json::from_slice(&r.body)?;
    let n = |k: &str| v[k].as_u64().unwrap_or(0);
    Ok((n("inserted"), n("duplicates"), n("expired")))
}

fn record(t: &Totals, rows: usize, (i, d, e): (u64, u64, u64)) {
    t.rows.fetch_add(rows as u64, Ordering::Relaxed);
    t.inserted.fetch_add(i, Ordering::Relaxed);
    t.duplicates.fetch_add(d, Ordering::Relaxed);
    t.expired.fetch_add(e, Ordering::Relaxed);
    t.batches.fetch_add(1, Ordering::Relaxed);
}

/// Posts batch files with `clients` parallel connections, timed from the first request to the
/// last answer. Files are read inside the loop (from the page cache: they were just written).
pub fn post_files(
    addr: SocketAddr,
    tokens: &[String; 3],
    files: &[BatchFile],
    clients: usize,
    guard: &DiskGuard,
) -> anyhow::Result<IngestStats> {
    let next = AtomicUsize::new(0);
    let totals = Totals::default();
    let started = Instant::now();
    std::thread::scope(|s| -> anyhow::Result<()> {
        let handles: Vec<_> = (0..clients)
            .map(|_| {
                s.spawn(|| -> anyhow::Result<()> {
                    let mut conn = Conn::new(addr);
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(f) = files.get(i) else { return Ok(()) };
                        guard.check()?;
                        let body = std::fs::read(&f.path).with_context(|| format!("reading {}", f.path.display()))?;
                        let outcome = post(&mut conn, &tokens[f.tenant], &body, &totals)?;
                        record(&totals, f.rows, outcome);
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().map_err(|_| anyhow::anyhow!("an ingest client panicked"))??;
        }
        Ok(())
    })?;
    Ok(totals.stats(clients, started.elapsed().as_secs_f64()))
}

/// Generates the rest of `passes` (one thread each) and posts it with `clients` connections as it
/// comes. Not a measurement: the generator shares the CPU with the service.
pub fn post_stream(
    addr: SocketAddr,
    tokens: &[String; 3],
    passes: &mut [Pass],
    clients: usize,
    guard: &DiskGuard,
    progress: &dyn Fn(&str),
) -> anyhow::Result<IngestStats> {
    let totals = Totals::default();
    let want: u64 = passes.iter().map(|p| p.total - p.produced).sum();
    let started = Instant::now();
    let (tx, rx) = mpsc::sync_channel::<Batch>(clients * 2);
    let rx = Mutex::new(rx);
    let failed = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| -> anyhow::Result<()> {
        let producers: Vec<_> = passes
            .iter_mut()
            .map(|p| {
                let tx = tx.clone();
                let failed = &failed;
                s.spawn(move || {
                    while let Some(b) = p.next_batch(u64::MAX) {
                        if failed.load(Ordering::Relaxed) || tx.send(b).is_err() {
                            return;
                        }
                    }
                })
            })
            .collect();
        drop(tx);
        let consumers: Vec<_> = (0..clients)
            .map(|_| {
                s.spawn(|| -> anyhow::Result<()> {
                    let mut conn = Conn::new(addr);
                    loop {
                        let batch = {
                            let rx = rx.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
                            rx.recv()
                        };
                        let Ok(b) = batch else { return Ok(()) };
                        match guard.check().and_then(|()| post(&mut conn, &tokens[b.tenant], &b.body, &totals)) {
                            Ok(o) => record(&totals, b.rows, o),
                            Err(e) => {
                                failed.store(true, Ordering::Relaxed);
                                // Drain so the producers are not blocked on a full channel.
                                while rx.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.recv().is_ok() {}
                                return Err(e);
                            }
                        }
                    }
                })
            })
            .collect();
        let mut last = Instant::now();
        while consumers.iter().any(|h| !h.is_finished()) {
            std::thread::sleep(Duration::from_millis(200));
            if last.elapsed() >= Duration::from_secs(15) {
                last = Instant::now();
                let done = totals.inserted.load(Ordering::Relaxed);
                let secs = started.elapsed().as_secs_f64();
                progress(&format!("  loaded {done} of {want} ({:.0}/s, {:.0} s)", done as f64 / secs.max(1e-9), secs));
            }
        }
        let mut first_err = None;
        for h in consumers {
            if let Err(e) = h.join().map_err(|_| anyhow::anyhow!("an ingest client panicked")).and_then(|r| r) {
                first_err.get_or_insert(e);
            }
        }
        for p in producers {
            let _ = p.join();
        }
        first_err.map_or(Ok(()), Err)
    })?;
    Ok(totals.stats(clients, started.elapsed().as_secs_f64()))
}

const TABLES: [&str; 4] = ["sign_in_keys", "sign_ins", "sign_in_ca_policies", "sign_in_risk_event_types"];

fn psql(url: &str, commands: &[String]) -> anyhow::Result<()> {
    let mut c = Command::new("psql");
    c.arg(url).arg("-q").arg("-v").arg("ON_ERROR_STOP=1").arg("-X");
    for cmd in commands {
        c.arg("-c").arg(cmd);
    }
    let out = c.output().context("running psql (is postgresql-client installed?)")?;
    if !out.status.success() {
        bail!("psql failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

/// The PostgreSQL baseline: exports what the service stored (every table an ingest writes) as
/// CSV, then times one `psql` session running `\copy ... FROM ... CSV` for each table into a fresh
/// database migrated by the same migrations, with the same day partitions.
pub fn pg_copy_baseline(src: &Db, copy: &Db, work: &Path) -> anyhow::Result<CopyStats> {
    let src_store = storage::Store::open(&src.url(), 1)?;
    let days: Vec<i64> = src_store
        .partition_days()?
        .iter()
        .filter_map(|name| {
            let d = name.rsplit("_d").next()?;
            let text = format!("{}-{}-{}T00:00:00Z", d.get(0..4)?, d.get(4..6)?, d.get(6..8)?);
            domain::time::parse_ticks(&text).ok()
        })
        .collect();
    drop(src_store);
    let file = |t: &str| work.join(format!("copy-{t}.csv"));
    let export: Vec<String> =
        TABLES.iter().map(|t| format!("\\copy (SELECT * FROM {t}) TO '{}' CSV", file(t).display())).collect();
    psql(&src.url(), &export)?;
    let csv_bytes: u64 = TABLES.iter().filter_map(|t| std::fs::metadata(file(t)).ok()).map(|m| m.len()).sum();

    copy.recreate()?;
    let copy_store = storage::Store::open(&copy.url(), 1)?;
    copy_store.ensure_partitions(days)?;
    drop(copy_store);
    let load: Vec<String> = TABLES.iter().map(|t| format!("\\copy {t} FROM '{}' CSV", file(t).display())).collect();
    let started = Instant::now();
    psql(&copy.url(), &load)?;
    let seconds = started.elapsed().as_secs_f64();
    let mut conn = copy.connect()?;
    let rows = u64::try_from(db::scalar(&mut conn, "SELECT COUNT(*) AS n FROM sign_ins", &[])?).unwrap_or(0);
    let child_rows = u64::try_from(db::scalar(
        &mut conn,
        "SELECT (SELECT COUNT(*) FROM sign_in_ca_policies) + (SELECT COUNT(*) FROM sign_in_risk_event_types) AS n",
        &[],
    )?)
    .unwrap_or(0);
    drop(conn);
    for t in TABLES {
        let _ = std::fs::remove_file(file(t));
    }
    Ok(CopyStats {
        method: "psql \\copy FROM CSV: sign_in_keys, sign_ins, sign_in_ca_policies, sign_in_risk_event_types \
                 (one session, fresh database, same migrations and partitions)"
            .into(),
        rows,
        child_rows,
        csv_bytes,
        seconds,
        rate: rows as f64 / seconds.max(1e-9),
        transfer: None,
    })
}

/// The SQLite baseline: the same rows inserted by SQLite itself (`INSERT INTO ... SELECT * FROM
/// ... WHERE ...` from an attached copy of what the service stored) into a fresh file migrated by
/// the same migrations, with the service's PRAGMAs, timed two ways: in one transaction, and in
/// transactions of `batch` sign-ins (the service's batch) with their child rows. The faster is the
/// baseline: one transaction writes each page once but spills its dirty pages once they pass the
/// page cache, which at 1 M sign-ins made it slower than committing every batch (bench/ANALYSIS.md).
///
/// The `WHERE` is what makes it an insert. Without one, SQLite's transfer optimization
/// (`xferOptimization` in its `insert.c`) applies: the destination is empty and its schema is the
/// source's, so SQLite copies each B-tree whole, table and indexes one after the other in key
/// order (EXPLAIN shows `RowData` and an ordered `IdxInsert` per index), instead of inserting each
/// row into every index. No ingest can do that: the moment a table holds a row, SQLite itself
/// inserts row by row. The transfer copy is still timed, and reported beside the baseline
/// (`transfer`), so the numbers can be compared.
pub fn sqlite_copy_baseline(src: &Db, copy: &Db, batch: usize) -> anyhow::Result<CopyStats> {
    let Db::Sqlite { path: src_path } = src else { bail!("not SQLite") };
    let transfer = sqlite_copy(src_path, copy, CopyWay::Transfer)?;
    let whole = sqlite_copy(src_path, copy, CopyWay::OneTransaction)?;
    let batched = sqlite_copy(src_path, copy, CopyWay::Batches(batch.max(1)))?;
    let rows = whole.rows;
    if batched.rows != rows || transfer.rows != rows {
        bail!("the SQLite copies differ: {} / {} / {} sign-ins", transfer.rows, whole.rows, batched.rows);
    }
    let rate = |seconds: f64| rows as f64 / seconds.max(1e-9);
    let (best, method) = if batched.seconds < whole.seconds {
        (
            &batched,
            format!(
                "SQLite INSERT INTO ... SELECT * FROM the attached service database, a transaction per {batch} \
                 sign-ins with their child rows (faster than one transaction: {:.0}/s), fresh file, same \
                 migrations and PRAGMAs",
                rate(whole.seconds)
            ),
        )
    } else {
        (
            &whole,
            format!(
                "SQLite INSERT INTO ... SELECT * FROM ... WHERE true from the attached service database, one \
                 transaction (faster than a transaction per {batch} sign-ins: {:.0}/s), fresh file, same \
                 migrations and PRAGMAs",
                rate(batched.seconds)
            ),
        )
    };
    Ok(CopyStats {
        method,
        rows,
        child_rows: best.child_rows,
        csv_bytes: 0,
        seconds: best.seconds,
        rate: rate(best.seconds),
        transfer: Some(Transfer { seconds: transfer.seconds, rate: rate(transfer.seconds) }),
    })
}

/// How [`sqlite_copy`] copies.
#[derive(Clone, Copy)]
enum CopyWay {
    /// `INSERT ... SELECT *` with nothing after it: SQLite's transfer of whole B-trees.
    Transfer,
    /// Every row, inserted, in one transaction.
    OneTransaction,
    /// Every row, inserted, in a transaction per this many sign-ins (with their child rows).
    Batches(usize),
}

/// What one copy took.
struct Copied {
    seconds: f64,
    rows: u64,
    child_rows: u64,
}

/// Copies the sign-ins and their child rows from `src_path` into a fresh `copy` as `how` says.
fn sqlite_copy(src_path: &Path, copy: &Db, how: CopyWay) -> anyhow::Result<Copied> {
    copy.recreate()?;
    drop(storage::Store::open(&copy.url(), 1)?);
    let mut conn = copy.connect()?;
    db::execute(&mut conn, &format!("ATTACH DATABASE '{}' AS src", src_path.display()))?;
    let (first, last) = (
        db::scalar(&mut conn, "SELECT COALESCE(MIN(rowid), 0) AS n FROM src.sign_ins", &[])?,
        db::scalar(&mut conn, "SELECT COALESCE(MAX(rowid), 0) AS n FROM src.sign_ins", &[])?,
    );
    // The sign-ins of rowids [a, b] and their child rows, found through the child tables' keys.
    let insert = |a: i64, b: i64| {
        format!(
            "INSERT INTO main.sign_ins SELECT * FROM src.sign_ins WHERE rowid BETWEEN {a} AND {b}; \
             INSERT INTO main.sign_in_ca_policies SELECT c.* FROM src.sign_ins s JOIN src.sign_in_ca_policies c \
               ON c.tenant_id = s.tenant_id AND c.created_ticks = s.created_ticks AND c.sign_in_id = s.id \
               WHERE s.rowid BETWEEN {a} AND {b}; \
             INSERT INTO main.sign_in_risk_event_types SELECT c.* FROM src.sign_ins s \
               JOIN src.sign_in_risk_event_types c \
               ON c.tenant_id = s.tenant_id AND c.created_ticks = s.created_ticks AND c.sign_in_id = s.id \
               WHERE s.rowid BETWEEN {a} AND {b};"
        )
    };
    let started = Instant::now();
    match how {
        CopyWay::Transfer | CopyWay::OneTransaction => {
            let tail = if matches!(how, CopyWay::Transfer) { "" } else { " WHERE true" };
            db::execute(
                &mut conn,
                &format!(
                    "BEGIN IMMEDIATE; \
                     INSERT INTO main.sign_ins SELECT * FROM src.sign_ins{tail}; \
                     INSERT INTO main.sign_in_ca_policies SELECT * FROM src.sign_in_ca_policies{tail}; \
                     INSERT INTO main.sign_in_risk_event_types SELECT * FROM src.sign_in_risk_event_types{tail}; \
                     COMMIT;"
                ),
            )?;
        }
        CopyWay::Batches(n) => {
            let step = i64::try_from(n).unwrap_or(i64::MAX);
            let mut a = first;
            while a <= last {
                let b = a.saturating_add(step - 1).min(last);
                db::execute(&mut conn, &format!("BEGIN IMMEDIATE; {} COMMIT;", insert(a, b)))?;
                a = b.saturating_add(1);
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let rows = u64::try_from(db::scalar(&mut conn, "SELECT COUNT(*) AS n FROM main.sign_ins", &[])?).unwrap_or(0);
    let child_rows = u64::try_from(db::scalar(
        &mut conn,
        "SELECT (SELECT COUNT(*) FROM main.sign_in_ca_policies) + (SELECT COUNT(*) FROM main.sign_in_risk_event_types) AS n",
        &[],
    )?)
    .unwrap_or(0);
    drop(conn);
    copy.drop_if_exists()?;
    Ok(Copied { seconds, rows, child_rows })
}
