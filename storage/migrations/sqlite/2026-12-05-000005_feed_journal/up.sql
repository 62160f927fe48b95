-- The checkpoint feed (`GET .../delta`): one row per stored record in the order ingest
-- transactions committed. SQLite has one writer at a time (the process's writer connection, and
-- `BEGIN IMMEDIATE` across processes), so a seq taken inside the write transaction is in commit
-- order already; AUTOINCREMENT never hands out a seq again, even after the highest rows are purged.
-- set_name is the set's last path segment (`signIns`, `directoryAudits`, `riskDetections`,
-- `riskyUsers`); created_ticks is the record's own time when the entry was written; user_id the
-- sign-in's user, so a user's own feed reads only their entries.
CREATE TABLE feed_journal (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id TEXT NOT NULL,
    set_name TEXT NOT NULL,
    id TEXT NOT NULL,
    created_ticks BIGINT NOT NULL,
    user_id TEXT
);
CREATE INDEX feed_journal_by_seq ON feed_journal (tenant_id, set_name, seq);
CREATE INDEX feed_journal_by_id ON feed_journal (tenant_id, set_name, id);
CREATE INDEX feed_journal_by_user ON feed_journal (tenant_id, set_name, user_id, seq);

-- What was stored before the feed existed, oldest first, so a first sync sees it.
INSERT INTO feed_journal (tenant_id, set_name, id, created_ticks, user_id)
    SELECT tenant_id, 'signIns', id, created_ticks, user_id FROM sign_ins ORDER BY created_ticks, id;
INSERT INTO feed_journal (tenant_id, set_name, id, created_ticks)
    SELECT tenant_id, 'directoryAudits', id, created_ticks FROM directory_audits ORDER BY created_ticks, id;
INSERT INTO feed_journal (tenant_id, set_name, id, created_ticks)
    SELECT tenant_id, 'riskDetections', id, created_ticks FROM risk_detections ORDER BY created_ticks, id;
INSERT INTO feed_journal (tenant_id, set_name, id, created_ticks)
    SELECT tenant_id, 'riskyUsers', id, created_ticks FROM risky_users ORDER BY created_ticks, id;
