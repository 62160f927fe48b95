//! Commands for the people who run idtrail: `idtrail healthcheck` (the container's health check,
//! which needs no shell and no `curl` in the image) and `idtrail backup` (a consistent copy of a
//! SQLite database while the service runs). Neither ever changes the database.

use std::time::Duration;

use anyhow::{Context, bail};

use crate::config::Config;

/// How long `idtrail healthcheck` waits for `/readyz`.
pub const HEALTHCHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// The `/readyz` URL of the service `config` describes: its bind address, with a wildcard host
/// (`0.0.0.0`, `[::]`) replaced by the loopback address of the same family, since a health check
/// runs beside the service.
///
/// # Errors
/// A bad `bind`.
pub fn readyz_url(config: &Config) -> Result<String, String> {
    let mut addr = config.bind_addr()?;
    if addr.ip().is_unspecified() {
        addr.set_ip(if addr.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    Ok(format!("http://{addr}/readyz"))
}

/// `idtrail healthcheck`: succeeds when `url` (a `/readyz` URL) answers 200 within
/// [`HEALTHCHECK_TIMEOUT`]; the error says why not (refused, timed out, the status and the body's
/// error message).
///
/// # Errors
/// The service is not ready, or cannot be reached.
pub fn healthcheck(url: &str) -> anyhow::Result<()> {
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        bail!("--url must be an http:// or https:// URL; got '{url}'");
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(HEALTHCHECK_TIMEOUT))
        .http_status_as_error(false)
        .max_redirects(0)
        .proxy(None)
        .user_agent(concat!("idtrail-healthcheck/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let mut response = agent.get(url).call().map_err(|e| anyhow::anyhow!("{url}: {e}"))?;
    let status = response.status();
    if status == 200 {
        return Ok(());
    }
    let body = response.body_mut().with_config().limit(64 * 1024).read_to_string().unwrap_or_default();
    let message = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.pointer("/error/message").and_then(|m| m.as_str()).map(str::to_owned))
        .unwrap_or(body);
    bail!("{url} answered {status}: {}", message.trim())
}

/// `idtrail backup FILE` for SQLite: `VACUUM INTO` the new file `target` from one read
/// transaction, so the copy is the database as of one commit while the service goes on reading
/// and writing (WAL mode: a reader never blocks the writer). `target` must not exist.
///
/// SQLite's online backup API (`sqlite3_backup_step`) would need `unsafe` FFI through
/// libsqlite3-sys (the workspace forbids `unsafe`), and it restarts whenever another connection
/// writes between two steps, so under steady ingest it may never finish; `VACUUM INTO` reads one
/// snapshot and also leaves a compact file.
///
/// # Errors
/// PostgreSQL (use `pg_dump`, see the README), an existing `target`, database errors.
pub fn backup(config: &Config, target: &std::path::Path) -> anyhow::Result<u64> {
    let url = storage::DatabaseUrl::parse(&config.database_url)?;
    let storage::DatabaseUrl::Sqlite { .. } = url else {
        bail!(
            "idtrail backup copies SQLite databases; for PostgreSQL use pg_dump or continuous archiving \
             (README: Operating idtrail, Backups)"
        );
    };
    if target.exists() {
        bail!("{} exists; a backup goes to a new file", target.display());
    }
    let target_text = target.to_str().context("the backup file's path must be UTF-8")?;
    storage::backup::vacuum_into(&url, target_text).with_context(|| format!("backing up into {}", target.display()))?;
    Ok(std::fs::metadata(target).map(|m| m.len()).unwrap_or(0))
}
