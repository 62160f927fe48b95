//! The one error type of the OData syntax layer: a byte offset into the decoded option value and a
//! message a person can act on. It never carries more than a short excerpt of the input, so a
//! 4 KB expression cannot turn into a 4 KB error body.

use thiserror::Error;

/// A `$filter` or `$orderby` value that is not valid OData syntax.
///
/// `offset` is the byte offset in the URL-decoded value where the problem is; the message says what
/// was found and what was expected, and names offsets of related positions (such as the `(` that a
/// missing `)` should close).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{message}")]
pub struct ParseError {
    pub offset: usize,
    pub message: String,
}

impl ParseError {
    pub(crate) fn new(offset: usize, message: impl Into<String>) -> Self {
        Self { offset, message: message.into() }
    }
}

/// Quotes a piece of the input for an error message, cut to a readable length.
pub(crate) fn excerpt(text: &str) -> String {
    const MAX_CHARS: usize = 40;
    let mut out: String = text.chars().take(MAX_CHARS).collect();
    if text.chars().nth(MAX_CHARS).is_some() {
        out.push('…');
    }
    out
}
