-- idtrail schema, SQLite. Timestamps are 100-ns ticks since the Unix epoch (BIGINT), so Graph's
-- 7 fractional digits sort and page exactly. Promoted text columns hold the lower-case value
-- (Graph compares strings case-insensitively); the document keeps the original.

CREATE TABLE tenants (
    id TEXT PRIMARY KEY NOT NULL,
    display_name TEXT,
    license_tier TEXT NOT NULL CHECK (license_tier IN ('free', 'p1', 'p2')),
    created_ticks BIGINT NOT NULL
);

CREATE TABLE server_settings (
    name TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);

CREATE TABLE sign_ins (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    created_ticks BIGINT NOT NULL,
    user_id TEXT NOT NULL,
    user_principal_name TEXT,
    user_display_name TEXT,
    app_id TEXT,
    app_display_name TEXT,
    ip_address TEXT,
    client_app_used TEXT,
    correlation_id TEXT,
    conditional_access_status TEXT,
    is_interactive BOOLEAN,
    risk_detail TEXT,
    risk_level_aggregated TEXT,
    risk_level_during_sign_in TEXT,
    risk_state TEXT,
    resource_display_name TEXT,
    resource_id TEXT,
    status_error_code INTEGER,
    device_browser TEXT,
    device_operating_system TEXT,
    location_city TEXT,
    location_state TEXT,
    location_country_or_region TEXT,
    service_principal_id TEXT,
    service_principal_name TEXT,
    user_agent TEXT,
    doc TEXT NOT NULL,
    doc_extra TEXT,
    PRIMARY KEY (tenant_id, id)
);

CREATE INDEX sign_ins_by_time ON sign_ins (tenant_id, created_ticks DESC, id DESC);
CREATE INDEX sign_ins_by_user ON sign_ins (tenant_id, user_id, created_ticks DESC);
CREATE INDEX sign_ins_by_upn ON sign_ins (tenant_id, user_principal_name, created_ticks DESC);
CREATE INDEX sign_ins_by_app ON sign_ins (tenant_id, app_id, created_ticks DESC);
CREATE INDEX sign_ins_by_correlation ON sign_ins (tenant_id, correlation_id);
-- The portal's filters: status, IP address, client app, risk, application name.
CREATE INDEX sign_ins_by_error ON sign_ins (tenant_id, status_error_code, created_ticks DESC);
CREATE INDEX sign_ins_by_ip ON sign_ins (tenant_id, ip_address, created_ticks DESC);
CREATE INDEX sign_ins_by_client_app ON sign_ins (tenant_id, client_app_used, created_ticks DESC);
CREATE INDEX sign_ins_by_risk ON sign_ins (tenant_id, risk_level_during_sign_in, created_ticks DESC);
CREATE INDEX sign_ins_by_app_name ON sign_ins (tenant_id, app_display_name, created_ticks DESC);

CREATE TABLE sign_in_ca_policies (
    tenant_id TEXT NOT NULL,
    sign_in_id TEXT NOT NULL,
    created_ticks BIGINT NOT NULL,
    ordinal INTEGER NOT NULL,
    policy_id TEXT,
    display_name TEXT,
    result TEXT,
    PRIMARY KEY (tenant_id, sign_in_id, ordinal)
);

CREATE TABLE sign_in_risk_event_types (
    tenant_id TEXT NOT NULL,
    sign_in_id TEXT NOT NULL,
    created_ticks BIGINT NOT NULL,
    version INTEGER NOT NULL,
    ordinal INTEGER NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (tenant_id, sign_in_id, version, ordinal)
);
