//! A `$filter` resolved against a registry: every property is a known [`Field`], every literal is
//! typed and normalised, every function is one we evaluate. The SQL compiler (`storage`) and the
//! in-memory evaluator (`eval`) both consume this tree and must agree on its meaning:
//!
//! - String and enum comparisons are case-insensitive, as Graph's are: text literals are kept in
//!   lower case and compared with the lower-case value, so `tolower`/`toupper` change nothing.
//! - Logic is two-valued, as OData's: a comparison with a null property is false, except
//!   `ne`, which is true (`x ne 'a'` holds when `x` is null); `x eq null` tests for null.
//! - DateTimeOffset values are 100-ns ticks; a Date literal is midnight UTC of that day.

use super::registry::{CollectionField, Field, ValueType};

/// A literal value, normalised for comparison.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "k", content = "v")]
pub enum Scalar {
    Null,
    Bool(bool),
    Int(i64),
    Double(f64),
    /// Text in lower case.
    Text(String),
    Ticks(i64),
}

/// Comparison operators: the parser's, shared rather than listed twice.
pub use crate::odata::ast::CompareOp as CmpOp;

/// Functions applied to one operand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    ToLower,
    ToUpper,
    Trim,
    Length,
    Year,
    Month,
    Day,
    Hour,
    Minute,
    Second,
    /// The day (midnight UTC) of a DateTimeOffset.
    Date,
}

impl Func {
    /// The type of the function's result.
    #[must_use]
    pub fn result_type(self) -> ValueType {
        match self {
            Self::ToLower | Self::ToUpper | Self::Trim => ValueType::String,
            Self::Length | Self::Year | Self::Month | Self::Day | Self::Hour | Self::Minute | Self::Second => {
                ValueType::Int32
            }
            Self::Date => ValueType::DateTimeOffset,
        }
    }
}

/// A value inside an expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// A property of the entity.
    Field(&'static Field),
    /// A lambda variable itself, for a collection of primitives. The [`Var`] says which lambda's
    /// (0 = the outermost), since an inner lambda may read an outer one's variable.
    Element(Var, ValueType),
    /// A property of a lambda variable, for a collection of complex values.
    ElementField(Var, &'static Field),
    Literal(Scalar),
    Call(Func, Box<Operand>),
}

/// A lambda variable, by nesting level: 0 is the outermost lambda's.
pub type Var = usize;

/// What a lambda ranges over: a collection of the entity, or a nested collection of an
/// enclosing lambda variable's element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    Entity,
    Element(Var),
}

/// `startswith`, `endswith`, `contains`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextMatch {
    StartsWith,
    EndsWith,
    Contains,
}

/// A boolean expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Const(bool),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    /// `lhs op rhs`; at most one side is a literal and, when one is, it is `rhs`.
    Compare {
        op: CmpOp,
        lhs: Operand,
        rhs: Operand,
    },
    /// `lhs in (values)` (non-null values).
    In {
        lhs: Operand,
        values: Vec<Scalar>,
    },
    /// `startswith(lhs, 'pattern')` and friends; `pattern` in lower case.
    Match {
        kind: TextMatch,
        lhs: Operand,
        pattern: String,
    },
    /// A Boolean property used as a condition (`isInteractive`).
    IsTrue(Operand),
    /// `collection/any(...)`; `None` is the bare `any()` (not empty).
    Any {
        owner: Owner,
        collection: &'static CollectionField,
        predicate: Option<Box<Filter>>,
    },
    /// `collection/all(...)` (true for an empty collection).
    All {
        owner: Owner,
        collection: &'static CollectionField,
        predicate: Box<Filter>,
    },
}

impl Filter {
    /// Whether the filter reads the entity's collection `path` (to refuse probing of hidden
    /// data), at any lambda depth.
    #[must_use]
    pub fn references(&self, path: &str) -> bool {
        match self {
            Self::Const(_) | Self::Compare { .. } | Self::In { .. } | Self::Match { .. } | Self::IsTrue(_) => false,
            Self::And(a, b) | Self::Or(a, b) => a.references(path) || b.references(path),
            Self::Not(a) => a.references(path),
            Self::Any { owner, collection, predicate } => {
                (*owner == Owner::Entity && collection.path == path)
                    || predicate.as_ref().is_some_and(|p| p.references(path))
            }
            Self::All { owner, collection, predicate } => {
                (*owner == Owner::Entity && collection.path == path) || predicate.references(path)
            }
        }
    }
}

/// One `$orderby` key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SortKey {
    pub field: &'static Field,
    pub descending: bool,
}
