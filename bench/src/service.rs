//! The service under test: the release `idtrail` binary, started on a free loopback port with a
//! fresh secret, its tokens made by its own `idtrail token`, its memory read from `/proc`.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::http::Conn;

/// A running `idtrail serve`, stopped on drop.
#[derive(Debug)]
pub struct Service {
    child: Child,
    pub addr: SocketAddr,
    pub log: PathBuf,
}

/// The environment every `idtrail` command of a run gets.
#[derive(Debug, Clone)]
pub struct Env {
    pub binary: PathBuf,
    pub database_url: String,
    pub secret: String,
    pub work_dir: PathBuf,
    pub pool_size: Option<u32>,
    /// More `IDTRAIL_*` settings (kept only if this idtrail knows them: see [`Env::probe`]).
    pub extra: Vec<(String, String)>,
}

/// Sign-in retention per tier (free, p1, p2). P2 keeps 31 days instead of 30, so the 30 days of
/// generated data stay visible for the whole run instead of their oldest rows expiring as it goes.
pub const RETENTION_DAYS: &str = "7,30,31";

/// The same, for the bench's own `Store` (which builds the baseline SQL with the same window).
pub fn retention() -> domain::policy::RetentionPolicy {
    domain::policy::RetentionPolicy { sign_ins: [7, 30, 31], ..Default::default() }
}

/// Rate limits high enough never to refuse a benchmark request, while the limiter still runs
/// on every request as it does in production. Likewise the per-tenant query slots: the bench
/// measures one tenant's throughput with the whole pool (the slots still run on every request).
pub const UNLIMITED: &[(&str, &str)] = &[
    ("IDTRAIL_RATE_LIMIT_REPORTS_PER_MINUTE", "1000000000"),
    ("IDTRAIL_RATE_LIMIT_REPORTS_BURST", "1000000"),
    ("IDTRAIL_RATE_LIMIT_INGEST_PER_MINUTE", "1000000000"),
    ("IDTRAIL_RATE_LIMIT_INGEST_BURST", "1000000"),
    ("IDTRAIL_TENANT_MAX_CONCURRENT_QUERIES", "1000"),
];

/// No `/metrics` listener: the bench reads none, and its fixed address is taken by the second
/// service of P1-P5, or by another run on the same machine.
pub const NO_METRICS_LISTENER: &[(&str, &str)] = &[("IDTRAIL_METRICS_BIND", "")];

/// The setting that turns idtrail's prepared statements off (P1-P5 compare it with the default).
pub const PREPARED_STATEMENTS_OFF: (&str, &str) = ("IDTRAIL_DATABASE_PREPARED_STATEMENTS", "false");

impl Env {
    /// This environment with one more setting (kept only if this idtrail knows it).
    pub fn with_setting(&self, key: &str, value: &str) -> Self {
        let mut probe = Self { extra: vec![(key.to_owned(), value.to_owned())], ..self.clone() };
        probe.probe();
        let mut env = self.clone();
        env.extra.retain(|(k, _)| k != key);
        env.extra.extend(probe.extra);
        env
    }

    /// Whether this environment passes `key` to idtrail (after [`Env::probe`]).
    pub fn has_setting(&self, key: &str) -> bool {
        self.extra.iter().any(|(k, _)| k == key)
    }

    fn command(&self) -> Command {
        let mut c = Command::new(&self.binary);
        c.current_dir(&self.work_dir)
            .env_remove("RUST_LOG")
            .env_remove("IDTRAIL_CONFIG")
            .env("IDTRAIL_DATABASE_URL", &self.database_url)
            .env("IDTRAIL_AUTH_HS256_SECRET", &self.secret)
            .env("IDTRAIL_DEMO_ON_EMPTY", "false")
            .env("IDTRAIL_DEFAULT_LICENSE", "p2")
            .env("IDTRAIL_PURGE_INTERVAL_SECONDS", "0")
            .env("IDTRAIL_RETENTION_SIGN_INS_DAYS", RETENTION_DAYS)
            .env("IDTRAIL_DATA_DIR", &self.work_dir)
            .env("IDTRAIL_LOG", std::env::var("BENCH_IDTRAIL_LOG").unwrap_or_else(|_| "warn".into()));
        if let Some(n) = self.pool_size {
            c.env("IDTRAIL_POOL_SIZE", n.to_string());
        }
        for (k, v) in &self.extra {
            c.env(k, v);
        }
        c
    }

    /// Keeps only the extra settings this idtrail accepts (its configuration refuses unknown
    /// keys, and older builds have no rate limits).
    pub fn probe(&mut self) {
        let extra = std::mem::take(&mut self.extra);
        for (k, v) in extra {
            // Refused settings exit with status 1; a crash at exit (see `run`) still means accepted.
            let ok = self
                .command()
                .env(&k, &v)
                .args(["tenant", "list"])
                .output()
                .is_ok_and(|o| o.status.success() || o.status.code().is_none_or(|c| c > 128));
            if ok {
                self.extra.push((k, v));
            }
        }
    }

    /// Runs `idtrail ARGS` and returns its standard output. A command that dies of a signal is
    /// run again (the commands used here are idempotent): one-shot PostgreSQL commands sometimes
    /// crash at exit, when r2d2's background thread is still opening a connection while
    /// `exit` runs OpenSSL's cleanup (reported; see RESULTS.md).
    pub fn run(&self, args: &[&str]) -> anyhow::Result<String> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let out =
                self.command().args(args).output().with_context(|| format!("running {}", self.binary.display()))?;
            if out.status.success() {
                return Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned());
            }
            let signalled = out.status.code().is_none_or(|c| c > 128);
            if !signalled || attempt >= 5 {
                bail!("idtrail {} ({}): {}", args.join(" "), out.status, String::from_utf8_lossy(&out.stderr));
            }
            eprintln!("[bench] idtrail {} died ({}); running it again", args.join(" "), out.status);
        }
    }

    /// A Global Administrator's token for `tenant`.
    pub fn admin_token(&self, tenant: &str, oid: &str) -> anyhow::Result<String> {
        self.run(&[
            "token",
            "--tenant",
            tenant,
            "--oid",
            oid,
            "--role",
            "Global Administrator",
            "--expires-in",
            "86400",
        ])
    }

    /// An app-only ingest token for `tenant`.
    pub fn ingest_token(&self, tenant: &str) -> anyhow::Result<String> {
        self.run(&["token", "--tenant", tenant, "--app-permission", "IdTrail.Ingest", "--expires-in", "86400"])
    }

    /// Starts `idtrail serve` and waits until `/readyz` answers 200.
    pub fn start(&self) -> anyhow::Result<Service> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        // Beside the backend's folder, not in it: the log must outlive a failed run's cleanup.
        let log = self.work_dir.with_file_name(format!(
            "idtrail-{}-{port}.log",
            self.work_dir.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned())
        ));
        let file = std::fs::File::create(&log)?;
        let child = self
            .command()
            .arg("serve")
            .env("IDTRAIL_BIND", addr.to_string())
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .spawn()
            .with_context(|| format!("starting {}", self.binary.display()))?;
        let mut service = Service { child, addr, log };
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut conn = Conn::new(addr);
        loop {
            if let Some(status) = service.child.try_wait()? {
                bail!("idtrail exited with {status} at start; see {}", service.log.display());
            }
            if conn.request("GET", "/readyz", &[], &[]).is_ok_and(|r| r.status == 200) {
                return Ok(service);
            }
            if Instant::now() > deadline {
                bail!("idtrail did not become ready in 120 s; see {}", service.log.display());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Service {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the service (SIGTERM through `kill`, then SIGKILL after 10 s).
    pub fn stop(mut self) -> anyhow::Result<()> {
        self.terminate();
        Ok(())
    }

    fn terminate(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// Resident and peak resident memory of a process, in bytes (`VmRSS`, `VmHWM`).
/// Whether process `pid` is alive (not gone, not a zombie waiting to be reaped).
pub fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().next().map(|st| st != "Z")))
        .unwrap_or(false)
}

pub fn memory(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb * 1024)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// Samples a process's resident memory every 100 ms and keeps the highest value seen since the
/// last [`Sampler::take_peak`], so each phase gets its own peak.
#[derive(Debug)]
pub struct Sampler {
    peak: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Sampler {
    pub fn start(pid: u32) -> Self {
        let peak = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let handle = {
            let (peak, stop) = (peak.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if let Some((rss, _)) = memory(pid) {
                        peak.fetch_max(rss, Ordering::Relaxed);
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            })
        };
        Self { peak, stop, handle: Some(handle) }
    }

    /// The highest resident size since the last call, and resets it.
    pub fn take_peak(&self) -> u64 {
        self.peak.swap(0, Ordering::Relaxed)
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// The `idtrail` binary: given, or next to this one (both are built into the same target folder).
pub fn find_binary(given: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(p) = given {
        return Ok(p.to_path_buf());
    }
    let me = std::env::current_exe()?;
    let dir = me.parent().ok_or_else(|| anyhow::anyhow!("no folder for {}", me.display()))?;
    let candidate = dir.join("idtrail");
    if candidate.exists() {
        return Ok(candidate);
    }
    bail!("no idtrail binary next to {}; build it (cargo build --release -p api) or pass --idtrail PATH", me.display())
}

/// A random secret of 48 hex characters.
pub fn random_secret() -> String {
    // No rand dependency: the clock and the process id are random enough for a throwaway key.
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let mut x = (t as u64) ^ (u64::from(std::process::id()) << 32) ^ 0x9E37_79B9_7F4A_7C15;
    (0..48)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from_digit((x % 16) as u32, 16).unwrap_or('0')
        })
        .collect()
}
