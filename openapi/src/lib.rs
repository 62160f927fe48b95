//! idtrail's API contract, built from the domain: the OpenAPI 3.1 document (committed as
//! `openapi/openapi.json`, served at `/openapi.json`) and the OData CSDL served at `$metadata`.
//!
//! Entity schemas come from tracing the domain models ([`model`]), query options from the field
//! registries (`domain::query::registry`), permissions from `domain::access::MATRIX`. This crate
//! must never list a property, a permission or a page size itself.

pub mod csdl;
mod document;
pub mod model;

pub use document::{document, document_json};

use domain::model::SignIn;
use domain::model::directory_audit::DirectoryAudit;
use domain::model::risk_detection::RiskDetection;
use domain::model::risky_user::{RiskyUser, RiskyUserHistoryItem};
use domain::query::EntitySet;
use domain::sets::SetKind;

/// The traced model of an entity set's type.
///
/// # Errors
/// When tracing the model fails.
pub fn entity_type(set: &EntitySet) -> Result<model::Traced, String> {
    match set.kind {
        SetKind::SignIns => model::trace::<SignIn>(),
        SetKind::DirectoryAudits => model::trace::<DirectoryAudit>(),
        SetKind::RiskDetections => model::trace::<RiskDetection>(),
        SetKind::RiskyUsers => model::trace::<RiskyUser>(),
        SetKind::RiskyUserHistory => model::trace::<RiskyUserHistoryItem>(),
    }
}

/// Every type and enum reachable from the served entity sets, each once.
///
/// # Errors
/// As [`entity_type`].
pub fn all_types() -> Result<model::Traced, String> {
    let mut out = model::Traced::default();
    for set in domain::query::registry::all_sets() {
        let t = entity_type(set)?;
        for ty in t.types {
            if !out.types.iter().any(|x| x.name == ty.name) {
                out.types.push(ty);
            }
        }
        out.enums.extend(t.enums);
    }
    Ok(out)
}

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
                .license(Some(LicenseBuilder::new().name("MIT").identifier(Some("MIT")).build())),
        )
        .tags(Some(vec![
            TagBuilder::new().name("auditLogs").description(Some("Sign-ins and directory audits")).build(),
            TagBuilder::new().name("identityProtection").description(Some("Risk detections and risky users")).build(),
            TagBuilder::new().name("tenant").description(Some("The caller's tenant and license")).build(),
            TagBuilder::new()
                .name("contract")
                .description(Some("This document, Swagger UI and OData $metadata"))
                .build(),
            TagBuilder::new().name("ingest").description(Some("Pushing events into a tenant")).build(),
            TagBuilder::new().name("export").description(Some("Scripts that download exports")).build(),
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

    /// The committed contract is the generated one: a change to the API shows up in review.
    #[test]
    fn the_committed_document_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        let current = document_json().unwrap();
        let first_difference = committed
            .lines()
            .zip(current.lines())
            .position(|(a, b)| a != b)
            .map_or_else(|| "at the end".to_owned(), |i| format!("at line {}", i + 1));
        assert!(
            committed == current,
            "openapi/openapi.json is not the document the code generates (first difference {first_difference}). \
             Regenerate it with `cargo run -q -p api -- openapi > openapi/openapi.json` and commit it."
        );
    }

    #[test]
    fn the_base_names_the_bearer_scheme() {
        let doc = serde_json::to_value(base()).unwrap_or_default();
        assert_eq!(doc["components"]["securitySchemes"][BEARER_SCHEME]["scheme"], "bearer");
        assert_eq!(doc["info"]["title"], "idtrail");
    }
}
