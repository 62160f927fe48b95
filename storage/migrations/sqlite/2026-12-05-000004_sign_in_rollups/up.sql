-- Rollups of sign-ins, kept by ingest in the transaction that stores the sign-ins (only for rows
-- that went in) and purged with them, so that reports read these instead of scanning sign_ins.
-- block_ticks is the start of a 15-minute UTC block (every real time zone's hours and days are
-- unions of them); app_id is '' when absent.

-- Sign-ins per tenant, block, application and status/errorCode (-1 when absent; 0 is success),
-- which Graph's applicationSignInDetailedSummary groups by.
CREATE TABLE sign_in_app_blocks (
    tenant_id TEXT NOT NULL,
    block_ticks BIGINT NOT NULL,
    app_id TEXT NOT NULL,
    error_code INTEGER NOT NULL,
    sign_ins BIGINT NOT NULL,
    -- As last sent ('' when absent).
    app_display_name TEXT NOT NULL,
    failure_reason TEXT NOT NULL,
    PRIMARY KEY (tenant_id, block_ticks, app_id, error_code)
) WITHOUT ROWID;

-- Presence: one row per user, application and status class (failed: 0 when status/errorCode is
-- 0, else 1) in each block where the user signed in, with the count, so distinct users of any union of blocks are exact in any time zone.
CREATE TABLE sign_in_user_blocks (
    tenant_id TEXT NOT NULL,
    block_ticks BIGINT NOT NULL,
    user_id TEXT NOT NULL,
    app_id TEXT NOT NULL,
    failed INTEGER NOT NULL,
    sign_ins BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, block_ticks, user_id, app_id, failed)
) WITHOUT ROWID;
CREATE INDEX sign_in_user_blocks_by_user ON sign_in_user_blocks (tenant_id, user_id, block_ticks);

-- Distinct users without scanning one row per sign-in: per tenant, UTC day and user (and per
-- application), the 96 blocks of the day the user signed in, as a bitmap (bits 0-63 of the day's
-- blocks in bits_lo, 64-95 in bits_hi). A bucket of any time zone is a set of blocks, so a user
-- counts in it when some touched day's bitmap meets the bucket's mask. Rows: users x days.
CREATE TABLE sign_in_presence (
    tenant_id TEXT NOT NULL,
    day_ticks BIGINT NOT NULL,
    user_id TEXT NOT NULL,
    bits_lo BIGINT NOT NULL,
    bits_hi BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, day_ticks, user_id)
) WITHOUT ROWID;

CREATE TABLE sign_in_app_presence (
    tenant_id TEXT NOT NULL,
    day_ticks BIGINT NOT NULL,
    app_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    bits_lo BIGINT NOT NULL,
    bits_hi BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, day_ticks, app_id, user_id)
) WITHOUT ROWID;
