//! Queries over an entity set, resolved against its field registry: `$filter` becomes a typed
//! [`Filter`], `$orderby` a list of sort keys. The parser (`crate::odata`) knows only syntax; this
//! module knows which properties exist, their types, and where storage keeps them, and refuses
//! anything else with a message that says what exists.

pub mod apply;
pub mod eval;
pub mod filter;
pub mod registry;
pub mod validate;

pub use filter::{CmpOp, Filter, Func, Operand, Owner, Scalar, SortKey, TextMatch, Var};
pub use registry::{CollectionField, Element, EntitySet, Field, Source, ValueType};
pub use validate::{QueryError, resolve_filter, resolve_orderby};
