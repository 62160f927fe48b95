//! `bench/run --faults` and `bench/run --soak`: the service under a steady mixed load (reads of
//! the large tenant, ingest into all three) while things go wrong, or for a long time.
//!
//! - Faults (PostgreSQL, a throwaway cluster of its own, see `cluster.rs`): 60 s of load during
//!   which every idtrail backend is terminated twice and the server is stopped for 5 s and started
//!   again. Reported: requests by status, the longest time without a successful answer, recovery
//!   after each fault, and acknowledged versus stored sign-ins (a client that gets 503 sends its
//!   batch again, as a real producer does, so the two must be equal).
//! - Soak (each backend): the same load for `--minutes`, reporting resident memory at start,
//!   middle and end, errors, and p99 latency per minute.
//!
//! Results are printed (as Markdown) for `bench/ANALYSIS.md`; RESULTS.md is not touched.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use demo::TENANTS;
use diesel::Connection;
use diesel::connection::SimpleConnection;

use crate::cluster::Cluster;
use crate::data::{self, Pass};
use crate::db::{self, Db};
use crate::http::{Conn, encode};
use crate::load::quantile;
use crate::service::{self, Env};

/// Rows per ingest batch of the mixed load.
const BATCH_ROWS: usize = 200;
/// Pause between two batches of one ingest client: a steady trickle, not a bulk load.
const INGEST_PAUSE: Duration = Duration::from_millis(100);
/// Pause before a refused batch is sent again.
const RETRY_PAUSE: Duration = Duration::from_millis(200);

/// One answered (or failed) request.
#[derive(Debug, Clone, Copy)]
struct Event {
    /// When it ended, since the load started.
    end: Duration,
    latency: Duration,
    ingest: bool,
    /// HTTP status; 0 when no answer came (connection refused or cut).
    status: u16,
}

/// What the load saw.
#[derive(Debug, Default)]
struct Outcome {
    events: Vec<Event>,
    /// Sign-ins in batches answered 200 (each batch counted once, however often it was sent).
    acknowledged: u64,
    /// Batches still unanswered when the load was told to stop and gave up.
    abandoned: u64,
}

/// The reads a reader cycles through: the large tenant's list, count, filters, a report.
fn read_targets() -> Vec<String> {
    vec![
        "/v1.0/auditLogs/signIns?$top=50".into(),
        "/v1.0/auditLogs/signIns/$count".into(),
        format!("/v1.0/auditLogs/signIns?$top=20&$filter={}", encode("status/errorCode ne 0")),
        format!("/v1.0/auditLogs/signIns?$top=20&$filter={}", encode("startswith(appDisplayName,'Microsoft')")),
        "/idtrail/reports/signInActivity?period=P7D".into(),
    ]
}

/// Runs `readers` reading and `ingesters` ingesting clients until `stop`; ingesters finish the
/// batch they hold (up to 60 s more) so that every batch is either acknowledged or abandoned.
fn mixed_load(
    addr: SocketAddr,
    admin: &str,
    ingest_tokens: &[String; 3],
    passes: Vec<Pass>,
    (readers, ingesters): (usize, usize),
    stop: &AtomicBool,
) -> Outcome {
    let started = Instant::now();
    let outcome = Mutex::new(Outcome::default());
    let acknowledged = AtomicU64::new(0);
    let abandoned = AtomicU64::new(0);
    let passes = Mutex::new(passes);
    let targets = read_targets();
    let push = |events: Vec<Event>| {
        if let Ok(mut o) = outcome.lock() {
            o.events.extend(events);
        }
    };
    std::thread::scope(|s| {
        for r in 0..readers {
            let (targets, push) = (&targets, &push);
            s.spawn(move || {
                let mut conn = Conn::new(addr);
                let mut events = Vec::new();
                let mut i = r;
                while !stop.load(Ordering::Relaxed) {
                    let t0 = Instant::now();
                    let status = conn.get(&targets[i % targets.len()], admin).map_or(0, |res| res.status);
                    events.push(Event { end: started.elapsed(), latency: t0.elapsed(), ingest: false, status });
                    if status != 200 {
                        std::thread::sleep(RETRY_PAUSE);
                    }
                    i += 1;
                }
                push(events);
            });
        }
        for _ in 0..ingesters {
            let (passes, push, acknowledged, abandoned) = (&passes, &push, &acknowledged, &abandoned);
            s.spawn(move || {
                let mut conn = Conn::new(addr);
                let mut events = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let batch = passes.lock().ok().and_then(|mut p| p.iter_mut().find_map(|p| p.next_batch(u64::MAX)));
                    let Some(batch) = batch else { break };
                    let auth = format!("Bearer {}", ingest_tokens[batch.tenant]);
                    let headers = [("Authorization", auth.as_str()), ("Content-Type", "application/x-ndjson")];
                    // A refused batch is sent again until it is acknowledged, also after `stop`
                    // (for at most a minute more).
                    let mut stopped: Option<Instant> = None;
                    loop {
                        let t0 = Instant::now();
                        let status =
                            conn.request("POST", "/ingest/signIns", &headers, &batch.body).map_or(0, |r| r.status);
                        events.push(Event { end: started.elapsed(), latency: t0.elapsed(), ingest: true, status });
                        if status == 200 {
                            acknowledged.fetch_add(batch.rows as u64, Ordering::Relaxed);
                            break;
                        }
                        if stop.load(Ordering::Relaxed) {
                            stopped.get_or_insert_with(Instant::now);
                        }
                        if status == 400 || stopped.is_some_and(|t| t.elapsed() > Duration::from_secs(60)) {
                            abandoned.fetch_add(1, Ordering::Relaxed);
                            break;
                        }
                        std::thread::sleep(RETRY_PAUSE);
                    }
                    std::thread::sleep(INGEST_PAUSE);
                }
                push(events);
            });
        }
    });
    let mut out = outcome.into_inner().unwrap_or_default();
    out.events.sort_by_key(|e| e.end);
    out.acknowledged = acknowledged.into_inner();
    out.abandoned = abandoned.into_inner();
    out
}

/// A service on `db` with its tokens, ready for the mixed load.
struct Setup {
    env: Env,
    svc: service::Service,
    admin: String,
    ingest_tokens: [String; 3],
}

fn set_up(binary: &Path, db: &Db, work: &Path, pool_size: Option<u32>) -> anyhow::Result<Setup> {
    std::fs::create_dir_all(work)?;
    let mut env = Env {
        binary: binary.to_path_buf(),
        database_url: db.url(),
        secret: service::random_secret(),
        work_dir: work.to_path_buf(),
        pool_size,
        extra: service::UNLIMITED.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
    };
    env.probe();
    for t in &TENANTS {
        env.run(&["tenant", "set", t.id, "--license", "p2", "--name", t.display_name])?;
    }
    let svc = env.start()?;
    let ingest_tokens =
        [env.ingest_token(TENANTS[0].id)?, env.ingest_token(TENANTS[1].id)?, env.ingest_token(TENANTS[2].id)?];
    let admin_user = demo::users(&TENANTS[0]).into_iter().next().ok_or_else(|| anyhow::anyhow!("no demo users"))?;
    let admin = env.admin_token(TENANTS[0].id, &admin_user.object_id)?;
    Ok(Setup { env, svc, admin, ingest_tokens })
}

/// Sign-ins to ingest: plenty for the run, generated as they are taken.
fn passes(rows: u64) -> Vec<Pass> {
    data::passes([rows * 8 / 10, rows / 10, rows / 10], chrono::Utc::now(), 7, BATCH_ROWS)
}

/// Loads about `rows` sign-ins of `passes` before the measured load, so that reads have something
/// to read; the load goes on with the rest (the generator is deterministic: a second generator
/// would make the same ids again, and they would be duplicates).
fn seed(setup: &Setup, passes: &mut [Pass], rows: u64) -> anyhow::Result<()> {
    let mut conn = Conn::new(setup.svc.addr);
    let mut seeded = 0;
    for pass in passes {
        while seeded < rows
            && let Some(b) = pass.next_batch(u64::MAX)
        {
            seeded += b.rows as u64;
            let auth = format!("Bearer {}", setup.ingest_tokens[b.tenant]);
            let r = conn.request(
                "POST",
                "/ingest/signIns",
                &[("Authorization", &auth), ("Content-Type", "application/x-ndjson")],
                &b.body,
            )?;
            anyhow::ensure!(r.status == 200, "seeding: ingest answered {}: {}", r.status, r.text());
        }
    }
    Ok(())
}

fn stored_sign_ins(db: &Db) -> anyhow::Result<i64> {
    let mut c = db.connect()?;
    db::scalar(&mut c, "SELECT COUNT(*) AS n FROM sign_ins", &[])
}

/// Terminates every backend connected to `database` but this one.
fn terminate_backends(url: &str, database: &str) -> anyhow::Result<()> {
    let mut c = diesel::PgConnection::establish(url)?;
    c.batch_execute(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}' AND pid <> pg_backend_pid()"
    ))?;
    Ok(())
}

/// Counts by (kind, status), as Markdown rows.
fn by_status(events: &[Event]) -> String {
    let mut counts: BTreeMap<(&str, u16), usize> = BTreeMap::new();
    for e in events {
        *counts.entry((if e.ingest { "ingest" } else { "read" }, e.status)).or_default() += 1;
    }
    let mut out = String::from("| requests | status | count |\n|---|---|---|\n");
    for ((kind, status), n) in counts {
        let status = if status == 0 { "no answer".to_owned() } else { status.to_string() };
        out.push_str(&format!("| {kind} | {status} | {n} |\n"));
    }
    out
}

/// The longest time between two successful answers (or from `from` to the first one after it).
fn longest_gap(events: &[Event], from: Duration, to: Duration) -> Duration {
    let mut last = from;
    let mut gap = Duration::ZERO;
    for e in events.iter().filter(|e| e.status == 200 && e.end >= from && e.end <= to) {
        gap = gap.max(e.end - last);
        last = e.end;
    }
    gap.max(to.saturating_sub(last))
}

/// The first successful answer of a request that started after `at`, less `at`.
fn recovery_after(events: &[Event], at: Duration) -> Option<Duration> {
    events.iter().find(|e| e.status == 200 && e.end.saturating_sub(e.latency) >= at).map(|e| e.end - at)
}

/// `bench/run --faults`.
pub fn run_faults(binary: &Path, work: &Path, seconds: u64, pool_size: Option<u32>) -> anyhow::Result<()> {
    let cluster = Cluster::create().map_err(anyhow::Error::msg).context("a throwaway PostgreSQL cluster")?;
    let server = cluster.url("").trim_end_matches('/').to_owned();
    let db = Db::Postgres { server: server.clone(), name: "idtrail_faults".into() };
    db.recreate()?;
    let setup = set_up(binary, &db, &work.join("faults"), pool_size)?;
    eprintln!("[faults] idtrail on {} (pid {}), PostgreSQL on {server}", setup.svc.addr, setup.svc.pid());
    let mut rows = passes(300_000);
    seed(&setup, &mut rows, 20_000)?;
    let seeded = stored_sign_ins(&db)?;
    let total = Duration::from_secs(seconds);
    let plan = [(total / 6, "terminate"), (total * 2 / 5, "restart"), (total * 3 / 4, "terminate")];
    let stop = AtomicBool::new(false);
    let faults: Mutex<Vec<(Duration, Duration, &str)>> = Mutex::new(Vec::new());
    let started = Instant::now();
    let outcome = std::thread::scope(|s| -> anyhow::Result<Outcome> {
        let injector = s.spawn(|| -> anyhow::Result<()> {
            for (at, what) in plan {
                std::thread::sleep(at.saturating_sub(started.elapsed()));
                let begin = started.elapsed();
                match what {
                    "terminate" => terminate_backends(&cluster.url("postgres"), "idtrail_faults")?,
                    _ => {
                        cluster.stop().map_err(anyhow::Error::msg)?;
                        std::thread::sleep(Duration::from_secs(5));
                        cluster.start().map_err(anyhow::Error::msg)?;
                    }
                }
                eprintln!("[faults] {what} at {begin:?}, done at {:?}", started.elapsed());
                if let Ok(mut f) = faults.lock() {
                    f.push((begin, started.elapsed(), what));
                }
            }
            std::thread::sleep(total.saturating_sub(started.elapsed()));
            stop.store(true, Ordering::Relaxed);
            Ok(())
        });
        let outcome = mixed_load(setup.svc.addr, &setup.admin, &setup.ingest_tokens, rows, (4, 2), &stop);
        injector.join().map_err(|_| anyhow::anyhow!("the fault injector panicked"))??;
        Ok(outcome)
    })?;
    let stored = stored_sign_ins(&db)?;
    let faults = faults.into_inner().unwrap_or_default();
    let end = outcome.events.last().map_or(total, |e| e.end);
    println!("### Faults: {seconds} s of mixed load on PostgreSQL (4 readers, 2 ingest clients)\n");
    println!("{}", by_status(&outcome.events));
    println!("| fault | at | done | first success after it is done |\n|---|---|---|---|");
    for (begin, done, what) in &faults {
        let rec = recovery_after(&outcome.events, *done).map_or("none".into(), |d| format!("{:.2} s", d.as_secs_f64()));
        println!("| {what} | {:.1} s | {:.1} s | {rec} |", begin.as_secs_f64(), done.as_secs_f64());
    }
    println!(
        "\nLongest time without a successful answer: {:.2} s. Sign-ins acknowledged {} + seeded {seeded} = {}, stored {stored}{}.",
        longest_gap(&outcome.events, Duration::ZERO, end).as_secs_f64(),
        outcome.acknowledged,
        outcome.acknowledged + seeded as u64,
        if outcome.abandoned > 0 {
            format!(" ({} batches abandoned unanswered)", outcome.abandoned)
        } else {
            String::new()
        },
    );
    let five_hundreds = outcome.events.iter().filter(|e| e.status >= 500 && e.status != 503).count();
    println!("Answers 5xx other than 503: {five_hundreds}.");
    setup.svc.stop()?;
    drop(setup.env);
    anyhow::ensure!(five_hundreds == 0, "{five_hundreds} answers were 5xx other than 503");
    anyhow::ensure!(outcome.acknowledged + seeded as u64 == stored as u64, "acknowledged and stored sign-ins differ");
    Ok(())
}

/// `bench/run --soak`, on one backend.
pub fn run_soak(binary: &Path, work: &Path, db: &Db, minutes: f64, pool_size: Option<u32>) -> anyhow::Result<()> {
    let name = match db {
        Db::Sqlite { .. } => "sqlite",
        Db::Postgres { .. } => "postgres",
    };
    db.recreate()?;
    let setup = set_up(binary, db, &work.join(format!("soak-{name}")), pool_size)?;
    let pid = setup.svc.pid();
    let mut rows = passes(3_000_000);
    seed(&setup, &mut rows, 50_000)?;
    let total = Duration::from_secs_f64(minutes * 60.0);
    let stop = AtomicBool::new(false);
    let memory: Mutex<Vec<(Duration, u64)>> = Mutex::new(Vec::new());
    let started = Instant::now();
    let rss = || service::memory(pid).map_or(0, |m| m.0);
    let outcome = std::thread::scope(|s| {
        s.spawn(|| {
            while started.elapsed() < total {
                if let Ok(mut m) = memory.lock() {
                    m.push((started.elapsed(), rss()));
                }
                std::thread::sleep(Duration::from_secs(5).min(total.saturating_sub(started.elapsed())));
            }
            if let Ok(mut m) = memory.lock() {
                m.push((started.elapsed(), rss()));
            }
            stop.store(true, Ordering::Relaxed);
        });
        mixed_load(setup.svc.addr, &setup.admin, &setup.ingest_tokens, rows, (4, 2), &stop)
    });
    let memory = memory.into_inner().unwrap_or_default();
    let at = |frac: f64| {
        let t = total.mul_f64(frac);
        memory.iter().min_by_key(|(when, _)| when.abs_diff(t)).map_or(0, |m| m.1)
    };
    let stored = stored_sign_ins(db)?;
    let errors = outcome.events.iter().filter(|e| e.status != 200).count();
    println!("### Soak: {minutes} min of mixed load on {name} (4 readers, 2 ingest clients)\n");
    println!(
        "Resident memory: start {:.1} MB, middle {:.1} MB, end {:.1} MB (highest {:.1} MB). Requests {}, errors {errors}. \
         Sign-ins stored {stored}.\n",
        crate::mb(at(0.0)),
        crate::mb(at(0.5)),
        crate::mb(at(1.0)),
        crate::mb(memory.iter().map(|m| m.1).max().unwrap_or(0)),
        outcome.events.len()
    );
    println!("{}", by_status(&outcome.events));
    println!("| minute | reads | read p99 ms | ingest batches | ingest p99 ms |\n|---|---|---|---|---|");
    let minutes_run = (total.as_secs_f64() / 60.0).ceil() as u64;
    for m in 0..minutes_run {
        let in_minute = |e: &&Event| e.end >= Duration::from_secs(m * 60) && e.end < Duration::from_secs((m + 1) * 60);
        let mut reads: Vec<u64> = outcome
            .events
            .iter()
            .filter(in_minute)
            .filter(|e| !e.ingest)
            .map(|e| e.latency.as_micros() as u64)
            .collect();
        let mut ingests: Vec<u64> = outcome
            .events
            .iter()
            .filter(in_minute)
            .filter(|e| e.ingest)
            .map(|e| e.latency.as_micros() as u64)
            .collect();
        reads.sort_unstable();
        ingests.sort_unstable();
        println!(
            "| {} | {} | {:.1} | {} | {:.1} |",
            m + 1,
            reads.len(),
            quantile(&reads, 0.99) as f64 / 1000.0,
            ingests.len(),
            quantile(&ingests, 0.99) as f64 / 1000.0
        );
    }
    println!();
    setup.svc.stop()?;
    Ok(())
}
