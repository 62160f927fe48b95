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
use actix_web::{App, HttpRequest, web};
use domain::sets::SetKind;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::routes::{actions, entities, health, ingest, script, tenant};
use crate::state::AppState;

async fn not_found(req: actix_web::HttpRequest) -> Result<actix_web::HttpResponse, ApiError> {
    let collections: Vec<String> = SetKind::ALL.iter().map(|k| format!("/v1.0/{}", k.route())).collect();
    Err(ApiError::NotFound(format!(
        "Resource not found for the segment '{}'. Collections: {} (also under /beta).",
        req.path().rsplit('/').next().unwrap_or(""),
        collections.join(", ")
    )))
}

async fn method_not_allowed(req: actix_web::HttpRequest) -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed(format!("The method {} is not allowed on {}.", req.method(), req.path())))
}

/// Registers the read routes of `res` (collection, `/$count`, `/{id}`) under `prefix`.
fn entity_routes(scope: actix_web::Scope, res: SetKind) -> actix_web::Scope {
    let path = format!("/{}", res.route());
    let mut by_id = web::resource(format!("{path}/{{id}}")).route(web::get().to(
        move |id: web::Path<String>, req: HttpRequest, caller: Caller, state: web::Data<AppState>| {
            entities::get(res, None, id.into_inner(), req, caller, state)
        },
    ));
    if res.has_actions() {
        // `POST .../riskyUsers/dismiss` and `.../confirmCompromised` share the `{id}` shape.
        by_id = by_id.route(web::post().to(
            move |segment: web::Path<String>,
                  req: HttpRequest,
                  caller: Caller,
                  state: web::Data<AppState>,
                  payload: web::Payload| async move {
                match actions::action_of(&segment) {
                    Some(action) => actions::run(action, req, caller, state, payload).await,
                    None => method_not_allowed(req).await,
                }
            },
        ));
    }
    scope
        .service(
            web::resource(path.clone())
                .route(web::get().to(move |req: HttpRequest, caller: Caller, state: web::Data<AppState>| {
                    entities::list(res, None, req, caller, state)
                }))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource(format!("{path}/$count"))
                .route(web::get().to(move |req: HttpRequest, caller: Caller, state: web::Data<AppState>| {
                    entities::count(res, None, req, caller, state)
                }))
                .default_service(web::to(method_not_allowed)),
        )
        .service(by_id.default_service(web::to(method_not_allowed)))
}

/// The routes of a set served below a parent entity (`.../riskyUsers/{user}/history`, its `/$count`
/// and `/{historyId}`).
fn child_routes(scope: actix_web::Scope, res: SetKind) -> actix_web::Scope {
    let path = format!("/{}", res.route());
    scope
        .service(
            web::resource(path.clone())
                .route(web::get().to(
                    move |user: web::Path<String>, req: HttpRequest, caller: Caller, state: web::Data<AppState>| {
                        entities::list(res, Some(user.into_inner()), req, caller, state)
                    },
                ))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource(format!("{path}/$count"))
                .route(web::get().to(
                    move |user: web::Path<String>, req: HttpRequest, caller: Caller, state: web::Data<AppState>| {
                        entities::count(res, Some(user.into_inner()), req, caller, state)
                    },
                ))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource(format!("{path}/{{id}}"))
                .route(web::get().to(
                    move |ids: web::Path<(String, String)>,
                          req: HttpRequest,
                          caller: Caller,
                          state: web::Data<AppState>| {
                        let (user, id) = ids.into_inner();
                        entities::get(res, Some(user), id, req, caller, state)
                    },
                ))
                .default_service(web::to(method_not_allowed)),
        )
}

/// Registers every route on `cfg`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    // First: `/v1.0/$metadata` would otherwise fall into the version scopes.
    cfg.configure(routes::contract::configure);
    for version in ["v1.0", "beta"] {
        let mut scope = web::scope(&format!("/{version}"));
        // Sets below a parent first, so their longer paths are matched before the parent's `{id}`.
        for res in SetKind::ALL.into_iter().filter(|k| k.parent().is_some()) {
            scope = child_routes(scope, res);
        }
        for res in SetKind::ALL.into_iter().filter(|k| k.parent().is_none()) {
            scope = entity_routes(scope, res);
        }
        cfg.service(scope);
    }
    cfg.service(
        web::resource("/ingest/{kind}")
            .route(web::post().to(ingest::ingest))
            .default_service(web::to(method_not_allowed)),
    )
    .service(web::resource("/idtrail/tenant").route(web::get().to(tenant::show)))
    .service(
        web::resource("/idtrail/script")
            .route(web::get().to(script::script))
            .default_service(web::to(method_not_allowed)),
    )
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
