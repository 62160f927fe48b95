//! Resolves parsed `$filter` and `$orderby` against an entity set's registry, with errors that say
//! where the problem is and what would be accepted instead.

use std::fmt;

use super::filter::{CmpOp, Filter, Func, Operand, Owner, Scalar, SortKey, TextMatch};
use super::registry::{CollectionField, Element, EntitySet, Field, Source, ValueType};
use crate::odata::ast::{CompareOp, Expr, ExprKind, InRhs, LambdaKind, Literal, MemberPath};
use crate::odata::{self, OrderItem};
use crate::time::{TICKS_PER_DAY, checked_ticks};

/// Most items an `in (...)` list may hold.
pub const MAX_IN_LIST: usize = 200;
/// Most nested lambdas (`a/any(x: x/b/any(y: c/any(z: ...)))` is 3 deep).
pub const MAX_LAMBDA_DEPTH: usize = 3;

/// A `$filter` or `$orderby` that cannot be served, with the byte offset it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError {
    pub option: &'static str,
    pub offset: Option<usize>,
    pub message: String,
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.offset {
            Some(o) => write!(f, "Invalid {} at position {o}: {}", self.option, self.message),
            None => write!(f, "Invalid {}: {}", self.option, self.message),
        }
    }
}

impl std::error::Error for QueryError {}

fn err(offset: usize, message: impl Into<String>) -> QueryError {
    QueryError { option: "$filter", offset: Some(offset), message: message.into() }
}

/// Parses and resolves a `$filter` value for `set`.
///
/// # Errors
/// A [`QueryError`] naming the position and what was expected.
pub fn resolve_filter(set: &EntitySet, input: &str) -> Result<Filter, QueryError> {
    let expr = odata::parse_filter(input).map_err(|e| QueryError {
        option: "$filter",
        offset: Some(e.offset),
        message: e.message,
    })?;
    Resolver { set, lambdas: Vec::new() }.boolean(&expr)
}

/// Resolves a parsed boolean expression (a `$apply` `filter(...)`) for `set`.
pub(crate) fn resolve_filter_expr(set: &EntitySet, expr: &Expr) -> Result<Filter, QueryError> {
    Resolver { set, lambdas: Vec::new() }.boolean(expr)
}

/// Resolves a parsed value expression (a property or a function of one) for `set`.
pub(crate) fn resolve_operand(set: &EntitySet, expr: &Expr) -> Result<Operand, QueryError> {
    Resolver { set, lambdas: Vec::new() }.operand(expr)
}

/// Parses and resolves an `$orderby` value for `set`.
///
/// # Errors
/// A [`QueryError`] for an unknown or unsortable property or a repeated key.
pub fn resolve_orderby(set: &EntitySet, input: &str) -> Result<Vec<SortKey>, QueryError> {
    let items: Vec<OrderItem> = odata::parse_orderby(input).map_err(|e| QueryError {
        option: "$orderby",
        offset: Some(e.offset),
        message: e.message,
    })?;
    let mut keys: Vec<SortKey> = Vec::with_capacity(items.len());
    for item in items {
        let path = item.path.join("/");
        let oerr = |m: String| QueryError { option: "$orderby", offset: Some(item.offset), message: m };
        let field = set.field(&path).ok_or_else(|| oerr(unknown_property(set, &path)))?;
        if !field.sortable {
            return Err(oerr(format!(
                "'{}' cannot be sorted on. Sortable properties: {}.",
                field.path,
                set.fields.iter().filter(|f| f.sortable).map(|f| f.path).collect::<Vec<_>>().join(", ")
            )));
        }
        if keys.iter().any(|k| k.field.path == field.path) {
            return Err(oerr(format!("'{}' appears twice.", field.path)));
        }
        keys.push(SortKey { field, descending: item.descending });
    }
    Ok(keys)
}

#[derive(Clone, Copy)]
struct Lambda<'a> {
    var: &'a str,
    collection: &'static CollectionField,
}

struct Resolver<'a> {
    set: &'a EntitySet,
    /// The lambdas in scope, outermost first; an index is the variable's [`super::filter::Var`].
    lambdas: Vec<Lambda<'a>>,
}

/// The type of an operand, `None` for the null literal.
fn type_of(o: &Operand) -> Option<ValueType> {
    match o {
        Operand::Field(f) | Operand::ElementField(_, f) => Some(f.ty),
        Operand::Element(_, t) => Some(*t),
        Operand::Call(func, _) => Some(func.result_type()),
        Operand::Literal(s) => match s {
            Scalar::Null => None,
            Scalar::Bool(_) => Some(ValueType::Boolean),
            Scalar::Int(_) => Some(ValueType::Int32),
            Scalar::Double(_) => Some(ValueType::Double),
            Scalar::Text(_) => Some(ValueType::String),
            Scalar::Ticks(_) => Some(ValueType::DateTimeOffset),
        },
    }
}

fn describe(t: ValueType) -> String {
    t.edm_name()
}

impl<'a> Resolver<'a> {
    fn boolean(&self, e: &'a Expr) -> Result<Filter, QueryError> {
        match &e.kind {
            ExprKind::And(a, b) => Ok(Filter::And(Box::new(self.boolean(a)?), Box::new(self.boolean(b)?))),
            ExprKind::Or(a, b) => Ok(Filter::Or(Box::new(self.boolean(a)?), Box::new(self.boolean(b)?))),
            ExprKind::Not(a) => Ok(Filter::Not(Box::new(self.boolean(a)?))),
            ExprKind::Literal(Literal::Boolean(b)) => Ok(Filter::Const(*b)),
            ExprKind::Compare { op, op_offset, lhs, rhs } => self.compare(*op, *op_offset, lhs, rhs),
            ExprKind::Has { op_offset, lhs, rhs } => self.compare(CompareOp::Eq, *op_offset, lhs, rhs),
            ExprKind::In { op_offset, lhs, rhs } => self.in_list(*op_offset, lhs, rhs),
            ExprKind::Lambda(l) => self.lambda(e.span.start, l),
            ExprKind::Call { name, args } => self.bool_call(e.span.start, name, args),
            ExprKind::Member(_) => {
                let o = self.operand(e)?;
                match type_of(&o) {
                    Some(ValueType::Boolean) => Ok(Filter::IsTrue(o)),
                    Some(t) => Err(err(
                        e.span.start,
                        format!("this is a {} value, not a condition; compare it, for example with 'eq'", describe(t)),
                    )),
                    None => Err(err(e.span.start, "expected a condition")),
                }
            }
            ExprKind::Arith { op_offset, .. } => Err(err(*op_offset, "arithmetic operators are not supported")),
            ExprKind::Negate(_) => Err(err(e.span.start, "arithmetic operators are not supported")),
            ExprKind::Literal(_) => Err(err(e.span.start, "expected a condition, found a value")),
        }
    }

    fn operand(&self, e: &'a Expr) -> Result<Operand, QueryError> {
        match &e.kind {
            ExprKind::Literal(l) => Ok(Operand::Literal(literal(e.span.start, l)?)),
            ExprKind::Member(path) => self.member(e.span.start, path),
            ExprKind::Call { name, args } => {
                let func = match name.as_str() {
                    "tolower" => Func::ToLower,
                    "toupper" => Func::ToUpper,
                    "trim" => Func::Trim,
                    "length" => Func::Length,
                    "year" => Func::Year,
                    "month" => Func::Month,
                    "day" => Func::Day,
                    "hour" => Func::Hour,
                    "minute" => Func::Minute,
                    "second" => Func::Second,
                    "date" => Func::Date,
                    "startswith" | "endswith" | "contains" => {
                        return Err(err(e.span.start, format!("{name}() is a condition, not a value")));
                    }
                    other => {
                        return Err(err(
                            e.span.start,
                            format!(
                                "the function '{other}' is not supported. Supported: startswith, endswith, contains, \
                                 tolower, toupper, trim, length, year, month, day, hour, minute, second, date"
                            ),
                        ));
                    }
                };
                let [arg] = args.as_slice() else {
                    return Err(err(e.span.start, format!("{name}() takes exactly one argument")));
                };
                let inner = self.operand(arg)?;
                let t = type_of(&inner);
                let ok = match func {
                    Func::ToLower | Func::ToUpper | Func::Trim | Func::Length => t.is_some_and(ValueType::is_textual),
                    _ => t == Some(ValueType::DateTimeOffset),
                };
                if !ok || matches!(inner, Operand::Literal(_)) {
                    let want = if matches!(func, Func::ToLower | Func::ToUpper | Func::Trim | Func::Length) {
                        "a string property"
                    } else {
                        "a DateTimeOffset property such as createdDateTime"
                    };
                    return Err(err(arg.span.start, format!("{name}() takes {want}")));
                }
                Ok(Operand::Call(func, Box::new(inner)))
            }
            ExprKind::Arith { op_offset, .. } => Err(err(*op_offset, "arithmetic operators are not supported")),
            ExprKind::Negate(_) => Err(err(e.span.start, "arithmetic operators are not supported")),
            _ => Err(err(e.span.start, "expected a property, a literal or a function call here")),
        }
    }

    fn member(&self, offset: usize, path: &MemberPath) -> Result<Operand, QueryError> {
        let joined: String = path.names().collect::<Vec<_>>().join("/");
        if let Some(var) = &path.lambda_var {
            let Some((level, l)) = self.lambda_var(&var.name) else {
                return Err(err(var.offset, format!("'{}' is not a lambda variable in scope", var.name)));
            };
            if let Some(c) = l.collection.nested(&joined) {
                return Err(err(
                    offset,
                    format!(
                        "'{}/{}' is a collection; filter it with any or all, e.g. {}/{}/any(x: ...)",
                        var.name, c.path, var.name, c.path
                    ),
                ));
            }
            return match (&l.collection.element, joined.is_empty()) {
                (Element::Primitive { ty, .. }, true) => Ok(Operand::Element(level, *ty)),
                (Element::Primitive { .. }, false) => Err(err(
                    offset,
                    format!(
                        "the elements of {} are values without properties; use '{}' alone",
                        l.collection.path, var.name
                    ),
                )),
                (Element::Complex { .. }, true) => Err(err(
                    offset,
                    format!(
                        "'{}' is an object; name one of its properties, e.g. {}/{}",
                        var.name,
                        var.name,
                        first_member(l.collection)
                    ),
                )),
                (Element::Complex { fields }, false) => fields
                    .iter()
                    .find(|f| f.path.eq_ignore_ascii_case(&joined))
                    .map(|f| Operand::ElementField(level, f))
                    .ok_or_else(|| {
                        err(
                            offset,
                            format!(
                                "'{joined}' is not a filterable property of {}. Available: {}",
                                l.collection.path,
                                fields.iter().map(|f| f.path).collect::<Vec<_>>().join(", ")
                            ),
                        )
                    }),
            };
        }
        if let Some(f) = self.set.field(&joined) {
            return Ok(Operand::Field(f));
        }
        if let Some(c) = self.set.collection(&joined) {
            return Err(err(
                offset,
                format!("'{}' is a collection; filter it with any or all, e.g. {}/any(x: ...)", c.path, c.path),
            ));
        }
        Err(err(offset, unknown_property(self.set, &joined)))
    }

    fn compare(&self, op: CompareOp, at: usize, lhs: &'a Expr, rhs: &'a Expr) -> Result<Filter, QueryError> {
        let mut op = op;
        let mut l = self.operand(lhs)?;
        let mut r = self.operand(rhs)?;
        let (mut l_expr, mut r_expr) = (lhs, rhs);
        if matches!(l, Operand::Literal(_)) {
            if matches!(r, Operand::Literal(_)) {
                return Err(err(at, "compare a property with a value; both sides are values here"));
            }
            std::mem::swap(&mut l, &mut r);
            std::mem::swap(&mut l_expr, &mut r_expr);
            op = op.flipped();
        }
        let lt = type_of(&l).unwrap_or(ValueType::String);
        if let Operand::Literal(lit) = &r {
            let r = self.typed_literal(lt, lit.clone(), r_expr)?;
            if r == Scalar::Null && !matches!(op, CmpOp::Eq | CmpOp::Ne) {
                return Err(err(at, "null can only be compared with eq or ne"));
            }
            check_ordering(op, lt, at)?;
            return Ok(Filter::Compare { op, lhs: l, rhs: Operand::Literal(r) });
        }
        let rt = type_of(&r).unwrap_or(ValueType::String);
        let compatible = (lt.is_textual() && rt.is_textual()) || (lt.is_numeric() && rt.is_numeric()) || lt == rt;
        if !compatible {
            return Err(err(at, format!("cannot compare {} with {}", describe(lt), describe(rt))));
        }
        check_ordering(op, lt, at)?;
        Ok(Filter::Compare { op, lhs: l, rhs: r })
    }

    /// Checks a literal against the type of the property it is compared with.
    fn typed_literal(&self, ty: ValueType, lit: Scalar, at: &Expr) -> Result<Scalar, QueryError> {
        let offset = at.span.start;
        let enum_type_name = match &at.kind {
            ExprKind::Literal(Literal::Enum(e)) => Some(e.type_name.clone()),
            _ => None,
        };
        match (ty, lit) {
            (_, Scalar::Null) => Ok(Scalar::Null),
            (ValueType::String, Scalar::Text(t)) => Ok(Scalar::Text(t)),
            (ValueType::Enum { name, members }, Scalar::Text(t)) => {
                if let Some(tn) = enum_type_name {
                    let short = tn.rsplit('.').next().unwrap_or(&tn);
                    if !short.eq_ignore_ascii_case(name) {
                        return Err(err(
                            offset,
                            format!("{tn} is not the type of this property (microsoft.graph.{name})"),
                        ));
                    }
                }
                if members.iter().any(|m| m.eq_ignore_ascii_case(&t)) {
                    Ok(Scalar::Text(t))
                } else {
                    Err(err(offset, format!("'{t}' is not a member of {name}. Members: {}", members.join(", "))))
                }
            }
            (ValueType::Int32, Scalar::Int(i)) => {
                if i32::try_from(i).is_ok() {
                    Ok(Scalar::Int(i))
                } else {
                    Err(err(offset, format!("{i} does not fit in Edm.Int32")))
                }
            }
            (ValueType::Int32, Scalar::Double(d)) | (ValueType::Double, Scalar::Double(d)) => Ok(Scalar::Double(d)),
            (ValueType::Double, Scalar::Int(i)) => Ok(Scalar::Int(i)),
            (ValueType::Boolean, Scalar::Bool(b)) => Ok(Scalar::Bool(b)),
            (ValueType::DateTimeOffset, Scalar::Ticks(t)) => Ok(Scalar::Ticks(t)),
            (ValueType::DateTimeOffset, Scalar::Text(_)) => Err(err(
                offset,
                "DateTimeOffset values are written without quotes, e.g. createdDateTime ge 2024-01-31T00:00:00Z",
            )),
            (t, lit) => Err(err(offset, format!("expected a {} value, found {}", describe(t), literal_kind(&lit)))),
        }
    }

    fn in_list(&self, at: usize, lhs: &'a Expr, rhs: &'a InRhs) -> Result<Filter, QueryError> {
        let l = self.operand(lhs)?;
        if matches!(l, Operand::Literal(_)) {
            return Err(err(lhs.span.start, "the left side of 'in' must be a property"));
        }
        let InRhs::List(items) = rhs else {
            return Err(err(at, "'in' takes a parenthesised list of values, e.g. appId in ('a', 'b')"));
        };
        if items.len() > MAX_IN_LIST {
            return Err(err(
                at,
                format!("an 'in' list may hold at most {MAX_IN_LIST} values; this one has {}", items.len()),
            ));
        }
        let lt = type_of(&l).unwrap_or(ValueType::String);
        let mut values = Vec::with_capacity(items.len());
        for item in items {
            let expr = Expr { kind: ExprKind::Literal(item.value.clone()), span: item.span };
            let v = self.typed_literal(lt, literal(item.span.start, &item.value)?, &expr)?;
            if v == Scalar::Null {
                return Err(err(item.span.start, "null cannot be in an 'in' list; use 'eq null'"));
            }
            values.push(v);
        }
        Ok(Filter::In { lhs: l, values })
    }

    fn bool_call(&self, at: usize, name: &str, args: &'a [Expr]) -> Result<Filter, QueryError> {
        let kind = match name {
            "startswith" => TextMatch::StartsWith,
            "endswith" => TextMatch::EndsWith,
            "contains" => TextMatch::Contains,
            other => {
                return Err(err(
                    at,
                    format!(
                        "'{other}' is not a condition. Conditions: comparisons (eq ne gt ge lt le), in, has, \
                         startswith, endswith, contains, any, all, and/or/not"
                    ),
                ));
            }
        };
        let [a, b] = args else {
            return Err(err(at, format!("{name}() takes two arguments: a property and a string")));
        };
        let lhs = self.operand(a)?;
        if matches!(lhs, Operand::Literal(_)) || !type_of(&lhs).is_some_and(ValueType::is_textual) {
            return Err(err(a.span.start, format!("the first argument of {name}() must be a string property")));
        }
        let ExprKind::Literal(Literal::String(pattern)) = &b.kind else {
            return Err(err(b.span.start, format!("the second argument of {name}() must be a string in quotes")));
        };
        Ok(Filter::Match { kind, lhs, pattern: pattern.to_lowercase() })
    }

    /// The innermost lambda in scope whose variable is `name`, with its level.
    fn lambda_var(&self, name: &str) -> Option<(usize, Lambda<'a>)> {
        self.lambdas.iter().copied().enumerate().rev().find(|(_, l)| l.var == name)
    }

    fn lambda(&self, at: usize, l: &'a crate::odata::ast::Lambda) -> Result<Filter, QueryError> {
        if self.lambdas.len() >= MAX_LAMBDA_DEPTH {
            return Err(err(at, format!("lambdas may be nested at most {MAX_LAMBDA_DEPTH} deep")));
        }
        let path: String = l.collection.names().collect::<Vec<_>>().join("/");
        let (owner, collection) = match &l.collection.lambda_var {
            Some(var) => {
                let Some((level, outer)) = self.lambda_var(&var.name) else {
                    return Err(err(var.offset, format!("'{}' is not a lambda variable in scope", var.name)));
                };
                let nested = outer.collection.nested(&path).ok_or_else(|| {
                    let names: Vec<&str> = outer.collection.nested.iter().map(|c| c.path).collect();
                    let why = if names.is_empty() {
                        format!(
                            "the elements of {} hold no collections, so any/all do not apply",
                            outer.collection.path
                        )
                    } else {
                        format!(
                            "'{path}' is not a collection of {}'s elements. Collections: {}",
                            outer.collection.path,
                            names.join(", ")
                        )
                    };
                    err(at, why)
                })?;
                (Owner::Element(level), nested)
            }
            None => (Owner::Entity, self.entity_collection(at, &path)?),
        };
        let predicate = match &l.predicate {
            None => None,
            Some(p) => {
                let mut lambdas = self.lambdas.clone();
                lambdas.push(Lambda { var: &p.var.name, collection });
                Some(Box::new(Resolver { set: self.set, lambdas }.boolean(&p.body)?))
            }
        };
        match (l.kind, predicate) {
            (LambdaKind::Any, predicate) => Ok(Filter::Any { owner, collection, predicate }),
            (LambdaKind::All, Some(predicate)) => Ok(Filter::All { owner, collection, predicate }),
            (LambdaKind::All, None) => Err(err(at, "all() needs a condition, e.g. all(x: ...)")),
        }
    }

    fn entity_collection(&self, at: usize, path: &str) -> Result<&'static CollectionField, QueryError> {
        self.set.collection(path).ok_or_else(|| {
            let why = if self.set.field(path).is_some() {
                format!("'{path}' is not a collection, so any/all do not apply; compare it directly")
            } else {
                format!(
                    "'{path}' is not a collection here. Collections: {}",
                    self.set.collections.iter().map(|c| c.path).collect::<Vec<_>>().join(", ")
                )
            };
            err(at, why)
        })
    }
}

fn check_ordering(op: CmpOp, ty: ValueType, at: usize) -> Result<(), QueryError> {
    let ordered = matches!(op, CmpOp::Gt | CmpOp::Ge | CmpOp::Lt | CmpOp::Le);
    if ordered && matches!(ty, ValueType::Boolean | ValueType::Enum { .. }) {
        return Err(err(at, format!("{} values can only be compared with eq, ne or in", describe(ty))));
    }
    Ok(())
}

fn first_member(c: &CollectionField) -> &'static str {
    match c.element {
        Element::Complex { fields } => fields.first().map_or("id", |f| f.path),
        Element::Primitive { .. } => "",
    }
}

fn literal_kind(s: &Scalar) -> &'static str {
    match s {
        Scalar::Null => "null",
        Scalar::Bool(_) => "a boolean",
        Scalar::Int(_) | Scalar::Double(_) => "a number",
        Scalar::Text(_) => "a string",
        Scalar::Ticks(_) => "a date/time",
    }
}

fn out_of_range(offset: usize, value: &dyn std::fmt::Display) -> QueryError {
    err(offset, format!("the date or time '{value}' is outside the years 0001 to 9999 that timestamps here can hold"))
}

/// A parsed literal as a normalised scalar.
fn literal(offset: usize, l: &Literal) -> Result<Scalar, QueryError> {
    Ok(match l {
        Literal::Null => Scalar::Null,
        Literal::Boolean(b) => Scalar::Bool(*b),
        Literal::Int(i) => Scalar::Int(*i),
        Literal::Decimal(d) => {
            let v: f64 = d.parse().map_err(|_| err(offset, format!("'{d}' is not a number")))?;
            if !v.is_finite() {
                return Err(err(offset, format!("'{d}' is too large")));
            }
            Scalar::Double(v)
        }
        Literal::Double(d) if d.is_finite() => Scalar::Double(*d),
        Literal::Double(_) => {
            return Err(err(offset, "NaN and INF are not supported: no property here holds them"));
        }
        Literal::String(s) => Scalar::Text(s.to_lowercase()),
        Literal::Guid(g) => Scalar::Text(g.to_key()),
        Literal::Date(d) => {
            let ticks = d
                .and_hms_opt(0, 0, 0)
                .and_then(|n| checked_ticks(n.and_utc()))
                .ok_or_else(|| out_of_range(offset, d))?;
            Scalar::Ticks(ticks.div_euclid(TICKS_PER_DAY) * TICKS_PER_DAY)
        }
        Literal::DateTimeOffset(dt) => {
            Scalar::Ticks(checked_ticks(dt.with_timezone(&chrono::Utc)).ok_or_else(|| out_of_range(offset, dt))?)
        }
        Literal::Enum(e) => match e.members.as_slice() {
            [one] => Scalar::Text(one.to_lowercase()),
            _ => return Err(err(offset, "flag enum values with several members are not supported here")),
        },
        Literal::TimeOfDay(_) | Literal::Duration(_) => {
            return Err(err(offset, "time-of-day and duration values are not supported by any property here"));
        }
    })
}

/// An "unknown property" message listing the nearest matches, or every property.
pub(crate) fn unknown_property(set: &EntitySet, path: &str) -> String {
    let wanted = path.to_ascii_lowercase();
    let mut scored: Vec<(usize, &str)> =
        set.filterable_paths().map(|p| (distance(&wanted, &p.to_ascii_lowercase()), p)).collect();
    scored.sort_by_key(|(d, _)| *d);
    let near: Vec<&str> =
        scored.iter().filter(|(d, _)| *d <= 3.max(wanted.len() / 3)).take(5).map(|(_, p)| *p).collect();
    if near.is_empty() {
        format!(
            "'{path}' is not a property of {}. Properties: {}",
            set.type_name,
            set.filterable_paths().collect::<Vec<_>>().join(", ")
        )
    } else {
        format!("'{path}' is not a property of {}. Did you mean {}?", set.type_name, near.join(", "))
    }
}

/// Levenshtein distance.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = Vec::with_capacity(b.len() + 1);
        cur.push(i + 1);
        for ((cb, diagonal), up) in b.iter().zip(&prev).zip(prev.iter().skip(1)) {
            let left = cur.last().copied().unwrap_or(i + 1);
            cur.push((diagonal + usize::from(ca != *cb)).min(up + 1).min(left + 1));
        }
        prev = cur;
    }
    prev.last().copied().unwrap_or(0)
}

/// Whether a field is kept in the document rather than a column (used by messages and plans).
#[must_use]
pub fn is_document_field(f: &Field) -> bool {
    f.source == Source::Document
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::registry::SIGN_INS;

    fn ok(f: &str) -> Filter {
        resolve_filter(&SIGN_INS, f).unwrap_or_else(|e| panic!("{f}: {e}"))
    }

    fn bad(f: &str) -> String {
        resolve_filter(&SIGN_INS, f).unwrap_err().to_string()
    }

    #[test]
    fn timestamps_outside_years_1_to_9999_are_refused_by_name() {
        for f in [
            "createdDateTime ge 100000-01-01",
            "createdDateTime ge 0000-12-31",
            "createdDateTime lt -0001-01-01T00:00:00Z",
            "createdDateTime ge 10000-01-01T00:00:00Z",
        ] {
            let e = bad(f);
            assert!(e.contains("outside the years 0001 to 9999"), "{f}: {e}");
        }
        assert!(resolve_filter(&SIGN_INS, "createdDateTime ge 9999-12-31T23:59:59.9999999Z").is_ok());
        assert!(resolve_filter(&SIGN_INS, "createdDateTime ge 0001-01-01").is_ok());
    }

    #[test]
    fn edit_distance_counts_insertions_deletions_and_substitutions() {
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("abc", ""), 3);
        assert_eq!(distance("userid", "userid"), 0);
    }

    #[test]
    fn documented_graph_filters_resolve() {
        for f in [
            "startswith(appDisplayName,'Graph')",
            "createdDateTime le 2018-01-24",
            "createdDateTime ge 2024-01-01T00:00:00Z and createdDateTime lt 2024-02-01T00:00:00.1234567Z",
            "status/errorCode eq 50126",
            "userId eq '26be570a-ae82-4189-b4e2-a37c6808512d'",
            "riskState eq 'atRisk'",
            "riskLevelDuringSignIn eq microsoft.graph.riskLevel'high'",
            "appliedConditionalAccessPolicies/any(p: p/result eq 'failure')",
            "riskEventTypes_v2/any(t: t eq 'unfamiliarFeatures')",
            "riskEventTypes/any(t: t eq 'unlikelyTravel')",
            "location/city eq 'Redmond' or deviceDetail/browser eq 'Edge'",
            "not(isInteractive) and clientAppUsed in ('IMAP4', 'POP3')",
            "year(createdDateTime) eq 2024 and tolower(userPrincipalName) eq 'a@b.com'",
            "appliedConditionalAccessPolicies/any()",
            "deviceDetail/isCompliant eq true and location/geoCoordinates/latitude gt 40.5",
            "userDisplayName eq null",
        ] {
            ok(f);
        }
    }

    #[test]
    fn mistakes_get_precise_messages() {
        assert!(bad("status/errorCode eq 'x'").contains("Edm.Int32"));
        assert!(bad("userPrincipalNam eq 'x'").contains("Did you mean userPrincipalName"));
        assert!(bad("riskLevelDuringSignIn eq 'extreme'").contains("Members: low, medium"));
        assert!(bad("userId/any(x: x eq 'a')").contains("not a collection"));
        assert!(bad("appliedConditionalAccessPolicies eq 'x'").contains("any or all"));
        assert!(bad("substring(userId, 1) eq 'x'").contains("not supported"));
        assert!(bad("createdDateTime ge '2024-01-01'").contains("without quotes"));
        assert!(bad("riskState gt 'none'").contains("only be compared with eq"));
        assert!(bad("userId").contains("not a condition"));
        assert!(
            bad("appliedConditionalAccessPolicies/any(p: p/nope eq 'x')")
                .contains("Available: id, displayName, result")
        );
        assert!(bad("riskLevelDuringSignIn eq microsoft.graph.riskState'none'").contains("not the type"));
        assert!(bad("status/errorCode eq 99999999999").contains("Int32"));
        assert!(bad("status/errorCode add 1 eq 2").contains("arithmetic"));
        assert!(bad("userId eq ").starts_with("Invalid $filter at position"));
        assert!(bad("location/geoCoordinates/latitude ne NaN").contains("NaN"));
    }

    #[test]
    fn lambdas_nest_three_deep_with_outer_variables_in_scope() {
        match ok("appliedConditionalAccessPolicies/any(p: p/enforcedGrantControls/any(g: g eq 'Mfa') and \
                  p/result eq 'failure')")
        {
            Filter::Any { owner: Owner::Entity, predicate: Some(p), .. } => match *p {
                Filter::And(a, _) => match *a {
                    Filter::Any { owner: Owner::Element(0), collection, predicate: Some(inner) } => {
                        assert_eq!(collection.path, "enforcedGrantControls");
                        assert!(matches!(*inner, Filter::Compare { lhs: Operand::Element(1, _), .. }), "{inner:?}");
                    }
                    other => panic!("{other:?}"),
                },
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        }
        ok("appliedConditionalAccessPolicies/any(p: p/enforcedGrantControls/any(g: \
            riskEventTypes_v2/any(t: t eq g and p/result eq 'success')))");
        let e = bad("appliedConditionalAccessPolicies/any(p: p/enforcedGrantControls/any(g: \
                     riskEventTypes_v2/any(t: riskEventTypes/any(u: u eq t))))");
        assert!(e.contains("nested at most 3 deep"), "{e}");
        assert!(
            bad("appliedConditionalAccessPolicies/any(p: p/nope/any(g: g eq 'x'))").contains("enforcedGrantControls")
        );
        assert!(bad("riskEventTypes/any(t: t/x/any(u: u eq 'a'))").contains("hold no collections"));
        assert!(bad("appliedConditionalAccessPolicies/any(p: p/enforcedGrantControls eq 'x')").contains("any or all"));
        let audits = |f: &str| resolve_filter(&crate::query::registry::DIRECTORY_AUDITS, f);
        assert!(
            audits("targetResources/any(t: t/modifiedProperties/any(m: m/displayName eq 'AccountEnabled'))").is_ok()
        );
    }

    #[test]
    fn nested_lambdas_still_reveal_the_collections_they_read() {
        let f = ok("riskEventTypes_v2/any(t: appliedConditionalAccessPolicies/any(p: p/result eq 'failure'))");
        assert!(f.references("appliedConditionalAccessPolicies"));
        let f = ok("appliedConditionalAccessPolicies/any(p: p/enforcedGrantControls/any(g: g eq 'mfa'))");
        assert!(f.references("appliedConditionalAccessPolicies") && !f.references("enforcedGrantControls"));
    }

    #[test]
    fn literals_are_normalised() {
        match ok("'ABC@contoso.com' eq userPrincipalName") {
            Filter::Compare { op: CmpOp::Eq, lhs: Operand::Field(f), rhs: Operand::Literal(Scalar::Text(t)) } => {
                assert_eq!(f.path, "userPrincipalName");
                assert_eq!(t, "abc@contoso.com");
            }
            other => panic!("{other:?}"),
        }
        match ok("5 lt status/errorCode") {
            Filter::Compare { op, .. } => assert_eq!(op, CmpOp::Gt),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn orderby_resolves_sortable_fields_only() {
        let keys = resolve_orderby(&SIGN_INS, "createdDateTime desc,userPrincipalName").unwrap();
        assert_eq!(keys.len(), 2);
        assert!(keys[0].descending && !keys[1].descending);
        assert!(
            resolve_orderby(&SIGN_INS, "status/failureReason").unwrap_err().to_string().contains("cannot be sorted")
        );
        assert!(resolve_orderby(&SIGN_INS, "nope").is_err());
        assert!(resolve_orderby(&SIGN_INS, "userId,userId desc").unwrap_err().to_string().contains("twice"));
    }
}
