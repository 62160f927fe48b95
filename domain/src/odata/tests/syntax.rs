//! What the parser builds: precedence, paths, lambdas, calls, lists and literals.

use chrono::{DateTime, NaiveDate, NaiveTime, TimeDelta};

use super::{parse, show};
use crate::odata::{
    CompareOp, EnumLiteral, Expr, ExprKind, InRhs, LambdaKind, Literal, Span, known_function, parse_filter,
};

fn literal(input: &str) -> Literal {
    match parse(input).kind {
        ExprKind::Literal(lit) => lit,
        other => panic!("{input:?} is not a literal: {other:?}"),
    }
}

#[test]
fn and_binds_tighter_than_or() {
    assert_eq!(show("a eq 1 or b eq 2 and c eq 3"), "((a eq 1) or ((b eq 2) and (c eq 3)))");
    assert_eq!(show("a eq 1 and b eq 2 or c eq 3"), "(((a eq 1) and (b eq 2)) or (c eq 3))");
    assert_eq!(show("(a eq 1 or b eq 2) and c eq 3"), "(((a eq 1) or (b eq 2)) and (c eq 3))");
}

#[test]
fn binary_operators_associate_to_the_left() {
    assert_eq!(show("a or b or c"), "((a or b) or c)");
    assert_eq!(show("a sub b sub c"), "((a sub b) sub c)");
}

#[test]
fn not_binds_looser_than_comparison_and_tighter_than_and() {
    assert_eq!(show("not a eq 1"), "(not (a eq 1))");
    assert_eq!(show("not a eq 1 and b eq 2"), "((not (a eq 1)) and (b eq 2))");
    assert_eq!(show("not not a"), "(not (not a))");
    assert_eq!(show("not(startswith(a,'x'))"), "(not startswith(a,'x'))");
    assert_eq!(show("x eq not y"), "(x eq (not y))");
}

#[test]
fn arithmetic_follows_odata_precedence() {
    assert_eq!(show("a add 1 mul 2 eq 3"), "((a add (1 mul 2)) eq 3)");
    assert_eq!(show("(4 add 5) mod (4 sub 1) eq 0"), "(((4 add 5) mod (4 sub 1)) eq 0)");
    assert_eq!(show("a divby 2 gt 1 eq true"), "(((a divby 2) gt 1) eq true)");
    assert_eq!(show("-Price add 1"), "(-(Price) add 1)");
}

#[test]
fn keywords_and_function_names_are_case_insensitive() {
    assert_eq!(
        show("Name EQ 'Milk' AND NOT startsWith(a,'b') Or X Ne NULL"),
        "(((Name eq 'Milk') and (not startswith(a,'b'))) or (X ne null))"
    );
    assert_eq!(literal("TRUE"), Literal::Boolean(true));
    assert_eq!(show("tags/ANY(t: t eq 'x')"), "tags/any(t:(t eq 'x'))");
}

#[test]
fn in_takes_a_literal_list_or_a_collection() {
    assert_eq!(show("userId in ('a', 'b','c' )"), "(userId in ('a','b','c'))");
    assert_eq!(show("x in ()"), "(x in ())");
    assert_eq!(show("x in ('a') and y eq 1"), "((x in ('a')) and (y eq 1))");
    assert_eq!(show("x in(1, -2, null)"), "(x in (1,-2,null))");
    let ExprKind::In { rhs: InRhs::Collection(c), .. } = parse("FirstName in (FirstName)").kind else { panic!() };
    assert_eq!(c.to_string(), "FirstName");
    let ExprKind::In { op_offset, rhs: InRhs::List(items), .. } = parse("x in ('a', 'b')").kind else { panic!() };
    assert_eq!(op_offset, 2);
    assert_eq!(items[1].span, Span { start: 11, end: 14 });
}

#[test]
fn has_takes_an_enum_literal() {
    assert_eq!(show("style has Sales.Pattern'Yellow'"), "(style has Sales.Pattern'Yellow')");
}

#[test]
fn member_paths_keep_every_segment_and_its_offset() {
    let ExprKind::Compare { op, op_offset, lhs, rhs } = parse("initiatedBy/user/userPrincipalName eq 'bob'").kind
    else {
        panic!()
    };
    assert_eq!((op, op_offset), (CompareOp::Eq, 35));
    let ExprKind::Member(path) = &lhs.kind else { panic!() };
    assert_eq!(path.names().collect::<Vec<_>>(), ["initiatedBy", "user", "userPrincipalName"]);
    assert_eq!(path.segments.iter().map(|s| s.offset).collect::<Vec<_>>(), [0, 12, 17]);
    assert_eq!(path.lambda_var, None);
    assert_eq!(lhs.span, Span { start: 0, end: 34 });
    assert_eq!(rhs.span, Span { start: 38, end: 43 });
}

#[test]
fn spans_cover_parentheses_and_operands() {
    let expr = parse("(a eq 1) and not b");
    assert_eq!(expr.span, Span { start: 0, end: 18 });
    let ExprKind::And(lhs, rhs) = expr.kind else { panic!() };
    assert_eq!(lhs.span, Span { start: 0, end: 8 });
    assert_eq!(rhs.span, Span { start: 13, end: 18 });
}

fn lambda_parts(expr: &Expr) -> (String, LambdaKind, Option<String>, Option<String>) {
    let ExprKind::Lambda(l) = &expr.kind else { panic!("not a lambda: {expr}") };
    let pred = l.predicate.as_ref();
    (l.collection.to_string(), l.kind, pred.map(|p| p.var.name.clone()), pred.map(|p| p.body.to_string()))
}

#[test]
fn lambdas_over_complex_and_primitive_collections() {
    let expr = parse("appliedConditionalAccessPolicies/any(p: p/result eq 'failure')");
    let parts = lambda_parts(&expr);
    assert_eq!(
        parts,
        (
            "appliedConditionalAccessPolicies".into(),
            LambdaKind::Any,
            Some("p".into()),
            Some("(p/result eq 'failure')".into())
        )
    );
    let ExprKind::Lambda(l) = &expr.kind else { panic!() };
    let body = &l.predicate.as_ref().unwrap().body;
    let ExprKind::Compare { lhs, .. } = &body.kind else { panic!() };
    let ExprKind::Member(path) = &lhs.kind else { panic!() };
    assert_eq!(path.lambda_var.as_ref().map(|v| (v.name.as_str(), v.offset)), Some(("p", 40)));
    assert_eq!(path.names().collect::<Vec<_>>(), ["result"]);

    let expr = parse("riskEventTypes_v2/any(t: t eq 'unfamiliarFeatures')");
    let ExprKind::Lambda(l) = &expr.kind else { panic!() };
    let ExprKind::Compare { lhs, .. } = &l.predicate.as_ref().unwrap().body.kind else { panic!() };
    let ExprKind::Member(path) = &lhs.kind else { panic!() };
    assert_eq!((path.lambda_var.as_ref().map(|v| v.name.as_str()), path.segments.len()), (Some("t"), 0));

    assert_eq!(
        show("targetResources/any(t: startswith(t/displayName,'Group'))"),
        "targetResources/any(t:startswith(t/displayName,'Group'))"
    );
    assert_eq!(show("a/b/all(x:x/c/any(y:y eq x/d))"), "a/b/all(x:x/c/any(y:(y eq x/d)))");
    assert_eq!(lambda_parts(&parse("Products/any( )")), ("Products".into(), LambdaKind::Any, None, None));
    assert_eq!(show("tags/any(x: x eq 'a') and x eq 1"), "(tags/any(x:(x eq 'a')) and (x eq 1))");
    // Outside its lambda, a variable's name is an ordinary property.
    let ExprKind::And(_, rhs) = parse("tags/any(x: x eq 'a') and x eq 1").kind else { panic!() };
    let ExprKind::Compare { lhs, .. } = rhs.kind else { panic!() };
    assert!(matches!(lhs.kind, ExprKind::Member(ref p) if p.lambda_var.is_none()));
}

#[test]
fn calls_are_parsed_generically_with_lowercase_names() {
    assert_eq!(show("concat(concat(Street,'-'),City) eq 'x'"), "(concat(concat(Street,'-'),City) eq 'x')");
    assert_eq!(show("substring(Name, 1, 2)"), "substring(Name,1,2)");
    assert_eq!(show("now()"), "now()");
    assert_eq!(show("Model.MostPopularName()"), "model.mostpopularname()");
    let ExprKind::Call { name, args } = parse("StartsWith(a,'b')").kind else { panic!() };
    assert_eq!((name.as_str(), args.len()), ("startswith", 2));
    let sig = known_function("startswith").unwrap();
    assert_eq!((sig.min_args, sig.max_args), (2, 2));
    assert_eq!(known_function("SUBSTRING").map(|f| (f.min_args, f.max_args)), Some((2, 3)));
    assert!(known_function("nosuchfunction").is_none());
}

#[test]
fn strings_double_their_quotes() {
    assert_eq!(literal("'O''Brien'"), Literal::String("O'Brien".into()));
    assert_eq!(literal("''"), Literal::String(String::new()));
    assert_eq!(literal("''''"), Literal::String("'".into()));
    assert_eq!(literal("'Hugo''s Tavern \u{e9}\u{4e2d}\t'"), Literal::String("Hugo's Tavern \u{e9}\u{4e2d}\t".into()));
}

#[test]
fn an_injection_attempt_is_one_string_literal() {
    assert_eq!(literal("'x'' or 1=1 --'"), Literal::String("x' or 1=1 --".into()));
    let ExprKind::Compare { rhs, .. } = parse("userDisplayName eq 'x'' or 1=1 --'").kind else { panic!() };
    assert_eq!(rhs.kind, ExprKind::Literal(Literal::String("x' or 1=1 --".into())));
    assert_eq!(literal("'; DROP TABLE sign_ins; --'"), Literal::String("; DROP TABLE sign_ins; --".into()));
}

#[test]
fn numbers() {
    assert_eq!(literal("42"), Literal::Int(42));
    assert_eq!(literal("-5"), Literal::Int(-5));
    assert_eq!(literal("+42"), Literal::Int(42));
    assert_eq!(literal("-9223372036854775808"), Literal::Int(i64::MIN));
    assert_eq!(literal("9223372036854775808"), Literal::Decimal("9223372036854775808".into()));
    assert_eq!(literal("4.0"), Literal::Decimal("4.0".into()));
    assert_eq!(literal("-2.55"), Literal::Decimal("-2.55".into()));
    assert_eq!(literal("1e3"), Literal::Double(1000.0));
    assert_eq!(literal("-0.25E+1"), Literal::Double(-2.5));
    assert_eq!(literal("1e-101"), Literal::Double(1e-101));
    assert_eq!(literal("INF"), Literal::Double(f64::INFINITY));
    assert_eq!(literal("-INF"), Literal::Double(f64::NEG_INFINITY));
    assert!(matches!(literal("NaN"), Literal::Double(d) if d.is_nan()));
    assert_eq!(show("status/errorCode eq -1"), "(status/errorCode eq -1)");
    assert_eq!(show("a sub -1"), "(a sub -1)");
}

#[test]
fn booleans_and_null() {
    assert_eq!(literal("true"), Literal::Boolean(true));
    assert_eq!(literal("False"), Literal::Boolean(false));
    assert_eq!(literal("null"), Literal::Null);
    assert_eq!(literal("NULL"), Literal::Null);
}

#[test]
fn guids_with_or_without_a_leading_letter() {
    for text in [
        "26be570a-ae82-4189-b4e2-a37c6808512d",
        "01234567-89ab-cdef-0123-456789abcdef",
        "DE8BC8B5-D9F9-48B1-A8AD-B748DA725064",
    ] {
        let Literal::Guid(g) = literal(text) else { panic!("{text}") };
        assert_eq!(g.as_str(), text);
    }
    assert_eq!(
        show("userId eq de8bc8b5-d9f9-48b1-a8ad-b748da725064"),
        "(userId eq de8bc8b5-d9f9-48b1-a8ad-b748da725064)"
    );
}

#[test]
fn dates_times_and_offsets() {
    assert_eq!(literal("2024-01-24"), Literal::Date(NaiveDate::from_ymd_opt(2024, 1, 24).unwrap()));
    assert_eq!(literal("-10000-04-01"), Literal::Date(NaiveDate::from_ymd_opt(-10000, 4, 1).unwrap()));
    let cases = [
        ("2024-01-01T00:00:00Z", "2024-01-01T00:00:00+00:00"),
        ("2012-09-03T13:52Z", "2012-09-03T13:52:00+00:00"),
        ("2012-08-31T18:19:22.1Z", "2012-08-31T18:19:22.1+00:00"),
        ("2024-03-31T08:30:15.1234567+02:00", "2024-03-31T08:30:15.1234567+02:00"),
        ("2024-03-31T08:30:15.123456789012-05:30", "2024-03-31T08:30:15.123456789-05:30"),
    ];
    for (text, rfc3339) in cases {
        let expected = DateTime::parse_from_rfc3339(rfc3339).unwrap();
        assert_eq!(literal(text), Literal::DateTimeOffset(expected), "{text}");
    }
    let Literal::DateTimeOffset(leap) = literal("1972-06-30T23:59:60Z") else { panic!() };
    assert_eq!(leap.to_string(), "1972-06-30 23:59:60 +00:00");
    assert_eq!(literal("11:22:33.5"), Literal::TimeOfDay(NaiveTime::from_hms_milli_opt(11, 22, 33, 500).unwrap()));
    assert_eq!(literal("11:22"), Literal::TimeOfDay(NaiveTime::from_hms_opt(11, 22, 0).unwrap()));
    assert_eq!(
        show("createdDateTime ge 2024-01-01T00:00:00Z and createdDateTime le 2024-01-31T23:59:59.9999999Z"),
        "((createdDateTime ge 2024-01-01T00:00:00Z) and (createdDateTime le 2024-01-31T23:59:59.9999999Z))"
    );
}

#[test]
fn durations() {
    let expected = TimeDelta::days(6)
        + TimeDelta::hours(23)
        + TimeDelta::minutes(59)
        + TimeDelta::milliseconds(59_999)
        + TimeDelta::microseconds(900);
    assert_eq!(literal("duration'P6DT23H59M59.9999S'"), Literal::Duration(expected));
    assert_eq!(literal("Duration'-PT1H'"), Literal::Duration(TimeDelta::hours(-1)));
    assert_eq!(literal("duration'P2D'"), Literal::Duration(TimeDelta::days(2)));
    assert_eq!(show("duration'PT90M'"), "duration'P0DT1H30M0S'");
}

#[test]
fn qualified_enum_literals() {
    assert_eq!(
        literal("microsoft.graph.riskLevel'high'"),
        Literal::Enum(EnumLiteral { type_name: "microsoft.graph.riskLevel".into(), members: vec!["high".into()] })
    );
    assert_eq!(
        literal("Sales.Pattern'Solid,Yellow,-42'"),
        Literal::Enum(EnumLiteral {
            type_name: "Sales.Pattern".into(),
            members: vec!["Solid".into(), "Yellow".into(), "-42".into()]
        })
    );
    assert_eq!(
        show("riskLevel eq microsoft.graph.riskLevel'medium'"),
        "(riskLevel eq microsoft.graph.riskLevel'medium')"
    );
}

#[test]
fn whitespace_may_be_spaces_or_tabs_where_the_grammar_allows() {
    assert_eq!(show("a\teq\t1 and ( b eq 2 )"), "((a eq 1) and (b eq 2))");
    assert_eq!(show("f( a , 'b' )"), "f(a,'b')");
    assert_eq!(show("tags/any( t : t eq 'x' )"), "tags/any(t:(t eq 'x'))");
}

/// Display must render text that parses back to the same tree.
#[test]
fn display_round_trips() {
    let inputs = [
        "a eq 1 or b eq 2 and c eq 3",
        "not (a eq 'O''Brien') and x in ('a', 'b', null, -1, 2.5, 1e10, INF, -INF)",
        "tags/any(t: t/x eq 01234567-89ab-cdef-0123-456789abcdef) and b/all(u: u ne 2024-01-01)",
        "a le 2012-09-03T14:53:01.5+02:00 and b ge -0001-01-01T00:00Z and c eq 23:59:60 and d has Ns.E'a,b'",
        "-(a) add 1 mul -2 eq duration'-P1DT2H3M4.000000005S' or f() or g(a, h(b))",
        "x in (y) or x in z or p/any()",
    ];
    for input in inputs {
        let once = show(input);
        let twice = parse_filter(&once).unwrap_or_else(|e| panic!("{once:?} does not re-parse: {e}")).to_string();
        assert_eq!(once, twice, "{input}");
    }
}
