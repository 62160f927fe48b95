//! The in-memory meaning of a resolved filter and sort order over a Graph JSON document. It is the
//! oracle the SQL compiler is tested against, and the source of keyset cursor values (the sort key
//! of a page's last row is read from its document), so storage and memory cannot disagree.

use std::cmp::Ordering;

use serde_json::Value;

use super::filter::{CmpOp, Filter, Func, Operand, Owner, Scalar, SortKey, TextMatch};
use super::registry::{CollectionField, Element, Field, ValueType};
use crate::policy::{GenericMask, Masks};
use crate::time::{TICKS_PER_DAY, TICKS_PER_SECOND, from_ticks, parse_ticks};
use chrono::{Datelike, Timelike};

/// The value at `path` (`a/b/c`) of a JSON object.
fn at_path<'v>(doc: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('/').try_fold(doc, |v, seg| v.get(seg))
}

/// A JSON value normalised as storage keeps a value of type `ty`.
#[must_use]
pub fn normalise(v: Option<&Value>, ty: ValueType) -> Scalar {
    let Some(v) = v else { return Scalar::Null };
    match ty {
        ValueType::String | ValueType::Enum { .. } => {
            v.as_str().map_or(Scalar::Null, |s| Scalar::Text(s.to_lowercase()))
        }
        ValueType::Int32 => v.as_i64().map_or(Scalar::Null, Scalar::Int),
        ValueType::Double => v.as_f64().map_or(Scalar::Null, Scalar::Double),
        ValueType::Boolean => v.as_bool().map_or(Scalar::Null, Scalar::Bool),
        ValueType::DateTimeOffset => v.as_str().and_then(|s| parse_ticks(s).ok()).map_or(Scalar::Null, Scalar::Ticks),
    }
}

/// The normalised value of `field` in `doc`.
#[must_use]
pub fn field_value(doc: &Value, field: &Field) -> Scalar {
    normalise(at_path(doc, field.path), field.ty)
}

/// The value of `field` as a tenant sees it: fields its license hides read `hidden`, premium
/// values read `generic`.
#[must_use]
pub fn field_value_masked(doc: &Value, field: &Field, masks: &Masks) -> Scalar {
    if masks.hidden.contains(&field.path) {
        return Scalar::Text(HIDDEN.to_owned());
    }
    match (field_value(doc, field), masks.generic_of(field.path)) {
        (Scalar::Text(t), Some(g)) => Scalar::Text(g.apply(&t).to_owned()),
        (v, _) => v,
    }
}

/// What a field hidden by the license reads.
pub const HIDDEN: &str = "hidden";

/// Orders two non-null scalars of compatible types; `None` when they cannot be ordered.
#[must_use]
pub fn order(a: &Scalar, b: &Scalar) -> Option<Ordering> {
    match (a, b) {
        (Scalar::Text(x), Scalar::Text(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
        (Scalar::Bool(x), Scalar::Bool(y)) => Some(x.cmp(y)),
        (Scalar::Ticks(x), Scalar::Ticks(y)) | (Scalar::Int(x), Scalar::Int(y)) => Some(x.cmp(y)),
        (Scalar::Int(_) | Scalar::Double(_), Scalar::Int(_) | Scalar::Double(_)) => as_f64(a).partial_cmp(&as_f64(b)),
        _ => None,
    }
}

fn as_f64(s: &Scalar) -> f64 {
    match s {
        Scalar::Int(i) => *i as f64,
        Scalar::Double(d) => *d,
        _ => f64::NAN,
    }
}

/// One lambda variable's binding: the element, and the license's mask of the collection it
/// belongs to, if it has one.
#[derive(Clone, Copy)]
struct Bound<'v> {
    element: &'v Value,
    mask: Option<GenericMask>,
}

/// What an operand is bound to while evaluating: the document, and the lambda variables in
/// scope, outermost first (an operand's `Var` indexes them).
struct Env<'v> {
    doc: &'v Value,
    elements: Vec<Bound<'v>>,
    masks: &'v Masks,
}

impl<'v> Env<'v> {
    fn top(doc: &'v Value, masks: &'v Masks) -> Self {
        Self { doc, elements: Vec::new(), masks }
    }

    /// The environment of a lambda body whose variable is bound to `element`.
    fn with(&self, element: &'v Value, mask: Option<GenericMask>) -> Self {
        let mut elements = self.elements.clone();
        elements.push(Bound { element, mask });
        Self { doc: self.doc, elements, masks: self.masks }
    }

    fn element(&self, var: usize) -> Option<Bound<'v>> {
        self.elements.get(var).copied()
    }
}

fn operand(o: &Operand, env: &Env<'_>) -> Scalar {
    match o {
        Operand::Field(f) => field_value_masked(env.doc, f, env.masks),
        Operand::Element(var, ty) => {
            let bound = env.element(*var);
            match (normalise(bound.map(|b| b.element), *ty), bound.and_then(|b| b.mask)) {
                (Scalar::Text(t), Some(g)) => Scalar::Text(g.apply(&t).to_owned()),
                (v, _) => v,
            }
        }
        Operand::ElementField(var, f) => normalise(env.element(*var).and_then(|b| at_path(b.element, f.path)), f.ty),
        Operand::Literal(s) => s.clone(),
        Operand::Call(func, inner) => apply(*func, operand(inner, env)),
    }
}

/// The value of a top-level operand (a property, or a function of one) in `doc` as a tenant
/// with `masks` sees it: what `$apply` groups and aggregates.
#[must_use]
pub fn operand_value(o: &Operand, doc: &Value, masks: &Masks) -> Scalar {
    operand(o, &Env::top(doc, masks))
}

fn apply(func: Func, v: Scalar) -> Scalar {
    match (func, v) {
        (Func::ToLower | Func::ToUpper, Scalar::Text(t)) => Scalar::Text(t),
        // SQL's trim() strips spaces only (both databases), so the oracle does too.
        (Func::Trim, Scalar::Text(t)) => Scalar::Text(t.trim_matches(' ').to_owned()),
        (Func::Length, Scalar::Text(t)) => Scalar::Int(i64::try_from(t.chars().count()).unwrap_or(i64::MAX)),
        (Func::Date, Scalar::Ticks(t)) => Scalar::Ticks(t.div_euclid(TICKS_PER_DAY) * TICKS_PER_DAY),
        (Func::Year | Func::Month | Func::Day | Func::Hour | Func::Minute | Func::Second, Scalar::Ticks(t)) => {
            let dt = from_ticks(t - t.rem_euclid(TICKS_PER_SECOND));
            Scalar::Int(i64::from(match func {
                Func::Year => dt.year(),
                Func::Month => i32::try_from(dt.month()).unwrap_or(0),
                Func::Day => i32::try_from(dt.day()).unwrap_or(0),
                Func::Hour => i32::try_from(dt.hour()).unwrap_or(0),
                Func::Minute => i32::try_from(dt.minute()).unwrap_or(0),
                _ => i32::try_from(dt.second()).unwrap_or(0),
            }))
        }
        _ => Scalar::Null,
    }
}

fn compare(op: CmpOp, a: &Scalar, b: &Scalar) -> bool {
    let equal = match (a, b) {
        (Scalar::Null, Scalar::Null) => true,
        (Scalar::Null, _) | (_, Scalar::Null) => false,
        _ => order(a, b) == Some(Ordering::Equal),
    };
    match op {
        CmpOp::Eq => equal,
        CmpOp::Ne => !equal,
        _ => match order(a, b) {
            Some(o) if *a != Scalar::Null && *b != Scalar::Null => match op {
                CmpOp::Gt => o == Ordering::Greater,
                CmpOp::Ge => o != Ordering::Less,
                CmpOp::Lt => o == Ordering::Less,
                _ => o != Ordering::Greater,
            },
            _ => false,
        },
    }
}

/// The items of `c` where it lives: in the document, or in an enclosing lambda's element.
fn elements<'v>(env: &Env<'v>, owner: Owner, c: &CollectionField) -> &'v [Value] {
    let holder = match owner {
        Owner::Entity => Some(env.doc),
        Owner::Element(var) => env.element(var).map(|b| b.element),
    };
    holder.and_then(|h| h.get(c.path)).and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

/// The license's mask of a collection's elements (only the entity's own collections have one).
fn mask_of(env: &Env<'_>, owner: Owner, c: &CollectionField) -> Option<GenericMask> {
    if owner == Owner::Entity { env.masks.generic_of(c.path) } else { None }
}

fn eval(f: &Filter, env: &Env<'_>) -> bool {
    match f {
        Filter::Const(b) => *b,
        Filter::And(a, b) => eval(a, env) && eval(b, env),
        Filter::Or(a, b) => eval(a, env) || eval(b, env),
        Filter::Not(a) => !eval(a, env),
        Filter::Compare { op, lhs, rhs } => compare(*op, &operand(lhs, env), &operand(rhs, env)),
        Filter::In { lhs, values } => {
            let v = operand(lhs, env);
            v != Scalar::Null && values.iter().any(|x| compare(CmpOp::Eq, &v, x))
        }
        Filter::Match { kind, lhs, pattern } => match operand(lhs, env) {
            Scalar::Text(t) => match kind {
                TextMatch::StartsWith => t.starts_with(pattern.as_str()),
                TextMatch::EndsWith => t.ends_with(pattern.as_str()),
                TextMatch::Contains => t.contains(pattern.as_str()),
            },
            _ => false,
        },
        Filter::IsTrue(o) => operand(o, env) == Scalar::Bool(true),
        Filter::Any { owner, collection, predicate } => {
            let items = elements(env, *owner, collection);
            let mask = mask_of(env, *owner, collection);
            match predicate {
                None => !items.is_empty(),
                Some(p) => items.iter().any(|e| eval(p, &env.with(e, mask))),
            }
        }
        Filter::All { owner, collection, predicate } => {
            let mask = mask_of(env, *owner, collection);
            elements(env, *owner, collection).iter().all(|e| eval(predicate, &env.with(e, mask)))
        }
    }
}

/// Whether `doc` satisfies `filter`.
#[must_use]
pub fn matches(filter: &Filter, doc: &Value) -> bool {
    matches_masked(filter, doc, &Masks::NONE)
}

/// Whether `doc` satisfies `filter` for a tenant whose license masks fields with `masks`.
#[must_use]
pub fn matches_masked(filter: &Filter, doc: &Value, masks: &Masks) -> bool {
    eval(filter, &Env::top(doc, masks))
}

/// Orders two sort-key values: nulls first ascending, last descending.
#[must_use]
pub fn order_nullable(a: &Scalar, b: &Scalar, descending: bool) -> Ordering {
    let o = match (a, b) {
        (Scalar::Null, Scalar::Null) => Ordering::Equal,
        (Scalar::Null, _) => Ordering::Less,
        (_, Scalar::Null) => Ordering::Greater,
        _ => order(a, b).unwrap_or(Ordering::Equal),
    };
    if descending { o.reverse() } else { o }
}

/// The full sort order of a query: its keys, then `id` in the direction of the last key
/// (descending when there are no keys: newest first).
#[must_use]
pub fn compare_docs(keys: &[SortKey], id_field: &Field, a: &Value, b: &Value) -> Ordering {
    compare_docs_masked(keys, id_field, a, b, &Masks::NONE)
}

/// [`compare_docs`] for a tenant whose license masks fields with `masks`.
#[must_use]
pub fn compare_docs_masked(keys: &[SortKey], id_field: &Field, a: &Value, b: &Value, masks: &Masks) -> Ordering {
    for k in keys {
        let o = order_nullable(
            &field_value_masked(a, k.field, masks),
            &field_value_masked(b, k.field, masks),
            k.descending,
        );
        if o != Ordering::Equal {
            return o;
        }
    }
    let id_desc = keys.last().is_none_or(|k| k.descending);
    order_nullable(&field_value(a, id_field), &field_value(b, id_field), id_desc)
}

/// Whether `element` fields are all kept in columns (collections must be, to compile to EXISTS).
#[must_use]
pub fn element_type(c: &CollectionField) -> Option<ValueType> {
    match c.element {
        Element::Primitive { ty, .. } => Some(ty),
        Element::Complex { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::registry::SIGN_INS;
    use crate::query::validate::resolve_filter;
    use serde_json::json;

    fn doc() -> Value {
        json!({
            "id": "A1", "createdDateTime": "2024-03-05T10:20:30.1234567Z", "userPrincipalName": "Ann@Contoso.com",
            "userId": "u1", "status": {"errorCode": 50126}, "isInteractive": false, "userDisplayName": null,
            "appliedConditionalAccessPolicies": [
                {"id": "p1", "result": "failure", "enforcedGrantControls": ["Mfa", "compliantDevice"]},
                {"id": "p2", "result": "success", "enforcedGrantControls": null}
            ],
            "riskEventTypes_v2": ["unfamiliarFeatures"]
        })
    }

    fn t(f: &str) -> bool {
        matches(&resolve_filter(&SIGN_INS, f).unwrap(), &doc())
    }

    #[test]
    fn semantics_are_case_insensitive_and_two_valued() {
        assert!(t("userPrincipalName eq 'ann@contoso.com'"));
        assert!(t("startswith(userPrincipalName, 'ANN')"));
        assert!(t("userDisplayName eq null"));
        assert!(t("userDisplayName ne 'x'"));
        assert!(!t("userDisplayName gt 'a'"));
        assert!(t("not (userDisplayName gt 'a')"));
        assert!(t("appId eq null and appId ne 'x'"));
        assert!(t("status/errorCode ge 50000 and status/errorCode in (50126, 1)"));
        assert!(t("not isInteractive"));
        assert!(t("year(createdDateTime) eq 2024 and month(createdDateTime) eq 3 and second(createdDateTime) eq 30"));
        assert!(t("date(createdDateTime) eq 2024-03-05"));
        assert!(t("createdDateTime gt 2024-03-05T10:20:30.1234566Z"));
        assert!(t("appliedConditionalAccessPolicies/any(p: p/result eq 'failure')"));
        assert!(!t("appliedConditionalAccessPolicies/all(p: p/result eq 'failure')"));
        assert!(t("riskEventTypes/all(x: x eq 'generic')"));
        assert!(!t("riskEventTypes/any()"));
        assert!(t("riskEventTypes_v2/any()"));
    }

    #[test]
    fn nested_lambdas_read_the_elements_json_and_outer_variables() {
        assert!(t(
            "appliedConditionalAccessPolicies/any(p: p/enforcedGrantControls/any(g: g eq 'mfa') and p/result eq 'failure')"
        ));
        assert!(!t(
            "appliedConditionalAccessPolicies/any(p: p/enforcedGrantControls/any(g: g eq 'mfa') and p/result eq 'success')"
        ));
        // A null array has no items.
        assert!(t(
            "appliedConditionalAccessPolicies/any(p: p/enforcedGrantControls/all(g: g eq 'x') and p/id eq 'p2')"
        ));
        assert!(t("appliedConditionalAccessPolicies/any(p: p/enforcedGrantControls/any(g: \
                   riskEventTypes_v2/any(r: startswith(r, 'unfamiliar') and p/id eq 'p1')))"));
        assert!(!t("appliedConditionalAccessPolicies/any(p: appliedConditionalAccessPolicies/any(q: q/id ne p/id \
                    and q/enforcedGrantControls/any(g: g eq 'mfa') and p/enforcedGrantControls/any()))"));
    }
}
