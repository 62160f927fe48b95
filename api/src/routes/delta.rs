//! `GET /{v1.0|beta}/{set}/delta`: the checkpoint feed, by arrival rather than by event time
//! (`storage::feed`), in Graph's delta shape. The first call (no token) returns everything the
//! caller may see in arrival order, in pages linked by `@odata.nextLink` (`$skiptoken`); the last
//! page carries `@odata.deltaLink` (`$deltatoken`), and calling it later returns exactly what was
//! stored since, late arrivals included. Access, own-only scope, license masks and Conditional
//! Access omission are the list's (`routes::entities`).
//!
//! Both tokens are a signed position (`paging::PageSigner`, the skiptokens' key), bound to the
//! caller, the set and `$select`, with the time they were issued: one issued before the set's
//! retention window is refused with Graph's 410 `syncStateNotFound` (`docs/graph-notes.md` §13).

use actix_web::{HttpRequest, HttpResponse, web};
use domain::query::Scalar;
use domain::sets::SetKind;
use storage::FeedQuery;

use super::{ApiVersion, Presentation, base_url, document_text, entities, json_string, present};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::paging;
use crate::query::{self, QueryOptions, encode_value};
use crate::state::AppState;

const DELTA_OPTIONS: &[&str] = &["top", "skiptoken", "deltatoken", "select", "filter", "orderby"];

fn option<'o>(options: &'o QueryOptions, name: &str) -> Option<&'o str> {
    options.pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// The position a token carries: the last journal position served, and when it was issued.
fn open_token(state: &AppState, binding: &str, token: &str, name: &str) -> Result<(i64, i64), ApiError> {
    let cursor = state.pager.open(binding, token).map_err(|e| match e {
        ApiError::BadRequest(m) => ApiError::BadRequest(m.replace("$skiptoken", name)),
        other => other,
    })?;
    match cursor.as_slice() {
        [Scalar::Int(position), Scalar::Ticks(issued)] => Ok((*position, *issued)),
        _ => Err(ApiError::BadRequest(format!(
            "The {name} is not a delta token of this feed: follow @odata.nextLink and @odata.deltaLink exactly as \
             returned."
        ))),
    }
}

/// The link to the next page or the next sync: the same path, `$select` and `$top` as asked, and
/// the token.
fn link(base: &str, path: &str, options: &QueryOptions, token_name: &str, token: &str) -> String {
    let mut parts: Vec<String> = options
        .pairs
        .iter()
        .filter(|(k, _)| k == "$select" || k == "$top")
        .map(|(k, v)| format!("{k}={}", encode_value(v)))
        .collect();
    parts.push(format!("{token_name}={}", encode_value(token)));
    format!("{base}{path}?{}", parts.join("&"))
}

/// A page of the feed of `res`.
pub async fn delta(
    res: SetKind,
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let set = res.registry();
    if storage::feed::feed_name(res).is_none() {
        return Err(ApiError::NotFound(format!("{} has no delta feed.", set.name)));
    }
    let version = ApiVersion::of(&req);
    let options = query::parse(req.query_string(), DELTA_OPTIONS, set.max_top)?;
    for name in ["$filter", "$orderby"] {
        if option(&options, name).is_some() {
            return Err(ApiError::BadRequest(format!(
                "The query option '{name}' is not supported on delta: the feed returns every record stored since \
                 the last call, in arrival order. Filter and sort on your side, or use the list \
                 ({}) for a filtered, ordered read.",
                set.name
            )));
        }
    }
    let skiptoken = options.skiptoken.as_deref();
    let deltatoken = option(&options, "$deltatoken");
    if skiptoken.is_some() && deltatoken.is_some() {
        return Err(ApiError::BadRequest(
            "Give either $skiptoken (the next page) or $deltatoken (the next sync), not both.".into(),
        ));
    }
    let select = option(&options, "$select").map(|s| super::parse_select(set, s, version)).transpose()?;
    let top = options.top.unwrap_or(set.default_top);
    let principal = caller.0;
    let omit = entities::omitted(res, &principal);
    let selected = select.as_ref().map(|s| s.join(",")).unwrap_or_default();
    let binding = paging::binding(&principal.binding(), &format!("{}/delta", set.name), &selected);
    let position = match (skiptoken, deltatoken) {
        (Some(t), _) => Some(open_token(&state, &binding, t, "$skiptoken")?),
        (None, Some(t)) => Some(open_token(&state, &binding, t, "$deltatoken")?),
        (None, None) => None,
    };

    let store = state.store.clone();
    let enforce = state.config.auth_enforce_scopes;
    let who = principal.clone();
    let (page, view, now) = crate::observe::block(move || -> Result<_, ApiError> {
        let (user, view) = entities::scoped_user(&store, res, &who, enforce, None)?;
        if let Some((_, issued)) = position
            && issued < view.window_start(set)
        {
            return Err(ApiError::SyncStateNotFound(format!(
                "The delta token is older than the retention of {} for this tenant: records stored after it may \
                 have been purged. Start a full synchronization again with a request without a token.",
                set.name
            )));
        }
        let now = store.clock().now_ticks();
        let q = FeedQuery {
            set,
            tenant: &who.tenant,
            user: user.as_deref(),
            after: position.map_or(0, |(p, _)| p),
            limit: top + 1,
        };
        Ok((store.feed_page(&q, &view)?, view, now))
    })
    .await??;

    let base = base_url(&req, &state);
    let mut rows = page.rows;
    let last_served = |rows: &[(i64, storage::StoredDocument)]| rows.last().map(|(p, _)| *p);
    let (token_name, next_position) = match page.horizon {
        Some(horizon) if rows.len() <= top => ("$deltatoken", horizon),
        _ => {
            rows.truncate(top);
            ("$skiptoken", last_served(&rows).unwrap_or(position.map_or(0, |(p, _)| p)))
        }
    };
    let token = state.pager.issue(&binding, &[Scalar::Int(next_position), Scalar::Ticks(now)]);
    let next = link(&base, req.path(), &options, token_name, &token);
    let projection = select.as_ref().map(|s| format!("({})", s.join(",")));
    let context = format!("{base}/{}/$metadata#{}{}", version.segment(), set.name, projection.unwrap_or_default());
    let how =
        Presentation { select: select.as_deref(), masks: view.masks(set), omit, shape: super::shape_of(&req, res) };

    let mut body = String::with_capacity(128 + rows.iter().map(|(_, d)| d.doc.len() + 1).sum::<usize>());
    body.push_str("{\"@odata.context\":");
    body.push_str(&json_string(&context));
    body.push_str(",\"@idtrail.retentionStart\":");
    body.push_str(&json_string(&domain::time::format_ticks(view.window_start(set))));
    body.push_str(",\"value\":[");
    for (i, (_, d)) in rows.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&present(document_text(d, version), how));
    }
    body.push_str("],");
    body.push_str(&json_string(if token_name == "$skiptoken" { "@odata.nextLink" } else { "@odata.deltaLink" }));
    body.push(':');
    body.push_str(&json_string(&next));
    body.push('}');
    Ok(HttpResponse::Ok().content_type("application/json; odata.metadata=minimal").body(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_keep_select_and_top_and_drop_other_options() {
        let options = QueryOptions {
            pairs: vec![
                ("$select".into(), "id,createdDateTime".into()),
                ("$top".into(), "5".into()),
                ("$deltatoken".into(), "old".into()),
                ("custom".into(), "x".into()),
            ],
            top: Some(5),
            skiptoken: None,
        };
        assert_eq!(
            link("https://h", "/v1.0/auditLogs/signIns/delta", &options, "$deltatoken", "a.b"),
            "https://h/v1.0/auditLogs/signIns/delta?$select=id,createdDateTime&$top=5&$deltatoken=a.b"
        );
    }
}
