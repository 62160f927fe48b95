//! Black-box tests of the `idtrail` binary itself (Cargo builds it for this test target and names
//! it in `CARGO_BIN_EXE_idtrail`): signals and graceful shutdown, `idtrail healthcheck`'s exit
//! codes, `idtrail backup` while the service ingests. The in-process scenarios live in the
//! `idtrail-tests` package; these need a real process, its signals and its exit status.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const SECRET: &str = "process-test-secret-process-test-secret-0123";
const TENANT_A: &str = "aaaaaaaa-0000-4000-8000-0000000000a1";
const TENANT_B: &str = "bbbbbbbb-0000-4000-8000-0000000000b2";

/// A scratch folder and a database (SQLite in the folder, or a fresh PostgreSQL database).
struct Scratch {
    dir: PathBuf,
    url: String,
    pg: Option<String>,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Some(name) = &self.pg {
            let _ = psql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn random() -> u64 {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    u64::from(t.subsec_nanos()) ^ (u64::from(std::process::id()) << 32) ^ t.as_secs()
}

fn scratch_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("idtrail-process-{:016x}", random()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn pg_server() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

fn psql(sql: &str) -> Result<(), String> {
    let out = Command::new("psql")
        .arg(format!("{}/postgres", pg_server().trim_end_matches('/')))
        .args(["-v", "ON_ERROR_STOP=1", "-qAtc", sql])
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() { Ok(()) } else { Err(String::from_utf8_lossy(&out.stderr).into_owned()) }
}

fn sqlite() -> Scratch {
    let dir = scratch_dir();
    let url = format!("sqlite://{}", dir.join("idtrail.db").display());
    Scratch { dir, url, pg: None }
}

/// A fresh PostgreSQL database, or `None` (with a message) when there is no server or no `psql`;
/// under `CI` that is a failure.
fn postgres() -> Option<Scratch> {
    let name = format!("idtrail_process_{:016x}", random());
    if let Err(e) = psql(&format!("CREATE DATABASE {name}")) {
        assert!(std::env::var_os("CI").is_none(), "CI is set but PostgreSQL (psql) is not usable: {e}");
        eprintln!("PostgreSQL not usable through psql: PostgreSQL cases skipped ({e})");
        return None;
    }
    Some(Scratch { dir: scratch_dir(), url: format!("{}/{name}", pg_server().trim_end_matches('/')), pg: Some(name) })
}

fn backends() -> Vec<Scratch> {
    let mut v = vec![sqlite()];
    v.extend(postgres());
    v
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `idtrail` with the scratch configuration (no idtrail.toml: it runs in the scratch folder).
fn idtrail(s: &Scratch, env: &[(&str, String)]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_idtrail"));
    c.current_dir(&s.dir)
        .env("IDTRAIL_DATABASE_URL", &s.url)
        .env("IDTRAIL_AUTH_HS256_SECRET", SECRET)
        .env("IDTRAIL_DATA_DIR", &s.dir)
        .env("IDTRAIL_DEFAULT_LICENSE", "p2")
        .env("IDTRAIL_DEMO_ON_EMPTY", "false")
        .env("IDTRAIL_METRICS_BIND", "")
        .env("IDTRAIL_RATE_LIMIT_ENABLED", "false")
        .env("IDTRAIL_LOG_FORMAT", "json")
        .env_remove("RUST_LOG");
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

fn run(mut c: Command) -> Output {
    c.stdin(Stdio::null()).output().unwrap()
}

/// A running `idtrail serve`.
struct Service {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Service {
    fn start(s: &Scratch, env: &[(&str, String)]) -> Self {
        let port = free_port();
        let log = s.dir.join(format!("serve-{port}.log"));
        let mut env = env.to_vec();
        env.push(("IDTRAIL_BIND", format!("127.0.0.1:{port}")));
        let child = idtrail(s, &env)
            .arg("serve")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let service = Self { child, port, log };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !healthcheck(s, port).status.success() {
            assert!(Instant::now() < deadline, "the service never became ready: {}", service.log());
            std::thread::sleep(Duration::from_millis(100));
        }
        service
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill").arg(format!("-{name}")).arg(self.child.id().to_string()).status().unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit (at most `within`) and returns whether it exited with 0.
    fn wait(mut self, within: Duration) -> (bool, String) {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status.success(), self.log());
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the service did not exit within {within:?}: {}", self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn healthcheck(s: &Scratch, port: u16) -> Output {
    let mut c = idtrail(s, &[("IDTRAIL_BIND", format!("127.0.0.1:{port}"))]);
    c.arg("healthcheck");
    run(c)
}

fn token(s: &Scratch, tenant: &str, args: &[&str]) -> String {
    let mut c = idtrail(s, &[]);
    c.args(["token", "--tenant", tenant]).args(args);
    let out = run(c);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn ingest_token(s: &Scratch, tenant: &str) -> String {
    token(s, tenant, &["--app-permission", "IdTrail.Ingest"])
}

fn admin_token(s: &Scratch, tenant: &str) -> String {
    token(s, tenant, &["--oid", "11111111-1111-4111-8111-111111111111", "--role", "Global Administrator"])
}

/// `n` sign-ins of `tenant`, numbered from `from`, as NDJSON.
fn sign_ins(from: u64, n: u64) -> Vec<u8> {
    let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ");
    let mut body = Vec::new();
    for i in from..from + n {
        writeln!(
            body,
            r#"{{"id":"{:08x}-0000-4000-8000-{:012x}","createdDateTime":"{now}","userId":"26be570a-ae82-4189-b4e2-a37c6808512d","appDisplayName":"App {}"}}"#,
            i >> 16,
            i,
            i % 7
        )
        .unwrap();
    }
    body
}

/// A request over a connection of its own: the head, then the body in two parts with `between`
/// run in the middle. Returns what the server answered (empty when it closed the connection).
fn send_in_two_parts(port: u16, path: &str, token: &str, body: &[u8], between: impl FnOnce()) -> String {
    let mut conn = TcpStream::connect(("127.0.0.1", port)).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/x-ndjson\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes()).unwrap();
    let (first, rest) = body.split_at(body.len() / 2);
    conn.write_all(first).unwrap();
    conn.flush().unwrap();
    between();
    // The server may have closed the connection: writing and reading then fail, which is the answer.
    if conn.write_all(rest).is_err() {
        return String::new();
    }
    let mut answer = Vec::new();
    let _ = conn.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

/// `GET path` with `token`: status and body.
fn get(port: u16, path: &str, token: &str) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).proxy(None).build().into();
    let mut res = agent
        .get(format!("http://127.0.0.1:{port}{path}"))
        .header("Authorization", format!("Bearer {token}"))
        .call()
        .unwrap();
    (res.status().as_u16(), res.body_mut().read_to_string().unwrap())
}

fn count(port: u16, token: &str) -> u64 {
    let (status, body) = get(port, "/v1.0/auditLogs/signIns/$count", token);
    assert_eq!(status, 200, "{body}");
    body.trim().parse().unwrap()
}

fn wal_is_empty(s: &Scratch) -> bool {
    let wal = Path::new(&s.dir).join("idtrail.db-wal");
    std::fs::metadata(wal).map_or(true, |m| m.len() == 0)
}

#[test]
fn sigterm_finishes_the_ingest_in_flight_and_sigint_past_the_timeout_stores_nothing() {
    for s in backends() {
        let on = if s.pg.is_some() { "postgres" } else { "sqlite" };
        const BATCH: u64 = 20_000;

        // SIGTERM in the middle of a large upload: no new connections, the batch is finished,
        // stored whole and acknowledged, and the process exits 0 with the WAL checkpointed.
        let service = Service::start(&s, &[]);
        let port = service.port;
        let hc = healthcheck(&s, port);
        assert!(hc.status.success(), "on {on}: {}", String::from_utf8_lossy(&hc.stderr));
        let token = ingest_token(&s, TENANT_A);
        let answer = send_in_two_parts(port, "/ingest/signIns", &token, &sign_ins(0, BATCH), || {
            std::thread::sleep(Duration::from_millis(300));
            service.signal("TERM");
            std::thread::sleep(Duration::from_millis(500));
            assert!(
                TcpStream::connect(("127.0.0.1", port)).is_err(),
                "on {on}: a stopping service accepts no connection"
            );
        });
        assert!(answer.starts_with("HTTP/1.1 200"), "on {on}: {answer}\n{}", service.log());
        assert!(answer.contains(&format!("\"inserted\":{BATCH}")), "on {on}: {answer}");
        let (ok, log) = service.wait(Duration::from_secs(60));
        assert!(ok, "on {on}: exit status: {log}");
        assert!(log.contains("SIGTERM") && log.contains("\"stopped\""), "on {on}: {log}");
        assert!(s.pg.is_some() || wal_is_empty(&s), "on {on}: the WAL is checkpointed at exit");
        let hc = healthcheck(&s, port);
        assert_eq!(hc.status.code(), Some(1), "on {on}: healthcheck of a stopped service");
        assert!(String::from_utf8_lossy(&hc.stderr).contains(&format!("127.0.0.1:{port}/readyz")), "on {on}");

        // SIGINT with a 1 s timeout while the upload stalls past it: the request is cut, fails,
        // and nothing of the batch is stored.
        let service = Service::start(&s, &[("IDTRAIL_SHUTDOWN_TIMEOUT_S", "1".into())]);
        let port = service.port;
        let token = ingest_token(&s, TENANT_B);
        let answer = send_in_two_parts(port, "/ingest/signIns", &token, &sign_ins(100_000, BATCH), || {
            std::thread::sleep(Duration::from_millis(300));
            service.signal("INT");
            std::thread::sleep(Duration::from_millis(2500));
        });
        assert!(!answer.contains(" 200 "), "on {on}: a cut request is not acknowledged: {answer}");
        let (ok, log) = service.wait(Duration::from_secs(60));
        assert!(ok, "on {on}: exit status: {log}");
        assert!(log.contains("SIGINT"), "on {on}: {log}");

        let service = Service::start(&s, &[]);
        assert_eq!(count(service.port, &admin_token(&s, TENANT_A)), BATCH, "on {on}: the acknowledged batch is whole");
        assert_eq!(count(service.port, &admin_token(&s, TENANT_B)), 0, "on {on}: the cut batch is absent");
    }
}

/// POSTs a whole batch; `Some(inserted)` when acknowledged.
fn post_batch(port: u16, token: &str, body: Vec<u8>) -> Option<u64> {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).proxy(None).build().into();
    let mut res = agent
        .post(format!("http://127.0.0.1:{port}/ingest/signIns"))
        .header("Authorization", format!("Bearer {token}"))
        .header("Content-Type", "application/x-ndjson")
        .send(&body[..])
        .ok()?;
    let text = res.body_mut().read_to_string().ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    (res.status() == 200).then(|| v["inserted"].as_u64()).flatten()
}

fn backup(s: &Scratch, file: &Path) -> Output {
    let mut c = idtrail(s, &[]);
    c.arg("backup").arg(file);
    run(c)
}

#[test]
fn a_backup_taken_during_ingest_restores_whole_batches_and_serves_the_same_counts() {
    const BATCH: u64 = 2_000;
    const BATCHES: u64 = 12;
    let s = sqlite();
    let service = Service::start(&s, &[]);
    let port = service.port;
    let ingest = ingest_token(&s, TENANT_A);
    let acknowledged = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let writer = {
        let acknowledged = acknowledged.clone();
        std::thread::spawn(move || {
            for b in 0..BATCHES {
                let inserted = post_batch(port, &ingest, sign_ins(b * BATCH, BATCH)).expect("acknowledged");
                assert_eq!(inserted, BATCH);
                acknowledged.fetch_add(BATCH, std::sync::atomic::Ordering::SeqCst);
            }
        })
    };
    // Once the first batches are in, back up while the others arrive.
    while acknowledged.load(std::sync::atomic::Ordering::SeqCst) < 2 * BATCH {
        std::thread::sleep(Duration::from_millis(20));
    }
    let during = s.dir.join("during.db");
    let before = acknowledged.load(std::sync::atomic::Ordering::SeqCst);
    let out = backup(&s, &during);
    let after = acknowledged.load(std::sync::atomic::Ordering::SeqCst);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("backed up"));
    writer.join().unwrap();
    let admin = admin_token(&s, TENANT_A);
    assert_eq!(count(port, &admin), BATCH * BATCHES);
    // A backup never overwrites.
    let again = backup(&s, &during);
    assert!(!again.status.success() && String::from_utf8_lossy(&again.stderr).contains("exists"));
    let quiet = s.dir.join("after.db");
    assert!(backup(&s, &quiet).status.success());
    let live_report = get(port, "/idtrail/reports/topApplications?period=P7D", &admin);
    drop(service);

    // Restore each copy into a new file and serve it.
    for (copy, exact) in [(&during, None), (&quiet, Some(BATCH * BATCHES))] {
        let restored = sqlite();
        std::fs::copy(copy, restored.dir.join("idtrail.db")).unwrap();
        let service = Service::start(&restored, &[]);
        let n = count(service.port, &admin_token(&restored, TENANT_A));
        match exact {
            Some(total) => {
                assert_eq!(n, total);
                let report =
                    get(service.port, "/idtrail/reports/topApplications?period=P7D", &admin_token(&restored, TENANT_A));
                assert_eq!(report.0, 200, "{}", report.1);
                let strip = |body: &str| {
                    let mut v: serde_json::Value = serde_json::from_str(body).unwrap();
                    v.as_object_mut().unwrap().retain(|k, _| k == "applications" || k == "totals");
                    for app in v["applications"].as_array_mut().into_iter().flatten() {
                        app.as_object_mut().unwrap().remove("drillDown");
                        app.as_object_mut().unwrap().remove("buckets");
                    }
                    if let Some(t) = v["totals"].as_object_mut() {
                        t.remove("drillDown");
                    }
                    v
                };
                assert_eq!(strip(&report.1), strip(&live_report.1), "the restored copy serves the same report");
            }
            None => {
                eprintln!("backup during ingest: {before} acknowledged before, {n} in the copy, {after} after");
                assert!(n.is_multiple_of(BATCH), "whole batches only: {n}");
                assert!(before <= n && n <= after + BATCH, "{before} <= {n} <= {after} + one batch in flight");
            }
        }
    }

    // PostgreSQL has its own tools.
    let pg = Scratch { dir: scratch_dir(), url: "postgres://nobody@127.0.0.1:1/none".into(), pg: None };
    let out = backup(&pg, &pg.dir.join("x.db"));
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("pg_dump"));
}
