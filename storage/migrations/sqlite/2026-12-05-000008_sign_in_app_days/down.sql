DROP TABLE sign_in_app_days;
