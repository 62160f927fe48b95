//! Tests of the OData syntax layer: unit tests of the grammar and of every error, robustness
//! against arbitrary input, and the OASIS ABNF conformance cases.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod aggregation;
mod errors;
mod oasis;
mod orderby;
mod robustness;
mod syntax;
mod vectors;
mod yaml;

use super::{Expr, ParseError, parse_filter};

/// The canonical, fully parenthesised rendering of a parsed filter.
fn show(input: &str) -> String {
    parse_filter(input).unwrap_or_else(|e| panic!("{input:?} should parse: {e}")).to_string()
}

fn parse(input: &str) -> Expr {
    parse_filter(input).unwrap_or_else(|e| panic!("{input:?} should parse: {e}"))
}

fn error(input: &str) -> ParseError {
    match parse_filter(input) {
        Ok(expr) => panic!("{input:?} should not parse, but gave {expr}"),
        Err(e) => e,
    }
}
