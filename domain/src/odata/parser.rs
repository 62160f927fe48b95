//! The `$filter` parser: recursive descent over the lexer's tokens, one function per precedence
//! level, building the [`Expr`] tree.
//!
//! Precedence, loosest first: `or`, `and`, `not`, `eq ne`, `gt ge lt le`, `add sub`,
//! `mul div divby mod`, `has in`, unary `-`. Binary operators associate to the left. The parser
//! checks syntax only (no schema); it must never recurse more than [`super::MAX_DEPTH`] levels,
//! whatever the input, so a hostile expression cannot exhaust the stack.

use super::MAX_DEPTH;
use super::ast::{ArithOp, CompareOp, Expr, ExprKind, Span};
use super::error::ParseError;
use super::lexer::{Token, TokenKind};

mod operand;
mod path;

/// Keywords that can only be binary operators, so never start an operand.
const BINARY_KEYWORDS: &[&str] =
    &["and", "or", "eq", "ne", "gt", "ge", "lt", "le", "has", "in", "add", "sub", "mul", "div", "divby", "mod"];

pub(crate) struct Parser<'a> {
    src: &'a str,
    tokens: Vec<Token>,
    pos: usize,
    eof: Token,
    depth: usize,
    /// Lambda variables in scope, innermost last.
    lambda_vars: Vec<String>,
}

type Parsed = Result<Expr, ParseError>;

fn boxed(e: Expr) -> Box<Expr> {
    Box::new(e)
}

fn span(lhs: &Expr, rhs: &Expr) -> Span {
    Span { start: lhs.span.start, end: rhs.span.end }
}

impl<'a> Parser<'a> {
    pub(crate) fn new(src: &'a str, tokens: Vec<Token>) -> Self {
        let eof = Token { kind: TokenKind::Eof, start: src.len(), end: src.len(), space_before: false };
        Self { src, tokens, pos: 0, eof, depth: 0, lambda_vars: Vec::new() }
    }

    pub(crate) fn peek(&self) -> &Token {
        self.tokens.get(self.pos).unwrap_or(&self.eof)
    }

    fn peek_at(&self, ahead: usize) -> &Token {
        self.tokens.get(self.pos + ahead).unwrap_or(&self.eof)
    }

    pub(crate) fn advance(&mut self) -> Token {
        let token = self.peek().clone();
        self.pos += 1;
        token
    }

    pub(crate) fn describe_next(&self) -> String {
        self.peek().describe(self.src)
    }

    pub(crate) fn describe(&self, token: &Token) -> String {
        token.describe(self.src)
    }

    /// A whole expression, which must use up the input.
    pub(crate) fn parse_filter(&mut self) -> Parsed {
        let expr = self.parse_or()?;
        if self.peek().kind != TokenKind::Eof {
            let next = self.peek();
            let message = if next.kind == TokenKind::RParen {
                format!("unexpected ')' at offset {}: there is no '(' for it to close", next.start)
            } else {
                format!(
                    "expected an operator (such as eq, and, or) or the end of the expression, found {}",
                    next.describe(self.src)
                )
            };
            return Err(ParseError::new(next.start, message));
        }
        Ok(expr)
    }

    /// One expression, stopping before the first token that cannot continue it (for `$apply`,
    /// whose expressions are followed by `with`, `as`, `,` or `)`).
    pub(crate) fn parse_expression(&mut self) -> Parsed {
        self.parse_or()
    }

    fn enter(&mut self, offset: usize) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ParseError::new(
                offset,
                format!(
                    "the expression nests more than {MAX_DEPTH} levels deep at offset {offset} (parentheses, \
                     function calls, any/all, not and unary minus each add a level); simplify it"
                ),
            ));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// Consumes the binary operator keyword at the cursor if it is one of `keywords`, checking the
    /// whitespace the grammar requires around it.
    fn binary_operator(&mut self, keywords: &[&'static str]) -> Result<Option<(&'static str, usize)>, ParseError> {
        let token = self.peek();
        let Some(keyword) = keywords.iter().copied().find(|k| token.is_keyword(k)) else {
            return Ok(None);
        };
        let offset = token.start;
        if !token.space_before {
            return Err(ParseError::new(offset, format!("expected a space before '{keyword}' at offset {offset}")));
        }
        let after = self.peek_at(1);
        let paren_ok = keyword == "in" && after.kind == TokenKind::LParen;
        if !after.space_before && !paren_ok && after.kind != TokenKind::Eof {
            return Err(ParseError::new(after.start, format!("expected a space after '{keyword}' at offset {offset}")));
        }
        self.pos += 1;
        Ok(Some((keyword, offset)))
    }

    fn parse_or(&mut self) -> Parsed {
        let mut lhs = self.parse_and()?;
        while self.binary_operator(&["or"])?.is_some() {
            let rhs = self.parse_and()?;
            lhs = Expr { span: span(&lhs, &rhs), kind: ExprKind::Or(boxed(lhs), boxed(rhs)) };
        }
        Ok(lhs)
    }

    fn parse_and(&mut self) -> Parsed {
        let mut lhs = self.parse_not()?;
        while self.binary_operator(&["and"])?.is_some() {
            let rhs = self.parse_not()?;
            lhs = Expr { span: span(&lhs, &rhs), kind: ExprKind::And(boxed(lhs), boxed(rhs)) };
        }
        Ok(lhs)
    }

    /// `not` binds looser than comparison: `not a eq b` is `not (a eq b)`.
    fn parse_not(&mut self) -> Parsed {
        if !self.peek().is_keyword("not") {
            return self.parse_equality();
        }
        let start = self.prefix_not()?;
        self.enter(start)?;
        let inner = self.parse_not()?;
        self.leave();
        Ok(Expr { span: Span { start, end: inner.span.end }, kind: ExprKind::Not(boxed(inner)) })
    }

    /// Consumes `not`, which must be followed by a space or `(`; returns its offset.
    fn prefix_not(&mut self) -> Result<usize, ParseError> {
        let not = self.advance();
        let next = self.peek();
        if next.kind == TokenKind::Eof || (!next.space_before && next.kind != TokenKind::LParen) {
            let found = next.describe(self.src);
            return Err(ParseError::new(
                next.start,
                format!("expected a space and an expression after 'not' at offset {}, found {found}", not.start),
            ));
        }
        Ok(not.start)
    }

    fn parse_equality(&mut self) -> Parsed {
        let mut lhs = self.parse_relational()?;
        while let Some((keyword, op_offset)) = self.binary_operator(&["eq", "ne"])? {
            let op = if keyword == "eq" { CompareOp::Eq } else { CompareOp::Ne };
            let rhs = self.parse_relational()?;
            lhs = compare(op, op_offset, lhs, rhs);
        }
        Ok(lhs)
    }

    fn parse_relational(&mut self) -> Parsed {
        let mut lhs = self.parse_additive()?;
        while let Some((keyword, op_offset)) = self.binary_operator(&["gt", "ge", "lt", "le"])? {
            let op = match keyword {
                "gt" => CompareOp::Gt,
                "ge" => CompareOp::Ge,
                "lt" => CompareOp::Lt,
                _ => CompareOp::Le,
            };
            let rhs = self.parse_additive()?;
            lhs = compare(op, op_offset, lhs, rhs);
        }
        Ok(lhs)
    }

    fn parse_additive(&mut self) -> Parsed {
        let mut lhs = self.parse_multiplicative()?;
        while let Some((keyword, op_offset)) = self.binary_operator(&["add", "sub"])? {
            let op = if keyword == "add" { ArithOp::Add } else { ArithOp::Sub };
            let rhs = self.parse_multiplicative()?;
            lhs = arith(op, op_offset, lhs, rhs);
        }
        Ok(lhs)
    }

    fn parse_multiplicative(&mut self) -> Parsed {
        let mut lhs = self.parse_has_in()?;
        while let Some((keyword, op_offset)) = self.binary_operator(&["mul", "divby", "div", "mod"])? {
            let op = match keyword {
                "mul" => ArithOp::Mul,
                "div" => ArithOp::Div,
                "divby" => ArithOp::DivBy,
                _ => ArithOp::Mod,
            };
            let rhs = self.parse_has_in()?;
            lhs = arith(op, op_offset, lhs, rhs);
        }
        Ok(lhs)
    }

    /// `has` and `in` are primary operators in OData 4.01, so they bind tighter than arithmetic.
    fn parse_has_in(&mut self) -> Parsed {
        let mut lhs = self.parse_unary()?;
        while let Some((keyword, op_offset)) = self.binary_operator(&["has", "in"])? {
            if keyword == "has" {
                let rhs = self.parse_unary()?;
                lhs = Expr {
                    span: span(&lhs, &rhs),
                    kind: ExprKind::Has { op_offset, lhs: boxed(lhs), rhs: boxed(rhs) },
                };
            } else {
                let (rhs, end) = self.parse_in_rhs()?;
                lhs = Expr {
                    span: Span { start: lhs.span.start, end },
                    kind: ExprKind::In { op_offset, lhs: boxed(lhs), rhs },
                };
            }
        }
        Ok(lhs)
    }

    fn parse_unary(&mut self) -> Parsed {
        let token = self.peek().clone();
        if token.kind == TokenKind::Minus {
            self.pos += 1;
            self.enter(token.start)?;
            let inner = self.parse_unary()?;
            self.leave();
            return Ok(Expr {
                span: Span { start: token.start, end: inner.span.end },
                kind: ExprKind::Negate(boxed(inner)),
            });
        }
        if token.is_keyword("not") {
            // `not` as an operand of a comparison, e.g. `x eq not y`: applies to one operand only.
            let start = self.prefix_not()?;
            self.enter(start)?;
            let inner = self.parse_unary()?;
            self.leave();
            return Ok(Expr { span: Span { start, end: inner.span.end }, kind: ExprKind::Not(boxed(inner)) });
        }
        self.parse_primary()
    }
}

fn compare(op: CompareOp, op_offset: usize, lhs: Expr, rhs: Expr) -> Expr {
    Expr { span: span(&lhs, &rhs), kind: ExprKind::Compare { op, op_offset, lhs: boxed(lhs), rhs: boxed(rhs) } }
}

fn arith(op: ArithOp, op_offset: usize, lhs: Expr, rhs: Expr) -> Expr {
    Expr { span: span(&lhs, &rhs), kind: ExprKind::Arith { op, op_offset, lhs: boxed(lhs), rhs: boxed(rhs) } }
}
