-- Every index that serves an equality filter ends with the default order's full key
-- (created_ticks DESC, id DESC), so "the newest N rows where column = v" is one index range read
-- in order and stops after N rows: no sort, and no walk of the time index that reads every row
-- of the window until N match (issue 20: appDisplayName eq ... read ~600 rows for 50 on SQLite,
-- 13.6x the cost of the same page from this index). The names stay (tests and EXPLAIN checks
-- name them).
DROP INDEX sign_ins_by_user;
CREATE INDEX sign_ins_by_user ON sign_ins (tenant_id, user_id, created_ticks DESC, id DESC);
DROP INDEX sign_ins_by_upn;
CREATE INDEX sign_ins_by_upn ON sign_ins (tenant_id, user_principal_name, created_ticks DESC, id DESC);
DROP INDEX sign_ins_by_app;
CREATE INDEX sign_ins_by_app ON sign_ins (tenant_id, app_id, created_ticks DESC, id DESC);
DROP INDEX sign_ins_by_correlation;
CREATE INDEX sign_ins_by_correlation ON sign_ins (tenant_id, correlation_id, created_ticks DESC, id DESC);
DROP INDEX sign_ins_by_error;
CREATE INDEX sign_ins_by_error ON sign_ins (tenant_id, status_error_code, created_ticks DESC, id DESC);
DROP INDEX sign_ins_by_ip;
CREATE INDEX sign_ins_by_ip ON sign_ins (tenant_id, ip_address, created_ticks DESC, id DESC);
DROP INDEX sign_ins_by_client_app;
CREATE INDEX sign_ins_by_client_app ON sign_ins (tenant_id, client_app_used, created_ticks DESC, id DESC);
DROP INDEX sign_ins_by_risk;
CREATE INDEX sign_ins_by_risk ON sign_ins (tenant_id, risk_level_during_sign_in, created_ticks DESC, id DESC);
DROP INDEX sign_ins_by_app_name;
CREATE INDEX sign_ins_by_app_name ON sign_ins (tenant_id, app_display_name, created_ticks DESC, id DESC);
DROP INDEX directory_audits_by_category;
CREATE INDEX directory_audits_by_category ON directory_audits (tenant_id, category, created_ticks DESC, id DESC);
DROP INDEX directory_audits_by_activity;
CREATE INDEX directory_audits_by_activity ON directory_audits (tenant_id, activity_display_name, created_ticks DESC, id DESC);
DROP INDEX directory_audits_by_service;
CREATE INDEX directory_audits_by_service ON directory_audits (tenant_id, logged_by_service, created_ticks DESC, id DESC);
DROP INDEX directory_audits_by_user;
CREATE INDEX directory_audits_by_user ON directory_audits (tenant_id, initiated_by_user_id, created_ticks DESC, id DESC);
DROP INDEX directory_audits_by_upn;
CREATE INDEX directory_audits_by_upn ON directory_audits (tenant_id, initiated_by_user_principal_name, created_ticks DESC, id DESC);
DROP INDEX directory_audits_by_app;
CREATE INDEX directory_audits_by_app ON directory_audits (tenant_id, initiated_by_app_id, created_ticks DESC, id DESC);
DROP INDEX directory_audits_by_correlation;
CREATE INDEX directory_audits_by_correlation ON directory_audits (tenant_id, correlation_id, created_ticks DESC, id DESC);
DROP INDEX risk_detections_by_user;
CREATE INDEX risk_detections_by_user ON risk_detections (tenant_id, user_id, created_ticks DESC, id DESC);
DROP INDEX risk_detections_by_type;
CREATE INDEX risk_detections_by_type ON risk_detections (tenant_id, risk_event_type, created_ticks DESC, id DESC);
DROP INDEX risk_detections_by_level;
CREATE INDEX risk_detections_by_level ON risk_detections (tenant_id, risk_level, created_ticks DESC, id DESC);
DROP INDEX risk_detections_by_request;
CREATE INDEX risk_detections_by_request ON risk_detections (tenant_id, request_id, created_ticks DESC, id DESC);
DROP INDEX risky_users_by_state;
CREATE INDEX risky_users_by_state ON risky_users (tenant_id, risk_state, created_ticks DESC, id DESC);
DROP INDEX risky_users_by_level;
CREATE INDEX risky_users_by_level ON risky_users (tenant_id, risk_level, created_ticks DESC, id DESC);
DROP INDEX risky_users_by_upn;
CREATE INDEX risky_users_by_upn ON risky_users (tenant_id, user_principal_name, created_ticks DESC, id DESC);

-- SQLite plans without statistics (idtrail never runs ANALYZE: on real data it once chose a 9x
-- worse plan for a UPN prefix). Without them, a keyset page (`(created_ticks, id) < (?, ?)`)
-- filtered by an equality walks the time index and reads every row of the window until 50
-- match, although the equality's index now serves the order. These hand-written statistics
-- say what holds for any tenant's data: a tenant has many rows, the time and the id are
-- near-unique, and one value of a filtered column matches a small part of them; so an equality
-- on an indexed column is planned from its index, on every page. (ANALYZE of the small
-- settings table only creates sqlite_stat1; the rows are then replaced by these.)
ANALYZE server_settings;
DELETE FROM sqlite_stat1 WHERE tbl IN ('sign_ins', 'directory_audits', 'risk_detections', 'risky_users');
INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES
    ('sign_ins', 'sign_ins_by_time', '1000000 100000 1 1'),
    ('sign_ins', 'sqlite_autoindex_sign_ins_1', '1000000 100000 1'),
    ('directory_audits', 'directory_audits_by_time', '1000000 100000 1 1'),
    ('directory_audits', 'sqlite_autoindex_directory_audits_1', '1000000 100000 1'),
    ('risk_detections', 'risk_detections_by_time', '1000000 100000 1 1'),
    ('risk_detections', 'sqlite_autoindex_risk_detections_1', '1000000 100000 1'),
    ('risky_users', 'risky_users_by_time', '1000000 100000 1 1'),
    ('risky_users', 'sqlite_autoindex_risky_users_1', '1000000 100000 1'),
    ('sign_ins', 'sign_ins_by_user', '1000000 100000 100 1 1'),
    ('sign_ins', 'sign_ins_by_upn', '1000000 100000 100 1 1'),
    ('sign_ins', 'sign_ins_by_app', '1000000 100000 100 1 1'),
    ('sign_ins', 'sign_ins_by_correlation', '1000000 100000 100 1 1'),
    ('sign_ins', 'sign_ins_by_error', '1000000 100000 100 1 1'),
    ('sign_ins', 'sign_ins_by_ip', '1000000 100000 100 1 1'),
    ('sign_ins', 'sign_ins_by_client_app', '1000000 100000 100 1 1'),
    ('sign_ins', 'sign_ins_by_risk', '1000000 100000 100 1 1'),
    ('sign_ins', 'sign_ins_by_app_name', '1000000 100000 100 1 1'),
    ('directory_audits', 'directory_audits_by_category', '1000000 100000 100 1 1'),
    ('directory_audits', 'directory_audits_by_activity', '1000000 100000 100 1 1'),
    ('directory_audits', 'directory_audits_by_service', '1000000 100000 100 1 1'),
    ('directory_audits', 'directory_audits_by_user', '1000000 100000 100 1 1'),
    ('directory_audits', 'directory_audits_by_upn', '1000000 100000 100 1 1'),
    ('directory_audits', 'directory_audits_by_app', '1000000 100000 100 1 1'),
    ('directory_audits', 'directory_audits_by_correlation', '1000000 100000 100 1 1'),
    ('risk_detections', 'risk_detections_by_user', '1000000 100000 100 1 1'),
    ('risk_detections', 'risk_detections_by_type', '1000000 100000 100 1 1'),
    ('risk_detections', 'risk_detections_by_level', '1000000 100000 100 1 1'),
    ('risk_detections', 'risk_detections_by_request', '1000000 100000 100 1 1'),
    ('risky_users', 'risky_users_by_state', '1000000 100000 100 1 1'),
    ('risky_users', 'risky_users_by_level', '1000000 100000 100 1 1'),
    ('risky_users', 'risky_users_by_upn', '1000000 100000 100 1 1');
