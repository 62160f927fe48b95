//! The accept and reject lists of `selected-filter-vectors.json`: OASIS vectors picked for a
//! Graph-like service, and Graph filters seen in docs and issue reports that must parse (whether
//! Graph's per-property rules accept them is checked later, by the validator).

use serde_json::Value;

use super::oasis::{CORE_FILE, Class, Wrap, classify, option_value, query_filter, run, scope_of};
use crate::odata::parse_filter;

const VECTORS: &str = include_str!("../../../../spec/odata-abnf/selected-filter-vectors.json");

#[test]
fn selected_filter_vectors_behave_as_listed() {
    let vectors: Value = serde_json::from_str(VECTORS).unwrap();
    let (mut conforming, mut out_of_scope, mut not_filter_syntax) = (0, 0, Vec::new());
    for group in ["accept", "accept_literals", "reject"] {
        for item in vectors[group].as_array().unwrap() {
            let [rule, input, file] = ["rule", "input", "file"].map(|k| item[k].as_str().unwrap());
            let index = usize::try_from(item["index"].as_u64().unwrap()).unwrap();
            let class = match classify(rule) {
                Some(class) => class,
                None if query_filter(input).is_some() => Class::QueryOption,
                None => {
                    // $skiptoken, $count=…, odata.maxpagesize: not expression syntax.
                    not_filter_syntax.push(format!("{rule}: {input}"));
                    continue;
                }
            };
            let accepted = run(class, input);
            let expected = group != "reject";
            if scope_of(file, index).is_some() {
                assert_ne!(accepted.is_ok(), expected, "{input:?} is listed as out of scope but conforms");
                out_of_scope += 1;
                continue;
            }
            assert_eq!(accepted.is_ok(), expected, "{group} vector {input:?} ({rule}): {accepted:?}");
            conforming += 1;
            // Where offsets are comparable, we must not report a problem later than a strict
            // ABNF matcher would. (Not for the aggregation file: `aggregate(` is a function name
            // like any other to a parser without the aggregation extension.)
            let fail_at = item.get("fail_at").and_then(Value::as_u64).map(|f| usize::try_from(f).unwrap());
            let value = match class {
                Class::Filter => option_value(input, "filter"),
                Class::Expression | Class::Literal(_, Wrap::None) => Some(input),
                _ => None,
            };
            let comparable = file == CORE_FILE && !input.contains('%');
            if let (Some(fail_at), Some(value), true) = (fail_at, value, comparable) {
                let prefix = input.len() - value.len();
                if let Err(e) = parse_filter(value) {
                    assert!(
                        e.offset + prefix <= fail_at,
                        "{input:?}: our offset {} is after FailAt {fail_at}",
                        e.offset + prefix
                    );
                }
            }
        }
    }
    for item in vectors["graph_accept"].as_array().unwrap() {
        let filter = item["filter"].as_str().unwrap();
        assert!(parse_filter(filter).is_ok(), "{filter:?}: {:?}", parse_filter(filter));
        conforming += 1;
    }
    // Valid syntax that Graph refuses for semantic reasons, except one with trailing garbage.
    for item in vectors["graph_reject_semantic"].as_array().unwrap() {
        let filter = item["filter"].as_str().unwrap();
        let garbage = filter.ends_with(" -All $true");
        assert_eq!(parse_filter(filter).is_err(), garbage, "{filter:?}: {:?}", parse_filter(filter));
        conforming += 1;
    }
    println!(
        "selected vectors: {conforming} conform, {out_of_scope} out of scope, {} not $filter syntax: {not_filter_syntax:?}",
        not_filter_syntax.len()
    );
    assert_eq!((conforming, out_of_scope, not_filter_syntax.len()), (120, 5, 3), "counts changed: update them here");
}
