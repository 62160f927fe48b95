//! Handlers, one file per resource. Shared here: the API version of a request, the public base
//! URL, and writing Graph envelopes around stored JSON text without re-serialising it.

pub mod actions;
pub mod console;
pub mod contract;
pub mod delta;
pub mod entities;
pub mod export;
pub mod graph_reports;
pub mod health;
pub mod ingest;
pub mod reports;
pub mod script;
pub mod tenant;

use std::borrow::Cow;

use actix_web::HttpRequest;
use domain::policy::Masks;
use domain::query::EntitySet;
use domain::sets::SetKind;
use domain::shape::Shape;
use storage::StoredDocument;

use crate::error::ApiError;
use crate::query::{QueryOptions, encode_value};
use crate::state::AppState;

/// `/v1.0` or `/beta`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiVersion {
    V1,
    Beta,
}

impl ApiVersion {
    #[must_use]
    pub fn of(req: &HttpRequest) -> Self {
        if req.path().starts_with("/beta") { Self::Beta } else { Self::V1 }
    }

    #[must_use]
    pub fn segment(self) -> &'static str {
        match self {
            Self::V1 => "v1.0",
            Self::Beta => "beta",
        }
    }
}

/// The base URL clients reach us at, for `@odata.context` and `@odata.nextLink`: `public_url`
/// when configured; otherwise the scheme and host the request came through. `Forwarded` and
/// `X-Forwarded-*` name them only when the peer is one of `trusted_proxies`: from anyone else they
/// are ignored, so a client cannot point the links (and the bearer token an SDK sends along them)
/// at a host of its choosing.
#[must_use]
pub fn base_url(req: &HttpRequest, state: &AppState) -> String {
    if let Some(url) = &state.config.public_url {
        return url.trim_end_matches('/').to_owned();
    }
    if req.peer_addr().is_some_and(|peer| state.config.trusts_proxy(peer.ip())) {
        let info = req.connection_info();
        if is_authority(info.host()) {
            return format!("{}://{}", info.scheme(), info.host());
        }
    }
    let scheme = if req.app_config().secure() { "https" } else { "http" };
    let host = req
        .headers()
        .get(actix_web::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().authority().map(actix_web::http::uri::Authority::as_str))
        .filter(|h| is_authority(h))
        .unwrap_or_else(|| req.app_config().host());
    format!("{scheme}://{host}")
}

/// Whether `host` is a plain `host[:port]` (a name, an IPv4 address or a bracketed IPv6 address):
/// nothing that would change the meaning of a URL built on it.
fn is_authority(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']' | b'_'))
}

/// A stored document as served: v1.0 properties only under `/v1.0`, everything under `/beta`.
#[must_use]
pub fn document_text(doc: &StoredDocument, version: ApiVersion) -> Cow<'_, str> {
    match (&doc.doc_extra, version) {
        (Some(extra), ApiVersion::Beta) if extra.len() > 2 && doc.doc.len() > 2 => {
            let mut s = String::with_capacity(doc.doc.len() + extra.len());
            s.push_str(&doc.doc[..doc.doc.len() - 1]);
            s.push(',');
            s.push_str(&extra[1..]);
            Cow::Owned(s)
        }
        _ => Cow::Borrowed(&doc.doc),
    }
}

pub(crate) fn json_string(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

/// Parses `$select`: a comma list of top-level properties of `set`. Under `/v1.0` they must be
/// v1.0 properties; under `/beta` any property name is allowed (beta has many more).
///
/// # Errors
/// [`ApiError::BadRequest`] naming the unknown property and listing the known ones.
pub fn parse_select(set: &EntitySet, value: &str, version: ApiVersion) -> Result<Vec<String>, ApiError> {
    let known = set.v1_properties;
    let mut out: Vec<String> = Vec::new();
    for raw in value.split(',') {
        let name = raw.trim();
        if name.is_empty() {
            return Err(ApiError::BadRequest("$select has an empty item; list properties separated by commas.".into()));
        }
        let canonical = known.iter().find(|k| k.eq_ignore_ascii_case(name)).map(|k| (*k).to_owned());
        let chosen = match (canonical, version) {
            (Some(k), _) => k,
            (None, ApiVersion::Beta)
                if name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
            {
                name.to_owned()
            }
            _ => {
                return Err(ApiError::BadRequest(format!(
                    "$select: '{name}' is not a property of {}. Properties: {}.",
                    set.type_name,
                    known.join(", ")
                )));
            }
        };
        if !out.contains(&chosen) {
            out.push(chosen);
        }
    }
    Ok(out)
}

/// How documents are shown to this caller: the `$select`ed properties only (all when `None`),
/// what the tenant's license masks (`hidden`, `generic`), and Graph's shaping for the version and
/// the `Prefer` header (`domain::shape`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Presentation<'a> {
    pub select: Option<&'a [String]>,
    pub masks: Masks,
    /// Properties the caller may not see at all.
    pub omit: &'a [&'static str],
    pub shape: Shape,
}

/// The shaping of `set`'s documents for this request: its version, and whether it sent
/// `Prefer: include-unknown-enum-members`.
#[must_use]
pub fn shape_of(req: &HttpRequest, set: SetKind) -> Shape {
    let unknown_enum_members = req
        .headers()
        .get_all("prefer")
        .filter_map(|v| v.to_str().ok())
        .any(domain::shape::prefers_unknown_enum_members);
    Shape { set: Some(set), v1: ApiVersion::of(req) == ApiVersion::V1, unknown_enum_members }
}

pub(crate) fn present<'a>(text: Cow<'a, str>, how: Presentation<'_>) -> Cow<'a, str> {
    if shaping_only(how) {
        // Shaping alone rewrites the text in one pass, without parsing it (`reshape_text`).
        return match text {
            Cow::Borrowed(t) => domain::shape::reshape_text(t, how.shape),
            Cow::Owned(t) => match domain::shape::reshape_text(&t, how.shape) {
                Cow::Owned(changed) => Cow::Owned(changed),
                Cow::Borrowed(_) => Cow::Owned(t),
            },
        };
    }
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(&text) else { return text };
    Cow::Owned(serde_json::Value::Object(present_map(map, how)).to_string())
}

/// Whether presenting a document is shaping it alone: nothing selected, masked or omitted.
fn shaping_only(how: Presentation<'_>) -> bool {
    how.select.is_none() && how.masks.is_empty() && how.omit.is_empty()
}

/// [`present`], appended to `out` (shaping alone writes straight into it, without a copy per
/// document).
fn present_into(text: Cow<'_, str>, how: Presentation<'_>, out: &mut String) {
    if shaping_only(how) {
        domain::shape::reshape_into(&text, how.shape, out);
    } else {
        out.push_str(&present(text, how));
    }
}

/// A document's properties as this caller sees them: shaped, selected, omitted, masked.
#[must_use]
pub fn present_map(
    mut map: serde_json::Map<String, serde_json::Value>,
    how: Presentation<'_>,
) -> serde_json::Map<String, serde_json::Value> {
    domain::shape::reshape_map(&mut map, how.shape);
    map.into_iter()
        .filter(|(k, _)| how.select.is_none_or(|s| s.iter().any(|x| x == k)) && !how.omit.contains(&k.as_str()))
        .map(|(k, v)| {
            if how.masks.hidden.contains(&k.as_str()) {
                return (k, serde_json::Value::String(domain::query::eval::HIDDEN.to_owned()));
            }
            match (how.masks.generic_of(&k), v) {
                (Some(g), serde_json::Value::String(s)) => {
                    let shown = g.apply(&s).to_owned();
                    (k, serde_json::Value::String(shown))
                }
                // A collection of masked values (a sign-in's risk event types): each reads through
                // the mask, and repeats of `generic` are one, so neither names nor counts tell
                // the premium detections apart.
                (Some(g), serde_json::Value::Array(items)) => {
                    let mut shown: Vec<serde_json::Value> = Vec::with_capacity(items.len());
                    for item in items {
                        let item = match item {
                            serde_json::Value::String(s) => serde_json::Value::String(g.apply(&s).to_owned()),
                            other => other,
                        };
                        if !shown.contains(&item) {
                            shown.push(item);
                        }
                    }
                    (k, serde_json::Value::Array(shown))
                }
                (_, v) => (k, v),
            }
        })
        .collect()
}

/// The parts of a collection response around its documents.
#[derive(Debug, Clone, Copy, Default)]
pub struct Envelope<'a> {
    pub context: &'a str,
    pub count: Option<i64>,
    pub next_link: Option<&'a str>,
    /// The oldest instant the tenant's retention shows (`@idtrail.retentionStart`).
    pub retention_start: Option<i64>,
}

/// A collection response: `@odata.context`, `@odata.count` when asked, `@idtrail.retentionStart`,
/// `@odata.nextLink` when there is more, `value`.
#[must_use]
pub fn collection_body(
    env: Envelope<'_>,
    docs: &[StoredDocument],
    version: ApiVersion,
    how: Presentation<'_>,
) -> String {
    let Envelope { context, count, next_link, retention_start } = env;
    let mut out = String::with_capacity(64 + docs.iter().map(|d| d.doc.len() + 1).sum::<usize>());
    out.push_str("{\"@odata.context\":");
    out.push_str(&json_string(context));
    if let Some(start) = retention_start {
        out.push_str(",\"@idtrail.retentionStart\":");
        out.push_str(&json_string(&domain::time::format_ticks(start)));
    }
    if let Some(n) = count {
        out.push_str(",\"@odata.count\":");
        out.push_str(&n.to_string());
    }
    if let Some(next) = next_link {
        out.push_str(",\"@odata.nextLink\":");
        out.push_str(&json_string(next));
    }
    out.push_str(",\"value\":[");
    for (i, d) in docs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        present_into(document_text(d, version), how, &mut out);
    }
    out.push_str("]}");
    out
}

/// A single-entity response: the document with `@odata.context` first.
#[must_use]
pub fn entity_body(context: &str, doc: &StoredDocument, version: ApiVersion, how: Presentation<'_>) -> String {
    let text = present(document_text(doc, version), how);
    let rest = text.strip_prefix('{').unwrap_or(&text);
    let sep = if rest.trim_start().starts_with('}') { "" } else { "," };
    format!("{{\"@odata.context\":{}{sep}{rest}", json_string(context))
}

/// The next page's URL: the same path, every original option (with `$top`), and `$skiptoken`.
#[must_use]
pub fn next_link(base: &str, path: &str, options: &QueryOptions, top: usize, token: &str) -> String {
    let mut parts: Vec<String> = Vec::with_capacity(options.pairs.len() + 2);
    let mut has_top = false;
    for (k, v) in &options.pairs {
        match k.as_str() {
            "$skiptoken" => {}
            "$top" => {
                has_top = true;
                parts.push(format!("$top={top}"));
            }
            _ => parts.push(format!("{}={}", encode_value(k), encode_value(v))),
        }
    }
    if !has_top {
        parts.push(format!("$top={top}"));
    }
    parts.push(format!("$skiptoken={}", encode_value(token)));
    format!("{base}{path}?{}", parts.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(extra: Option<&str>) -> StoredDocument {
        StoredDocument {
            created_ticks: 1,
            id: "a".into(),
            doc: r#"{"id":"a"}"#.into(),
            doc_extra: extra.map(Into::into),
        }
    }

    #[test]
    fn beta_documents_carry_the_extra_properties() {
        let d = doc(Some(r#"{"signInEventTypes":[]}"#));
        assert_eq!(document_text(&d, ApiVersion::Beta), r#"{"id":"a","signInEventTypes":[]}"#);
        assert_eq!(document_text(&d, ApiVersion::V1), r#"{"id":"a"}"#);
    }

    #[test]
    fn envelopes_are_valid_json() {
        let env = Envelope { context: "ctx", count: Some(2), next_link: Some("next"), retention_start: Some(0) };
        let body = collection_body(env, &[doc(None), doc(None)], ApiVersion::V1, Presentation::default());
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["value"].as_array().unwrap().len(), 2);
        let v: serde_json::Value =
            serde_json::from_str(&entity_body("c", &doc(None), ApiVersion::V1, Presentation::default())).unwrap();
        assert_eq!(v["@odata.context"], "c");
    }
}
