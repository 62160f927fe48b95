//! idtrail's integration tests: one binary, every API scenario on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod access;
mod apply;
mod audits_risk;
mod console;
// The throwaway PostgreSQL cluster the bench's fault scenario uses too.
#[path = "../../../bench/src/cluster.rs"]
mod cluster;
mod contract;
mod csdl;
mod delta;
mod errors;
mod export;
mod faults;
mod fidelity;
mod fuzz;
mod indexes;
mod ingest;
mod licensing;
mod matrix;
mod ops;
mod paging;
mod prepared;
mod query;
mod ratelimit;
mod replicas;
mod reports;
mod schema;
mod script;
mod sign_ins;
mod support;
mod tokens;
