//! idtrail's integration tests: one binary, every API scenario on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod access;
mod audits_risk;
mod contract;
mod csdl;
mod errors;
mod export;
mod indexes;
mod ingest;
mod licensing;
mod matrix;
mod paging;
mod query;
mod ratelimit;
mod schema;
mod script;
mod sign_ins;
mod support;
mod tokens;
