//! Read replicas against a real streaming replica: the test makes a throwaway primary cluster and
//! a replica of it with `pg_basebackup`, each on a port of its own (the shared server on 5432 is
//! left as it is). Skipped with a message where the PostgreSQL server binaries are absent.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use diesel::Connection;
use diesel::connection::SimpleConnection;

use crate::support::*;

/// The folder of `initdb`, `pg_ctl` and `pg_basebackup`: the newest `/usr/lib/postgresql/*/bin`,
/// else the `PATH`'s.
fn server_bin() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|d| d.join("pg_basebackup").is_file() && d.join("initdb").is_file() && d.join("pg_ctl").is_file())
        .collect();
    dirs.sort();
    dirs.pop().or_else(|| {
        let out = Command::new("sh").args(["-c", "command -v pg_ctl"]).output().ok()?;
        let path = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim());
        let dir = path.parent()?.to_path_buf();
        (dir.join("initdb").is_file() && dir.join("pg_basebackup").is_file()).then_some(dir)
    })
}

fn running_as_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Runs a server program, as the `postgres` OS user when we are root (PostgreSQL refuses root).
fn server_command(bin: &Path, program: &str, args: &[&str]) -> Result<(), String> {
    let program = bin.join(program);
    let out = if running_as_root() {
        Command::new("runuser").args(["-u", "postgres", "--"]).arg(&program).args(args).output()
    } else {
        Command::new(&program).args(args).output()
    }
    .map_err(|e| format!("{}: {e}", program.display()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{} {args:?}: {}{}",
            program.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// A PostgreSQL cluster of the test's own, stopped and removed when dropped.
struct Cluster {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
}

impl Cluster {
    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}", self.port)
    }

    fn configure(&self) -> Result<(), String> {
        let conf = format!(
            "\nport = {}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\nwal_level = replica\n\
             max_wal_senders = 5\nhot_standby = on\nfsync = off\nsynchronous_commit = off\nfull_page_writes = off\n",
            self.port,
            self.dir.display()
        );
        let path = self.dir.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
        text.push_str(&conf);
        std::fs::write(&path, text).map_err(|e| e.to_string())
    }

    fn pg_ctl(&self, args: &[&str]) -> Result<(), String> {
        let dir = self.dir.display().to_string();
        let log = self.dir.join("server.log").display().to_string();
        let mut all = vec!["-D", dir.as_str(), "-l", log.as_str(), "-w", "-t", "60"];
        all.extend_from_slice(args);
        server_command(&self.bin, "pg_ctl", &all)
    }

    fn start(&self) -> Result<(), String> {
        self.pg_ctl(&["start"])
    }

    fn stop(&self) -> Result<(), String> {
        self.pg_ctl(&["stop", "-m", "fast"])
    }

    fn sql(&self, db: &str, sql: &str) {
        let mut c = diesel::PgConnection::establish(&format!("{}/{db}", self.url())).unwrap();
        c.batch_execute(sql).unwrap();
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.pg_ctl(&["stop", "-m", "immediate"]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A folder removed when dropped (after the clusters in it, declared later, are stopped).
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A folder the `postgres` user owns (when we are root), for both clusters.
fn scratch() -> Scratch {
    let n: u64 = rand::random();
    let dir = std::env::temp_dir().join(format!("idtrail-replica-{n:016x}"));
    std::fs::create_dir_all(&dir).unwrap();
    if running_as_root() {
        assert!(Command::new("chown").args(["postgres:postgres"]).arg(&dir).status().unwrap().success());
    }
    Scratch(dir)
}

/// A primary and its streaming replica, or why not.
fn primary_and_replica(bin: &Path, base: &Path) -> Result<(Cluster, Cluster), String> {
    let primary = Cluster { bin: bin.to_path_buf(), dir: base.join("primary"), port: free_port() };
    let dir = primary.dir.display().to_string();
    server_command(bin, "initdb", &["-D", &dir, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"])?;
    primary.configure()?;
    primary.start()?;
    let replica = Cluster { bin: bin.to_path_buf(), dir: base.join("replica"), port: free_port() };
    let (rdir, port) = (replica.dir.display().to_string(), primary.port.to_string());
    server_command(
        bin,
        "pg_basebackup",
        &["-h", "127.0.0.1", "-p", &port, "-U", "postgres", "-D", &rdir, "-R", "-X", "stream", "--no-sync"],
    )?;
    replica.configure()?;
    replica.start()?;
    Ok((primary, replica))
}

/// Waits until `f` holds (at most `within`), polling.
async fn until(within: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !f() {
        assert!(Instant::now() < deadline, "waited {within:?} for: {what}");
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
}

fn routing(app: &TestApp) -> storage::replicas::ReadRouting {
    app.store.read_routing().expect("replicas are configured")
}

async fn count(app: &TestApp, token: &str) -> i64 {
    let (s, body) = app.get("/v1.0/auditLogs/signIns/$count", token).await;
    assert_eq!(s, 200, "{body}");
    body.as_str().map_or_else(|| body.as_i64().unwrap(), |t| t.trim().parse().unwrap())
}

/// Waits until a lookup and a count both run on the replica (a check may find it lagging for a
/// moment on a loaded machine) and the count is `expected`.
async fn on_replica(app: &TestApp, admin: &str, expected: i64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let before = routing(app);
        let (s, body) = app.get(&format!("/v1.0/auditLogs/signIns/{}", guid(3)), admin).await;
        assert_eq!(s, 200, "{body}");
        let n = count(app, admin).await;
        let after = routing(app);
        if after.replica_reads - before.replica_reads == 2 && after.primary_reads == before.primary_reads {
            assert_eq!(n, expected, "the replica serves every row");
            return;
        }
        assert!(Instant::now() < deadline, "reads never ran on the replica: {after:?}");
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
}

#[actix_web::test]
async fn reads_go_to_a_replica_that_keeps_up_and_skip_one_that_lags_or_fails() {
    let Some(bin) = server_bin() else {
        eprintln!("PostgreSQL server binaries (initdb, pg_ctl, pg_basebackup) not found: read replica test skipped");
        return;
    };
    let base = scratch();
    let (primary, replica) = primary_and_replica(&bin, &base.0)
        .unwrap_or_else(|e| panic!("could not make a primary and its streaming replica: {e}"));
    let db = postgres_db_on(&primary.url()).expect("a database on the throwaway primary");
    let name = db.url.rsplit('/').next().unwrap().to_owned();
    let replica_url = format!("{}/{name}", replica.url());
    let app = TestApp::with_config(db, |c| {
        c.database_read_urls = vec![replica_url.clone()];
        c.max_replica_lag_ms = 2000;
        c.rate_limit_enabled = false;
    })
    .await;
    let admin = admin_token(TENANT_A);
    let ingest = ingest_token(TENANT_A);
    until(Duration::from_secs(20), "the replica is in use", || routing(&app).replicas[0].healthy).await;

    // Reads go to the replica once it has the rows.
    let docs: Vec<_> = (0..10).map(|n| sign_in_doc(n, app.now(), USER_OID)).collect();
    assert_eq!(app.ingest(&ingest, &docs).await.0, 200);
    let deadline = Instant::now() + Duration::from_secs(20);
    while count(&app, &admin).await != 10 {
        assert!(Instant::now() < deadline, "the replica never caught up");
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    on_replica(&app, &admin, 10).await;

    // Replay paused: the replica falls behind and is skipped; reads see the primary's rows.
    replica.sql(&name, "SELECT pg_wal_replay_pause()");
    let more: Vec<_> = (10..20).map(|n| sign_in_doc(n, app.now(), USER_OID)).collect();
    assert_eq!(app.ingest(&ingest, &more).await.0, 200, "ingest writes to the primary");
    until(Duration::from_secs(20), "the lagging replica is skipped", || !routing(&app).replicas[0].healthy).await;
    let lag = routing(&app).replicas[0].lag_ms.unwrap();
    assert!(lag > 2000.0, "{lag}");
    let before = routing(&app);
    assert_eq!(count(&app, &admin).await, 20, "the primary has both batches");
    let (s, _) = app.get(&format!("/v1.0/auditLogs/signIns/{}", guid(15)), &admin).await;
    assert_eq!(s, 200);
    let after = routing(&app);
    assert_eq!(after.primary_reads - before.primary_reads, 2);
    assert_eq!(after.replica_reads, before.replica_reads);

    // Replay resumed: the replica catches up and is used again.
    replica.sql(&name, "SELECT pg_wal_replay_resume()");
    until(Duration::from_secs(20), "the replica is used again", || routing(&app).replicas[0].healthy).await;
    on_replica(&app, &admin, 20).await;

    // The replica stops: reads go on (on the primary), never a 503; it is used again once back.
    replica.stop().unwrap();
    for _ in 0..3 {
        assert_eq!(count(&app, &admin).await, 20);
    }
    until(Duration::from_secs(20), "a check finds the stopped replica unreachable", || {
        let r = routing(&app);
        !r.replicas[0].healthy && r.replicas[0].lag_ms.is_none()
    })
    .await;
    assert_eq!(count(&app, &admin).await, 20);
    replica.start().unwrap();
    until(Duration::from_secs(30), "the restarted replica is used again", || routing(&app).replicas[0].healthy).await;
    on_replica(&app, &admin, 20).await;

    // /metrics shows it.
    let metrics = app.state.metrics.render(&app.store);
    let samples = crate::ops::parse_openmetrics(&metrics).unwrap();
    assert_eq!(crate::ops::value_of(&samples, "idtrail_db_replica_healthy", &[("replica", "0")]), 1.0);
    assert!(crate::ops::value_of(&samples, "idtrail_db_reads_total", &[("target", "replica")]) >= 4.0);
    assert!(crate::ops::value_of(&samples, "idtrail_db_reads_total", &[("target", "primary")]) >= 2.0);

    drop(app);
}
