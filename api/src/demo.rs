//! Demo data and the first-run banner: three tenants (one per license tier) with 30 days of
//! realistic sign-ins, and ready-made tokens and curl commands to try them.

use std::collections::HashMap;
use std::fmt::Write as _;

use ::demo::{DemoConfig, TENANTS, users};
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
        aud: config.auth_audiences.first().cloned(),
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
            "AuditLog.Read.All Directory.Read.All IdentityRiskyUser.ReadWrite.All IdentityRiskEvent.Read.All".into(),
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

/// The start-up banner: where to reach the service, the tenants, a token per tenant for an
/// administrator and for a plain user, and curl commands to try.
///
/// # Errors
/// Only if signing fails.
pub fn banner(config: &Config, secret: &[u8], base: &str, present: &[TenantId]) -> anyhow::Result<String> {
    let mut out = String::new();
    writeln!(out, "\nidtrail is serving {base}  (development mode: tokens below are valid for 12 hours)\n")?;
    let lifetime = 12 * 3600;
    let mut first_admin = None;
    let mut first_user = None;
    let mut first_tenant = None;
    for t in TENANTS.iter().filter(|t| present.iter().any(|p| p.as_str() == t.id)) {
        let people = users(t);
        let Some(admin) = people.first() else { continue };
        let Some(plain) = people.iter().find(|u| u.admin_role.is_none()) else { continue };
        let admin_token = sign_hs256(
            secret,
            &user_claims(
                config,
                t.id,
                &admin.object_id,
                &admin.user_principal_name,
                &[DirectoryRole::GlobalAdministrator],
                lifetime,
            ),
        )?;
        let user_token = sign_hs256(
            secret,
            &user_claims(config, t.id, &plain.object_id, &plain.user_principal_name, &[], lifetime),
        )?;
        let ingest_token = sign_hs256(
            secret,
            &app_claims(config, t.id, "00000000-0000-0000-0000-00000000d3e0", &[INGEST_APP_ROLE.to_owned()], lifetime),
        )?;
        writeln!(out, "Tenant {} ({}, license {})", t.display_name, t.id, t.tier)?;
        writeln!(out, "  admin  {} (Global Administrator):\n    {admin_token}", admin.user_principal_name)?;
        writeln!(out, "  user   {} (no role, sees own sign-ins):\n    {user_token}", plain.user_principal_name)?;
        writeln!(out, "  ingest (app role {INGEST_APP_ROLE}):\n    {ingest_token}\n")?;
        if first_admin.is_none() {
            first_admin = Some(admin_token);
            first_user = Some(user_token);
            first_tenant = Some(t.display_name);
        }
    }
    if let (Some(admin), Some(user), Some(name)) = (first_admin, first_user, first_tenant) {
        writeln!(out, "Try ({name}):")?;
        writeln!(out, "  export ADMIN={admin}")?;
        writeln!(out, "  export ME={user}")?;
        writeln!(out, "  curl -s -H \"Authorization: Bearer $ADMIN\" '{base}/v1.0/auditLogs/signIns?$top=5'")?;
        writeln!(out, "  curl -s -H \"Authorization: Bearer $ME\" '{base}/v1.0/auditLogs/signIns?$top=3'")?;
        writeln!(
            out,
            "  curl -s -H \"Authorization: Bearer $ADMIN\" '{base}/beta/auditLogs/signIns/<id from the list>'"
        )?;
        writeln!(
            out,
            "  curl -s -H \"Authorization: Bearer $ADMIN\" '{base}/v1.0/auditLogs/directoryAudits?$top=5&$filter=category%20eq%20%27RoleManagement%27'"
        )?;
        writeln!(out, "  curl -s -H \"Authorization: Bearer $ADMIN\" '{base}/v1.0/identityProtection/riskDetections'")?;
        writeln!(
            out,
            "  curl -s -H \"Authorization: Bearer $ADMIN\" '{base}/v1.0/identityProtection/riskyUsers?$filter=riskState%20eq%20%27atRisk%27'"
        )?;
        writeln!(
            out,
            "  curl -s -H \"Authorization: Bearer $ADMIN\" '{base}/v1.0/identityProtection/riskyUsers/<id>/history'"
        )?;
        writeln!(
            out,
            "  curl -si -X POST -H \"Authorization: Bearer $ADMIN\" -H 'Content-Type: application/json' -d '{{\"userIds\":[\"<id>\"]}}' '{base}/v1.0/identityProtection/riskyUsers/dismiss'"
        )?;
    }
    Ok(out)
}
