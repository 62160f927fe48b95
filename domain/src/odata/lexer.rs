//! Splits a URL-decoded `$filter` or `$orderby` value into tokens: names, literals, punctuation.
//!
//! Keywords (`eq`, `and`, `any`…) come out as plain names: which name is an operator depends on
//! where it stands, and that is the parser's business. Whitespace (space and tab, as the ABNF
//! allows) is not a token; each token records whether whitespace preceded it, because the grammar
//! requires it around operators and forbids it inside paths. Characters that are not OData get an
//! error that says what to write instead; nothing here panics, whatever the input.

use super::ast::{EnumLiteral, Literal};
use super::error::{ParseError, excerpt};
use super::literal::{
    is_ident_char, is_ident_start, looks_like_guid, malformed_guid, parse_duration, parse_enum_members, scan_guid,
    scan_numeric,
};

/// The longest identifier the ABNF allows (1 leading + 127 following characters).
const MAX_IDENT_CHARS: usize = 128;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TokenKind {
    /// A name, possibly namespace-qualified (`startswith`, `status`, `Model.Available`).
    Ident(String),
    Literal(Literal),
    /// A `$`-name such as `$it`, `$root` or `$count`.
    Dollar(String),
    LParen,
    RParen,
    Comma,
    Slash,
    Colon,
    /// Unary minus before something that is not a number (`-Price`).
    Minus,
    Eof,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub kind: TokenKind,
    pub start: usize,
    pub end: usize,
    /// Whether a space or tab came right before this token.
    pub space_before: bool,
}

impl Token {
    /// How an error message names this token: `'foo' at offset 7`, or `end of input`.
    pub(crate) fn describe(&self, src: &str) -> String {
        match self.kind {
            TokenKind::Eof => "end of input".to_owned(),
            _ => format!("'{}' at offset {}", excerpt(src.get(self.start..self.end).unwrap_or_default()), self.start),
        }
    }

    /// The name, if this token is an unqualified name equal (ignoring ASCII case) to `keyword`.
    pub(crate) fn is_keyword(&self, keyword: &str) -> bool {
        matches!(&self.kind, TokenKind::Ident(name) if name.eq_ignore_ascii_case(keyword))
    }
}

fn char_at(src: &str, i: usize) -> Option<char> {
    src.get(i..).and_then(|s| s.chars().next())
}

/// Tokenizes the whole input; the last token is always [`TokenKind::Eof`].
pub(crate) fn tokenize(src: &str) -> Result<Vec<Token>, ParseError> {
    let mut tokens = Vec::new();
    let mut pos = 0;
    let mut space_before = false;
    while let Some(c) = char_at(src, pos) {
        if c == ' ' || c == '\t' {
            space_before = true;
            pos += 1;
            continue;
        }
        let next = char_at(src, pos + c.len_utf8());
        let (kind, end) = match c {
            '(' => (TokenKind::LParen, pos + 1),
            ')' => (TokenKind::RParen, pos + 1),
            ',' => (TokenKind::Comma, pos + 1),
            '/' => (TokenKind::Slash, pos + 1),
            ':' => (TokenKind::Colon, pos + 1),
            '\'' => {
                let (text, end) = scan_string(src, pos)?;
                if let Some(c) = char_at(src, end).filter(|&c| is_ident_char(c)) {
                    // Almost always a quote that should have been doubled: 'O'Neil'.
                    return Err(ParseError::new(
                        end,
                        format!(
                            "unexpected '{c}' at offset {end}, right after the string that starts at offset {pos}; \
                             a quote inside a string is written twice, as in 'O''Neil'"
                        ),
                    ));
                }
                (TokenKind::Literal(Literal::String(text)), end)
            }
            '0'..='9' => match scan_guid(src, pos) {
                Some((guid, end)) => (TokenKind::Literal(guid), end),
                None => scan_numeric(src, pos).map(|(lit, end)| (TokenKind::Literal(lit), end))?,
            },
            '-' | '+' if next.is_some_and(|n| n.is_ascii_digit()) => {
                scan_numeric(src, pos).map(|(lit, end)| (TokenKind::Literal(lit), end))?
            }
            '-' if src.get(pos + 1..pos + 4) == Some("INF")
                && char_at(src, pos + 4).is_none_or(|c| !is_ident_char(c)) =>
            {
                (TokenKind::Literal(Literal::Double(f64::NEG_INFINITY)), pos + 4)
            }
            '-' => (TokenKind::Minus, pos + 1),
            '$' if next.is_some_and(is_ident_start) => {
                let end = scan_name_segment(src, pos + 1)?;
                (TokenKind::Dollar(src.get(pos..end).unwrap_or_default().to_owned()), end)
            }
            c if is_ident_start(c) => scan_word(src, pos)?,
            c => return Err(unexpected_char(c, pos)),
        };
        tokens.push(Token { kind, start: pos, end, space_before });
        space_before = false;
        pos = end;
    }
    tokens.push(Token { kind: TokenKind::Eof, start: src.len(), end: src.len(), space_before });
    Ok(tokens)
}

fn unexpected_char(c: char, pos: usize) -> ParseError {
    let hint = match c {
        '=' => {
            "'=' is not an OData operator; compare with eq, as in name eq 'x' \
                (named function parameters, f(p=v), are not supported either)"
        }
        '!' => "'!' is not an OData operator; use ne for 'not equal' or not to negate",
        '<' | '>' => "comparison is written with lt, le, gt and ge, not '<' or '>'",
        '&' => "'&' is not an OData operator; use and (an unencoded '&' in a URL also ends the $filter value)",
        '|' => "'|' is not an OData operator; use or",
        '*' => "'*' is not an OData operator; use mul",
        '+' => {
            "'+' is not an OData operator; use add. A '+' sign or time-zone offset must be sent as %2B \
                in a URL, where a bare '+' means a space"
        }
        '"' => {
            "strings are quoted with single quotes in OData, as in name eq 'text' (double a quote inside: 'O''Brien')"
        }
        '[' | ']' | '{' | '}' => {
            "JSON array and object literals are not supported; for a list of values write in ('a', 'b')"
        }
        '@' => "parameter aliases and annotations ('@name') are not supported",
        '$' => "'$' must start a name such as $count",
        _ if c.is_control() => {
            return ParseError::new(
                pos,
                format!(
                    "control character U+{:04X} at offset {pos} is not allowed; only spaces and tabs may separate tokens",
                    u32::from(c)
                ),
            );
        }
        _ => return ParseError::new(pos, format!("unknown token '{c}' at offset {pos}")),
    };
    ParseError::new(pos, format!("unexpected '{c}' at offset {pos}: {hint}"))
}

/// A single-quoted string at `start`; `''` stands for one quote.
fn scan_string(src: &str, start: usize) -> Result<(String, usize), ParseError> {
    let mut out = String::new();
    let mut i = start + 1;
    loop {
        match char_at(src, i) {
            None => {
                return Err(ParseError::new(
                    start,
                    format!(
                        "unterminated string literal starting at offset {start}: it needs a closing quote \
                         (a quote inside a string is written twice: 'O''Brien')"
                    ),
                ));
            }
            Some('\'') if char_at(src, i + 1) == Some('\'') => {
                out.push('\'');
                i += 2;
            }
            Some('\'') => return Ok((out, i + 1)),
            Some(c) if c.is_control() && c != '\t' => {
                return Err(ParseError::new(
                    i,
                    format!(
                        "control character U+{:04X} at offset {i} inside the string starting at offset {start} \
                         is not allowed",
                        u32::from(c)
                    ),
                ));
            }
            Some(c) => {
                out.push(c);
                i += c.len_utf8();
            }
        }
    }
}

/// One identifier at `start` (which must be an identifier start); returns its end.
fn scan_name_segment(src: &str, start: usize) -> Result<usize, ParseError> {
    let mut end = start;
    let mut count = 0;
    while let Some(c) = char_at(src, end).filter(|&c| is_ident_char(c)) {
        end += c.len_utf8();
        count += 1;
    }
    if count > MAX_IDENT_CHARS {
        let name = excerpt(src.get(start..end).unwrap_or_default());
        return Err(ParseError::new(
            start,
            format!("the name '{name}' at offset {start} is longer than {MAX_IDENT_CHARS} characters"),
        ));
    }
    Ok(end)
}

/// A name, a qualified name, a GUID that starts with a letter, `INF`/`NaN`, or a typed literal
/// such as `microsoft.graph.riskLevel'high'` or `duration'PT1H'`.
fn scan_word(src: &str, start: usize) -> Result<(TokenKind, usize), ParseError> {
    if let Some((guid, end)) = scan_guid(src, start) {
        return Ok((TokenKind::Literal(guid), end));
    }
    let mut end = scan_name_segment(src, start)?;
    while char_at(src, end) == Some('.') {
        if !char_at(src, end + 1).is_some_and(is_ident_start) {
            let name = excerpt(src.get(start..=end).unwrap_or_default());
            return Err(ParseError::new(end, format!("expected a name after '.' at offset {end} in '{name}'")));
        }
        end = scan_name_segment(src, end + 1)?;
    }
    let name = src.get(start..end).unwrap_or_default();
    if end == start + 8 && looks_like_guid(src, start) {
        return Err(malformed_guid(src, start));
    }
    if char_at(src, end) == Some('\'') {
        return typed_literal(src, start, name, end);
    }
    let kind = match name {
        "INF" => TokenKind::Literal(Literal::Double(f64::INFINITY)),
        "NaN" => TokenKind::Literal(Literal::Double(f64::NAN)),
        _ => TokenKind::Ident(name.to_owned()),
    };
    Ok((kind, end))
}

fn typed_literal(src: &str, start: usize, name: &str, quote: usize) -> Result<(TokenKind, usize), ParseError> {
    let (value, end) = scan_string(src, quote)?;
    let literal = if name.contains('.') {
        let members = parse_enum_members(&value, quote)?;
        Literal::Enum(EnumLiteral { type_name: name.to_owned(), members })
    } else {
        let name_lower = name.to_ascii_lowercase();
        let refusal = match name_lower.as_str() {
            "duration" => {
                return Ok((TokenKind::Literal(Literal::Duration(parse_duration(&value, quote)?)), end));
            }
            "binary" => "binary literals are not supported".to_owned(),
            "geography" | "geometry" => "geospatial literals are not supported".to_owned(),
            "datetime" | "datetimeoffset" | "guid" | "time" | "x" => format!(
                "the {name}'…' prefix is OData v3 syntax; write the value without prefix or quotes, \
                 such as 2024-01-31T08:00:00Z or 01234567-89ab-cdef-0123-456789abcdef"
            ),
            _ => format!(
                "'{}' is followed by a quoted value; an enum value is written with its qualified type \
                 name, such as microsoft.graph.riskLevel'high', or as a plain string, such as 'high'",
                excerpt(name)
            ),
        };
        return Err(ParseError::new(start, format!("unexpected typed literal at offset {start}: {refusal}")));
    };
    Ok((TokenKind::Literal(literal), end))
}
