//! The indexes the migrations keep for filters, as data, so that code which depends on an index
//! existing says which one: `entities::page_sql` merges the index ranges of an `in (...)` only on
//! a property listed here, the filter compiler writes the predicates of [`PARTIAL_INDEXES`] with
//! their indexes' own text, and `tests/tests/api/indexes.rs` checks every entry against both
//! databases' plans and this list against the indexes the migrations actually made.
//!
//! It must never list an index the migrations do not make: the planner would not find it, and a
//! merge over a property without one reads every row of the window once per value.

/// An index `(tenant_id, column, created_ticks DESC, id DESC)`: rows with one value of `column`,
/// newest first, in the default order of every entity set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EqualityIndex {
    pub table: &'static str,
    pub column: &'static str,
    pub name: &'static str,
}

const fn eq(table: &'static str, column: &'static str, name: &'static str) -> EqualityIndex {
    EqualityIndex { table, column, name }
}

/// Every equality index (migrations `..._filter_indexes_in_order`, and the risky-user history's
/// from its table's migration).
pub const EQUALITY_INDEXES: &[EqualityIndex] = &[
    eq("sign_ins", "user_id", "sign_ins_by_user"),
    eq("sign_ins", "user_principal_name", "sign_ins_by_upn"),
    eq("sign_ins", "app_id", "sign_ins_by_app"),
    eq("sign_ins", "correlation_id", "sign_ins_by_correlation"),
    eq("sign_ins", "status_error_code", "sign_ins_by_error"),
    eq("sign_ins", "ip_address", "sign_ins_by_ip"),
    eq("sign_ins", "client_app_used", "sign_ins_by_client_app"),
    eq("sign_ins", "risk_level_during_sign_in", "sign_ins_by_risk"),
    eq("sign_ins", "app_display_name", "sign_ins_by_app_name"),
    eq("directory_audits", "category", "directory_audits_by_category"),
    eq("directory_audits", "activity_display_name", "directory_audits_by_activity"),
    eq("directory_audits", "logged_by_service", "directory_audits_by_service"),
    eq("directory_audits", "initiated_by_user_id", "directory_audits_by_user"),
    eq("directory_audits", "initiated_by_user_principal_name", "directory_audits_by_upn"),
    eq("directory_audits", "initiated_by_app_id", "directory_audits_by_app"),
    eq("directory_audits", "correlation_id", "directory_audits_by_correlation"),
    eq("risk_detections", "user_id", "risk_detections_by_user"),
    eq("risk_detections", "risk_event_type", "risk_detections_by_type"),
    eq("risk_detections", "risk_level", "risk_detections_by_level"),
    eq("risk_detections", "request_id", "risk_detections_by_request"),
    eq("risky_users", "risk_state", "risky_users_by_state"),
    eq("risky_users", "risk_level", "risky_users_by_level"),
    eq("risky_users", "user_principal_name", "risky_users_by_upn"),
    eq("risky_user_history", "user_id", "risky_user_history_by_user"),
];

/// The equality index of `table.column`, if the migrations made one.
#[must_use]
pub fn equality_index(table: &str, column: &str) -> Option<&'static EqualityIndex> {
    EQUALITY_INDEXES.iter().find(|i| i.table == table && i.column == column)
}

/// A partial index `(tenant_id, created_ticks DESC, id DESC) WHERE predicate` (migration
/// `..._filter_summaries`): the rows one common, selective filter matches, in the default order.
/// `predicate` is the text the filter compiler writes (on the alias `s`), the index's own
/// predicate on that alias: both databases use a partial index only for a query whose WHERE
/// clause contains its predicate as written, which a bound value never is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartialIndex {
    pub table: &'static str,
    pub name: &'static str,
    pub predicate: &'static str,
    /// The `$filter` it serves, for tests and messages.
    pub filter: &'static str,
}

/// `appliedConditionalAccessPolicies/any(p: p/result eq 'failure')`, from `sign_ins.ca_failed`.
pub const CA_FAILED: PartialIndex = PartialIndex {
    table: "sign_ins",
    name: "sign_ins_ca_failed",
    predicate: "s.ca_failed",
    filter: "appliedConditionalAccessPolicies/any(p: p/result eq 'failure')",
};

/// `riskLevelDuringSignIn ne 'none'`.
pub const RISKY: PartialIndex = PartialIndex {
    table: "sign_ins",
    name: "sign_ins_risky",
    predicate: "s.risk_level_during_sign_in IS NULL OR s.risk_level_during_sign_in <> 'none'",
    filter: "riskLevelDuringSignIn ne 'none'",
};

/// Every partial index.
pub const PARTIAL_INDEXES: &[PartialIndex] = &[CA_FAILED, RISKY];

/// An expression index `(tenant_id, left(column, PREFIX_CHARS), created_ticks DESC, id DESC)`,
/// PostgreSQL only (migration `..._prefix_indexes`): the rows whose `column` starts with one
/// string of [`PREFIX_CHARS`] characters, newest first. The filter compiler writes a
/// `startswith` of that many characters or more as the equality `left(column, PREFIX_CHARS) = ...`
/// plus, for a longer prefix, one check of the rest (its range, or its LIKE), so the newest page of
/// a prefix is read in order instead of every matching row of the window being read and sorted.
/// SQLite does without: its plan for the same page already costs about what the unfiltered page
/// costs (bench/ANALYSIS.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrefixIndex {
    pub table: &'static str,
    pub column: &'static str,
    pub name: &'static str,
}

/// The characters a [`PrefixIndex`] keeps of its column.
pub const PREFIX_CHARS: usize = 4;

/// Every prefix index.
pub const PREFIX_INDEXES: &[PrefixIndex] = &[
    PrefixIndex { table: "sign_ins", column: "user_principal_name", name: "sign_ins_by_upn_prefix" },
    PrefixIndex {
        table: "directory_audits",
        column: "initiated_by_user_principal_name",
        name: "directory_audits_by_upn_prefix",
    },
];

/// The prefix index of `table.column`, if the migrations made one.
#[must_use]
pub fn prefix_index(table: &str, column: &str) -> Option<&'static PrefixIndex> {
    PREFIX_INDEXES.iter().find(|i| i.table == table && i.column == column)
}
