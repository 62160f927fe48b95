//! `GET /{v1.0|beta}/auditLogs/signIns`, `.../signIns/$count` and `.../signIns/{id}`.

use actix_web::{HttpRequest, HttpResponse, web};
use domain::query::registry::SIGN_INS;
use domain::query::{Filter, Scalar, SortKey, eval, resolve_filter, resolve_orderby};
use storage::SignInQuery;

use super::{ApiVersion, Envelope, Presentation, base_url, collection_body, entity_body, next_link};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::paging;
use crate::query::{self, QueryOptions};
use crate::state::AppState;
use domain::access::{self, Access, Endpoint};
use domain::principal::SignInScope;
use storage::{Store, TenantView};

const LIST_OPTIONS: &[&str] = &["top", "skiptoken", "filter", "orderby", "select", "count"];
const COUNT_OPTIONS: &[&str] = &["filter"];

/// The caller's access, decided by the authorization matrix for the tenant's current tier:
/// permission, then license, then role (`domain::access`).
fn authorize(
    store: &Store,
    principal: &domain::principal::Principal,
    enforce_scopes: bool,
) -> Result<(SignInScope, TenantView), ApiError> {
    let view = store.tenant_view(&principal.tenant)?;
    let scope = match access::authorize(principal, Endpoint::SignIns, view.tier, enforce_scopes)? {
        Access::TenantWide => SignInScope::TenantWide,
        Access::OwnOnly { user_id } => SignInScope::OwnOnly { user_id },
    };
    Ok((scope, view))
}

/// Properties this caller may not see: Conditional Access details need a CA-reading role or
/// permission (`graph-reference.md` §5.6).
fn omitted(principal: &domain::principal::Principal) -> &'static [&'static str] {
    if access::can_read_conditional_access(principal) { &[] } else { &[CA_PROPERTY] }
}

const CA_PROPERTY: &str = "appliedConditionalAccessPolicies";

/// Refuses filters on properties the caller may not see, so they cannot be probed.
fn check_visible(filter: Option<&Filter>, omit: &[&str]) -> Result<(), ApiError> {
    if let Some(f) = filter
        && omit.iter().any(|p| f.references(p))
    {
        return Err(ApiError::Forbidden {
            code: "Authorization_RequestDenied",
            message: format!(
                "Filtering on {CA_PROPERTY} needs a role or permission that reads Conditional Access data \
                 (Global Administrator, Global Reader, Security Administrator, Security Reader, Conditional Access \
                 Administrator; or Policy.Read.All for applications)."
            ),
        });
    }
    Ok(())
}

/// The query options of a list request, resolved against the registry.
struct Resolved {
    filter: Option<Filter>,
    order: Vec<SortKey>,
    select: Option<Vec<String>>,
    count: bool,
}

fn resolve(options: &QueryOptions, version: ApiVersion) -> Result<Resolved, ApiError> {
    let value = |name: &str| options.pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let filter = value("$filter")
        .map(|f| resolve_filter(&SIGN_INS, f))
        .transpose()
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let order = value("$orderby")
        .map(|o| resolve_orderby(&SIGN_INS, o))
        .transpose()
        .map_err(|e| ApiError::BadRequest(e.to_string()))?
        .unwrap_or_default();
    let select = value("$select").map(|s| super::parse_select(s, version)).transpose()?;
    let count = match value("$count").map(str::to_ascii_lowercase).as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(ApiError::BadRequest(format!("The value of $count must be true or false; got '{other}'.")));
        }
    };
    Ok(Resolved { filter, order, select, count })
}

pub async fn list(req: HttpRequest, caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let version = ApiVersion::of(&req);
    let options = query::parse(req.query_string(), LIST_OPTIONS, SIGN_INS.max_top)?;
    let resolved = resolve(&options, version)?;
    let principal = caller.0;
    let omit = omitted(&principal);
    check_visible(resolved.filter.as_ref(), omit)?;
    let top = options.top.unwrap_or(SIGN_INS.default_top);
    let binding = paging::binding(&principal.binding(), SIGN_INS.name, &options.canonical());
    let after = options.skiptoken.as_deref().map(|t| state.pager.open(&binding, t)).transpose()?;
    let order = if resolved.order.is_empty() { storage::sign_ins::default_order() } else { resolved.order.clone() };
    if after.as_ref().is_some_and(|c| c.len() != order.len() + 1) {
        return Err(ApiError::BadRequest("The $skiptoken does not match this query's $orderby.".into()));
    }

    let store = state.store.clone();
    let (filter, count_wanted) = (resolved.filter.clone(), resolved.count);
    let sort = order.clone();
    let enforce = state.config.auth_enforce_scopes;
    let who = principal.clone();
    let (mut docs, count, view) = web::block(move || -> Result<_, ApiError> {
        let (scope, _) = authorize(&store, &who, enforce)?;
        let tenant = who.tenant.clone();
        let q = SignInQuery {
            tenant: &tenant,
            scope: &scope,
            filter: filter.as_ref(),
            order: &sort,
            after: after.as_deref(),
            limit: top + 1,
        };
        let (docs, view) = store.sign_in_page(&q)?;
        let count = if count_wanted { Some(store.count_sign_ins(&q)?) } else { None };
        Ok((docs, count, view))
    })
    .await??;

    let base = base_url(&req, &state);
    let next = if docs.len() > top {
        docs.truncate(top);
        match docs.last() {
            Some(last) => {
                let cursor = cursor_of(&last.doc, &order, view.hidden_sign_in_fields)?;
                let token = state.pager.issue(&binding, &cursor);
                Some(next_link(&base, req.path(), &options, top, &token))
            }
            None => None,
        }
    } else {
        None
    };
    let projection = resolved.select.as_ref().map(|s| format!("({})", s.join(",")));
    let context = format!("{base}/{}/$metadata#{}{}", version.segment(), SIGN_INS.name, projection.unwrap_or_default());
    let envelope =
        Envelope { context: &context, count, next_link: next.as_deref(), retention_start: Some(view.sign_ins_from) };
    let how = Presentation { select: resolved.select.as_deref(), hidden: view.hidden_sign_in_fields, omit };
    let body = collection_body(envelope, &docs, version, how);
    Ok(HttpResponse::Ok().content_type("application/json; odata.metadata=minimal").body(body))
}

/// The keyset position of a row: its sort key values, read from its document, then its id.
fn cursor_of(doc: &str, order: &[SortKey], hidden: &[&str]) -> Result<Vec<Scalar>, ApiError> {
    let value: serde_json::Value =
        serde_json::from_str(doc).map_err(|e| ApiError::Internal(format!("stored document is not JSON: {e}")))?;
    let id = SIGN_INS.id_field();
    Ok(order
        .iter()
        .map(|k| eval::field_value_masked(&value, k.field, hidden))
        .chain([eval::field_value(&value, id)])
        .collect())
}

pub async fn count(req: HttpRequest, caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let options = query::parse(req.query_string(), COUNT_OPTIONS, SIGN_INS.max_top)?;
    let resolved = resolve(&options, ApiVersion::of(&req))?;
    let principal = caller.0;
    check_visible(resolved.filter.as_ref(), omitted(&principal))?;
    let store = state.store.clone();
    let enforce = state.config.auth_enforce_scopes;
    let n = web::block(move || -> Result<i64, ApiError> {
        let (scope, _) = authorize(&store, &principal, enforce)?;
        let tenant = principal.tenant.clone();
        Ok(store.count_sign_ins(&SignInQuery {
            tenant: &tenant,
            scope: &scope,
            filter: resolved.filter.as_ref(),
            order: &[],
            after: None,
            limit: 0,
        })?)
    })
    .await??;
    Ok(HttpResponse::Ok().content_type("text/plain").body(n.to_string()))
}

pub async fn get(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let version = ApiVersion::of(&req);
    let options = query::parse(req.query_string(), &["select"], SIGN_INS.max_top)?;
    let select =
        options.pairs.iter().find(|(k, _)| k == "$select").map(|(_, v)| super::parse_select(v, version)).transpose()?;
    let principal = caller.0;
    let omit = omitted(&principal);
    let id = id.into_inner();
    let store = state.store.clone();
    let lookup = id.clone();
    let enforce = state.config.auth_enforce_scopes;
    let (doc, view) = web::block(move || -> Result<_, ApiError> {
        let (scope, _) = authorize(&store, &principal, enforce)?;
        Ok(store.sign_in(&principal.tenant, &scope, &lookup)?)
    })
    .await??;
    let doc = doc.ok_or_else(|| {
        ApiError::NotFound(format!(
            "Resource '{id}' does not exist or one of its queried reference-property objects are not present."
        ))
    })?;
    let context = format!("{}/{}/$metadata#{}/$entity", base_url(&req, &state), version.segment(), SIGN_INS.name);
    Ok(HttpResponse::Ok().content_type("application/json; odata.metadata=minimal").body(entity_body(
        &context,
        &doc,
        version,
        Presentation { select: select.as_deref(), hidden: view.hidden_sign_in_fields, omit },
    )))
}
