//! The `$orderby` parser: a comma-separated list of property paths, each optionally followed by
//! `asc` or `desc`.
//!
//! The grammar allows any expression as a sort key; this service sorts by property paths only,
//! so anything else is refused here with a message that says so, before any validation.

use super::error::ParseError;
use super::lexer::{Token, TokenKind};
use super::parser::Parser;

/// One sort key of `$orderby`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderItem {
    /// Property path segments as written, e.g. `["status", "errorCode"]`.
    pub path: Vec<String>,
    pub descending: bool,
    /// Byte offset of the first segment.
    pub offset: usize,
}

const SHAPE: &str = "$orderby takes property paths such as createdDateTime or status/errorCode, each optionally \
                     followed by asc or desc, separated by commas";

pub(crate) fn parse(src: &str, tokens: Vec<Token>) -> Result<Vec<OrderItem>, ParseError> {
    let mut parser = Parser::new(src, tokens);
    let mut items = Vec::new();
    loop {
        items.push(parse_item(&mut parser)?);
        let next = parser.peek();
        match next.kind {
            TokenKind::Comma => {
                parser.advance();
            }
            TokenKind::Eof => return Ok(items),
            _ => {
                let found = parser.describe_next();
                return Err(ParseError::new(
                    next.start,
                    format!("expected ',' or the end of $orderby, found {found}; {SHAPE}"),
                ));
            }
        }
    }
}

fn parse_item(parser: &mut Parser<'_>) -> Result<OrderItem, ParseError> {
    let first = parser.advance();
    let offset = first.start;
    let mut path = vec![segment_name(parser, &first)?];
    while parser.peek().kind == TokenKind::Slash && !parser.peek().space_before {
        let slash = parser.advance();
        let segment = parser.advance();
        if segment.space_before {
            return Err(ParseError::new(slash.start, format!("unexpected space after '/' at offset {}", slash.start)));
        }
        path.push(segment_name(parser, &segment)?);
    }
    let next = parser.peek();
    let descending = next.is_keyword("desc");
    if descending || next.is_keyword("asc") {
        parser.advance();
    }
    Ok(OrderItem { path, descending, offset })
}

fn segment_name(parser: &Parser<'_>, token: &Token) -> Result<String, ParseError> {
    let problem = match &token.kind {
        TokenKind::Ident(name) if parser.peek().kind == TokenKind::LParen => {
            format!("'{name}(' at offset {}: sorting by a function call is not supported", token.start)
        }
        TokenKind::Ident(name) if !name.contains('.') => return Ok(name.clone()),
        TokenKind::Ident(name) => {
            format!("type-cast segments such as '{name}' at offset {} are not supported", token.start)
        }
        TokenKind::Dollar(name) => format!("'{name}' at offset {} is not supported in $orderby", token.start),
        TokenKind::Eof => "expected a property path, found end of input".to_owned(),
        _ => format!("expected a property path, found {}", parser.describe(token)),
    };
    Err(ParseError::new(token.start, format!("{problem}; {SHAPE}")))
}
