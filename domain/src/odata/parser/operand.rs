//! Operands that are not names: parenthesised expressions, literals, `$`-names (refused), and
//! the right side of `in`, whose parenthesised list may hold literals only.

use super::{Parsed, Parser, boxed};
use crate::odata::ast::{Expr, ExprKind, InRhs, ListItem, Span};
use crate::odata::error::{ParseError, excerpt};
use crate::odata::lexer::TokenKind;

impl Parser<'_> {
    pub(super) fn parse_primary(&mut self) -> Parsed {
        let token = self.peek().clone();
        let span = Span { start: token.start, end: token.end };
        match token.kind {
            TokenKind::LParen => self.parse_paren(),
            TokenKind::Literal(lit) => {
                self.pos += 1;
                Ok(Expr { kind: ExprKind::Literal(lit), span })
            }
            TokenKind::Ident(name) => self.parse_name(name, span),
            TokenKind::Dollar(name) => Err(ParseError::new(
                token.start,
                format!("'{name}' at offset {} is not supported in $filter", token.start),
            )),
            _ => Err(ParseError::new(
                token.start,
                format!("expected a value, a property path or a function call, found {}", token.describe(self.src)),
            )),
        }
    }

    fn parse_paren(&mut self) -> Parsed {
        let open = self.advance();
        self.enter(open.start)?;
        if self.peek().kind == TokenKind::RParen {
            return Err(ParseError::new(
                self.peek().start,
                format!("empty parentheses at offset {}: expected an expression inside", open.start),
            ));
        }
        let mut inner = self.parse_or()?;
        if self.peek().kind == TokenKind::Comma {
            let comma = self.peek().start;
            return Err(ParseError::new(
                comma,
                format!(
                    "unexpected ',' at offset {comma}: a parenthesised list like ('a', 'b') is only allowed \
                     after 'in'"
                ),
            ));
        }
        let close = self.expect_close(open.start, "")?;
        self.leave();
        inner.span = Span { start: open.start, end: close };
        Ok(inner)
    }

    /// Consumes the `)` that closes the `(` at `open`; `what` names the construct, e.g. " of 'any('".
    pub(crate) fn expect_close(&mut self, open: usize, what: &str) -> Result<usize, ParseError> {
        let next = self.peek();
        if next.kind == TokenKind::RParen {
            let end = next.end;
            self.pos += 1;
            return Ok(end);
        }
        Err(ParseError::new(
            next.start,
            format!("expected ')' to close the '(' at offset {open}{what}, found {}", next.describe(self.src)),
        ))
    }

    /// After `in`: a parenthesised literal list, a single parenthesised expression, or an operand.
    pub(super) fn parse_in_rhs(&mut self) -> Result<(InRhs, usize), ParseError> {
        if self.peek().kind != TokenKind::LParen {
            let operand = self.parse_unary()?;
            let end = operand.span.end;
            return Ok((InRhs::Collection(boxed(operand)), end));
        }
        let open = self.advance();
        self.enter(open.start)?;
        let mut items = Vec::new();
        let mut single = None;
        if self.peek().kind != TokenKind::RParen {
            let first = self.parse_or()?;
            if self.peek().kind == TokenKind::Comma {
                items.push(list_item(first, self.src)?);
                while self.peek().kind == TokenKind::Comma {
                    self.pos += 1;
                    let item = self.parse_or()?;
                    items.push(list_item(item, self.src)?);
                }
            } else {
                single = Some(first);
            }
        }
        let end = self.expect_close(open.start, " of the 'in' list")?;
        self.leave();
        let rhs = match single {
            Some(Expr { kind: ExprKind::Literal(value), span }) => InRhs::List(vec![ListItem { value, span }]),
            Some(other) => InRhs::Collection(boxed(other)),
            None => InRhs::List(items),
        };
        Ok((rhs, end))
    }
}

fn list_item(expr: Expr, src: &str) -> Result<ListItem, ParseError> {
    if let ExprKind::Literal(value) = expr.kind {
        return Ok(ListItem { value, span: expr.span });
    }
    let text = excerpt(src.get(expr.span.start..expr.span.end).unwrap_or_default());
    Err(ParseError::new(
        expr.span.start,
        format!(
            "the values in an 'in' list must be literals such as 'a', 42 or null; '{text}' at offset {} is not",
            expr.span.start
        ),
    ))
}
