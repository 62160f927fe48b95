//! Canonical OData text for a syntax tree: what logs and error messages quote, and what test
//! expectations compare. Binary operators are fully parenthesised so precedence is visible, and
//! the output parses back to the same tree (spans aside); it must never render something the
//! parser would read differently.

use std::fmt;

use chrono::{Datelike, NaiveDate, NaiveTime, TimeDelta, Timelike};

use super::ast::{Expr, ExprKind, InRhs, Lambda, Literal, MemberPath};

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ExprKind::Literal(lit) => write!(f, "{lit}"),
            ExprKind::Member(path) => write!(f, "{path}"),
            ExprKind::Call { name, args } => {
                write!(f, "{name}(")?;
                write_list(f, args)?;
                f.write_str(")")
            }
            ExprKind::Lambda(lambda) => write!(f, "{lambda}"),
            ExprKind::Compare { op, lhs, rhs, .. } => write!(f, "({lhs} {} {rhs})", op.keyword()),
            ExprKind::Has { lhs, rhs, .. } => write!(f, "({lhs} has {rhs})"),
            ExprKind::In { lhs, rhs, .. } => match rhs {
                InRhs::List(items) => {
                    write!(f, "({lhs} in (")?;
                    for (i, item) in items.iter().enumerate() {
                        let sep = if i == 0 { "" } else { "," };
                        write!(f, "{sep}{}", item.value)?;
                    }
                    f.write_str("))")
                }
                InRhs::Collection(c) => write!(f, "({lhs} in {c})"),
            },
            ExprKind::Arith { op, lhs, rhs, .. } => write!(f, "({lhs} {} {rhs})", op.keyword()),
            ExprKind::Negate(e) => write!(f, "-({e})"),
            ExprKind::Not(e) => write!(f, "(not {e})"),
            ExprKind::And(l, r) => write!(f, "({l} and {r})"),
            ExprKind::Or(l, r) => write!(f, "({l} or {r})"),
        }
    }
}

fn write_list(f: &mut fmt::Formatter<'_>, items: &[Expr]) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        let sep = if i == 0 { "" } else { "," };
        write!(f, "{sep}{item}")?;
    }
    Ok(())
}

impl fmt::Display for MemberPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for name in self.lambda_var.iter().chain(&self.segments).map(|s| &s.name) {
            let sep = if first { "" } else { "/" };
            write!(f, "{sep}{name}")?;
            first = false;
        }
        Ok(())
    }
}

impl fmt::Display for Lambda {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}(", self.collection, self.kind.keyword())?;
        if let Some(p) = &self.predicate {
            write!(f, "{}:{}", p.var.name, p.body)?;
        }
        f.write_str(")")
    }
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Null => f.write_str("null"),
            Self::Boolean(b) => write!(f, "{b}"),
            Self::Int(i) => write!(f, "{i}"),
            Self::Decimal(d) => f.write_str(d),
            Self::Double(d) if d.is_nan() => f.write_str("NaN"),
            Self::Double(d) if d.is_infinite() => f.write_str(if *d > 0.0 { "INF" } else { "-INF" }),
            Self::Double(d) => write!(f, "{d:e}"),
            Self::String(s) => write!(f, "'{}'", s.replace('\'', "''")),
            Self::Guid(g) => write!(f, "{g}"),
            Self::Date(d) => write_date(f, *d),
            Self::DateTimeOffset(dt) => {
                write_date(f, dt.date_naive())?;
                f.write_str("T")?;
                write_time(f, dt.time())?;
                match dt.offset().local_minus_utc() {
                    0 => f.write_str("Z"),
                    secs => {
                        let sign = if secs < 0 { '-' } else { '+' };
                        let mins = secs.unsigned_abs() / 60;
                        write!(f, "{sign}{:02}:{:02}", mins / 60, mins % 60)
                    }
                }
            }
            Self::TimeOfDay(t) => write_time(f, *t),
            Self::Duration(d) => write_duration(f, *d),
            Self::Enum(e) => write!(f, "{}'{}'", e.type_name, e.members.join(",")),
        }
    }
}

fn write_date(f: &mut fmt::Formatter<'_>, d: NaiveDate) -> fmt::Result {
    let sign = if d.year() < 0 { "-" } else { "" };
    write!(f, "{sign}{:04}-{:02}-{:02}", d.year().unsigned_abs(), d.month(), d.day())
}

fn write_time(f: &mut fmt::Formatter<'_>, t: NaiveTime) -> fmt::Result {
    // chrono keeps a leap second as second 59 with a nanosecond count of one second or more.
    let (second, nanos) = match t.nanosecond() {
        n if n >= 1_000_000_000 => (60, n - 1_000_000_000),
        n => (t.second(), n),
    };
    write!(f, "{:02}:{:02}:{second:02}", t.hour(), t.minute())?;
    write_fraction(f, nanos)
}

fn write_fraction(f: &mut fmt::Formatter<'_>, nanos: u32) -> fmt::Result {
    if nanos == 0 {
        return Ok(());
    }
    let digits = format!("{nanos:09}");
    write!(f, ".{}", digits.trim_end_matches('0'))
}

fn write_duration(f: &mut fmt::Formatter<'_>, d: TimeDelta) -> fmt::Result {
    let sign = if d < TimeDelta::zero() { "-" } else { "" };
    let d = d.abs();
    let secs = d.num_seconds().unsigned_abs();
    let nanos = d.subsec_nanos().unsigned_abs();
    let (days, hours, minutes, seconds) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    write!(f, "duration'{sign}P{days}DT{hours}H{minutes}M{seconds}")?;
    write_fraction(f, nanos)?;
    f.write_str("S'")
}
