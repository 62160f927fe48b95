//! The OASIS OData ABNF conformance cases, run through a syntax-only parse.
//!
//! Expression rules (`filter`, `boolCommonExpr`, `commonExpr`, `notExpr`, `anyExpr`, `isofExpr`)
//! come from the JSON extract; literal rules, `firstMemberExpr` and `orderby` from the YAML file
//! itself. Positive cases must parse, negative ones must fail, except the cases listed in
//! `out_of_scope.rs`, which must still behave as that file says (so the list cannot go stale).

use serde_json::Value;

use super::super::out_of_scope::{OUT_OF_SCOPE, Scope, Why};
use super::yaml::{YamlCase, read_test_cases};
use crate::odata::{Expr, ExprKind, Literal, parse_filter, parse_orderby};

pub(super) const CORE_FILE: &str = "odata-abnf-testcases.yaml";
const CORE_YAML: &str = include_str!("../../../../spec/odata-abnf/odata-abnf-testcases.yaml");
const FILTER_CASES: &str = include_str!("../../../../spec/odata-abnf/filter-related-cases.json");

/// Rules of the JSON extract that are whole expressions.
const EXPRESSION_RULES: &[&str] = &["filter", "boolcommonexpr", "commonexpr", "notexpr", "anyexpr", "isofexpr"];

/// What a case means for our parser once its rule is mapped to a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Class {
    Expression,
    Filter,
    /// A URL or query string whose top-level `$filter` option we parse.
    QueryOption,
    OrderBy,
    /// `anyExpr` cases are the lambda without its path; we prefix one.
    AnyExpr,
    Literal(LiteralClass, Wrap),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LiteralClass {
    Boolean,
    Date,
    DateTimeOffset,
    TimeOfDay,
    Guid,
    String,
    Number,
    Int,
    Null,
    Duration,
    Enum,
    Any,
}

/// Value rules are the inside of a literal; wrap them to make one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Wrap {
    None,
    Duration,
    Enum,
}

pub(super) fn classify(rule: &str) -> Option<Class> {
    use LiteralClass as L;
    let lit = |class| Some(Class::Literal(class, Wrap::None));
    match rule.to_ascii_lowercase().as_str() {
        "filter" => Some(Class::Filter),
        "orderby" => Some(Class::OrderBy),
        "anyexpr" => Some(Class::AnyExpr),
        "boolcommonexpr" | "commonexpr" | "notexpr" | "isofexpr" | "firstmemberexpr" => Some(Class::Expression),
        "boolean" => lit(L::Boolean),
        "date" | "datevalue" => lit(L::Date),
        "datetimeoffsetvalue" | "datetimeoffsetliteral" | "datetimeoffsetvalueinurl" => lit(L::DateTimeOffset),
        "timeofdayvalue" | "timeofdayliteral" => lit(L::TimeOfDay),
        "guid" => lit(L::Guid),
        "stringliteral" => lit(L::String),
        "decimalvalue" | "decimalliteral" | "doublevalue" | "doubleliteral" | "singlevalue" | "singleliteral" => {
            lit(L::Number)
        }
        "bytevalue" | "sbytevalue" | "sbyteliteral" | "int16value" | "int16literal" | "int32value" | "int32literal"
        | "int64value" | "int64literal" => lit(L::Int),
        "null" => lit(L::Null),
        "durationliteral" => lit(L::Duration),
        "durationvalue" => Some(Class::Literal(L::Duration, Wrap::Duration)),
        "enumliteral" => lit(L::Enum),
        "enumvalue" => Some(Class::Literal(L::Enum, Wrap::Enum)),
        "primitiveliteral" => lit(L::Any),
        _ => None,
    }
}

fn literal_matches(class: LiteralClass, lit: &Literal) -> bool {
    use LiteralClass as L;
    match (class, lit) {
        (L::Any, _)
        | (L::Boolean, Literal::Boolean(_))
        | (L::Date, Literal::Date(_))
        | (L::DateTimeOffset, Literal::DateTimeOffset(_))
        | (L::TimeOfDay, Literal::TimeOfDay(_))
        | (L::Guid, Literal::Guid(_))
        | (L::String, Literal::String(_))
        | (L::Number, Literal::Int(_) | Literal::Decimal(_) | Literal::Double(_))
        | (L::Int, Literal::Int(_))
        | (L::Null, Literal::Null)
        // An untyped string is a valid duration or enum literal in OData 4.01.
        | (L::Duration, Literal::Duration(_) | Literal::String(_))
        | (L::Enum, Literal::Enum(_) | Literal::String(_)) => true,
        _ => false,
    }
}

/// Decodes `%XX` escapes, as the API layer does before calling the parser.
pub(super) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match hex.and_then(|h| u8::from_str_radix(h, 16).ok()).filter(|_| b == b'%') {
            Some(decoded) => {
                out.push(decoded);
                i += 3;
            }
            None => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The value of `$name=value` or `name=value` (the `$` is optional and the name case-insensitive
/// in 4.01); `None` if the text is not that option, e.g. `$filter =true`.
pub(super) fn option_value<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let (key, value) = text.split_once('=')?;
    let key = key.strip_prefix('$').unwrap_or(key);
    key.eq_ignore_ascii_case(name).then_some(value)
}

/// The top-level `$filter` option of a URL or query string, if it has one (not one nested in
/// `$expand(...)`, and not the `/$filter(...)` path segment).
pub(super) fn query_filter(url: &str) -> Option<&str> {
    let query = url.split_once('?').map_or(url, |(_, query)| query);
    query.split('&').find_map(|option| option_value(option, "filter"))
}

/// Runs one case; `Ok(())` if our parser accepted it, `Err(why)` if it refused.
pub(super) fn run(class: Class, input: &str) -> Result<(), String> {
    let filter = |text: &str| parse_filter(text).map_err(|e| e.to_string());
    match class {
        Class::Expression => filter(&percent_decode(input)).map(drop),
        Class::AnyExpr => filter(&format!("Products/{}", percent_decode(input))).map(drop),
        Class::Filter => {
            let value = option_value(input, "filter").ok_or("not a filter option")?;
            filter(&percent_decode(value)).map(drop)
        }
        Class::QueryOption => {
            let value = query_filter(input).ok_or("no top-level $filter option")?;
            filter(&percent_decode(value)).map(drop)
        }
        Class::OrderBy => {
            let value = option_value(input, "orderby").ok_or("not an orderby option")?;
            parse_orderby(&percent_decode(value)).map(drop).map_err(|e| e.to_string())
        }
        Class::Literal(kind, wrap) => {
            let decoded = percent_decode(input);
            let text = match wrap {
                Wrap::None => decoded,
                Wrap::Duration => format!("duration'{decoded}'"),
                Wrap::Enum => format!("Sales.Pattern'{decoded}'"),
            };
            match filter(&text)? {
                Expr { kind: ExprKind::Literal(lit), .. } if literal_matches(kind, &lit) => Ok(()),
                other => Err(format!("parsed as {other}, not a {kind:?} literal")),
            }
        }
    }
}

struct Case {
    file: String,
    index: usize,
    rule: String,
    input: String,
    fail_at: Option<usize>,
    class: Class,
}

/// The JSON extract: its expression-rule cases, and its other cases (URLs and query strings from
/// all three files) that have a top-level `$filter` option.
fn json_cases() -> Vec<Case> {
    let cases: Vec<Value> = serde_json::from_str(FILTER_CASES).unwrap();
    let string = |c: &Value, key: &str| c[key].as_str().unwrap().to_owned();
    cases
        .iter()
        .filter_map(|c| {
            let input = string(c, "Input");
            let class = if c["relation"] == "expression-rule" {
                classify(c["Rule"].as_str().unwrap())?
            } else {
                query_filter(&input).map(|_| Class::QueryOption)?
            };
            Some(Case {
                file: string(c, "file"),
                index: usize::try_from(c["index"].as_u64().unwrap()).unwrap(),
                rule: string(c, "Rule"),
                input,
                fail_at: c.get("FailAt").and_then(Value::as_u64).map(|f| usize::try_from(f).unwrap()),
                class,
            })
        })
        .collect()
}

/// Every case we run: the JSON cases, then the YAML cases of the other rules we map.
fn all_cases() -> Vec<Case> {
    let yaml = read_test_cases(CORE_YAML);
    let mut cases = json_cases();
    for case in cases.iter().filter(|c| c.file == CORE_FILE) {
        // The JSON extract and our YAML reader must agree on every case they share.
        let YamlCase { rule, input, fail_at, .. } = &yaml[case.index];
        assert_eq!((rule, input, fail_at), (&case.rule, &case.input, &case.fail_at), "case {}", case.index);
    }
    let more = yaml.into_iter().filter_map(|c| {
        let class = classify(&c.rule).filter(|_| !EXPRESSION_RULES.contains(&c.rule.to_ascii_lowercase().as_str()))?;
        Some(Case {
            file: CORE_FILE.to_owned(),
            index: c.index,
            rule: c.rule,
            input: c.input,
            fail_at: c.fail_at,
            class,
        })
    });
    cases.extend(more);
    cases
}

pub(super) fn scope_of(file: &str, index: usize) -> Option<&'static Scope> {
    OUT_OF_SCOPE.iter().find(|s| s.file == file && s.index == index)
}

#[derive(Default, Debug, PartialEq, Eq)]
struct Tally {
    positive: usize,
    negative: usize,
    out_of_scope: usize,
}

#[test]
fn oasis_abnf_cases_parse_as_the_grammar_says() {
    let mut by_rule = std::collections::BTreeMap::<String, Tally>::new();
    let mut failures = Vec::new();
    let mut used_scopes = Vec::new();
    for case in all_cases() {
        let accepted = run(case.class, &case.input);
        let rule =
            if case.class == Class::QueryOption { format!("{} ($filter=)", case.rule) } else { case.rule.clone() };
        let tally = by_rule.entry(rule).or_default();
        let expected_accept = case.fail_at.is_none();
        match scope_of(&case.file, case.index) {
            Some(scope) => {
                used_scopes.push((scope.file, scope.index));
                // An out-of-scope case must still go the way the list says: a positive case we
                // refuse, or a negative case we accept. Anything else means the list is stale.
                if accepted.is_ok() == expected_accept {
                    failures.push(format!(
                        "{} #{} {:?} is listed as out of scope but conforms",
                        case.file, case.index, case.input
                    ));
                }
                tally.out_of_scope += 1;
            }
            None if accepted.is_ok() == expected_accept => {
                if expected_accept {
                    tally.positive += 1
                } else {
                    tally.negative += 1
                }
            }
            None => failures.push(format!(
                "{} #{} rule {} input {:?}: expected {}, got {:?}",
                case.file,
                case.index,
                case.rule,
                case.input,
                if expected_accept { "accept" } else { "reject" },
                accepted
            )),
        }
    }
    let mut by_reason = std::collections::BTreeMap::<Why, usize>::new();
    for scope in OUT_OF_SCOPE {
        let used = used_scopes.contains(&(scope.file, scope.index));
        assert!(used, "out-of-scope entry {} #{} matches no case", scope.file, scope.index);
        *by_reason.entry(scope.why).or_default() += 1;
    }
    let sum = |pick: &dyn Fn(&str) -> bool| {
        by_rule.iter().filter(|(rule, _)| pick(rule)).fold(Tally::default(), |acc, (_, t)| Tally {
            positive: acc.positive + t.positive,
            negative: acc.negative + t.negative,
            out_of_scope: acc.out_of_scope + t.out_of_scope,
        })
    };
    let total = sum(&|_| true);
    let expressions = sum(&|rule| EXPRESSION_RULES.contains(&rule.to_ascii_lowercase().as_str()));
    println!("OASIS ABNF cases by rule (positive passed / negative passed / out of scope):");
    for (rule, t) in &by_rule {
        println!("  {rule:<36} {:>4} {:>4} {:>4}", t.positive, t.negative, t.out_of_scope);
    }
    for (name, t) in [("expression rules (198 cases)", &expressions), ("total", &total)] {
        println!("  {name:<36} {:>4} {:>4} {:>4}", t.positive, t.negative, t.out_of_scope);
    }
    println!("out of scope by reason:");
    for (why, count) in &by_reason {
        println!("  {count:>3}  {}", why.reason());
    }
    assert!(failures.is_empty(), "{} cases do not conform:\n{}", failures.len(), failures.join("\n"));
    // Every expression-rule case is accounted for, and every negative one is refused.
    assert_eq!(expressions, Tally { positive: 103, negative: 9, out_of_scope: 86 }, "expression-rule counts changed");
    assert_eq!(total, Tally { positive: 200, negative: 30, out_of_scope: 129 }, "counts changed: update them here");
}
