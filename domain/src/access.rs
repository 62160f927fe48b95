//! Who may call what: one authorization table for every endpoint (the tests and the OpenAPI
//! descriptions read it too), and the decision for one principal, in Graph's order: permission
//! (application permission or delegated scope), then license, then directory role.

use crate::ids::LicenseTier;
use crate::principal::{DirectoryRole, INGEST_APP_ROLE, Principal, Subject};

/// The endpoints that carry an access rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    SignIns,
    DirectoryAudits,
    RiskDetections,
    RiskyUsers,
    RiskyUserActions,
    Ingest,
    TenantInfo,
    /// Graph's report functions under `reports/` (`getAzureADApplicationSignInSummary`,
    /// `applicationSignInDetailedSummary`).
    ReportFunctions,
}

use DirectoryRole::{
    GlobalAdministrator as GA, GlobalReader as GR, ReportsReader as RR, SecurityAdministrator as SA,
    SecurityOperator as SO, SecurityReader as SR,
};

/// One row of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub endpoint: Endpoint,
    /// Directory roles that admit tenant-wide access for a delegated caller.
    pub roles: &'static [DirectoryRole],
    /// Application permissions (any one) that admit an app-only caller.
    pub app_permissions: &'static [&'static str],
    /// Delegated scopes (any one) a user token must carry.
    pub scopes: &'static [&'static str],
    /// The least tier for tenant-wide access.
    pub license: LicenseTier,
    /// A user without a listed role may still read their own records (sign-ins only).
    pub own_records: bool,
}

/// The authorization matrix (`docs/graph-notes.md` §5.2 and §9).
pub const MATRIX: &[Rule] = &[
    Rule {
        endpoint: Endpoint::SignIns,
        roles: &[GA, GR, RR, SA, SO, SR],
        app_permissions: &["AuditLog.Read.All"],
        scopes: &["AuditLog.Read.All"],
        license: LicenseTier::P1,
        own_records: true,
    },
    Rule {
        endpoint: Endpoint::DirectoryAudits,
        // Compliance Administrator reads audits through the reporting API (docs/graph-notes.md §5.2).
        roles: &[GA, GR, RR, SA, SO, SR, DirectoryRole::ComplianceAdministrator],
        app_permissions: &["AuditLog.Read.All"],
        scopes: &["AuditLog.Read.All"],
        license: LicenseTier::Free,
        own_records: false,
    },
    Rule {
        endpoint: Endpoint::RiskDetections,
        roles: &[GA, GR, SA, SO, SR],
        app_permissions: &["IdentityRiskEvent.Read.All", "IdentityRiskEvent.ReadWrite.All"],
        scopes: &["IdentityRiskEvent.Read.All", "IdentityRiskEvent.ReadWrite.All"],
        license: LicenseTier::P1,
        own_records: false,
    },
    Rule {
        endpoint: Endpoint::RiskyUsers,
        roles: &[GA, GR, SA, SO, SR],
        app_permissions: &["IdentityRiskyUser.Read.All", "IdentityRiskyUser.ReadWrite.All"],
        scopes: &["IdentityRiskyUser.Read.All", "IdentityRiskyUser.ReadWrite.All"],
        license: LicenseTier::P2,
        own_records: false,
    },
    Rule {
        endpoint: Endpoint::RiskyUserActions,
        roles: &[GA, SA, SO],
        app_permissions: &["IdentityRiskyUser.ReadWrite.All"],
        scopes: &["IdentityRiskyUser.ReadWrite.All"],
        license: LicenseTier::P2,
        own_records: false,
    },
    Rule {
        endpoint: Endpoint::ReportFunctions,
        // docs/graph-notes.md §4: Reports Reader, Security Reader, Security Administrator; the
        // Global Administrator holds every permission of the directory.
        roles: &[GA, RR, SA, SR],
        app_permissions: &["Reports.Read.All"],
        scopes: &["Reports.Read.All"],
        // They summarise sign-ins, which need a premium tenant.
        license: LicenseTier::P1,
        own_records: false,
    },
    Rule {
        endpoint: Endpoint::Ingest,
        roles: &[],
        app_permissions: &[INGEST_APP_ROLE],
        scopes: &[],
        license: LicenseTier::Free,
        own_records: false,
    },
];

/// The rule of `endpoint`, if it has one (`TenantInfo` is open to every principal of the tenant).
#[must_use]
pub fn rule(endpoint: Endpoint) -> Option<&'static Rule> {
    MATRIX.iter().find(|r| r.endpoint == endpoint)
}

/// What a principal may read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    TenantWide,
    /// Only records whose user is this one (lower-case object id).
    OwnOnly {
        user_id: String,
    },
}

impl Access {
    /// The user a restricted access is limited to.
    #[must_use]
    pub fn own_user(&self) -> Option<&str> {
        match self {
            Self::TenantWide => None,
            Self::OwnOnly { user_id } => Some(user_id),
        }
    }
}

/// Why access is refused, in Graph's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denied {
    /// 403 `Authentication_MSGraphPermissionMissing`.
    Permission { needed: &'static [&'static str] },
    /// 403 `Authentication_RequestFromNonPremiumTenantOrB2CTenant` (or the P2 message).
    License { needed: LicenseTier },
    /// 403 `Authentication_RequestFromUnsupportedUserRole`.
    Role { allowed: &'static [DirectoryRole] },
    /// 403 `Authorization_RequestDenied`: the endpoint takes app-only tokens.
    AppOnly,
}

/// Directory roles that may read Conditional Access details inside sign-ins (§5.6).
pub const CONDITIONAL_ACCESS_READER_ROLES: &[DirectoryRole] = &[
    DirectoryRole::GlobalAdministrator,
    DirectoryRole::GlobalReader,
    DirectoryRole::SecurityAdministrator,
    DirectoryRole::SecurityReader,
    DirectoryRole::ConditionalAccessAdministrator,
];

/// Application permissions that may read Conditional Access details (§5.6).
pub const CONDITIONAL_ACCESS_APP_PERMISSIONS: &[&str] =
    &["Policy.Read.All", "Policy.ReadWrite.ConditionalAccess", "Policy.Read.ConditionalAccess"];

/// Whether `p` may see `appliedConditionalAccessPolicies` in sign-ins.
#[must_use]
pub fn can_read_conditional_access(p: &Principal) -> bool {
    match p.subject {
        Subject::App { .. } => CONDITIONAL_ACCESS_APP_PERMISSIONS.iter().any(|x| p.has_app_permission(x)),
        Subject::User { .. } => p.roles.iter().any(|r| CONDITIONAL_ACCESS_READER_ROLES.contains(r)),
    }
}

/// Decides what `p` may do at `endpoint` for a tenant on `tier`. `enforce_scopes` makes delegated
/// tokens need one of the rule's scopes.
///
/// # Errors
/// The first failing check, in Graph's order: permission, license, role.
pub fn authorize(p: &Principal, endpoint: Endpoint, tier: LicenseTier, enforce_scopes: bool) -> Result<Access, Denied> {
    let Some(rule) = rule(endpoint) else { return Ok(Access::TenantWide) };
    match &p.subject {
        Subject::App { .. } => {
            if !rule.app_permissions.iter().any(|perm| p.has_app_permission(perm)) {
                return Err(Denied::Permission { needed: rule.app_permissions });
            }
            if tier < rule.license {
                return Err(Denied::License { needed: rule.license });
            }
            Ok(Access::TenantWide)
        }
        Subject::User { object_id, .. } => {
            if rule.roles.is_empty() && rule.scopes.is_empty() {
                return Err(Denied::AppOnly);
            }
            let has_scope = rule.scopes.iter().any(|s| p.scopes.iter().any(|x| x.eq_ignore_ascii_case(s)));
            if enforce_scopes && !has_scope {
                return Err(Denied::Permission { needed: rule.scopes });
            }
            let privileged = p.roles.iter().any(|r| rule.roles.contains(r));
            if privileged {
                if tier < rule.license {
                    return Err(Denied::License { needed: rule.license });
                }
                return Ok(Access::TenantWide);
            }
            if rule.own_records {
                return Ok(Access::OwnOnly { user_id: object_id.to_key() });
            }
            if tier < rule.license {
                return Err(Denied::License { needed: rule.license });
            }
            Err(Denied::Role { allowed: rule.roles })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{Guid, TenantId};

    fn user(roles: Vec<DirectoryRole>, scopes: &[&str]) -> Principal {
        Principal {
            tenant: TenantId::parse("11111111-1111-1111-1111-111111111111").unwrap(),
            subject: Subject::User {
                object_id: Guid::parse("22222222-2222-2222-2222-222222222222").unwrap(),
                principal_name: None,
            },
            roles,
            app_permissions: vec![],
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn graphs_order_is_permission_license_role() {
        let plain = user(vec![], &["AuditLog.Read.All"]);
        assert!(matches!(authorize(&plain, Endpoint::SignIns, LicenseTier::Free, true), Ok(Access::OwnOnly { .. })));
        assert_eq!(
            authorize(&plain, Endpoint::DirectoryAudits, LicenseTier::Free, true),
            Err(Denied::Role { allowed: &[GA, GR, RR, SA, SO, SR, DirectoryRole::ComplianceAdministrator] })
        );
        let admin = user(vec![GA], &["AuditLog.Read.All"]);
        assert_eq!(
            authorize(&admin, Endpoint::SignIns, LicenseTier::Free, true),
            Err(Denied::License { needed: LicenseTier::P1 })
        );
        assert_eq!(authorize(&admin, Endpoint::SignIns, LicenseTier::P1, true), Ok(Access::TenantWide));
        let unscoped = user(vec![GA], &[]);
        assert!(matches!(
            authorize(&unscoped, Endpoint::SignIns, LicenseTier::P2, true),
            Err(Denied::Permission { .. })
        ));
        assert_eq!(authorize(&unscoped, Endpoint::SignIns, LicenseTier::P2, false), Ok(Access::TenantWide));
        let reader = user(vec![SR], &["IdentityRiskyUser.Read.All"]);
        assert_eq!(
            authorize(&reader, Endpoint::RiskyUsers, LicenseTier::P1, true),
            Err(Denied::License { needed: LicenseTier::P2 })
        );
        assert!(matches!(
            authorize(&reader, Endpoint::RiskyUserActions, LicenseTier::P2, true),
            Err(Denied::Permission { .. })
        ));
        assert_eq!(authorize(&admin, Endpoint::Ingest, LicenseTier::P2, true), Err(Denied::AppOnly));
    }

    #[test]
    fn conditional_access_readers_are_graphs() {
        assert!(can_read_conditional_access(&user(vec![SR], &[])));
        assert!(!can_read_conditional_access(&user(vec![RR], &[])));
        assert!(!can_read_conditional_access(&user(vec![], &[])));
    }
}
