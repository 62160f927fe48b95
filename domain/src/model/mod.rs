//! Graph's reporting types, exactly as the v1.0 CSDL (`shared/spec/graph/graph-csdl-reporting.xml`)
//! names them: property names, types and nullability. Deserialising a document into these types is
//! how ingest validates it; the stored document itself is kept as sent.

pub mod directory_audit;
pub mod enums;
pub mod risk_detection;
pub mod risky_user;
pub mod sign_in;

pub use enums::{EnumDef, EnumValue};
pub use sign_in::SignIn;
