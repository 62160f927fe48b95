//! Operands that start with a name: `true`/`false`/`null`, function calls, member paths and the
//! `any`/`all` lambdas that end a path. Lambda variables are resolved here: a path that starts
//! with a variable in scope records it as its root.

use super::{BINARY_KEYWORDS, Parsed, Parser, boxed};
use crate::odata::ast::{Expr, ExprKind, Ident, Lambda, LambdaKind, LambdaPredicate, Literal, MemberPath, Span};
use crate::odata::error::{ParseError, excerpt};
use crate::odata::lexer::TokenKind;

impl Parser<'_> {
    /// An operand that starts with a name: `true`/`false`/`null`, a function call or a member path
    /// (possibly ending in a lambda).
    pub(super) fn parse_name(&mut self, name: String, span: Span) -> Parsed {
        let lower = name.to_ascii_lowercase();
        let next = self.peek_at(1).clone();
        let call_follows = next.kind == TokenKind::LParen && !next.space_before;
        let literal = match lower.as_str() {
            "true" => Some(Literal::Boolean(true)),
            "false" => Some(Literal::Boolean(false)),
            "null" => Some(Literal::Null),
            _ => None,
        };
        if let Some(lit) = literal.filter(|_| !call_follows) {
            self.pos += 1;
            return Ok(Expr { kind: ExprKind::Literal(lit), span });
        }
        let refuse = |message: String| Err(ParseError::new(span.start, message));
        if BINARY_KEYWORDS.contains(&lower.as_str()) {
            return refuse(format!("expected an operand before the operator '{name}' at offset {}", span.start));
        }
        if call_follows && (lower == "any" || lower == "all") {
            return refuse(format!(
                "'{name}' at offset {} must follow a collection path, as in tags/{lower}(t: t eq 'x')",
                span.start
            ));
        }
        if call_follows && (lower == "cast" || lower == "isof") {
            return refuse(format!(
                "'{name}' at offset {} is not supported: type casts and type tests are not served",
                span.start
            ));
        }
        if call_follows {
            return self.parse_call(lower, span);
        }
        if next.kind == TokenKind::LParen {
            return Err(ParseError::new(
                next.start,
                format!("unexpected space between the function name '{name}' and '(' at offset {}", next.start),
            ));
        }
        if name.contains('.') {
            return refuse(format!(
                "the qualified name '{}' at offset {} must be followed by '(' (a function call) or by a quoted \
                 value (an enum literal such as microsoft.graph.riskLevel'high'); type casts are not supported",
                excerpt(&name),
                span.start
            ));
        }
        self.pos += 1;
        let first = Ident { name, offset: span.start };
        let root = if self.lambda_vars.contains(&first.name) {
            MemberPath { lambda_var: Some(first), segments: Vec::new() }
        } else {
            MemberPath { lambda_var: None, segments: vec![first] }
        };
        self.parse_path_rest(root, span)
    }

    fn parse_call(&mut self, name: String, span: Span) -> Parsed {
        self.pos += 1; // the name
        let open = self.advance();
        self.enter(open.start)?;
        let mut args = Vec::new();
        if self.peek().kind != TokenKind::RParen {
            loop {
                args.push(self.parse_or()?);
                if self.peek().kind != TokenKind::Comma {
                    break;
                }
                self.pos += 1;
            }
        }
        let what = format!(" of '{name}('");
        let end = self.expect_close(open.start, &what)?;
        self.leave();
        let next = self.peek();
        if next.kind == TokenKind::Slash && !next.space_before {
            return Err(ParseError::new(
                next.start,
                format!(
                    "unexpected '/' at offset {}: a path can't continue after the function call '{name}(…)'",
                    next.start
                ),
            ));
        }
        Ok(Expr { kind: ExprKind::Call { name, args }, span: Span { start: span.start, end } })
    }

    /// The `/segment` parts of a member path after its first name; ends in a lambda if `any(` or
    /// `all(` follows a slash.
    fn parse_path_rest(&mut self, mut path: MemberPath, span: Span) -> Parsed {
        let mut end = span.end;
        while self.peek().kind == TokenKind::Slash && !self.peek().space_before {
            let slash = self.advance();
            let segment = self.peek().clone();
            if segment.space_before {
                return Err(ParseError::new(
                    slash.start,
                    format!("unexpected space after '/' at offset {}", slash.start),
                ));
            }
            let call_follows = matches!(self.peek_at(1), t if t.kind == TokenKind::LParen && !t.space_before);
            match segment.kind {
                TokenKind::Ident(name)
                    if call_follows && ["any", "all"].iter().any(|k| name.eq_ignore_ascii_case(k)) =>
                {
                    let kind = if name.eq_ignore_ascii_case("any") { LambdaKind::Any } else { LambdaKind::All };
                    return self.parse_lambda(path, kind, span.start);
                }
                TokenKind::Ident(name) if call_follows => {
                    return Err(ParseError::new(
                        segment.start,
                        format!(
                            "'{}(' at offset {}: functions bound to a path are not supported; canonical functions \
                             take the path as an argument, as in startswith(path, 'x')",
                            excerpt(&name),
                            segment.start
                        ),
                    ));
                }
                TokenKind::Ident(name) if name.contains('.') => {
                    return Err(ParseError::new(
                        segment.start,
                        format!(
                            "type-cast segments such as '{}' at offset {} are not supported",
                            excerpt(&name),
                            segment.start
                        ),
                    ));
                }
                TokenKind::Ident(name) => {
                    self.pos += 1;
                    end = segment.end;
                    path.segments.push(Ident { name, offset: segment.start });
                }
                TokenKind::Dollar(name) => {
                    return Err(ParseError::new(
                        segment.start,
                        format!("'{name}' at offset {} is not supported in $filter paths", segment.start),
                    ));
                }
                _ => {
                    return Err(ParseError::new(
                        segment.start,
                        format!(
                            "expected a property name after '/' at offset {}, found {}",
                            slash.start,
                            segment.describe(self.src)
                        ),
                    ));
                }
            }
        }
        Ok(Expr { kind: ExprKind::Member(path), span: Span { start: span.start, end } })
    }

    fn parse_lambda(&mut self, collection: MemberPath, kind: LambdaKind, start: usize) -> Parsed {
        let keyword = self.advance();
        let open = self.advance();
        self.enter(open.start)?;
        let what = format!(" of '{}('", kind.keyword());
        if self.peek().kind == TokenKind::RParen {
            if kind == LambdaKind::All {
                return Err(ParseError::new(
                    self.peek().start,
                    format!(
                        "'all(' at offset {} needs a condition, as in {collection}/all(x: x eq 'v')",
                        keyword.start
                    ),
                ));
            }
            let end = self.expect_close(open.start, &what)?;
            self.leave();
            return Ok(Expr {
                kind: ExprKind::Lambda(Lambda { collection, kind, predicate: None }),
                span: Span { start, end },
            });
        }
        let var_token = self.advance();
        let var = match var_token.kind {
            TokenKind::Ident(name) if !name.contains('.') && self.peek().kind == TokenKind::Colon => {
                Ident { name, offset: var_token.start }
            }
            _ => {
                return Err(ParseError::new(
                    var_token.start,
                    format!(
                        "expected a lambda variable and ':' after '{}(' at offset {}, as in {collection}/{}(x: x eq 'v'); \
                         found {}",
                        kind.keyword(),
                        open.start,
                        kind.keyword(),
                        var_token.describe(self.src)
                    ),
                ));
            }
        };
        if self.lambda_vars.contains(&var.name) {
            return Err(ParseError::new(
                var.offset,
                format!(
                    "the lambda variable '{}' at offset {} is already used by an enclosing any/all; pick another name",
                    var.name, var.offset
                ),
            ));
        }
        self.pos += 1; // the colon
        self.lambda_vars.push(var.name.clone());
        let body = self.parse_or();
        self.lambda_vars.pop();
        let body = body?;
        let end = self.expect_close(open.start, &what)?;
        self.leave();
        let predicate = Some(LambdaPredicate { var, body: boxed(body) });
        let next = self.peek();
        if next.kind == TokenKind::Slash && !next.space_before {
            return Err(ParseError::new(
                next.start,
                format!("unexpected '/' at offset {}: a path can't continue after any/all", next.start),
            ));
        }
        Ok(Expr { kind: ExprKind::Lambda(Lambda { collection, kind, predicate }), span: Span { start, end } })
    }
}
