//! The domain's error type: says what is wrong with an input, never how to answer it over HTTP.

use thiserror::Error;

/// Something a caller sent that the domain refuses, with a message a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DomainError {
    /// A value that should be a GUID is not one.
    #[error("'{value}' is not a GUID (expected 8-4-4-4-12 hexadecimal digits)")]
    InvalidGuid { value: String },
    /// A timestamp that is not an ISO-8601 DateTimeOffset.
    #[error("'{value}' is not an ISO-8601 date and time with an offset, such as 2024-01-31T08:00:00Z")]
    InvalidTimestamp { value: String },
    /// A license tier name we do not know.
    #[error("'{value}' is not a license tier; expected one of free, p1, p2")]
    InvalidLicenseTier { value: String },
    /// A Graph document that does not match the schema.
    #[error("{0}")]
    InvalidDocument(String),
}
