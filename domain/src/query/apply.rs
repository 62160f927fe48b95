//! `$apply` resolved against an entity set's registry, its in-memory meaning (the oracle the
//! database's `GROUP BY` is tested against) and the JSON rendering of its rows.
//!
//! The pipeline served is: any `filter(...)` and `compute(...)` steps over the entities, then one
//! `groupby(...)` or `aggregate(...)`, then optionally `topcount(n, alias)` and `orderby(...)`.
//! Meaning, written once here and compiled to SQL by `storage::apply`:
//!
//! 1. the rows are the set's rows in the caller's scope (tenant, own-only, retention) that every
//!    `filter` matches, values read as the tenant's license shows them (a hidden property reads
//!    `hidden`, so grouping by it gives one group and reveals nothing);
//! 2. groups by the key values (null is a value of its own; text keys are compared in lower case,
//!    as `$filter` compares them, and returned so; enum members in their canonical spelling);
//!    `aggregate(...)` alone is one group, even over no rows;
//! 3. `$count` counts rows; `countdistinct` the distinct non-null values; `min`, `max`, `sum`,
//!    `average` ignore nulls and are null when there is no value;
//! 4. `topcount(n, a)` keeps the `n` groups with the highest `a` (nulls last, ties broken by the
//!    keys ascending); the result is ordered by the `orderby` that follows it, else by `a`
//!    descending; without `topcount` by `orderby`; always then by the keys ascending (nulls
//!    first), so the order is total.

use std::cmp::Ordering;

use serde_json::{Map, Value};

use super::eval;
use super::filter::{Filter, Func, Operand, Scalar};
use super::registry::{EntitySet, ValueType};
use super::validate::{QueryError, resolve_filter_expr, resolve_operand, unknown_property};
use crate::odata::apply::{AggregateItem, Step, StepKind};
use crate::odata::ast::{Expr, ExprKind, Literal};
use crate::policy::Masks;
use crate::time::{format_ticks, from_ticks};

/// Most groups a `$apply` may return (without `$top`); more is a 400 that names the cap.
pub const MAX_GROUPS: usize = 10_000;
/// Most group keys and aggregates together.
pub const MAX_OUTPUTS: usize = 16;

/// How an output column is typed in the response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutKind {
    /// Text, or an enum (rendered with its member's canonical spelling).
    Text(ValueType),
    Int,
    Double,
    Bool,
    /// A DateTimeOffset, as Graph writes it.
    Ticks,
    /// An `Edm.Date` (`date(...)`), `YYYY-MM-DD`; held as the ticks of its midnight.
    Date,
}

/// A group key: a property or a computed date part of one.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupKey {
    /// The output name: the property path, or the `compute` alias.
    pub name: String,
    pub value: Operand,
    pub kind: OutKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Count,
    CountDistinct,
    Min,
    Max,
    Sum,
    Average,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Aggregate {
    pub alias: String,
    pub method: Method,
    /// `None` for `$count`.
    pub value: Option<Operand>,
    pub kind: OutKind,
}

/// An output column: a key or an aggregate, by index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Key(usize),
    Aggregate(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderKey {
    pub output: Output,
    pub descending: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopCount {
    pub n: usize,
    pub by: Output,
}

/// A resolved `$apply`.
#[derive(Debug, Clone, PartialEq)]
pub struct Apply {
    /// Every `filter(...)` step, and-ed.
    pub filter: Option<Filter>,
    pub keys: Vec<GroupKey>,
    pub aggregates: Vec<Aggregate>,
    pub top: Option<TopCount>,
    /// The result's order (before the keys that always follow).
    pub order: Vec<OrderKey>,
}

/// One output value of a group.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Int(i64),
    Double(f64),
    Bool(bool),
    Text(String),
    Ticks(i64),
}

fn aerr(offset: usize, message: impl Into<String>) -> QueryError {
    QueryError { option: "$apply", offset: Some(offset), message: message.into() }
}

fn as_apply(e: QueryError) -> QueryError {
    QueryError { option: "$apply", ..e }
}

fn kind_of(ty: ValueType) -> OutKind {
    match ty {
        ValueType::String | ValueType::Enum { .. } => OutKind::Text(ty),
        ValueType::Int32 => OutKind::Int,
        ValueType::Double => OutKind::Double,
        ValueType::Boolean => OutKind::Bool,
        ValueType::DateTimeOffset => OutKind::Ticks,
    }
}

/// A single-segment or property path written as an expression, as text.
fn path_of(e: &Expr) -> Option<String> {
    match &e.kind {
        ExprKind::Member(m) if m.lambda_var.is_none() => Some(m.names().collect::<Vec<_>>().join("/")),
        _ => None,
    }
}

struct Computed {
    alias: String,
    value: Operand,
    kind: OutKind,
}

struct Builder<'a> {
    set: &'a EntitySet,
    computed: Vec<Computed>,
}

impl Builder<'_> {
    /// A value named by a path: a `compute` alias, or a scalar property.
    fn value(&self, e: &Expr, what: &str) -> Result<(String, Operand, OutKind), QueryError> {
        let Some(path) = path_of(e) else {
            return Err(aerr(
                e.span.start,
                format!("{what} takes a property path or a compute alias; compute(...) other values first"),
            ));
        };
        if let Some(c) = self.computed.iter().find(|c| c.alias == path) {
            return Ok((c.alias.clone(), c.value.clone(), c.kind));
        }
        if let Some(c) = self.set.collection(&path) {
            return Err(aerr(
                e.span.start,
                format!("'{}' is a collection and cannot be used in {what}; filter on it with any/all", c.path),
            ));
        }
        let f = self.set.field(&path).ok_or_else(|| aerr(e.span.start, unknown_property(self.set, &path)))?;
        Ok((f.path.to_owned(), Operand::Field(f), kind_of(f.ty)))
    }

    fn compute(&mut self, e: &Expr, alias: &str, alias_at: usize) -> Result<(), QueryError> {
        let value = resolve_operand(self.set, e).map_err(as_apply)?;
        let kind = match &value {
            Operand::Call(Func::Date, inner) if matches!(**inner, Operand::Field(_)) => OutKind::Date,
            Operand::Call(Func::Year | Func::Month | Func::Day | Func::Hour, inner)
                if matches!(**inner, Operand::Field(_)) =>
            {
                OutKind::Int
            }
            _ => {
                return Err(aerr(
                    e.span.start,
                    "compute supports the date functions date, year, month, day and hour of a DateTimeOffset \
                     property, e.g. compute(date(createdDateTime) as day)",
                ));
            }
        };
        if self.set.field(alias).is_some() || self.set.collection(alias).is_some() {
            return Err(aerr(alias_at, format!("the alias '{alias}' is already a property of {}", self.set.type_name)));
        }
        if self.computed.iter().any(|c| c.alias.eq_ignore_ascii_case(alias)) {
            return Err(aerr(alias_at, format!("the alias '{alias}' is defined twice")));
        }
        self.computed.push(Computed { alias: alias.to_owned(), value, kind });
        Ok(())
    }

    fn aggregate(&self, item: &AggregateItem) -> Result<Aggregate, QueryError> {
        let alias = item.alias.name.clone();
        let (Some(value), Some(method)) = (&item.value, &item.method) else {
            return Ok(Aggregate { alias, method: Method::Count, value: None, kind: OutKind::Int });
        };
        let (_, operand, kind) = self.value(value, "aggregate")?;
        let bad = |m: &str| {
            aerr(
                method.offset,
                format!("{} cannot be aggregated with {}: {m}", path_of(value).unwrap_or_default(), method.name),
            )
        };
        let (method, kind) = match method.name.as_str() {
            "countdistinct" => (Method::CountDistinct, OutKind::Int),
            "min" | "max" if kind == OutKind::Bool => return Err(bad("it is a Boolean")),
            "min" => (Method::Min, kind),
            "max" => (Method::Max, kind),
            "sum" | "average" if !matches!(kind, OutKind::Int | OutKind::Double) => {
                return Err(bad("sum and average take a numeric property"));
            }
            "sum" => (Method::Sum, kind),
            _ => (Method::Average, OutKind::Double),
        };
        Ok(Aggregate { alias, method, value: Some(operand), kind })
    }
}

/// Parses and resolves a `$apply` value for `set`.
///
/// # Errors
/// A [`QueryError`] for `$apply` naming the position: a syntax error, an unsupported
/// transformation, an unknown or ungroupable property, an impossible pipeline.
pub fn resolve_apply(set: &EntitySet, input: &str) -> Result<Apply, QueryError> {
    let steps: Vec<Step> = crate::odata::parse_apply(input).map_err(|e| aerr(e.offset, e.message))?;
    let mut b = Builder { set, computed: Vec::new() };
    let mut filter: Option<Filter> = None;
    let mut grouped: Option<(Vec<GroupKey>, Vec<Aggregate>)> = None;
    let mut top: Option<(TopCount, usize)> = None;
    let mut orderby: Option<(Vec<OrderKey>, usize)> = None;
    for (index, step) in steps.iter().enumerate() {
        let at = step.offset;
        match (&step.kind, &grouped) {
            (StepKind::Filter(e), None) => {
                let f = resolve_filter_expr(set, e).map_err(as_apply)?;
                filter = Some(match filter.take() {
                    Some(prev) => Filter::And(Box::new(prev), Box::new(f)),
                    None => f,
                });
            }
            (StepKind::Compute(items), None) => {
                for (e, alias) in items {
                    b.compute(e, &alias.name, alias.offset)?;
                }
            }
            (StepKind::Filter(_) | StepKind::Compute(_), Some(_)) => {
                return Err(aerr(
                    at,
                    "unsupported transformation: filter and compute after groupby/aggregate; put them before it",
                ));
            }
            (StepKind::GroupBy { keys, aggregate }, None) => {
                let mut out = Vec::with_capacity(keys.len());
                for k in keys {
                    let (name, value, kind) = b.value(k, "groupby")?;
                    out.push(GroupKey { name, value, kind });
                }
                let aggs = aggregate.iter().map(|a| b.aggregate(a)).collect::<Result<_, _>>()?;
                grouped = Some((out, aggs));
            }
            (StepKind::Aggregate(items), None) => {
                let aggs = items.iter().map(|a| b.aggregate(a)).collect::<Result<_, _>>()?;
                grouped = Some((Vec::new(), aggs));
            }
            (StepKind::GroupBy { .. } | StepKind::Aggregate(_), Some(_)) => {
                return Err(aerr(at, "unsupported transformation: a second groupby/aggregate step"));
            }
            (StepKind::TopCount { .. } | StepKind::OrderBy(_), None) => {
                return Err(aerr(at, "topcount and orderby come after a groupby(...) or aggregate(...) step"));
            }
            (StepKind::TopCount { count, value }, Some((keys, aggs))) => {
                if top.is_some() {
                    return Err(aerr(at, "topcount may appear once"));
                }
                let n = match &count.kind {
                    ExprKind::Literal(Literal::Int(n)) => {
                        usize::try_from(*n).ok().filter(|n| (1..=MAX_GROUPS).contains(n))
                    }
                    _ => None,
                };
                let n = n.ok_or_else(|| {
                    aerr(count.span.start, format!("topcount's count must be a whole number from 1 to {MAX_GROUPS}"))
                })?;
                let by = output(keys, aggs, value)?;
                if !matches!(kind(keys, aggs, by), OutKind::Int | OutKind::Double) {
                    return Err(aerr(
                        value.span.start,
                        "topcount ranks by a numeric aggregate alias, e.g. topcount(3,n)",
                    ));
                }
                top = Some((TopCount { n, by }, index));
            }
            (StepKind::OrderBy(items), Some((keys, aggs))) => {
                if orderby.is_some() {
                    return Err(aerr(at, "orderby may appear once"));
                }
                let order = items
                    .iter()
                    .map(|(e, descending)| Ok(OrderKey { output: output(keys, aggs, e)?, descending: *descending }))
                    .collect::<Result<_, QueryError>>()?;
                orderby = Some((order, index));
            }
        }
    }
    let Some((keys, aggregates)) = grouped else {
        return Err(aerr(
            0,
            "$apply needs a groupby(...) or aggregate(...) step (to list filtered entities, use $filter)",
        ));
    };
    let names: Vec<&str> =
        keys.iter().map(|k| k.name.as_str()).chain(aggregates.iter().map(|a| a.alias.as_str())).collect();
    if names.len() > MAX_OUTPUTS {
        return Err(aerr(
            0,
            format!("at most {MAX_OUTPUTS} group keys and aggregates together; this has {}", names.len()),
        ));
    }
    for (i, n) in names.iter().enumerate() {
        if names.iter().take(i).any(|m| m.eq_ignore_ascii_case(n)) {
            return Err(aerr(0, format!("'{n}' is named twice in the result; give each aggregate its own alias")));
        }
    }
    let order = match (top, orderby) {
        (Some((_, t)), Some((order, o))) if o > t => order,
        (Some((t, _)), _) => vec![OrderKey { output: t.by, descending: true }],
        (None, Some((order, _))) => order,
        (None, None) => Vec::new(),
    };
    Ok(Apply { filter, keys, aggregates, top: top.map(|(t, _)| t), order })
}

/// The output `e` names: a key (by its path or alias) or an aggregate alias.
fn output(keys: &[GroupKey], aggs: &[Aggregate], e: &Expr) -> Result<Output, QueryError> {
    let path = path_of(e).unwrap_or_default();
    if let Some(i) = keys.iter().position(|k| k.name.eq_ignore_ascii_case(&path)) {
        return Ok(Output::Key(i));
    }
    if let Some(i) = aggs.iter().position(|a| a.alias == path) {
        return Ok(Output::Aggregate(i));
    }
    let names: Vec<&str> = keys.iter().map(|k| k.name.as_str()).chain(aggs.iter().map(|a| a.alias.as_str())).collect();
    Err(aerr(e.span.start, format!("'{path}' is not in the grouped result. Available: {}", names.join(", "))))
}

fn kind(keys: &[GroupKey], aggs: &[Aggregate], o: Output) -> OutKind {
    match o {
        Output::Key(i) => keys.get(i).map_or(OutKind::Int, |k| k.kind),
        Output::Aggregate(i) => aggs.get(i).map_or(OutKind::Int, |a| a.kind),
    }
}

impl Apply {
    /// The output columns' kinds: the keys, then the aggregates.
    pub fn kinds(&self) -> impl Iterator<Item = OutKind> + '_ {
        self.keys.iter().map(|k| k.kind).chain(self.aggregates.iter().map(|a| a.kind))
    }

    /// The output names, in order (for the context URL).
    pub fn names(&self) -> impl Iterator<Item = &str> + '_ {
        self.keys.iter().map(|k| k.name.as_str()).chain(self.aggregates.iter().map(|a| a.alias.as_str()))
    }

    /// The column index of an output.
    #[must_use]
    pub fn column(&self, o: Output) -> usize {
        match o {
            Output::Key(i) => i,
            Output::Aggregate(i) => self.keys.len() + i,
        }
    }

    /// One result row as OData JSON: `@odata.id` null, keys (nested by path) and aggregates.
    #[must_use]
    pub fn render(&self, cells: &[Cell]) -> Value {
        let mut row = Map::new();
        row.insert("@odata.id".into(), Value::Null);
        for ((name, kind), cell) in self.names().zip(self.kinds()).zip(cells) {
            insert_path(&mut row, name, render_cell(kind, cell));
        }
        Value::Object(row)
    }

    /// The oracle: the result rows over `docs` (the rows in the caller's scope) as a tenant with
    /// `masks` sees them.
    #[must_use]
    pub fn evaluate(&self, docs: &[Value], masks: &Masks) -> Vec<Vec<Cell>> {
        let rows: Vec<&Value> =
            docs.iter().filter(|d| self.filter.as_ref().is_none_or(|f| eval::matches_masked(f, d, masks))).collect();
        let mut groups: Vec<(Vec<Scalar>, Vec<&Value>)> = Vec::new();
        if self.keys.is_empty() {
            groups.push((Vec::new(), rows));
        } else {
            for d in rows {
                let key: Vec<Scalar> = self.keys.iter().map(|k| eval::operand_value(&k.value, d, masks)).collect();
                match groups.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, members)) => members.push(d),
                    None => groups.push((key, vec![d])),
                }
            }
        }
        let mut out: Vec<Vec<Cell>> = groups
            .into_iter()
            .map(|(key, members)| {
                key.into_iter()
                    .map(cell_of)
                    .chain(self.aggregates.iter().map(|a| aggregate(a, &members, masks)))
                    .collect()
            })
            .collect();
        let by_keys = |a: &Vec<Cell>, b: &Vec<Cell>| {
            (0..self.keys.len()).fold(Ordering::Equal, |acc, i| acc.then_with(|| cmp_cells(a.get(i), b.get(i), false)))
        };
        if let Some(t) = self.top {
            let c = self.column(t.by);
            out.sort_by(|a, b| cmp_cells(a.get(c), b.get(c), true).then_with(|| by_keys(a, b)));
            out.truncate(t.n);
        }
        out.sort_by(|a, b| {
            self.order
                .iter()
                .fold(Ordering::Equal, |acc, k| {
                    let c = self.column(k.output);
                    acc.then_with(|| cmp_cells(a.get(c), b.get(c), k.descending))
                })
                .then_with(|| by_keys(a, b))
        });
        out
    }
}

/// Inserts `value` at `path` (`a/b`), creating the objects on the way.
fn insert_path(row: &mut Map<String, Value>, path: &str, value: Value) {
    match path.split_once('/') {
        None => {
            row.insert(path.to_owned(), value);
        }
        Some((head, rest)) => {
            let entry = row.entry(head.to_owned()).or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            if let Value::Object(inner) = entry {
                insert_path(inner, rest, value);
            }
        }
    }
}

fn cell_of(s: Scalar) -> Cell {
    match s {
        Scalar::Null => Cell::Null,
        Scalar::Bool(b) => Cell::Bool(b),
        Scalar::Int(i) => Cell::Int(i),
        Scalar::Double(d) => Cell::Double(d),
        Scalar::Text(t) => Cell::Text(t),
        Scalar::Ticks(t) => Cell::Ticks(t),
    }
}

/// Orders two cells, nulls first ascending and last descending (as `$orderby` does).
#[must_use]
pub fn cmp_cells(a: Option<&Cell>, b: Option<&Cell>, descending: bool) -> Ordering {
    let null = |c: Option<&Cell>| matches!(c, None | Some(Cell::Null));
    let o = match (null(a), null(b)) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) => match (a, b) {
            (Some(Cell::Int(x) | Cell::Ticks(x)), Some(Cell::Int(y) | Cell::Ticks(y))) => x.cmp(y),
            (Some(Cell::Double(x)), Some(Cell::Double(y))) => x.total_cmp(y),
            (Some(Cell::Int(x)), Some(Cell::Double(y))) => (*x as f64).total_cmp(y),
            (Some(Cell::Double(x)), Some(Cell::Int(y))) => x.total_cmp(&(*y as f64)),
            (Some(Cell::Bool(x)), Some(Cell::Bool(y))) => x.cmp(y),
            (Some(Cell::Text(x)), Some(Cell::Text(y))) => x.as_bytes().cmp(y.as_bytes()),
            _ => Ordering::Equal,
        },
    };
    if descending { o.reverse() } else { o }
}

fn aggregate(a: &Aggregate, rows: &[&Value], masks: &Masks) -> Cell {
    let Some(value) = &a.value else {
        return Cell::Int(i64::try_from(rows.len()).unwrap_or(i64::MAX));
    };
    let values: Vec<Scalar> =
        rows.iter().map(|d| eval::operand_value(value, d, masks)).filter(|v| *v != Scalar::Null).collect();
    match a.method {
        Method::Count => Cell::Int(i64::try_from(rows.len()).unwrap_or(i64::MAX)),
        Method::CountDistinct => {
            let mut distinct: Vec<&Scalar> = Vec::new();
            for v in &values {
                if !distinct.contains(&v) {
                    distinct.push(v);
                }
            }
            Cell::Int(i64::try_from(distinct.len()).unwrap_or(i64::MAX))
        }
        Method::Min | Method::Max => {
            let want = if a.method == Method::Min { Ordering::Less } else { Ordering::Greater };
            let best = values.into_iter().reduce(|x, y| if eval::order(&y, &x) == Some(want) { y } else { x });
            best.map_or(Cell::Null, cell_of)
        }
        Method::Sum | Method::Average => {
            if values.is_empty() {
                return Cell::Null;
            }
            let n = values.len();
            let ints: Option<Vec<i64>> =
                values.iter().map(|v| if let Scalar::Int(i) = v { Some(*i) } else { None }).collect();
            match (a.method, ints) {
                (Method::Sum, Some(ints)) => Cell::Int(ints.iter().sum()),
                (_, Some(ints)) => Cell::Double(ints.iter().sum::<i64>() as f64 / n as f64),
                (method, None) => {
                    let sum: f64 = values
                        .iter()
                        .map(|v| match v {
                            Scalar::Int(i) => *i as f64,
                            Scalar::Double(d) => *d,
                            _ => 0.0,
                        })
                        .sum();
                    if method == Method::Sum { Cell::Double(sum) } else { Cell::Double(sum / n as f64) }
                }
            }
        }
    }
}

/// A value as the database returns it (text, or NULL) read as a cell of `kind`.
///
/// # Errors
/// A message when the text is not a value of that kind.
pub fn cell_from_text(kind: OutKind, text: Option<&str>) -> Result<Cell, String> {
    let Some(t) = text else { return Ok(Cell::Null) };
    let bad = || format!("'{t}' is not a {kind:?} value");
    Ok(match kind {
        OutKind::Text(_) => Cell::Text(t.to_owned()),
        OutKind::Int => Cell::Int(t.parse().map_err(|_| bad())?),
        OutKind::Ticks | OutKind::Date => Cell::Ticks(t.parse().map_err(|_| bad())?),
        OutKind::Double => Cell::Double(t.parse().map_err(|_| bad())?),
        OutKind::Bool => match t {
            "true" | "t" | "1" => Cell::Bool(true),
            "false" | "f" | "0" => Cell::Bool(false),
            _ => return Err(bad()),
        },
    })
}

fn render_cell(kind: OutKind, cell: &Cell) -> Value {
    match (kind, cell) {
        (_, Cell::Null) => Value::Null,
        (OutKind::Text(ValueType::Enum { members, .. }), Cell::Text(t)) => Value::String(
            members.iter().find(|m| m.eq_ignore_ascii_case(t)).map_or_else(|| t.clone(), |m| (*m).to_owned()),
        ),
        (OutKind::Date, Cell::Ticks(t)) => Value::String(from_ticks(*t).format("%Y-%m-%d").to_string()),
        (OutKind::Ticks, Cell::Ticks(t)) => Value::String(format_ticks(*t)),
        (_, Cell::Text(t)) => Value::String(t.clone()),
        (_, Cell::Int(i) | Cell::Ticks(i)) => Value::from(*i),
        (_, Cell::Double(d)) => serde_json::Number::from_f64(*d).map_or(Value::Null, Value::Number),
        (_, Cell::Bool(b)) => Value::Bool(*b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::registry::SIGN_INS;

    fn bad(input: &str) -> String {
        resolve_apply(&SIGN_INS, input).unwrap_err().to_string()
    }

    #[test]
    fn the_subset_resolves() {
        for input in [
            "groupby((appDisplayName))",
            "groupby((appDisplayName,status/errorCode),aggregate($count as n))",
            "aggregate($count as n,userId with countdistinct as users)",
            "filter(status/errorCode eq 0)/compute(date(createdDateTime) as day)/groupby((day),aggregate($count as n))",
            "groupby((appId),aggregate($count as n))/topcount(3,n)",
            "groupby((appId),aggregate(createdDateTime with max as last,status/errorCode with sum as s))/orderby(last desc)",
            "aggregate(location/geoCoordinates/latitude with average as lat)",
        ] {
            resolve_apply(&SIGN_INS, input).unwrap_or_else(|e| panic!("{input}: {e}"));
        }
    }

    #[test]
    fn refusals_name_the_problem() {
        assert!(bad("search(x)").contains("unsupported transformation 'search'"));
        assert!(bad("groupby((appliedConditionalAccessPolicies))").contains("collection"));
        assert!(bad("groupby((appNam))").contains("Did you mean"));
        assert!(bad("aggregate(appId with sum as s)").contains("numeric"));
        assert!(bad("filter(appId eq 'x')").contains("needs a groupby"));
        assert!(bad("groupby((appId))/filter(appId eq 'x')").contains("unsupported transformation"));
        assert!(bad("groupby((appId),aggregate($count as appId))").contains("twice"));
        assert!(bad("groupby((appId),aggregate($count as n))/topcount(0,n)").contains("1 to 10000"));
        assert!(bad("compute(tolower(appId) as a)/groupby((a))").contains("date functions"));
        assert!(bad("aggregate(Amount with Custom.concat as x)").contains("unsupported aggregation method"));
    }

    #[test]
    fn rows_render_nested_and_typed() {
        let a = resolve_apply(&SIGN_INS, "groupby((status/errorCode,riskState),aggregate($count as n))").unwrap();
        let row = a.render(&[Cell::Int(0), Cell::Text("atrisk".into()), Cell::Int(3)]);
        assert_eq!(
            row,
            serde_json::json!({"@odata.id": null, "status": {"errorCode": 0}, "riskState": "atRisk", "n": 3})
        );
        let a = resolve_apply(&SIGN_INS, "compute(date(createdDateTime) as day)/groupby((day))").unwrap();
        let t = crate::time::parse_ticks("2026-11-27T00:00:00Z").unwrap();
        assert_eq!(a.render(&[Cell::Ticks(t)])["day"], "2026-11-27");
    }
}
