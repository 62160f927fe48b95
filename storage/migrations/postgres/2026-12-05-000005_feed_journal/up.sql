-- The checkpoint feed (`GET .../delta`): one row per stored record, in commit order. An identity
-- value is taken when it is asked for, not at commit, so every ingest transaction takes the
-- tenant's transaction-level advisory lock just before it appends here (storage/src/feed.rs):
-- the lock is held from the first seq taken to the commit, so a later seq of the tenant is only
-- ever taken after every earlier one is committed and visible. set_name is the set's last path
-- segment; created_ticks is the record's own time (sign-ins: it finds the day partition); user_id
-- the sign-in's user, so a user's own feed reads only their entries.
CREATE TABLE feed_journal (
    tenant_id TEXT COLLATE "C" NOT NULL,
    set_name TEXT COLLATE "C" NOT NULL,
    seq BIGINT GENERATED ALWAYS AS IDENTITY,
    id TEXT COLLATE "C" NOT NULL,
    created_ticks BIGINT NOT NULL,
    user_id TEXT COLLATE "C",
    PRIMARY KEY (tenant_id, set_name, seq)
);
CREATE INDEX feed_journal_by_id ON feed_journal (tenant_id, set_name, id);
CREATE INDEX feed_journal_by_user ON feed_journal (tenant_id, set_name, user_id, seq);
CREATE INDEX feed_journal_by_time ON feed_journal (created_ticks) WHERE set_name = 'signIns';

-- What was stored before the feed existed, oldest first, so a first sync sees it.
INSERT INTO feed_journal (tenant_id, set_name, id, created_ticks, user_id)
    SELECT tenant_id, 'signIns', id, created_ticks, user_id FROM sign_ins ORDER BY created_ticks, id;
INSERT INTO feed_journal (tenant_id, set_name, id, created_ticks)
    SELECT tenant_id, 'directoryAudits', id, created_ticks FROM directory_audits ORDER BY created_ticks, id;
INSERT INTO feed_journal (tenant_id, set_name, id, created_ticks)
    SELECT tenant_id, 'riskDetections', id, created_ticks FROM risk_detections ORDER BY created_ticks, id;
INSERT INTO feed_journal (tenant_id, set_name, id, created_ticks)
    SELECT tenant_id, 'riskyUsers', id, created_ticks FROM risky_users ORDER BY created_ticks, id;
