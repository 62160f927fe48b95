//! Every way a `$filter` can be wrong gets an error with the right offset and a message that says
//! what to do.

use super::error;
use crate::odata::{MAX_DEPTH, MAX_INPUT_LEN, parse_filter};

/// Asserts the error offset and that the message contains each fragment.
fn assert_error(input: &str, offset: usize, fragments: &[&str]) {
    let e = error(input);
    assert_eq!(e.offset, offset, "{input:?}: {e}");
    for fragment in fragments {
        assert!(e.message.contains(fragment), "{input:?}: message {:?} lacks {fragment:?}", e.message);
    }
    assert_eq!(e.to_string(), e.message);
}

#[test]
fn truncated_expressions() {
    assert_error("", 0, &["empty"]);
    assert_error("a eq", 4, &["expected a value", "found end of input"]);
    assert_error("a eq 1 and", 10, &["found end of input"]);
    assert_error("startswith(a,", 13, &["found end of input"]);
    assert_error("tags/any(t:", 11, &["found end of input"]);
    assert_error("tags/", 5, &["expected a property name after '/'", "end of input"]);
    assert_error("not", 3, &["after 'not'"]);
}

#[test]
fn unbalanced_parentheses() {
    assert_error("(a eq 1", 7, &["expected ')' to close the '(' at offset 0, found end of input"]);
    assert_error("((a eq 1)", 9, &["to close the '(' at offset 0"]);
    assert_error("a eq 1)", 6, &["unexpected ')' at offset 6", "no '('"]);
    assert_error("startswith(a,'b'", 16, &["to close the '(' at offset 10 of 'startswith('"]);
    assert_error("tags/any(t: t eq 1", 18, &["of 'any('"]);
    assert_error("x in ('a', 'b'", 14, &["of the 'in' list"]);
    assert_error("()", 1, &["empty parentheses at offset 0"]);
}

#[test]
fn unterminated_strings() {
    assert_error("name eq 'abc", 8, &["unterminated string literal starting at offset 8"]);
    assert_error("'", 0, &["unterminated string literal starting at offset 0"]);
    assert_error("name eq 'O''", 8, &["unterminated"]);
    assert_error("name eq 'O'Neil'", 11, &["'N' at offset 11", "written twice"]);
}

#[test]
fn unknown_and_control_characters() {
    assert_error("a eq 1 # x", 7, &["unknown token '#' at offset 7"]);
    assert_error("a eq\n1", 4, &["control character U+000A at offset 4"]);
    assert_error("a eq '\u{0}'", 6, &["control character U+0000 at offset 6 inside the string starting at offset 5"]);
    assert_error("a eq 1\u{7f}", 6, &["U+007F"]);
    assert_error("a eq \u{20ac}", 5, &["unknown token '\u{20ac}'"]);
}

#[test]
fn foreign_operators_get_a_hint() {
    assert_error("a = 1", 2, &["compare with eq"]);
    assert_error("a != 1", 2, &["ne"]);
    assert_error("a < 1", 2, &["lt"]);
    assert_error("a eq 1 && b eq 2", 7, &["and"]);
    assert_error("a eq 1 || b eq 2", 7, &["or"]);
    assert_error("a eq \"x\"", 5, &["single quotes"]);
    assert_error("a eq 1 + 2", 7, &["add", "%2B"]);
    assert_error("x in ['a']", 5, &["in ('a', 'b')"]);
    assert_error("contains(Title,@word)", 15, &["parameter aliases"]);
}

#[test]
fn operators_need_operands_and_spaces() {
    assert_error("eq 1", 0, &["expected an operand before the operator 'eq'"]);
    assert_error("a eq and", 5, &["expected an operand before the operator 'and'"]);
    assert_error("a eq 1 b", 7, &["expected an operator", "'b' at offset 7"]);
    assert_error("(a)eq 1", 3, &["expected a space before 'eq'"]);
    assert_error("a eq(1)", 4, &["expected a space after 'eq'"]);
    assert_error("status/errorCode eq 0 -All $true", 22, &["expected an operator", "'-' at offset 22"]);
}

#[test]
fn paths_and_calls_must_be_well_formed() {
    assert_error("startswith (a,'b')", 11, &["unexpected space between the function name 'startswith' and '('"]);
    assert_error("a/ b", 1, &["unexpected space after '/'"]);
    assert_error("a/1", 2, &["expected a property name after '/'"]);
    assert_error("Model.Available", 0, &["qualified name 'Model.Available'"]);
    assert_error("a/Ns.Type/b", 2, &["type-cast segments"]);
    assert_error("Products/BestProduct()", 9, &["bound to a path"]);
    assert_error("f(a)/b", 4, &["can't continue after the function call"]);
    assert_error("cast(a, Edm.String)", 0, &["'cast'", "not supported"]);
    assert_error("$it/Name eq 'x'", 0, &["'$it'", "not supported"]);
    assert_error("Products/$count gt 0", 9, &["'$count'", "not supported"]);
    assert_error("a.", 1, &["expected a name after '.'"]);
    let long = "a".repeat(129);
    assert_error(&long, 0, &["longer than 128 characters"]);
}

#[test]
fn lambdas_need_a_path_a_variable_and_a_body() {
    assert_error("any()", 0, &["'any' at offset 0 must follow a collection path"]);
    assert_error("all(x: true)", 0, &["must follow a collection path"]);
    assert_error("Products/all()", 13, &["'all(' at offset 9 needs a condition"]);
    assert_error("tags/any(true)", 9, &["expected a lambda variable and ':'"]);
    assert_error("tags/any(t t eq 1)", 9, &["expected a lambda variable and ':'"]);
    assert_error("a/any(x: x/b/any(x: true))", 17, &["lambda variable 'x' at offset 17 is already used"]);
    assert_error("a/any(x: true)/b", 14, &["can't continue after any/all"]);
}

#[test]
fn lists_are_only_literals_and_only_after_in() {
    assert_error("FirstName in (FirstName,LastName)", 14, &["must be literals", "'FirstName' at offset 14"]);
    assert_error("x in ('a', y)", 11, &["must be literals"]);
    assert_error("EmailAddresses eq ('Miller','Smith')", 27, &["only allowed after 'in'"]);
}

#[test]
fn malformed_literals() {
    assert_error("a eq 42.", 5, &["malformed number '42.'", "decimal point"]);
    assert_error("a eq .1", 5, &["unknown token '.'"]);
    assert_error("a eq 1e", 5, &["exponent"]);
    assert_error("a eq -0.314e1e2", 5, &["malformed number", "'e' at offset 13"]);
    assert_error("a eq 12abc", 5, &["malformed number"]);
    assert_error("a eq 01234g67-89ab-cdef-0123-456789abcdef", 5, &["malformed number"]);
    assert_error("a eq 01234567-89ab-cdef-456789abcdef", 5, &["malformed GUID", "8-4-4-4-12"]);
    assert_error("a eq de8bc8b5-d9f9-48b1-a8ad-b748da72506", 5, &["malformed GUID"]);
    assert_error("a eq 2024-02-30", 5, &["malformed date '2024-02-30'", "does not exist"]);
    assert_error("a eq 2024-13-01", 5, &["month must be 01 to 12"]);
    assert_error("a eq 2024-1-01", 5, &["expected YYYY-MM-DD"]);
    assert_error("a eq 2011-12-31T24:00Z", 5, &["hours run from 00 to 23"]);
    assert_error("a eq 24:00:00", 5, &["hours run from 00 to 23"]);
    assert_error("a eq 2024-01-01T00:00:00", 5, &["needs a time zone", "%2B"]);
    // A '+' offset sent unencoded arrives decoded as a space.
    assert_error("a eq 2024-01-01T00:00:00 02:00", 5, &["needs a time zone"]);
    assert_error("a eq 2024-01-01T00:00:00+2:00", 5, &["+hh:mm"]);
    assert_error("a eq 2024-01-01T00:00:00.Z", 5, &["fractional seconds"]);
    assert_error("a eq 2024-01-01x", 15, &["right after a date"]);
    assert_error("a eq duration'P1Y'", 13, &["malformed duration", "years and months are not allowed"]);
    assert_error("a eq duration'+P1D'", 13, &["malformed duration"]);
    assert_error("a eq duration'PT'", 13, &["malformed duration"]);
    assert_error("a eq duration'P1H'", 13, &["malformed duration"]);
    assert_error("a eq Ns.E''", 9, &["malformed enum value"]);
    assert_error("a eq Ns.E'a, b'", 9, &["malformed enum value 'a, b'"]);
    assert_error("a eq riskLevel'high'", 5, &["qualified type name", "microsoft.graph.riskLevel'high'"]);
    assert_error("a eq datetime'2024-01-01T00:00:00'", 5, &["OData v3 syntax"]);
    assert_error("a eq geography'POINT(1 2)'", 5, &["geospatial"]);
    assert_error("a eq binary'AA=='", 5, &["binary"]);
}

#[test]
fn outer_whitespace_is_refused() {
    assert_error(" a eq 1", 0, &["starts with whitespace"]);
    assert_error("a eq 1  ", 6, &["ends with whitespace at offset 6"]);
    assert_error(" \t ", 0, &["empty"]);
}

#[test]
fn length_limit() {
    let ok = format!("a eq '{}'", "x".repeat(MAX_INPUT_LEN - 7));
    assert_eq!(ok.len(), MAX_INPUT_LEN);
    assert!(parse_filter(&ok).is_ok());
    assert_error(&format!("{ok} "), MAX_INPUT_LEN, &["4097 bytes long; the limit is 4096 bytes"]);
    let huge = "a eq 1 or ".repeat(10_240) + "a eq 1";
    assert_error(&huge, MAX_INPUT_LEN, &["102406 bytes long"]);
    assert_error(&"(".repeat(100_000), MAX_INPUT_LEN, &["the limit is 4096"]);
}

#[test]
fn depth_limit() {
    let nested = |n: usize| format!("{}a{}", "(".repeat(n), ")".repeat(n));
    assert!(parse_filter(&nested(MAX_DEPTH)).is_ok());
    assert_error(&nested(MAX_DEPTH + 1), MAX_DEPTH, &["nests more than 32 levels deep at offset 32"]);
    assert!(parse_filter(&format!("{}a", "not ".repeat(MAX_DEPTH))).is_ok());
    assert_error(&format!("{}a", "not ".repeat(MAX_DEPTH + 1)), 4 * MAX_DEPTH, &["32 levels"]);
    assert_error(&format!("{}a", "-".repeat(MAX_DEPTH + 1)), MAX_DEPTH, &["32 levels"]);
    // The error points at the '(' that opens level 33.
    let level_33 = |s: &str| s.match_indices('(').nth(MAX_DEPTH).map(|(i, _)| i).unwrap();
    let calls = format!("{}a{}", "f(".repeat(40), ")".repeat(40));
    assert_error(&calls, level_33(&calls), &["32 levels"]);
    let lambdas: String = (0..40).map(|i| format!("a/any(x{i}:")).collect::<String>() + "true" + &")".repeat(40);
    assert_error(&lambdas, level_33(&lambdas), &["32 levels"]);
    // Long flat chains are loops, not recursion: no depth limit applies.
    let chain = vec!["a eq 1"; 400].join(" or ");
    assert!(parse_filter(&chain).is_ok());
}
