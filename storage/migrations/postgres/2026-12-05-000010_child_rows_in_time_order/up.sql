-- SQLite's child tables are now keyed by the sign-in's time (see the SQLite migration of the same
-- number). PostgreSQL needs no change: its child tables are partitioned by day like sign_ins,
-- so a batch's child rows already go into the newest partitions, and COPY writes them.
SELECT 1;
