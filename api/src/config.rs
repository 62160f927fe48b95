//! Configuration, in layers: built-in defaults < `idtrail.toml` (cwd or `--config`) < environment
//! `IDTRAIL_*` < command-line flags. Keys are flat, so `auth_audiences` in the file is
//! `IDTRAIL_AUTH_AUDIENCES` in the environment.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Deserializer, Serialize};

/// Graph's audiences: the resource URI and its app id.
pub const DEFAULT_AUDIENCES: &[&str] = &["https://graph.microsoft.com", "00000003-0000-0000-c000-000000000000"];

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `sqlite://PATH` or `postgres://USER@HOST/DB`.
    pub database_url: String,
    /// PostgreSQL streaming replicas of `database_url` for lists, counts and lookups.
    #[serde(deserialize_with = "list")]
    pub database_read_urls: Vec<String>,
    /// A replica whose replay lag passes this many milliseconds is skipped until it catches up.
    pub max_replica_lag_ms: u64,
    /// Address to listen on.
    pub bind: String,
    /// Base of `@odata.context` and `@odata.nextLink` (e.g. `https://idtrail.example.com`);
    /// taken from the request's Host when unset.
    pub public_url: Option<String>,
    /// Reverse proxies (IP addresses or CIDRs, e.g. `10.0.0.0/8, ::1`) whose `Forwarded` and
    /// `X-Forwarded-*` headers name the scheme and host of links; from anyone else they are ignored.
    #[serde(deserialize_with = "list")]
    pub trusted_proxies: Vec<String>,
    /// Folder for the development secret and the demo tokens file.
    pub data_dir: PathBuf,
    /// Shared secret for HS256 tokens.
    pub auth_hs256_secret: Option<String>,
    /// Accepted `aud` values.
    #[serde(deserialize_with = "list")]
    pub auth_audiences: Vec<String>,
    /// Accepted `iss` values; not checked when empty.
    #[serde(deserialize_with = "list")]
    pub auth_issuers: Vec<String>,
    /// JWKS file with the public keys of RS256/ES256 tokens (picked by `kid`).
    pub auth_jwks_file: Option<PathBuf>,
    /// JWKS URL (https, or http on a loopback host), fetched at start and again when a token names
    /// an unknown `kid`, at most once per `auth_jwks_cooldown_seconds`.
    pub auth_jwks_url: Option<String>,
    /// Least time between two fetches of `auth_jwks_url`.
    pub auth_jwks_cooldown_seconds: u64,
    /// Delegated (user) tokens need the Graph scope of the endpoint in `scp`.
    pub auth_enforce_scopes: bool,
    /// Tier of a tenant first seen at ingest: `free`, `p1` or `p2`.
    pub default_license: String,
    /// Largest ingest body, in bytes.
    pub max_ingest_bytes: usize,
    /// How far past now (seconds) an ingested event may be dated, for producers' clock skew;
    /// later records refuse their batch.
    pub ingest_max_future_skew_seconds: u64,
    /// Rate limits per (tenant, client app) and endpoint family; `false` turns them all off.
    pub rate_limit_enabled: bool,
    /// Requests per minute to `/v1.0` and `/beta` (but identity protection); 0: no limit.
    pub rate_limit_reports_per_minute: u32,
    /// Requests allowed at once before the per-minute rate applies.
    pub rate_limit_reports_burst: u32,
    /// Requests per minute to `identityProtection`; 0: no limit.
    pub rate_limit_identity_protection_per_minute: u32,
    /// Burst of `identityProtection`.
    pub rate_limit_identity_protection_burst: u32,
    /// Requests per minute to `/ingest`; 0: no limit.
    pub rate_limit_ingest_per_minute: u32,
    /// Burst of `/ingest`.
    pub rate_limit_ingest_burst: u32,
    /// Days each tier keeps sign-ins: `free,p1,p2`.
    pub retention_sign_ins_days: String,
    /// Days each tier keeps directory audits: `free,p1,p2`.
    pub retention_directory_audits_days: String,
    /// Days each tier keeps risk detections: `free,p1,p2`.
    pub retention_risk_detections_days: String,
    /// Seconds between purges of data past retention (0: never; `idtrail purge` still works).
    pub purge_interval_seconds: u64,
    /// Database connections.
    pub pool_size: u32,
    /// Longest one database statement may run, in milliseconds (0: no limit). PostgreSQL cancels
    /// it (`statement_timeout`), SQLite interrupts it; the request answers 503 naming this budget.
    pub statement_timeout_ms: u64,
    /// Each PostgreSQL connection prepares the statements it runs repeatedly (up to 256 shapes,
    /// least recently used out), so the server plans them once; `false` parses and plans every
    /// statement anew (for a pooler that cannot keep prepared statements, such as PgBouncer in
    /// transaction mode before 1.21).
    pub database_prepared_statements: bool,
    /// Requests of one tenant doing database work at once (0: half of `pool_size`, at least 1);
    /// the rest of the pool stays free for other tenants.
    pub tenant_max_concurrent_queries: u32,
    /// How long a tenant's request waits for one of its `tenant_max_concurrent_queries` before it
    /// is refused with 429 and `Retry-After`, in milliseconds.
    pub tenant_query_wait_ms: u64,
    /// Ingest: longest wait for the first byte of a body, in milliseconds.
    pub ingest_first_byte_timeout_ms: u64,
    /// Ingest: longest pause between two parts of a body, in milliseconds; a body that stalls
    /// longer is refused (408) and nothing of it is stored.
    pub ingest_idle_timeout_ms: u64,
    /// Ingest batches of one tenant stored at once (after their bodies are read).
    pub ingest_tenant_slots: u32,
    /// Ingest batches stored at once across all tenants.
    pub ingest_global_slots: u32,
    /// How long a read batch waits for an ingest slot before it is refused with 503 and
    /// `Retry-After`, in milliseconds.
    pub ingest_slot_wait_ms: u64,
    /// Rows an export reads per statement (each on a pooled connection, released between them):
    /// memory per export grows with it, round trips shrink.
    pub export_page_rows: usize,
    /// Load demo data when the database has no tenant and the service runs in development mode.
    pub demo_on_empty: bool,
    /// Log filter (`info`, `idtrail=debug,...`).
    pub log: String,
    /// Seconds in-flight requests get to finish after SIGTERM or SIGINT before they are cut.
    pub shutdown_timeout_s: u64,
    /// `text` (human, the default) or `json` (one JSON object per line, for log pipelines).
    pub log_format: String,
    /// Address of the `/metrics` listener (Prometheus), separate from `bind`; loopback by default
    /// so that it is never public by accident. Empty: no metrics listener.
    pub metrics_bind: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            database_url: "sqlite://idtrail.db".into(),
            database_read_urls: Vec::new(),
            max_replica_lag_ms: 2000,
            bind: "127.0.0.1:8080".into(),
            public_url: None,
            trusted_proxies: Vec::new(),
            data_dir: PathBuf::from("."),
            auth_hs256_secret: None,
            auth_audiences: DEFAULT_AUDIENCES.iter().map(|s| (*s).to_owned()).collect(),
            auth_issuers: Vec::new(),
            auth_jwks_file: None,
            auth_jwks_url: None,
            auth_jwks_cooldown_seconds: 60,
            auth_enforce_scopes: true,
            default_license: "free".into(),
            max_ingest_bytes: 64 * 1024 * 1024,
            ingest_max_future_skew_seconds: 600,
            rate_limit_enabled: true,
            rate_limit_reports_per_minute: 600,
            rate_limit_reports_burst: 100,
            rate_limit_identity_protection_per_minute: 600,
            rate_limit_identity_protection_burst: 100,
            rate_limit_ingest_per_minute: 120,
            rate_limit_ingest_burst: 30,
            retention_sign_ins_days: "7,30,30".into(),
            retention_directory_audits_days: "7,30,30".into(),
            retention_risk_detections_days: "7,30,90".into(),
            purge_interval_seconds: 3600,
            pool_size: 8,
            statement_timeout_ms: 10_000,
            database_prepared_statements: true,
            tenant_max_concurrent_queries: 0,
            tenant_query_wait_ms: 2_000,
            ingest_first_byte_timeout_ms: 30_000,
            ingest_idle_timeout_ms: 60_000,
            ingest_tenant_slots: 1,
            ingest_global_slots: 2,
            ingest_slot_wait_ms: 10_000,
            export_page_rows: 1000,
            demo_on_empty: true,
            log: "info".into(),
            log_format: "text".into(),
            shutdown_timeout_s: 30,
            metrics_bind: "127.0.0.1:9464".into(),
        }
    }
}

/// An address block: an IP address and how many leading bits of it count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cidr {
    addr: IpAddr,
    bits: u32,
}

impl Cidr {
    /// `10.0.0.0/8`, `fd00::/8`, or one address (`127.0.0.1`, `::1`).
    fn parse(text: &str) -> Result<Self, String> {
        let bad = || format!("'{text}' is not an IP address or a CIDR block such as 10.0.0.0/8");
        let (addr, bits) = match text.trim().split_once('/') {
            Some((a, b)) => (a.parse::<IpAddr>().map_err(|_| bad())?, Some(b.parse::<u32>().map_err(|_| bad())?)),
            None => (text.trim().parse::<IpAddr>().map_err(|_| bad())?, None),
        };
        let width = if addr.is_ipv4() { 32 } else { 128 };
        let bits = bits.unwrap_or(width);
        if bits > width {
            return Err(bad());
        }
        Ok(Self { addr, bits })
    }

    fn contains(self, ip: IpAddr) -> bool {
        let number = |ip: IpAddr| match ip {
            IpAddr::V4(v4) => (u128::from(u32::from(v4)), 32),
            IpAddr::V6(v6) => (u128::from(v6), 128),
        };
        let (net, width) = number(self.addr);
        let (candidate, candidate_width) = number(ip.to_canonical());
        if width != candidate_width {
            return false;
        }
        let shift = width - self.bits;
        shift >= width || (net >> shift) == (candidate >> shift)
    }
}

/// Accepts a list, or a comma-separated string (how lists arrive from the environment).
fn list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => s.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect(),
        OneOrMany::Many(v) => v,
    })
}

/// Values given on the command line, which win over every other layer.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
}

impl Config {
    /// Loads the layers. `file` is `--config`; without it `idtrail.toml` in the current folder is
    /// read if it exists.
    ///
    /// # Errors
    /// A message naming the key and the layer that holds a bad value, or a missing `--config` file.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Self, String> {
        let mut figment = Figment::from(Serialized::defaults(Self::default()));
        match file {
            Some(path) => {
                if !path.exists() {
                    return Err(format!("the configuration file {} does not exist", path.display()));
                }
                figment = figment.merge(Toml::file_exact(path));
            }
            None if Path::new("idtrail.toml").is_file() => figment = figment.merge(Toml::file_exact("idtrail.toml")),
            None => {}
        }
        figment = figment
            .merge(Env::prefixed("IDTRAIL_").filter(|k| k.as_str() != "config"))
            .merge(Serialized::globals(overrides));
        let config: Self = figment.extract().map_err(|e| format!("configuration: {e}"))?;
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), String> {
        self.bind_addr()?;
        self.metrics_addr()?;
        crate::observe::LogFormat::parse(&self.log_format)?;
        let primary = storage::DatabaseUrl::parse(&self.database_url).map_err(|e| e.to_string())?;
        for url in &self.database_read_urls {
            let replica = storage::DatabaseUrl::parse(url).map_err(|e| format!("database_read_urls: {e}"))?;
            if primary.backend() != storage::Backend::Postgres || replica.backend() != storage::Backend::Postgres {
                return Err("database_read_urls are PostgreSQL streaming replicas of a PostgreSQL database_url".into());
            }
        }
        domain::ids::LicenseTier::parse(&self.default_license).map_err(|e| format!("default_license: {e}"))?;
        self.retention()?;
        crate::ratelimit::check_config(self)?;
        if let Some(url) = &self.public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(format!("public_url must start with http:// or https://; got '{url}'"));
        }
        if self.auth_audiences.is_empty() {
            return Err("auth_audiences must name at least one audience".into());
        }
        if self.ingest_tenant_slots == 0 || self.ingest_global_slots == 0 {
            return Err("ingest_tenant_slots and ingest_global_slots must be at least 1".into());
        }
        for p in &self.trusted_proxies {
            Cidr::parse(p).map_err(|e| format!("trusted_proxies: {e}"))?;
        }
        Ok(())
    }

    /// Whether `peer` is one of the `trusted_proxies`.
    #[must_use]
    pub fn trusts_proxy(&self, peer: IpAddr) -> bool {
        self.trusted_proxies.iter().filter_map(|p| Cidr::parse(p).ok()).any(|c| c.contains(peer))
    }

    /// The retention table.
    ///
    /// # Errors
    /// When a `retention_*_days` key is not three day counts.
    pub fn retention(&self) -> Result<domain::policy::RetentionPolicy, String> {
        use domain::policy::RetentionPolicy;
        Ok(RetentionPolicy {
            sign_ins: RetentionPolicy::parse_days(&self.retention_sign_ins_days)
                .map_err(|e| format!("retention_sign_ins_days: {e}"))?,
            directory_audits: RetentionPolicy::parse_days(&self.retention_directory_audits_days)
                .map_err(|e| format!("retention_directory_audits_days: {e}"))?,
            risk_detections: RetentionPolicy::parse_days(&self.retention_risk_detections_days)
                .map_err(|e| format!("retention_risk_detections_days: {e}"))?,
        })
    }

    /// The metrics listener's address; `None` when `metrics_bind` is empty.
    ///
    /// # Errors
    /// When `metrics_bind` is not `HOST:PORT` with an IP host.
    pub fn metrics_addr(&self) -> Result<Option<SocketAddr>, String> {
        if self.metrics_bind.trim().is_empty() {
            return Ok(None);
        }
        let text = self.metrics_bind.replace("localhost", "127.0.0.1");
        text.parse().map(Some).map_err(|_| {
            format!(
                "metrics_bind must be IP:PORT, such as 127.0.0.1:9464 (or empty for none); got '{}'",
                self.metrics_bind
            )
        })
    }

    /// The budget of one database statement (`None`: unbounded).
    #[must_use]
    pub fn statement_timeout(&self) -> Option<std::time::Duration> {
        (self.statement_timeout_ms > 0).then(|| std::time::Duration::from_millis(self.statement_timeout_ms))
    }

    /// How the store sets up each database connection.
    #[must_use]
    pub fn session(&self) -> storage::conn::Session {
        storage::conn::Session {
            statement_timeout: self.statement_timeout(),
            prepared_statements: if self.database_prepared_statements {
                storage::prepared::DEFAULT_CAPACITY
            } else {
                0
            },
        }
    }

    /// Requests of one tenant doing database work at once: `tenant_max_concurrent_queries`, or
    /// half the pool.
    #[must_use]
    pub fn tenant_query_slots(&self) -> u32 {
        match self.tenant_max_concurrent_queries {
            0 => (self.pool_size / 2).max(1),
            n => n,
        }
    }

    /// The bind address.
    ///
    /// # Errors
    /// When `bind` is not `HOST:PORT` with an IP host.
    pub fn bind_addr(&self) -> Result<SocketAddr, String> {
        let text = self.bind.replace("localhost", "127.0.0.1");
        text.parse().map_err(|_| format!("bind must be IP:PORT, such as 127.0.0.1:8080; got '{}'", self.bind))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comma_lists_come_from_strings() {
        let c: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(Serialized::global("auth_audiences", "a, b"))
            .extract()
            .unwrap();
        assert_eq!(c.auth_audiences, vec!["a", "b"]);
    }

    #[test]
    fn layers_apply_in_order_and_a_missing_default_file_is_fine() {
        let dir = std::env::temp_dir().join(format!("idtrail-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("custom.toml");
        std::fs::write(&file, "bind = \"127.0.0.1:9000\"\npool_size = 3\nauth_audiences = [\"x\"]\n").unwrap();
        let c = Config::load(Some(&file), &Overrides::default()).unwrap();
        assert_eq!(
            (c.bind.as_str(), c.pool_size, c.auth_audiences.clone()),
            ("127.0.0.1:9000", 3, vec!["x".to_owned()])
        );
        let o = Overrides { bind: Some("127.0.0.1:9001".into()), ..Overrides::default() };
        assert_eq!(Config::load(Some(&file), &o).unwrap().bind, "127.0.0.1:9001");
        assert!(Config::load(Some(&dir.join("missing.toml")), &Overrides::default()).is_err());
        std::fs::write(&file, "pool_size = \"many\"\n").unwrap();
        assert!(Config::load(Some(&file), &Overrides::default()).unwrap_err().contains("pool_size"));
        std::fs::write(&file, "no_such_key = 1\n").unwrap();
        assert!(Config::load(Some(&file), &Overrides::default()).is_err());
        // The crate folder has no idtrail.toml: defaults load.
        assert!(Config::load(None, &Overrides::default()).is_ok());
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn trusted_proxies_are_addresses_and_blocks() {
        let c = Config {
            trusted_proxies: vec!["10.0.0.0/8".into(), "::1".into(), "192.168.1.7".into(), "0.0.0.0/0".into()],
            ..Config::default()
        };
        c.check().unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(c.trusts_proxy(ip("10.200.3.4")));
        assert!(c.trusts_proxy(ip("::1")));
        assert!(c.trusts_proxy(ip("::ffff:10.1.2.3")), "v4-mapped addresses are the v4 address");
        let narrow = Config { trusted_proxies: vec!["10.0.0.0/8".into(), "192.168.1.7".into()], ..Config::default() };
        assert!(narrow.trusts_proxy(ip("192.168.1.7")));
        assert!(!narrow.trusts_proxy(ip("192.168.1.8")));
        assert!(!narrow.trusts_proxy(ip("11.0.0.1")));
        assert!(!narrow.trusts_proxy(ip("::1")));
        assert!(!Config::default().trusts_proxy(ip("127.0.0.1")));
        for bad in ["10.0.0.0/33", "::/129", "proxy.example", "10.0.0.0/x"] {
            let c = Config { trusted_proxies: vec![bad.into()], ..Config::default() };
            assert!(c.check().unwrap_err().contains("trusted_proxies"), "{bad}");
        }
    }

    #[test]
    fn defaults_are_valid() {
        Config::default().check().unwrap();
        assert_eq!(Config::default().bind_addr().unwrap().port(), 8080);
    }
}
