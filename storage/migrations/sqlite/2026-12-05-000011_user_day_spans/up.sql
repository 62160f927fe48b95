-- The days each user signed in, per tenant and span of 63 UTC days, as the bits of one bigint
-- (bit n: the span's day n); and the same per application. A report's distinct users over whole
-- days read one row per user and span here instead of one per user and day from
-- sign_in_presence (30 times fewer rows for a 30-day report); its partial first and last days
-- still read the 15-minute bits of sign_in_presence. Kept by ingest beside the presence rows, in
-- the same transaction; the purge clears the bits of the days it removes.
CREATE TABLE sign_in_user_spans (
    tenant_id TEXT NOT NULL,
    -- The span's first day (ticks); spans start every 63 days from 1970-01-01.
    span_ticks BIGINT NOT NULL,
    user_id TEXT NOT NULL,
    days BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, span_ticks, user_id)
) WITHOUT ROWID;

CREATE TABLE sign_in_app_user_spans (
    tenant_id TEXT NOT NULL,
    span_ticks BIGINT NOT NULL,
    app_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    days BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, span_ticks, app_id, user_id)
) WITHOUT ROWID;

-- The spans of the sign-ins stored before these tables (a presence row exists only for a day with
-- a sign-in; each (user, day) is one row, so the sum of the day bits is their union).
INSERT INTO sign_in_user_spans (tenant_id, span_ticks, user_id, days)
SELECT tenant_id, (day_ticks / 864000000000 / 63) * 63 * 864000000000, user_id,
       CAST(SUM(CAST(1 AS BIGINT) << CAST((day_ticks / 864000000000) % 63 AS INTEGER)) AS BIGINT)
FROM sign_in_presence
GROUP BY tenant_id, (day_ticks / 864000000000 / 63) * 63 * 864000000000, user_id;

INSERT INTO sign_in_app_user_spans (tenant_id, span_ticks, app_id, user_id, days)
SELECT tenant_id, (day_ticks / 864000000000 / 63) * 63 * 864000000000, app_id, user_id,
       CAST(SUM(CAST(1 AS BIGINT) << CAST((day_ticks / 864000000000) % 63 AS INTEGER)) AS BIGINT)
FROM sign_in_app_presence
GROUP BY tenant_id, (day_ticks / 864000000000 / 63) * 63 * 864000000000, app_id, user_id;
