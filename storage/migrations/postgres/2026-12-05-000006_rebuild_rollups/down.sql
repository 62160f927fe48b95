DROP TABLE storage_tasks;
