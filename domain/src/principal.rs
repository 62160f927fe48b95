//! Who is calling: the tenant, the user or application, and what directory roles, application
//! permissions and delegated scopes their token carries. Parsed once from the token's claims by
//! `api`; nothing downstream looks at raw claims.

use crate::ids::{Guid, TenantId};

/// A directory role that matters to reporting, with its Entra role template id (the `wids` claim).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DirectoryRole {
    GlobalAdministrator,
    GlobalReader,
    SecurityAdministrator,
    SecurityOperator,
    SecurityReader,
    ReportsReader,
    ConditionalAccessAdministrator,
    ComplianceAdministrator,
}

impl DirectoryRole {
    pub const ALL: [Self; 8] = [
        Self::GlobalAdministrator,
        Self::GlobalReader,
        Self::SecurityAdministrator,
        Self::SecurityOperator,
        Self::SecurityReader,
        Self::ReportsReader,
        Self::ConditionalAccessAdministrator,
        Self::ComplianceAdministrator,
    ];

    /// The role's template id, as Entra puts it in `wids` (`docs/graph-notes.md` §9).
    #[must_use]
    pub fn template_id(self) -> &'static str {
        match self {
            Self::GlobalAdministrator => "62e90394-69f5-4237-9190-012177145e10",
            Self::GlobalReader => "f2ef992c-3afb-46b9-b7cf-a126ee74c451",
            Self::SecurityAdministrator => "194ae4cb-b126-40b2-bd5b-6091b380977d",
            Self::SecurityOperator => "5f2222b1-57c3-48ba-8ad5-d4759f1fde6f",
            Self::SecurityReader => "5d6b6bb7-de71-4623-b4af-96380a352509",
            Self::ReportsReader => "4a5d8f65-41da-4de4-8968-e035b65339cf",
            Self::ConditionalAccessAdministrator => "b1be1c3e-b65d-4f19-8427-f6fa0d97feb9",
            Self::ComplianceAdministrator => "17315797-102d-40b4-93e0-432062caca18",
        }
    }

    /// The role's display name, as other issuers put it in `roles`.
    #[must_use]
    pub fn display_name(self) -> &'static str {
        match self {
            Self::GlobalAdministrator => "Global Administrator",
            Self::GlobalReader => "Global Reader",
            Self::SecurityAdministrator => "Security Administrator",
            Self::SecurityOperator => "Security Operator",
            Self::SecurityReader => "Security Reader",
            Self::ReportsReader => "Reports Reader",
            Self::ConditionalAccessAdministrator => "Conditional Access Administrator",
            Self::ComplianceAdministrator => "Compliance Administrator",
        }
    }

    /// The role whose template id is `wid` (case-insensitive).
    #[must_use]
    pub fn from_template_id(wid: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.template_id().eq_ignore_ascii_case(wid))
    }

    /// The role with display name `name` (case-insensitive; "Report Reader" as the portal once said).
    #[must_use]
    pub fn from_display_name(name: &str) -> Option<Self> {
        let name = name.trim();
        if name.eq_ignore_ascii_case("Report Reader") {
            return Some(Self::ReportsReader);
        }
        Self::ALL.into_iter().find(|r| r.display_name().eq_ignore_ascii_case(name))
    }
}

/// The application role that lets a producer push events into its own tenant.
pub const INGEST_APP_ROLE: &str = "IdTrail.Ingest";

/// Who the token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// A signed-in user (delegated token).
    User { object_id: Guid, principal_name: Option<String> },
    /// An application acting as itself (app-only token).
    App { app_id: Option<String> },
}

/// The caller, as established from a validated token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub tenant: TenantId,
    pub subject: Subject,
    pub roles: Vec<DirectoryRole>,
    pub app_permissions: Vec<String>,
    pub scopes: Vec<String>,
}

impl Principal {
    /// Whether the token carries the application role `role` (case-insensitive).
    #[must_use]
    pub fn has_app_permission(&self, role: &str) -> bool {
        self.app_permissions.iter().any(|p| p.eq_ignore_ascii_case(role))
    }

    /// A stable description of the principal, bound into paging tokens so that one principal's
    /// token cannot be replayed by another.
    #[must_use]
    pub fn binding(&self) -> String {
        match &self.subject {
            Subject::User { object_id, .. } => format!("{}/user/{}", self.tenant, object_id.to_key()),
            Subject::App { app_id } => format!("{}/app/{}", self.tenant, app_id.as_deref().unwrap_or("")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_from_ids_and_names() {
        assert_eq!(
            DirectoryRole::from_template_id("62E90394-69F5-4237-9190-012177145E10"),
            Some(DirectoryRole::GlobalAdministrator)
        );
        assert_eq!(DirectoryRole::from_display_name("security reader"), Some(DirectoryRole::SecurityReader));
        assert_eq!(DirectoryRole::from_display_name("Report Reader"), Some(DirectoryRole::ReportsReader));
        assert_eq!(DirectoryRole::from_display_name("Helpdesk Administrator"), None);
    }
}
