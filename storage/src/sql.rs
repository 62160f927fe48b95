//! SQL text with bound parameters, written once for both backends. Every value a user sent is a
//! bound parameter: nothing here ever formats a value into the SQL text.

use diesel::backend::Backend as DieselBackend;
use diesel::pg::Pg;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::query_dsl::RunQueryDsl;
use diesel::serialize::ToSql;
use diesel::sql_types::{Array, BigInt, Bool, Double, HasSqlType, Integer, Nullable, Text};
use diesel::sqlite::Sqlite;
use diesel::{QueryResult, QueryableByName};

use crate::conn::{AnyConnection, Backend};

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
}

impl Sql {
    #[must_use]
    pub fn new(backend: Backend) -> Self {
        Self { backend, text: String::with_capacity(256), params: Vec::new() }
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

    /// Runs the statement and reads every row.
    ///
    /// # Errors
    /// Any database error.
    pub fn load<U>(&self, conn: &mut AnyConnection) -> QueryResult<Vec<U>>
    where
        U: QueryableByName<Pg> + QueryableByName<Sqlite> + 'static,
    {
        match conn {
            AnyConnection::Postgresql(c) => bind_pg(diesel::sql_query(&self.text).into_boxed(), &self.params)?.load(c),
            AnyConnection::Sqlite(c) => bind_common(diesel::sql_query(&self.text).into_boxed(), &self.params)?.load(c),
        }
    }

    /// Runs the statement and returns the number of rows it touched.
    ///
    /// # Errors
    /// Any database error.
    pub fn execute(&self, conn: &mut AnyConnection) -> QueryResult<usize> {
        match conn {
            AnyConnection::Postgresql(c) => {
                bind_pg(diesel::sql_query(&self.text).into_boxed(), &self.params)?.execute(c)
            }
            AnyConnection::Sqlite(c) => {
                bind_common(diesel::sql_query(&self.text).into_boxed(), &self.params)?.execute(c)
            }
        }
    }
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
