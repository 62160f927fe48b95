//! OData system query options as they arrive in the query string: decoded, normalised (`top` and
//! `$top` alike, any case), checked for repeats, and refused by name when a resource does not
//! support them. Custom options (no `$`, not a system option name) are kept and ignored.

use crate::error::ApiError;

/// Every OData system query option name, without `$`, lower case.
const SYSTEM_OPTIONS: &[&str] = &[
    "filter",
    "select",
    "orderby",
    "top",
    "skip",
    "skiptoken",
    "count",
    "expand",
    "search",
    "format",
    "apply",
    "compute",
    "levels",
    "index",
    "schemaversion",
    "deltatoken",
    "id",
];

/// The parsed query string of a collection request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryOptions {
    /// Every option as sent (decoded), in order; system option names normalised to `$name`.
    pub pairs: Vec<(String, String)>,
    pub top: Option<usize>,
    pub skiptoken: Option<String>,
}

impl QueryOptions {
    /// The options that define the result set (everything but `$top` and `$skiptoken`), in a
    /// stable form for binding skiptokens.
    #[must_use]
    pub fn canonical(&self) -> String {
        let mut v: Vec<String> = self
            .pairs
            .iter()
            .filter(|(k, _)| k != "$top" && k != "$skiptoken" && k.starts_with('$'))
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        v.sort();
        v.join("&")
    }
}

/// Parses a query string for a collection that supports the system options in `supported`
/// (lower case, without `$`) and pages of at most `max_top` rows.
///
/// # Errors
/// [`ApiError::BadRequest`] naming the option: unsupported, repeated, `$skip`, bad `$top`.
pub fn parse(query: &str, supported: &[&str], max_top: usize) -> Result<QueryOptions, ApiError> {
    let raw: Vec<(String, String)> = serde_urlencoded::from_str(query)
        .map_err(|e| ApiError::BadRequest(format!("The query string cannot be decoded: {e}.")))?;
    let mut out = QueryOptions::default();
    for (key, value) in raw {
        let bare = key.strip_prefix('$').unwrap_or(&key).to_ascii_lowercase();
        if !SYSTEM_OPTIONS.contains(&bare.as_str()) {
            if key.starts_with('$') {
                return Err(ApiError::BadRequest(format!(
                    "'{key}' is not an OData system query option. Supported here: {}.",
                    list(supported)
                )));
            }
            out.pairs.push((key, value));
            continue;
        }
        let name = format!("${bare}");
        if out.pairs.iter().any(|(k, _)| *k == name) {
            return Err(ApiError::BadRequest(format!("The query option '{name}' is given more than once.")));
        }
        if bare == "skip" {
            return Err(ApiError::BadRequest(
                "The query option '$skip' is not supported: page with @odata.nextLink, whose $skiptoken \
                 resumes exactly where the previous page ended."
                    .into(),
            ));
        }
        if !supported.contains(&bare.as_str()) {
            return Err(ApiError::BadRequest(format!(
                "The query option '{name}' is not supported on this resource. Supported here: {}.",
                list(supported)
            )));
        }
        match bare.as_str() {
            "top" => out.top = Some(parse_top(&value, max_top)?),
            "skiptoken" => out.skiptoken = Some(value.clone()),
            _ => {}
        }
        out.pairs.push((name, value));
    }
    Ok(out)
}

fn list(supported: &[&str]) -> String {
    supported.iter().map(|s| format!("${s}")).collect::<Vec<_>>().join(", ")
}

fn parse_top(value: &str, max_top: usize) -> Result<usize, ApiError> {
    match value.trim().parse::<usize>() {
        Ok(n) if (1..=max_top).contains(&n) => Ok(n),
        _ => Err(ApiError::BadRequest(format!(
            "The value of $top must be a whole number from 1 to {max_top}; got '{}'.",
            value.chars().take(32).collect::<String>()
        ))),
    }
}

/// Percent-encodes a query option value the way Graph's nextLinks read: readable OData
/// punctuation kept, everything else (space, `&`, `#`, `+`, non-ASCII...) escaped.
#[must_use]
pub fn encode_value(value: &str) -> String {
    use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
    const SET: &AsciiSet = &CONTROLS
        .add(b' ')
        .add(b'"')
        .add(b'#')
        .add(b'%')
        .add(b'&')
        .add(b'+')
        .add(b'<')
        .add(b'>')
        .add(b'=')
        .add(b'?')
        .add(b'[')
        .add(b']')
        .add(b'\\')
        .add(b'^')
        .add(b'`')
        .add(b'{')
        .add(b'|')
        .add(b'}');
    utf8_percent_encode(value, SET).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: &[&str] = &["top", "skiptoken"];

    #[test]
    fn dollar_less_and_any_case_forms_are_the_same_option() {
        let q = parse("top=10", S, 1000).unwrap();
        assert_eq!(q.top, Some(10));
        let q = parse("$TOP=10&foo=bar", S, 1000).unwrap();
        assert_eq!(q.top, Some(10));
        assert_eq!(q.pairs, vec![("$top".into(), "10".into()), ("foo".into(), "bar".into())]);
    }

    #[test]
    fn bad_options_are_named() {
        assert!(parse("$top=0", S, 1000).unwrap_err().to_string().contains("$top"));
        assert!(parse("$top=1001", S, 1000).unwrap_err().to_string().contains("1 to 1000"));
        assert!(parse("$top=1&top=2", S, 1000).unwrap_err().to_string().contains("more than once"));
        assert!(parse("$skip=5", S, 1000).unwrap_err().to_string().contains("$skiptoken"));
        assert!(parse("$filter=x", S, 1000).unwrap_err().to_string().contains("'$filter'"));
        assert!(parse("$bogus=1", S, 1000).unwrap_err().to_string().contains("'$bogus'"));
    }

    #[test]
    fn values_are_encoded_readably() {
        assert_eq!(encode_value("startswith(appDisplayName,'Graph')"), "startswith(appDisplayName,'Graph')");
        assert_eq!(encode_value("a eq 'x&y'"), "a%20eq%20'x%26y'");
    }
}
