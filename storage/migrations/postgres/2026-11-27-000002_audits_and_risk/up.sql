-- Directory audits, risk detections, risky users and their history. Same conventions as the
-- sign-ins: tenant_id leads every key and index, created_ticks is the set's time in 100-ns ticks
-- (activityDateTime, detectedDateTime, riskLastUpdatedDateTime), text columns hold lower case.
-- These sets are far smaller than sign-ins, so they are plain tables (no day partitions).

CREATE TABLE directory_audits (
    tenant_id TEXT COLLATE "C" NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    created_ticks BIGINT NOT NULL,
    activity_display_name TEXT COLLATE "C",
    category TEXT COLLATE "C",
    correlation_id TEXT COLLATE "C",
    logged_by_service TEXT COLLATE "C",
    operation_type TEXT COLLATE "C",
    result TEXT COLLATE "C",
    initiated_by_user_id TEXT COLLATE "C",
    initiated_by_user_display_name TEXT COLLATE "C",
    initiated_by_user_principal_name TEXT COLLATE "C",
    initiated_by_app_id TEXT COLLATE "C",
    initiated_by_app_display_name TEXT COLLATE "C",
    doc TEXT COLLATE "C" NOT NULL,
    doc_extra TEXT COLLATE "C",
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX directory_audits_by_time ON directory_audits (tenant_id, created_ticks DESC, id DESC);
CREATE INDEX directory_audits_by_category ON directory_audits (tenant_id, category, created_ticks DESC);
CREATE INDEX directory_audits_by_activity ON directory_audits (tenant_id, activity_display_name, created_ticks DESC);
CREATE INDEX directory_audits_by_service ON directory_audits (tenant_id, logged_by_service, created_ticks DESC);
CREATE INDEX directory_audits_by_user ON directory_audits (tenant_id, initiated_by_user_id, created_ticks DESC);
CREATE INDEX directory_audits_by_upn ON directory_audits (tenant_id, initiated_by_user_principal_name, created_ticks DESC);
CREATE INDEX directory_audits_by_app ON directory_audits (tenant_id, initiated_by_app_id, created_ticks DESC);
CREATE INDEX directory_audits_by_correlation ON directory_audits (tenant_id, correlation_id);

-- targetResources and additionalDetails, one row per element, so any()/all() become EXISTS.
CREATE TABLE directory_audit_targets (
    tenant_id TEXT COLLATE "C" NOT NULL,
    audit_id TEXT COLLATE "C" NOT NULL,
    created_ticks BIGINT NOT NULL,
    ordinal INTEGER NOT NULL,
    resource_id TEXT COLLATE "C",
    display_name TEXT COLLATE "C",
    kind TEXT COLLATE "C",
    user_principal_name TEXT COLLATE "C",
    group_type TEXT COLLATE "C",
    PRIMARY KEY (tenant_id, audit_id, ordinal)
);
CREATE INDEX directory_audit_targets_by_resource ON directory_audit_targets (tenant_id, resource_id);
CREATE INDEX directory_audit_targets_by_name ON directory_audit_targets (tenant_id, display_name);

CREATE TABLE directory_audit_details (
    tenant_id TEXT COLLATE "C" NOT NULL,
    audit_id TEXT COLLATE "C" NOT NULL,
    created_ticks BIGINT NOT NULL,
    ordinal INTEGER NOT NULL,
    detail_key TEXT COLLATE "C",
    detail_value TEXT COLLATE "C",
    PRIMARY KEY (tenant_id, audit_id, ordinal)
);

CREATE TABLE risk_detections (
    tenant_id TEXT COLLATE "C" NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    created_ticks BIGINT NOT NULL,
    activity_ticks BIGINT,
    last_updated_ticks BIGINT,
    request_id TEXT COLLATE "C",
    correlation_id TEXT COLLATE "C",
    risk_event_type TEXT COLLATE "C",
    risk_state TEXT COLLATE "C",
    risk_level TEXT COLLATE "C",
    risk_detail TEXT COLLATE "C",
    source TEXT COLLATE "C",
    detection_timing_type TEXT COLLATE "C",
    activity TEXT COLLATE "C",
    token_issuer_type TEXT COLLATE "C",
    ip_address TEXT COLLATE "C",
    user_id TEXT COLLATE "C",
    user_display_name TEXT COLLATE "C",
    user_principal_name TEXT COLLATE "C",
    location_city TEXT COLLATE "C",
    location_state TEXT COLLATE "C",
    location_country_or_region TEXT COLLATE "C",
    doc TEXT COLLATE "C" NOT NULL,
    doc_extra TEXT COLLATE "C",
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX risk_detections_by_time ON risk_detections (tenant_id, created_ticks DESC, id DESC);
CREATE INDEX risk_detections_by_user ON risk_detections (tenant_id, user_id, created_ticks DESC);
CREATE INDEX risk_detections_by_type ON risk_detections (tenant_id, risk_event_type, created_ticks DESC);
CREATE INDEX risk_detections_by_level ON risk_detections (tenant_id, risk_level, created_ticks DESC);
CREATE INDEX risk_detections_by_request ON risk_detections (tenant_id, request_id);

-- The current state of each risky user; created_ticks is riskLastUpdatedDateTime.
CREATE TABLE risky_users (
    tenant_id TEXT COLLATE "C" NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    created_ticks BIGINT NOT NULL,
    is_deleted BOOLEAN,
    is_processing BOOLEAN,
    risk_detail TEXT COLLATE "C",
    risk_level TEXT COLLATE "C",
    risk_state TEXT COLLATE "C",
    user_display_name TEXT COLLATE "C",
    user_principal_name TEXT COLLATE "C",
    doc TEXT COLLATE "C" NOT NULL,
    doc_extra TEXT COLLATE "C",
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX risky_users_by_time ON risky_users (tenant_id, created_ticks DESC, id DESC);
CREATE INDEX risky_users_by_state ON risky_users (tenant_id, risk_state, created_ticks DESC);
CREATE INDEX risky_users_by_level ON risky_users (tenant_id, risk_level, created_ticks DESC);
CREATE INDEX risky_users_by_upn ON risky_users (tenant_id, user_principal_name);

-- Append-only: every change of a user's risk, from ingest or from an admin action.
CREATE TABLE risky_user_history (
    tenant_id TEXT COLLATE "C" NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    created_ticks BIGINT NOT NULL,
    user_id TEXT COLLATE "C" NOT NULL,
    initiated_by TEXT COLLATE "C",
    is_deleted BOOLEAN,
    is_processing BOOLEAN,
    risk_detail TEXT COLLATE "C",
    risk_level TEXT COLLATE "C",
    risk_state TEXT COLLATE "C",
    user_display_name TEXT COLLATE "C",
    user_principal_name TEXT COLLATE "C",
    doc TEXT COLLATE "C" NOT NULL,
    doc_extra TEXT COLLATE "C",
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX risky_user_history_by_user ON risky_user_history (tenant_id, user_id, created_ticks DESC, id DESC);
