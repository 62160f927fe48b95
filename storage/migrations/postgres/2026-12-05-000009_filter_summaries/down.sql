DROP INDEX sign_ins_risky;
DROP INDEX sign_ins_ca_failed;
ALTER TABLE sign_ins DROP COLUMN ca_failed;
