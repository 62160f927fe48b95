//! OData query-option syntax: the `$filter` lexer, parser and syntax tree, and the `$orderby`
//! parser.
//!
//! Input is the URL-decoded option value (what follows `$filter=`). This layer only checks syntax
//! and builds a typed tree; which properties, functions and operators an entity set supports is
//! checked later against its field registry. It must never panic or recurse without bound, whatever
//! the input: values longer than [`MAX_INPUT_LEN`] bytes or nested deeper than [`MAX_DEPTH`] levels
//! are refused with a [`ParseError`] that says so.
//!
//! Deliberately stricter or narrower than the full OData 4.01 grammar (each refused with a message
//! that says what to write instead): no whitespace before or after the whole value (the ABNF allows
//! none after `$filter=`); no `$it`/`$root`/`$this`/`$count`, parameter aliases, annotations,
//! JSON array/object literals, type casts (`cast`, `isof`, `Ns.Type` path segments), functions
//! bound to a path, named function parameters, binary or geospatial literals; `$orderby` sorts by
//! property paths only.

pub mod apply;
pub mod ast;
mod display;
mod error;
mod lexer;
mod literal;
mod orderby;
mod parser;

#[cfg(test)]
mod out_of_scope;
#[cfg(test)]
mod tests;

pub use ast::{
    ArithOp, CompareOp, EnumLiteral, Expr, ExprKind, FunctionSig, Ident, InRhs, KNOWN_FUNCTIONS, Lambda, LambdaKind,
    LambdaPredicate, ListItem, Literal, MemberPath, Span, known_function,
};
pub use error::ParseError;
pub use orderby::OrderItem;

/// The longest option value accepted, in bytes (after URL decoding).
pub const MAX_INPUT_LEN: usize = 4096;

/// How deeply parentheses, function calls, lambdas and prefix operators may nest.
pub const MAX_DEPTH: usize = 32;

/// Parses a URL-decoded `$filter` value into an expression tree (syntax only).
///
/// # Errors
/// [`ParseError`] with the byte offset of the problem and a message saying what was expected.
pub fn parse_filter(input: &str) -> Result<Expr, ParseError> {
    let tokens = tokenize_option(input, "$filter")?;
    parser::Parser::new(input, tokens).parse_filter()
}

/// Parses a URL-decoded `$orderby` value into its sort keys, in order.
///
/// # Errors
/// [`ParseError`] with the byte offset of the problem and a message saying what was expected.
pub fn parse_orderby(input: &str) -> Result<Vec<OrderItem>, ParseError> {
    let tokens = tokenize_option(input, "$orderby")?;
    orderby::parse(input, tokens)
}

/// Parses a URL-decoded `$apply` value into its transformations, in order (syntax only; see
/// [`apply`] for the subset).
///
/// # Errors
/// [`ParseError`] with the byte offset of the problem; a transformation outside the subset is
/// named as unsupported.
pub fn parse_apply(input: &str) -> Result<Vec<apply::Step>, ParseError> {
    let tokens = tokenize_option(input, "$apply")?;
    apply::parse(input, tokens)
}

/// Checks the limits and the outer whitespace, then tokenizes.
fn tokenize_option(input: &str, option: &str) -> Result<Vec<lexer::Token>, ParseError> {
    if input.len() > MAX_INPUT_LEN {
        return Err(ParseError::new(
            MAX_INPUT_LEN,
            format!("the {option} value is {} bytes long; the limit is {MAX_INPUT_LEN} bytes", input.len()),
        ));
    }
    let tokens = lexer::tokenize(input)?;
    let first = tokens.first().map(|t| (&t.kind, t.space_before));
    match first {
        None | Some((lexer::TokenKind::Eof, _)) => {
            Err(ParseError::new(0, format!("the {option} value is empty; expected an expression")))
        }
        Some((_, true)) => Err(ParseError::new(
            0,
            format!("the {option} value starts with whitespace; remove it (none is allowed after '{option}=')"),
        )),
        Some(_) if tokens.last().is_some_and(|t| t.space_before) => {
            let at = input.trim_end_matches([' ', '\t']).len();
            Err(ParseError::new(at, format!("the {option} value ends with whitespace at offset {at}; remove it")))
        }
        Some(_) => Ok(tokens),
    }
}
