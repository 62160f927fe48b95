-- Documents up to ~8 KB are stored in their row as they are, neither compressed nor moved to the
-- TOAST table. With PostgreSQL's default a row over 2 KB is compressed and, still over 2 KB,
-- moved out of line: a 2.3 KB sign-in (1.6 KB in LZ4) was read for a page through the TOAST
-- index and a second heap, then decompressed, a fifth of the server's time for a page of 50
-- (perf). Kept in the row as it is, the newest 50 are read ~1.5x as fast (pgbench on 20,000
-- sign-ins: 4,900 -> 7,750 statements/s), at the cost of disk: the rows are ~2.7 KB, two or
-- three to a page, and a table of sign-ins takes 25-40 % more space (20,000 sign-ins: 42.5 ->
-- 53.4 MB; 5 M: 18 GB for the day partitions, ~13 % more database; bench/ANALYSIS.md).
-- Documents larger than the target are still compressed with LZ4 (migration ..._lz4_documents).
-- The setting is a table's, not a partitioned table's: each day partition of sign_ins takes it
-- when it is created (storage/src/partitions.rs) and those already there take it here. Rows
-- already stored stay as they are until they are rewritten.
ALTER TABLE directory_audits SET (toast_tuple_target = 8160);
ALTER TABLE risk_detections SET (toast_tuple_target = 8160);
ALTER TABLE risky_users SET (toast_tuple_target = 8160);
ALTER TABLE risky_user_history SET (toast_tuple_target = 8160);
DO $$
DECLARE
    part regclass;
BEGIN
    FOR part IN SELECT inhrelid::regclass FROM pg_inherits WHERE inhparent = 'sign_ins'::regclass LOOP
        EXECUTE format('ALTER TABLE %s SET (toast_tuple_target = 8160)', part);
    END LOOP;
END
$$;
