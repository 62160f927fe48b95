-- A sign-in's child rows (its Conditional Access policies and risk event types) are keyed by
-- the sign-in's time, in one B-tree: WITHOUT ROWID, primary key (tenant_id, created_ticks,
-- sign_in_id, ...). Before, each was a rowid table plus the primary key's index on (tenant_id,
-- sign_in_id, ...): two B-trees per row, and the index took rows in the random order of the
-- sign-in GUIDs. At 250,000 sign-ins that index was the largest random-order B-tree of the
-- database (87 MB for 950,000 policy rows, more than the writer's page cache), so every ingest
-- commit dirtied and wrote to the WAL a large part of it (issue 20, part 4; bench/ANALYSIS.md).
-- Time-keyed, a batch's child rows go where the newest rows are, as the table's own rows do.
--
-- Every read of child rows names the sign-in's time (`filter.rs` joins on tenant, id and
-- created_ticks, as the day-partitioned PostgreSQL tables need), so the new key serves the
-- lambdas' EXISTS as the old one did; purge deletes child rows by tenant, time range and id.
-- The sign-in's id and time never change, so (tenant, time, id, ordinal) is as unique as
-- (tenant, id, ordinal) was. Columns keep their order (the bench's baseline copies with
-- SELECT *).
CREATE TABLE sign_in_ca_policies_by_time (
    tenant_id TEXT NOT NULL,
    sign_in_id TEXT NOT NULL,
    created_ticks BIGINT NOT NULL,
    ordinal INTEGER NOT NULL,
    policy_id TEXT,
    display_name TEXT,
    result TEXT,
    PRIMARY KEY (tenant_id, created_ticks, sign_in_id, ordinal)
) WITHOUT ROWID;
INSERT INTO sign_in_ca_policies_by_time
    SELECT tenant_id, sign_in_id, created_ticks, ordinal, policy_id, display_name, result
    FROM sign_in_ca_policies ORDER BY tenant_id, created_ticks, sign_in_id, ordinal;
DROP TABLE sign_in_ca_policies;
ALTER TABLE sign_in_ca_policies_by_time RENAME TO sign_in_ca_policies;

CREATE TABLE sign_in_risk_event_types_by_time (
    tenant_id TEXT NOT NULL,
    sign_in_id TEXT NOT NULL,
    created_ticks BIGINT NOT NULL,
    version INTEGER NOT NULL,
    ordinal INTEGER NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (tenant_id, created_ticks, sign_in_id, version, ordinal)
) WITHOUT ROWID;
INSERT INTO sign_in_risk_event_types_by_time
    SELECT tenant_id, sign_in_id, created_ticks, version, ordinal, value
    FROM sign_in_risk_event_types ORDER BY tenant_id, created_ticks, sign_in_id, version, ordinal;
DROP TABLE sign_in_risk_event_types;
ALTER TABLE sign_in_risk_event_types_by_time RENAME TO sign_in_risk_event_types;
