//! SQL text with bound parameters, written once for both backends. Every value a user sent is a
//! bound parameter: nothing here ever formats a value into the SQL text.

use diesel::backend::Backend as DieselBackend;
use diesel::connection::SimpleConnection;
use diesel::pg::Pg;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::query_dsl::RunQueryDsl;
use diesel::serialize::ToSql;
use diesel::sql_types::{Array, BigInt, Bool, Double, HasSqlType, Integer, Nullable, Text};
use diesel::sqlite::Sqlite;
use diesel::{QueryResult, QueryableByName};

use crate::conn::{AnyConnection, Backend, ConnState};
use crate::prepared::{self, Plan, Route};
use std::time::Instant;

/// A bound value.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Text(String),
    NullableText(Option<String>),
    NullableBigInt(Option<i64>),
    NullableInteger(Option<i32>),
    NullableBool(Option<bool>),
    NullableDouble(Option<f64>),
    BigInt(i64),
    Integer(i32),
    Bool(bool),
    Double(f64),
    /// A text array (PostgreSQL only: `= ANY($n)`, `UNNEST`).
    TextArray(Vec<String>),
    /// A bigint array (PostgreSQL only).
    BigIntArray(Vec<i64>),
}

/// A statement under construction for one backend.
#[derive(Debug, Clone)]
pub struct Sql {
    backend: Backend,
    text: String,
    params: Vec<Param>,
    /// Planned for its values on every run, even prepared (see [`Sql::plan_per_run`]).
    per_run: bool,
}

impl Sql {
    #[must_use]
    pub fn new(backend: Backend) -> Self {
        Self { backend, text: String::with_capacity(256), params: Vec::new(), per_run: false }
    }

    #[must_use]
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Appends SQL text (never user input).
    pub fn push(&mut self, sql: &str) -> &mut Self {
        self.text.push_str(sql);
        self
    }

    /// Appends a placeholder bound to `p`.
    pub fn bind(&mut self, p: Param) -> &mut Self {
        self.params.push(p);
        match self.backend {
            Backend::Sqlite => self.text.push('?'),
            Backend::Postgres => {
                self.text.push('$');
                self.text.push_str(&self.params.len().to_string());
            }
        }
        self
    }

    /// Appends `(p1, p2, ...)`: a parenthesised list of placeholders, for `IN`.
    pub fn bind_list(&mut self, values: impl IntoIterator<Item = Param>) -> &mut Self {
        self.text.push('(');
        for (i, v) in values.into_iter().enumerate() {
            if i > 0 {
                self.text.push_str(", ");
            }
            self.bind(v);
        }
        self.text.push(')');
        self
    }

    /// Adds a bound value without writing a placeholder (for statements whose text already has
    /// numbered placeholders, such as an EXPLAIN of another statement).
    pub fn push_param_only(&mut self, p: Param) -> &mut Self {
        self.params.push(p);
        self
    }

    #[must_use]
    pub fn text(&self) -> &str {
        &self.text
    }

    #[must_use]
    pub fn params(&self) -> &[Param] {
        &self.params
    }

    /// Marks the statement as one whose values decide its plan (a pattern's selectivity): on
    /// PostgreSQL it is planned for its values on every run, prepared or not, and never tried
    /// with a generic plan. A generic plan of a short `startswith` reads the prefix's whole range
    /// and sorts it: 430-950 ms against 7-40 ms planned for the value at 2 M sign-ins (measured),
    /// and the guard in [`prepared`] lets each connection pay two such runs per trial.
    pub fn plan_per_run(&mut self) -> &mut Self {
        self.per_run = true;
        self
    }

    /// Whether [`Sql::plan_per_run`] marked it.
    #[must_use]
    pub fn is_planned_per_run(&self) -> bool {
        self.per_run
    }

    /// The statement's shape: its text and its parameters' types (not their values). Two
    /// statements of one shape can run as one prepared statement.
    #[must_use]
    pub fn shape(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.text.hash(&mut h);
        for p in &self.params {
            std::mem::discriminant(p).hash(&mut h);
        }
        h.finish()
    }

    /// Runs the statement and reads every row.
    ///
    /// # Errors
    /// Any database error.
    pub fn load<U>(&self, conn: &mut AnyConnection) -> QueryResult<Vec<U>>
    where
        U: QueryableByName<Pg> + QueryableByName<Sqlite> + 'static,
    {
        let shape = self.shape();
        match conn {
            AnyConnection::Postgresql(c) => {
                let q = bind_pg(diesel::sql_query(&self.text).into_boxed(), &self.params)?;
                run(c, shape, self.per_run, true, q, |q, c| q.load(c))
            }
            AnyConnection::Sqlite(c) => {
                let q = bind_common(diesel::sql_query(&self.text).into_boxed(), &self.params)?;
                run(c, shape, self.per_run, false, q, |q, c| q.load(c))
            }
        }
    }

    /// Runs the statement and returns the number of rows it touched.
    ///
    /// # Errors
    /// Any database error.
    pub fn execute(&self, conn: &mut AnyConnection) -> QueryResult<usize> {
        let shape = self.shape();
        match conn {
            AnyConnection::Postgresql(c) => {
                let q = bind_pg(diesel::sql_query(&self.text).into_boxed(), &self.params)?;
                run(c, shape, self.per_run, true, q, |q, c| q.execute(c))
            }
            AnyConnection::Sqlite(c) => {
                let q = bind_common(diesel::sql_query(&self.text).into_boxed(), &self.params)?;
                run(c, shape, self.per_run, false, q, |q, c| q.execute(c))
            }
        }
    }
}

/// Runs `q` on `c` through `f`, prepared or not and planned as the connection's shape record says
/// ([`prepared`]); `postgres`: the server holds the prepared statements (a flush must free them)
/// and plans them by `plan_cache_mode`; `per_run`: always planned for its values
/// ([`Sql::plan_per_run`]). A connection opened outside the pool, or with prepared statements
/// off, runs every statement unprepared, as it always did.
fn run<C, Q, R>(
    c: &mut C,
    shape: u64,
    per_run: bool,
    postgres: bool,
    q: Q,
    f: impl FnOnce(prepared::Statement<Q>, &mut C) -> QueryResult<R>,
) -> QueryResult<R>
where
    C: diesel::Connection + SimpleConnection,
{
    let Some((route, plan)) = ConnState::of(c).and_then(|s| s.shapes.as_mut()).map(|s| (s.route(shape), s.plan(shape)))
    else {
        return f(prepared::Statement::new(q, false), c);
    };
    if route == Route::FlushThenReuse {
        prepared::flush(c, postgres)?;
        shapes(c, prepared::Shapes::flushed);
    }
    let in_transaction = postgres && in_transaction(c);
    // Writes run custom plans: a rolled-back transaction would also undo a mode set inside it.
    let plan = if in_transaction || per_run { Plan::Custom } else { plan };
    if postgres && ConnState::of(c).and_then(|s| s.shapes.as_ref()).is_some_and(|s| s.needs_mode(plan, in_transaction))
    {
        let set = c.batch_execute(plan.setting());
        let mode = set.is_ok().then_some(plan);
        shapes(c, |s| s.set_mode(mode, in_transaction));
        set?;
    }
    let reuse = route != Route::Once;
    let started = Instant::now();
    let result = f(prepared::Statement::new(q, reuse), c);
    let took = started.elapsed();
    match &result {
        Ok(_) if reuse => {
            let demoted = shapes(c, |s| {
                s.ran_prepared(shape);
                if in_transaction || per_run { None } else { s.timed(shape, took) }
            });
            if let Some(Some(d)) = demoted {
                tracing::info!(
                    generic_ms = d.generic.as_secs_f64() * 1000.0,
                    custom_ms = d.custom.as_secs_f64() * 1000.0,
                    "a statement planned once ran slower than planned for its values; planning it per run again"
                );
            }
        }
        Ok(_) => {}
        Err(e) => {
            // A failed statement may have ended a transaction, and a mode set inside it with it.
            shapes(c, |s| s.set_mode(None, false));
            // The server lost statements diesel still holds: drop them all so the next run works,
            // or, when even that fails, let the pool discard the connection.
            if reuse && prepared::is_stale(e) {
                let healed = prepared::flush(c, postgres).is_ok();
                shapes(c, prepared::Shapes::flushed);
                if !healed && let Some(state) = ConnState::of(c) {
                    state.discard();
                }
            }
        }
    }
    result
}

/// Applies `f` to the connection's shape record, if it keeps one.
fn shapes<C: diesel::Connection, T>(c: &mut C, f: impl FnOnce(&mut prepared::Shapes) -> T) -> Option<T> {
    ConnState::of(c).and_then(|s| s.shapes.as_mut()).map(f)
}

/// Whether `c` is inside a transaction (diesel's own record of it).
fn in_transaction<C: diesel::Connection>(c: &mut C) -> bool {
    use diesel::connection::TransactionManager;
    C::TransactionManager::transaction_manager_status_mut(c).transaction_depth().map_or(true, |d| d.is_some())
}

fn bind_common<'f, DB>(
    mut q: BoxedSqlQuery<'f, DB, SqlQuery>,
    params: &[Param],
) -> QueryResult<BoxedSqlQuery<'f, DB, SqlQuery>>
where
    DB: DieselBackend
        + HasSqlType<Text>
        + HasSqlType<BigInt>
        + HasSqlType<Integer>
        + HasSqlType<Bool>
        + HasSqlType<Double>,
    String: ToSql<Text, DB>,
    Option<String>: ToSql<Nullable<Text>, DB>,
    Option<i64>: ToSql<Nullable<BigInt>, DB>,
    Option<i32>: ToSql<Nullable<Integer>, DB>,
    Option<bool>: ToSql<Nullable<Bool>, DB>,
    Option<f64>: ToSql<Nullable<Double>, DB>,
    i64: ToSql<BigInt, DB>,
    i32: ToSql<Integer, DB>,
    bool: ToSql<Bool, DB>,
    f64: ToSql<Double, DB>,
{
    for p in params {
        q = match p {
            Param::Text(s) => q.bind::<Text, _>(s.clone()),
            Param::NullableText(s) => q.bind::<Nullable<Text>, _>(s.clone()),
            Param::NullableBigInt(v) => q.bind::<Nullable<BigInt>, _>(*v),
            Param::NullableInteger(v) => q.bind::<Nullable<Integer>, _>(*v),
            Param::NullableBool(v) => q.bind::<Nullable<Bool>, _>(*v),
            Param::NullableDouble(v) => q.bind::<Nullable<Double>, _>(*v),
            Param::BigInt(v) => q.bind::<BigInt, _>(*v),
            Param::Integer(v) => q.bind::<Integer, _>(*v),
            Param::Bool(v) => q.bind::<Bool, _>(*v),
            Param::Double(v) => q.bind::<Double, _>(*v),
            Param::TextArray(_) | Param::BigIntArray(_) => {
                return Err(diesel::result::Error::QueryBuilderError("array parameters are PostgreSQL-only".into()));
            }
        };
    }
    Ok(q)
}

fn bind_pg<'f>(
    mut q: BoxedSqlQuery<'f, Pg, SqlQuery>,
    params: &[Param],
) -> QueryResult<BoxedSqlQuery<'f, Pg, SqlQuery>> {
    for p in params {
        q = match p {
            Param::TextArray(v) => q.bind::<Array<Text>, _>(v.clone()),
            Param::BigIntArray(v) => q.bind::<Array<BigInt>, _>(v.clone()),
            other => bind_common(q, std::slice::from_ref(other))?,
        };
    }
    Ok(q)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_follow_the_backend() {
        let mut s = Sql::new(Backend::Postgres);
        s.push("a = ").bind(Param::Integer(1)).push(" AND b = ").bind(Param::Text("x".into()));
        assert_eq!(s.text(), "a = $1 AND b = $2");
        let mut s = Sql::new(Backend::Sqlite);
        s.push("a = ").bind(Param::Integer(1)).push(" AND b = ").bind(Param::Text("x".into()));
        assert_eq!(s.text(), "a = ? AND b = ?");
    }
}
