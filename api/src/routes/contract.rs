//! The API's own description: `GET /openapi.json` (the document `openapi/openapi.json` commits),
//! Swagger UI at `/docs` (vendored, nothing loaded from the network) and `GET /{version}/$metadata`
//! (CSDL XML). All are public and built once from the domain by the `openapi` crate.

use std::sync::{Arc, OnceLock};

use actix_web::http::header::{CONTENT_ENCODING, ContentType};
use actix_web::{HttpResponse, web};

use crate::error::ApiError;

/// Where Swagger UI is served.
pub const DOCS: &str = "/docs";

fn cached(
    cell: &'static OnceLock<Result<String, String>>,
    build: fn() -> Result<String, String>,
) -> Result<&'static str, ApiError> {
    match cell.get_or_init(build) {
        Ok(s) => Ok(s),
        Err(e) => {
            tracing::error!(error = %e, "building the API description failed");
            Err(ApiError::Internal(e.clone()))
        }
    }
}

/// `GET /openapi.json`
pub async fn openapi_json() -> Result<HttpResponse, ApiError> {
    static DOC: OnceLock<Result<String, String>> = OnceLock::new();
    let doc = cached(&DOC, openapi::document_json)?;
    Ok(HttpResponse::Ok().content_type(ContentType::json()).body(doc))
}

/// `GET /v1.0/$metadata`
pub async fn metadata_v1() -> Result<HttpResponse, ApiError> {
    static DOC: OnceLock<Result<String, String>> = OnceLock::new();
    let xml = cached(&DOC, || openapi::csdl::metadata("v1.0"))?;
    Ok(HttpResponse::Ok().content_type("application/xml").body(xml))
}

/// `GET /beta/$metadata`
pub async fn metadata_beta() -> Result<HttpResponse, ApiError> {
    static DOC: OnceLock<Result<String, String>> = OnceLock::new();
    let xml = cached(&DOC, || openapi::csdl::metadata("beta"))?;
    Ok(HttpResponse::Ok().content_type("application/xml").body(xml))
}

fn swagger_config() -> Arc<utoipa_swagger_ui::Config<'static>> {
    static CONFIG: OnceLock<Arc<utoipa_swagger_ui::Config<'static>>> = OnceLock::new();
    CONFIG
        .get_or_init(|| Arc::new(utoipa_swagger_ui::Config::new(["/openapi.json"]).persist_authorization(true)))
        .clone()
}

fn swagger_file(file: &str) -> Result<HttpResponse, ApiError> {
    let found = utoipa_swagger_ui::serve(file, swagger_config()).map_err(|e| ApiError::Internal(e.to_string()))?;
    let Some(f) = found else {
        return Err(ApiError::NotFound(format!("Swagger UI has no file '{file}'.")));
    };
    let mut res = HttpResponse::Ok();
    res.content_type(f.content_type.as_str());
    if f.gzpipped {
        res.insert_header((CONTENT_ENCODING, "gzip"));
    }
    if file.is_empty() || file == "index.html" {
        // The request path loses its trailing slash upstream, so the page's relative links are
        // made absolute.
        let html = String::from_utf8_lossy(&f.bytes).replace("\"./", &format!("\"{DOCS}/"));
        return Ok(res.body(html));
    }
    Ok(res.body(f.bytes.into_owned()))
}

/// `GET /docs`
pub async fn docs_index() -> Result<HttpResponse, ApiError> {
    swagger_file("")
}

/// `GET /docs/{file}`
pub async fn docs_file(file: web::Path<String>) -> Result<HttpResponse, ApiError> {
    swagger_file(&file)
}

/// Registers the description routes. Call before the `/v1.0` and `/beta` scopes, which would
/// otherwise claim `$metadata`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/openapi.json").route(web::get().to(openapi_json)))
        .service(web::resource("/v1.0/$metadata").route(web::get().to(metadata_v1)))
        .service(web::resource("/beta/$metadata").route(web::get().to(metadata_beta)))
        .service(web::resource(DOCS).route(web::get().to(docs_index)))
        .service(web::resource(format!("{DOCS}/{{file:.*}}")).route(web::get().to(docs_file)));
}
