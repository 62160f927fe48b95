//! Whatever the input, the parsers return an error with an in-range offset; they never panic.

use crate::odata::{MAX_INPUT_LEN, parse_filter, parse_orderby};

const SAMPLES: &[&str] = &[
    "createdDateTime ge 2024-01-01T00:00:00.1234567+02:00 and status/errorCode eq 0",
    "appliedConditionalAccessPolicies/any(p: p/result eq 'failure') or not (x in ('a', 'b'))",
    "startswith(tolower(userPrincipalName),'o''brien') and riskLevel has microsoft.graph.riskLevel'high,low'",
    "id eq 01234567-89ab-cdef-0123-456789abcdef and d eq duration'-P1DT2H3.5S' and t lt 23:59:59.999",
    "-(a add 1.5e-3) mul -INF ge 2012-09-03 or b/all(x: x/c/any(y: y eq x/d))",
];

fn check(input: &str) {
    if let Err(e) = parse_filter(input) {
        assert!(e.offset <= input.len().max(MAX_INPUT_LEN), "{input:?}: offset {} out of range", e.offset);
        assert!(!e.message.is_empty());
        assert!(e.message.len() < 600, "{input:?}: message too long: {}", e.message);
    }
    let _ = parse_orderby(input);
}

#[test]
fn every_prefix_and_every_deletion_of_valid_filters() {
    for sample in SAMPLES {
        assert!(parse_filter(sample).is_ok(), "{sample}: {:?}", parse_filter(sample));
        for (i, c) in sample.char_indices() {
            check(&sample[..i]);
            check(&format!("{}{}", &sample[..i], &sample[i + c.len_utf8()..]));
        }
    }
}

#[test]
fn random_token_soup() {
    const PIECES: &[&str] = &[
        "a",
        "/",
        "(",
        ")",
        ",",
        ":",
        "'",
        "''",
        " ",
        "\t",
        "eq",
        "and",
        "or",
        "not",
        "in",
        "has",
        "add",
        "-",
        "+",
        "1",
        "2.5",
        "e",
        "3e",
        ".",
        "2024-01-01",
        "T",
        "Z",
        "12:30",
        "any",
        "all",
        "x",
        "$it",
        "@",
        "[",
        "\u{e9}",
        "\u{0}",
        "\n",
        "Ns.T",
        "duration",
        "P1D",
        "01234567-89ab-cdef-0123-456789abcdef",
        "null",
        "INF",
        "startswith",
    ];
    // A small fixed-seed linear congruential generator: deterministic, no dependency.
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move || {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        usize::try_from(state >> 33).unwrap()
    };
    for _ in 0..20_000 {
        let len = next() % 24;
        let input: String = (0..len).map(|_| PIECES[next() % PIECES.len()]).collect();
        check(&input);
    }
}
