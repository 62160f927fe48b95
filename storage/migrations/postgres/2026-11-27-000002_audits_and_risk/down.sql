DROP TABLE risky_user_history;
DROP TABLE risky_users;
DROP TABLE risk_detections;
DROP TABLE directory_audit_details;
DROP TABLE directory_audit_targets;
DROP TABLE directory_audits;
