//! Reads the `TestCases` of the OASIS ABNF test-case file without a YAML dependency.
//!
//! The file uses a small, regular subset of YAML: a list of maps indented by two and four spaces,
//! with plain, single-quoted and double-quoted scalars that may be folded over several lines. This
//! reader handles exactly that subset; the conformance test cross-checks every input it reads
//! against the JSON extract of the same cases, so a misread shows up as a failing test.

/// One test case: its position in `TestCases`, the ABNF rule, the URL-text input and, for a
/// negative case, where a strict matcher fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct YamlCase {
    pub index: usize,
    pub rule: String,
    pub input: String,
    pub fail_at: Option<usize>,
}

#[derive(Default)]
struct RawCase {
    fields: Vec<(String, Vec<String>)>,
}

impl RawCase {
    fn scalar(&self, key: &str) -> Option<String> {
        self.fields.iter().find(|(k, _)| k == key).map(|(_, lines)| decode_scalar(lines))
    }
}

/// Reads every test case; panics (this is test code) if the file does not have the expected shape.
pub(super) fn read_test_cases(text: &str) -> Vec<YamlCase> {
    let mut cases: Vec<RawCase> = Vec::new();
    let mut in_cases = false;
    for line in text.lines() {
        if !in_cases {
            in_cases = line == "TestCases:";
            continue;
        }
        if let Some(rest) = line.strip_prefix("  - ") {
            cases.push(RawCase::default());
            start_field(&mut cases, rest);
        } else if line.starts_with("    ") && line.chars().nth(4).is_some_and(char::is_alphabetic) {
            start_field(&mut cases, line.trim_start());
        } else if let Some((_, lines)) = cases.last_mut().and_then(|c| c.fields.last_mut())
            && (line.starts_with("      ") || line.trim().is_empty())
        {
            lines.push(line.to_owned());
        }
    }
    cases
        .iter()
        .enumerate()
        .map(|(index, raw)| YamlCase {
            index,
            rule: raw.scalar("Rule").unwrap_or_else(|| panic!("case {index} has no Rule")),
            input: raw.scalar("Input").unwrap_or_else(|| panic!("case {index} has no Input")),
            fail_at: raw.scalar("FailAt").map(|f| f.parse().unwrap_or_else(|_| panic!("case {index}: FailAt {f}"))),
        })
        .collect()
}

fn start_field(cases: &mut [RawCase], text: &str) {
    let (key, value) = text.split_once(':').unwrap_or_else(|| panic!("expected 'Key: value', found {text:?}"));
    if let Some(case) = cases.last_mut() {
        case.fields.push((key.to_owned(), vec![value.trim_start().to_owned()]));
    }
}

/// Decodes a scalar from its first-line value and its continuation lines.
fn decode_scalar(lines: &[String]) -> String {
    let mut lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    while lines.last().is_some_and(|l| l.trim().is_empty()) {
        lines.pop();
    }
    if lines.first().is_some_and(|l| l.is_empty()) {
        lines.remove(0);
    }
    let raw = lines.iter().map(|l| l.trim_start()).collect::<Vec<_>>().join("\n");
    match raw.chars().next() {
        Some('"') => quoted(&raw, '"'),
        Some('\'') => quoted(&raw, '\''),
        _ => fold(&strip_comments(&raw)),
    }
}

/// Drops the comments of a plain scalar: from a ` #` to the end of its line.
fn strip_comments(raw: &str) -> String {
    raw.lines().map(|l| l.split_once(" #").map_or(l, |(kept, _)| kept)).collect::<Vec<_>>().join("\n")
}

/// A plain scalar: lines joined by single spaces, empty lines kept as line breaks.
fn fold(raw: &str) -> String {
    let mut out = String::new();
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\n' {
            fold_line_break(&mut out, &mut chars);
        } else {
            out.push(c);
        }
    }
    out.trim_end().to_owned()
}

/// At an unescaped line break: drop trailing blanks, skip the next line's indentation, and write
/// a space (or one line break per empty line).
fn fold_line_break(out: &mut String, chars: &mut std::iter::Peekable<impl Iterator<Item = char>>) {
    while out.ends_with([' ', '\t']) {
        out.pop();
    }
    let mut empty_lines = 0;
    loop {
        while chars.next_if(|c| *c == ' ' || *c == '\t').is_some() {}
        if chars.next_if_eq(&'\n').is_none() {
            break;
        }
        empty_lines += 1;
    }
    if empty_lines == 0 {
        out.push(' ');
    } else {
        out.extend(std::iter::repeat_n('\n', empty_lines));
    }
}

/// A single- or double-quoted scalar, with folding and (double-quoted only) backslash escapes.
fn quoted(raw: &str, quote: char) -> String {
    let mut out = String::new();
    let mut chars = raw.chars().skip(1).peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' if quote == '\'' && chars.peek() == Some(&'\'') => {
                chars.next();
                out.push('\'');
            }
            c if c == quote => return out,
            '\n' => fold_line_break(&mut out, &mut chars),
            '\\' if quote == '"' => match chars.next() {
                Some('\n') => while chars.next_if(|c| *c == ' ' || *c == '\t').is_some() {},
                Some('n') => out.push('\n'),
                Some('r') => out.push('\r'),
                Some('t') => out.push('\t'),
                Some('0') => out.push('\0'),
                Some(e @ ('"' | '\\' | '/' | ' ')) => out.push(e),
                other => panic!("unsupported escape \\{other:?} in {raw:?}"),
            },
            c => out.push(c),
        }
    }
    panic!("unterminated quoted scalar {raw:?}")
}
