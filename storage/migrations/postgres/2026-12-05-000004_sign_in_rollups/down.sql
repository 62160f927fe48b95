DROP TABLE sign_in_app_presence;
DROP TABLE sign_in_presence;
DROP TABLE sign_in_user_blocks;
DROP TABLE sign_in_app_blocks;
