//! `$orderby`: property paths with optional directions.

use crate::odata::{OrderItem, parse_orderby};

fn item(path: &[&str], descending: bool, offset: usize) -> OrderItem {
    OrderItem { path: path.iter().map(|s| (*s).to_owned()).collect(), descending, offset }
}

#[test]
fn sort_keys_with_directions() {
    assert_eq!(parse_orderby("createdDateTime desc").unwrap(), [item(&["createdDateTime"], true, 0)]);
    assert_eq!(
        parse_orderby("status/errorCode, createdDateTime ASC,userId\tDesc").unwrap(),
        [item(&["status", "errorCode"], false, 0), item(&["createdDateTime"], false, 18), item(&["userId"], true, 38)]
    );
}

#[test]
fn orderby_errors() {
    let cases: &[(&str, usize, &str)] = &[
        ("", 0, "empty"),
        (" a", 0, "starts with whitespace"),
        ("a,", 2, "expected a property path, found end of input"),
        ("a desc desc", 7, "expected ',' or the end of $orderby, found 'desc' at offset 7"),
        ("Cost ge Revenue asc", 5, "$orderby takes property paths"),
        ("tolower(a)", 0, "sorting by a function call is not supported"),
        ("a/$count", 2, "'$count' at offset 2 is not supported in $orderby"),
        ("'a'", 0, "expected a property path, found ''a'' at offset 0"),
        ("a/ b", 1, "unexpected space after '/'"),
        ("a # b", 2, "unknown token '#'"),
    ];
    for (input, offset, fragment) in cases {
        let e = parse_orderby(input).unwrap_err();
        assert_eq!(e.offset, *offset, "{input:?}: {e}");
        assert!(e.message.contains(fragment), "{input:?}: {:?} lacks {fragment:?}", e.message);
    }
}
