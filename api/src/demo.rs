//! Demo data and the first-run banner: three tenants (one per license tier) with 30 days of
//! realistic sign-ins, and ready-made tokens and curl commands to try them.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use ::demo::{DemoConfig, DemoTenant, DemoUser, TENANTS, users};
use domain::ids::TenantId;
use domain::principal::{DirectoryRole, INGEST_APP_ROLE};
use domain::query::registry::{DIRECTORY_AUDITS, RISK_DETECTIONS};
use storage::{Record, RiskyUserChange, SignInRecord, Store};

use crate::auth::{Claims, sign_hs256};
use crate::config::Config;

/// Records stored per ingest transaction while loading.
const BATCH: usize = 5_000;

/// What a demo load stored.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DemoSummary {
    pub inserted: usize,
    pub duplicates: usize,
    /// Older than the tenant's retention (the free tier keeps 7 days): not stored.
    pub expired: usize,
}

/// Creates the demo tenants and stores the demo sign-ins (idempotent: a second load with the same
/// seed stores nothing new).
///
/// # Errors
/// Database errors, or a generated document that does not validate (a bug).
pub fn load(store: &Store, cfg: &DemoConfig) -> anyhow::Result<DemoSummary> {
    let mut ids = HashMap::new();
    for t in &TENANTS {
        let id = TenantId::parse(t.id)?;
        store.set_tenant(&id, Some(t.display_name), t.tier)?;
        ids.insert(t.id, id);
    }
    if store.backend() == storage::Backend::Postgres {
        let end = domain::time::to_ticks(cfg.end);
        let days = i64::from(cfg.days) + 1;
        store.ensure_partitions((0..=days).map(|d| end - d * domain::time::TICKS_PER_DAY))?;
    }
    let mut pending: HashMap<&'static str, Vec<SignInRecord>> = HashMap::new();
    let mut summary = DemoSummary::default();
    let flush = |tenant: &TenantId, batch: Vec<SignInRecord>, summary: &mut DemoSummary| -> anyhow::Result<()> {
        let outcome = store.ingest_sign_ins(tenant, batch)?;
        summary.inserted += outcome.inserted;
        summary.duplicates += outcome.duplicates;
        summary.expired += outcome.expired;
        Ok(())
    };
    for s in ::demo::sign_ins(cfg) {
        let Some(tenant) = ids.get(s.tenant_id) else { continue };
        let record = SignInRecord::from_document(tenant, s.document)
            .map_err(|e| anyhow::anyhow!("demo document does not validate: {e}"))?;
        let batch = pending.entry(s.tenant_id).or_default();
        batch.push(record);
        if batch.len() >= BATCH {
            let full = std::mem::take(batch);
            flush(tenant, full, &mut summary)?;
        }
    }
    for (tenant_id, batch) in pending {
        if let Some(tenant) = ids.get(tenant_id)
            && !batch.is_empty()
        {
            flush(tenant, batch, &mut summary)?;
        }
    }
    load_audits_and_risk(store, cfg, &ids, &mut summary)?;
    Ok(summary)
}

/// Stores the directory audits, risk detections and risky users (with their histories) that go
/// with the demo sign-ins.
fn load_audits_and_risk(
    store: &Store,
    cfg: &DemoConfig,
    ids: &HashMap<&'static str, TenantId>,
    summary: &mut DemoSummary,
) -> anyhow::Result<()> {
    let (audits, protection) = ::demo::audits_and_risk(cfg);
    let invalid = |e: String| anyhow::anyhow!("demo document does not validate: {e}");
    let mut add = |o: storage::IngestOutcome| {
        summary.inserted += o.inserted;
        summary.duplicates += o.duplicates;
        summary.expired += o.expired;
    };
    for (tenant_id, tenant) in ids {
        let records = |docs: &[::demo::audits::DemoRecord], set| -> anyhow::Result<Vec<Record>> {
            docs.iter()
                .filter(|d| d.tenant_id == *tenant_id)
                .map(|d| Record::from_document(set, d.document.clone()).map_err(invalid))
                .collect()
        };
        let batch = records(&audits, &DIRECTORY_AUDITS)?;
        if !batch.is_empty() {
            add(store.ingest_records(tenant, batch)?);
        }
        let batch = records(&protection.risk_detections, &RISK_DETECTIONS)?;
        if !batch.is_empty() {
            add(store.ingest_records(tenant, batch)?);
        }
        let changes: Vec<RiskyUserChange> = protection
            .risky_users
            .iter()
            .filter(|u| u.tenant_id == *tenant_id)
            .flat_map(|u| u.history.iter().cloned())
            .map(|h| RiskyUserChange::from_document(h).map_err(invalid))
            .collect::<anyhow::Result<_>>()?;
        if !changes.is_empty() {
            add(store.ingest_risky_users(tenant, changes)?);
        }
    }
    Ok(())
}

/// What every token `idtrail token` and the banner make carries: tenant, audience, issuer, times.
fn base_claims(config: &Config, tenant: &str, subject: &str, lifetime_secs: i64) -> Claims {
    let now = chrono::Utc::now().timestamp();
    Claims {
        tid: Some(tenant.to_owned()),
        oid: Some(subject.to_owned()),
        sub: Some(subject.to_owned()),
        aud: config.auth_audiences.first().cloned().map(Into::into),
        iss: Some(issuer(config, tenant)),
        exp: now + lifetime_secs,
        nbf: Some(now - 60),
        iat: Some(now),
        ..Claims::default()
    }
}

/// The claims of a user token with directory `roles` and the reporting scopes.
#[must_use]
pub fn user_claims(
    config: &Config,
    tenant: &str,
    oid: &str,
    upn: &str,
    roles: &[DirectoryRole],
    lifetime_secs: i64,
) -> Claims {
    Claims {
        upn: Some(upn.to_owned()),
        wids: roles.iter().map(|r| r.template_id().to_owned()).collect(),
        scp: Some(
            "AuditLog.Read.All Directory.Read.All IdentityRiskyUser.ReadWrite.All IdentityRiskEvent.Read.All \
             Reports.Read.All"
                .into(),
        ),
        idtyp: Some("user".into()),
        ..base_claims(config, tenant, oid, lifetime_secs)
    }
}

/// The claims of an app-only token with `permissions` as application roles.
#[must_use]
pub fn app_claims(config: &Config, tenant: &str, app_id: &str, permissions: &[String], lifetime_secs: i64) -> Claims {
    Claims {
        roles: permissions.to_vec(),
        idtyp: Some("app".into()),
        azp: Some(app_id.to_owned()),
        ..base_claims(config, tenant, app_id, lifetime_secs)
    }
}

fn issuer(config: &Config, tenant: &str) -> String {
    config
        .auth_issuers
        .first()
        .map_or_else(|| format!("https://sts.windows.net/{tenant}/"), |i| i.replace("{tid}", tenant))
}

/// How long the banner's tokens are valid.
const BANNER_TOKEN_LIFETIME_SECS: i64 = 12 * 3600;

/// The app id of the banner's ingest tokens.
const BANNER_INGEST_APP_ID: &str = "00000000-0000-0000-0000-00000000d3e0";

/// Where the banner writes every demo tenant's tokens: next to the development secret.
#[must_use]
pub fn tokens_path(config: &Config) -> PathBuf {
    config.data_dir.join(".idtrail-dev-tokens")
}

/// A present demo tenant, two of its users and a token for each of them and for an ingest app.
struct TenantTokens {
    tenant: DemoTenant,
    admin: DemoUser,
    user: DemoUser,
    admin_token: String,
    user_token: String,
    ingest_token: String,
}

/// The tokens of the demo tenants in `present`, in [`TENANTS`] order (the P2 tenant first).
fn tenant_tokens(config: &Config, secret: &[u8], present: &[TenantId]) -> anyhow::Result<Vec<TenantTokens>> {
    let lifetime = BANNER_TOKEN_LIFETIME_SECS;
    let mut out = Vec::new();
    for t in TENANTS.iter().filter(|t| present.iter().any(|p| p.as_str() == t.id)) {
        let people = users(t);
        let Some(admin) = people.first().cloned() else { continue };
        let Some(user) = people.iter().find(|u| u.admin_role.is_none()).cloned() else { continue };
        let admin_claims = user_claims(
            config,
            t.id,
            &admin.object_id,
            &admin.user_principal_name,
            &[DirectoryRole::GlobalAdministrator],
            lifetime,
        );
        let plain_claims = user_claims(config, t.id, &user.object_id, &user.user_principal_name, &[], lifetime);
        let ingest_claims = app_claims(config, t.id, BANNER_INGEST_APP_ID, &[INGEST_APP_ROLE.to_owned()], lifetime);
        out.push(TenantTokens {
            tenant: *t,
            admin_token: sign_hs256(secret, &admin_claims)?,
            user_token: sign_hs256(secret, &plain_claims)?,
            ingest_token: sign_hs256(secret, &ingest_claims)?,
            admin,
            user,
        });
    }
    Ok(out)
}

/// Development mode's token source for the console's sign-in picker: the development secret and
/// the demo tenants present. Tokens are signed at each request, so they stay valid however long
/// the service has run.
#[derive(Clone)]
pub struct DevTokens {
    secret: Vec<u8>,
    present: Vec<TenantId>,
}

impl std::fmt::Debug for DevTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevTokens").field("present", &self.present).finish_non_exhaustive()
    }
}

impl DevTokens {
    #[must_use]
    pub fn new(secret: &[u8], present: &[TenantId]) -> Self {
        Self { secret: secret.to_vec(), present: present.to_vec() }
    }

    /// Every present demo tenant with its administrator's and plain user's token:
    /// `{"tenants":[{"id","displayName","license","users":[{"label","userPrincipalName","roles","token"}]}]}`.
    ///
    /// # Errors
    /// Only if signing fails.
    pub fn json(&self, config: &Config) -> anyhow::Result<String> {
        let tenants = tenant_tokens(config, &self.secret, &self.present)?;
        let list: Vec<serde_json::Value> = tenants
            .iter()
            .map(|t| {
                serde_json::json!({
                    "id": t.tenant.id,
                    "displayName": t.tenant.display_name,
                    "license": t.tenant.tier.as_str(),
                    "users": [
                        {"label": "Administrator", "userPrincipalName": t.admin.user_principal_name,
                         "roles": [DirectoryRole::GlobalAdministrator.display_name()], "token": t.admin_token},
                        {"label": "User (own sign-ins)", "userPrincipalName": t.user.user_principal_name,
                         "roles": [], "token": t.user_token},
                    ],
                })
            })
            .collect();
        Ok(serde_json::json!({ "tenants": list }).to_string())
    }
}

/// A shell variable prefix for a tenant: its display name in capitals, `_` for anything else.
fn variable_prefix(display_name: &str) -> String {
    display_name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect()
}

/// The tokens file: a shell script of `export` lines, one per token, each with who it is.
fn tokens_file(tenants: &[TenantTokens], base: &str) -> Result<String, std::fmt::Error> {
    let until = chrono::Utc::now() + chrono::Duration::seconds(BANNER_TOKEN_LIFETIME_SECS);
    let mut out = String::new();
    writeln!(out, "# idtrail development tokens for {base}, valid until {}.", until.format("%Y-%m-%dT%H:%M:%SZ"))?;
    writeln!(out, "# Rewritten at every start in development mode. Load them with: . <this file>")?;
    for t in tenants {
        let v = variable_prefix(t.tenant.display_name);
        writeln!(out, "\n# {} ({}, license {})", t.tenant.display_name, t.tenant.id, t.tenant.tier)?;
        writeln!(out, "# {} (Global Administrator), object id {}", t.admin.user_principal_name, t.admin.object_id)?;
        writeln!(out, "export {v}_ADMIN={}", t.admin_token)?;
        writeln!(out, "# {} (no role: sees own sign-ins), object id {}", t.user.user_principal_name, t.user.object_id)?;
        writeln!(out, "export {v}_USER={}", t.user_token)?;
        writeln!(out, "# an app with the application role {INGEST_APP_ROLE}, app id {BANNER_INGEST_APP_ID}")?;
        writeln!(out, "export {v}_INGEST={}", t.ingest_token)?;
    }
    Ok(out)
}

/// Writes `contents` to `path`, readable and writable by its owner only (mode 0600 on Unix). An
/// existing file is removed first, so that a wider mode it had is not kept.
///
/// # Errors
/// When the folder cannot be created or the file cannot be removed or written.
pub fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(contents)
}

/// The start-up banner, one screen: where the service is, the demo tenants, `export` lines with
/// an administrator's and a plain user's token of the first demo tenant (Contoso, P2), three curl
/// commands, and where the other tokens are. Every present demo tenant's administrator, user and
/// ingest tokens are written to [`tokens_path`] (mode 0600); if that fails, the banner says so.
///
/// # Errors
/// Only if signing fails.
pub fn banner(config: &Config, secret: &[u8], base: &str, present: &[TenantId]) -> anyhow::Result<String> {
    let tenants = tenant_tokens(config, secret, present)?;
    let mut out = String::new();
    writeln!(out, "\nidtrail is serving {base} (development mode: tokens below valid for 12 hours)")?;
    if let Some(main) = tenants.first() {
        let names: Vec<String> =
            tenants.iter().map(|t| format!("{} ({})", t.tenant.display_name, t.tenant.tier)).collect();
        writeln!(out, "Demo tenants: {}\n", names.join(", "))?;
        writeln!(
            out,
            "{}: ADMIN = {} (Global Administrator), ME = {}",
            main.tenant.display_name, main.admin.user_principal_name, main.user.user_principal_name
        )?;
        writeln!(out, "export ADMIN={}", main.admin_token)?;
        writeln!(out, "export ME={}", main.user_token)?;
        writeln!(out, "curl -s -H \"Authorization: Bearer $ADMIN\" '{base}/v1.0/auditLogs/signIns?$top=5'")?;
        writeln!(out, "curl -s -H \"Authorization: Bearer $ME\" '{base}/v1.0/auditLogs/signIns?$top=3'")?;
        writeln!(out, "curl -s -H \"Authorization: Bearer $ADMIN\" '{base}/v1.0/identityProtection/riskyUsers'")?;
        let path = tokens_path(config);
        match write_private(&path, tokens_file(&tenants, base)?.as_bytes()) {
            Ok(()) => writeln!(
                out,
                "\nAll demo tenants' admin, user and ingest tokens (file mode 0600): . {}",
                path.display()
            )?,
            Err(e) => writeln!(out, "\n(The other demo tokens could not be written to {}: {e}.)", path.display())?,
        }
    }
    writeln!(out, "Other tokens: idtrail token --tenant ID --oid GUID [--role \"Security Reader\"]...")?;
    writeln!(out, "          or idtrail token --tenant ID --app-permission IdTrail.Ingest")?;
    writeln!(out, "(from the source tree: cargo run --release -- token ...). API reference: {base}/docs")?;
    writeln!(out, "Web console: {base}/ (in development mode it offers these tokens to sign in)")?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use domain::principal::Subject;

    use super::*;
    use crate::auth::TokenVerifier;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
    const BASE: &str = "http://127.0.0.1:8080";

    /// A fresh folder under the system's temporary folder, removed when dropped (also on failure).
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> Self {
            let dir =
                std::env::temp_dir().join(format!("idtrail-{name}-{}-{:x}", std::process::id(), rand::random::<u64>()));
            std::fs::create_dir_all(&dir).unwrap();
            Self(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// The rows `text` takes on a terminal `columns` wide.
    fn rows(text: &str, columns: usize) -> usize {
        text.lines().map(|l| l.chars().count().div_ceil(columns).max(1)).sum()
    }

    /// The `NAME=value` pairs of the `export` lines of `text`.
    fn exports(text: &str) -> Vec<(&str, &str)> {
        text.lines().filter_map(|l| l.strip_prefix("export ")?.split_once('=')).collect()
    }

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn the_banner_fits_one_screen_and_its_tokens_work() {
        let dir = TempDir::new("banner");
        let config = Config { data_dir: dir.0.clone(), ..Config::default() };
        let present: Vec<TenantId> = TENANTS.iter().map(|t| TenantId::parse(t.id).unwrap()).collect();
        let text = banner(&config, SECRET, BASE, &present).unwrap();

        // One screen: at most 40 rows of 100 columns, and only the two tokens (and the tokens
        // file's path, as long as the data folder's) are wider.
        let path = tokens_path(&config);
        assert!(rows(&text, 100) <= 40, "{} rows:\n{text}", rows(&text, 100));
        let long_path = path.display().to_string();
        for line in text.lines().filter(|l| !l.starts_with("export ") && !l.contains(&long_path)) {
            assert!(line.chars().count() <= 100, "{line}");
        }
        let shown = exports(&text);
        assert_eq!(shown.iter().map(|(k, _)| *k).collect::<Vec<_>>(), ["ADMIN", "ME"]);
        let verifier = TokenVerifier::hs256(SECRET, &config.auth_audiences, &config.auth_issuers);
        let contoso = TENANTS[0];
        assert_eq!(contoso.tier, domain::ids::LicenseTier::P2);
        let people = users(&contoso);
        let admin = verifier.verify(shown[0].1).unwrap();
        assert_eq!(admin.tenant.as_str(), contoso.id);
        assert_eq!(admin.roles, [DirectoryRole::GlobalAdministrator]);
        let me = verifier.verify(shown[1].1).unwrap();
        assert_eq!(me.tenant.as_str(), contoso.id);
        assert!(me.roles.is_empty());
        let plain = people.iter().find(|u| u.admin_role.is_none()).unwrap();
        assert!(matches!(&me.subject, Subject::User { object_id, .. } if object_id.as_str() == plain.object_id));
        for path in ["/v1.0/auditLogs/signIns?$top=5", "/v1.0/identityProtection/riskyUsers"] {
            assert!(text.contains(&format!("'{BASE}{path}'")), "{path}");
        }
        assert!(text.contains("idtrail token --tenant ID --oid GUID"));
        assert!(text.contains("idtrail token --tenant ID --app-permission IdTrail.Ingest"));

        // The other tokens are in the file the banner names, which only its owner can read.
        assert!(text.contains(&format!(". {}\n", path.display())), "{text}");
        #[cfg(unix)]
        assert_eq!(mode(&path), 0o600);
        let file = std::fs::read_to_string(&path).unwrap();
        let tokens = exports(&file);
        let names: Vec<&str> = tokens.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            names,
            [
                "CONTOSO_ADMIN",
                "CONTOSO_USER",
                "CONTOSO_INGEST",
                "FABRIKAM_ADMIN",
                "FABRIKAM_USER",
                "FABRIKAM_INGEST",
                "NORTHWIND_TRADERS_ADMIN",
                "NORTHWIND_TRADERS_USER",
                "NORTHWIND_TRADERS_INGEST",
            ]
        );
        for ((name, token), tenant) in tokens.iter().zip(TENANTS.iter().flat_map(|t| [t, t, t])) {
            let p = verifier.verify(token).unwrap();
            assert_eq!(p.tenant.as_str(), tenant.id, "{name}");
            if name.ends_with("_INGEST") {
                assert_eq!(p.app_permissions, [INGEST_APP_ROLE], "{name}");
            } else {
                assert!(matches!(p.subject, Subject::User { .. }), "{name}");
            }
        }
        assert_eq!((tokens[0].1, tokens[1].1), (shown[0].1, shown[1].1));
    }

    #[test]
    fn without_demo_tenants_the_banner_names_idtrail_token_and_writes_no_file() {
        let dir = TempDir::new("banner-empty");
        let config = Config { data_dir: dir.0.clone(), ..Config::default() };
        let other = TenantId::parse("11111111-2222-4333-8444-555555555555").unwrap();
        let text = banner(&config, SECRET, BASE, &[other]).unwrap();
        assert!(exports(&text).is_empty(), "{text}");
        assert!(text.contains("idtrail token --tenant ID"), "{text}");
        assert!(!tokens_path(&config).exists());
    }

    #[cfg(unix)]
    #[test]
    fn write_private_replaces_a_file_readable_by_others() {
        use std::os::unix::fs::PermissionsExt;
        let dir = TempDir::new("private");
        let path = dir.0.join("nested").join("secret");
        write_private(&path, b"first").unwrap();
        assert_eq!(mode(&path), 0o600);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&path, b"second").unwrap();
        assert_eq!((mode(&path), std::fs::read_to_string(&path).unwrap().as_str()), (0o600, "second"));
    }
}
