DROP INDEX directory_audits_by_upn_prefix;
DROP INDEX sign_ins_by_upn_prefix;
