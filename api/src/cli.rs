//! The `idtrail` command line: `serve` (the default), `demo`, `ingest`, `token`, `tenant`, `openapi`,
//! `healthcheck`, `backup`.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use domain::ids::{Guid, LicenseTier, TenantId};
use domain::principal::DirectoryRole;
use storage::Store;

use crate::auth::sign_hs256;
use crate::config::{Config, Overrides};
use crate::routes::ingest::{Batch, BodyFormat, ReadError, read_records};

/// The options every command takes (`--config`, `--database-url`) are global; the serving ones
/// belong to `serve` (and to `idtrail` alone, which serves): other commands do not offer them.
#[derive(Debug, Parser)]
#[command(name = "idtrail", version, about = "A self-hosted, Microsoft Graph-compatible identity reporting service")]
pub struct Cli {
    /// Configuration file (default: ./idtrail.toml if it exists).
    #[arg(long, global = true, env = "IDTRAIL_CONFIG")]
    pub config: Option<PathBuf>,
    /// Database URL: sqlite://PATH or postgres://USER@HOST/DB (overrides IDTRAIL_DATABASE_URL).
    #[arg(long, global = true)]
    pub database_url: Option<String>,
    /// `idtrail` without a command serves: these are `serve`'s options.
    #[command(flatten)]
    pub serve: ServeArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The options of `serve`.
#[derive(Debug, Clone, Default, clap::Args)]
#[command(next_help_heading = "Serve options")]
pub struct ServeArgs {
    /// Address to listen on (overrides IDTRAIL_BIND).
    #[arg(long)]
    pub bind: Option<String>,
    /// Public base URL for @odata links (overrides IDTRAIL_PUBLIC_URL).
    #[arg(long)]
    pub public_url: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API (the default). In development mode an empty database gets demo data.
    Serve(ServeArgs),
    /// Load deterministic demo data: three tenants (p2, p1, free) and their sign-ins.
    Demo {
        #[arg(long, default_value_t = 50_000)]
        sign_ins: usize,
        #[arg(long, default_value_t = 30)]
        days: u32,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Ingest a file of Graph-shaped records (NDJSON or a JSON array) into a tenant.
    ///
    /// The file is read as a stream, twice: first every record is validated, and one bad record
    /// refuses the whole file (nothing is stored; the bad records are listed by line or index).
    /// Then it is stored in batches of 5,000 records, each in one transaction and idempotent by
    /// id: an interrupted run can simply be run again. Memory stays bounded whatever the file's
    /// size; standard input (`-`) is first copied to a temporary file.
    Ingest {
        /// Tenant id (GUID).
        #[arg(long)]
        tenant: String,
        /// Data set: signIns, directoryAudits, riskDetections or riskyUsers.
        #[arg(long, default_value = "signIns")]
        kind: String,
        /// The file; `-` reads standard input.
        file: PathBuf,
    },
    /// Print a signed token for trying the API (uses the configured or development secret).
    Token {
        #[arg(long)]
        tenant: String,
        /// The user's object id (a user token); omit with --app-permission for an app-only token.
        #[arg(long)]
        oid: Option<String>,
        #[arg(long)]
        upn: Option<String>,
        /// A directory role by name, e.g. "Security Reader" (repeatable).
        #[arg(long = "role")]
        roles: Vec<String>,
        /// An application permission, e.g. AuditLog.Read.All or IdTrail.Ingest (repeatable).
        #[arg(long = "app-permission")]
        app_permissions: Vec<String>,
        /// Delegated scopes, space-separated.
        #[arg(long)]
        scp: Option<String>,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 3600)]
        expires_in: i64,
    },
    /// Delete what no tier can see any more (past every tenant's retention window).
    Purge {
        /// Only count what would be deleted.
        #[arg(long)]
        dry_run: bool,
    },
    /// Print the OpenAPI document (`idtrail openapi > openapi/openapi.json` updates the committed one).
    Openapi,
    /// Exit 0 when the service's /readyz answers 200 within 2 s, else 1 with the reason (the
    /// container health check).
    Healthcheck {
        /// The /readyz URL (default: from the configured bind address, a wildcard host as loopback).
        #[arg(long)]
        url: Option<String>,
    },
    /// Copy a SQLite database into a new FILE while the service runs (a consistent snapshot, by
    /// VACUUM INTO); for PostgreSQL use pg_dump or continuous archiving.
    Backup {
        /// The new file (it must not exist).
        file: PathBuf,
    },
    /// Manage tenants and their license tiers.
    Tenant {
        #[command(subcommand)]
        command: TenantCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant or change its tier.
    Set {
        id: String,
        #[arg(long)]
        license: String,
        #[arg(long)]
        name: Option<String>,
    },
    /// List tenants.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show one tenant.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
}

/// Where the development secret lives.
fn dev_secret_path(config: &Config) -> PathBuf {
    config.data_dir.join(".idtrail-dev-secret")
}

/// The HS256 secret: configured, or (development mode) a random one kept in the data folder.
/// Returns the secret and whether it is the development one.
///
/// # Errors
/// When serving on a non-loopback address without configured authentication.
pub fn resolve_secret(config: &Config, serving: bool) -> anyhow::Result<(Vec<u8>, bool)> {
    if let Some(s) = &config.auth_hs256_secret {
        if s.len() < 32 {
            bail!("IDTRAIL_AUTH_HS256_SECRET must be at least 32 characters");
        }
        return Ok((s.as_bytes().to_vec(), false));
    }
    if serving {
        let addr = config.bind_addr().map_err(anyhow::Error::msg)?;
        if !addr.ip().is_loopback() {
            bail!(
                "refusing to start: no authentication is configured and {addr} is not a loopback address. \
                 Set IDTRAIL_AUTH_HS256_SECRET, IDTRAIL_AUTH_JWKS_FILE or IDTRAIL_AUTH_JWKS_URL \
                 (or bind to 127.0.0.1 for development)."
            );
        }
    }
    let path = dev_secret_path(config);
    refuse_shared_secret_file(&path)?;
    if let Ok(s) = std::fs::read_to_string(&path) {
        let s = s.trim();
        if s.len() >= 32 {
            return Ok((s.as_bytes().to_vec(), true));
        }
    }
    let bytes: [u8; 32] = rand::random();
    let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    crate::demo::write_private(&path, secret.as_bytes())
        .with_context(|| format!("writing the development secret to {}", path.display()))?;
    Ok((secret.into_bytes(), true))
}

/// Refuses a development secret file that others than its owner may read: anyone who reads it can
/// sign tokens for any tenant and role. (idtrail writes it with mode 0600.)
fn refuse_shared_secret_file(path: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    if let Ok(meta) = std::fs::metadata(path) {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            bail!(
                "refusing to use the development secret {}: its mode is {mode:o}, so other users can read it and sign \
                 tokens. Run `chmod 600 {}` (or delete it to get a new one).",
                path.display(),
                path.display()
            );
        }
    }
    Ok(())
}

/// Runs the command line.
///
/// # Errors
/// Whatever the command reports; `main` prints it and exits non-zero.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    if matches!(cli.command, Some(Command::Openapi)) {
        // Needs no configuration, database or logging: the document is built from the code alone.
        print!("{}", openapi::document_json().map_err(anyhow::Error::msg)?);
        return Ok(());
    }
    let (command, ServeArgs { bind, public_url }) = command_of(cli.command, cli.serve)?;
    let overrides = Overrides { database_url: cli.database_url, bind, public_url };
    let config = Config::load(cli.config.as_deref(), &overrides).map_err(anyhow::Error::msg)?;
    init_logging(&config);
    match command {
        Command::Serve(_) => actix_web::rt::System::new().block_on(serve(config)),
        Command::Demo { sign_ins, days, seed } => {
            let store = open_store(&config)?;
            let cfg = ::demo::DemoConfig { sign_ins, days, seed, end: chrono::Utc::now() };
            let started = std::time::Instant::now();
            let s = crate::demo::load(&store, &cfg)?;
            println!(
                "demo: {} sign-ins stored, {} already present, {} past their tenant's retention, in {:.1} s",
                s.inserted,
                s.duplicates,
                s.expired,
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Command::Ingest { tenant, kind, file } => {
            let o = ingest_file(&config, &tenant, &kind, &file, FILE_BATCH_RECORDS)?;
            println!(
                "{}",
                serde_json::json!({"inserted": o.inserted, "duplicates": o.duplicates, "expired": o.expired})
            );
            Ok(())
        }
        Command::Token { tenant, oid, upn, roles, app_permissions, scp, expires_in } => {
            let tenant = TenantId::parse(&tenant)?;
            let (secret, _) = resolve_secret(&config, false)?;
            let claims = if oid.is_none() && upn.is_none() && !app_permissions.is_empty() {
                crate::demo::app_claims(
                    &config,
                    tenant.as_str(),
                    "00000000-0000-0000-0000-00000000c11e",
                    &app_permissions,
                    expires_in,
                )
            } else {
                let oid = match oid {
                    Some(o) => Guid::parse(&o)?.to_string(),
                    None => {
                        bail!("a user token needs --oid GUID (or give only --app-permission for an app-only token)")
                    }
                };
                let parsed: Vec<DirectoryRole> = roles
                    .iter()
                    .map(|r| {
                        DirectoryRole::from_display_name(r).ok_or_else(|| {
                            anyhow::anyhow!(
                                "unknown role '{r}'; known: {}",
                                DirectoryRole::ALL.iter().map(|x| x.display_name()).collect::<Vec<_>>().join(", ")
                            )
                        })
                    })
                    .collect::<anyhow::Result<_>>()?;
                let mut c = crate::demo::user_claims(
                    &config,
                    tenant.as_str(),
                    &oid,
                    upn.as_deref().unwrap_or(""),
                    &parsed,
                    expires_in,
                );
                if upn.is_none() {
                    c.upn = None;
                }
                c.scp = scp.or(c.scp);
                c
            };
            println!("{}", sign_hs256(&secret, &claims)?);
            Ok(())
        }
        Command::Tenant { command } => tenant_command(&config, command),
        Command::Backup { file } => {
            let started = std::time::Instant::now();
            let bytes = crate::ops::backup(&config, &file)?;
            println!(
                "backed up {} into {} ({bytes} bytes) in {:.1} s",
                config.database_url,
                file.display(),
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Command::Healthcheck { url } => {
            let url = match url {
                Some(u) => u,
                None => crate::ops::readyz_url(&config).map_err(anyhow::Error::msg)?,
            };
            crate::ops::healthcheck(&url)
        }
        Command::Openapi => Ok(()),
        Command::Purge { dry_run } => {
            let store = open_store(&config)?;
            let report = store.purge(dry_run)?;
            let verb = if dry_run { "would delete" } else { "deleted" };
            for (tenant, n) in &report.sign_ins_by_tenant {
                println!("{verb} {n} sign-ins of tenant {tenant}");
            }
            for (partition, n) in &report.dropped_partitions {
                println!("{} partition {partition} ({n} rows)", if dry_run { "would drop" } else { "dropped" });
            }
            println!("{verb} {} sign-ins in all", report.total_sign_ins());
            Ok(())
        }
    }
}

/// The command to run and its serving options. Serving options before another command
/// (`idtrail --bind ADDR purge`) are refused: they would mean nothing to it.
fn command_of(command: Option<Command>, before: ServeArgs) -> anyhow::Result<(Command, ServeArgs)> {
    match command {
        None => Ok((Command::Serve(before.clone()), before)),
        Some(Command::Serve(args)) => Ok((Command::Serve(args.clone()), merge(args, before))),
        Some(_) if before.bind.is_some() || before.public_url.is_some() => {
            bail!("--bind and --public-url are options of `idtrail serve`; other commands do not take them")
        }
        Some(other) => Ok((other, ServeArgs::default())),
    }
}

/// `serve`'s own options, else those given before it (`idtrail --bind ADDR serve`).
fn merge(args: ServeArgs, before: ServeArgs) -> ServeArgs {
    ServeArgs { bind: args.bind.or(before.bind), public_url: args.public_url.or(before.public_url) }
}

fn init_logging(config: &Config) {
    let format = crate::observe::LogFormat::parse(&config.log_format).unwrap_or(crate::observe::LogFormat::Text);
    let _ =
        tracing::subscriber::set_global_default(crate::observe::subscriber(format, &config.log, true, std::io::stderr));
}

fn open_store(config: &Config) -> anyhow::Result<Store> {
    crate::startup::open_store(config, Arc::new(domain::time::SystemClock))
}

async fn serve(config: Config) -> anyhow::Result<()> {
    // Development mode (a generated HS256 secret) only when no secret and no JWKS is configured.
    let (secret, dev_mode) = if crate::auth::jwks_configured(&config) && config.auth_hs256_secret.is_none() {
        (None, false)
    } else {
        let (s, d) = resolve_secret(&config, true)?;
        (Some(s), d)
    };
    if dev_mode {
        tracing::warn!(
            "no authentication configured: development mode, tokens signed with the secret in {}",
            dev_secret_path(&config).display()
        );
    }
    let addr = config.bind_addr().map_err(anyhow::Error::msg)?;
    let options = crate::startup::Options { hs256_secret: secret.clone(), ..crate::startup::Options::default() };
    let started = crate::startup::start(config.clone(), options).await?;
    let mut state = started.state.clone();
    if dev_mode {
        let store = started.state.store.clone();
        let load_demo = config.demo_on_empty;
        let present = actix_web::rt::task::spawn_blocking(move || -> anyhow::Result<Vec<TenantId>> {
            if load_demo && store.tenants()?.is_empty() {
                let started = std::time::Instant::now();
                tracing::info!("empty database: loading 30 days of demo data");
                let cfg = ::demo::DemoConfig { sign_ins: 50_000, days: 30, seed: 1, end: chrono::Utc::now() };
                let s = crate::demo::load(&store, &cfg)?;
                tracing::info!(inserted = s.inserted, seconds = started.elapsed().as_secs_f64(), "demo data loaded");
            }
            Ok(store.tenants()?.into_iter().map(|t| t.id).collect())
        })
        .await??;
        let base = config.public_url.clone().unwrap_or_else(|| format!("http://{addr}"));
        println!("{}", crate::demo::banner(&config, secret.as_deref().unwrap_or_default(), &base, &present)?);
        // The console's sign-in picker lists the same tokens (`GET /idtrail/dev/tokens`).
        state.dev_tokens = Some(Arc::new(crate::demo::DevTokens::new(secret.as_deref().unwrap_or_default(), &present)));
    }
    tracing::info!(%addr, "listening");
    let metrics = match config.metrics_addr().map_err(anyhow::Error::msg)? {
        Some(metrics_addr) => {
            let state = started.state.clone();
            let server = actix_web::HttpServer::new(move || crate::metrics::app(state.clone()))
                .workers(1)
                .disable_signals()
                .bind(metrics_addr)
                .with_context(|| format!("binding the metrics listener {metrics_addr}"))?
                .run();
            tracing::info!(%metrics_addr, "metrics at /metrics");
            let handle = server.handle();
            actix_web::rt::spawn(server);
            Some(handle)
        }
        None => None,
    };
    // Our own signal handling: actix's treats SIGINT as a forced stop, and both must be graceful.
    let server = actix_web::HttpServer::new(move || crate::app(state.clone()))
        .shutdown_timeout(config.shutdown_timeout_s)
        .disable_signals()
        .bind(addr)
        .with_context(|| format!("binding {addr}"))?
        .run();
    let handle = server.handle();
    let timeout = config.shutdown_timeout_s;
    actix_web::rt::spawn(async move {
        let signal = stop_signal().await;
        tracing::info!(signal, timeout_s = timeout, "stopping: no new connections, finishing the requests in flight");
        handle.stop(true).await;
    });
    server.await?;
    if let Some(metrics) = metrics {
        metrics.stop(true).await;
    }
    // A purge or partition run in progress finishes; then the last write (an ingest cut by the
    // timeout keeps running on its blocking thread until it commits or rolls back) and the WAL.
    let store = started.state.store.clone();
    started.stop().await;
    actix_web::rt::task::spawn_blocking(move || store.checkpoint_wal()).await??;
    tracing::info!("stopped");
    Ok(())
}

/// Waits for SIGTERM or SIGINT (Ctrl-C) and names it.
async fn stop_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
            (Ok(mut term), Ok(mut int)) => tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            },
            _ => {
                tracing::warn!("cannot listen for signals: stopping only when killed");
                std::future::pending().await
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}

/// Records `idtrail ingest` stores per transaction.
pub const FILE_BATCH_RECORDS: usize = 5_000;

/// Bad records of a refused file printed (all are counted).
const LISTED_FILE_ERRORS: usize = 20;

/// `idtrail ingest`: streams `file` (NDJSON, or a JSON array when its first character is `[`;
/// `-` is standard input, copied to a temporary file first because it is read twice). First every
/// record is validated, keeping only the errors: one bad record refuses the file and nothing is
/// stored. Then the file is read again and stored in batches of `batch_records`, each in one
/// transaction and idempotent by id, so a run that is interrupted can be run again: what was
/// stored is counted as duplicates. Memory holds one batch, whatever the file's size.
///
/// # Errors
/// A bad tenant or kind, an unreadable file, invalid records (nothing stored), or a database
/// error (the batches stored before it stay stored).
pub fn ingest_file(
    config: &Config,
    tenant: &str,
    kind: &str,
    file: &Path,
    batch_records: usize,
) -> anyhow::Result<storage::IngestOutcome> {
    let kind = crate::routes::ingest::ingest_set(kind).map_err(|e| anyhow::anyhow!("--kind: {e}"))?;
    let latest = crate::routes::ingest::latest_event_ticks(domain::time::to_ticks(chrono::Utc::now()), config);
    let new_batch = || Batch::new(kind, latest).map_err(|e| anyhow::anyhow!("--kind: {e}"));
    let tenant = TenantId::parse(tenant)?;
    let batch_records = batch_records.max(1);
    let spooled;
    let path = if file.as_os_str() == "-" {
        spooled = Spool::stdin()?;
        spooled.path.as_path()
    } else {
        file
    };
    let open = || -> anyhow::Result<BufReader<File>> {
        let f = File::open(path).with_context(|| format!("reading {}", path.display()))?;
        Ok(BufReader::with_capacity(1 << 20, f))
    };
    let format = sniff_format(open()?).with_context(|| format!("reading {}", path.display()))?;

    // First pass: validate everything, keeping only the errors.
    let (mut total, mut bad, mut listed) = (0usize, 0usize, Vec::new());
    let mut scratch = new_batch()?;
    let read = read_records(open()?, format, |at, record| -> Result<(), std::convert::Infallible> {
        total += 1;
        if let Err(reason) = record.and_then(|d| scratch.push(&tenant, d)) {
            bad += 1;
            if listed.len() < LISTED_FILE_ERRORS {
                listed.push(format!("{at}: {reason}"));
            }
        }
        if scratch.len() >= batch_records {
            scratch.clear();
        }
        Ok(())
    });
    drop(scratch);
    match read {
        Ok(()) => {}
        Err(ReadError::Unreadable(why)) => bail!("{}: {why}; nothing was stored", path.display()),
        Err(ReadError::Stopped(never)) => match never {},
    }
    if total == 0 {
        bail!("{} holds no records; nothing was stored", path.display());
    }
    if bad > 0 {
        for line in &listed {
            eprintln!("{line}");
        }
        let shown =
            if bad > listed.len() { format!(" (the first {} are listed)", listed.len()) } else { String::new() };
        bail!(
            "{bad} of {total} records are invalid{shown}; nothing was stored. First: {}",
            listed.first().map_or("", String::as_str)
        );
    }

    // Second pass: store, batch by batch.
    let store = open_store(config)?;
    store.ensure_tenant(&tenant, LicenseTier::parse(&config.default_license)?)?;
    let mut outcome = storage::IngestOutcome::default();
    let mut batch = new_batch()?;
    let mut stored = 0usize;
    let mut flush = |batch: Batch| -> anyhow::Result<()> {
        let n = batch.len();
        let o = batch.store(&store, &tenant)?;
        outcome.inserted += o.inserted;
        outcome.duplicates += o.duplicates;
        outcome.expired += o.expired;
        stored += n;
        tracing::info!(stored, total, "batch stored");
        Ok(())
    };
    let read = read_records(open()?, format, |at, record| -> anyhow::Result<()> {
        let added = record.and_then(|d| batch.push(&tenant, d));
        added.map_err(|reason| anyhow::anyhow!("{at}: {reason}: the file changed after it was validated"))?;
        if batch.len() >= batch_records {
            flush(std::mem::replace(&mut batch, new_batch()?))?;
        }
        Ok(())
    });
    let finished = match read {
        Ok(()) if batch.is_empty() => Ok(()),
        Ok(()) => flush(batch),
        Err(ReadError::Unreadable(why)) => Err(anyhow::anyhow!("{}: {why}", path.display())),
        Err(ReadError::Stopped(e)) => Err(e),
    };
    if let Err(e) = finished {
        bail!(
            "{e:#}. {stored} of {total} records were stored (in whole batches of {batch_records}); \
             running the same command again stores the rest and skips what is stored"
        );
    }
    Ok(outcome)
}

/// The framing of a file: a JSON array when its first character that is not white space is `[`.
fn sniff_format(mut reader: impl BufRead) -> std::io::Result<BodyFormat> {
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok(BodyFormat::Ndjson);
        }
        if let Some(b) = buf.iter().find(|b| !b.is_ascii_whitespace()) {
            return Ok(if *b == b'[' { BodyFormat::JsonArray } else { BodyFormat::Ndjson });
        }
        let n = buf.len();
        reader.consume(n);
    }
}

/// Standard input copied to a temporary file (removed when dropped), so it can be read twice.
struct Spool {
    path: PathBuf,
}

impl Spool {
    fn stdin() -> anyhow::Result<Self> {
        let n: u64 = rand::random();
        let spool = Self { path: std::env::temp_dir().join(format!("idtrail-ingest-{n:016x}.tmp")) };
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&spool.path)
            .with_context(|| format!("creating {}", spool.path.display()))?;
        std::io::copy(&mut std::io::stdin().lock(), &mut f)
            .with_context(|| format!("copying standard input to {}", spool.path.display()))?;
        Ok(spool)
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn tenant_json(t: &storage::Tenant) -> serde_json::Value {
    serde_json::json!({"id": t.id.as_str(), "displayName": t.display_name, "license": t.tier.as_str()})
}

fn tenant_command(config: &Config, command: TenantCommand) -> anyhow::Result<()> {
    let store = open_store(config)?;
    match command {
        TenantCommand::Set { id, license, name } => {
            let t = store.set_tenant(&TenantId::parse(&id)?, name.as_deref(), LicenseTier::parse(&license)?)?;
            println!("{}", tenant_json(&t));
        }
        TenantCommand::List { json } => {
            let tenants = store.tenants()?;
            if json {
                println!("{}", serde_json::Value::Array(tenants.iter().map(tenant_json).collect()));
            } else {
                for t in tenants {
                    println!("{}  {:<5} {}", t.id, t.tier.as_str(), t.display_name.as_deref().unwrap_or(""));
                }
            }
        }
        TenantCommand::Show { id, json } => {
            let Some(t) = store.tenant(&TenantId::parse(&id)?)? else { bail!("no tenant {id}") };
            if json {
                println!("{}", tenant_json(&t));
            } else {
                println!(
                    "id:      {}\nname:    {}\nlicense: {}",
                    t.id,
                    t.display_name.as_deref().unwrap_or(""),
                    t.tier
                );
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_in(dir: &std::path::Path, bind: &str, secret: Option<&str>) -> Config {
        Config {
            bind: bind.into(),
            data_dir: dir.to_path_buf(),
            auth_hs256_secret: secret.map(str::to_owned),
            ..Config::default()
        }
    }

    #[test]
    fn ingest_files_are_validated_whole_then_stored() {
        let dir = std::env::temp_dir().join(format!("idtrail-ingest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let config = Config { database_url: format!("sqlite://{}", dir.join("t.db").display()), ..Config::default() };
        let tenant = "aaaaaaaa-0000-4000-8000-000000000009";
        let now = domain::time::format_ticks(domain::time::to_ticks(chrono::Utc::now()));
        let doc = |id: &str| {
            format!(r#"{{"id":"{id}","createdDateTime":"{now}","userId":"26be570a-ae82-4189-b4e2-a37c6808512d"}}"#)
        };
        let good = dir.join("good.ndjson");
        std::fs::write(
            &good,
            format!(
                "{}\n{}\n",
                doc("66ea54eb-6301-4ee5-be62-ff5a759b0100"),
                doc("66ea54eb-6301-4ee5-be62-ff5a759b0101")
            ),
        )
        .unwrap();
        let bad = dir.join("bad.json");
        std::fs::write(&bad, format!("[{}, {{\"id\": 1}}]", doc("66ea54eb-6301-4ee5-be62-ff5a759b0102"))).unwrap();
        assert!(
            ingest_file(&config, tenant, "signIns", &bad, 1)
                .unwrap_err()
                .to_string()
                .contains("1 of 2 records are invalid")
        );
        ingest_file(&config, tenant, "signIns", &good, 1).unwrap();
        let store = open_store(&config).unwrap();
        let t = TenantId::parse(tenant).unwrap();
        let q = storage::Query {
            set: &domain::query::registry::SIGN_INS,
            tenant: &t,
            user: None,
            filter: None,
            order: &[],
            after: None,
            limit: 10,
        };
        let view = store.tenant_view(&t).unwrap();
        assert_eq!(store.count_in(&q, &view).unwrap(), 2, "the bad file stored nothing");
        assert!(ingest_file(&config, tenant, "audits", &good, 1).is_err());
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn serving_options_are_offered_only_where_they_mean_something() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
        let parse = |args: &[&str]| Cli::try_parse_from(std::iter::once("idtrail").chain(args.iter().copied()));
        for args in [
            &["ingest", "--tenant", "t", "--bind", "127.0.0.1:1", "f"][..],
            &["ingest", "--public-url", "https://x", "--tenant", "t", "f"],
            &["token", "--tenant", "t", "--bind", "127.0.0.1:1"],
            &["tenant", "list", "--public-url", "https://x"],
            &["purge", "--bind", "127.0.0.1:1"],
            &["demo", "--bind", "127.0.0.1:1"],
        ] {
            let err = parse(args).unwrap_err();
            assert_eq!(err.kind(), clap::error::ErrorKind::UnknownArgument, "{args:?}: {err}");
        }
        // Before the command, too: they would mean nothing to it.
        let cli = parse(&["--public-url", "https://x", "purge"]).unwrap();
        let err = command_of(cli.command, cli.serve).unwrap_err().to_string();
        assert!(err.contains("options of `idtrail serve`"), "{err}");
        let mut cli = Cli::command();
        cli.build();
        let help = cli.find_subcommand_mut("ingest").unwrap().render_long_help().to_string();
        assert!(!help.contains("--bind") && !help.contains("--public-url"), "{help}");
        assert!(help.contains("--database-url") && help.contains("validated"), "{help}");

        let serving = |args: &[&str]| {
            let cli = parse(args).unwrap();
            let (command, args) = command_of(cli.command, cli.serve).unwrap();
            assert!(matches!(command, Command::Serve(_)));
            (args.bind.unwrap_or_default(), args.public_url.unwrap_or_default())
        };
        let both = ("127.0.0.1:1".to_owned(), "https://x".to_owned());
        assert_eq!(serving(&["serve", "--bind", "127.0.0.1:1", "--public-url", "https://x"]), both);
        assert_eq!(serving(&["--bind", "127.0.0.1:1", "--public-url", "https://x"]), both, "idtrail alone serves");
        assert_eq!(serving(&["--bind", "127.0.0.1:1", "serve", "--public-url", "https://x"]), both);
        let cli = parse(&["--database-url", "sqlite://x.db", "purge", "--config", "c.toml"]).unwrap();
        assert!(cli.database_url.is_some() && cli.config.is_some(), "shared options stay global");
        assert!(parse(&["ingest", "--database-url", "sqlite://x.db", "--tenant", "t", "f"]).is_ok());
    }

    #[cfg(unix)]
    #[test]
    fn a_development_secret_others_can_read_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("idtrail-dev-mode-{}", std::process::id()));
        let config = config_in(&dir, "127.0.0.1:8080", None);
        let (secret, _) = resolve_secret(&config, true).unwrap();
        let path = dev_secret_path(&config);
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = resolve_secret(&config, true).unwrap_err().to_string();
        assert!(e.contains("chmod 600") && e.contains("644"), "{e}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(resolve_secret(&config, true).unwrap().0, secret, "the same secret once it is private again");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn development_mode_keeps_one_secret_and_only_on_loopback() {
        let dir = std::env::temp_dir().join(format!("idtrail-dev-{}", std::process::id()));
        let (first, dev) = resolve_secret(&config_in(&dir, "127.0.0.1:8080", None), true).unwrap();
        assert!(dev && first.len() >= 32);
        let (again, _) = resolve_secret(&config_in(&dir, "127.0.0.1:8080", None), true).unwrap();
        assert_eq!(first, again, "restarts and `idtrail token` reuse the secret");
        let refused = resolve_secret(&config_in(&dir, "0.0.0.0:8080", None), true).unwrap_err().to_string();
        assert!(refused.contains("refusing to start"), "{refused}");
        let (configured, dev) =
            resolve_secret(&config_in(&dir, "0.0.0.0:8080", Some("a-configured-secret-of-32-characters!")), true)
                .unwrap();
        assert!(!dev && configured.starts_with(b"a-configured"));
        assert!(resolve_secret(&config_in(&dir, "0.0.0.0:8080", Some("short")), true).is_err());
        std::fs::remove_dir_all(&dir).ok();
    }
}
