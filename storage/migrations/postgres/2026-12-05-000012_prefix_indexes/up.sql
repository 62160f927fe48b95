-- A user-name prefix over a week (issue 20, Q2: startswith(userPrincipalName,'alex') and
-- createdDateTime ge ...) read every matching row of the window from sign_ins_by_upn's range and
-- sorted them (4,815 rows for a 50-row page at 5 M sign-ins, 5.7x the unfiltered page): a range
-- of user names is not in time order. An index on the name's first 4 characters is: rows of one
-- key, newest first, so a prefix of 4 characters or more reads its newest rows in order (a Merge
-- Append of the day partitions' ranges), checking the rest of the prefix on each. The filter
-- compiler adds `left(column, 4) = <the prefix's first 4 characters>` for such a prefix
-- (storage/src/filter.rs, storage/src/indexes.rs PREFIX_INDEXES), which is what lets the planner
-- use the index in custom and generic plans alike.
CREATE INDEX sign_ins_by_upn_prefix
    ON sign_ins (tenant_id, left(user_principal_name, 4), created_ticks DESC, id DESC);
CREATE INDEX directory_audits_by_upn_prefix
    ON directory_audits (tenant_id, left(initiated_by_user_principal_name, 4), created_ticks DESC, id DESC);

-- The planner estimates `left(column, 4) = ...` from statistics of the indexed expression, which
-- only ANALYZE gathers; without them it takes every key for rare and sorts. Autovacuum analyzes a
-- table only after enough of it changed, so a database that already holds sign-ins gets them here.
ANALYZE sign_ins;
ANALYZE directory_audits;
