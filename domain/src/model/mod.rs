//! Graph's reporting types, exactly as the v1.0 CSDL (`spec/graph/graph-csdl-reporting.xml`)
//! names them: property names, types and nullability. Deserialising a document into these types is
//! how ingest validates it; the stored document itself is kept as sent.

pub mod directory_audit;
pub mod enums;
pub mod risk_detection;
pub mod risky_user;
pub mod sign_in;

pub use enums::{EnumDef, EnumValue};
pub use sign_in::SignIn;

/// Deserialises a Graph document into `T`, naming the property path of the first problem
/// (`status.errorCode: invalid type: string "x", expected i32`). Every model's `parse` uses it.
///
/// # Errors
/// That message.
pub fn deserialize_document<T: serde::de::DeserializeOwned>(
    doc: &serde_json::Map<String, serde_json::Value>,
) -> Result<T, String> {
    // `&Map` is itself a deserializer: no copy of the document.
    serde_path_to_error::deserialize::<_, T>(doc).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        if path == "." { inner } else { format!("{path}: {inner}") }
    })
}

/// Splits a document into the properties listed in `v1` and the rest (beta-only or newer), each
/// in the order the producer sent them.
#[must_use]
pub fn split_properties(
    doc: serde_json::Map<String, serde_json::Value>,
    v1: &[&str],
) -> (serde_json::Map<String, serde_json::Value>, serde_json::Map<String, serde_json::Value>) {
    doc.into_iter().partition(|(k, _)| v1.contains(&k.as_str()))
}
