//! The read endpoints of every entity set, one implementation for all: a collection (`$filter`,
//! `$select`, `$orderby`, `$top`, `$skiptoken`, `$count`), its `/$count`, and one entity by id.
//! Each set is a [`SetKind`]: its registry, its row of the authorization matrix, its masks.
//!
//! `GET /{v1.0|beta}/auditLogs/signIns`, `/auditLogs/directoryAudits`,
//! `/identityProtection/riskDetections`, `/identityProtection/riskyUsers`, each with `/$count` and
//! `/{id}`, and `/identityProtection/riskyUsers/{id}/history` with `/$count` and `/{historyId}`.

use actix_web::{HttpRequest, HttpResponse, web};
use domain::access::{self, Access};
use domain::policy::Masks;
use domain::principal::Principal;
use domain::query::registry::EntitySet;
use domain::query::{Filter, Scalar, SortKey, eval, resolve_filter, resolve_orderby};
use domain::sets::SetKind;
use storage::{Query, Store, StoredDocument, TenantView};

use super::{ApiVersion, Envelope, Presentation, base_url, collection_body, entity_body, export, next_link};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::paging;
use crate::query::{self, QueryOptions};
use crate::state::AppState;

/// The options of a collection: a page, with `$format` an export (`routes::export`), with `$apply`
/// groups.
pub(super) const LIST_OPTIONS: &[&str] =
    &["top", "skiptoken", "filter", "orderby", "select", "count", "apply", "format"];
/// The options `$apply` cannot be combined with (OData applies them to its result; idtrail takes
/// `filter(...)` and `orderby(...)` inside `$apply` instead).
const NOT_WITH_APPLY: &[&str] = &["$filter", "$orderby", "$select", "$skiptoken", "$count", "$format"];
const COUNT_OPTIONS: &[&str] = &["filter"];

/// The caller's access, decided by the authorization matrix for the tenant's current tier:
/// permission, then license, then role (`domain::access`). `Some(user)` limits reads to that user's
/// records (a user's own sign-ins).
pub(super) fn authorize(
    store: &Store,
    res: SetKind,
    principal: &Principal,
    enforce_scopes: bool,
) -> Result<(Option<String>, TenantView), ApiError> {
    let view = store.tenant_view(&principal.tenant)?;
    let own = match access::authorize(principal, res.endpoint(), view.tier, enforce_scopes)? {
        Access::TenantWide => None,
        Access::OwnOnly { user_id } => Some(user_id),
    };
    Ok((own, view))
}

const CA_PROPERTY: &str = "appliedConditionalAccessPolicies";

/// Properties this caller may not see: sign-ins' Conditional Access details need a CA-reading role
/// or permission (`docs/graph-notes.md` §5.6).
pub(crate) fn omitted(res: SetKind, principal: &Principal) -> &'static [&'static str] {
    if res == SetKind::SignIns && !access::can_read_conditional_access(principal) { &[CA_PROPERTY] } else { &[] }
}

/// Refuses filters on properties the caller may not see, so they cannot be probed.
pub(super) fn check_visible(filter: Option<&Filter>, omit: &[&str]) -> Result<(), ApiError> {
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

/// The query options of a request, resolved against the set's registry.
pub(super) struct Resolved {
    pub(super) filter: Option<Filter>,
    pub(super) order: Vec<SortKey>,
    pub(super) select: Option<Vec<String>>,
    pub(super) count: bool,
}

pub(super) fn option<'o>(options: &'o QueryOptions, name: &str) -> Option<&'o str> {
    options.pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

pub(super) fn resolve(set: &EntitySet, options: &QueryOptions, version: ApiVersion) -> Result<Resolved, ApiError> {
    let filter = option(options, "$filter")
        .map(|f| resolve_filter(set, f))
        .transpose()
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let order = option(options, "$orderby")
        .map(|o| resolve_orderby(set, o))
        .transpose()
        .map_err(|e| ApiError::BadRequest(e.to_string()))?
        .unwrap_or_default();
    let select = option(options, "$select").map(|s| super::parse_select(set, s, version)).transpose()?;
    let count = match option(options, "$count").map(str::to_ascii_lowercase).as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(ApiError::BadRequest(format!("The value of $count must be true or false; got '{other}'.")));
        }
    };
    Ok(Resolved { filter, order, select, count })
}

fn not_found(id: &str) -> ApiError {
    ApiError::NotFound(format!(
        "Resource '{id}' does not exist or one of its queried reference-property objects are not present."
    ))
}

/// Authorizes the caller and returns the user the read is limited to (the caller, for own
/// sign-ins; the risky user whose history is read, which must exist and be visible), with the
/// tenant's view, read once for the whole request.
pub(crate) fn scoped_user(
    store: &Store,
    res: SetKind,
    principal: &Principal,
    enforce_scopes: bool,
    parent: Option<&str>,
) -> Result<(Option<String>, TenantView), ApiError> {
    let (own, view) = authorize(store, res, principal, enforce_scopes)?;
    if let (Some(user), Some(parent_set)) = (parent, res.parent())
        && store.get_in(parent_set.registry(), &principal.tenant, None, user, &view)?.is_none()
    {
        return Err(not_found(user));
    }
    Ok((own.as_deref().or(parent).map(str::to_lowercase), view))
}

/// The `@odata.context` path of a collection: the set's path, or a risky user's history.
fn context_path(res: SetKind, parent: Option<&str>) -> String {
    match (parent, res.parent()) {
        (Some(user), Some(parent_set)) => format!("{}('{user}')/{}", parent_set.registry().name, res.segment()),
        _ => res.registry().name.to_owned(),
    }
}

/// A collection page.
pub async fn list(
    res: SetKind,
    parent: Option<String>,
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let set = res.registry();
    let version = ApiVersion::of(&req);
    // An export has no page size: `$top` caps its rows at any number.
    let options = query::parse(req.query_string(), LIST_OPTIONS, usize::MAX)?;
    // `$apply` answers groups, never an export: with `$format` it is refused below by name.
    if option(&options, "$apply").is_none()
        && let Some(format) = export::requested(&options, &req)?
    {
        return export::run(res, parent, format, &options, req, caller, state).await;
    }
    let options = query::parse(req.query_string(), LIST_OPTIONS, set.max_top)?;
    if let Some(value) = option(&options, "$apply") {
        let value = value.to_owned();
        return aggregate(res, parent, &req, caller.0, &state, &options, &value).await;
    }
    let resolved = resolve(set, &options, version)?;
    let principal = caller.0;
    let omit = omitted(res, &principal);
    check_visible(resolved.filter.as_ref(), omit)?;
    let top = options.top.unwrap_or(set.default_top);
    let path = context_path(res, parent.as_deref());
    let binding = paging::binding(&principal.binding(), &path, &options.canonical());
    let after = options.skiptoken.as_deref().map(|t| state.pager.open(&binding, t)).transpose()?;
    let order = if resolved.order.is_empty() { storage::entities::default_order(set) } else { resolved.order.clone() };
    if after.as_ref().is_some_and(|c| c.len() != order.len() + 1) {
        return Err(ApiError::BadRequest("The $skiptoken does not match this query's $orderby.".into()));
    }

    let store = state.store.clone();
    let (filter, count_wanted) = (resolved.filter.clone(), resolved.count);
    let sort = order.clone();
    let enforce = state.config.auth_enforce_scopes;
    let who = principal.clone();
    let (mut docs, count, view) = crate::observe::block(move || -> Result<_, ApiError> {
        let (user, view) = scoped_user(&store, res, &who, enforce, parent.as_deref())?;
        let q = Query {
            set,
            tenant: &who.tenant,
            user: user.as_deref(),
            filter: filter.as_ref(),
            order: &sort,
            after: after.as_deref(),
            limit: top + 1,
        };
        let (docs, count) = store.page_in(&q, &view, count_wanted)?;
        Ok((docs, count, view))
    })
    .await??;

    let masks = view.masks(set);
    let base = base_url(&req, &state);
    let next = if docs.len() > top {
        docs.truncate(top);
        match docs.last() {
            Some(last) => {
                let cursor = cursor_of(set, last, &order, &masks)?;
                let token = state.pager.issue(&binding, &cursor);
                Some(next_link(&base, req.path(), &options, top, &token))
            }
            None => None,
        }
    } else {
        None
    };
    let projection = resolved.select.as_ref().map(|s| format!("({})", s.join(",")));
    let context = format!("{base}/{}/$metadata#{path}{}", version.segment(), projection.unwrap_or_default());
    let envelope = Envelope {
        context: &context,
        count,
        next_link: next.as_deref(),
        retention_start: Some(view.window_start(set)),
    };
    let how = Presentation { select: resolved.select.as_deref(), masks, omit, shape: super::shape_of(&req, res) };
    let body = collection_body(envelope, &docs, version, how);
    Ok(HttpResponse::Ok().content_type("application/json; odata.metadata=minimal").body(body))
}

/// A collection with `$apply`: the groups the database computes over the rows the caller may
/// list (same tenant, own-only scope, retention and masks as the list), as OData aggregation
/// JSON. `$top` caps the groups returned; without it more than `MAX_GROUPS` groups is a 400.
async fn aggregate(
    res: SetKind,
    parent: Option<String>,
    req: &HttpRequest,
    principal: Principal,
    state: &web::Data<AppState>,
    options: &QueryOptions,
    value: &str,
) -> Result<HttpResponse, ApiError> {
    use domain::query::apply::{MAX_GROUPS, resolve_apply};
    let set = res.registry();
    let version = ApiVersion::of(req);
    let clashing: Vec<&str> =
        NOT_WITH_APPLY.iter().copied().filter(|name| options.pairs.iter().any(|(k, _)| k == name)).collect();
    if !clashing.is_empty() {
        return Err(ApiError::BadRequest(format!(
            "$apply cannot be combined with {}: filter and order inside $apply, as in \
             $apply=filter(...)/groupby((...),aggregate(...))/orderby(...).",
            clashing.join(", ")
        )));
    }
    let apply = resolve_apply(set, value).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    check_visible(apply.filter.as_ref(), omitted(res, &principal))?;
    let limit = options.top.unwrap_or(MAX_GROUPS + 1);
    let store = state.store.clone();
    let enforce = state.config.auth_enforce_scopes;
    let path = context_path(res, parent.as_deref());
    let resolved = apply.clone();
    let rows = crate::observe::block(move || -> Result<_, ApiError> {
        let (user, view) = scoped_user(&store, res, &principal, enforce, parent.as_deref())?;
        Ok(store.apply_in(set, &principal.tenant, user.as_deref(), &resolved, limit, &view)?)
    })
    .await??;
    if options.top.is_none() && rows.len() > MAX_GROUPS {
        return Err(ApiError::BadRequest(format!(
            "The $apply result has more than {MAX_GROUPS} groups (the cap on groups); narrow it with \
             filter(...), group by fewer properties, or keep the largest with topcount(n,alias) or $top."
        )));
    }
    let names: Vec<&str> = apply.names().collect();
    let context = format!("{}/{}/$metadata#{path}({})", base_url(req, state), version.segment(), names.join(","));
    let body = serde_json::json!({
        "@odata.context": context,
        "value": rows.iter().map(|r| apply.render(r)).collect::<Vec<_>>(),
    });
    Ok(HttpResponse::Ok().content_type("application/json; odata.metadata=minimal").body(body.to_string()))
}

/// The keyset position of a row: its sort key values as the tenant sees them, then its id.
/// Ordered by the set's time alone (the default), both are the row's own columns; any other
/// order reads them from the document.
pub(super) fn cursor_of(
    set: &EntitySet,
    row: &StoredDocument,
    order: &[SortKey],
    masks: &Masks,
) -> Result<Vec<Scalar>, ApiError> {
    let id = set.id_field();
    if let [key] = order
        && key.field.path == set.time_field
        && !key.field.nullable
        && masks.is_empty()
    {
        let id_value = serde_json::Value::String(row.id.clone());
        return Ok(vec![Scalar::Ticks(row.created_ticks), eval::normalise(Some(&id_value), id.ty)]);
    }
    cursor_from_document(set, &row.doc, order, masks)
}

/// [`cursor_of`] read from the stored document (any order, any masks).
fn cursor_from_document(set: &EntitySet, doc: &str, order: &[SortKey], masks: &Masks) -> Result<Vec<Scalar>, ApiError> {
    let value: serde_json::Value =
        serde_json::from_str(doc).map_err(|e| ApiError::Internal(format!("stored document is not JSON: {e}")))?;
    Ok(order
        .iter()
        .map(|k| eval::field_value_masked(&value, k.field, masks))
        .chain([eval::field_value(&value, set.id_field())])
        .collect())
}

/// `/$count`: the number of matching entities as plain text.
pub async fn count(
    res: SetKind,
    parent: Option<String>,
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let options = query::parse(req.query_string(), COUNT_OPTIONS, res.registry().max_top)?;
    let resolved = resolve(res.registry(), &options, ApiVersion::of(&req))?;
    let principal = caller.0;
    check_visible(resolved.filter.as_ref(), omitted(res, &principal))?;
    let store = state.store.clone();
    let enforce = state.config.auth_enforce_scopes;
    let n = crate::observe::block(move || -> Result<i64, ApiError> {
        let (user, view) = scoped_user(&store, res, &principal, enforce, parent.as_deref())?;
        Ok(store.count_in(
            &Query {
                set: res.registry(),
                tenant: &principal.tenant,
                user: user.as_deref(),
                filter: resolved.filter.as_ref(),
                order: &[],
                after: None,
                limit: 0,
            },
            &view,
        )?)
    })
    .await??;
    Ok(HttpResponse::Ok().content_type("text/plain").body(n.to_string()))
}

/// One entity by id (`$select` allowed).
pub async fn get(
    res: SetKind,
    parent: Option<String>,
    id: String,
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let version = ApiVersion::of(&req);
    let options = query::parse(req.query_string(), &["select"], res.registry().max_top)?;
    let select = option(&options, "$select").map(|v| super::parse_select(res.registry(), v, version)).transpose()?;
    let principal = caller.0;
    let omit = omitted(res, &principal);
    let store = state.store.clone();
    let lookup = id.clone();
    let enforce = state.config.auth_enforce_scopes;
    let path = context_path(res, parent.as_deref());
    let (doc, view) = crate::observe::block(move || -> Result<_, ApiError> {
        let (user, view) = scoped_user(&store, res, &principal, enforce, parent.as_deref())?;
        Ok((store.get_in(res.registry(), &principal.tenant, user.as_deref(), &lookup, &view)?, view))
    })
    .await??;
    let doc = doc.ok_or_else(|| not_found(&id))?;
    let context = format!("{}/{}/$metadata#{path}/$entity", base_url(&req, &state), version.segment());
    let how = Presentation {
        select: select.as_deref(),
        masks: view.masks(res.registry()),
        omit,
        shape: super::shape_of(&req, res),
    };
    Ok(HttpResponse::Ok()
        .content_type("application/json; odata.metadata=minimal")
        .body(entity_body(&context, &doc, version, how)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The default order's cursor comes from the row's columns: it must be the one the document
    /// gives, or a next page would skip or repeat rows.
    #[test]
    fn a_time_ordered_cursor_from_the_columns_is_the_documents() {
        let set = &domain::query::registry::SIGN_INS;
        let doc = r#"{"id":"6B5C1A2E-0F3D-4C1B-9A8E-7D6C5B4A3F21","createdDateTime":"2026-11-27T10:11:12.1234567Z"}"#;
        let row = StoredDocument {
            created_ticks: domain::time::parse_ticks("2026-11-27T10:11:12.1234567Z").unwrap(),
            id: "6b5c1a2e-0f3d-4c1b-9a8e-7d6c5b4a3f21".into(),
            doc: doc.into(),
            doc_extra: None,
        };
        let order = storage::entities::default_order(set);
        let masks = Masks::default();
        assert_eq!(
            cursor_of(set, &row, &order, &masks).unwrap(),
            cursor_from_document(set, doc, &order, &masks).unwrap()
        );
    }
}
