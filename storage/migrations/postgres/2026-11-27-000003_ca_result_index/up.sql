-- `appliedConditionalAccessPolicies/any(p: p/result eq '...')` starts from the policy rows with
-- that result instead of probing every sign-in's policies: over 4 million sign-ins the per-row
-- EXISTS took seconds, because few sign-ins match and the LIMIT never stops the scan early
-- (bench/ANALYSIS.md, Q5). The planner joins from here when the result is rare.
CREATE INDEX sign_in_ca_policies_by_result
    ON sign_in_ca_policies (tenant_id, result, created_ticks DESC, sign_in_id);
