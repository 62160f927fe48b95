//! The `$apply` parser (OData Data Aggregation Extension 4.0), for the subset idtrail serves:
//! `filter(...)`, `compute(expr as alias, ...)`, `groupby((path, ...))` with an optional
//! `aggregate(...)`, `aggregate(...)` (`$count as alias`, `path with method as alias`),
//! `topcount(n, alias)` and `orderby(...)`, chained with `/`.
//!
//! Like `$filter` this layer checks syntax only; which properties exist and which pipelines make
//! sense is checked against the registry (`crate::query::apply`). Every other transformation of
//! the extension (`search`, `concat`, `join`, `nest`, `rolluprecursive`, `from`, custom aggregates
//! and methods...) is refused with a message that names it as unsupported, never with a panic.

use super::ast::{Expr, Ident};
use super::error::ParseError;
use super::lexer::{Token, TokenKind};
use super::parser::Parser;

/// The transformations this service runs.
pub const SUPPORTED_TRANSFORMATIONS: &[&str] = &["filter", "compute", "groupby", "aggregate", "topcount", "orderby"];

/// The transformations of the extension this service does not run (named in the refusal).
const KNOWN_UNSUPPORTED: &[&str] = &[
    "identity",
    "concat",
    "search",
    "top",
    "skip",
    "topsum",
    "toppercent",
    "bottomcount",
    "bottomsum",
    "bottompercent",
    "join",
    "outerjoin",
    "addnested",
    "nest",
    "ancestors",
    "descendants",
    "traverse",
];

/// The aggregation methods this service computes.
pub const METHODS: &[&str] = &["sum", "min", "max", "average", "countdistinct"];

/// One step of the pipeline, with the byte offset of its name.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub kind: StepKind,
    pub offset: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StepKind {
    Filter(Expr),
    /// `compute(expr as alias, ...)`.
    Compute(Vec<(Expr, Ident)>),
    /// `groupby((paths), aggregate(...))`; `aggregate` is empty without the second argument.
    GroupBy {
        keys: Vec<Expr>,
        aggregate: Vec<AggregateItem>,
    },
    Aggregate(Vec<AggregateItem>),
    /// `topcount(count, value)`.
    TopCount {
        count: Expr,
        value: Expr,
    },
    /// `orderby(expr [asc|desc], ...)`; `true` is descending.
    OrderBy(Vec<(Expr, bool)>),
}

/// `$count as alias` (`value` and `method` are `None`) or `value with method as alias`.
#[derive(Debug, Clone, PartialEq)]
pub struct AggregateItem {
    pub value: Option<Expr>,
    /// The method, lower case.
    pub method: Option<Ident>,
    pub alias: Ident,
    pub offset: usize,
}

fn unsupported(offset: usize, what: &str) -> ParseError {
    ParseError::new(
        offset,
        format!(
            "unsupported transformation '{what}' at offset {offset}; $apply supports {}",
            SUPPORTED_TRANSFORMATIONS.join(", ")
        ),
    )
}

pub(crate) fn parse(src: &str, tokens: Vec<Token>) -> Result<Vec<Step>, ParseError> {
    let mut p = Parser::new(src, tokens);
    let mut steps = Vec::new();
    loop {
        steps.push(step(&mut p)?);
        let next = p.peek().clone();
        match next.kind {
            TokenKind::Slash => {
                p.advance();
            }
            TokenKind::Eof => return Ok(steps),
            _ => {
                return Err(ParseError::new(
                    next.start,
                    format!(
                        "expected '/' and the next transformation, or the end of $apply, found {}",
                        p.describe(&next)
                    ),
                ));
            }
        }
    }
}

fn expect(p: &mut Parser<'_>, kind: &TokenKind, what: &str) -> Result<Token, ParseError> {
    let next = p.peek().clone();
    if &next.kind == kind {
        p.advance();
        return Ok(next);
    }
    Err(ParseError::new(next.start, format!("expected {what}, found {}", p.describe(&next))))
}

fn keyword(p: &mut Parser<'_>, word: &str) -> Result<usize, ParseError> {
    let next = p.peek().clone();
    if next.is_keyword(word) && next.space_before {
        p.advance();
        return Ok(next.start);
    }
    Err(ParseError::new(
        next.start,
        format!("expected ' {word}' (with a space before it), found {}", p.describe(&next)),
    ))
}

fn alias(p: &mut Parser<'_>) -> Result<Ident, ParseError> {
    let next = p.peek().clone();
    match &next.kind {
        TokenKind::Ident(name) if next.space_before && !name.contains('.') => {
            p.advance();
            Ok(Ident { name: name.clone(), offset: next.start })
        }
        _ => {
            Err(ParseError::new(next.start, format!("expected an alias name after 'as', found {}", p.describe(&next))))
        }
    }
}

/// Refuses the constructs of the extension outside the subset that may follow an expression.
fn refuse_from(p: &Parser<'_>) -> Result<(), ParseError> {
    let next = p.peek();
    if next.is_keyword("from") {
        return Err(unsupported(next.start, "from"));
    }
    Ok(())
}

fn step(p: &mut Parser<'_>) -> Result<Step, ParseError> {
    let name_token = p.advance();
    let offset = name_token.start;
    let name = match &name_token.kind {
        TokenKind::Ident(name) => name.to_ascii_lowercase(),
        TokenKind::Eof => {
            return Err(ParseError::new(offset, "expected a transformation such as groupby(...), found end of input"));
        }
        _ => {
            return Err(ParseError::new(
                offset,
                format!("expected a transformation such as groupby(...), found {}", p.describe(&name_token)),
            ));
        }
    };
    if !SUPPORTED_TRANSFORMATIONS.contains(&name.as_str()) {
        if KNOWN_UNSUPPORTED.contains(&name.as_str()) || name.contains('.') || p.peek().kind == TokenKind::LParen {
            return Err(unsupported(offset, &name));
        }
        return Err(ParseError::new(
            offset,
            format!(
                "'{name}' at offset {offset} is not a transformation; $apply supports {}",
                SUPPORTED_TRANSFORMATIONS.join(", ")
            ),
        ));
    }
    expect(p, &TokenKind::LParen, &format!("'(' after '{name}'"))?;
    let kind = match name.as_str() {
        "filter" => StepKind::Filter(p.parse_expression()?),
        "compute" => {
            let mut items = Vec::new();
            loop {
                let e = p.parse_expression()?;
                keyword(p, "as")?;
                items.push((e, alias(p)?));
                if !comma(p) {
                    break;
                }
            }
            StepKind::Compute(items)
        }
        "groupby" => group_by(p)?,
        "aggregate" => StepKind::Aggregate(aggregate_items(p)?),
        "topcount" => {
            let count = p.parse_expression()?;
            expect(p, &TokenKind::Comma, "',' and the value topcount ranks by")?;
            let value = p.parse_expression()?;
            StepKind::TopCount { count, value }
        }
        _ => {
            let mut items = Vec::new();
            loop {
                let e = p.parse_expression()?;
                let next = p.peek();
                let desc = next.is_keyword("desc") && next.space_before;
                if desc || (next.is_keyword("asc") && next.space_before) {
                    p.advance();
                }
                items.push((e, desc));
                if !comma(p) {
                    break;
                }
            }
            StepKind::OrderBy(items)
        }
    };
    expect(p, &TokenKind::RParen, &format!("')' to close '{name}(' at offset {offset}"))?;
    Ok(Step { kind, offset })
}

fn comma(p: &mut Parser<'_>) -> bool {
    if p.peek().kind == TokenKind::Comma {
        p.advance();
        return true;
    }
    false
}

fn group_by(p: &mut Parser<'_>) -> Result<StepKind, ParseError> {
    expect(p, &TokenKind::LParen, "'(' opening the list of grouping properties, as in groupby((appId))")?;
    let mut keys = Vec::new();
    loop {
        let next = p.peek().clone();
        if let TokenKind::Ident(name) = &next.kind
            && (name.eq_ignore_ascii_case("rollup") || name.eq_ignore_ascii_case("rolluprecursive"))
        {
            return Err(unsupported(next.start, &name.to_ascii_lowercase()));
        }
        keys.push(p.parse_expression()?);
        if !comma(p) {
            break;
        }
    }
    expect(p, &TokenKind::RParen, "')' closing the list of grouping properties")?;
    let mut aggregate = Vec::new();
    if comma(p) {
        let next = p.advance();
        match &next.kind {
            TokenKind::Ident(name) if name.eq_ignore_ascii_case("aggregate") => {
                expect(p, &TokenKind::LParen, "'(' after 'aggregate'")?;
                aggregate = aggregate_items(p)?;
                expect(p, &TokenKind::RParen, "')' to close 'aggregate('")?;
            }
            TokenKind::Ident(name) => return Err(unsupported(next.start, &format!("groupby(..., {name})"))),
            _ => {
                return Err(ParseError::new(
                    next.start,
                    format!("expected aggregate(...) as groupby's second argument, found {}", p.describe(&next)),
                ));
            }
        }
    }
    Ok(StepKind::GroupBy { keys, aggregate })
}

fn aggregate_items(p: &mut Parser<'_>) -> Result<Vec<AggregateItem>, ParseError> {
    let mut items = Vec::new();
    loop {
        let next = p.peek().clone();
        let offset = next.start;
        if next.kind == TokenKind::RParen {
            return Err(ParseError::new(
                offset,
                "expected an aggregate such as $count as n or appId with countdistinct as apps",
            ));
        }
        if matches!(&next.kind, TokenKind::Dollar(d) if d == "$count") {
            p.advance();
            refuse_from(p)?;
            keyword(p, "as")?;
            items.push(AggregateItem { value: None, method: None, alias: alias(p)?, offset });
        } else {
            let value = p.parse_expression()?;
            refuse_from(p)?;
            let with = p.peek().clone();
            if !(with.is_keyword("with") && with.space_before) {
                return Err(ParseError::new(
                    with.start,
                    format!(
                        "expected ' with' and an aggregation method ({}) after the aggregated value, found {} \
                         (custom aggregates are not supported)",
                        METHODS.join(", "),
                        p.describe(&with)
                    ),
                ));
            }
            p.advance();
            let m = p.advance();
            let method = match &m.kind {
                TokenKind::Ident(name) if METHODS.iter().any(|x| x.eq_ignore_ascii_case(name)) => {
                    Ident { name: name.to_ascii_lowercase(), offset: m.start }
                }
                TokenKind::Ident(name) => {
                    return Err(ParseError::new(
                        m.start,
                        format!(
                            "unsupported aggregation method '{name}' at offset {}; supported: {}",
                            m.start,
                            METHODS.join(", ")
                        ),
                    ));
                }
                _ => {
                    return Err(ParseError::new(
                        m.start,
                        format!("expected an aggregation method ({}), found {}", METHODS.join(", "), p.describe(&m)),
                    ));
                }
            };
            refuse_from(p)?;
            keyword(p, "as")?;
            items.push(AggregateItem { value: Some(value), method: Some(method), alias: alias(p)?, offset });
        }
        refuse_from(p)?;
        if !comma(p) {
            return Ok(items);
        }
    }
}
