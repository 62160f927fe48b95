-- Sign-ins per tenant, UTC day, application and status/errorCode: sign_in_app_blocks summed per
-- day, kept by ingest beside it. A report's bucket reads its whole UTC days from here and only its
-- partial first and last days from the blocks: a 30-day weekly report reads about 30 rows per
-- (application, error code) instead of 2,880. The purge deletes the days wholly before its cutoff
-- and counts the cutoff's own day again from the blocks that remain.
CREATE TABLE sign_in_app_days (
    tenant_id TEXT NOT NULL,
    day_ticks BIGINT NOT NULL,
    app_id TEXT NOT NULL,
    error_code INTEGER NOT NULL,
    sign_ins BIGINT NOT NULL,
    -- The greatest sent ('' when absent), as in sign_in_app_blocks.
    app_display_name TEXT NOT NULL,
    failure_reason TEXT NOT NULL,
    PRIMARY KEY (tenant_id, day_ticks, app_id, error_code)
);

-- The days of the sign-ins stored before this table.
INSERT INTO sign_in_app_days (tenant_id, day_ticks, app_id, error_code, sign_ins, app_display_name, failure_reason)
SELECT tenant_id, (block_ticks / 864000000000) * 864000000000, app_id, error_code, SUM(sign_ins),
       MAX(app_display_name), MAX(failure_reason)
FROM sign_in_app_blocks
GROUP BY tenant_id, (block_ticks / 864000000000) * 864000000000, app_id, error_code;
