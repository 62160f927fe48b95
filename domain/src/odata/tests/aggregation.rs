//! The OASIS Data Aggregation ABNF cases whose input has a `$apply` option, run through the
//! `$apply` parser: a positive case in the subset must parse, a negative one must be refused,
//! and a positive case outside the subset must be refused with a message that names what is
//! unsupported, never a panic. Negative cases that only a schema can refuse (the grammar's
//! constraints on which names are collections or navigation properties) are listed below; the
//! registry refuses such paths when a real query names them.

use super::oasis::{option_value, percent_decode};
use super::yaml::read_test_cases;
use crate::odata::parse_apply;

const AGGREGATION_YAML: &str = include_str!("../../../../spec/odata-abnf/odata-aggregation-testcases.yaml");

/// Negative cases a syntax-only parse accepts, by index, and why they are negative.
const NEEDS_SCHEMA: &[(usize, &str)] = &[
    (4, "Sales is collection-valued: arithmetic on its members is not allowed"),
    (68, "Price is primitive: it has no property Quantity"),
    (154, "Sales is collection-valued: it cannot be grouped by"),
];

/// The top-level `$apply` option of a URL or query string.
fn query_apply(url: &str) -> Option<&str> {
    let query = url.split_once('?').map_or(url, |(_, query)| query);
    query.split('&').find_map(|option| option_value(option, "apply"))
}

fn names_unsupported(message: &str) -> bool {
    message.contains("unsupported") || message.contains("not supported")
}

#[test]
fn oasis_aggregation_cases_parse_or_name_what_is_unsupported() {
    let mut failures = Vec::new();
    let (mut in_subset, mut negative, mut unsupported, mut schema) = (0, 0, 0, 0);
    for case in read_test_cases(AGGREGATION_YAML) {
        let Some(value) = query_apply(&case.input) else { continue };
        let parsed = parse_apply(&percent_decode(value));
        let listed = NEEDS_SCHEMA.iter().any(|(i, _)| *i == case.index);
        match (case.fail_at, parsed, listed) {
            (None, Ok(_), false) => in_subset += 1,
            (None, Err(e), false) if names_unsupported(&e.message) => unsupported += 1,
            (Some(_), Err(_), false) => negative += 1,
            (Some(_), Ok(_), true) => schema += 1,
            (fail_at, result, listed) => failures.push(format!(
                "#{} {:?} (FailAt {fail_at:?}, listed as needing a schema: {listed}): {result:?}",
                case.index, case.input
            )),
        }
    }
    println!(
        "aggregation cases with $apply: {in_subset} in the subset parse, {negative} negative refused, \
         {unsupported} refused as unsupported, {schema} negative only with a schema"
    );
    assert!(failures.is_empty(), "{} cases:\n{}", failures.len(), failures.join("\n"));
    assert_eq!((in_subset, negative, unsupported, schema), (38, 19, 114, 3), "counts changed: update them here");
}
