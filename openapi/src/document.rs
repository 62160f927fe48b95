//! The OpenAPI 3.1 document: every path under `/v1.0` and `/beta`, ingest, tenant, health and the
//! contract itself, with parameters, schemas, errors, security and rate-limit headers.
//!
//! Built as JSON on top of [`crate::base`] and checked against utoipa's model (`document` fails if
//! utoipa cannot read it back). Sets, fields, page sizes and permissions are read from the domain.

use domain::access::{Endpoint, MATRIX, Rule};
use domain::query::registry::{RISKY_USERS, all_sets};
use domain::query::{CollectionField, Element, EntitySet, ValueType};
use serde_json::{Map, Value, json};

use crate::BEARER_SCHEME;
use crate::model::{Property, Shape, StructuredType, Traced};

const VERSIONS: [&str; 2] = ["v1.0", "beta"];
const ERROR_SCHEMA: &str = "microsoft.graph.ODataErrors.ODataError";
const JSON: &str = "application/json";

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn graph_ref(name: &str) -> Value {
    schema_ref(&format!("microsoft.graph.{name}"))
}

fn response_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/responses/{name}") })
}

/// Sets `key` in the object `target` (every value this module inserts into is an object it built).
fn insert(target: &mut Value, key: &str, value: Value) {
    if let Some(object) = target.as_object_mut() {
        object.insert(key.to_owned(), value);
    }
}

fn param_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/parameters/{name}") })
}

/// The access rule of a set (its row of the matrix).
fn endpoint_of(set: &EntitySet) -> Option<Endpoint> {
    Some(set.kind.endpoint())
}

fn rule_of(endpoint: Endpoint) -> Option<&'static Rule> {
    MATRIX.iter().find(|r| r.endpoint == endpoint)
}

/// `security` and the access paragraph of an operation, from the matrix.
fn access(endpoint: Option<Endpoint>) -> (Value, String, Option<Value>) {
    let Some(rule) = endpoint.and_then(rule_of) else {
        return (json!([{ BEARER_SCHEME: [] }]), "Any valid token of the tenant.".to_owned(), None);
    };
    let mut perms: Vec<&str> = rule.app_permissions.to_vec();
    for s in rule.scopes {
        if !perms.contains(s) {
            perms.push(s);
        }
    }
    let roles: Vec<&str> = rule.roles.iter().map(|r| r.display_name()).collect();
    let mut text = format!("Application permission (any one): {}.", rule.app_permissions.join(", "));
    if rule.scopes.is_empty() {
        text.push_str(" App-only: delegated (user) tokens are refused with 403 Authorization_RequestDenied.");
    } else {
        text.push_str(&format!(" Delegated scope (any one): {}", rule.scopes.join(", ")));
        text.push_str(&format!("; the user needs one of the directory roles: {}.", roles.join(", ")));
    }
    if rule.own_records {
        text.push_str(" A user without one of those roles sees only their own records.");
    }
    text.push_str(&format!(" Tenant license: at least {}.", rule.license.as_str()));
    let ext = json!({
        "applicationPermissions": rule.app_permissions,
        "delegatedScopes": rule.scopes,
        "directoryRoles": roles,
        "license": rule.license.as_str(),
        "ownRecords": rule.own_records,
    });
    (json!([{ BEARER_SCHEME: perms }]), text, Some(ext))
}

// ---- schemas -------------------------------------------------------------------------------

fn non_null(shape: &Shape) -> Value {
    match shape {
        Shape::String => json!({"type": "string"}),
        Shape::Boolean => json!({"type": "boolean"}),
        Shape::Int32 => json!({"type": "integer", "format": "int32"}),
        Shape::Int64 => json!({"type": "integer", "format": "int64"}),
        Shape::Double => json!({"type": "number", "format": "double"}),
        Shape::DateTimeOffset => json!({"type": "string", "format": "date-time"}),
        Shape::Enum(n) | Shape::Complex(n) => graph_ref(n),
        Shape::Collection(inner) => json!({"type": "array", "items": non_null(inner)}),
    }
}

fn property_schema(p: &Property) -> Value {
    let mut s = non_null(&p.shape);
    if !p.nullable {
        return s;
    }
    match (&p.shape, s.get("type").cloned()) {
        (Shape::Enum(_) | Shape::Complex(_), _) | (_, None) => json!({"anyOf": [s, {"type": "null"}]}),
        (_, Some(t)) => {
            insert(&mut s, "type", json!([t, "null"]));
            s
        }
    }
}

fn type_schema(t: &StructuredType, entity: bool) -> Value {
    let mut props = Map::new();
    let mut required = Vec::new();
    for p in &t.properties {
        props.insert(p.name.clone(), property_schema(p));
        if !p.nullable {
            required.push(p.name.clone());
        }
    }
    let kind = if entity { "entity" } else { "complex type" };
    let mut s = json!({
        "type": "object",
        "title": t.name,
        "description": format!("`microsoft.graph.{}` ({kind}), property for property as Graph's v1.0 CSDL. \
            Under /beta more properties may appear.", t.name),
        "properties": props,
    });
    if !required.is_empty() {
        insert(&mut s, "required", json!(required));
    }
    s
}

fn collection_schema(type_name: &str) -> Value {
    json!({
        "type": "object",
        "title": format!("{type_name}CollectionResponse"),
        "required": ["value"],
        "properties": {
            "@odata.context": {"type": "string"},
            "@odata.count": {"type": "integer", "format": "int64", "description": "With $count=true: the number of items matching $filter, across all pages."},
            "@odata.nextLink": {"type": "string", "description": "The next page: GET it unchanged. Absent on the last page."},
            "@idtrail.retentionStart": {"type": "string", "format": "date-time", "description": "The oldest instant the tenant's retention shows."},
            "value": {"type": "array", "items": graph_ref(type_name)},
        },
    })
}

fn schemas(types: &Traced, entity_names: &[&str]) -> Map<String, Value> {
    let mut out = Map::new();
    for t in &types.types {
        out.insert(format!("microsoft.graph.{}", t.name), type_schema(t, entity_names.contains(&t.name.as_str())));
    }
    for (name, members) in &types.enums {
        out.insert(format!("microsoft.graph.{name}"), json!({"type": "string", "title": name, "enum": members}));
    }
    for name in entity_names {
        out.insert(format!("microsoft.graph.{name}CollectionResponse"), collection_schema(name));
    }
    out.insert(
        ERROR_SCHEMA.into(),
        json!({
            "type": "object",
            "title": "ODataError",
            "required": ["error"],
            "properties": {"error": schema_ref("microsoft.graph.ODataErrors.MainError")},
        }),
    );
    out.insert(
        "microsoft.graph.ODataErrors.MainError".into(),
        json!({
            "type": "object",
            "title": "MainError",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "description": "Graph's error code, e.g. BadRequest, Authentication_MSGraphPermissionMissing."},
                "message": {"type": "string"},
                "innerError": schema_ref("microsoft.graph.ODataErrors.InnerError"),
                "details": {"type": "array", "items": schema_ref("microsoft.graph.ODataErrors.ErrorDetails")},
            },
        }),
    );
    out.insert(
        "microsoft.graph.ODataErrors.InnerError".into(),
        json!({
            "type": "object",
            "title": "InnerError",
            "properties": {
                "date": {"type": "string", "format": "date-time"},
                "request-id": {"type": "string"},
                "client-request-id": {"type": "string"},
            },
        }),
    );
    out.insert(
        "microsoft.graph.ODataErrors.ErrorDetails".into(),
        json!({
            "type": "object",
            "title": "ErrorDetails",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "target": {"type": "string"},
                "index": {"type": "integer", "description": "Ingest: the index of the bad record in the batch."},
            },
        }),
    );
    out.insert(
        "idtrail.ingestResult".into(),
        json!({
            "type": "object",
            "title": "ingestResult",
            "required": ["inserted", "duplicates", "expired"],
            "properties": {
                "inserted": {"type": "integer", "format": "int64"},
                "duplicates": {"type": "integer", "format": "int64", "description": "Records whose id was already stored (ingest is idempotent by id)."},
                "expired": {"type": "integer", "format": "int64", "description": "Records older than the tenant's retention: accepted, not stored."},
            },
        }),
    );
    out.insert(
        "idtrail.riskyUserIds".into(),
        json!({
            "type": "object",
            "title": "riskyUserIds",
            "required": ["userIds"],
            "properties": {"userIds": {"type": "array", "items": {"type": "string"}, "description": "User object ids."}},
        }),
    );
    out.insert(
        "idtrail.tenant".into(),
        json!({
            "type": "object",
            "title": "tenant",
            "required": ["id", "license"],
            "properties": {
                "id": {"type": "string"},
                "displayName": {"type": ["string", "null"]},
                "license": {"type": "string", "enum": ["free", "p1", "p2"]},
                "retention": {"type": "object", "additionalProperties": true},
                "features": {"type": "object", "additionalProperties": true},
            },
        }),
    );
    out.insert(
        "idtrail.health".into(),
        json!({
            "type": "object",
            "title": "health",
            "required": ["status"],
            "properties": {"status": {"type": "string"}, "database": {"type": "string"}},
        }),
    );
    out
}

// ---- parameters ----------------------------------------------------------------------------

fn describe(t: ValueType) -> String {
    match t {
        ValueType::Enum { name, members } => format!("enum {name} ({})", members.join(", ")),
        other => other.edm_name(),
    }
}

fn sample_literal(t: ValueType) -> String {
    match t {
        ValueType::String => "'x'".into(),
        ValueType::Int32 => "0".into(),
        ValueType::Double => "1.5".into(),
        ValueType::Boolean => "true".into(),
        ValueType::DateTimeOffset => "2024-01-01T00:00:00Z".into(),
        ValueType::Enum { members, .. } => format!("'{}'", members.first().copied().unwrap_or("")),
    }
}

fn collection_lines(c: &CollectionField) -> Vec<String> {
    match c.element {
        Element::Primitive { ty, .. } => {
            vec![format!(
                "- `{}`: collection of {} (use any/all: `{}/any(x: x eq {})`)",
                c.path,
                describe(ty),
                c.path,
                sample_literal(ty)
            )]
        }
        Element::Complex { fields } => {
            fields.iter().map(|f| format!("- `{}/any(x: x/{} eq …)`: {}", c.path, f.path, describe(f.ty))).collect()
        }
    }
}

fn filter_examples(set: &EntitySet) -> Vec<String> {
    let mut out = vec![format!("{} ge 2024-01-01T00:00:00Z", set.time_field)];
    if let Some(f) = set.fields.iter().find(|f| matches!(f.ty, ValueType::Enum { .. })) {
        out.push(format!("{} eq {} and {} lt 2030-01-01T00:00:00Z", f.path, sample_literal(f.ty), set.time_field));
    }
    if let Some(f) = set.fields.iter().skip(1).find(|f| f.ty == ValueType::String) {
        out.push(format!("startswith({}, 'a')", f.path));
    }
    if let Some(f) = set.fields.iter().find(|f| f.ty == ValueType::Int32) {
        out.push(format!("{} ne {} or not ({} eq {})", f.path, sample_literal(f.ty), f.path, sample_literal(f.ty)));
    }
    if let Some(c) = set.collections.first() {
        match c.element {
            Element::Complex { fields } => {
                if let Some(f) = fields.iter().find(|f| matches!(f.ty, ValueType::Enum { .. } | ValueType::String)) {
                    out.push(format!("{}/any(x: x/{} eq {})", c.path, f.path, sample_literal(f.ty)));
                }
            }
            Element::Primitive { ty, .. } => out.push(format!("{}/any(x: x eq {})", c.path, sample_literal(ty))),
        }
    }
    out
}

fn filter_param(set: &EntitySet) -> Value {
    let mut lines: Vec<String> = set
        .fields
        .iter()
        .map(|f| format!("- `{}`: {}{}", f.path, describe(f.ty), if f.sortable { "" } else { " (filter only)" }))
        .collect();
    for c in set.collections {
        lines.extend(collection_lines(c));
    }
    let examples = filter_examples(set);
    let mut ex = Map::new();
    for (i, e) in examples.iter().enumerate() {
        ex.insert(format!("example{}", i + 1), json!({"value": e}));
    }
    json!({
        "name": "$filter",
        "in": "query",
        "required": false,
        "description": format!(
            "An OData filter. Grammar: `or` < `and` < `not` < comparison (`eq ne gt ge lt le`, `in (…)`); \
             parentheses; member paths with `/`; string literals in single quotes (`'O''Brien'`), \
             DateTimeOffset literals unquoted (`2024-01-01T00:00:00Z`), numbers, `true`/`false`/`null`; \
             conditions `startswith(p, 'x')`, `endswith`, `contains`; value functions `tolower`, `toupper`, \
             `trim`, `length`, `year`, `month`, `day`, `hour`, `minute`, `second`, `date`; lambdas \
             `any`/`all` on collections. String comparison is case-insensitive, as in Graph.\n\n\
             Properties of `{}`:\n{}\n\nExamples:\n{}",
            set.type_name,
            lines.join("\n"),
            examples.iter().map(|e| format!("- `{e}`")).collect::<Vec<_>>().join("\n"),
        ),
        "schema": {"type": "string"},
        "examples": ex,
    })
}

fn select_param(set: &EntitySet, beta: bool) -> Value {
    let items = if beta {
        json!({"type": "string", "description": "A property name; /beta also accepts properties outside v1.0."})
    } else {
        json!({"type": "string", "enum": set.v1_properties})
    };
    json!({
        "name": "$select",
        "in": "query",
        "required": false,
        "description": format!("Top-level properties of `{}` to return, comma-separated.", set.type_name),
        "style": "form",
        "explode": false,
        "schema": {"type": "array", "uniqueItems": true, "items": items},
    })
}

fn orderby_param(set: &EntitySet) -> Value {
    let mut items = Vec::new();
    for f in set.fields.iter().filter(|f| f.sortable) {
        items.push(f.path.to_owned());
        items.push(format!("{} desc", f.path));
    }
    json!({
        "name": "$orderby",
        "in": "query",
        "required": false,
        "description": format!(
            "Sort keys, comma-separated, each optionally followed by `asc` or `desc`. The default is `{} desc`; \
             every order ends with `id` so that paging is stable. Sortable: {}.",
            set.time_field,
            set.fields.iter().filter(|f| f.sortable).map(|f| format!("`{}`", f.path)).collect::<Vec<_>>().join(", ")
        ),
        "style": "form",
        "explode": false,
        "schema": {"type": "array", "items": {"type": "string", "enum": items}},
    })
}

fn top_param(set: &EntitySet) -> Value {
    json!({
        "name": "$top",
        "in": "query",
        "required": false,
        "description": format!("Page size: 1 to {} (default {}). Larger values are refused with 400.", set.max_top, set.default_top),
        "schema": {"type": "integer", "minimum": 1, "maximum": set.max_top, "default": set.default_top},
    })
}

fn set_key(set: &EntitySet) -> String {
    set.type_name.to_owned()
}

fn parameters() -> Map<String, Value> {
    let mut out = Map::new();
    for set in all_sets() {
        let k = set_key(set);
        out.insert(format!("{k}.filter"), filter_param(set));
        out.insert(format!("{k}.select"), select_param(set, false));
        out.insert(format!("{k}.select.beta"), select_param(set, true));
        out.insert(format!("{k}.orderby"), orderby_param(set));
        out.insert(format!("{k}.top"), top_param(set));
    }
    out.insert(
        "skiptoken".into(),
        json!({
            "name": "$skiptoken",
            "in": "query",
            "required": false,
            "description": "An opaque continuation token, only ever taken from @odata.nextLink; it is bound to the other options.",
            "schema": {"type": "string"},
        }),
    );
    out.insert(
        "format".into(),
        json!({
            "name": "$format",
            "in": "query",
            "required": false,
            "description": "Export every matching item instead of a page: `csv` (the portal's Download columns; `$select` picks and orders them), `ndjson` (one item per line, then the trailer `{\"@idtrail.complete\":true,\"rows\":N}`), or `json` (one array). Also chosen by `Accept: text/csv` or `application/x-ndjson`. `$top` then caps the rows at any number; `$skiptoken` and `$count` do not apply. Streamed; a body cut short (no last chunk, no trailer, no closing bracket) is incomplete. `Content-Disposition: attachment; filename=\"SignIns_2026-12-05T10-00Z.csv\"`.",
            "schema": {"type": "string", "enum": ["csv", "ndjson", "json"]},
        }),
    );
    out.insert(
        "count".into(),
        json!({
            "name": "$count",
            "in": "query",
            "required": false,
            "description": "`true` adds @odata.count, the number of matching items across all pages.",
            "schema": {"type": "boolean"},
        }),
    );
    out.insert(
        "client-request-id".into(),
        json!({
            "name": "client-request-id",
            "in": "header",
            "required": false,
            "description": "The caller's id for the request, echoed in the response and in errors.",
            "schema": {"type": "string", "maxLength": 128},
        }),
    );
    out
}

// ---- responses and headers -----------------------------------------------------------------

fn headers() -> Map<String, Value> {
    let mut out = Map::new();
    let int = |d: &str| json!({"description": d, "schema": {"type": "integer"}});
    out.insert("RateLimit-Limit".into(), int("Requests allowed per window for this tenant and client application."));
    out.insert("RateLimit-Remaining".into(), int("Requests left in the current window."));
    out.insert("RateLimit-Reset".into(), int("Seconds until the window resets."));
    out.insert("Retry-After".into(), int("Seconds to wait before retrying."));
    out.insert(
        "request-id".into(),
        json!({"description": "The id idtrail gave the request.", "schema": {"type": "string"}}),
    );
    out.insert(
        "client-request-id".into(),
        json!({"description": "The caller's client-request-id, or the request-id.", "schema": {"type": "string"}}),
    );
    out
}

fn header_refs(names: &[&str]) -> Value {
    let mut m = Map::new();
    for n in names {
        m.insert((*n).to_owned(), json!({"$ref": format!("#/components/headers/{n}")}));
    }
    Value::Object(m)
}

const LIMITED: &[&str] =
    &["RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "request-id", "client-request-id"];
const IDS: &[&str] = &["request-id", "client-request-id"];

fn error_response(description: &str, extra_headers: &[&str]) -> Value {
    let mut names: Vec<&str> = LIMITED.to_vec();
    names.extend_from_slice(extra_headers);
    json!({
        "description": description,
        "headers": header_refs(&names),
        "content": {JSON: {"schema": schema_ref(ERROR_SCHEMA)}},
    })
}

fn responses() -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("BadRequest".into(), error_response("The request is malformed: an unknown property, a bad $filter (the message gives the offset), an unsupported option, or $top out of range.", &[]));
    let mut unauthorized =
        error_response("No token, or the token is invalid or expired (`InvalidAuthenticationToken`).", &[]);
    if let Some(headers) = unauthorized.get_mut("headers") {
        insert(headers, "WWW-Authenticate", json!({"schema": {"type": "string"}}));
    }
    out.insert("Unauthorized".into(), unauthorized);
    out.insert("Forbidden".into(), error_response("The token lacks the permission, the tenant's license is too low, or the user lacks a directory role (`Authentication_MSGraphPermissionMissing`, `Authentication_RequestFromNonPremiumTenantOrB2CTenant`, `Authentication_RequestFromUnsupportedUserRole`, `Authorization_RequestDenied`).", &[]));
    out.insert(
        "NotFound".into(),
        error_response("No such item in the caller's tenant (`Request_ResourceNotFound`).", &[]),
    );
    out.insert("PayloadTooLarge".into(), error_response("The body is larger than the configured limit.", &[]));
    out.insert("UnsupportedMediaType".into(), error_response("The body's Content-Type is not accepted here.", &[]));
    out.insert(
        "TooManyRequests".into(),
        error_response("The tenant and client application exceeded their rate (`TooManyRequests`).", &["Retry-After"]),
    );
    out.insert(
        "InternalServerError".into(),
        error_response("An unexpected error; the message quotes the request-id.", &[]),
    );
    out.insert(
        "ServiceUnavailable".into(),
        error_response("The database is unavailable or the query took too long.", &["Retry-After"]),
    );
    out
}

fn add_errors(responses: &mut Map<String, Value>, codes: &[(&str, &str)]) {
    for (code, name) in codes {
        responses.insert((*code).to_owned(), response_ref(name));
    }
}

const READ_ERRORS: &[(&str, &str)] = &[
    ("400", "BadRequest"),
    ("401", "Unauthorized"),
    ("403", "Forbidden"),
    ("429", "TooManyRequests"),
    ("500", "InternalServerError"),
    ("503", "ServiceUnavailable"),
];

// ---- operations ----------------------------------------------------------------------------

struct Op<'a> {
    id: String,
    tag: &'a str,
    summary: String,
    endpoint: Option<Endpoint>,
    params: Vec<Value>,
    ok: (String, Value),
    errors: Vec<(&'a str, &'a str)>,
    body: Option<Value>,
}

fn operation(op: Op<'_>) -> Value {
    let (security, access_text, ext) = access(op.endpoint);
    let mut responses = Map::new();
    responses.insert(op.ok.0, op.ok.1);
    add_errors(&mut responses, &op.errors);
    let mut params = op.params;
    params.push(param_ref("client-request-id"));
    let mut o = json!({
        "operationId": op.id,
        "tags": [op.tag],
        "summary": op.summary,
        "description": format!("Access: {access_text}"),
        "parameters": params,
        "responses": responses,
        "security": security,
    });
    if let Some(ext) = ext {
        insert(&mut o, "x-idtrail-access", ext);
    }
    if let Some(body) = op.body {
        insert(&mut o, "requestBody", body);
    }
    o
}

fn ok_json(description: &str, schema: Value, limited: bool) -> (String, Value) {
    let headers = header_refs(if limited { LIMITED } else { IDS });
    ("200".into(), json!({"description": description, "headers": headers, "content": {JSON: {"schema": schema}}}))
}

/// A collection's 200: a page as JSON, or with `$format` an export as CSV, NDJSON or one JSON array.
fn list_ok(set: &EntitySet) -> (String, Value) {
    let (status, mut ok) = ok_json(
        "A page of items; with `$format`, every matching item as an attachment.",
        graph_ref(&format!("{}CollectionResponse", set.type_name)),
        true,
    );
    if let Some(content) = ok.get_mut("content").and_then(Value::as_object_mut) {
        content.insert("text/csv".into(), json!({"schema": {"type": "string"}}));
        content.insert("application/x-ndjson".into(), json!({"schema": {"type": "string"}}));
    }
    if let Some(headers) = ok.get_mut("headers").and_then(Value::as_object_mut) {
        headers.insert(
            "Content-Disposition".into(),
            json!({"description": "On exports: `attachment; filename=\"<Set>_<UTC time>.<csv|ndjson|json>\"`.", "schema": {"type": "string"}}),
        );
    }
    (status, ok)
}

/// `auditLogs.listSignIns`, `beta.identityProtection.riskyUsers.listHistory`, ...
fn op_id(version: &str, set: &EntitySet, verb: &str) -> String {
    let prefix = if version == "beta" { "beta." } else { "" };
    let mut parts = set.name.split('/');
    let root = parts.next().unwrap_or_default();
    let rest: Vec<&str> = parts.collect();
    let noun = rest.iter().map(|p| upper_first(p)).collect::<String>();
    format!("{prefix}{root}.{verb}{noun}")
}

fn upper_first(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
}

fn set_paths(paths: &mut Map<String, Value>, version: &str, set: &EntitySet, base: &str, extra: &[Value]) {
    let k = set_key(set);
    let beta = version == "beta";
    let tag = set.name.split('/').next().unwrap_or_default();
    let endpoint = endpoint_of(set);
    let select = param_ref(&format!("{k}.select{}", if beta { ".beta" } else { "" }));
    let mut list_params = extra.to_vec();
    list_params.extend([
        param_ref(&format!("{k}.filter")),
        select.clone(),
        param_ref(&format!("{k}.orderby")),
        param_ref(&format!("{k}.top")),
        param_ref("skiptoken"),
        param_ref("count"),
        param_ref("format"),
    ]);
    let mut list_errors = READ_ERRORS.to_vec();
    if !extra.is_empty() {
        list_errors.push(("404", "NotFound"));
    }
    paths.insert(
        base.to_owned(),
        json!({"get": operation(Op {
            id: op_id(version, set, "list"),
            tag,
            summary: format!("List {} ({version}), newest first, paged with @odata.nextLink.", set.type_name),
            endpoint,
            params: list_params,
            ok: list_ok(set),
            errors: list_errors.clone(),
            body: None,
        })}),
    );
    let mut count_params = extra.to_vec();
    count_params.push(param_ref(&format!("{k}.filter")));
    paths.insert(
        format!("{base}/$count"),
        json!({"get": operation(Op {
            id: op_id(version, set, "count"),
            tag,
            summary: format!("Count {} matching $filter ({version}), as plain text.", set.type_name),
            endpoint,
            params: count_params,
            ok: ("200".into(), json!({
                "description": "The number of matching items.",
                "headers": header_refs(LIMITED),
                "content": {"text/plain": {"schema": {"type": "integer", "minimum": 0}}},
            })),
            errors: list_errors,
            body: None,
        })}),
    );
    let id_name = if extra.is_empty() { "id" } else { "historyId" };
    let mut get_params = extra.to_vec();
    get_params.push(json!({"name": id_name, "in": "path", "required": true, "description": format!("The {}'s id.", set.type_name), "schema": {"type": "string"}}));
    get_params.push(select);
    let mut get_errors = READ_ERRORS.to_vec();
    get_errors.push(("404", "NotFound"));
    paths.insert(
        format!("{base}/{{{id_name}}}"),
        json!({"get": operation(Op {
            id: op_id(version, set, "get"),
            tag,
            summary: format!("Get one {} by id ({version}).", set.type_name),
            endpoint,
            params: get_params,
            ok: ok_json("The item, with @odata.context.", graph_ref(set.type_name), true),
            errors: get_errors,
            body: None,
        })}),
    );
}

fn action_paths(paths: &mut Map<String, Value>, version: &str) {
    let prefix = if version == "beta" { "beta." } else { "" };
    for (action, what) in
        [("dismiss", "Dismiss the risk of users"), ("confirmCompromised", "Confirm users as compromised")]
    {
        paths.insert(
            format!("/{version}/{}/{action}", RISKY_USERS.name),
            json!({"post": operation(Op {
                id: format!("{prefix}identityProtection.riskyUsers.{action}"),
                tag: "identityProtection",
                summary: format!("{what} ({version}); each change is appended to the user's history."),
                endpoint: Some(Endpoint::RiskyUserActions),
                params: vec![],
                ok: ("204".into(), json!({"description": "Done.", "headers": header_refs(LIMITED)})),
                errors: vec![
                    ("400", "BadRequest"), ("401", "Unauthorized"), ("403", "Forbidden"), ("413", "PayloadTooLarge"),
                    ("415", "UnsupportedMediaType"), ("429", "TooManyRequests"), ("500", "InternalServerError"),
                    ("503", "ServiceUnavailable"),
                ],
                body: Some(json!({"required": true, "content": {JSON: {"schema": schema_ref("idtrail.riskyUserIds")}}})),
            })}),
        );
    }
}

fn ingest_paths(paths: &mut Map<String, Value>) {
    for (set, name) in all_sets().filter_map(|s| Some((s, s.kind.ingest_name()?))) {
        paths.insert(
            format!("/ingest/{name}"),
            json!({"post": operation(Op {
                id: format!("ingest.{name}"),
                tag: "ingest",
                summary: format!("Push {} records into the caller's tenant: all or nothing, idempotent by id.", set.type_name),
                endpoint: Some(Endpoint::Ingest),
                params: vec![],
                ok: ok_json("Stored.", schema_ref("idtrail.ingestResult"), true),
                errors: vec![
                    ("400", "BadRequest"), ("401", "Unauthorized"), ("403", "Forbidden"), ("413", "PayloadTooLarge"),
                    ("415", "UnsupportedMediaType"), ("429", "TooManyRequests"), ("500", "InternalServerError"),
                    ("503", "ServiceUnavailable"),
                ],
                body: Some(json!({
                    "required": true,
                    "description": format!("`microsoft.graph.{}` documents: a JSON array, or NDJSON (one per line). A bad record refuses the batch; the 400 lists each bad record's index and reason.", set.type_name),
                    "content": {
                        JSON: {"schema": {"type": "array", "items": graph_ref(set.type_name)}},
                        "application/x-ndjson": {"schema": {"type": "string"}},
                    },
                })),
            })}),
        );
    }
}

fn plain_get(id: &str, tag: &str, summary: &str, ok: (String, Value), errors: &[(&str, &str)], public: bool) -> Value {
    let mut responses = Map::new();
    responses.insert(ok.0, ok.1);
    add_errors(&mut responses, errors);
    let mut o = json!({"operationId": id, "tags": [tag], "summary": summary, "responses": responses});
    insert(&mut o, "security", if public { json!([]) } else { json!([{ BEARER_SCHEME: [] }]) });
    json!({"get": o})
}

fn other_paths(paths: &mut Map<String, Value>) {
    paths.insert(
        "/idtrail/tenant".into(),
        plain_get(
            "idtrail.getTenant",
            "tenant",
            "The caller's tenant: license tier, retention windows and features. Any valid token of the tenant.",
            ok_json("The tenant.", schema_ref("idtrail.tenant"), false),
            &[("401", "Unauthorized"), ("500", "InternalServerError"), ("503", "ServiceUnavailable")],
            false,
        ),
    );
    paths.insert("/idtrail/script".into(), script_path());
    paths.insert(
        "/healthz".into(),
        plain_get(
            "health.live",
            "health",
            "Liveness: the process answers.",
            ok_json("Alive.", schema_ref("idtrail.health"), false),
            &[],
            true,
        ),
    );
    paths.insert(
        "/readyz".into(),
        plain_get(
            "health.ready",
            "health",
            "Readiness: the database answers.",
            ok_json("Ready.", schema_ref("idtrail.health"), false),
            &[("503", "ServiceUnavailable")],
            true,
        ),
    );
    paths.insert(
        "/openapi.json".into(),
        plain_get(
            "contract.openapi",
            "contract",
            "This OpenAPI document.",
            ("200".into(), json!({"description": "OpenAPI 3.1.", "content": {JSON: {"schema": {"type": "object"}}}})),
            &[],
            true,
        ),
    );
    for version in VERSIONS {
        paths.insert(
            format!("/{version}/$metadata"),
            plain_get(
                &format!("contract.metadata.{}", if version == "beta" { "beta" } else { "v1" }),
                "contract",
                "The OData CSDL of the served types, entity sets and their query capabilities.",
                (
                    "200".into(),
                    json!({"description": "CSDL XML.", "content": {"application/xml": {"schema": {"type": "string"}}}}),
                ),
                &[],
                true,
            ),
        );
    }
}

/// `/idtrail/script`: the portal's Script button.
fn script_path() -> Value {
    let mut responses = Map::new();
    responses.insert(
        "200".into(),
        json!({
            "description": "A script (attachment) that downloads the request's CSV export from this service with the token in IDTRAIL_TOKEN, retrying 429 and 503 after Retry-After; the file appears only once complete.",
            "headers": header_refs(IDS),
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }),
    );
    add_errors(
        &mut responses,
        &[
            ("400", "BadRequest"),
            ("401", "Unauthorized"),
            ("403", "Forbidden"),
            ("404", "NotFound"),
            ("500", "InternalServerError"),
            ("503", "ServiceUnavailable"),
        ],
    );
    json!({"get": {
        "operationId": "idtrail.getScript",
        "tags": ["export"],
        "summary": "A bash (curl) or Python (standard library) script reproducing a collection request as a CSV download. The request is checked now as the list checks it (bad options are 400, access 401/403).",
        "parameters": [
            {"name": "shell", "in": "query", "required": true, "description": "The script's language.", "schema": {"type": "string", "enum": ["bash", "python"]}},
            {"name": "request", "in": "query", "required": true, "description": "The collection request, path and query: `/v1.0/auditLogs/signIns?$filter=...` (URL-encoded as a whole).", "schema": {"type": "string"}},
            param_ref("client-request-id"),
        ],
        "responses": responses,
        "security": [{ BEARER_SCHEME: [] }],
    }})
}

/// The complete document.
///
/// # Errors
/// When a model cannot be traced or utoipa cannot read the document back.
pub fn document() -> Result<Value, String> {
    let types = crate::all_types()?;
    let entity_names: Vec<&str> = all_sets().map(|s| s.type_name).collect();
    let mut paths = Map::new();
    for version in VERSIONS {
        for set in all_sets() {
            match set.kind.parent() {
                Some(parent) => {
                    let user = json!({"name": "id", "in": "path", "required": true, "description": "The risky user's id (the user's object id).", "schema": {"type": "string"}});
                    let path = format!("/{version}/{}/{{id}}/{}", parent.registry().name, set.kind.segment());
                    set_paths(&mut paths, version, set, &path, &[user]);
                }
                None => set_paths(&mut paths, version, set, &format!("/{version}/{}", set.name), &[]),
            }
        }
        action_paths(&mut paths, version);
    }
    ingest_paths(&mut paths);
    other_paths(&mut paths);

    let mut doc = serde_json::to_value(crate::base()).map_err(|e| e.to_string())?;
    insert(&mut doc, "paths", Value::Object(paths));
    // Relative: Swagger UI and generated clients talk to the idtrail that served the document.
    insert(&mut doc, "servers", json!([{"url": "/", "description": "The idtrail serving this document"}]));
    let components = doc.get_mut("components").and_then(Value::as_object_mut).ok_or("the base has no components")?;
    components.insert("schemas".into(), Value::Object(schemas(&types, &entity_names)));
    components.insert("parameters".into(), Value::Object(parameters()));
    components.insert("responses".into(), Value::Object(responses()));
    components.insert("headers".into(), Value::Object(headers()));
    serde_json::from_value::<utoipa::openapi::OpenApi>(doc.clone())
        .map_err(|e| format!("utoipa cannot read the document: {e}"))?;
    Ok(doc)
}

/// The document as committed in `openapi/openapi.json`: pretty-printed, with a final newline.
///
/// # Errors
/// As [`document`].
pub fn document_json() -> Result<String, String> {
    let doc = document()?;
    serde_json::to_string_pretty(&doc).map(|s| s + "\n").map_err(|e| e.to_string())
}
