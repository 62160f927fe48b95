DROP TABLE sign_in_app_user_spans;
DROP TABLE sign_in_user_spans;
