//! A throwaway PostgreSQL cluster: `initdb` into a temporary folder and `pg_ctl` on a free port on
//! 127.0.0.1, so that a fault scenario can stop and start a whole server without touching the one
//! other tests and benchmarks use. Used by `bench/run --faults` and, through `#[path]`, by the
//! integration tests' cluster restart (`tests/tests/api/faults.rs`); std only for that reason.
//!
//! The server binaries come from `PG_BINDIR`, else the folder `pg_config --bindir` names, else the
//! newest Debian-style `/usr/lib/postgresql/<version>/bin`. As root, every command runs as the
//! `postgres` user (`runuser`), since PostgreSQL refuses to run as root.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// A PostgreSQL server of its own, removed when dropped.
#[derive(Debug)]
pub struct Cluster {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    as_postgres: bool,
}

/// Where the server binaries are, if anywhere.
fn server_binaries() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("PG_BINDIR") {
        return Some(PathBuf::from(dir));
    }
    let from_pg_config = Command::new("pg_config")
        .arg("--bindir")
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    if let Some(dir) = from_pg_config.filter(|d| d.join("initdb").is_file()) {
        return Some(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| Some((e.file_name().to_str()?.parse::<u32>().ok()?, e.path().join("bin"))))
        .filter(|(_, bin)| bin.join("initdb").is_file())
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

impl Cluster {
    /// Creates and starts a cluster.
    ///
    /// # Errors
    /// Why not: no server binaries, root without a `postgres` user, `initdb` or the start failed.
    pub fn create() -> Result<Self, String> {
        let bin = server_binaries().ok_or("no PostgreSQL server binaries (set PG_BINDIR)")?;
        let as_postgres = is_root();
        if as_postgres && !Command::new("id").args(["-u", "postgres"]).output().is_ok_and(|o| o.status.success()) {
            return Err("running as root and there is no postgres user to run the server as".into());
        }
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| e.to_string())?.port();
        let n: u64 =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        let dir = std::env::temp_dir().join(format!("idtrail-pg-{}-{n:x}", std::process::id()));
        let cluster = Self { bin, dir, port, as_postgres };
        let dir_text = cluster.dir.display().to_string();
        cluster.run("initdb", &["-D", &dir_text, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"])?;
        cluster.start()?;
        Ok(cluster)
    }

    /// The URL of `database` on this server.
    #[must_use]
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Starts the server and waits until it accepts connections.
    ///
    /// # Errors
    /// `pg_ctl`'s message.
    pub fn start(&self) -> Result<(), String> {
        let dir = self.dir.display().to_string();
        let log = self.dir.join("server.log").display().to_string();
        // Durability is not what these scenarios test: a clean stop writes everything anyway.
        let options = format!("-p {} -k {dir} -c listen_addresses=127.0.0.1 -c fsync=off", self.port);
        self.run("pg_ctl", &["-D", &dir, "-l", &log, "-o", &options, "-w", "-t", "60", "start"])
    }

    /// Stops the server as `pg_ctlcluster restart` does (fast: sessions are ended, work in flight
    /// rolled back) and waits until it is down.
    ///
    /// # Errors
    /// `pg_ctl`'s message.
    pub fn stop(&self) -> Result<(), String> {
        let dir = self.dir.display().to_string();
        self.run("pg_ctl", &["-D", &dir, "-m", "fast", "-w", "-t", "60", "stop"])
    }

    fn run(&self, program: &str, args: &[&str]) -> Result<(), String> {
        let path = self.bin.join(program);
        let mut command = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        };
        // Somewhere the postgres user may stand (it cannot always enter the caller's folder).
        command.args(args).current_dir(std::env::temp_dir()).stdin(Stdio::null());
        let out = command.output().map_err(|e| format!("{}: {e}", path.display()))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{program} failed: {}{}",
                String::from_utf8_lossy(&out.stderr).trim(),
                self.log_tail().map(|t| format!("\nserver log:\n{t}")).unwrap_or_default()
            ))
        }
    }

    fn log_tail(&self) -> Option<String> {
        let text = std::fs::read_to_string(self.dir.join("server.log")).ok()?;
        let lines: Vec<&str> = text.lines().collect();
        Some(lines[lines.len().saturating_sub(10)..].join("\n"))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let dir = self.dir.display().to_string();
        let _ = self.run("pg_ctl", &["-D", &dir, "-m", "immediate", "-w", "stop"]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
