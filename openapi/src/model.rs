//! The shape of Graph's types, read from the domain models themselves rather than written again.
//!
//! [`trace`] drives a model's own `Deserialize` with a recording deserializer: struct names and
//! field lists come from serde's derive, `Option` marks a nullable property, `Vec` a collection,
//! and the primitive a field asks for is its EDM type. Strings are told apart by what the model
//! accepts: a probe that an enum refuses names the enum and its members (the domain's
//! `EnumValue` message), one that a GUID accepts is a GUID (`Edm.String` in Graph), one that a
//! timestamp accepts is an `Edm.DateTimeOffset`. Open types (`#[serde(flatten)]`) list their
//! members through `Serialize`. Nothing here names a property of a model; it must never drift
//! from them.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserializer, Serialize};

/// The EDM type of a property.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shape {
    String,
    Boolean,
    Int32,
    Int64,
    Double,
    DateTimeOffset,
    /// `microsoft.graph.{name}`, an enum.
    Enum(String),
    /// `microsoft.graph.{name}`, a complex type.
    Complex(String),
    Collection(Box<Shape>),
}

impl Shape {
    /// The CSDL spelling (`Edm.String`, `graph.riskLevel`, `Collection(graph.keyValue)`).
    #[must_use]
    pub fn csdl(&self) -> String {
        match self {
            Self::String => "Edm.String".into(),
            Self::Boolean => "Edm.Boolean".into(),
            Self::Int32 => "Edm.Int32".into(),
            Self::Int64 => "Edm.Int64".into(),
            Self::Double => "Edm.Double".into(),
            Self::DateTimeOffset => "Edm.DateTimeOffset".into(),
            Self::Enum(n) | Self::Complex(n) => format!("graph.{n}"),
            Self::Collection(inner) => format!("Collection({})", inner.csdl()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property {
    pub name: String,
    pub shape: Shape,
    pub nullable: bool,
}

/// An entity or complex type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StructuredType {
    pub name: String,
    pub properties: Vec<Property>,
    /// Members beyond the listed ones are allowed (`OpenType`).
    pub open: bool,
}

/// Everything reachable from one model type.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Traced {
    /// The root first, then the complex types in the order they were reached.
    pub types: Vec<StructuredType>,
    /// Enum name → members, in the domain's order.
    pub enums: BTreeMap<String, Vec<String>>,
}

impl Traced {
    #[must_use]
    pub fn root(&self) -> Option<&StructuredType> {
        self.types.first()
    }
}

/// What a string leaf is given on the next run.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Hint {
    Probe,
    Guid,
    Timestamp,
    Enum { name: String, first: String },
}

const PROBE: &str = "~idtrail-probe~";
const GUID_SAMPLE: &str = "00000000-0000-0000-0000-000000000000";
const TIMESTAMP_SAMPLE: &str = "2024-01-01T00:00:00Z";
const ENUM_MARK: &str = "is not a member of the enum ";
const MEMBERS_MARK: &str = "its members are ";

#[derive(Debug, Default)]
struct State {
    hints: HashMap<String, Hint>,
    map_keys: HashMap<String, Vec<String>>,
    enums: BTreeMap<String, Vec<String>>,
    // Per run:
    shapes: HashMap<String, Shape>,
    nullable: HashSet<String>,
    structs: HashMap<String, (String, Vec<String>, bool)>,
    last_string: Option<String>,
}

#[derive(Debug)]
struct TraceError(String);

impl fmt::Display for TraceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TraceError {}

impl de::Error for TraceError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Self(msg.to_string())
    }
}

fn child(path: &str, seg: &str) -> String {
    if path.is_empty() { seg.to_owned() } else { format!("{path}/{seg}") }
}

/// `SignInLocation` → `signInLocation`.
fn graph_name(rust: &str) -> String {
    let mut chars = rust.chars();
    chars.next().map(|c| c.to_ascii_lowercase().to_string() + chars.as_str()).unwrap_or_default()
}

struct Tracer<'a> {
    state: &'a RefCell<State>,
    path: String,
}

impl Tracer<'_> {
    fn record(&self, shape: Shape) {
        self.state.borrow_mut().shapes.insert(self.path.clone(), shape);
    }
}

macro_rules! unsupported {
    ($($name:ident),*) => {
        $(fn $name<V: Visitor<'de>>(self, _v: V) -> Result<V::Value, TraceError> {
            Err(TraceError(format!("{} at '{}' has no EDM type", stringify!($name), self.path)))
        })*
    };
}

impl<'de> Deserializer<'de> for Tracer<'_> {
    type Error = TraceError;

    unsupported!(
        deserialize_any,
        deserialize_char,
        deserialize_bytes,
        deserialize_byte_buf,
        deserialize_unit,
        deserialize_ignored_any
    );

    fn deserialize_bool<V: Visitor<'de>>(self, v: V) -> Result<V::Value, TraceError> {
        self.record(Shape::Boolean);
        v.visit_bool(false)
    }
    fn deserialize_i8<V: Visitor<'de>>(self, v: V) -> Result<V::Value, TraceError> {
        self.record(Shape::Int32);
        v.visit_i8(0)
    }
    fn deserialize_i16<V: Visitor<'de>>(self, v: V) -> Result<V::Value, TraceError> {
        self.record(Shape::Int32);
        v.visit_i16(0)
    }
    fn deserialize_i32<V: Visitor<'de>>(self, v: V) -> Result<V::Value, TraceError> {
        self.record(Shape::Int32);
        v.visit_i32(0)
    }
    fn deserialize_i64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, TraceError> {
        self.record(Shape::Int64);
        v.visit_i64(0)
    }
    fn deserialize_u8<V: Visitor<'de>>(self, v: V) -> Result<V::Value, TraceError> {
        self.record(Shape::Int32);
        v.visit_u8(0)
    }
    fn deserialize_u16<V: Visitor<'de>>(self, v: V) -> Result<V::Value, TraceError> {
        self.record(Shape::Int32);
        v.visit_u16(0)
    }
    fn deserialize_u32<V: Visitor<'de>>(self, v: V) -> Result<V::Value, TraceError> {
        self.record(Shape::Int64);
        v.visit_u32(0)
    }
    fn deserialize_u64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, TraceError> {
        self.record(Shape::Int64);
        v.visit_u64(0)
    }
    fn deserialize_f32<V: Visitor<'de>>(self, v: V) -> Result<V::Value, TraceError> {
        self.record(Shape::Double);
        v.visit_f32(0.0)
    }
    fn deserialize_f64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, TraceError> {
        self.record(Shape::Double);
        v.visit_f64(0.0)
    }
    fn deserialize_str<V: Visitor<'de>>(self, v: V) -> Result<V::Value, TraceError> {
        self.deserialize_string(v)
    }
    fn deserialize_string<V: Visitor<'de>>(self, v: V) -> Result<V::Value, TraceError> {
        let hint = self.state.borrow().hints.get(&self.path).cloned().unwrap_or(Hint::Probe);
        let (shape, value) = match hint {
            Hint::Probe => (Shape::String, PROBE.to_owned()),
            Hint::Guid => (Shape::String, GUID_SAMPLE.to_owned()),
            Hint::Timestamp => (Shape::DateTimeOffset, TIMESTAMP_SAMPLE.to_owned()),
            Hint::Enum { name, first } => (Shape::Enum(name), first),
        };
        self.record(shape);
        self.state.borrow_mut().last_string = Some(self.path.clone());
        v.visit_string(value)
    }
    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, TraceError> {
        self.state.borrow_mut().nullable.insert(self.path.clone());
        v.visit_some(self)
    }
    fn deserialize_unit_struct<V: Visitor<'de>>(self, _name: &'static str, v: V) -> Result<V::Value, TraceError> {
        self.deserialize_unit(v)
    }
    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _name: &'static str, v: V) -> Result<V::Value, TraceError> {
        v.visit_newtype_struct(self)
    }
    fn deserialize_seq<V: Visitor<'de>>(self, v: V) -> Result<V::Value, TraceError> {
        self.record(Shape::Collection(Box::new(Shape::String)));
        v.visit_seq(OneElement { state: self.state, path: child(&self.path, "*"), done: false })
    }
    fn deserialize_tuple<V: Visitor<'de>>(self, _len: usize, v: V) -> Result<V::Value, TraceError> {
        self.deserialize_any(v)
    }
    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        v: V,
    ) -> Result<V::Value, TraceError> {
        self.deserialize_any(v)
    }
    fn deserialize_map<V: Visitor<'de>>(self, v: V) -> Result<V::Value, TraceError> {
        // A struct with a flattened map: an open type. Its name is what its visitor expects.
        let expecting = format!("{}", &v as &dyn de::Expected);
        let Some(rust) = expecting.strip_prefix("struct ") else {
            return Err(TraceError(format!("a free-form map at '{}' has no EDM type", self.path)));
        };
        let keys = self.state.borrow().map_keys.get(&self.path).cloned().unwrap_or_default();
        self.state.borrow_mut().structs.insert(self.path.clone(), (graph_name(rust), keys.clone(), true));
        v.visit_map(Fields { state: self.state, path: self.path, keys: keys.into_iter(), current: None })
    }
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, TraceError> {
        let keys: Vec<String> = fields.iter().map(|f| (*f).to_owned()).collect();
        self.state.borrow_mut().structs.insert(self.path.clone(), (graph_name(name), keys.clone(), false));
        v.visit_map(Fields { state: self.state, path: self.path, keys: keys.into_iter(), current: None })
    }
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, TraceError> {
        self.deserialize_any(v)
    }
    fn deserialize_identifier<V: Visitor<'de>>(self, v: V) -> Result<V::Value, TraceError> {
        self.deserialize_any(v)
    }
}

struct OneElement<'a> {
    state: &'a RefCell<State>,
    path: String,
    done: bool,
}

impl<'de> SeqAccess<'de> for OneElement<'_> {
    type Error = TraceError;
    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, TraceError> {
        if self.done {
            return Ok(None);
        }
        self.done = true;
        seed.deserialize(Tracer { state: self.state, path: self.path.clone() }).map(Some)
    }
}

struct Fields<'a> {
    state: &'a RefCell<State>,
    path: String,
    keys: std::vec::IntoIter<String>,
    current: Option<String>,
}

impl<'de> MapAccess<'de> for Fields<'_> {
    type Error = TraceError;
    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, TraceError> {
        let Some(key) = self.keys.next() else { return Ok(None) };
        self.current = Some(key.clone());
        seed.deserialize(<String as IntoDeserializer<'de, TraceError>>::into_deserializer(key)).map(Some)
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, TraceError> {
        let key = self.current.take().unwrap_or_default();
        seed.deserialize(Tracer { state: self.state, path: child(&self.path, &key) })
    }
}

/// Parses the domain's enum message: `... is not a member of the enum NAME; its members are A, B`.
fn enum_of(message: &str) -> Option<(String, Vec<String>)> {
    let rest = &message[message.find(ENUM_MARK)? + ENUM_MARK.len()..];
    let name = rest.split(';').next()?.trim().to_owned();
    let members = &rest[rest.find(MEMBERS_MARK)? + MEMBERS_MARK.len()..];
    let members: Vec<String> = members.split(", ").map(|m| m.trim().to_owned()).collect();
    (!name.is_empty() && !members.is_empty()).then_some((name, members))
}

/// The value at `path` (segments joined by `/`, `*` for an array's first element).
fn value_at<'v>(v: &'v serde_json::Value, path: &str) -> Option<&'v serde_json::Value> {
    if path.is_empty() {
        return Some(v);
    }
    path.split('/').try_fold(v, |v, seg| if seg == "*" { v.get(0) } else { v.get(seg) })
}

fn assemble(state: &State, path: &str, out: &mut Traced, seen: &mut HashSet<String>) -> Result<Shape, String> {
    if let Some((name, keys, open)) = state.structs.get(path) {
        if seen.insert(name.clone()) {
            let index = out.types.len();
            out.types.push(StructuredType { name: name.clone(), properties: vec![], open: *open });
            let mut properties = Vec::with_capacity(keys.len());
            for key in keys {
                let p = child(path, key);
                let shape = assemble(state, &p, out, seen)?;
                properties.push(Property { name: key.clone(), shape, nullable: state.nullable.contains(&p) });
            }
            if let Some(t) = out.types.get_mut(index) {
                t.properties = properties;
            }
        }
        return Ok(Shape::Complex(name.clone()));
    }
    match state.shapes.get(path) {
        Some(Shape::Collection(_)) => Ok(Shape::Collection(Box::new(assemble(state, &child(path, "*"), out, seen)?))),
        Some(Shape::Enum(name)) => {
            if let Some(members) = state.enums.get(name) {
                out.enums.insert(name.clone(), members.clone());
            }
            Ok(Shape::Enum(name.clone()))
        }
        Some(other) => Ok(other.clone()),
        None => Err(format!("nothing was traced at '{path}'")),
    }
}

/// Traces the model `T` and every type it reaches.
///
/// # Errors
/// A message naming the path of a field whose type has no EDM equivalent.
pub fn trace<T: DeserializeOwned + Serialize>() -> Result<Traced, String> {
    let state = RefCell::new(State::default());
    for _ in 0..500 {
        {
            let mut s = state.borrow_mut();
            s.shapes.clear();
            s.nullable.clear();
            s.structs.clear();
            s.last_string = None;
        }
        match T::deserialize(Tracer { state: &state, path: String::new() }) {
            Ok(value) => {
                // Open types learn their declared members from what they serialise.
                let json = serde_json::to_value(&value).map_err(|e| e.to_string())?;
                let mut learned = false;
                let mut s = state.borrow_mut();
                let open: Vec<(String, Vec<String>)> = s
                    .structs
                    .iter()
                    .filter(|(_, (_, _, open))| *open)
                    .map(|(p, (_, keys, _))| (p.clone(), keys.clone()))
                    .collect();
                for (path, keys) in open {
                    let found: Vec<String> = value_at(&json, &path)
                        .and_then(serde_json::Value::as_object)
                        .map(|o| o.keys().cloned().collect())
                        .unwrap_or_default();
                    if found != keys {
                        s.map_keys.insert(path, found);
                        learned = true;
                    }
                }
                if learned {
                    continue;
                }
                let mut out = Traced::default();
                assemble(&s, "", &mut out, &mut HashSet::new())?;
                return Ok(out);
            }
            Err(e) => {
                let mut s = state.borrow_mut();
                let Some(path) = s.last_string.take() else { return Err(e.0) };
                let hint = s.hints.get(&path).cloned().unwrap_or(Hint::Probe);
                let next = match (hint, enum_of(&e.0)) {
                    (Hint::Probe, Some((name, members))) => {
                        let first = members.first().cloned().unwrap_or_default();
                        s.enums.insert(name.clone(), members);
                        Hint::Enum { name, first }
                    }
                    (Hint::Probe, None) => Hint::Guid,
                    (Hint::Guid, _) => Hint::Timestamp,
                    (_, _) => return Err(format!("{path}: no sample string is accepted: {}", e.0)),
                };
                s.hints.insert(path, next);
            }
        }
    }
    Err("tracing did not settle".into())
}

#[cfg(test)]
mod tests {

    use super::*;
    use domain::model::SignIn;
    use domain::model::directory_audit::DirectoryAudit;

    fn prop<'a>(t: &'a StructuredType, name: &str) -> &'a Property {
        t.properties.iter().find(|p| p.name == name).unwrap()
    }

    #[test]
    fn sign_ins_trace_to_graph_types() {
        let t = trace::<SignIn>().unwrap();
        let root = t.root().unwrap();
        assert_eq!(root.name, "signIn");
        assert_eq!(prop(root, "id").shape, Shape::String);
        assert!(!prop(root, "id").nullable);
        assert_eq!(prop(root, "createdDateTime").shape, Shape::DateTimeOffset);
        assert_eq!(prop(root, "riskLevelAggregated").shape, Shape::Enum("riskLevel".into()));
        assert!(prop(root, "riskLevelAggregated").nullable);
        assert_eq!(prop(root, "status").shape, Shape::Complex("signInStatus".into()));
        assert_eq!(
            prop(root, "appliedConditionalAccessPolicies").shape.csdl(),
            "Collection(graph.appliedConditionalAccessPolicy)"
        );
        assert_eq!(prop(root, "riskEventTypes_v2").shape.csdl(), "Collection(Edm.String)");
        assert_eq!(t.enums["riskLevel"][0], "low");
    }

    #[test]
    fn open_types_list_their_declared_members() {
        let t = trace::<DirectoryAudit>().unwrap();
        let user = t.types.iter().find(|t| t.name == "userIdentity").unwrap();
        assert!(user.open);
        let names: Vec<&str> = user.properties.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["displayName", "id", "ipAddress", "userPrincipalName"]);
    }
}
