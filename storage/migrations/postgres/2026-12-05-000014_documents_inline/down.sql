ALTER TABLE directory_audits RESET (toast_tuple_target);
ALTER TABLE risk_detections RESET (toast_tuple_target);
ALTER TABLE risky_users RESET (toast_tuple_target);
ALTER TABLE risky_user_history RESET (toast_tuple_target);
DO $$
DECLARE
    part regclass;
BEGIN
    FOR part IN SELECT inhrelid::regclass FROM pg_inherits WHERE inhparent = 'sign_ins'::regclass LOOP
        EXECUTE format('ALTER TABLE %s RESET (toast_tuple_target)', part);
    END LOOP;
END
$$;
