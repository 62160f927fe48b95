//! idtrail's HTTP service: configuration, authentication, the Graph routes, ingest, health.
//!
//! A request passes the envelope middleware (ids, path case), the `Caller` extractor (token →
//! principal), the query-option parser, then a handler that calls `storage` on a blocking thread
//! and splices the stored JSON into Graph's envelope. Handlers never build SQL.

pub mod auth;
pub mod cli;
pub mod config;
pub mod demo;
pub mod error;
pub mod middleware;
pub mod paging;
pub mod query;
pub mod ratelimit;
pub mod routes;
pub mod state;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{App, web};

use crate::error::ApiError;
use crate::routes::{health, ingest, sign_ins, tenant};
use crate::state::AppState;

async fn not_found(req: actix_web::HttpRequest) -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::NotFound(format!(
        "Resource not found for the segment '{}'. Collections: /v1.0/auditLogs/signIns (also under /beta).",
        req.path().rsplit('/').next().unwrap_or("")
    )))
}

async fn method_not_allowed(req: actix_web::HttpRequest) -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed(format!("The method {} is not allowed on {}.", req.method(), req.path())))
}

/// Registers every route on `cfg`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    for version in ["v1.0", "beta"] {
        cfg.service(
            web::scope(&format!("/{version}"))
                .service(
                    web::resource("/auditLogs/signIns")
                        .route(web::get().to(sign_ins::list))
                        .default_service(web::to(method_not_allowed)),
                )
                .service(
                    web::resource("/auditLogs/signIns/$count")
                        .route(web::get().to(sign_ins::count))
                        .default_service(web::to(method_not_allowed)),
                )
                .service(
                    web::resource("/auditLogs/signIns/{id}")
                        .route(web::get().to(sign_ins::get))
                        .default_service(web::to(method_not_allowed)),
                ),
        );
    }
    cfg.service(
        web::resource("/ingest/{kind}")
            .route(web::post().to(ingest::ingest))
            .default_service(web::to(method_not_allowed)),
    )
    .service(web::resource("/idtrail/tenant").route(web::get().to(tenant::show)))
    .service(web::resource("/healthz").route(web::get().to(health::healthz)))
    .service(web::resource("/readyz").route(web::get().to(health::readyz)));
}

/// The application with its state, routes and middleware (also what the tests call in process).
pub fn app(
    state: AppState,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .app_data(web::Data::new(state))
        .configure(configure)
        .default_service(web::to(not_found))
        .wrap(actix_web::middleware::from_fn(ratelimit::enforce))
        .wrap(actix_web::middleware::from_fn(middleware::graph_envelope))
        .wrap(actix_web::middleware::from_fn(ratelimit::headers))
}
