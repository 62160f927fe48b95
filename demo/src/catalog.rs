//! The fixed lists the demo generator draws from: the demo tenants' offices, roles, Conditional
//! Access policies and custom apps, Microsoft first-party apps with their real application ids,
//! and sign-in error codes with the meanings from `docs/graph-notes.md` §8 (regions and cities are
//! in `regions`). Nothing here is random; changing a list changes every demo data set.

use super::regions::{AUSTRALIA, CENTRAL_EUROPE, Region, US};

/// An office: its city (an index into the region's cities) and its internet egress /24.
#[derive(Debug)]
pub(super) struct Office {
    pub city: usize,
    pub egress: [u8; 3],
}

/// What a Conditional Access policy targets; [`super::document`] decides from this whether it applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Rule {
    MfaForAdmins,
    MfaForAllUsers,
    BlockLegacyAuthentication,
    CompliantDeviceForExchange,
    CompliantOrJoinedDevice,
    SignInFrequencyOnUnmanagedDevices,
    GuestAccessToSharePoint,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PolicyState {
    On,
    ReportOnly,
    Off,
}

#[derive(Debug)]
pub(super) struct Policy {
    pub id: &'static str,
    pub name: &'static str,
    pub rule: Rule,
    pub state: PolicyState,
    pub grant: &'static [&'static str],
    pub session: &'static [&'static str],
}

/// Everything about a demo tenant beyond [`super::DemoTenant`]'s public fields.
#[derive(Debug)]
pub(super) struct TenantProfile {
    pub tenant_id: &'static str,
    pub region: &'static Region,
    pub offices: &'static [Office],
    pub user_count: usize,
    /// People listed first, in this order (the first holds the first role).
    pub known_people: &'static [&'static str],
    /// The directory roles of the first users, in order; everyone after has none.
    pub roles: &'static [&'static str],
    /// Host-name prefix of corporate devices.
    pub device_prefix: &'static str,
    /// Whether devices are enrolled in Intune (so `isManaged`/`isCompliant` can be true).
    pub intune: bool,
    pub policies: &'static [Policy],
    pub custom_apps: &'static [&'static str],
}

/// Contoso's people, as in Microsoft 365 demo tenants.
#[rustfmt::skip]
const CONTOSO_PEOPLE: &[&str] = &[
    "Megan Bowen", "Alex Wilber", "Adele Vance", "Lee Gu", "Nestor Wilke", "Isaiah Langer", "Lidia Holloway",
    "Lynne Robbins", "Diego Siciliani", "Patti Fernandez", "Pradeep Gupta", "Joni Sherman", "Grady Archie",
    "Johanna Lorenz", "Miriam Graham", "Henrietta Mueller", "Irvin Sayers", "Allan Deyoung", "Christie Cline",
    "Enrico Cattaneo",
];

pub(super) static PROFILES: [TenantProfile; 3] = [
    TenantProfile {
        tenant_id: "b4c9f32e-2a6d-4c8e-9f1a-7d3e5c2b8a61",
        region: &US,
        offices: &[Office { city: 0, egress: [131, 107, 159] }, Office { city: 3, egress: [131, 107, 8] }],
        user_count: 120,
        known_people: CONTOSO_PEOPLE,
        roles: &[
            "Global Administrator",
            "Security Administrator",
            "Security Reader",
            "Global Reader",
            "Reports Reader",
            "Security Operator",
        ],
        device_prefix: "CONTOSO-LT-",
        intune: true,
        policies: &[
            Policy {
                id: "0f6a2c54-9d1e-4b7a-8e35-7c2d91f4ab60",
                name: "Require MFA for admins",
                rule: Rule::MfaForAdmins,
                state: PolicyState::On,
                grant: &["Mfa"],
                session: &[],
            },
            Policy {
                id: "a83e1b7d-52c4-4f09-b6e1-3d9f0c7a2e48",
                name: "Block legacy authentication",
                rule: Rule::BlockLegacyAuthentication,
                state: PolicyState::On,
                grant: &["Block"],
                session: &[],
            },
            Policy {
                id: "5c7d9e21-0b3a-4d68-a4f2-e18b6c0d9f37",
                name: "Require compliant device for Exchange",
                rule: Rule::CompliantDeviceForExchange,
                state: PolicyState::ReportOnly,
                grant: &["RequireCompliantDevice"],
                session: &[],
            },
            Policy {
                id: "de7e60eb-ed89-4d73-8205-2227def6b7c9",
                name: "SharePoint limited access for guest workers",
                rule: Rule::GuestAccessToSharePoint,
                state: PolicyState::Off,
                grant: &[],
                session: &["AppEnforcedRestrictions"],
            },
        ],
        custom_apps: &["Contoso HR Portal", "Contoso Expense Reports"],
    },
    TenantProfile {
        tenant_id: "3f8a1d2c-6b4e-4a9d-8c7f-1e2d5b6a9c04",
        region: &CENTRAL_EUROPE,
        offices: &[Office { city: 0, egress: [185, 55, 116] }, Office { city: 1, egress: [185, 55, 117] }],
        user_count: 72,
        known_people: &[],
        roles: &["Global Administrator", "Security Reader", "Reports Reader"],
        device_prefix: "FAB-NB-",
        intune: true,
        policies: &[
            Policy {
                id: "7e4b0d92-3a1f-4c85-9b6d-2f8e0a5c1d73",
                name: "Require MFA for all users",
                rule: Rule::MfaForAllUsers,
                state: PolicyState::On,
                grant: &["Mfa"],
                session: &[],
            },
            Policy {
                id: "c2d5f8a1-6e3b-4097-8d4c-b1a7e9f0352e",
                name: "Block legacy authentication",
                rule: Rule::BlockLegacyAuthentication,
                state: PolicyState::On,
                grant: &["Block"],
                session: &[],
            },
            Policy {
                id: "49a1c7e3-d85b-4f2a-a6c0-8e3b7d1f5092",
                name: "Sign-in frequency on unmanaged devices",
                rule: Rule::SignInFrequencyOnUnmanagedDevices,
                state: PolicyState::On,
                grant: &[],
                session: &["SignInFrequency"],
            },
            Policy {
                id: "e0b3a6d4-17c9-4e52-bf8a-5d2c0e9a7b61",
                name: "Require compliant or Azure AD joined device",
                rule: Rule::CompliantOrJoinedDevice,
                state: PolicyState::ReportOnly,
                grant: &["RequireCompliantDevice", "RequireDomainJoinedDevice"],
                session: &[],
            },
        ],
        custom_apps: &["Fabrikam Sales Dashboard", "Fabrikam Intranet"],
    },
    TenantProfile {
        tenant_id: "9d2e7b15-4c3a-4f86-b0e9-6a1c8d3f2e57",
        region: &AUSTRALIA,
        offices: &[Office { city: 0, egress: [203, 12, 160] }, Office { city: 1, egress: [203, 12, 161] }],
        user_count: 40,
        known_people: &[],
        roles: &["Global Administrator", "Security Reader"],
        device_prefix: "NW-PC-",
        intune: false,
        // A Free tenant has no Conditional Access.
        policies: &[],
        custom_apps: &["Northwind Inventory", "Northwind Timesheets"],
    },
];

/// The resource (audience) of a sign-in.
#[derive(Debug, Clone, Copy)]
pub(super) struct Resource {
    pub id: &'static str,
    pub name: &'static str,
}

pub(super) const GRAPH: Resource = Resource { id: "00000003-0000-0000-c000-000000000000", name: "Microsoft Graph" };
pub(super) const EXCHANGE: Resource =
    Resource { id: "00000002-0000-0ff1-ce00-000000000000", name: "Office 365 Exchange Online" };
pub(super) const SHAREPOINT: Resource =
    Resource { id: "00000003-0000-0ff1-ce00-000000000000", name: "Office 365 SharePoint Online" };
pub(super) const AZURE_MANAGEMENT: Resource =
    Resource { id: "797f4846-ba00-4fd7-ba43-dac1f8f63013", name: "Windows Azure Service Management API" };
const TEAMS_SERVICES: Resource =
    Resource { id: "cc15fd57-2c6c-4117-a88c-83b1d56b4bbe", name: "Microsoft Teams Services" };
const SHELL_SERVER: Resource =
    Resource { id: "5f09333a-842c-47da-a157-57da27fcbca5", name: "Office365 Shell WCSS-Server" };
const DEVICE_REGISTRATION: Resource =
    Resource { id: "01cb2876-7ebd-4aa4-9cc9-d28bd4d359a9", name: "Device Registration Service" };
const AZURE_AD: Resource =
    Resource { id: "00000002-0000-0000-c000-000000000000", name: "Windows Azure Active Directory" };

/// How a client app signs in, in relative weights: in a browser, as a desktop app, as a mobile app.
#[derive(Debug, Clone, Copy)]
pub(super) struct Clients {
    pub browser: u32,
    pub desktop: u32,
    pub mobile: u32,
}

#[derive(Debug)]
pub(super) struct App {
    pub id: &'static str,
    pub name: &'static str,
    /// Relative frequency among people without and with an admin role.
    pub user_weight: u32,
    pub admin_weight: u32,
    pub clients: Clients,
    pub resources: &'static [Resource],
    /// The share of its sign-ins that are non-interactive (token refresh by a background client).
    pub non_interactive: f64,
}

const fn clients(browser: u32, desktop: u32, mobile: u32) -> Clients {
    Clients { browser, desktop, mobile }
}

/// The app that legacy protocols (IMAP, POP, SMTP, ActiveSync, MAPI) sign in to.
pub(super) const EXCHANGE_APP: usize = 0;
/// Where custom tenant apps are inserted by weight (they are built per tenant).
pub(super) const CUSTOM_APP_WEIGHT: (u32, u32) = (30, 20);

/// Microsoft first-party client apps with their real application ids.
pub(super) static APPS: [App; 11] = [
    App {
        id: "00000002-0000-0ff1-ce00-000000000000",
        name: "Office 365 Exchange Online",
        user_weight: 100,
        admin_weight: 70,
        clients: clients(1, 0, 0),
        resources: &[EXCHANGE],
        non_interactive: 0.0,
    },
    App {
        id: "00000003-0000-0ff1-ce00-000000000000",
        name: "Office 365 SharePoint Online",
        user_weight: 90,
        admin_weight: 60,
        clients: clients(1, 0, 0),
        resources: &[SHAREPOINT],
        non_interactive: 0.0,
    },
    App {
        id: "1fec8e78-bce4-4aaf-ab1b-5451cc387264",
        name: "Microsoft Teams",
        user_weight: 140,
        admin_weight: 90,
        clients: clients(1, 6, 3),
        resources: &[TEAMS_SERVICES, TEAMS_SERVICES, GRAPH, SHAREPOINT],
        non_interactive: 0.08,
    },
    App {
        id: "d3590ed6-52b3-4102-aeff-aad2292ab01c",
        name: "Microsoft Office",
        user_weight: 120,
        admin_weight: 70,
        clients: clients(0, 5, 1),
        resources: &[EXCHANGE, SHAREPOINT, GRAPH, AZURE_AD],
        non_interactive: 0.05,
    },
    App {
        id: "89bee1f7-5e6e-4d8a-9f3d-ecd601259da7",
        name: "Office365 Shell WCSS-Client",
        user_weight: 100,
        admin_weight: 80,
        clients: clients(1, 0, 0),
        resources: &[SHELL_SERVER],
        non_interactive: 0.0,
    },
    App {
        id: "27922004-5251-4030-b22d-91ecd9a37ea4",
        name: "Outlook Mobile",
        user_weight: 70,
        admin_weight: 40,
        clients: clients(0, 0, 1),
        resources: &[EXCHANGE],
        non_interactive: 0.04,
    },
    App {
        id: "ab9b8c07-8f02-4f72-87fa-80105867a763",
        name: "OneDrive SyncEngine",
        user_weight: 50,
        admin_weight: 30,
        clients: clients(0, 1, 0),
        resources: &[SHAREPOINT],
        non_interactive: 0.6,
    },
    App {
        id: "4813382a-8fa7-425e-ab75-3b753aab3abb",
        name: "Microsoft Authenticator App",
        user_weight: 20,
        admin_weight: 25,
        clients: clients(0, 0, 1),
        resources: &[DEVICE_REGISTRATION],
        non_interactive: 0.0,
    },
    App {
        id: "c44b4083-3bb0-49c1-b47d-974e53cbdf3c",
        name: "Azure Portal",
        user_weight: 3,
        admin_weight: 110,
        clients: clients(1, 0, 0),
        resources: &[AZURE_MANAGEMENT],
        non_interactive: 0.0,
    },
    App {
        id: "de8bc8b5-d9f9-48b1-a8ad-b748da725064",
        name: "Graph Explorer",
        user_weight: 1,
        admin_weight: 35,
        clients: clients(1, 0, 0),
        resources: &[GRAPH],
        non_interactive: 0.0,
    },
    App {
        id: "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
        name: "Microsoft Azure CLI",
        user_weight: 1,
        admin_weight: 30,
        clients: clients(0, 1, 0),
        resources: &[AZURE_MANAGEMENT],
        non_interactive: 0.0,
    },
];

/// Legacy-authentication protocols as `clientAppUsed` names them, weighted by how often a person
/// with an old client uses each.
pub(super) static LEGACY_CLIENTS: [(&str, u32); 5] =
    [("Exchange ActiveSync", 35), ("IMAP4", 20), ("Authenticated SMTP", 20), ("MAPI Over HTTP", 15), ("POP3", 10)];

/// Protocols password sprays come in on.
pub(super) static SPRAY_CLIENTS: [(&str, u32); 5] =
    [("IMAP4", 35), ("Authenticated SMTP", 25), ("Other clients", 25), ("POP3", 10), ("Exchange ActiveSync", 5)];

/// At which point of a sign-in a failure happens; it decides how Conditional Access reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stage {
    /// Before Conditional Access is evaluated (credentials, account, app registration).
    BeforeConditionalAccess,
    /// The multi-factor challenge a policy (or per-user MFA) asked for was not passed.
    Mfa,
    /// A policy blocked the sign-in.
    Blocked,
    /// A sign-in frequency session control expired the session.
    SessionExpired,
    /// After Conditional Access was satisfied (an interrupt such as "Keep me signed in").
    AfterConditionalAccess,
}

/// A sign-in failure: its `status` values, from `docs/graph-notes.md` (§1.2's example for 50126,
/// §8's meanings for the rest).
#[derive(Debug)]
pub(super) struct Failure {
    pub code: i32,
    pub reason: &'static str,
    pub details: Option<&'static str>,
    pub stage: Stage,
}

const fn failure(code: i32, reason: &'static str, details: Option<&'static str>, stage: Stage) -> Failure {
    Failure { code, reason, details, stage }
}

pub(super) static INVALID_PASSWORD: Failure = failure(
    50126,
    "Error validating credentials due to invalid username or password.",
    Some(
        "The user didn't enter the right credentials.  It's expected to see some number of these errors in your \
         logs due to users making mistakes.",
    ),
    Stage::BeforeConditionalAccess,
);
pub(super) static MFA_REQUIRED: Failure =
    failure(50074, "User did not pass the MFA challenge.", Some("MFA required in Azure AD"), Stage::Mfa);
pub(super) static MFA_REQUIRED_NON_INTERACTIVE: Failure =
    failure(50076, "User did not pass the MFA challenge (non-interactive).", None, Stage::Mfa);
pub(super) static MFA_FAILED: Failure =
    failure(500121, "Authentication failed during the strong authentication (MFA) request.", None, Stage::Mfa);
pub(super) static KEEP_ME_SIGNED_IN: Failure =
    failure(50140, "\"Keep me signed in\" interrupt.", None, Stage::AfterConditionalAccess);
pub(super) static ACCOUNT_LOCKED: Failure = failure(
    50053,
    "Account locked: too many sign-ins with a wrong user ID or password.",
    None,
    Stage::BeforeConditionalAccess,
);
pub(super) static BLOCKED_BY_CONDITIONAL_ACCESS: Failure =
    failure(53003, "Access blocked by Conditional Access policies.", None, Stage::Blocked);
pub(super) static PASSWORD_EXPIRED: Failure =
    failure(50055, "Invalid password; an expired password was entered.", None, Stage::BeforeConditionalAccess);
pub(super) static ACCOUNT_DISABLED: Failure =
    failure(50057, "User account is disabled (by an administrator).", None, Stage::BeforeConditionalAccess);
pub(super) static SILENT_SIGN_IN_FAILED: Failure = failure(
    50058,
    "Silent sign-in failed; user not signed in, an interactive flow is needed.",
    None,
    Stage::BeforeConditionalAccess,
);
pub(super) static NOT_AN_ERROR: Failure =
    failure(16000, "Internal implementation detail, not an error; ignore.", None, Stage::BeforeConditionalAccess);
pub(super) static SESSION_EXPIRED: Failure =
    failure(70044, "CA session management forced the session to expire.", None, Stage::SessionExpired);
pub(super) static NO_CONSENT: Failure = failure(
    65001,
    "The application lacks permission for the resource, or no user or admin consent was given.",
    None,
    Stage::BeforeConditionalAccess,
);
/// Its reason names the app and the directory: `{app}` and `{directory}` are filled in per sign-in.
pub(super) static APP_NOT_FOUND: Failure =
    failure(700016, "Application '{app}' not found in directory '{directory}'.", None, Stage::BeforeConditionalAccess);
pub(super) static USER_NOT_FOUND: Failure =
    failure(50034, "User account not found; it does not exist in the directory.", None, Stage::BeforeConditionalAccess);

/// Identity Protection detections: the `riskEventTypes` member and its `riskEventTypes_v2` string,
/// a weight, and whether it implies an unusual (foreign) location.
pub(super) static RISK_EVENTS: [(&str, &str, u32, bool); 6] = [
    ("unfamiliarFeatures", "unfamiliarFeatures", 40, false),
    ("anonymizedIPAddress", "anonymizedIPAddress", 20, true),
    ("unlikelyTravel", "unlikelyTravel", 18, true),
    ("leakedCredentials", "leakedCredentials", 8, false),
    ("maliciousIPAddress", "maliciousIPAddress", 7, true),
    ("mcasImpossibleTravel", "mcasImpossibleTravel", 7, true),
];

/// `riskState` with the `riskDetail` that goes with it.
pub(super) static RISK_OUTCOMES: [((&str, &str), u32); 5] = [
    (("atRisk", "none"), 45),
    (("remediated", "userPassedMFADrivenByRiskBasedPolicy"), 25),
    (("dismissed", "adminDismissedAllRiskForUser"), 15),
    (("confirmedSafe", "adminConfirmedSigninSafe"), 8),
    (("confirmedCompromised", "adminConfirmedSigninCompromised"), 7),
];

pub(super) static RISK_LEVELS: [(&str, u32); 3] = [("low", 55), ("medium", 35), ("high", 10)];
