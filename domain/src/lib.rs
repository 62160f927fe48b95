//! idtrail's pure core: the Graph models, time and identifier types, OData, and access policy.
//!
//! Nothing here talks to the web or to a database; `storage` and `api` build on these types, and a
//! compile error is what keeps web and database crates out (see ARCHITECTURE.md).

pub mod access;
pub mod actions;
pub mod error;
pub mod export;
pub mod ids;
pub mod model;
pub mod odata;
pub mod policy;
pub mod principal;
pub mod query;
pub mod reports;
pub mod sets;
pub mod shape;
pub mod time;

pub use error::DomainError;
