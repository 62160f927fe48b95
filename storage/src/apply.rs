//! Compiles a resolved `$apply` (`domain::query::apply::Apply`) to one statement for either
//! backend and reads its rows. Its meaning is the oracle's (`Apply::evaluate`); this is the same
//! computation done by the database:
//!
//! ```sql
//! SELECT <each output as text> FROM (
//!     [SELECT * FROM (]
//!     SELECT <keys> AS k0.., <aggregates> AS a0.. FROM <table> s
//!     WHERE <tenant, own-only scope, retention> AND <filter> GROUP BY 1, 2..
//!     [) g ORDER BY <topcount value> DESC NULLS LAST, <keys> LIMIT n]
//! ) g ORDER BY <order>, <keys> ASC NULLS FIRST LIMIT <limit>
//! ```
//!
//! Values come from the same sources as `$filter` reads them (`filter::Compiler::push_value`:
//! columns, the document, masked fields as the tenant sees them) and every value is a bound
//! parameter. Outputs are returned as text so that one row type serves every shape: doubles
//! exactly (PostgreSQL's IEEE bits in hex, SQLite's `%!.17g`, 17 significant digits), and parsed back by their
//! kind (`domain::query::apply::cell_from_text`).

use diesel::QueryableByName;
use diesel::sql_types::{Nullable, Text};
use domain::ids::TenantId;
use domain::query::EntitySet;
use domain::query::apply::{Apply, Cell, Method, OutKind, Output, cell_from_text};

use crate::conn::Backend;
use crate::entities::push_scope;
use crate::error::{StorageError, StorageResult};
use crate::filter::Compiler;
use crate::sql::{Param, Sql};
use crate::{Store, TenantView};

/// Output columns a statement returns (`domain::query::apply::MAX_OUTPUTS`).
const SLOTS: usize = 16;

#[derive(QueryableByName)]
struct ApplyRow {
    #[diesel(sql_type = Nullable<Text>)]
    c0: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    c1: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    c2: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    c3: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    c4: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    c5: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    c6: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    c7: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    c8: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    c9: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    c10: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    c11: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    c12: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    c13: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    c14: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    c15: Option<String>,
}

fn column(o: Output) -> String {
    match o {
        Output::Key(i) => format!("g.k{i}"),
        Output::Aggregate(i) => format!("g.a{i}"),
    }
}

/// ` k0 ASC NULLS FIRST, k1 ...`: the keys, which make every order total.
fn push_keys_order(sql: &mut Sql, apply: &Apply, first: bool) {
    for i in 0..apply.keys.len() {
        sql.push(if first && i == 0 { "" } else { ", " });
        sql.push(&column(Output::Key(i))).push(" ASC NULLS FIRST");
    }
}

fn push_order_item(sql: &mut Sql, o: Output, descending: bool) {
    sql.push(&column(o)).push(if descending { " DESC NULLS LAST" } else { " ASC NULLS FIRST" });
}

/// The output `o` of kind `kind` as text.
fn push_as_text(sql: &mut Sql, o: Output, kind: OutKind) {
    let c = column(o);
    match (kind, sql.backend()) {
        (OutKind::Text(_), _) => {
            sql.push(&c);
        }
        (OutKind::Double, Backend::Sqlite) => {
            sql.push("CASE WHEN ").push(&c).push(" IS NULL THEN NULL ELSE printf('%!.17g', ").push(&c).push(") END");
        }
        // The IEEE bits, in hex: exact whatever the session's extra_float_digits.
        (OutKind::Double, Backend::Postgres) => {
            sql.push("encode(float8send(").push(&c).push("), 'hex')");
        }
        (OutKind::Int | OutKind::Bool | OutKind::Ticks | OutKind::Date, _) => {
            sql.push("CAST(").push(&c).push(" AS TEXT)");
        }
    }
}

impl Store {
    /// The statement of `apply` over `set` for `tenant` (and only `user`'s rows when set), as
    /// `view` sees the tenant, returning at most `limit` groups.
    #[must_use]
    pub fn apply_sql(
        &self,
        set: &'static EntitySet,
        tenant: &TenantId,
        user: Option<&str>,
        apply: &Apply,
        limit: usize,
        view: &TenantView,
    ) -> Sql {
        let compiler = Compiler::new(set).masking(view.masks(set));
        let mut sql = Sql::new(self.backend());
        let kinds: Vec<OutKind> = apply.kinds().collect();
        let outputs: Vec<Output> =
            (0..apply.keys.len()).map(Output::Key).chain((0..apply.aggregates.len()).map(Output::Aggregate)).collect();
        sql.push("SELECT ");
        for slot in 0..SLOTS {
            if slot > 0 {
                sql.push(", ");
            }
            match (outputs.get(slot), kinds.get(slot)) {
                (Some(o), Some(k)) => push_as_text(&mut sql, *o, *k),
                _ => {
                    sql.push("CAST(NULL AS TEXT)");
                }
            }
            sql.push(" AS c").push(&slot.to_string());
        }
        sql.push(" FROM (");
        if apply.top.is_some() {
            sql.push("SELECT * FROM (");
        }
        sql.push("SELECT ");
        let mut first = true;
        for (i, k) in apply.keys.iter().enumerate() {
            if !first {
                sql.push(", ");
            }
            first = false;
            compiler.push_value(&mut sql, &k.value);
            sql.push(" AS k").push(&i.to_string());
        }
        for (i, a) in apply.aggregates.iter().enumerate() {
            if !first {
                sql.push(", ");
            }
            first = false;
            let average_pg = a.method == Method::Average && sql.backend() == Backend::Postgres;
            if average_pg {
                sql.push("CAST(");
            }
            sql.push(match a.method {
                Method::Count => "COUNT(*",
                Method::CountDistinct => "COUNT(DISTINCT ",
                Method::Min => "MIN(",
                Method::Max => "MAX(",
                Method::Sum => "SUM(",
                Method::Average => "AVG(",
            });
            if let Some(v) = &a.value {
                compiler.push_value(&mut sql, v);
            }
            sql.push(")");
            if average_pg {
                sql.push(" AS DOUBLE PRECISION)");
            }
            sql.push(" AS a").push(&i.to_string());
        }
        sql.push(" FROM ").push(set.table).push(" s");
        push_scope(&mut sql, set, tenant, user, view);
        if let Some(f) = &apply.filter {
            compiler.push_filter(&mut sql, f);
        }
        if !apply.keys.is_empty() {
            sql.push(" GROUP BY ");
            for i in 0..apply.keys.len() {
                if i > 0 {
                    sql.push(", ");
                }
                sql.push(&(i + 1).to_string());
            }
        }
        if let Some(top) = apply.top {
            sql.push(") g ORDER BY ");
            push_order_item(&mut sql, top.by, true);
            push_keys_order(&mut sql, apply, false);
            sql.push(" LIMIT ").bind(Param::BigInt(i64::try_from(top.n).unwrap_or(i64::MAX)));
        }
        sql.push(") g");
        if !apply.order.is_empty() || !apply.keys.is_empty() {
            sql.push(" ORDER BY ");
            for (i, k) in apply.order.iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                push_order_item(&mut sql, k.output, k.descending);
            }
            push_keys_order(&mut sql, apply, apply.order.is_empty());
        }
        sql.push(" LIMIT ").bind(Param::BigInt(i64::try_from(limit).unwrap_or(i64::MAX)));
        sql
    }

    /// The groups of `apply` (at most `limit`), each its outputs in order: keys, then aggregates.
    ///
    /// # Errors
    /// Database errors; [`StorageError::Timeout`] past the statement timeout.
    pub fn apply_in(
        &self,
        set: &'static EntitySet,
        tenant: &TenantId,
        user: Option<&str>,
        apply: &Apply,
        limit: usize,
        view: &TenantView,
    ) -> StorageResult<Vec<Vec<Cell>>> {
        let sql = self.apply_sql(set, tenant, user, apply, limit, view);
        tracing::debug!(set = set.name, sql = sql.text(), "apply");
        let mut conn = self.conn()?;
        let rows = sql.load::<ApplyRow>(&mut conn)?;
        let kinds: Vec<OutKind> = apply.kinds().collect();
        rows.into_iter()
            .map(|row| {
                let texts = [
                    row.c0, row.c1, row.c2, row.c3, row.c4, row.c5, row.c6, row.c7, row.c8, row.c9, row.c10, row.c11,
                    row.c12, row.c13, row.c14, row.c15,
                ];
                kinds
                    .iter()
                    .zip(texts)
                    .map(|(k, t)| match (k, t, self.backend()) {
                        (OutKind::Double, Some(hex), Backend::Postgres) => u64::from_str_radix(&hex, 16)
                            .map(|bits| Cell::Double(f64::from_bits(bits)))
                            .map_err(|_| format!("'{hex}' is not the hex of a double")),
                        (k, t, _) => cell_from_text(*k, t.as_deref()),
                    })
                    .collect::<Result<Vec<Cell>, String>>()
                    .map_err(|e| StorageError::Database(diesel::result::Error::DeserializationError(e.into())))
            })
            .collect()
    }
}
