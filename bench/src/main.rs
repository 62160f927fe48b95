//! `bench`: idtrail against the raw database doing the same work, in the same run.
//!
//! For each backend: generate demo sign-ins (one large tenant), load them through
//! `POST /ingest/signIns` of the release `idtrail` (timing the first part as I1 against a bulk copy
//! of the same rows), then run each query scenario through HTTP and, as its baseline, the SQL
//! idtrail's compiler produces for it on direct connections, at concurrency 1 and 16. Writes
//! `RESULTS.md`, `results.json` and `results.png`. See `bench/README.md`... or `bench/run --help`.
// The harness indexes its own fixed tables (tenants, scenario lists, per-tenant counters); a
// panic there ends a benchmark run on the developer's machine, never a service request.
#![allow(clippy::indexing_slicing)]

mod aggregates;
mod chart;
mod cluster;
mod data;
mod db;
mod export;
mod faults;
mod http;
mod ingest;
mod load;
mod plans;
mod report;
mod scenarios;
mod service;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, ValueEnum};
use demo::TENANTS;
use domain::ids::TenantId;
use storage::Backend;

use crate::db::Db;
use crate::report::{BackendResults, DataInfo, IngestResult, MemoryResult, Run, ScenarioResult, TenantRows};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Which {
    Sqlite,
    Postgres,
    Both,
}

#[derive(Debug, Parser)]
#[command(name = "bench", about = "idtrail against the raw database doing the same work, in the same run")]
struct Args {
    /// Smaller data and shorter runs: a check after changes (about 3 minutes for both backends).
    #[arg(long)]
    quick: bool,
    #[arg(long, value_enum, default_value = "both")]
    backend: Which,
    /// Multiplies the data sizes (PostgreSQL 5 M sign-ins, SQLite 1 M at 1.0).
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// Seconds measured per scenario, side and concurrency (default 2.4 in 3 rounds; quick 0.8 in 1).
    #[arg(long)]
    seconds: Option<f64>,
    /// The `idtrail` binary (default: next to this one).
    #[arg(long)]
    idtrail: Option<PathBuf>,
    /// PostgreSQL server URL, without a database.
    #[arg(long, env = "BENCH_PG_URL", default_value = "postgres://postgres@127.0.0.1:5432")]
    pg_url: String,
    /// Database name for the run (dropped at the end unless --keep).
    #[arg(long, default_value = "idtrail_bench")]
    pg_database: String,
    /// Where data files and SQLite databases go.
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Where RESULTS.md, results.json and results.png go (default: bench/, or bench/quick/).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Keep the databases afterwards.
    #[arg(long)]
    keep: bool,
    /// Sign-ins per ingest batch.
    #[arg(long, default_value_t = 5000)]
    batch: usize,
    /// Parallel ingest clients.
    #[arg(long, default_value_t = 4)]
    ingest_clients: usize,
    /// The service's pool_size (default: idtrail's own default).
    #[arg(long)]
    pool_size: Option<u32>,
    /// Concurrency levels.
    #[arg(long, value_delimiter = ',', default_value = "1,16")]
    concurrency: Vec<usize>,
    /// Only these scenarios (e.g. Q1,Q6p200); all by default.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Use the databases a previous `--keep` run left (same --scale): no loading and no I1, only
    /// the queries (for iterating on query performance without reloading millions of rows). The
    /// databases are kept afterwards, as with `--keep`.
    #[arg(long)]
    reuse: bool,
    /// Run nothing: redraw RESULTS.md and results.png from this results.json (after editing
    /// ANALYSIS.md beside it).
    #[arg(long)]
    render: Option<PathBuf>,
    /// Instead of the benchmark: mixed load on a throwaway PostgreSQL cluster while its backends
    /// are terminated and it is restarted; prints requests by status, the longest unavailability
    /// and acknowledged versus stored sign-ins (RESULTS.md is not touched).
    #[arg(long)]
    faults: bool,
    /// Seconds of load of --faults.
    #[arg(long, default_value_t = 60)]
    faults_seconds: u64,
    /// Instead of the benchmark: mixed load for --minutes on each --backend; prints resident
    /// memory at start, middle and end, errors and p99 per minute (RESULTS.md is not touched).
    #[arg(long)]
    soak: bool,
    /// Minutes of --soak per backend.
    #[arg(long, default_value_t = 10.0)]
    minutes: f64,
}

/// Sizes of a run.
#[derive(Debug, Clone, Copy)]
struct Sizes {
    postgres: data::Counts,
    sqlite: data::Counts,
    i1: u64,
    /// One round's window; each measurement is `rounds` of them, alternating the two sides.
    window: load::Window,
    rounds: usize,
    ids: usize,
}

fn sizes(args: &Args) -> Sizes {
    let scale = |c: [u64; 3]| c.map(|n| ((n as f64) * args.scale).round().max(1.0) as u64);
    let (postgres, sqlite, i1) = if args.quick {
        ([80_000, 14_000, 6_000], [40_000, 7_000, 3_000], 50_000)
    } else {
        ([4_000_000, 700_000, 300_000], [800_000, 140_000, 60_000], 1_000_000)
    };
    let secs = args.seconds.unwrap_or(if args.quick { 0.8 } else { 2.4 });
    let rounds = if args.quick { 1 } else { 3 };
    let per_round = secs / rounds as f64;
    Sizes {
        postgres: scale(postgres),
        sqlite: scale(sqlite),
        i1: ((i1 as f64) * args.scale.min(1.0)).round() as u64,
        window: load::Window {
            warmup: Duration::from_secs_f64(if args.quick { 0.2 } else { 0.3 }),
            measure: Duration::from_secs_f64(per_round),
            min_requests: if args.quick { 5 } else { 10 },
            max: Duration::from_secs_f64(per_round * 4.0),
        },
        rounds,
        ids: 1000,
    }
}

fn say(msg: &str) {
    eprintln!("[bench {}] {msg}", chrono::Local::now().format("%H:%M:%S"));
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1_048_576.0
}

fn main() {
    let args = Args::parse();
    if let Err(e) = run(&args) {
        eprintln!("bench: {e:#}");
        std::process::exit(1);
    }
}

fn run(args: &Args) -> anyhow::Result<()> {
    if let Some(json) = &args.render {
        let mut r: report::Results = serde_json::from_str(&std::fs::read_to_string(json)?)
            .with_context(|| format!("reading {}", json.display()))?;
        // The targets follow from the numbers: judge them again (the rules may have changed).
        for b in &mut r.backends {
            b.evaluate();
        }
        let dir = json.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        report::write(&r, dir)?;
        say(&format!("rewrote {}", dir.join("RESULTS.md").display()));
        return Ok(());
    }
    let started = Instant::now();
    let started_at = chrono::Utc::now();
    let sizes = sizes(args);
    let binary = service::find_binary(args.idtrail.as_deref())?;
    let work = args.work_dir.clone().unwrap_or_else(|| std::env::temp_dir().join("idtrail-bench"));
    std::fs::create_dir_all(&work)?;
    if args.faults {
        return faults::run_faults(&binary, &work, args.faults_seconds, args.pool_size);
    }
    if args.soak {
        return soak(args, &binary, &work);
    }
    let out = args.out.clone().unwrap_or_else(|| {
        let base = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        if args.quick { base.join("quick") } else { base }
    });
    std::fs::create_dir_all(&out)?;
    say(&format!("idtrail: {}; work: {}; results: {}", binary.display(), work.display(), out.display()));
    let backends: Vec<Backend> = match args.backend {
        Which::Sqlite => vec![Backend::Sqlite],
        Which::Postgres => vec![Backend::Postgres],
        Which::Both => vec![Backend::Postgres, Backend::Sqlite],
    };
    let mut results = report::Results::new(args.quick, args.scale, started_at, &args.pg_url);
    for backend in backends {
        // A backend that fails is reported as such; the others still run and are reported.
        match run_backend(args, &sizes, backend, &binary, &work) {
            Ok(r) => results.backends.push(r),
            Err(e) => {
                say(&format!("the {} run failed: {e:#}", backend.name()));
                let log = service_log_tail(&work, backend.name());
                results.failures.push(report::Failure { backend: backend.name().into(), error: format!("{e:#}{log}") });
            }
        }
    }
    results.finish(started.elapsed().as_secs_f64());
    report::write(&results, &out)?;
    say(&format!("done in {:.0} s: {}", started.elapsed().as_secs_f64(), out.join("RESULTS.md").display()));
    if !results.failures.is_empty() {
        bail!("{} backend run(s) failed (see RESULTS.md)", results.failures.len());
    }
    Ok(())
}

/// `--soak`: each chosen backend in turn; PostgreSQL on a throwaway cluster when one can be made
/// (the run then shares its server with nobody), else on `--pg-url`.
fn soak(args: &Args, binary: &Path, work: &Path) -> anyhow::Result<()> {
    if matches!(args.backend, Which::Postgres | Which::Both) {
        let cluster = cluster::Cluster::create();
        let server = match &cluster {
            Ok(c) => c.url("").trim_end_matches('/').to_owned(),
            Err(why) => {
                say(&format!("no throwaway cluster ({why}): soaking on {}", args.pg_url));
                args.pg_url.clone()
            }
        };
        let db = Db::Postgres { server, name: "idtrail_soak".into() };
        faults::run_soak(binary, work, &db, args.minutes, args.pool_size)?;
        if cluster.is_err() {
            db.drop_if_exists()?;
        }
    }
    if matches!(args.backend, Which::Sqlite | Which::Both) {
        let db = Db::Sqlite { path: work.join("soak.db") };
        faults::run_soak(binary, work, &db, args.minutes, args.pool_size)?;
        db.drop_if_exists()?;
    }
    Ok(())
}

/// The last lines of the newest service log of `backend` (the cause of a 500 is only there).
fn service_log_tail(work: &Path, backend: &str) -> String {
    let newest = std::fs::read_dir(work)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&format!("idtrail-{backend}-")))
        .max_by_key(|e| e.metadata().and_then(|m| m.modified()).ok());
    let Some(entry) = newest else { return String::new() };
    let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
    let lines: Vec<String> = text
        .lines()
        .rev()
        .take(12)
        .map(|l| {
            // Drop the terminal colours tracing writes.
            let mut out = String::new();
            let mut skip = false;
            for ch in l.chars() {
                match (skip, ch) {
                    (false, '\u{1b}') => skip = true,
                    (true, 'm') => skip = false,
                    (true, _) => {}
                    (false, c) => out.push(c),
                }
            }
            out
        })
        .collect();
    if lines.is_empty() {
        return String::new();
    }
    let lines: Vec<String> = lines.into_iter().rev().collect();
    format!("\n\nlast lines of {}:\n{}", entry.path().display(), lines.join("\n"))
}

/// Rough bytes a run needs on disk: batch files, CSV copies, the database with its indexes.
fn check_disk(
    backend: Backend,
    rows: u64,
    i1: u64,
    doc: u64,
    work: &Path,
    pg_data: Option<&Path>,
) -> anyhow::Result<()> {
    const GB: u64 = 1 << 30;
    // Database: the document plus ~3.3 kB of columns, child rows and indexes per sign-in (measured:
    // see RESULTS.md's data sizes), with room for WAL and a bulk-copy twin of the I1 rows.
    let per_row = doc + 3300;
    let db_need = match backend {
        Backend::Postgres => rows * per_row + i1 * per_row + 2 * GB,
        // SQLite's WAL grows to about three times the database while 4 clients ingest (measured;
        // see RESULTS.md), and the baseline's one-transaction copy has a WAL of its own.
        Backend::Sqlite => rows * per_row * 4 + i1 * per_row * 2 + 2 * GB,
    };
    let files_need = i1 * doc * 2 + GB;
    let free_work = db::free_bytes(work)?;
    let (free_db, db_path) = match pg_data {
        Some(p) => (db::free_bytes(p)?, p.to_path_buf()),
        None => (free_work, work.to_path_buf()),
    };
    say(&format!(
        "disk: about {:.1} GB needed for the database ({} has {:.1} GB free), {:.1} GB for files ({} has {:.1} GB free)",
        db_need as f64 / GB as f64,
        db_path.display(),
        free_db as f64 / GB as f64,
        files_need as f64 / GB as f64,
        work.display(),
        free_work as f64 / GB as f64
    ));
    let same_fs = pg_data.is_none() || free_db == free_work;
    let total_need = if same_fs { db_need + files_need } else { db_need.max(files_need) };
    if free_db < db_need || free_work < files_need || (same_fs && free_work < total_need) {
        bail!(
            "not enough free disk for the {} run: about {:.1} GB needed; use --scale to make it smaller",
            backend.name(),
            total_need as f64 / GB as f64
        );
    }
    Ok(())
}

/// What loading the data measured.
struct Loaded {
    i1: ingest::IngestStats,
    copy: ingest::CopyStats,
    bulk: Option<ingest::IngestStats>,
    peak_i1: u64,
    peak_load: u64,
    planned: data::Counts,
    i1_generation_seconds: f64,
    seconds: f64,
    /// Largest SQLite WAL file seen during I1, and during the whole load.
    max_wal_i1: u64,
    max_wal: u64,
    min_free_disk: u64,
}

/// Generates the data and loads it through the service: I1 first (timed, then its baseline),
/// then the rest.
#[allow(clippy::too_many_arguments)]
fn load_data(
    args: &Args,
    backend: Backend,
    counts: data::Counts,
    i1: u64,
    end: chrono::DateTime<chrono::Utc>,
    svc: &service::Service,
    sampler: &service::Sampler,
    tokens: &[String; 3],
    (db, copy_db, work): (&Db, &Db, &Path),
    guard: &ingest::DiskGuard,
) -> anyhow::Result<Loaded> {
    // I1: the first `i1` rows, generated to files first (so generation does not share the CPU
    // with the timed ingest), split between the passes by their size.
    let mut passes = data::passes(counts, end, 30, args.batch);
    let planned = data::planned(&passes);
    let started = Instant::now();
    let pass_total: u64 = passes.iter().map(|p| p.total).sum();
    let shares: Vec<u64> = {
        let mut v: Vec<u64> = passes
            .iter()
            .map(|p| (u128::from(i1) * u128::from(p.total) / u128::from(pass_total.max(1))) as u64)
            .collect();
        let given: u64 = v.iter().sum();
        if let Some(first) = v.first_mut() {
            *first += i1 - given;
        }
        v
    };
    let data_dir = work.join("batches");
    std::fs::create_dir_all(&data_dir)?;
    let files: Vec<data::BatchFile> = std::thread::scope(|s| -> anyhow::Result<Vec<data::BatchFile>> {
        let handles: Vec<_> = passes
            .iter_mut()
            .zip(&shares)
            .enumerate()
            .map(|(i, (p, &n))| {
                let dir = &data_dir;
                s.spawn(move || data::write_files(p, n, dir, &format!("i1-p{i}")))
            })
            .collect();
        let mut all = Vec::new();
        for h in handles {
            all.extend(h.join().map_err(|_| anyhow::anyhow!("a generator panicked"))??);
        }
        Ok(all)
    })?;
    let i1_generation_seconds = started.elapsed().as_secs_f64();
    say(&format!(
        "I1: generated {} sign-ins in {} batches in {i1_generation_seconds:.0} s; posting with {} clients",
        files.iter().map(|f| f.rows as u64).sum::<u64>(),
        files.len(),
        args.ingest_clients
    ));
    sampler.take_peak();
    let i1_stats = ingest::post_files(svc.addr, tokens, &files, args.ingest_clients, guard)?;
    let peak_i1 = sampler.take_peak();
    let max_wal_i1 = guard.max_wal();
    say(&format!(
        "I1: {} stored in {:.1} s = {:.0}/s (peak RSS {:.0} MB)",
        i1_stats.inserted,
        i1_stats.seconds,
        i1_stats.rate,
        mb(peak_i1)
    ));
    if i1_stats.inserted != i1 {
        bail!("I1 stored {} sign-ins, expected {i1} ({:?})", i1_stats.inserted, i1_stats);
    }
    std::fs::remove_dir_all(&data_dir)?;
    let copy = match backend {
        Backend::Postgres => ingest::pg_copy_baseline(db, copy_db, work)?,
        Backend::Sqlite => ingest::sqlite_copy_baseline(db, copy_db, args.batch)?,
    };
    say(&format!("I1 baseline: {} sign-ins in {:.1} s = {:.0}/s", copy.rows, copy.seconds, copy.rate));
    if let Some(t) = &copy.transfer {
        say(&format!("I1 transfer copy (not the baseline): {:.1} s = {:.0}/s", t.seconds, t.rate));
    }

    // The rest of the data, generated while posting.
    let rest: u64 = passes.iter().map(|p| p.total - p.produced).sum();
    let bulk = if rest > 0 {
        say(&format!("loading the other {rest} sign-ins through the ingest endpoint"));
        let b = ingest::post_stream(svc.addr, tokens, &mut passes, args.ingest_clients, guard, &|m| say(m))?;
        say(&format!("loaded {} in {:.0} s ({:.0}/s, generation included)", b.inserted, b.seconds, b.rate));
        Some(b)
    } else {
        None
    };
    let peak_load = sampler.take_peak();
    Ok(Loaded {
        i1: i1_stats,
        copy,
        bulk,
        peak_i1,
        peak_load,
        planned,
        i1_generation_seconds,
        seconds: started.elapsed().as_secs_f64(),
        max_wal_i1,
        max_wal: guard.max_wal(),
        min_free_disk: guard.min_free(),
    })
}

/// Removes what a backend's run made (unless `--keep`), also when it failed half-way.
struct Cleanup {
    dbs: Vec<Db>,
    work: PathBuf,
    keep: bool,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        for db in &self.dbs {
            if let Err(e) = db.drop_if_exists() {
                say(&format!("could not drop {}: {e:#}", db.url()));
            }
        }
        let _ = std::fs::remove_dir_all(&self.work);
    }
}

/// `n` sign-in ids of `tenant` spread over its data: the first id at or after each of `n`
/// instants (an index lookup each, so it stays cheap on millions of rows).
fn sample_ids(conn: &mut storage::conn::AnyConnection, tenant: &str, n: usize) -> anyhow::Result<Vec<String>> {
    let t = storage::sql::Param::Text(tenant.to_owned());
    let from =
        db::scalar(conn, "SELECT MIN(created_ticks) AS n FROM sign_ins WHERE tenant_id = ?", std::slice::from_ref(&t))?;
    let to =
        db::scalar(conn, "SELECT MAX(created_ticks) AS n FROM sign_ins WHERE tenant_id = ?", std::slice::from_ref(&t))?;
    let span = u64::try_from(to - from).unwrap_or(0).max(1);
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut ids = Vec::with_capacity(n);
    for _ in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let at = from + i64::try_from(x % span).unwrap_or(0);
        ids.extend(db::texts(
            conn,
            "SELECT id AS v FROM sign_ins WHERE tenant_id = ? AND created_ticks >= ? ORDER BY created_ticks LIMIT 1",
            &[t.clone(), storage::sql::Param::BigInt(at)],
        )?);
    }
    ids.sort();
    ids.dedup();
    Ok(ids)
}

fn run_backend(
    args: &Args,
    sizes: &Sizes,
    backend: Backend,
    binary: &Path,
    work: &Path,
) -> anyhow::Result<BackendResults> {
    let started = Instant::now();
    let mut load_average = vec![report::load_average()];
    let name = backend.name();
    let counts = match backend {
        Backend::Postgres => sizes.postgres,
        Backend::Sqlite => sizes.sqlite,
    };
    let total: u64 = counts.iter().sum();
    let i1 = sizes.i1.min(total);
    let work = work.join(name);
    let (db, copy_db) = match backend {
        Backend::Sqlite => (Db::Sqlite { path: work.join("idtrail.db") }, Db::Sqlite { path: work.join("copy.db") }),
        Backend::Postgres => (
            Db::Postgres { server: args.pg_url.clone(), name: args.pg_database.clone() },
            Db::Postgres { server: args.pg_url.clone(), name: format!("{}_copy", args.pg_database) },
        ),
    };
    let end = chrono::Utc::now();
    let avg_doc = data::average_document_bytes(end) as u64;
    let _cleanup =
        Cleanup { dbs: vec![db.clone(), copy_db.clone()], work: work.clone(), keep: args.keep || args.reuse };
    if args.reuse {
        say(&format!("== {name}: reusing {} (no loading, no I1)", db.url()));
    } else {
        say(&format!("== {name}: {total} sign-ins ({counts:?}), I1 on the first {i1}"));
        if work.exists() {
            std::fs::remove_dir_all(&work)?;
        }
        std::fs::create_dir_all(&work)?;
        db.recreate()?;
    }
    let pg_data = match backend {
        Backend::Postgres => {
            let mut c = db.connect()?;
            db::texts(&mut c, "SELECT setting AS v FROM pg_settings WHERE name = 'data_directory'", &[])?
                .into_iter()
                .next()
                .map(PathBuf::from)
        }
        Backend::Sqlite => None,
    };
    if !args.reuse {
        check_disk(backend, total, i1, avg_doc, &work, pg_data.as_deref())?;
    }

    let mut env = service::Env {
        binary: binary.to_path_buf(),
        database_url: db.url(),
        secret: service::random_secret(),
        work_dir: work.clone(),
        pool_size: args.pool_size,
        extra: service::UNLIMITED
            .iter()
            .chain(service::NO_METRICS_LISTENER)
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    };
    env.probe();
    for t in &TENANTS {
        env.run(&["tenant", "set", t.id, "--license", "p2", "--name", t.display_name])?;
    }
    let svc = env.start()?;
    let pid = svc.pid();
    say(&format!("idtrail serving on {} (pid {pid}, log {})", svc.addr, svc.log.display()));
    let sampler = service::Sampler::start(pid);
    std::thread::sleep(Duration::from_secs(2));
    let idle_start = service::memory(pid).map_or(0, |m| m.0);
    let ingest_tokens: [String; 3] =
        [env.ingest_token(TENANTS[0].id)?, env.ingest_token(TENANTS[1].id)?, env.ingest_token(TENANTS[2].id)?];
    let admin = demo::users(&TENANTS[0]).into_iter().next().ok_or_else(|| anyhow::anyhow!("no demo users"))?;
    let admin_token = env.admin_token(TENANTS[0].id, &admin.object_id)?;

    let loaded = if args.reuse {
        None
    } else {
        let guard = ingest::DiskGuard::new();
        let dirs: Vec<PathBuf> = std::iter::once(work.clone()).chain(pg_data.clone()).collect();
        let wal = match &db {
            Db::Sqlite { path } => Some(PathBuf::from(format!("{}-wal", path.display()))),
            Db::Postgres { .. } => None,
        };
        let loaded = std::thread::scope(|s| {
            s.spawn(|| guard.watch(&dirs, wal.as_deref()));
            let r = load_data(
                args,
                backend,
                counts,
                i1,
                end,
                &svc,
                &sampler,
                &ingest_tokens,
                (&db, &copy_db, &work),
                &guard,
            );
            guard.stop();
            r
        });
        // A refused connection mid-load usually means the service is gone: say so.
        let loaded = match loaded {
            Ok(l) => l,
            Err(e) if !service::running(pid) => {
                return Err(e.context(format!(
                    "idtrail (pid {pid}) is no longer running: it exited or was killed from outside (nothing in its \
                     log means a signal, not a panic); see {}",
                    svc.log.display()
                )));
            }
            Err(e) => return Err(e),
        };
        if loaded.max_wal > 0 {
            say(&format!(
                "largest SQLite WAL file: {:.2} GB during I1, {:.2} GB during the whole load",
                loaded.max_wal_i1 as f64 / f64::from(1 << 30),
                loaded.max_wal as f64 / f64::from(1 << 30)
            ));
        }
        Some(loaded)
    };

    // Settle as a running system would: PostgreSQL's autovacuum would have analyzed and set the
    // visibility map by now; do it at once so both sides see the same, steady state.
    let mut conn = db.connect_unbounded()?;
    if backend == Backend::Postgres && loaded.is_some() {
        say("VACUUM ANALYZE");
        let t = Instant::now();
        db::execute(&mut conn, "VACUUM ANALYZE")?;
        say(&format!("VACUUM ANALYZE took {:.0} s", t.elapsed().as_secs_f64()));
    }
    let mut tenants = Vec::new();
    for (i, t) in TENANTS.iter().enumerate() {
        let n = db::scalar(
            &mut conn,
            "SELECT COUNT(*) AS n FROM sign_ins WHERE tenant_id = ?",
            &[storage::sql::Param::Text(t.id.to_owned())],
        )?;
        tenants.push(TenantRows {
            name: t.display_name.into(),
            id: t.id.into(),
            rows: n,
            planned: loaded.as_ref().map(|l| l.planned[i]),
        });
    }
    let stored: i64 = tenants.iter().map(|t| t.rows).sum();
    if let Some(l) = &loaded
        && u64::try_from(stored).unwrap_or(0) != l.planned.iter().sum::<u64>()
    {
        say(&format!("warning: {stored} sign-ins stored, {} planned", l.planned.iter().sum::<u64>()));
    }
    let db_bytes = db.size_bytes(&mut conn)?;
    let child_rows = db::scalar(
        &mut conn,
        "SELECT (SELECT COUNT(*) FROM sign_in_ca_policies) + (SELECT COUNT(*) FROM sign_in_risk_event_types) AS n",
        &[],
    )?;
    let database_version = match backend {
        Backend::Postgres => db::texts(
            &mut conn,
            "SELECT split_part(version(), ' on ', 1) || ' (' || (SELECT string_agg(name || ' ' || current_setting(name), ', ' \
             ORDER BY name) FROM pg_settings WHERE name IN ('shared_buffers', 'max_wal_size', 'synchronous_commit', \
             'ssl', 'work_mem', 'effective_cache_size')) || ')' AS v",
            &[],
        )?,
        Backend::Sqlite => db::texts(
            &mut conn,
            "SELECT 'SQLite ' || sqlite_version() || ' (bundled; WAL, synchronous NORMAL, default cache_size; no ANALYZE)' AS v",
            &[],
        )?,
    }
    .into_iter()
    .next()
    .unwrap_or_default();
    say(&format!("data: {stored} sign-ins, {child_rows} child rows, {:.0} MB on disk", mb(db_bytes)));

    // Scenarios.
    let store = storage::Store::open(&db.url(), 2)?.with_policy(service::retention(), domain::ids::LicenseTier::P2);
    let tenant = TenantId::parse(TENANTS[0].id)?;
    let tid = storage::sql::Param::Text(TENANTS[0].id.to_owned());
    let ids = sample_ids(&mut conn, TENANTS[0].id, sizes.ids)?;
    let week_ago = domain::time::to_ticks(chrono::Utc::now() - chrono::Duration::days(7));
    let app_id = db::texts(
        &mut conn,
        "SELECT app_id AS v FROM sign_ins WHERE tenant_id = ? AND status_error_code <> 0 AND app_id IS NOT NULL \
         AND created_ticks >= ? GROUP BY app_id ORDER BY COUNT(*) DESC LIMIT 1",
        &[tid.clone(), storage::sql::Param::BigInt(week_ago)],
    )?
    .into_iter()
    .next()
    .ok_or_else(|| anyhow::anyhow!("no application with failures"))?;
    let upn_prefix: String = demo::users(&TENANTS[0])
        .get(1)
        .map(|u| u.user_principal_name.chars().take(4).collect())
        .unwrap_or_else(|| "a".into());
    let app_name = db::texts(
        &mut conn,
        "SELECT app_display_name AS v FROM sign_ins WHERE tenant_id = ? AND status_error_code <> 0 \
         AND app_display_name IS NOT NULL GROUP BY app_display_name ORDER BY COUNT(*) DESC LIMIT 1",
        std::slice::from_ref(&tid),
    )?
    .into_iter()
    .next()
    .ok_or_else(|| anyhow::anyhow!("no application name with failures"))?;
    let users = db::texts(
        &mut conn,
        "SELECT user_id AS v FROM sign_ins WHERE tenant_id = ? GROUP BY user_id ORDER BY COUNT(*) DESC LIMIT 3",
        std::slice::from_ref(&tid),
    )?;
    // The one-letter UPN prefix whose share of the sign-ins is nearest 8 %.
    let shares = db::texts(
        &mut conn,
        "SELECT substr(user_principal_name, 1, 1) || ' ' || CAST(COUNT(*) AS TEXT) AS v FROM sign_ins \
         WHERE tenant_id = ? AND user_principal_name IS NOT NULL GROUP BY substr(user_principal_name, 1, 1)",
        std::slice::from_ref(&tid),
    )?;
    let counted: Vec<(String, f64)> = shares
        .iter()
        .filter_map(|s| s.split_once(' ').and_then(|(p, n)| n.parse::<f64>().ok().map(|n| (p.to_owned(), n))))
        .collect();
    let total: f64 = counted.iter().map(|(_, n)| n).sum::<f64>().max(1.0);
    let wide_prefix = counted
        .iter()
        .map(|(p, n)| (p.clone(), n / total))
        .min_by(|a, b| (a.1 - 0.08).abs().total_cmp(&(b.1 - 0.08).abs()))
        .unwrap_or_else(|| ("a".into(), 0.0));
    let mut http = http::Conn::new(svc.addr);
    let mut setup = scenarios::Setup {
        store: &store,
        tenant: &tenant,
        token: &admin_token,
        http: &mut http,
        db: &mut conn,
        now: chrono::Utc::now(),
        ids,
        app_id,
        upn_prefix,
        app_name,
        users,
        wide_prefix,
    };
    let mut all = scenarios::build(&mut setup)?;
    all.extend(aggregates::build(&mut setup)?);
    drop(http);
    drop(conn);
    load_average.push(report::load_average());
    let mut scenario_results = run_scenarios(args, sizes, &all, &svc, &admin_token, &db)?;
    let pairs: Vec<scenarios::PreparedPair> = scenarios::prepared_pairs(&all)
        .into_iter()
        .filter(|p| args.only.is_empty() || args.only.iter().any(|o| o == p.key))
        .collect();
    if !pairs.is_empty() {
        let (key, value) = service::PREPARED_STATEMENTS_OFF;
        let env_off = env.with_setting(key, value);
        if env_off.has_setting(key) {
            let svc_off = env_off.start()?;
            say(&format!("P1-P5: prepared statements off on {} (pid {})", svc_off.addr, svc_off.pid()));
            scenario_results.extend(run_prepared_pairs(args, sizes, &pairs, &svc, &svc_off, &admin_token)?);
            svc_off.stop()?;
        } else {
            say("P1-P5: this idtrail has no database_prepared_statements setting; not measured");
        }
    }
    let peak_queries = sampler.take_peak();
    let exports = if args.only.is_empty() || args.only.iter().any(|o| o == "E1") {
        let rows = tenants.first().map_or(0, |t| u64::try_from(t.rows).unwrap_or(0));
        export::run(svc.addr, pid, &sampler, &admin_token, &db, TENANTS[0].id, rows)?
    } else {
        Vec::new()
    };
    load_average.push(report::load_average());
    std::thread::sleep(Duration::from_secs(2));
    let (idle_end, hwm) = service::memory(pid).unwrap_or((0, 0));
    drop(sampler);
    svc.stop()?;
    drop(store);
    let rollup_cost = if args.only.is_empty() || args.only.iter().any(|o| o == "I2") {
        let rows = usize::try_from(sizes.i1 / 5).unwrap_or(usize::MAX).max(1_000);
        say(&format!("I2: storage ingest of {rows} sign-ins with and without rollups, three times each"));
        let c = aggregates::rollup_cost(rows, args.batch, end, |i| match backend {
            Backend::Sqlite => Db::Sqlite { path: work.join(format!("rollups-{i}.db")) },
            Backend::Postgres => {
                Db::Postgres { server: args.pg_url.clone(), name: format!("{}_rollups", args.pg_database) }
            }
        })?;
        say(&format!("I2: {:.0}/s with rollups, {:.0}/s without: {:.2}x", c.with_rollups, c.without_rollups, c.ratio));
        Some(c)
    } else {
        None
    };
    let mut r = BackendResults {
        backend: name.into(),
        database_version,
        service_config: report::ServiceConfig {
            pool_size: args.pool_size.map_or_else(|| "default (8)".into(), |n| n.to_string()),
            ingest_batch: args.batch,
            ingest_clients: args.ingest_clients,
            page_size: scenarios::TOP,
        },
        data: DataInfo {
            tenants,
            total_rows: stored,
            child_rows,
            days: 30,
            db_bytes,
            average_document_bytes: avg_doc,
            i1_generation_seconds: loaded.as_ref().map(|l| l.i1_generation_seconds),
            generation_and_load_seconds: loaded.as_ref().map(|l| l.seconds),
            bulk_load: loaded.as_ref().and_then(|l| l.bulk.clone()),
            max_wal_bytes_i1: loaded.as_ref().map(|l| l.max_wal_i1).filter(|w| *w > 0),
            max_wal_bytes: loaded.as_ref().map(|l| l.max_wal).filter(|w| *w > 0),
            min_free_disk_bytes: loaded.as_ref().map(|l| l.min_free_disk),
        },
        memory: MemoryResult::new(
            idle_start,
            loaded.as_ref().map(|l| l.peak_i1),
            loaded.as_ref().map(|l| l.peak_load),
            peak_queries,
            idle_end,
            hwm,
        ),
        ingest: loaded.map(|l| IngestResult::new(l.i1, l.copy)),
        scenarios: scenario_results,
        exports,
        rollup_cost,
        targets: Vec::new(),
        load_average,
        seconds: started.elapsed().as_secs_f64(),
    };
    r.evaluate();
    Ok(r)
}

/// A scenario whose statement alone takes longer than this (ms) is measured with a few requests.
const SLOW_MS: f64 = 500.0;

/// The warm-up of every round after the first: enough for the new connections' first statements.
const LATER_WARMUP: Duration = Duration::from_millis(100);

/// Scenarios measured together: their rounds interleave, so that a drift of the machine between
/// them hits both alike (Q6 compares page 200 with page 1 of the same service).
fn group_of(key: &str) -> &str {
    if key.starts_with("Q6") { "Q6" } else { key }
}

/// How one scenario is measured: its rounds and window.
fn plan_of(sc: &scenarios::Scenario, sizes: &Sizes) -> (usize, load::Window) {
    // A statement that took seconds alone is measured with a few requests in one round (no
    // warm-up: the check ran it), or the run would take an hour.
    if sc.probe_ms > SLOW_MS {
        say(&format!("{}: one statement took {:.1} s; measuring a few requests only", sc.key, sc.probe_ms / 1000.0));
        let few = load::Window {
            warmup: Duration::ZERO,
            measure: Duration::ZERO,
            min_requests: 3,
            max: Duration::from_secs(40),
        };
        (1, few)
    } else {
        (sizes.rounds, sizes.window)
    }
}

/// P1-P5: each request on the service with prepared statements (the default, "service") and on
/// a second service of the same database without them ("baseline"), in alternating rounds (at
/// least three, so that the shared machine's drift hits both alike).
fn run_prepared_pairs(
    args: &Args,
    sizes: &Sizes,
    pairs: &[scenarios::PreparedPair],
    on: &service::Service,
    off: &service::Service,
    token: &str,
) -> anyhow::Result<Vec<ScenarioResult>> {
    let mut out = Vec::new();
    for pair in pairs {
        let mut runs = Vec::new();
        for &c in &args.concurrency {
            let (mut on_samples, mut off_samples) = (Vec::new(), Vec::new());
            for round in 0..sizes.rounds.max(3) {
                let window = if round == 0 {
                    sizes.window
                } else {
                    load::Window { warmup: sizes.window.warmup.min(LATER_WARMUP), ..sizes.window }
                };
                // Which side goes first alternates too.
                let sides: [(&service::Service, bool); 2] =
                    if round % 2 == 0 { [(on, true), (off, false)] } else { [(off, false), (on, true)] };
                for (svc, is_on) in sides {
                    let sample = load::run(
                        c,
                        window,
                        |_| Ok(http::Conn::new(svc.addr)),
                        |conn, _| match conn.get(&pair.target, token) {
                            Ok(r) if r.status == 200 => Ok(()),
                            Ok(r) => {
                                Err(format!("HTTP {}: {}", r.status, r.text().chars().take(300).collect::<String>()))
                            }
                            Err(e) => Err(e.to_string()),
                        },
                    )?;
                    if is_on { on_samples.push(sample) } else { off_samples.push(sample) }
                }
            }
            let (on_stats, off_stats) =
                (load::Stats::from_samples(c, on_samples), load::Stats::from_samples(c, off_samples));
            say(&format!(
                "{:<7} c={c:<2} prepared p50 {:>8.2} ms {:>8.1}/s | unprepared p50 {:>8.2} ms {:>8.1}/s | {:.2}x",
                pair.key,
                on_stats.p50_ms,
                on_stats.throughput,
                off_stats.p50_ms,
                off_stats.throughput,
                on_stats.throughput / off_stats.throughput
            ));
            runs.push(Run::new(c, on_stats, off_stats));
        }
        out.push(ScenarioResult {
            key: pair.key.into(),
            title: pair.title.clone(),
            request: pair.request.clone(),
            baseline_source: "the same request to a second idtrail on the same database with \
                              database_prepared_statements = false (each statement parsed and planned anew)"
                .into(),
            baseline_sql: None,
            check: "both answer 200".into(),
            runs,
            rows_read: None,
        });
    }
    Ok(out)
}

/// Runs every scenario at every concurrency, service and baseline in alternating rounds.
fn run_scenarios(
    args: &Args,
    sizes: &Sizes,
    all: &[scenarios::Scenario],
    svc: &service::Service,
    token: &str,
    db: &Db,
) -> anyhow::Result<Vec<ScenarioResult>> {
    let mut groups: Vec<Vec<&scenarios::Scenario>> = Vec::new();
    for sc in all.iter().filter(|s| args.only.is_empty() || args.only.iter().any(|o| o == s.key)) {
        match groups.last_mut() {
            Some(g) if g.first().is_some_and(|first| group_of(first.key) == group_of(sc.key)) => g.push(sc),
            _ => groups.push(vec![sc]),
        }
    }
    let mut out = Vec::new();
    for group in groups {
        let plans: Vec<(usize, load::Window)> = group.iter().map(|sc| plan_of(sc, sizes)).collect();
        let most_rounds = plans.iter().map(|p| p.0).max().unwrap_or(0);
        let mut runs: Vec<Vec<Run>> = group.iter().map(|_| Vec::new()).collect();
        for &c in &args.concurrency {
            // Rounds alternate service and baseline (and the scenarios of a group), so a change in
            // background load (other builds on a shared machine) hits every side alike.
            let mut samples: Vec<(Vec<load::Sample>, Vec<load::Sample>)> = vec![(Vec::new(), Vec::new()); group.len()];
            for round in 0..most_rounds {
                for ((sc, &(rounds, window)), (svc_samples, base_samples)) in
                    group.iter().zip(&plans).zip(samples.iter_mut())
                {
                    if round >= rounds {
                        continue;
                    }
                    // The first round warms the caches; later ones only their new connections.
                    let window = if round == 0 {
                        window
                    } else {
                        load::Window { warmup: window.warmup.min(LATER_WARMUP), ..window }
                    };
                    svc_samples.push(load::run(
                        c,
                        window,
                        |_| Ok(http::Conn::new(svc.addr)),
                        |conn, n| match conn.get(sc.service.target(n), token) {
                            Ok(r) if r.status == 200 => Ok(()),
                            Ok(r) => {
                                Err(format!("HTTP {}: {}", r.status, r.text().chars().take(300).collect::<String>()))
                            }
                            Err(e) => Err(e.to_string()),
                        },
                    )?);
                    if !matches!(sc.baseline, scenarios::Baseline::None) {
                        base_samples.push(load::run(
                            c,
                            window,
                            |_| db.connect(),
                            |conn, n| sc.baseline.run(conn, n).map(|_| ()),
                        )?);
                    }
                }
            }
            for ((sc, (svc_samples, base_samples)), runs) in group.iter().zip(samples).zip(runs.iter_mut()) {
                let svc_stats = load::Stats::from_samples(c, svc_samples);
                let base_stats = load::Stats::from_samples(c, base_samples);
                say(&format!(
                    "{:<7} c={c:<2} service p50 {:>8.2} ms p99 {:>8.2} ms {:>8.1}/s | baseline p50 {:>8.2} ms p99 {:>8.2} ms {:>8.1}/s{}",
                    sc.key,
                    svc_stats.p50_ms,
                    svc_stats.p99_ms,
                    svc_stats.throughput,
                    base_stats.p50_ms,
                    base_stats.p99_ms,
                    base_stats.throughput,
                    if svc_stats.errors + base_stats.errors > 0 {
                        format!(
                            "  ERRORS service {} baseline {}: {}",
                            svc_stats.errors,
                            base_stats.errors,
                            svc_stats.first_error.as_deref().or(base_stats.first_error.as_deref()).unwrap_or("")
                        )
                    } else {
                        String::new()
                    }
                ));
                runs.push(Run::new(c, svc_stats, base_stats));
            }
        }
        for (sc, runs) in group.iter().zip(runs) {
            out.push(ScenarioResult {
                key: sc.key.into(),
                title: sc.title.clone(),
                request: sc.request.clone(),
                baseline_source: sc.baseline_source.into(),
                baseline_sql: sc.baseline.first_sql().map(scenarios::sql_text),
                check: sc.check.clone(),
                rows_read: sc.rows_read.clone(),
                runs,
            });
        }
    }
    Ok(out)
}
