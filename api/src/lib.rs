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
pub mod fairness;
pub mod metrics;
pub mod middleware;
pub mod observe;
pub mod ops;
pub mod paging;
pub mod query;
pub mod ratelimit;
pub mod routes;
pub mod startup;
pub mod state;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{App, HttpRequest, web};
use domain::sets::SetKind;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::routes::{actions, console, delta, entities, graph_reports, health, ingest, reports, script, tenant};
use crate::state::AppState;

async fn not_found(req: actix_web::HttpRequest) -> Result<actix_web::HttpResponse, ApiError> {
    Err(unknown_path(&req))
}

/// The 404 of a path no route takes.
pub(crate) fn unknown_path(req: &HttpRequest) -> ApiError {
    let collections: Vec<String> = SetKind::ALL.iter().map(|k| format!("/v1.0/{}", k.route())).collect();
    ApiError::NotFound(format!(
        "Resource not found for the segment '{}'. Collections: {} (also under /beta).",
        req.path().rsplit('/').next().unwrap_or(""),
        collections.join(", ")
    ))
}

/// A method `req`'s resource does not take: 405 with `Allow` naming the methods it does (RFC 9110).
fn refuse_method(req: &HttpRequest, allow: &'static str) -> ApiError {
    ApiError::MethodNotAllowed {
        message: format!("The method {} is not allowed on {}; it takes {allow}.", req.method(), req.path()),
        allow,
    }
}

/// The default service of a resource that takes only `allow`.
fn method_not_allowed(
    allow: &'static str,
) -> impl Fn(HttpRequest) -> std::future::Ready<Result<actix_web::HttpResponse, ApiError>> + Clone + 'static {
    move |req: HttpRequest| std::future::ready(Err(refuse_method(&req, allow)))
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
                    None => Err(refuse_method(&req, "GET")),
                }
            },
        ));
    }
    let mut scope = scope
        .service(
            web::resource(path.clone())
                .route(web::get().to(move |req: HttpRequest, caller: Caller, state: web::Data<AppState>| {
                    entities::list(res, None, req, caller, state)
                }))
                .default_service(web::to(method_not_allowed("GET"))),
        )
        .service(
            web::resource(format!("{path}/$count"))
                .route(web::get().to(move |req: HttpRequest, caller: Caller, state: web::Data<AppState>| {
                    entities::count(res, None, req, caller, state)
                }))
                .default_service(web::to(method_not_allowed("GET"))),
        );
    if storage::feed::feed_name(res).is_some() {
        // Before `{id}`, which would otherwise take `delta` for an id.
        scope = scope.service(
            web::resource(format!("{path}/delta"))
                .route(web::get().to(move |req: HttpRequest, caller: Caller, state: web::Data<AppState>| {
                    delta::delta(res, req, caller, state)
                }))
                .default_service(web::to(method_not_allowed("GET"))),
        );
    }
    scope.service(by_id.default_service(web::to(move |req: HttpRequest| {
        // The actions share the `{id}` shape: they take POST, an id takes GET.
        let action = req.match_info().get("id").and_then(actions::action_of).filter(|_| res.has_actions());
        std::future::ready(Err::<actix_web::HttpResponse, _>(refuse_method(
            &req,
            if action.is_some() { "POST" } else { "GET" },
        )))
    })))
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
                .default_service(web::to(method_not_allowed("GET"))),
        )
        .service(
            web::resource(format!("{path}/$count"))
                .route(web::get().to(
                    move |user: web::Path<String>, req: HttpRequest, caller: Caller, state: web::Data<AppState>| {
                        entities::count(res, Some(user.into_inner()), req, caller, state)
                    },
                ))
                .default_service(web::to(method_not_allowed("GET"))),
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
                .default_service(web::to(method_not_allowed("GET"))),
        )
}

/// Graph's report functions (beta only): `reports/...` and the `auditLogs/` summaries.
fn graph_report_routes(scope: actix_web::Scope) -> actix_web::Scope {
    let mut scope = scope
        .service(
            web::resource("/reports/applicationSignInDetailedSummary/{id}")
                .route(web::get().to(
                    |id: web::Path<String>, req: HttpRequest, caller: Caller, state: web::Data<AppState>| {
                        graph_reports::detailed_summary(Some(id.into_inner()), req, caller, state)
                    },
                ))
                .default_service(web::to(method_not_allowed("GET"))),
        )
        .service(
            web::resource("/reports/{function}")
                .route(web::get().to(graph_reports::reports_segment))
                .default_service(web::to(method_not_allowed("GET"))),
        );
    for (path, summary) in [
        ("/auditLogs/signInEventsSummary", graph_reports::AuditSummary::Daily),
        ("/auditLogs/signInEventsAppSummary", graph_reports::AuditSummary::PerApp),
    ] {
        scope = scope.service(
            web::resource(path)
                .route(web::get().to(move |req: HttpRequest, caller: Caller, state: web::Data<AppState>| {
                    graph_reports::audit_summary(summary, req, caller, state)
                }))
                .default_service(web::to(method_not_allowed("GET"))),
        );
    }
    scope
}

/// Registers every route on `cfg`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    // First: `/v1.0/$metadata` would otherwise fall into the version scopes.
    cfg.configure(routes::contract::configure);
    cfg.configure(console::configure);
    for version in ["v1.0", "beta"] {
        let mut scope = web::scope(&format!("/{version}"));
        if version == "beta" {
            scope = graph_report_routes(scope);
        }
        // Sets below a parent first, so their longer paths are matched before the parent's `{id}`.
        for res in SetKind::ALL.into_iter().filter(|k| k.parent().is_some()) {
            scope = child_routes(scope, res);
        }
        for res in SetKind::ALL.into_iter().filter(|k| k.parent().is_none()) {
            scope = entity_routes(scope, res);
        }
        cfg.service(scope);
    }
    for (path, report) in [
        ("/idtrail/reports/signInActivity", reports::Report::SignInActivity),
        ("/idtrail/reports/topApplications", reports::Report::TopApplications),
    ] {
        cfg.service(
            web::resource(path)
                .route(web::get().to(move |req: HttpRequest, caller: Caller, state: web::Data<AppState>| {
                    reports::report(report, req, caller, state)
                }))
                .default_service(web::to(method_not_allowed("GET"))),
        );
    }
    cfg.service(
        web::resource("/ingest/{kind}")
            .route(web::post().to(ingest::ingest))
            .default_service(web::to(method_not_allowed("POST"))),
    )
    .service(
        web::resource("/idtrail/tenant")
            .route(web::get().to(tenant::show))
            .default_service(web::to(method_not_allowed("GET"))),
    )
    .service(
        web::resource("/idtrail/script")
            .route(web::get().to(script::script))
            .default_service(web::to(method_not_allowed("GET"))),
    )
    .service(
        web::resource("/healthz")
            .route(web::get().to(health::healthz))
            .default_service(web::to(method_not_allowed("GET"))),
    )
    .service(
        web::resource("/readyz")
            .route(web::get().to(health::readyz))
            .default_service(web::to(method_not_allowed("GET"))),
    );
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
    let dev_mode = state.dev_tokens.is_some();
    let mut app = App::new().app_data(web::Data::new(state)).configure(configure);
    if dev_mode {
        app = app.service(web::resource(console::DEV_TOKENS).route(web::get().to(console::dev_tokens)));
    }
    app.default_service(web::to(not_found))
        .wrap(actix_web::middleware::from_fn(fairness::tenant_queries))
        .wrap(actix_web::middleware::from_fn(ratelimit::enforce))
        .wrap(actix_web::middleware::from_fn(middleware::graph_envelope))
        .wrap(actix_web::middleware::from_fn(ratelimit::headers))
        .wrap(actix_web::middleware::from_fn(observe::observe))
}
