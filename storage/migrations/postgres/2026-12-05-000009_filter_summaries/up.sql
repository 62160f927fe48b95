-- Two filters the portal runs all day match a small part of the sign-ins, and a page of them read
-- every row of the window newest first until 50 matched (issue 20: Q4 and Q5 cost 3x and 14x
-- the unfiltered page). A partial index holds exactly the matching rows in the default order
-- (created_ticks DESC, id DESC), so their newest 50 are a Merge Append of the day partitions'
-- index ranges, like the unfiltered page. The filter compiler (storage/src/filter.rs) writes these
-- predicates with the index's own text (no bound value), which is what lets the planner prove
-- that the index applies, in custom and generic plans alike.

-- appliedConditionalAccessPolicies/any(p: p/result eq 'failure'): whether any applied Conditional
-- Access policy failed, kept beside the row. Ingest fills it from the same policies it copies to
-- sign_in_ca_policies (storage/src/sign_ins.rs); sign-ins are never updated, so it cannot drift.
ALTER TABLE sign_ins ADD COLUMN ca_failed BOOLEAN NOT NULL DEFAULT false;
UPDATE sign_ins s SET ca_failed = true
WHERE EXISTS (
    SELECT 1 FROM sign_in_ca_policies c
    WHERE c.tenant_id = s.tenant_id AND c.sign_in_id = s.id AND c.created_ticks = s.created_ticks
      AND c.result = 'failure'
);
CREATE INDEX sign_ins_ca_failed ON sign_ins (tenant_id, created_ticks DESC, id DESC) WHERE ca_failed;

-- riskLevelDuringSignIn ne 'none' (a null level is not 'none', as in every other filter).
CREATE INDEX sign_ins_risky ON sign_ins (tenant_id, created_ticks DESC, id DESC)
WHERE risk_level_during_sign_in IS NULL OR risk_level_during_sign_in <> 'none';
