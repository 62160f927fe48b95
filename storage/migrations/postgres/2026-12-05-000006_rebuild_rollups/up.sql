-- Work the storage layer does at its next start, once: a row per task, removed when it is done.
-- A database that already held sign-ins when the rollups (2026-12-05-000004) were added has
-- rollups for none of them, or only for those ingested since: the rollups are rebuilt from the
-- stored sign-ins, tenant by tenant (Store::run_storage_tasks).
CREATE TABLE storage_tasks (
    name TEXT PRIMARY KEY
);
INSERT INTO storage_tasks (name) SELECT 'rebuild_rollups' WHERE EXISTS (SELECT 1 FROM sign_ins);
