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
/// `innerError.date`: `yyyy-MM-ddTHH:mm:ss`, UTC without an offset (`domain::time::format_error_date`).
const INNER_ERROR_DATE_PATTERN: &str = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$";
/// A path id: any text but `/` and control characters, which the router refuses with 400 before
/// any route (`api::middleware`); every other id that names no record is a 404.
const PATH_ID_PATTERN: &str = r"^[^/\u0000-\u001f\u007f-\u009f]+$";

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

/// A parameter's `examples`: `example1`, `example2`, ... in order.
fn numbered_examples(examples: &[String]) -> Map<String, Value> {
    examples.iter().enumerate().map(|(i, e)| (format!("example{}", i + 1), json!({"value": e}))).collect()
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

/// An entity's schema lists no property as `required`: `$select` leaves out every property it does
/// not name (Graph's own OpenAPI marks none required either); non-nullable ones are never `null`.
/// A complex type is always sent whole, so its non-nullable properties are `required`.
fn type_schema(t: &StructuredType, entity: bool) -> Value {
    let mut props = Map::new();
    let mut required = Vec::new();
    for p in &t.properties {
        props.insert(p.name.clone(), property_schema(p));
        if !p.nullable && !entity {
            required.push(p.name.clone());
        }
    }
    let description = if entity {
        format!(
            "`microsoft.graph.{}` (entity), property for property as Graph's v1.0 CSDL. Under /beta more \
            properties may appear. With `$select` only the named properties are sent, so none is required.",
            t.name
        )
    } else {
        format!(
            "`microsoft.graph.{}` (complex type), property for property as Graph's v1.0 CSDL. Under /beta \
            more properties may appear.",
            t.name
        )
    };
    let mut s = json!({
        "type": "object",
        "title": t.name,
        "description": description,
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
    for set in all_sets().filter(|s| s.kind.has_feed()) {
        out.insert(format!("microsoft.graph.{}DeltaResponse", set.type_name), delta_schema(set.type_name));
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
                "date": {
                    "type": "string",
                    "pattern": INNER_ERROR_DATE_PATTERN,
                    "description": "When the error happened, in UTC, as Graph sends it: to the second, \
                        with no offset and no `Z` (e.g. `2026-12-05T02:11:56`), so not an RFC 3339 `date-time`.",
                },
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
            "additionalProperties": false,
            "properties": {"userIds": {
                "type": "array",
                "minItems": 1,
                "maxItems": domain::actions::MAX_USER_IDS,
                "items": {"type": "string", "format": "uuid"},
                "description": "User object ids (GUIDs); duplicates count once.",
            }},
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
            let mut lines: Vec<String> = fields
                .iter()
                .map(|f| format!("- `{}/any(x: x/{} eq …)`: {}", c.path, f.path, describe(f.ty)))
                .collect();
            for n in c.nested {
                let inner = match n.element {
                    Element::Primitive { ty, .. } => format!("y eq {}", sample_literal(ty)),
                    Element::Complex { fields } => format!("y/{} eq …", fields.first().map_or("id", |f| f.path)),
                };
                lines.push(format!(
                    "- `{}/any(x: x/{}/any(y: {inner}))`: a collection inside each element (lambdas nest 3 deep)",
                    c.path, n.path
                ));
            }
            lines
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
    let ex = numbered_examples(&examples);
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
        "description": format!(
            "Top-level properties of `{}` to return, comma-separated (one named twice is returned once).",
            set.type_name
        ),
        "style": "form",
        "explode": false,
        "schema": {"type": "array", "items": items},
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

fn apply_param(set: &EntitySet) -> Value {
    let keys: Vec<String> = set.fields.iter().map(|f| format!("`{}`", f.path)).collect();
    let time = set.time_field;
    let examples = [
        format!("groupby(({}),aggregate($count as n))/topcount(3,n)", set.fields.get(2).map_or("id", |f| f.path)),
        format!("compute(date({time}) as day)/groupby((day),aggregate($count as n))/orderby(day)"),
        format!("aggregate($count as n,{time} with max as latest)"),
    ];
    let ex = numbered_examples(&examples);
    json!({
        "name": "$apply",
        "in": "query",
        "required": false,
        "description": format!(
            "OData Data Aggregation, computed in the database over the rows this caller may list (same tenant, \
             own-only scope, retention and license masks). Steps chained with `/`: any `filter(<$filter \
             expression>)` and `compute(<date|year|month|day|hour>({time}) as alias)`, then one \
             `groupby((key,...))`, `groupby((key,...),aggregate(...))` or `aggregate(...)`, where an aggregate is \
             `$count as alias` or `<property> with <sum|min|max|average|countdistinct> as alias`; then optionally \
             `topcount(n,alias)` and `orderby(output [asc|desc],...)`. Other transformations are refused with 400 \
             naming them. Cannot be combined with $filter, $orderby, $select, $skiptoken or $count; $top caps \
             the groups returned. More than {max} groups is a 400. The response's `value` then holds one object \
             per group (`@odata.id` null, the keys, nested by path, and the aggregates).\n\nGroup keys: {}, \
             or a compute alias.\n\nExamples:\n{}",
            keys.join(", "),
            examples.iter().map(|e| format!("- `{e}`")).collect::<Vec<_>>().join("\n"),
            max = domain::query::apply::MAX_GROUPS,
        ),
        "schema": {"type": "string"},
        "examples": ex,
    })
}

fn delta_schema(type_name: &str) -> Value {
    json!({
        "type": "object",
        "title": format!("{type_name}DeltaResponse"),
        "required": ["value"],
        "properties": {
            "@odata.context": {"type": "string"},
            "@odata.nextLink": {"type": "string", "description": "More of this sync: GET it unchanged. A page has this or @odata.deltaLink, never both."},
            "@odata.deltaLink": {"type": "string", "description": "The end of this sync: GET it later for exactly what was stored since (late arrivals included)."},
            "@idtrail.retentionStart": {"type": "string", "format": "date-time", "description": "The oldest instant the tenant's retention shows."},
            "value": {"type": "array", "items": graph_ref(type_name)},
        },
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
        out.insert(format!("{k}.apply"), apply_param(set));
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
        "deltatoken".into(),
        json!({
            "name": "$deltatoken",
            "in": "query",
            "required": false,
            "description": "An opaque checkpoint, only ever taken from @odata.deltaLink: the next sync starts after it. Bound to the caller, the set and $select; older than the set's retention it is refused with 410.",
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
            "description": "The caller's id for the request (Graph's SDKs send a GUID), echoed in the \
                `client-request-id` response header and in errors' `innerError`. Any value is accepted, as \
                Graph accepts it: one that is empty, longer than 128 characters or holds anything but visible ASCII \
                (a space included) is not echoed; the response then carries the request-id in its place.",
            "schema": {"type": "string"},
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
    out.insert(
        "Gone".into(),
        error_response("The $deltatoken is older than the set's retention (`syncStateNotFound`): start a full synchronization again, without a token.", &[]),
    );
    out.insert("PayloadTooLarge".into(), error_response("The body is larger than the configured limit.", &[]));
    out.insert(
        "RequestTimeout".into(),
        error_response(
            "The body did not arrive in time (ingest_first_byte_timeout_ms, ingest_idle_timeout_ms); nothing was stored.",
            &[],
        ),
    );
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
        "A page of items; with `$format`, every matching item as an attachment (`$format=json`: one array).",
        json!({"anyOf": [
            graph_ref(&format!("{}CollectionResponse", set.type_name)),
            {"type": "array", "items": graph_ref(set.type_name), "description": "`$format=json`: every matching item, in the list's order."},
        ]}),
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
        param_ref(&format!("{k}.apply")),
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
    if set.kind.has_feed() {
        let mut delta_errors = READ_ERRORS.to_vec();
        delta_errors.push(("410", "Gone"));
        paths.insert(
            format!("{base}/delta"),
            json!({"get": operation(Op {
                id: op_id(version, set, "delta"),
                tag,
                summary: format!(
                    "The {} feed by arrival ({version}): every item in the order it was stored, paged with \
                     @odata.nextLink, ending with @odata.deltaLink, which later returns exactly what was stored since \
                     (late arrivals included). $filter and $orderby are refused: arrival order is the order.",
                    set.type_name
                ),
                endpoint,
                params: vec![select.clone(), param_ref(&format!("{k}.top")), param_ref("skiptoken"), param_ref("deltatoken")],
                ok: ok_json("A page of the feed.", graph_ref(&format!("{}DeltaResponse", set.type_name)), true),
                errors: delta_errors,
                body: None,
            })}),
        );
    }
    let id_name = if extra.is_empty() { "id" } else { "historyId" };
    let mut get_params = extra.to_vec();
    get_params.push(json!({"name": id_name, "in": "path", "required": true, "description": format!("The {}'s id.", set.type_name), "schema": {"type": "string", "pattern": PATH_ID_PATTERN}}));
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
                    ("400", "BadRequest"), ("401", "Unauthorized"), ("403", "Forbidden"), ("408", "RequestTimeout"), ("413", "PayloadTooLarge"),
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

/// One bucket (or the totals) of an activity report.
fn report_numbers(bucket: bool) -> Value {
    let mut props = json!({
        "signIns": {"type": "integer", "format": "int64", "description": "Sign-ins counted."},
        "successful": {"type": "integer", "format": "int64", "description": "Those with status/errorCode 0."},
        "failed": {"type": "integer", "format": "int64", "description": "The others."},
        "distinctUsers": {"type": "integer", "format": "int64", "description": "Distinct user ids among them."},
        "drillDown": {"type": "string", "format": "uri", "description": "The /v1.0/auditLogs/signIns URL whose $filter lists exactly these sign-ins."},
    });
    if bucket {
        insert(
            &mut props,
            "start",
            json!({"type": "string", "format": "date-time", "description": "Inclusive (UTC)."}),
        );
        insert(&mut props, "end", json!({"type": "string", "format": "date-time", "description": "Exclusive (UTC)."}));
        insert(
            &mut props,
            "partial",
            json!({"type": "boolean", "description": "The period cuts this hour, day or week."}),
        );
    }
    let required: Vec<String> = props.as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default();
    json!({"type": "object", "properties": props, "required": required})
}

/// An operation for the tenant-wide sign-in readers only: the sign-in row of the matrix without its
/// own-records exception.
fn tenant_wide_only(mut op: Value) -> Value {
    if let Some(Value::String(d)) = op.get_mut("description") {
        *d = d.replace(
            " A user without one of those roles sees only their own records.",
            " A user without one of those roles is refused (403): the report is about the whole tenant.",
        );
    }
    if let Some(ext) = op.get_mut("x-idtrail-access") {
        insert(ext, "ownRecords", json!(false));
    }
    op
}

fn query_param(name: &str, description: &str, schema: Value) -> Value {
    json!({"name": name, "in": "query", "required": false, "description": description, "schema": schema})
}

/// The periods a report takes with the default retention table: P1D up to the longest sign-in
/// window (30 days), or whole weeks within it. (A service configured with longer windows takes
/// longer periods; the document states the default.)
fn period_pattern() -> String {
    let days = domain::policy::RetentionPolicy::default().longest_days(domain::policy::DataSet::SignIns);
    let day_list: Vec<String> = (1..=days).map(|d| d.to_string()).collect();
    let week_list: Vec<String> = (1..=days / 7).map(|w| w.to_string()).collect();
    format!("^[Pp](({})[Dd]|({})[Ww])$", day_list.join("|"), week_list.join("|"))
}

fn report_paths(paths: &mut Map<String, Value>) {
    let common = vec![
        query_param(
            "period",
            "ISO 8601 days or weeks, P1D up to the tenant's retention window (P30D on P1 and P2). The period ends at the end of the current 15-minute block and starts at a whole block inside the window. Default: P30D, or the whole window if it is shorter.",
            json!({"type": "string", "default": "P30D", "pattern": period_pattern()}),
        ),
        query_param(
            "interval",
            "Bucket width: local hours, days, or ISO weeks starting on Monday.",
            json!({"type": "string", "enum": ["PT1H", "P1D", "P1W"], "default": "P1W"}),
        ),
        query_param(
            "timeZone",
            "IANA time zone the buckets follow, DST-exact (a day may be 23 or 25 hours).",
            json!({"type": "string", "default": "UTC", "examples": ["Europe/Paris"], "enum": domain::reports::time_zone_names().collect::<Vec<_>>()}),
        ),
        query_param("userId", "Only this user's sign-ins.", json!({"type": "string", "format": "uuid"})),
        query_param(
            "userPrincipalName",
            "Only the sign-ins of the user ids that signed in with this name in the window (listed in userIds).",
            json!({"type": "string", "minLength": 1, "maxLength": 256}),
        ),
    ];
    let buckets = json!({"type": "array", "items": report_numbers(true)});
    let head = json!({
        "period": {"type": "string"}, "interval": {"type": "string"}, "timeZone": {"type": "string"},
        "weekStartsOn": {"type": "string", "enum": ["monday"], "description": "Weekly reports only."},
        "start": {"type": "string", "format": "date-time"}, "end": {"type": "string", "format": "date-time"},
        "userIds": {"type": "array", "items": {"type": "string"}, "description": "With userId or userPrincipalName: the user ids counted."},
    });
    let mut activity = head.clone();
    insert(&mut activity, "appId", json!({"type": "string"}));
    insert(&mut activity, "buckets", buckets.clone());
    insert(&mut activity, "totals", report_numbers(false));
    let mut app = report_numbers(false);
    if let Some(props) = app.get_mut("properties") {
        insert(props, "appId", json!({"type": "string"}));
        insert(props, "appDisplayName", json!({"type": ["string", "null"]}));
        insert(props, "buckets", buckets);
    }
    let mut top = head;
    insert(&mut top, "top", json!({"type": "integer"}));
    insert(&mut top, "applications", json!({"type": "array", "items": app}));
    let mut activity_params = common.clone();
    activity_params.push(query_param(
        "appId",
        "Only this application's sign-ins.",
        json!({"type": "string", "format": "uuid"}),
    ));
    let mut top_params = common;
    top_params.push(query_param(
        "top",
        "How many applications, by sign-ins.",
        json!({"type": "integer", "minimum": 1, "maximum": 50, "default": 3}),
    ));
    for (path, id, summary, params, body) in [
        (
            "/idtrail/reports/signInActivity",
            "idtrail.reports.signInActivity",
            "Sign-ins, successes, failures and distinct users per hour, day or week, from the rollups; each bucket links to its sign-ins.",
            activity_params,
            activity,
        ),
        (
            "/idtrail/reports/topApplications",
            "idtrail.reports.topApplications",
            "The top applications by sign-ins, each with the same series as signInActivity.",
            top_params,
            top,
        ),
    ] {
        paths.insert(
            path.into(),
            json!({"get": tenant_wide_only(operation(Op {
                id: id.into(),
                tag: "reports",
                summary: summary.into(),
                endpoint: Some(Endpoint::SignIns),
                params,
                ok: ok_json("The report.", json!({"type": "object", "properties": body}), true),
                errors: READ_ERRORS.to_vec(),
                body: None,
            }))}),
        );
    }
    let collection = |item: Value| json!({"type": "object", "properties": {"@odata.context": {"type": "string"}, "@odata.nextLink": {"type": "string"}, "value": {"type": "array", "items": item}}});
    let int = json!({"type": "integer", "format": "int64"});
    let summary = json!({"type": "object", "properties": {
        "id": {"type": "string", "description": "The application id."}, "appDisplayName": {"type": "string"},
        "successfulSignInCount": int, "failedSignInCount": int, "successPercentage": {"type": "number", "format": "double"},
    }});
    let detailed = json!({"type": "object", "properties": {
        "id": {"type": "string"}, "appId": {"type": ["string", "null"]}, "appDisplayName": {"type": ["string", "null"]},
        "status": {"type": "object", "properties": {"errorCode": {"type": ["integer", "null"]}, "failureReason": {"type": ["string", "null"]}, "additionalDetails": {"type": ["string", "null"]}}},
        "signInCount": int, "aggregatedEventDateTime": {"type": "string", "format": "date-time"},
    }});
    for period in ["D7", "D30"] {
        paths.insert(
            format!("/beta/reports/getAzureADApplicationSignInSummary(period='{period}')"),
            json!({"get": operation(Op {
                id: format!("beta.reports.getAzureADApplicationSignInSummary{period}"),
                tag: "reports",
                summary: format!("Per application, successful and failed sign-ins of the last {} days (other periods: 400).", &period[1..]),
                endpoint: Some(Endpoint::ReportFunctions),
                params: vec![],
                ok: ok_json("The summary.", collection(summary.clone()), true),
                errors: READ_ERRORS.to_vec(),
                body: None,
            })}),
        );
    }
    let detailed_params = vec![
        query_param(
            "$filter",
            "On appId, appDisplayName, aggregatedEventDateTime, status/errorCode (and signInCount).",
            json!({"type": "string"}),
        ),
        query_param("$orderby", "Any of those properties, asc or desc.", json!({"type": "string"})),
        query_param("$top", "Rows per page.", json!({"type": "integer", "minimum": 1, "maximum": 1000})),
        query_param("$skiptoken", "From @odata.nextLink.", json!({"type": "string"})),
    ];
    let id_param =
        json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string", "pattern": PATH_ID_PATTERN}});
    for (path, id, summary, params, schema) in [
        (
            "/beta/reports/applicationSignInDetailedSummary",
            "beta.reports.listApplicationSignInDetailedSummary",
            "Sign-ins per application, UTC day and status over the retention window. Delegated tokens only.",
            detailed_params,
            collection(detailed.clone()),
        ),
        (
            "/beta/reports/applicationSignInDetailedSummary/{id}",
            "beta.reports.getApplicationSignInDetailedSummary",
            "One row of the detailed summary. Delegated tokens only.",
            vec![id_param],
            detailed,
        ),
    ] {
        paths.insert(
            path.into(),
            json!({"get": operation(Op {
                id: id.into(),
                tag: "reports",
                summary: summary.into(),
                endpoint: Some(Endpoint::ReportFunctions),
                params,
                ok: ok_json("The rows.", schema, true),
                errors: READ_ERRORS.iter().copied().chain([("404", "NotFound")]).collect(),
                body: None,
            })}),
        );
    }
    let daily = json!({"type": "object", "properties": {"id": {"type": "string"}, "activityDateTime": {"type": "string", "format": "date-time"}, "signInCount": int}});
    let per_app = json!({"type": "object", "properties": {"appId": {"type": "string"}, "signInCount": int, "tenantId": {"type": "string"}}});
    for (path, id, summary, item) in [
        (
            "/beta/auditLogs/signInEventsSummary",
            "beta.auditLogs.signInEventsSummary",
            "Sign-ins per UTC day of the retention window.",
            daily,
        ),
        (
            "/beta/auditLogs/signInEventsAppSummary",
            "beta.auditLogs.signInEventsAppSummary",
            "Sign-ins per application over the last 30 days.",
            per_app,
        ),
    ] {
        paths.insert(
            path.into(),
            json!({"get": tenant_wide_only(operation(Op {
                id: id.into(),
                tag: "reports",
                summary: summary.into(),
                endpoint: Some(Endpoint::SignIns),
                params: vec![],
                ok: ok_json("The summary.", collection(item), true),
                errors: READ_ERRORS.to_vec(),
                body: None,
            }))}),
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
                    let user = json!({"name": "id", "in": "path", "required": true, "description": "The risky user's id (the user's object id).", "schema": {"type": "string", "pattern": PATH_ID_PATTERN}});
                    let path = format!("/{version}/{}/{{id}}/{}", parent.registry().name, set.kind.segment());
                    set_paths(&mut paths, version, set, &path, &[user]);
                }
                None => set_paths(&mut paths, version, set, &format!("/{version}/{}", set.name), &[]),
            }
        }
        action_paths(&mut paths, version);
    }
    ingest_paths(&mut paths);
    report_paths(&mut paths);
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
