DROP TABLE sign_in_risk_event_types;
DROP TABLE sign_in_ca_policies;
DROP TABLE sign_ins;
DROP TABLE sign_in_keys;
DROP TABLE server_settings;
DROP TABLE tenants;
