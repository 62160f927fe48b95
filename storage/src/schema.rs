//! The tables, hand-written with portable types only (vaultwarden's approach), shared by both
//! backends. PostgreSQL-only tables (`sign_in_keys`, partitions) are reached through SQL text.

diesel::table! {
    tenants (id) {
        id -> Text,
        display_name -> Nullable<Text>,
        license_tier -> Text,
        created_ticks -> BigInt,
    }
}

diesel::table! {
    server_settings (name) {
        name -> Text,
        value -> Text,
    }
}

diesel::table! {
    sign_ins (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        created_ticks -> BigInt,
        user_id -> Text,
        user_principal_name -> Nullable<Text>,
        user_display_name -> Nullable<Text>,
        app_id -> Nullable<Text>,
        app_display_name -> Nullable<Text>,
        ip_address -> Nullable<Text>,
        client_app_used -> Nullable<Text>,
        correlation_id -> Nullable<Text>,
        conditional_access_status -> Nullable<Text>,
        is_interactive -> Nullable<Bool>,
        risk_detail -> Nullable<Text>,
        risk_level_aggregated -> Nullable<Text>,
        risk_level_during_sign_in -> Nullable<Text>,
        risk_state -> Nullable<Text>,
        resource_display_name -> Nullable<Text>,
        resource_id -> Nullable<Text>,
        status_error_code -> Nullable<Integer>,
        device_browser -> Nullable<Text>,
        device_operating_system -> Nullable<Text>,
        location_city -> Nullable<Text>,
        location_state -> Nullable<Text>,
        location_country_or_region -> Nullable<Text>,
        service_principal_id -> Nullable<Text>,
        service_principal_name -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        doc -> Text,
        doc_extra -> Nullable<Text>,
        ca_failed -> Bool,
    }
}

diesel::table! {
    sign_in_ca_policies (tenant_id, sign_in_id, ordinal) {
        tenant_id -> Text,
        sign_in_id -> Text,
        created_ticks -> BigInt,
        ordinal -> Integer,
        policy_id -> Nullable<Text>,
        display_name -> Nullable<Text>,
        result -> Nullable<Text>,
    }
}

diesel::table! {
    sign_in_risk_event_types (tenant_id, sign_in_id, version, ordinal) {
        tenant_id -> Text,
        sign_in_id -> Text,
        created_ticks -> BigInt,
        version -> Integer,
        ordinal -> Integer,
        value -> Text,
    }
}
