-- idtrail schema, PostgreSQL. Same logical schema as SQLite; event tables are range-partitioned
-- by day on created_ticks (100-ns ticks since the Unix epoch), partitions are created by the
-- service ahead of time and on ingest. Every key and index leads with tenant_id, so the schema
-- distributes by tenant unchanged (see ARCHITECTURE.md). Text columns use the C collation so
-- that ordering and comparisons are bytewise, as on SQLite, and LIKE 'prefix%' uses plain indexes.

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

-- One row per stored sign-in: makes ingest idempotent by id across partitions (a unique index on
-- a partitioned table must contain the partition key) and finds a sign-in's partition by id.
CREATE TABLE sign_in_keys (
    tenant_id TEXT COLLATE "C" NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    created_ticks BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX sign_in_keys_by_time ON sign_in_keys (created_ticks);

CREATE TABLE sign_ins (
    tenant_id TEXT COLLATE "C" NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    created_ticks BIGINT NOT NULL,
    user_id TEXT COLLATE "C" NOT NULL,
    user_principal_name TEXT COLLATE "C",
    user_display_name TEXT COLLATE "C",
    app_id TEXT COLLATE "C",
    app_display_name TEXT COLLATE "C",
    ip_address TEXT COLLATE "C",
    client_app_used TEXT COLLATE "C",
    correlation_id TEXT COLLATE "C",
    conditional_access_status TEXT COLLATE "C",
    is_interactive BOOLEAN,
    risk_detail TEXT COLLATE "C",
    risk_level_aggregated TEXT COLLATE "C",
    risk_level_during_sign_in TEXT COLLATE "C",
    risk_state TEXT COLLATE "C",
    resource_display_name TEXT COLLATE "C",
    resource_id TEXT COLLATE "C",
    status_error_code INTEGER,
    device_browser TEXT COLLATE "C",
    device_operating_system TEXT COLLATE "C",
    location_city TEXT COLLATE "C",
    location_state TEXT COLLATE "C",
    location_country_or_region TEXT COLLATE "C",
    service_principal_id TEXT COLLATE "C",
    service_principal_name TEXT COLLATE "C",
    user_agent TEXT COLLATE "C",
    doc TEXT COLLATE "C" NOT NULL,
    doc_extra TEXT COLLATE "C",
    PRIMARY KEY (tenant_id, created_ticks, id)
) PARTITION BY RANGE (created_ticks);

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
    tenant_id TEXT COLLATE "C" NOT NULL,
    sign_in_id TEXT COLLATE "C" NOT NULL,
    created_ticks BIGINT NOT NULL,
    ordinal INTEGER NOT NULL,
    policy_id TEXT COLLATE "C",
    display_name TEXT COLLATE "C",
    result TEXT COLLATE "C",
    PRIMARY KEY (tenant_id, sign_in_id, created_ticks, ordinal)
) PARTITION BY RANGE (created_ticks);

CREATE TABLE sign_in_risk_event_types (
    tenant_id TEXT COLLATE "C" NOT NULL,
    sign_in_id TEXT COLLATE "C" NOT NULL,
    created_ticks BIGINT NOT NULL,
    version INTEGER NOT NULL,
    ordinal INTEGER NOT NULL,
    value TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (tenant_id, sign_in_id, created_ticks, version, ordinal)
) PARTITION BY RANGE (created_ticks);
