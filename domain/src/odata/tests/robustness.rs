//! Whatever the input, the parsers return an error with an in-range offset; they never panic.

use crate::odata::{MAX_INPUT_LEN, parse_apply, parse_filter, parse_orderby};
use crate::query::apply::resolve_apply;
use crate::query::registry::SIGN_INS;

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
    if let Err(e) = parse_apply(input) {
        assert!(e.offset <= input.len().max(MAX_INPUT_LEN), "{input:?}: $apply offset {} out of range", e.offset);
        assert!(!e.message.is_empty());
    }
    let _ = resolve_apply(&SIGN_INS, input);
}

const APPLY_SAMPLES: &[&str] = &[
    "filter(status/errorCode eq 0)/compute(date(createdDateTime) as day)/groupby((day,appId),aggregate($count as n))",
    "groupby((appDisplayName),aggregate(userId with countdistinct as users,createdDateTime with max as last))/topcount(3,users)/orderby(last desc)",
    "aggregate(location/geoCoordinates/latitude with average as lat,$count as n)",
];

#[test]
fn every_prefix_and_every_deletion_of_valid_applies() {
    for sample in APPLY_SAMPLES {
        assert!(resolve_apply(&SIGN_INS, sample).is_ok(), "{sample}: {:?}", resolve_apply(&SIGN_INS, sample));
        for (i, c) in sample.char_indices() {
            check(&sample[..i]);
            check(&format!("{}{}", &sample[..i], &sample[i + c.len_utf8()..]));
        }
    }
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
        "groupby((",
        "aggregate(",
        " with ",
        " as ",
        "$count",
        "topcount(",
        "compute(",
        "date(",
        "sum",
        "appId",
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
