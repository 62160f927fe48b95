//! How a stored document is shaped for one request, as Graph shapes it (`docs/graph-notes.md`):
//!
//! - **Evolvable enums.** Graph adds enum members after `unknownFutureValue` over time and returns
//!   them only to a client that sends `Prefer: include-unknown-enum-members`; anyone else reads
//!   `unknownFutureValue`. Ingest keeps what the producer sent (data exported with that header),
//!   filters match the stored member, and responses substitute unless the caller asked.
//! - **Beta members inside complex values** (`deviceDetail.browserId`, a CA policy's
//!   `conditionsSatisfied`, ...) are kept in the document and dropped under `/v1.0`.
//!
//! Both checks first look at the document's text for the property names involved, so a document
//! that needs neither is served as stored, without being parsed.

use serde_json::{Map, Value};

use crate::query::registry::{Element, EntitySet, ValueType};
use crate::sets::SetKind;

/// What a request asks of the documents it is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Shape {
    /// The set the documents belong to (`None`: serve as stored).
    pub set: Option<SetKind>,
    /// Served under `/v1.0`: beta-only members of complex values are dropped.
    pub v1: bool,
    /// The client sent `Prefer: include-unknown-enum-members`.
    pub unknown_enum_members: bool,
}

/// Whether a `Prefer` header value asks for evolvable enum members (a comma list of preferences,
/// compared case-insensitively).
#[must_use]
pub fn prefers_unknown_enum_members(prefer: &str) -> bool {
    prefer.split(',').any(|p| p.trim().eq_ignore_ascii_case("include-unknown-enum-members"))
}

/// Beta-only members of a complex property: (property, members, whether it is a collection).
type BetaMembers = (&'static str, &'static [&'static str], bool);

/// The beta-only members inside the complex values of `set` (graph-reference §1.2).
fn beta_members(set: SetKind) -> &'static [BetaMembers] {
    match set {
        SetKind::SignIns => &[
            ("deviceDetail", &["browserId"], false),
            (
                "appliedConditionalAccessPolicies",
                &[
                    "conditionsSatisfied",
                    "conditionsNotSatisfied",
                    "includeRulesSatisfied",
                    "excludeRulesSatisfied",
                    "sessionControlsNotSatisfied",
                    "authenticationStrength",
                ],
                true,
            ),
        ],
        _ => &[],
    }
}

/// An enum-typed place in a document: a path of property names; `items` when the last one is a
/// collection whose items are (or hold, at `member`) the enum value.
#[derive(Debug, Clone, Copy)]
struct EnumPlace {
    path: &'static str,
    items: bool,
    member: Option<&'static str>,
    members: &'static [&'static str],
}

/// Every enum-typed place of `set` its registry knows.
fn enum_places(set: &EntitySet) -> Vec<EnumPlace> {
    let mut out: Vec<EnumPlace> = set
        .fields
        .iter()
        .filter_map(|f| match f.ty {
            ValueType::Enum { members, .. } => Some(EnumPlace { path: f.path, items: false, member: None, members }),
            _ => None,
        })
        .collect();
    for c in set.collections {
        match c.element {
            Element::Primitive { ty: ValueType::Enum { members, .. }, .. } => {
                out.push(EnumPlace { path: c.path, items: true, member: None, members });
            }
            Element::Complex { fields } => {
                for f in fields {
                    if let ValueType::Enum { members, .. } = f.ty {
                        out.push(EnumPlace { path: c.path, items: true, member: Some(f.path), members });
                    }
                }
            }
            Element::Primitive { .. } => {}
        }
    }
    out
}

/// The members a client that did not ask still reads: up to and including `unknownFutureValue`
/// (all of them when the enum has none), and that member's spelling.
fn visible_members(members: &'static [&'static str]) -> (&'static [&'static str], Option<&'static str>) {
    match members.iter().position(|m| m.eq_ignore_ascii_case("unknownFutureValue")) {
        Some(i) => (members.get(..=i).unwrap_or(members), members.get(i).copied()),
        None => (members, None),
    }
}

/// `value` as a client that did not ask for evolvable members reads it.
fn visible(value: &str, members: &'static [&'static str]) -> Option<&'static str> {
    let (shown, future) = visible_members(members);
    if shown.iter().any(|m| m.eq_ignore_ascii_case(value)) { None } else { future }
}

/// The last property name of an enum place (what its text shows as `"name":`).
fn key_of(place: &EnumPlace) -> &'static str {
    place.member.unwrap_or_else(|| place.path.rsplit('/').next().unwrap_or(place.path))
}

/// What the text check of one set looks for, built once: each enum place with its `"name":` key,
/// and the beta members as `"name"`.
struct Needles {
    places: Vec<(String, EnumPlace)>,
    beta: Vec<String>,
}

fn needles(set: SetKind) -> Option<&'static Needles> {
    static ALL: std::sync::OnceLock<Vec<(SetKind, Needles)>> = std::sync::OnceLock::new();
    let all = ALL.get_or_init(|| {
        SetKind::ALL
            .into_iter()
            .map(|k| {
                let places =
                    enum_places(k.registry()).into_iter().map(|p| (format!("\"{}\":", key_of(&p)), p)).collect();
                let beta = beta_members(k).iter().flat_map(|(_, m, _)| m.iter()).map(|m| format!("\"{m}\"")).collect();
                (k, Needles { places, beta })
            })
            .collect()
    });
    all.iter().find(|(k, _)| *k == set).map(|(_, n)| n)
}

/// A cheap look at the text: could `text` hold a value this shape changes?
fn may_change(text: &str, set: SetKind, shape: Shape) -> bool {
    let Some(n) = needles(set) else { return false };
    if shape.v1 && n.beta.iter().any(|m| text.contains(m.as_str())) {
        return true;
    }
    if shape.unknown_enum_members {
        return false;
    }
    n.places.iter().any(|(key, p)| {
        text.match_indices(key.as_str()).any(|(at, _)| {
            text.get(at + key.len()..).is_some_and(|rest| strings_after(rest).any(|v| visible(v, p.members).is_some()))
        })
    })
}

/// The string values at the start of `rest`: one string, or the strings of an array of strings
/// (stored documents are compact JSON; escapes in enum members are not identifiers anyway).
fn strings_after(rest: &str) -> impl Iterator<Item = &str> {
    let rest = rest.trim_start();
    let body = if let Some(array) = rest.strip_prefix('[') { array.split(']').next().unwrap_or("") } else { rest };
    let single = !rest.starts_with('[');
    body.split(',')
        .take(if single { 1 } else { usize::MAX })
        .filter_map(|item| item.trim().strip_prefix('"').and_then(|s| s.split('"').next()))
}

fn at_path_mut<'v>(doc: &'v mut Map<String, Value>, path: &str) -> Option<&'v mut Value> {
    let mut parts = path.split('/');
    let first = doc.get_mut(parts.next()?)?;
    parts.try_fold(first, |v, seg| v.get_mut(seg))
}

fn hide_in(v: &mut Value, members: &'static [&'static str]) {
    if let Value::String(s) = v
        && let Some(future) = visible(s, members)
    {
        *s = future.to_owned();
    }
}

/// Applies `shape` to a document's properties.
pub fn reshape_map(doc: &mut Map<String, Value>, shape: Shape) {
    let Some(set) = shape.set else { return };
    if shape.v1 {
        for (property, members, collection) in beta_members(set) {
            let Some(v) = doc.get_mut(*property) else { continue };
            let objects: Vec<&mut Value> = if *collection {
                v.as_array_mut().map(|a| a.iter_mut().collect()).unwrap_or_default()
            } else {
                vec![v]
            };
            for o in objects {
                if let Value::Object(o) = o {
                    o.retain(|k, _| !members.contains(&k.as_str()));
                }
            }
        }
    }
    if !shape.unknown_enum_members {
        for place in enum_places(set.registry()) {
            let Some(v) = at_path_mut(doc, place.path) else { continue };
            match (place.items, v) {
                (false, v) => hide_in(v, place.members),
                (true, Value::Array(items)) => {
                    for item in items {
                        match place.member {
                            None => hide_in(item, place.members),
                            Some(m) => {
                                if let Some(x) = item.get_mut(m) {
                                    hide_in(x, place.members);
                                }
                            }
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

/// Whether the document text needs [`reshape_map`] for `shape` (else it is served as stored).
#[must_use]
pub fn needs_reshaping(text: &str, shape: Shape) -> bool {
    shape.set.is_some_and(|set| may_change(text, set, shape))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn shaped(doc: &Value, shape: Shape) -> Value {
        let text = doc.to_string();
        if !needs_reshaping(&text, shape) {
            return doc.clone();
        }
        let Value::Object(mut map) = doc.clone() else { panic!() };
        reshape_map(&mut map, shape);
        Value::Object(map)
    }

    #[test]
    fn evolvable_members_read_unknown_future_value_unless_asked() {
        let doc = json!({"riskDetail": "m365DAdminDismissedDetection", "riskLevelAggregated": "high",
            "riskEventTypes": ["unlikelyTravel", "someNewDetection"],
            "appliedConditionalAccessPolicies": [{"result": "reportOnlyFailure"}, {"result": "failure"}]});
        let plain = Shape { set: Some(SetKind::SignIns), v1: false, unknown_enum_members: false };
        let got = shaped(&doc, plain);
        assert_eq!(got["riskDetail"], "unknownFutureValue");
        assert_eq!(got["riskLevelAggregated"], "high");
        assert_eq!(got["riskEventTypes"], json!(["unlikelyTravel", "unknownFutureValue"]));
        assert_eq!(got["appliedConditionalAccessPolicies"][0]["result"], "unknownFutureValue");
        assert_eq!(got["appliedConditionalAccessPolicies"][1]["result"], "failure");
        let asked = Shape { unknown_enum_members: true, ..plain };
        assert_eq!(shaped(&doc, asked), doc);
        let known = json!({"riskDetail": "hidden", "riskState": "atRisk"});
        assert!(!needs_reshaping(&known.to_string(), plain));
        // tokenIssuerType writes the member in PascalCase.
        let detection = json!({"tokenIssuerType": "NPSExtension"});
        let s = Shape { set: Some(SetKind::RiskDetections), ..plain };
        assert_eq!(shaped(&detection, s)["tokenIssuerType"], "UnknownFutureValue");
    }

    #[test]
    fn beta_members_inside_complex_values_are_dropped_under_v1() {
        let doc = json!({"deviceDetail": {"browser": "Edge", "browserId": "b1"},
            "appliedConditionalAccessPolicies": [{"id": "p", "conditionsSatisfied": "none", "result": "success"}]});
        let v1 = Shape { set: Some(SetKind::SignIns), v1: true, unknown_enum_members: true };
        let got = shaped(&doc, v1);
        assert_eq!(got["deviceDetail"], json!({"browser": "Edge"}));
        assert_eq!(got["appliedConditionalAccessPolicies"][0], json!({"id": "p", "result": "success"}));
        assert_eq!(shaped(&doc, Shape { v1: false, ..v1 }), doc);
    }

    #[test]
    fn prefer_lists_are_read_case_insensitively() {
        assert!(prefers_unknown_enum_members("odata.maxpagesize=10, Include-Unknown-Enum-Members"));
        assert!(!prefers_unknown_enum_members("return=minimal"));
    }
}
