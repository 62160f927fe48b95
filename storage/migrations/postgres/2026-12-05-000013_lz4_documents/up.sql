-- Documents are compressed with LZ4 instead of PostgreSQL's default pglz: a page of 50 sign-ins
-- spent a third of its PostgreSQL time decompressing them (perf, bench/ANALYSIS.md). LZ4
-- decompresses the same documents about three times faster for the same size (2.3 KB sign-ins
-- stored in ~1.6 KB either way), and compresses faster at ingest. Day partitions made later take
-- the setting from their table; rows already stored keep pglz until they are rewritten (both
-- read the same). A server built without LZ4 keeps pglz.
DO $$
BEGIN
    ALTER TABLE sign_ins ALTER COLUMN doc SET COMPRESSION lz4, ALTER COLUMN doc_extra SET COMPRESSION lz4;
    ALTER TABLE directory_audits ALTER COLUMN doc SET COMPRESSION lz4, ALTER COLUMN doc_extra SET COMPRESSION lz4;
    ALTER TABLE risk_detections ALTER COLUMN doc SET COMPRESSION lz4, ALTER COLUMN doc_extra SET COMPRESSION lz4;
    ALTER TABLE risky_users ALTER COLUMN doc SET COMPRESSION lz4, ALTER COLUMN doc_extra SET COMPRESSION lz4;
    ALTER TABLE risky_user_history ALTER COLUMN doc SET COMPRESSION lz4, ALTER COLUMN doc_extra SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'this PostgreSQL has no LZ4; documents stay pglz-compressed';
END
$$;
