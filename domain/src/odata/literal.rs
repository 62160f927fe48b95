//! Scanners for the OData primitive literals that do not start with a quote: numbers, GUIDs,
//! dates, DateTimeOffsets and times of day, plus the bodies of `duration'…'` and enum literals.
//!
//! Each scanner checks the value as well as the shape (hour 24, February 30 and a 37-digit GUID
//! are errors here, not later) and never indexes past the end of the input.

use chrono::{FixedOffset, NaiveDate, NaiveTime, TimeDelta, TimeZone};

use super::ast::Literal;
use super::error::{ParseError, excerpt};
use crate::ids::{Guid, is_guid};

/// Whether `c` may start an OData identifier.
pub(crate) fn is_ident_start(c: char) -> bool {
    c == '_' || c.is_alphabetic()
}

/// Whether `c` may continue an OData identifier.
pub(crate) fn is_ident_char(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

fn char_at(src: &str, i: usize) -> Option<char> {
    src.get(i..).and_then(|s| s.chars().next())
}

fn skip_digits(b: &[u8], mut i: usize) -> usize {
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    i
}

/// Exactly two ASCII digits at `i`, as a number.
fn two_digits(b: &[u8], i: usize) -> Option<u32> {
    match (b.get(i), b.get(i + 1)) {
        (Some(h), Some(l)) if h.is_ascii_digit() && l.is_ascii_digit() => {
            Some(u32::from(h - b'0') * 10 + u32::from(l - b'0'))
        }
        _ => None,
    }
}

/// The literal-looking word at `start`, for error messages.
fn word(src: &str, start: usize) -> String {
    let rest = src.get(start..).unwrap_or_default();
    let end = rest.find(|c: char| c.is_whitespace() || matches!(c, '(' | ')' | ',' | '\'')).unwrap_or(rest.len());
    excerpt(rest.get(..end).unwrap_or(rest))
}

fn malformed(src: &str, start: usize, what: &str, expected: &str) -> ParseError {
    ParseError::new(start, format!("malformed {what} '{}' at offset {start}: {expected}", word(src, start)))
}

/// A GUID at `start` (an unquoted `Edm.Guid` literal), if there is a complete one.
pub(crate) fn scan_guid(src: &str, start: usize) -> Option<(Literal, usize)> {
    let end = start + 36;
    let text = src.get(start..end)?;
    let boundary = char_at(src, end).is_none_or(|c| !is_ident_char(c) && c != '-');
    if boundary && is_guid(text) { Guid::parse(text).ok().map(|g| (Literal::Guid(g), end)) } else { None }
}

/// Eight hex digits and a hyphen: the start of something meant as a GUID.
pub(crate) fn looks_like_guid(src: &str, start: usize) -> bool {
    let b = src.as_bytes();
    (start..start + 8).all(|i| b.get(i).is_some_and(u8::is_ascii_hexdigit)) && b.get(start + 8) == Some(&b'-')
}

pub(crate) fn malformed_guid(src: &str, start: usize) -> ParseError {
    malformed(
        src,
        start,
        "GUID",
        "expected 8-4-4-4-12 hexadecimal digits, such as 01234567-89ab-cdef-0123-456789abcdef",
    )
}

/// A literal starting with a digit or with a sign and a digit: a number, a date, a DateTimeOffset
/// or a time of day.
pub(crate) fn scan_numeric(src: &str, start: usize) -> Result<(Literal, usize), ParseError> {
    let b = src.as_bytes();
    let signed = matches!(b.get(start), Some(b'-' | b'+'));
    let digits_start = start + usize::from(signed);
    let digits_end = skip_digits(b, digits_start);
    let run = digits_end - digits_start;
    match b.get(digits_end) {
        Some(b'-') if run == 8 && !signed => Err(malformed_guid(src, start)),
        Some(b'-') if run >= 4 => scan_date_or_datetime(src, start),
        Some(b':') if run == 2 && !signed => {
            let (time, end) = scan_clock(src, start, start)?;
            check_boundary(src, end, "time of day")?;
            Ok((Literal::TimeOfDay(time), end))
        }
        _ => scan_number(src, start),
    }
}

/// After a literal, an identifier character, `.` or `:` means the literal was malformed.
fn check_boundary(src: &str, end: usize, what: &str) -> Result<(), ParseError> {
    match char_at(src, end) {
        Some(c) if is_ident_char(c) || matches!(c, '.' | ':') => Err(ParseError::new(
            end,
            format!(
                "unexpected '{c}' at offset {end} right after a {what}; put a space between a value and what follows"
            ),
        )),
        _ => Ok(()),
    }
}

fn scan_number(src: &str, start: usize) -> Result<(Literal, usize), ParseError> {
    let b = src.as_bytes();
    let mut i = start + usize::from(matches!(b.get(start), Some(b'-' | b'+')));
    i = skip_digits(b, i);
    let mut has_fraction = false;
    let mut has_exponent = false;
    if b.get(i) == Some(&b'.') {
        let end = skip_digits(b, i + 1);
        if end == i + 1 {
            return Err(malformed(src, start, "number", "expected a digit after the decimal point"));
        }
        has_fraction = true;
        i = end;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        let k = i + 1 + usize::from(matches!(b.get(i + 1), Some(b'-' | b'+')));
        let end = skip_digits(b, k);
        if end == k {
            return Err(malformed(src, start, "number", "expected digits after the exponent 'e'"));
        }
        has_exponent = true;
        i = end;
    }
    if let Some(c) = char_at(src, i).filter(|&c| is_ident_char(c) || c == '.') {
        if looks_like_guid(src, start) {
            return Err(malformed_guid(src, start));
        }
        let expected = format!("unexpected '{c}' at offset {i}");
        return Err(malformed(src, start, "number", &expected));
    }
    let text = src.get(start..i).unwrap_or_default();
    let text = text.strip_prefix('+').unwrap_or(text);
    let literal = if has_exponent {
        text.parse::<f64>().map(Literal::Double).map_err(|_| malformed(src, start, "number", "not a valid double"))?
    } else if has_fraction {
        Literal::Decimal(text.to_owned())
    } else {
        // An integer too large for Int64 is an Edm.Decimal literal.
        text.parse::<i64>().map_or_else(|_| Literal::Decimal(text.to_owned()), Literal::Int)
    };
    Ok((literal, i))
}

fn scan_date_or_datetime(src: &str, start: usize) -> Result<(Literal, usize), ParseError> {
    let (date, end) = scan_date(src, start)?;
    if !matches!(src.as_bytes().get(end), Some(b'T' | b't')) {
        check_boundary(src, end, "date")?;
        return Ok((Literal::Date(date), end));
    }
    let (time, end) = scan_clock(src, start, end + 1)?;
    let (offset, end) = scan_offset(src, start, end)?;
    check_boundary(src, end, "DateTimeOffset")?;
    let instant = offset
        .from_local_datetime(&date.and_time(time))
        .single()
        .ok_or_else(|| malformed(src, start, "DateTimeOffset", "the instant is out of range"))?;
    Ok((Literal::DateTimeOffset(instant), end))
}

const DATE_SHAPE: &str = "expected YYYY-MM-DD";

fn scan_date(src: &str, start: usize) -> Result<(NaiveDate, usize), ParseError> {
    let b = src.as_bytes();
    if b.get(start) == Some(&b'+') {
        return Err(malformed(src, start, "date", "a year can't start with '+'"));
    }
    let negative = b.get(start) == Some(&b'-');
    let year_start = start + usize::from(negative);
    let year_end = skip_digits(b, year_start);
    let year_len = year_end - year_start;
    if year_len > 4 && b.get(year_start) == Some(&b'0') {
        return Err(malformed(src, start, "date", "a year of more than four digits can't start with 0"));
    }
    let month = two_digits(b, year_end + 1);
    let day = two_digits(b, year_end + 4);
    let (Some(month), Some(day), Some(b'-')) = (month, day, b.get(year_end + 3)) else {
        return Err(malformed(src, start, "date", DATE_SHAPE));
    };
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return Err(malformed(src, start, "date", "the month must be 01 to 12 and the day 01 to 31"));
    }
    let year = src.get(year_start..year_end).and_then(|y| y.parse::<i32>().ok()).map(|y| if negative { -y } else { y });
    let date = year.and_then(|y| NaiveDate::from_ymd_opt(y, month, day)).ok_or_else(|| {
        malformed(src, start, "date", "that day does not exist in that month, or the year is out of range")
    })?;
    Ok((date, year_end + 6))
}

/// `hh:mm[:ss[.fffffffff]]` at `i`; `start` is where the whole literal began, for messages.
fn scan_clock(src: &str, start: usize, i: usize) -> Result<(NaiveTime, usize), ParseError> {
    const SHAPE: &str = "expected a time as hh:mm, hh:mm:ss or hh:mm:ss.fff";
    let b = src.as_bytes();
    let what = if start == i { "time of day" } else { "DateTimeOffset" };
    let (Some(hour), Some(b':'), Some(minute)) = (two_digits(b, i), b.get(i + 2), two_digits(b, i + 3)) else {
        return Err(malformed(src, start, what, SHAPE));
    };
    let mut end = i + 5;
    let (mut second, mut nanos) = (0, 0);
    if b.get(end) == Some(&b':') {
        second = two_digits(b, end + 1).ok_or_else(|| malformed(src, start, what, SHAPE))?;
        end += 3;
        if b.get(end) == Some(&b'.') {
            let frac_end = skip_digits(b, end + 1);
            let digits = src.get(end + 1..frac_end).unwrap_or_default();
            if digits.is_empty() || digits.len() > 12 {
                return Err(malformed(src, start, what, "expected 1 to 12 digits of fractional seconds"));
            }
            // Keep nanoseconds; further digits are below what any store keeps.
            nanos = format!("{:0<9}", digits.get(..9).unwrap_or(digits)).parse().unwrap_or(0);
            end = frac_end;
        }
    }
    if hour > 23 || minute > 59 || second > 60 {
        let expected =
            "hours run from 00 to 23, minutes from 00 to 59 and seconds from 00 to 59 (60 for a leap second)";
        return Err(malformed(src, start, what, expected));
    }
    let time = if second == 60 {
        NaiveTime::from_hms_nano_opt(hour, minute, 59, 1_000_000_000 + nanos)
    } else {
        NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)
    };
    time.map(|t| (t, end)).ok_or_else(|| malformed(src, start, what, SHAPE))
}

fn scan_offset(src: &str, start: usize, i: usize) -> Result<(FixedOffset, usize), ParseError> {
    let b = src.as_bytes();
    let bad = || malformed(src, start, "DateTimeOffset", "expected a time-zone offset as +hh:mm or -hh:mm");
    let sign = match b.get(i) {
        Some(b'Z' | b'z') => return FixedOffset::east_opt(0).map(|o| (o, i + 1)).ok_or_else(bad),
        Some(b'+') => 1,
        Some(b'-') => -1,
        _ => {
            let expected = "it needs a time zone: end it with Z or an offset such as +01:00 \
                            (in a URL, send '+' as %2B; a bare '+' means a space)";
            return Err(malformed(src, start, "DateTimeOffset", expected));
        }
    };
    let (Some(hours), Some(b':'), Some(minutes)) = (two_digits(b, i + 1), b.get(i + 3), two_digits(b, i + 4)) else {
        return Err(bad());
    };
    if hours > 23 || minutes > 59 {
        return Err(bad());
    }
    let secs = i32::try_from(hours * 3600 + minutes * 60).map_err(|_| bad())?;
    FixedOffset::east_opt(sign * secs).map(|o| (o, i + 6)).ok_or_else(bad)
}

/// The body of `duration'…'`: `[-]P[nD][T[nH][nM][n[.n]S]]`, with at least one part.
pub(crate) fn parse_duration(text: &str, offset: usize) -> Result<TimeDelta, ParseError> {
    let bad = || {
        ParseError::new(
            offset,
            format!(
                "malformed duration '{}' at offset {offset}: expected [-]PnDTnHnMn.nS, such as P1DT2H30M \
                 (days, hours, minutes and seconds; years and months are not allowed)",
                excerpt(text)
            ),
        )
    };
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let body = body.strip_prefix(['P', 'p']).ok_or_else(bad)?;
    let b = body.as_bytes();
    let (mut i, mut seconds, mut nanos, mut parts, mut in_time) = (0, 0_i64, 0_i64, 0, false);
    let mut last_unit = 0; // units must come in the order D, H, M, S
    while i < b.len() {
        if matches!(b.get(i), Some(b'T' | b't')) && !in_time {
            in_time = true;
            i += 1;
            continue;
        }
        let end = skip_digits(b, i);
        let value: i64 = body.get(i..end).and_then(|d| d.parse().ok()).ok_or_else(bad)?;
        let mut unit_at = end;
        let mut fraction = "";
        if b.get(end) == Some(&b'.') {
            unit_at = skip_digits(b, end + 1);
            fraction = body.get(end + 1..unit_at).unwrap_or_default();
            if fraction.is_empty() {
                return Err(bad());
            }
        }
        let (rank, unit_secs) = match (b.get(unit_at).map(u8::to_ascii_uppercase), in_time) {
            (Some(b'D'), false) => (1, 86_400),
            (Some(b'H'), true) => (2, 3_600),
            (Some(b'M'), true) => (3, 60),
            (Some(b'S'), true) => (4, 1),
            _ => return Err(bad()),
        };
        if rank <= last_unit || (!fraction.is_empty() && rank != 4) {
            return Err(bad());
        }
        if !fraction.is_empty() {
            let nine = fraction.get(..9).unwrap_or(fraction);
            nanos = format!("{nine:0<9}").parse().map_err(|_| bad())?;
        }
        seconds = value.checked_mul(unit_secs).and_then(|v| v.checked_add(seconds)).ok_or_else(bad)?;
        last_unit = rank;
        parts += 1;
        i = unit_at + 1;
    }
    if parts == 0 || (in_time && last_unit < 2) {
        return Err(bad());
    }
    let delta =
        TimeDelta::try_seconds(seconds).and_then(|d| d.checked_add(&TimeDelta::nanoseconds(nanos))).ok_or_else(bad)?;
    Ok(if negative { -delta } else { delta })
}

/// The members of an enum literal: names or integers, separated by commas, no spaces.
pub(crate) fn parse_enum_members(text: &str, offset: usize) -> Result<Vec<String>, ParseError> {
    let valid = |m: &str| {
        let digits = m.strip_prefix(['-', '+']).unwrap_or(m);
        let numeric = !digits.is_empty() && digits.bytes().all(|c| c.is_ascii_digit());
        let mut chars = m.chars();
        numeric || (chars.next().is_some_and(is_ident_start) && chars.all(is_ident_char))
    };
    let members: Vec<String> = text.split(',').map(str::to_owned).collect();
    if members.iter().all(|m| valid(m)) {
        Ok(members)
    } else {
        Err(ParseError::new(
            offset,
            format!(
                "malformed enum value '{}' at offset {offset}: expected member names or integers \
                 separated by commas, such as 'high' or 'read,write'",
                excerpt(text)
            ),
        ))
    }
}
