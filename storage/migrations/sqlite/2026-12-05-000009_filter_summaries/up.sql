-- Two filters the portal runs all day match a small part of the sign-ins, and a page of them read
-- every row of the window newest first until 50 matched (issue 20: Q4 and Q5 cost 17x and 36x
-- the unfiltered page). A partial index holds exactly the matching rows in the default order
-- (created_ticks DESC, id DESC), so their newest 50 are one ordered index range, like the
-- unfiltered page. The filter compiler (storage/src/filter.rs) writes these predicates with the
-- index's own text, which is what lets each database see that the index applies.

-- appliedConditionalAccessPolicies/any(p: p/result eq 'failure'): whether any applied Conditional
-- Access policy failed, kept beside the row. Ingest fills it from the same policies it writes to
-- sign_in_ca_policies (storage/src/sign_ins.rs); sign-ins are never updated, so it cannot drift.
ALTER TABLE sign_ins ADD COLUMN ca_failed BOOLEAN NOT NULL DEFAULT 0;
UPDATE sign_ins SET ca_failed = 1
WHERE EXISTS (
    SELECT 1 FROM sign_in_ca_policies c
    WHERE c.tenant_id = sign_ins.tenant_id AND c.sign_in_id = sign_ins.id AND c.result = 'failure'
);
CREATE INDEX sign_ins_ca_failed ON sign_ins (tenant_id, created_ticks DESC, id DESC) WHERE ca_failed;

-- riskLevelDuringSignIn ne 'none' (a null level is not 'none', as in every other filter).
CREATE INDEX sign_ins_risky ON sign_ins (tenant_id, created_ticks DESC, id DESC)
WHERE risk_level_during_sign_in IS NULL OR risk_level_during_sign_in <> 'none';

-- Hand-written statistics as for the other indexes (2026-12-05-000007): a partial index holds a
-- small part of the rows, so SQLite prefers it to walking the time index.
INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES
    ('sign_ins', 'sign_ins_ca_failed', '20000 2000 1 1'),
    ('sign_ins', 'sign_ins_risky', '20000 2000 1 1');
