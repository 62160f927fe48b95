//! The base of idtrail's OpenAPI document: title, version, licence, tags and the bearer-JWT
//! security scheme. The API crate adds its paths and schemas to this base (issue 7 completes the
//! document and commits it as `openapi/openapi.json`).

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::tag::TagBuilder;
use utoipa::openapi::{ComponentsBuilder, InfoBuilder, LicenseBuilder, OpenApi, OpenApiBuilder};

/// The name of the security scheme every operation refers to.
pub const BEARER_SCHEME: &str = "bearer";

/// The document's base: info, tags and security schemes, with no paths yet.
#[must_use]
pub fn base() -> OpenApi {
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("idtrail")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "A self-hosted, Microsoft Graph-compatible reporting API for sign-ins, directory audits \
                     and identity-protection risk. Paths, JSON and OData query options are Graph's.",
                ))
                .license(Some(LicenseBuilder::new().name("MIT").build())),
        )
        .tags(Some(vec![
            TagBuilder::new().name("auditLogs").description(Some("Sign-ins and directory audits")).build(),
            TagBuilder::new().name("ingest").description(Some("Pushing events into a tenant")).build(),
            TagBuilder::new().name("health").description(Some("Liveness and readiness")).build(),
        ]))
        .components(Some(
            ComponentsBuilder::new()
                .security_scheme(
                    BEARER_SCHEME,
                    SecurityScheme::Http(
                        HttpBuilder::new()
                            .scheme(HttpAuthScheme::Bearer)
                            .bearer_format("JWT")
                            .description(Some(
                                "An Entra-style access token: tid selects the tenant; wids/roles carry directory \
                                 roles; app-only tokens carry application permissions in roles.",
                            ))
                            .build(),
                    ),
                )
                .build(),
        ))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_base_names_the_bearer_scheme() {
        let doc = serde_json::to_value(base()).unwrap_or_default();
        assert_eq!(doc["components"]["securitySchemes"][BEARER_SCHEME]["scheme"], "bearer");
        assert_eq!(doc["info"]["title"], "idtrail");
    }
}
