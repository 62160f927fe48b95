-- The child tables as 2026-11-27-000001 made them: rowid tables keyed by (tenant, sign-in id).
CREATE TABLE sign_in_ca_policies_by_id (
    tenant_id TEXT NOT NULL,
    sign_in_id TEXT NOT NULL,
    created_ticks BIGINT NOT NULL,
    ordinal INTEGER NOT NULL,
    policy_id TEXT,
    display_name TEXT,
    result TEXT,
    PRIMARY KEY (tenant_id, sign_in_id, ordinal)
);
INSERT INTO sign_in_ca_policies_by_id
    SELECT tenant_id, sign_in_id, created_ticks, ordinal, policy_id, display_name, result FROM sign_in_ca_policies;
DROP TABLE sign_in_ca_policies;
ALTER TABLE sign_in_ca_policies_by_id RENAME TO sign_in_ca_policies;

CREATE TABLE sign_in_risk_event_types_by_id (
    tenant_id TEXT NOT NULL,
    sign_in_id TEXT NOT NULL,
    created_ticks BIGINT NOT NULL,
    version INTEGER NOT NULL,
    ordinal INTEGER NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (tenant_id, sign_in_id, version, ordinal)
);
INSERT INTO sign_in_risk_event_types_by_id
    SELECT tenant_id, sign_in_id, created_ticks, version, ordinal, value FROM sign_in_risk_event_types;
DROP TABLE sign_in_risk_event_types;
ALTER TABLE sign_in_risk_event_types_by_id RENAME TO sign_in_risk_event_types;
