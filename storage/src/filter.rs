//! Compiles a resolved `$filter` (`domain::query::Filter`) and sort order to SQL for either backend.
//! Every value is a bound parameter; the only text spliced into SQL comes from the registry
//! (column names, document paths) and from `storage::indexes` (a partial index's predicate, whose
//! constants are the code's own), never from the request.
//!
//! Two shapes are written as a partial index's predicate rather than in their general form, because
//! a database uses a partial index only for a WHERE clause that contains its predicate as written:
//! `appliedConditionalAccessPolicies/any(p: p/result eq 'failure')` reads `sign_ins.ca_failed`, and
//! `riskLevelDuringSignIn ne 'none'` compares with a spliced `'none'`. Both mean exactly what the
//! general form means (the oracle property test generates them).
//!
//! Semantics follow `domain::query::eval` exactly: promoted text columns are stored in lower case
//! and literals arrive in lower case; logic is two-valued (a comparison with NULL is false, `ne`
//! with NULL is true), so every comparison guards its NULLs explicitly.

use domain::query::{
    CmpOp, CollectionField, Element, EntitySet, Field, Filter, Func, Operand, Owner, Scalar, SortKey, Source,
    TextMatch, ValueType,
};

use domain::policy::Masks;

use crate::conn::Backend;
use crate::indexes::{CA_FAILED, PREFIX_CHARS, RISKY, prefix_index};
use crate::sql::{Param, Sql};

/// The Conditional Access result that `sign_ins.ca_failed` summarises, as the child rows keep it.
pub const CA_FAILURE: &str = "failure";
/// The child table of a sign-in's Conditional Access policies, and its result column.
const CA_POLICIES: &str = "sign_in_ca_policies";
const CA_RESULT: &str = "result";
/// `riskLevelDuringSignIn`'s column, and the level [`RISKY`] leaves out.
const RISK_LEVEL: &str = "risk_level_during_sign_in";
const NO_RISK: &str = "none";

/// How a lambda relates to `sign_ins.ca_failed` (`Compiler::ca_failure`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CaFailure {
    No,
    Exactly,
    Implied,
}

/// The `and`ed conditions of `f` (itself when it is no `and`).
pub(crate) fn conjuncts(f: &Filter) -> Vec<&Filter> {
    match f {
        Filter::And(a, b) => {
            let mut out = conjuncts(a);
            out.extend(conjuncts(b));
            out
        }
        other => vec![other],
    }
}

/// The alias of the entity table in every query.
pub const ALIAS: &str = "s";

/// Compiles filters for one entity set, as one tenant sees it.
pub struct Compiler<'a> {
    set: &'a EntitySet,
    /// What the tenant's license masks: hidden fields read `hidden` everywhere, filters and
    /// sorting too; premium values of a generic-masked field read `generic`.
    masks: Masks,
}

/// One lambda in scope: the alias of its rows and what they range over.
#[derive(Clone, Copy)]
struct Level {
    alias: &'static str,
    collection: &'static CollectionField,
    owner: Owner,
}

/// The lambdas in scope, outermost first (an operand's `Var` indexes them).
#[derive(Clone, Default)]
struct Scope {
    levels: Vec<Level>,
}

/// The row alias of each lambda depth (the validator allows three).
const LEVEL_ALIASES: &[&str] = &["c", "c1", "c2", "c3", "c4"];

impl Scope {
    fn level(&self, var: usize) -> Option<Level> {
        self.levels.get(var).copied()
    }

    /// The scope of a lambda body, and the alias of the new lambda's rows.
    fn enter(&self, owner: Owner, collection: &'static CollectionField) -> Self {
        let alias = LEVEL_ALIASES.get(self.levels.len()).copied().unwrap_or("c5");
        let mut levels = self.levels.clone();
        levels.push(Level { alias, collection, owner });
        Self { levels }
    }
}

fn scalar_param(s: &Scalar) -> Param {
    match s {
        Scalar::Null => Param::NullableText(None),
        Scalar::Bool(b) => Param::Bool(*b),
        Scalar::Int(i) | Scalar::Ticks(i) => Param::BigInt(*i),
        Scalar::Double(d) => Param::Double(*d),
        Scalar::Text(t) => Param::Text(t.clone()),
    }
}

/// Escapes `%`, `_` and `\` for a LIKE pattern with `ESCAPE '\'`.
fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The literal prefix of a startswith pattern (`abc%` escaped → `abc`).
fn pattern_prefix(pattern: &str) -> &str {
    pattern.strip_suffix('%').unwrap_or(pattern)
}

/// The smallest string greater than every string that starts with `prefix` (bytewise), if the
/// prefix holds no escaped wildcard (then the LIKE alone decides).
fn prefix_upper_bound(prefix: &str) -> Option<String> {
    if prefix.is_empty() || prefix.contains('\\') {
        return None;
    }
    let mut chars: Vec<char> = prefix.chars().collect();
    let last = chars.pop()?;
    let next = char::from_u32(u32::from(last) + 1)?;
    chars.push(next);
    Some(chars.into_iter().collect())
}

/// `startswith(column, prefix)` on a column with a prefix index, for a prefix at least as long as
/// its key (`key`, the prefix's first [`PREFIX_CHARS`] characters): the key's equality, which the
/// index answers in the default order, then the rest of the prefix. A prefix of exactly the key's
/// length is the equality alone. A longer one adds the names' range (or, when the prefix holds a
/// character LIKE would need escaped, the LIKE), and no second form of the same condition: the
/// planner multiplies the selectivities of the conditions it is given, so every redundant one
/// makes the prefix look rarer than it is, and a prefix that looks rarer than a page is read
/// whole and sorted instead of read in order (measured: `left = 'alex'` with the range and the
/// LIKE beside it was estimated at 1 row of 200, and sorted).
fn prefix_match(sql: &mut Sql, column: &str, key: String, prefix: &str) {
    sql.push("(").push(ALIAS).push(".").push(column).push(" IS NOT NULL AND left(").push(ALIAS).push(".");
    sql.push(column).push(&format!(", {PREFIX_CHARS}) = ")).bind(Param::Text(key));
    if prefix.chars().count() > PREFIX_CHARS {
        let escaped = like_escape(prefix);
        sql.push(" AND ").push(ALIAS).push(".").push(column);
        match prefix_upper_bound(&escaped) {
            Some(upper) => {
                sql.push(" >= ").bind(Param::Text(prefix.to_owned())).push(" AND ");
                sql.push(ALIAS).push(".").push(column).push(" < ").bind(Param::Text(upper));
            }
            None => {
                sql.push(" LIKE ").bind(Param::Text(format!("{escaped}%"))).push(" ESCAPE '\\'");
            }
        }
    }
    sql.push(")");
}

/// The stored document of the row `alias` as JSON: SQLite reads the text, PostgreSQL casts it.
fn document_json(backend: Backend, alias: &str) -> String {
    match backend {
        Backend::Sqlite => format!("{alias}.doc"),
        Backend::Postgres => format!("{alias}.doc::jsonb"),
    }
}

/// The value at `path` (`a/b`; empty: the JSON value itself, PostgreSQL only) of the JSON
/// `holder`, typed as `ty`; text in lower case and compared bytewise, like the promoted columns.
fn json_value(sql: &mut Sql, holder: &str, path: &str, ty: ValueType) {
    let textual = ty.is_textual();
    if textual {
        sql.push("lower(");
    }
    match sql.backend() {
        Backend::Sqlite => {
            let path: String = path.split('/').map(|s| format!(".{s}")).collect();
            sql.push("json_extract(").push(holder).push(", '$").push(&path).push("')");
        }
        Backend::Postgres => {
            let path = path.replace('/', ",");
            let cast = match ty {
                ValueType::Int32 => "::integer",
                ValueType::Double => "::double precision",
                ValueType::Boolean => "::boolean",
                _ => "",
            };
            sql.push("((").push(holder).push(" #>> '{").push(&path).push("}')").push(cast).push(")");
        }
    }
    if textual {
        sql.push(")");
        if sql.backend() == Backend::Postgres {
            // Bytewise like the promoted columns, whatever the database's default.
            sql.push(" COLLATE \"C\"");
        }
    }
}

impl<'a> Compiler<'a> {
    #[must_use]
    pub fn new(set: &'a EntitySet) -> Self {
        Self { set, masks: Masks::NONE }
    }

    /// The same compiler for a tenant whose license masks fields with `masks`.
    #[must_use]
    pub fn masking(mut self, masks: Masks) -> Self {
        self.masks = masks;
        self
    }

    fn hidden(&self, f: &Field) -> bool {
        self.masks.hidden.contains(&f.path)
    }

    /// A top-level field as the tenant sees it: premium values of a generic-masked field read
    /// `generic` (a CASE over the column), everything else is the field itself.
    fn visible_field(&self, sql: &mut Sql, f: &Field) {
        match self.masks.generic_of(f.path) {
            Some(g) => {
                sql.push("(CASE WHEN ");
                self.field(sql, ALIAS, f);
                sql.push(" IS NULL OR ");
                self.field(sql, ALIAS, f);
                sql.push(" IN (");
                for (i, v) in g.shown.iter().enumerate() {
                    if i > 0 {
                        sql.push(", ");
                    }
                    sql.bind(Param::Text((*v).to_owned()));
                }
                sql.push(") THEN ");
                self.field(sql, ALIAS, f);
                sql.push(" ELSE ").bind(Param::Text(domain::policy::GENERIC.to_owned())).push(" END)");
            }
            None => self.field(sql, ALIAS, f),
        }
    }

    /// Appends ` AND (filter)` to `sql`.
    pub fn push_filter(&self, sql: &mut Sql, filter: &Filter) {
        sql.push(" AND ");
        self.filter(sql, filter, &Scope::default());
    }

    /// Appends the SQL value of a top-level operand (a property as the tenant sees it, or a
    /// function of one): what `$apply` groups and aggregates.
    pub fn push_value(&self, sql: &mut Sql, o: &Operand) {
        self.operand(sql, o, &Scope::default());
    }

    fn filter(&self, sql: &mut Sql, f: &Filter, scope: &Scope) {
        match f {
            Filter::Const(b) => {
                sql.push(if *b { "1 = 1" } else { "1 = 0" });
            }
            Filter::And(a, b) | Filter::Or(a, b) => {
                sql.push("(");
                self.filter(sql, a, scope);
                sql.push(if matches!(f, Filter::And(..)) { " AND " } else { " OR " });
                self.filter(sql, b, scope);
                sql.push(")");
            }
            Filter::Not(a) => {
                sql.push("NOT (");
                self.filter(sql, a, scope);
                sql.push(")");
            }
            Filter::Compare { op, lhs, rhs } => self.compare(sql, *op, lhs, rhs, scope),
            Filter::In { lhs, values } => {
                sql.push("(");
                self.operand(sql, lhs, scope);
                sql.push(" IS NOT NULL AND ");
                self.operand(sql, lhs, scope);
                sql.push(" IN (");
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        sql.push(", ");
                    }
                    sql.bind(scalar_param(v));
                }
                sql.push("))");
            }
            Filter::Match { kind: TextMatch::StartsWith, lhs, pattern }
                if let Some((column, key)) = self.prefix_key(sql.backend(), lhs, pattern) =>
            {
                prefix_match(sql, column, key, pattern);
            }
            Filter::Match { kind, lhs, pattern } => {
                // Its selectivity is the pattern's, which a generic plan cannot know.
                sql.plan_per_run();
                let escaped = like_escape(pattern);
                let pattern = match kind {
                    TextMatch::StartsWith => format!("{escaped}%"),
                    TextMatch::EndsWith => format!("%{escaped}"),
                    TextMatch::Contains => format!("%{escaped}%"),
                };
                sql.push("(");
                self.operand(sql, lhs, scope);
                sql.push(" IS NOT NULL AND ");
                if *kind == TextMatch::StartsWith
                    && let Some(upper) = prefix_upper_bound(pattern_prefix(&pattern))
                {
                    // A range on the prefix as well, so a plain (bytewise) index answers it.
                    self.operand(sql, lhs, scope);
                    sql.push(" >= ").bind(Param::Text(pattern_prefix(&pattern).to_owned())).push(" AND ");
                    self.operand(sql, lhs, scope);
                    sql.push(" < ").bind(Param::Text(upper)).push(" AND ");
                }
                self.operand(sql, lhs, scope);
                sql.push(" LIKE ").bind(Param::Text(pattern)).push(" ESCAPE '\\')");
            }
            Filter::IsTrue(o) => {
                sql.push("(");
                self.operand(sql, o, scope);
                sql.push(" IS NOT NULL AND ");
                self.operand(sql, o, scope);
                sql.push(" = ").bind(Param::Bool(true)).push(")");
            }
            Filter::Any { owner, collection, predicate } => {
                let summary = self.ca_failure(*owner, collection, predicate.as_deref(), scope);
                if summary == CaFailure::Exactly {
                    sql.push("(").push(CA_FAILED.predicate).push(")");
                    return;
                }
                if summary == CaFailure::Implied {
                    sql.push("(").push(CA_FAILED.predicate).push(" AND ");
                }
                sql.push("EXISTS (");
                let inner = self.rows(sql, scope, *owner, collection);
                if let Some(p) = predicate {
                    sql.push(" AND ");
                    self.filter(sql, p, &inner);
                }
                sql.push(")");
                if summary == CaFailure::Implied {
                    sql.push(")");
                }
            }
            Filter::All { owner, collection, predicate } => {
                sql.push("NOT EXISTS (");
                let inner = self.rows(sql, scope, *owner, collection);
                sql.push(" AND NOT (");
                self.filter(sql, predicate, &inner);
                sql.push("))");
            }
        }
    }

    /// For `startswith(lhs, prefix)`: the column of a [`PrefixIndex`](crate::indexes::PrefixIndex)
    /// and its key, when `lhs` is that column as stored (not masked) and `prefix` is at least as
    /// long as the key (a shorter one matches several keys, no single range of the index).
    fn prefix_key(&self, backend: Backend, lhs: &Operand, prefix: &str) -> Option<(&'static str, String)> {
        let Operand::Field(f) = lhs else { return None };
        let Source::Column(column) = f.source else { return None };
        if backend != Backend::Postgres || self.hidden(f) || self.masks.generic_of(f.path).is_some() {
            return None;
        }
        let index = prefix_index(self.set.table, column)?;
        let key: String = prefix.chars().take(PREFIX_CHARS).collect();
        (key.chars().count() == PREFIX_CHARS).then_some((index.column, key))
    }

    /// Whether a lambda over the sign-in's Conditional Access policies asks for a failed one, which
    /// `sign_ins.ca_failed` records (ingest sets it from the same child rows the `EXISTS` reads):
    /// `Exactly` for `any(p: p/result eq 'failure')` with the lambda's own variable, at any depth
    /// (the collection is the entity's, whichever lambda it sits in); `Implied` when that
    /// comparison is one of the `and`ed conditions of the predicate (no sign-in without a failed
    /// policy can match, so the column narrows the rows first, from its index). Never for a masked
    /// collection, whose values would read `generic`.
    fn ca_failure(&self, owner: Owner, c: &CollectionField, predicate: Option<&Filter>, scope: &Scope) -> CaFailure {
        let masked = self.masks.hidden.contains(&c.path) || self.masks.generic_of(c.path).is_some();
        if owner != Owner::Entity || self.set.table != CA_FAILED.table || c.table != CA_POLICIES || masked {
            return CaFailure::No;
        }
        let var = scope.levels.len();
        let failed = |f: &Filter| {
            matches!(f, Filter::Compare {
                op: CmpOp::Eq,
                lhs: Operand::ElementField(v, field),
                rhs: Operand::Literal(Scalar::Text(t)),
            } if *v == var && field.source == Source::Column(CA_RESULT) && t == CA_FAILURE)
        };
        match predicate {
            Some(p) if failed(p) => CaFailure::Exactly,
            Some(p) if conjuncts(p).into_iter().any(failed) => CaFailure::Implied,
            _ => CaFailure::No,
        }
    }

    /// Whether `lhs ne literal` is `riskLevelDuringSignIn ne 'none'` as the tenant sees it
    /// unmasked: the predicate of [`RISKY`]'s partial index.
    fn risky(&self, op: CmpOp, lhs: &Operand, literal: &Scalar) -> bool {
        matches!(lhs, Operand::Field(f) if f.source == Source::Column(RISK_LEVEL)
            && !self.hidden(f)
            && self.masks.generic_of(f.path).is_none())
            && op == CmpOp::Ne
            && self.set.table == RISKY.table
            && *literal == Scalar::Text(NO_RISK.to_owned())
    }

    /// `SELECT 1 FROM <the collection's items> WHERE <they belong to this row>` (the caller
    /// appends ` AND ...`), and the scope of the lambda body over them: child-table rows for an
    /// entity's collection, the JSON array's items for a nested one.
    fn rows(&self, sql: &mut Sql, scope: &Scope, owner: Owner, c: &'static CollectionField) -> Scope {
        let inner = scope.enter(owner, c);
        let alias = inner.levels.last().map_or("c", |l| l.alias);
        if owner == Owner::Entity && c.in_child_table() {
            sql.push("SELECT 1 FROM ")
                .push(c.table)
                .push(" ")
                .push(alias)
                .push(" WHERE ")
                .push(alias)
                .push(".tenant_id = s.tenant_id AND ")
                .push(alias)
                .push(".")
                .push(self.set.child_key)
                .push(" = s.id AND ")
                .push(alias)
                .push(".created_ticks = s.created_ticks");
            if let Some((column, value)) = c.discriminator {
                sql.push(" AND ").push(alias).push(".").push(column).push(" = ").bind(Param::Integer(value));
            }
            return inner;
        }
        let holder = match owner {
            Owner::Entity => document_json(sql.backend(), ALIAS),
            Owner::Element(var) => self.element_json(sql.backend(), scope, var),
        };
        // Only an array has items (a null or missing property has none, as in the oracle).
        match sql.backend() {
            Backend::Sqlite => {
                let at = format!("'$.{}'", c.path);
                sql.push("SELECT 1 FROM json_each(").push(&holder).push(", ").push(&at).push(") ").push(alias);
                sql.push(" WHERE json_type(").push(&holder).push(", ").push(&at).push(") = 'array'");
            }
            Backend::Postgres => {
                let array = format!("({holder} -> '{}')", c.path);
                sql.push("SELECT 1 FROM jsonb_array_elements(CASE WHEN jsonb_typeof(").push(&array);
                sql.push(") = 'array' THEN ").push(&array).push(" END) AS ").push(alias).push("(value) WHERE 1 = 1");
            }
        }
        inner
    }

    /// The JSON of lambda `var`'s element: a child row's item of the stored document (by its
    /// ordinal), or the JSON array item itself. SQLite: JSON text; PostgreSQL: `jsonb`.
    fn element_json(&self, backend: Backend, scope: &Scope, var: usize) -> String {
        let Some(level) = scope.level(var) else { return "NULL".to_owned() };
        if level.owner == Owner::Entity && level.collection.in_child_table() {
            let (alias, path) = (level.alias, level.collection.path);
            match backend {
                Backend::Sqlite => format!("json_extract({ALIAS}.doc, '$.{path}[' || {alias}.ordinal || ']')"),
                Backend::Postgres => format!("({} -> '{path}' -> {alias}.ordinal)", document_json(backend, ALIAS)),
            }
        } else {
            format!("{}.value", level.alias)
        }
    }

    fn compare(&self, sql: &mut Sql, op: CmpOp, lhs: &Operand, rhs: &Operand, scope: &Scope) {
        match rhs {
            Operand::Literal(Scalar::Null) => {
                sql.push("(");
                self.operand(sql, lhs, scope);
                sql.push(if op == CmpOp::Eq { " IS NULL)" } else { " IS NOT NULL)" });
            }
            Operand::Literal(v) if self.risky(op, lhs, v) => {
                sql.push("(").push(RISKY.predicate).push(")");
            }
            Operand::Literal(v) => {
                sql.push("(");
                self.operand(sql, lhs, scope);
                if op == CmpOp::Ne {
                    sql.push(" IS NULL OR ");
                } else {
                    sql.push(" IS NOT NULL AND ");
                }
                self.operand(sql, lhs, scope);
                sql.push(" ").push(op.sql()).push(" ").bind(scalar_param(v)).push(")");
            }
            _ => {
                // Two properties: equal when both are null or both equal; ordered only when neither is.
                let both_set = |sql: &mut Sql| {
                    self.operand(sql, lhs, scope);
                    sql.push(" IS NOT NULL AND ");
                    self.operand(sql, rhs, scope);
                    sql.push(" IS NOT NULL AND ");
                };
                match op {
                    CmpOp::Eq | CmpOp::Ne => {
                        sql.push(if op == CmpOp::Ne { "NOT (" } else { "(" });
                        sql.push("(");
                        self.operand(sql, lhs, scope);
                        sql.push(" IS NULL AND ");
                        self.operand(sql, rhs, scope);
                        sql.push(" IS NULL) OR (");
                        both_set(sql);
                        self.operand(sql, lhs, scope);
                        sql.push(" = ");
                        self.operand(sql, rhs, scope);
                        sql.push("))");
                    }
                    _ => {
                        sql.push("(");
                        both_set(sql);
                        self.operand(sql, lhs, scope);
                        sql.push(" ").push(op.sql()).push(" ");
                        self.operand(sql, rhs, scope);
                        sql.push(")");
                    }
                }
            }
        }
    }

    fn operand(&self, sql: &mut Sql, o: &Operand, scope: &Scope) {
        match o {
            Operand::Field(f) if self.hidden(f) => {
                sql.bind(Param::Text(domain::query::eval::HIDDEN.to_owned()));
            }
            Operand::Field(f) => self.visible_field(sql, f),
            Operand::ElementField(var, f) => match (scope.level(*var), f.source) {
                (Some(_), domain::query::Source::Document) => {
                    let holder = self.element_json(sql.backend(), scope, *var);
                    json_value(sql, &holder, f.path, f.ty);
                }
                (level, _) => self.field(sql, level.map_or("c", |l| l.alias), f),
            },
            Operand::Element(var, ty) => {
                let Some(level) = scope.level(*var) else {
                    sql.push("NULL");
                    return;
                };
                let (alias, c) = (level.alias, level.collection);
                let column = match c.element {
                    Element::Primitive { column, .. } if c.in_child_table() => column,
                    _ => {
                        // An item of a JSON array of primitives.
                        match sql.backend() {
                            Backend::Sqlite if ty.is_textual() => {
                                sql.push("lower(").push(alias).push(".value)");
                            }
                            Backend::Sqlite => {
                                sql.push(alias).push(".value");
                            }
                            Backend::Postgres => json_value(sql, &format!("{alias}.value"), "", *ty),
                        }
                        return;
                    }
                };
                let mask = if level.owner == Owner::Entity { self.masks.generic_of(c.path) } else { None };
                match mask {
                    // Premium values of a masked collection read `generic`, as in responses.
                    Some(g) => {
                        sql.push("(CASE WHEN ").push(alias).push(".").push(column).push(" IN (");
                        for (i, v) in g.shown.iter().enumerate() {
                            if i > 0 {
                                sql.push(", ");
                            }
                            sql.bind(Param::Text((*v).to_owned()));
                        }
                        sql.push(") THEN ").push(alias).push(".").push(column);
                        sql.push(" ELSE ").bind(Param::Text(domain::policy::GENERIC.to_owned())).push(" END)");
                    }
                    None => {
                        sql.push(alias).push(".").push(column);
                    }
                }
            }
            Operand::Literal(v) => {
                sql.bind(scalar_param(v));
            }
            Operand::Call(func, inner) => self.call(sql, *func, inner, scope),
        }
    }

    fn call(&self, sql: &mut Sql, func: Func, inner: &Operand, scope: &Scope) {
        let backend = sql.backend();
        match func {
            // Text is kept and compared in lower case, so case functions change nothing.
            Func::ToLower | Func::ToUpper => self.operand(sql, inner, scope),
            Func::Trim | Func::Length => {
                sql.push(if func == Func::Trim { "trim(" } else { "length(" });
                self.operand(sql, inner, scope);
                sql.push(")");
            }
            Func::Date => {
                sql.push("((");
                self.operand(sql, inner, scope);
                sql.push(" / 864000000000) * 864000000000)");
            }
            Func::Year | Func::Month | Func::Day | Func::Hour | Func::Minute | Func::Second => {
                let (fmt, unit) = match func {
                    Func::Year => ("%Y", "YEAR"),
                    Func::Month => ("%m", "MONTH"),
                    Func::Day => ("%d", "DAY"),
                    Func::Hour => ("%H", "HOUR"),
                    Func::Minute => ("%M", "MINUTE"),
                    _ => ("%S", "SECOND"),
                };
                match backend {
                    Backend::Sqlite => {
                        sql.push("CAST(strftime('").push(fmt).push("', ");
                        self.operand(sql, inner, scope);
                        sql.push(" / 10000000, 'unixepoch') AS INTEGER)");
                    }
                    Backend::Postgres => {
                        sql.push("CAST(FLOOR(EXTRACT(").push(unit).push(" FROM to_timestamp(");
                        self.operand(sql, inner, scope);
                        sql.push(" / 10000000) AT TIME ZONE 'UTC')) AS INTEGER)");
                    }
                }
            }
        }
    }

    /// A field's SQL value: its column, or an extraction from the stored document.
    fn field(&self, sql: &mut Sql, alias: &str, f: &Field) {
        match f.source {
            domain::query::Source::Column(c) | domain::query::Source::Ticks(c) => {
                sql.push(alias).push(".").push(c);
            }
            domain::query::Source::Document => {
                json_value(sql, &document_json(sql.backend(), alias), f.path, f.ty);
            }
        }
    }

    /// ` ORDER BY ...` for `keys` then the id in the direction of the last key.
    pub fn push_order(&self, sql: &mut Sql, keys: &[SortKey], id: &Field) {
        sql.push(" ORDER BY ");
        for k in keys.iter().filter(|k| !self.hidden(k.field)) {
            self.visible_field(sql, k.field);
            sql.push(if k.descending { " DESC" } else { " ASC" });
            if k.field.nullable {
                sql.push(if k.descending { " NULLS LAST" } else { " NULLS FIRST" });
            }
            sql.push(", ");
        }
        self.field(sql, ALIAS, id);
        sql.push(if keys.last().is_none_or(|k| k.descending) { " DESC" } else { " ASC" });
    }

    /// ` AND (rows after the cursor)` in the order of `keys` then id. `cursor` holds one value per
    /// key and then the id.
    pub fn push_keyset(&self, sql: &mut Sql, keys: &[SortKey], id: &'static Field, cursor: &[Scalar]) {
        let id_desc = keys.last().is_none_or(|k| k.descending);
        let Some(id_value) = cursor.get(keys.len()) else {
            sql.push(" AND 1 = 0");
            return;
        };
        // Hidden fields are one constant for every row: they never decide the order.
        let mut all: Vec<(&Field, bool, &Scalar)> = keys
            .iter()
            .zip(cursor)
            .filter(|(k, _)| !self.hidden(k.field))
            .map(|(k, v)| (k.field, k.descending, v))
            .collect();
        all.push((id, id_desc, id_value));
        // One direction and no nulls: a row-value comparison, which both databases answer with a
        // single index range (deep pages cost what the first costs).
        let uniform = all.iter().all(|(f, d, v)| *d == id_desc && !f.nullable && **v != Scalar::Null);
        if uniform {
            // The leading key's bound on its own too: PostgreSQL prunes day partitions on a plain
            // range, not on a row-value comparison (SQLite has no partitions and plans the row
            // value alone best).
            if let Some((first, desc, v)) = all.first().filter(|_| all.len() > 1 && sql.backend() == Backend::Postgres)
            {
                sql.push(" AND ");
                self.visible_field(sql, first);
                sql.push(if *desc { " <= " } else { " >= " }).bind(scalar_param(v));
            }
            sql.push(" AND (");
            for (i, (field, _, _)) in all.iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                self.visible_field(sql, field);
            }
            sql.push(if id_desc { ") < (" } else { ") > (" });
            for (i, (_, _, v)) in all.iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                sql.bind(scalar_param(v));
            }
            sql.push(")");
            return;
        }
        // Otherwise the expanded form; bound the leading key so an index range still applies.
        if let Some((first, desc, v)) = all.first()
            && !first.nullable
            && **v != Scalar::Null
        {
            sql.push(" AND ");
            self.visible_field(sql, first);
            sql.push(if *desc { " <= " } else { " >= " }).bind(scalar_param(v));
        }
        sql.push(" AND (");
        for (i, &(field, desc, value)) in all.iter().enumerate() {
            if i > 0 {
                sql.push(" OR ");
            }
            sql.push("(");
            for (field, _, value) in all.iter().take(i) {
                self.visible_field(sql, field);
                match value {
                    Scalar::Null => sql.push(" IS NULL"),
                    v => sql.push(" = ").bind(scalar_param(v)),
                };
                sql.push(" AND ");
            }
            match (value, desc) {
                // Nulls come first ascending: everything non-null is after a null.
                (Scalar::Null, false) => {
                    self.visible_field(sql, field);
                    sql.push(" IS NOT NULL");
                }
                // Nulls come last descending: nothing is after a null.
                (Scalar::Null, true) => {
                    sql.push("1 = 0");
                }
                (v, false) => {
                    self.visible_field(sql, field);
                    sql.push(" > ").bind(scalar_param(v));
                }
                (v, true) => {
                    sql.push("(");
                    self.visible_field(sql, field);
                    sql.push(" < ").bind(scalar_param(v));
                    if field.nullable {
                        sql.push(" OR ");
                        self.visible_field(sql, field);
                        sql.push(" IS NULL");
                    }
                    sql.push(")");
                }
            }
            sql.push(")");
        }
        sql.push(")");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::query::registry::SIGN_INS;
    use domain::query::resolve_filter;

    fn compile(backend: Backend, f: &str) -> Sql {
        let mut sql = Sql::new(backend);
        Compiler::new(&SIGN_INS).push_filter(&mut sql, &resolve_filter(&SIGN_INS, f).unwrap());
        sql
    }

    /// A `startswith` that no prefix index answers, and `contains`/`endswith`, are planned per
    /// run (their pattern's selectivity decides the plan); an equality, or a prefix answered by
    /// the prefix index's key, is not.
    #[test]
    fn pattern_filters_are_planned_per_run() {
        for f in
            ["startswith(appDisplayName,'Off')", "startswith(userPrincipalName,'a')", "contains(appDisplayName,'x')"]
        {
            assert!(compile(Backend::Postgres, f).is_planned_per_run(), "{f}");
        }
        for f in ["appDisplayName eq 'Office 365'", "startswith(userPrincipalName,'alex')"] {
            assert!(!compile(Backend::Postgres, f).is_planned_per_run(), "{f}");
        }
    }

    #[test]
    fn values_are_bound_never_spliced() {
        let sql =
            compile(Backend::Postgres, "userPrincipalName eq 'x'' or 1=1 --' and startswith(appDisplayName,'50%_')");
        assert!(!sql.text().contains("1=1"), "{}", sql.text());
        assert!(sql.params().contains(&Param::Text("x' or 1=1 --".into())));
        assert!(sql.params().contains(&Param::Text("50\\%\\_%".into())));
    }

    /// A user-name prefix of the prefix index's length or more is its key's equality (and the rest
    /// of the prefix, once) on PostgreSQL; shorter prefixes, other columns and SQLite keep the
    /// range and the LIKE.
    #[test]
    fn a_long_enough_user_name_prefix_reads_its_prefix_index_key() {
        let key = "left(s.user_principal_name, 4) = $1";
        let sql = compile(Backend::Postgres, "startswith(userPrincipalName,'Alex')");
        assert!(sql.text().contains(key), "{}", sql.text());
        assert!(!sql.text().contains("LIKE") && !sql.text().contains(">="), "the key alone: {}", sql.text());
        assert_eq!(sql.params(), [Param::Text("alex".into())]);
        let sql = compile(Backend::Postgres, "startswith(userPrincipalName,'alexander.')");
        assert!(sql.text().contains(key) && !sql.text().contains("LIKE"), "{}", sql.text());
        assert_eq!(sql.params()[1..], [Param::Text("alexander.".into()), Param::Text("alexander/".into())]);
        let sql = compile(Backend::Postgres, "startswith(userPrincipalName,'al_x%')");
        assert!(sql.text().contains(key) && sql.text().contains("LIKE"), "{}", sql.text());
        assert_eq!(sql.params()[1..], [Param::Text("al\\_x\\%%".into())]);
        for (backend, f) in [
            (Backend::Postgres, "startswith(userPrincipalName,'ale')"),
            (Backend::Postgres, "startswith(userDisplayName,'alex')"),
            (Backend::Postgres, "not startswith(userPrincipalName,'ale')"),
            (Backend::Sqlite, "startswith(userPrincipalName,'alex')"),
        ] {
            let sql = compile(backend, f);
            assert!(!sql.text().contains("left("), "{f}: {}", sql.text());
            assert!(sql.text().contains("LIKE"), "{f}: {}", sql.text());
        }
    }

    #[test]
    fn lambdas_become_exists() {
        let sql = compile(Backend::Sqlite, "appliedConditionalAccessPolicies/any(p: p/result eq 'success')");
        assert!(sql.text().contains("EXISTS (SELECT 1 FROM sign_in_ca_policies c"), "{}", sql.text());
        let sql = compile(Backend::Sqlite, "riskEventTypes_v2/all(t: t eq 'x')");
        assert!(sql.text().contains("NOT EXISTS"), "{}", sql.text());
        assert!(sql.params().contains(&Param::Integer(2)));
    }

    /// `any(p: p/result eq 'failure')` with the lambda's own variable reads `ca_failed` (wherever
    /// the lambda is); a shape that means something else keeps its `EXISTS`.
    #[test]
    fn a_failed_policy_reads_the_summary_column_only_when_it_means_the_same() {
        let ca = "appliedConditionalAccessPolicies";
        let exactly = [
            format!("{ca}/any(p: p/result eq 'failure')"),
            format!("{ca}/any(p: p/result eq 'FAILURE')"),
            format!("{ca}/any(x:x/result eq 'failure')"),
            format!("not {ca}/any(p: p/result eq 'failure')"),
            format!("riskEventTypes_v2/any(t: {ca}/any(p: p/result eq 'failure'))"),
        ];
        for f in &exactly {
            for backend in [Backend::Sqlite, Backend::Postgres] {
                let sql = compile(backend, f);
                assert!(sql.text().contains("(s.ca_failed)"), "{f}: {}", sql.text());
                assert!(!sql.text().contains("sign_in_ca_policies"), "{f}: {}", sql.text());
                assert!(!sql.params().contains(&Param::Text("failure".into())), "{f}");
            }
        }
        let implied = format!("{ca}/any(p: p/displayName eq 'x' and (p/result eq 'failure' and p/id ne null))");
        let sql = compile(Backend::Sqlite, &implied);
        assert!(sql.text().contains("(s.ca_failed AND EXISTS (SELECT 1 FROM sign_in_ca_policies c"), "{}", sql.text());
        let other = [
            format!("{ca}/any(p: p/result ne 'failure')"),
            format!("{ca}/any(p: p/result eq 'success')"),
            format!("{ca}/any(p: p/result eq 'reportOnlyFailure')"),
            format!("{ca}/any(p: p/result eq 'failure' or p/displayName eq 'x')"),
            format!("{ca}/any(p: not (p/result eq 'failure'))"),
            format!("{ca}/all(p: p/result eq 'failure')"),
            format!("{ca}/any(p: p/displayName eq 'failure')"),
            format!("{ca}/any(p: tolower(p/result) eq 'failure')"),
            format!("{ca}/any()"),
            // The inner lambda's condition is on the outer policy: true for every policy of a
            // sign-in with a failed one only if the sign-in has a policy at all, and per element.
            format!("{ca}/any(p: {ca}/any(q: p/result eq 'failure'))"),
        ];
        for f in &other {
            let sql = compile(Backend::Postgres, f);
            assert!(!sql.text().contains("ca_failed"), "{f}: {}", sql.text());
        }
        // A tenant that sees the collection masked never reads the column.
        let masks = Masks { hidden: &["appliedConditionalAccessPolicies"], generic: None };
        let mut sql = Sql::new(Backend::Sqlite);
        Compiler::new(&SIGN_INS).masking(masks).push_filter(&mut sql, &resolve_filter(&SIGN_INS, &exactly[0]).unwrap());
        assert!(!sql.text().contains("ca_failed"), "{}", sql.text());
    }

    /// `riskLevelDuringSignIn ne 'none'` is written as its partial index's predicate; below P2 the
    /// level reads `hidden` and is bound as before.
    #[test]
    fn risky_sign_ins_are_written_as_their_partial_index_predicate() {
        for f in ["riskLevelDuringSignIn ne 'none'", "riskLevelDuringSignIn ne 'NONE'"] {
            let sql = compile(Backend::Sqlite, f);
            assert!(sql.text().contains(&format!("({})", RISKY.predicate)), "{}", sql.text());
            assert!(sql.params().is_empty(), "{f}");
        }
        for f in ["riskLevelDuringSignIn ne 'low'", "riskLevelDuringSignIn eq 'none'", "riskLevelAggregated ne 'none'"]
        {
            let sql = compile(Backend::Postgres, f);
            assert!(!sql.text().contains("'none'"), "{f}: {}", sql.text());
        }
        let masks = domain::sets::SetKind::SignIns.masks(domain::ids::LicenseTier::P1);
        let mut sql = Sql::new(Backend::Sqlite);
        let filter = resolve_filter(&SIGN_INS, "riskLevelDuringSignIn ne 'none'").unwrap();
        Compiler::new(&SIGN_INS).masking(masks).push_filter(&mut sql, &filter);
        assert!(!sql.text().contains("'none'"), "{}", sql.text());
        assert!(sql.params().contains(&Param::Text(domain::query::eval::HIDDEN.into())), "{}", sql.text());
    }

    #[test]
    fn nested_lambdas_become_exists_over_the_elements_json() {
        let f = "appliedConditionalAccessPolicies/any(p: p/enforcedGrantControls/any(g: g eq 'Mfa' and \
                 riskEventTypes_v2/any(t: t eq g)))";
        let sql = compile(Backend::Sqlite, f);
        let text = sql.text();
        assert!(text.contains("FROM sign_in_ca_policies c WHERE"), "{text}");
        assert!(
            text.contains("json_each(json_extract(s.doc, '$.appliedConditionalAccessPolicies[' || c.ordinal"),
            "{text}"
        );
        assert!(text.contains("FROM sign_in_risk_event_types c2 WHERE"), "{text}");
        assert!(text.contains("c2.value = lower(c1.value)"), "{text}");
        let sql = compile(Backend::Postgres, f);
        let text = sql.text();
        assert!(
            text.contains("jsonb_typeof(((s.doc::jsonb -> 'appliedConditionalAccessPolicies' -> c.ordinal)"),
            "{text}"
        );
        assert!(text.contains("AS c1(value)"), "{text}");
    }
}
