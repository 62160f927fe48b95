//! How a stored document is shaped for one request, as Graph shapes it (`docs/graph-notes.md`):
//!
//! - **Evolvable enums.** Graph adds enum members after `unknownFutureValue` over time and returns
//!   them only to a client that sends `Prefer: include-unknown-enum-members`; anyone else reads
//!   `unknownFutureValue`. Ingest keeps what the producer sent (data exported with that header),
//!   filters match the stored member, and responses substitute unless the caller asked.
//! - **Beta members inside complex values** (`deviceDetail.browserId`, a CA policy's
//!   `conditionsSatisfied`, ...) are kept in the document and dropped under `/v1.0`.
//!
//! Responses apply both to the stored text in one pass ([`reshape_text`]), without parsing it; a
//! document that needs neither is served as stored.

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

/// Whether `value` is one of `shown` (members compare case-insensitively).
fn is_shown(shown: &[&str], value: &str) -> bool {
    shown.iter().any(|m| m.eq_ignore_ascii_case(value))
}

/// `value` as a client that did not ask for evolvable members reads it.
fn visible(value: &str, members: &'static [&'static str]) -> Option<&'static str> {
    let (shown, future) = visible_members(members);
    if is_shown(shown, value) { None } else { future }
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

/// `text` (a stored document: one JSON object, as serde_json wrote it) shaped for `shape`: the
/// same as parsing it, [`reshape_map`], and writing it again, in one pass over the text that
/// copies what it does not change in whole spans (and borrows `text` when nothing changed). A list
/// page presented every document the parsing way, and most sign-ins carry an evolvable member (a
/// report-only CA result): parsing and writing 50 documents was three quarters of the service's
/// time for a page (bench/ANALYSIS.md). Only the members on a rule's path are looked at; every
/// other value is stepped over. Text that is not such a document (which the store never holds)
/// goes the parsing way.
#[must_use]
pub fn reshape_text(text: &str, shape: Shape) -> std::borrow::Cow<'_, str> {
    use std::borrow::Cow;
    let mut out = String::new();
    match walk(text, shape, &mut out) {
        Walked::Unchanged => Cow::Borrowed(text),
        Walked::Changed => Cow::Owned(out),
        Walked::NotADocument => parse_way(text, shape).map_or(Cow::Borrowed(text), Cow::Owned),
    }
}

/// [`reshape_text`], appended to `out`: a page's documents are shaped straight into its body.
pub fn reshape_into(text: &str, shape: Shape, out: &mut String) {
    let base = out.len();
    match walk(text, shape, out) {
        Walked::Unchanged => out.push_str(text),
        Walked::Changed => {}
        Walked::NotADocument => {
            out.truncate(base);
            out.push_str(parse_way(text, shape).as_deref().unwrap_or(text));
        }
    }
}

/// What [`walk`] made of a text.
enum Walked {
    /// Nothing to change; nothing was written.
    Unchanged,
    /// The shaped text was appended.
    Changed,
    /// Not a document as the store writes them; something may have been written.
    NotADocument,
}

/// Appends `text` shaped for `shape` to `out` when that changes it (see [`reshape_text`]).
fn walk(text: &str, shape: Shape, out: &mut String) -> Walked {
    let Some(rules) = rules_of(shape) else { return Walked::Unchanged };
    if rules.children.is_empty() {
        return Walked::Unchanged;
    }
    let mut w = Walker { text, at: 0, out, copied: 0, changed: false };
    if w.value(rules).is_some() && w.rest_is_blank() {
        if !w.changed {
            return Walked::Unchanged;
        }
        if let Some(rest) = text.get(w.copied..) {
            w.out.push_str(rest);
            return Walked::Changed;
        }
    }
    Walked::NotADocument
}

/// `text` parsed, shaped and written again (`None`: not a JSON object).
fn parse_way(text: &str, shape: Shape) -> Option<String> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(mut map)) => {
            reshape_map(&mut map, shape);
            Some(Value::Object(map).to_string())
        }
        _ => None,
    }
}

/// One step of a path inside a document: an object's member, or any element of an array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step<'a> {
    Key(&'a str),
    Item,
}

/// What [`reshape_map`] does, as a tree of the paths it touches (the root is the document):
/// members to drop, and strings to read through an enum. A value whose path is not in the tree is
/// copied as it is.
#[derive(Default)]
struct Rules {
    children: Vec<(Step<'static>, Rules)>,
    /// The member at this path is dropped.
    drop: bool,
    /// The string at this path is an enum value of this enum.
    members: Option<Evolvable>,
}

/// An enum as a client that did not ask for evolvable members reads it (see [`visible`]), worked
/// out once per rule.
struct Evolvable {
    /// The members such a client reads as they are.
    shown: &'static [&'static str],
    /// What it reads for any other value, quoted (`"unknownFutureValue"`); `None`: the enum has
    /// no such member, and every value is read as it is.
    future: Option<String>,
}

impl Evolvable {
    fn of(members: &'static [&'static str]) -> Self {
        let (shown, future) = visible_members(members);
        Self { shown, future: future.map(|f| format!("\"{f}\"")) }
    }

    /// The quoted replacement of `value`, if it is one a client reads otherwise.
    fn replacement(&self, value: &str) -> Option<&str> {
        let future = self.future.as_deref()?;
        (!is_shown(self.shown, value)).then_some(future)
    }
}

/// The rules of `shape`, built once per set and shape (`None`: no set, nothing to shape).
fn rules_of(shape: Shape) -> Option<&'static Rules> {
    static ALL: std::sync::OnceLock<Vec<(Shape, Rules)>> = std::sync::OnceLock::new();
    let all = ALL.get_or_init(|| {
        let mut all = Vec::new();
        for set in SetKind::ALL {
            for v1 in [false, true] {
                for unknown_enum_members in [false, true] {
                    let shape = Shape { set: Some(set), v1, unknown_enum_members };
                    all.push((shape, Rules::of(set, shape)));
                }
            }
        }
        all
    });
    all.iter().find(|(s, _)| *s == shape).map(|(_, r)| r)
}

impl Rules {
    fn of(set: SetKind, shape: Shape) -> Self {
        let mut rules = Self::default();
        if shape.v1 {
            for (property, members, collection) in beta_members(set) {
                for m in *members {
                    let mut path = vec![Step::Key(property)];
                    if *collection {
                        path.push(Step::Item);
                    }
                    path.push(Step::Key(m));
                    rules.at(&path, |r| r.drop = true);
                }
            }
        }
        if !shape.unknown_enum_members {
            for place in enum_places(set.registry()) {
                let mut path: Vec<Step<'static>> = place.path.split('/').map(Step::Key).collect();
                if place.items {
                    path.push(Step::Item);
                    if let Some(m) = place.member {
                        path.push(Step::Key(m));
                    }
                }
                rules.at(&path, |r| r.members = Some(Evolvable::of(place.members)));
            }
        }
        rules
    }

    /// Applies `set` to the rules at `path` below these, made where missing.
    fn at(&mut self, path: &[Step<'static>], set: impl FnOnce(&mut Self)) {
        let Some((step, rest)) = path.split_first() else { return set(self) };
        if !self.children.iter().any(|(s, _)| s == step) {
            self.children.push((*step, Self::default()));
        }
        if let Some((_, child)) = self.children.iter_mut().find(|(s, _)| s == step) {
            child.at(rest, set);
        }
    }

    fn child(&self, step: Step<'_>) -> Option<&Self> {
        self.children.iter().find(|(s, _)| *s == step).map(|(_, c)| c)
    }
}

/// Reads a JSON value from `text`, writing to `out` what `rules` change and, lazily, the
/// unchanged text before each change (`text[..copied]` is in `out`). `None`: not JSON of the
/// expected kind (the caller parses instead).
struct Walker<'t, 'o> {
    text: &'t str,
    at: usize,
    out: &'o mut String,
    copied: usize,
    /// Whether anything was dropped or replaced.
    changed: bool,
}

impl<'t> Walker<'t, '_> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn rest_is_blank(&self) -> bool {
        self.text.get(self.at..).is_some_and(|r| r.trim().is_empty())
    }

    /// Leaves `text[start..end]` out of the result, writing `with` in its place.
    fn replace(&mut self, start: usize, end: usize, with: &str) -> Option<()> {
        if !self.changed {
            self.out.reserve(self.text.len());
        }
        self.out.push_str(self.text.get(self.copied..start)?);
        self.out.push_str(with);
        self.copied = end;
        self.changed = true;
        Some(())
    }

    /// The value at the cursor, whose path is `node`.
    fn value(&mut self, node: &Rules) -> Option<()> {
        match self.peek()? {
            b'{' => self.object(node),
            b'[' => self.array(node),
            b'"' => {
                let start = self.at;
                let escaped = self.skip_string()?;
                let Some(members) = &node.members else { return Some(()) };
                let raw = self.text.get(start..self.at)?;
                let value: std::borrow::Cow<'_, str> = match raw.get(1..raw.len() - 1) {
                    Some(inner) if !escaped => inner.into(),
                    _ => serde_json::from_str::<String>(raw).map(Into::into).unwrap_or_default(),
                };
                match members.replacement(&value) {
                    Some(future) => self.replace(start, self.at, future),
                    None => Some(()),
                }
            }
            _ => {
                // A number, true, false or null, written without spaces.
                let token = self.skip_scalar()?;
                (!token.is_empty() && !token.contains(['"', '{', '[', ' ', '\n'])).then_some(())
            }
        }
    }

    fn object(&mut self, node: &Rules) -> Option<()> {
        self.at += 1;
        if self.peek()? == b'}' {
            self.at += 1;
            return Some(());
        }
        // Whether a member before this one is kept: a dropped member takes the comma before it
        // with it then, else the comma after it.
        let mut kept = false;
        loop {
            if self.peek()? != b'"' {
                return None;
            }
            let key_start = self.at;
            let escaped = self.skip_string()?;
            let raw_key = self.text.get(key_start..self.at)?;
            if escaped || self.peek()? != b':' {
                return None;
            }
            self.at += 1;
            let key = raw_key.get(1..raw_key.len() - 1)?;
            match node.child(Step::Key(key)) {
                Some(child) if child.drop => {
                    self.skip()?;
                    if kept {
                        self.replace(key_start - 1, self.at, "")?;
                    } else {
                        let end = if self.peek()? == b',' { self.at + 1 } else { self.at };
                        self.replace(key_start, end, "")?;
                    }
                }
                Some(child) => {
                    self.value(child)?;
                    kept = true;
                }
                None => {
                    self.skip()?;
                    kept = true;
                }
            }
            match self.peek()? {
                b',' => self.at += 1,
                b'}' => {
                    self.at += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    fn array(&mut self, node: &Rules) -> Option<()> {
        self.at += 1;
        if self.peek()? == b']' {
            self.at += 1;
            return Some(());
        }
        let item = node.child(Step::Item);
        loop {
            match item {
                Some(item) => self.value(item)?,
                None => self.skip()?,
            }
            match self.peek()? {
                b',' => self.at += 1,
                b']' => {
                    self.at += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// Moves the cursor past the value there, which no rule touches.
    fn skip(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.skip_string().map(|_| ()),
            b'{' | b'[' => {
                // Strings are most of a document: jump from one to the next, counting the
                // brackets between them.
                let bytes = self.text.as_bytes();
                let mut depth = 0_usize;
                loop {
                    let rest = bytes.get(self.at..)?;
                    let quote = memchr::memchr(b'"', rest).unwrap_or(rest.len());
                    for (i, b) in rest.get(..quote)?.iter().enumerate() {
                        match b {
                            b'{' | b'[' => depth += 1,
                            b'}' | b']' => {
                                depth = depth.checked_sub(1)?;
                                if depth == 0 {
                                    self.at += i + 1;
                                    return Some(());
                                }
                            }
                            _ => {}
                        }
                    }
                    self.at += quote;
                    self.skip_string()?;
                }
            }
            _ => self.skip_scalar().map(|_| ()),
        }
    }

    /// Moves the cursor past the string there (quotes included); whether it holds an escape.
    fn skip_string(&mut self) -> Option<bool> {
        let bytes = self.text.as_bytes();
        let mut i = self.at + 1;
        let mut escaped = false;
        loop {
            i += memchr::memchr2(b'"', b'\\', bytes.get(i..)?)?;
            match *bytes.get(i)? {
                b'\\' => {
                    escaped = true;
                    i += 2;
                }
                _ => break,
            }
        }
        self.at = i + 1;
        Some(escaped)
    }

    /// Moves the cursor past the number, `true`, `false` or `null` there, returning it.
    fn skip_scalar(&mut self) -> Option<&'t str> {
        let rest = self.text.get(self.at..)?;
        let len = rest.find([',', '}', ']']).unwrap_or(rest.len());
        self.at += len;
        rest.get(..len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn shaped(doc: &Value, shape: Shape) -> Value {
        serde_json::from_str(&reshape_text(&doc.to_string(), shape)).unwrap()
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
        let text = known.to_string();
        assert!(matches!(reshape_text(&text, plain), std::borrow::Cow::Borrowed(_)), "served as stored");
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

    /// The parsing way: what `reshape_text` must equal.
    fn parsed(text: &str, shape: Shape) -> String {
        let Value::Object(mut map) = serde_json::from_str::<Value>(text).unwrap() else { panic!() };
        reshape_map(&mut map, shape);
        Value::Object(map).to_string()
    }

    /// Every shape of every kind of set.
    fn shapes(set: SetKind) -> Vec<Shape> {
        let mut out = Vec::new();
        for v1 in [false, true] {
            for unknown_enum_members in [false, true] {
                out.push(Shape { set: Some(set), v1, unknown_enum_members });
            }
        }
        out
    }

    #[test]
    fn the_text_rewrite_equals_parsing_and_writing() {
        let results = ["success", "failure", "reportOnlyNotApplied", "notEnabled", "reportOnlyFailure", "x\"y"];
        let details = ["none", "m365DAdminDismissedDetection", "hidden", "adminConfirmedSigninCompromised"];
        let mut docs = vec![
            json!({"deviceDetail": {"browserId": "b", "browser": "Edge"}, "riskDetail": "none"}),
            json!({"deviceDetail": {"browser": "Edge", "browserId": "b"}}),
            json!({"deviceDetail": {"browserId": "b"}}),
            json!({"deviceDetail": {}, "appliedConditionalAccessPolicies": []}),
            json!({"deviceDetail": null, "riskEventTypes": null, "riskDetail": null}),
            json!({"appliedConditionalAccessPolicies": [{"conditionsSatisfied": "none"}, {"result": "reportOnlyFailure",
                "authenticationStrength": {"id": "x", "result": "reportOnlyFailure"}, "enforcedGrantControls": ["Mfa"]}]}),
            json!({"status": {"errorCode": 0, "failureReason": "caf\u{e9} \"quoted\" \\ \n", "result": "reportOnlyFailure"},
                "networkLocationDetails": [{"networkNames": ["}]\"{[", "[{"], "networkType": "x\\"}, [[], {}], null],
                "location": {"geoCoordinates": {"latitude": 40.712799072265625, "longitude": -74.0, "altitude": null}},
                "riskEventTypes": ["unlikelyTravel", "someNewDetection"], "riskEventTypes_v2": ["x"], "isInteractive": true}),
        ];
        // Generated ones: each evolvable place with and without a member past unknownFutureValue,
        // beta members at every position of their objects.
        let mut seed = 7_u64;
        let mut next = |n: usize| {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            usize::try_from(seed >> 33).unwrap() % n
        };
        let levels = ["none", "high", "unknownFutureValue"];
        for _ in 0..300 {
            let mut policies = Vec::new();
            for _ in 0..next(4) {
                let mut p = serde_json::Map::new();
                for key in ["id", "conditionsSatisfied", "result", "includeRulesSatisfied"] {
                    if next(2) == 0 {
                        p.insert(key.into(), json!(results[next(results.len())]));
                    }
                }
                policies.push(Value::Object(p));
            }
            let mut device = serde_json::Map::new();
            for key in ["browserId", "browser", "deviceId"] {
                if next(2) == 0 {
                    device.insert(key.into(), json!("v"));
                }
            }
            docs.push(json!({"id": format!("s{}", next(1000)), "riskDetail": details[next(details.len())],
                "riskLevelAggregated": levels[next(3)],
                "deviceDetail": device, "appliedConditionalAccessPolicies": policies,
                "riskEventTypes": [details[next(details.len())], "unlikelyTravel"]}));
        }
        for doc in &docs {
            let text = doc.to_string();
            for shape in shapes(SetKind::SignIns) {
                assert_eq!(reshape_text(&text, shape), parsed(&text, shape), "{text} {shape:?}");
            }
        }
        let detection =
            json!({"tokenIssuerType": "NPSExtension", "riskEventType": "x", "additionalInfo": "[{\"Key\":1}]"});
        for shape in shapes(SetKind::RiskDetections) {
            let text = detection.to_string();
            assert_eq!(reshape_text(&text, shape), parsed(&text, shape));
        }
        // Text the store never holds goes the parsing way (here: spaces).
        let spaced = r#"{"riskDetail":"m365DAdminDismissedDetection", "x" : 1}"#;
        let plain = Shape { set: Some(SetKind::SignIns), v1: true, unknown_enum_members: false };
        assert_eq!(reshape_text(spaced, plain), r#"{"riskDetail":"unknownFutureValue","x":1}"#);
    }

    /// Text that is not a whole document (cut anywhere, or with a byte changed) never panics: it
    /// is parsed instead, and served as it is when it does not parse.
    #[test]
    fn broken_text_is_served_without_panicking() {
        let doc = json!({"riskDetail": "m365DAdminDismissedDetection", "deviceDetail": {"browserId": "b", "browser": "E"},
            "appliedConditionalAccessPolicies": [{"result": "reportOnlyFailure", "conditionsSatisfied": "none"}],
            "status": {"failureReason": "a \"b\" [c] {d}", "errorCode": 0}, "riskEventTypes": ["x", "unlikelyTravel"]});
        let text = doc.to_string();
        for shape in shapes(SetKind::SignIns) {
            for cut in 0..text.len() {
                let part = &text[..cut];
                assert_eq!(reshape_text(part, shape), part, "a cut document is served as it is");
            }
            for (i, b) in [b'"', b'{', b'}', b'[', b']', b',', b':', b'\\'].iter().cycle().take(text.len()).enumerate()
            {
                let mut bytes = text.clone().into_bytes();
                bytes[i] = *b;
                if let Ok(changed) = String::from_utf8(bytes) {
                    let _ = reshape_text(&changed, shape);
                }
            }
        }
    }

    /// Shaped into a page's body, a document reads as [`reshape_text`] makes it, after what the
    /// body held, whether it changes, stays or is no document at all (what the walk wrote before
    /// finding that out is taken back).
    #[test]
    fn shaping_into_a_body_appends_what_reshape_text_makes() {
        let doc = json!({"riskDetail": "m365DAdminDismissedDetection", "deviceDetail": {"browserId": "b", "browser": "E"},
            "appliedConditionalAccessPolicies": [{"result": "reportOnlyFailure", "conditionsSatisfied": "none"}]});
        let text = doc.to_string();
        let plain = json!({"riskDetail": "none"}).to_string();
        // Changed early, then broken: the walk has written a change when it finds the fault.
        let broken = format!("{}]", &text[..text.len() - 1]);
        for shape in shapes(SetKind::SignIns) {
            for t in [text.as_str(), plain.as_str(), &broken, &text[..40], "not json"] {
                let mut body = String::from("{\"value\":[");
                reshape_into(t, shape, &mut body);
                assert_eq!(body, format!("{{\"value\":[{}", reshape_text(t, shape)), "{t}");
            }
        }
    }

    #[test]
    fn prefer_lists_are_read_case_insensitively() {
        assert!(prefers_unknown_enum_members("odata.maxpagesize=10, Include-Unknown-Enum-Members"));
        assert!(!prefers_unknown_enum_members("return=minimal"));
    }
}
