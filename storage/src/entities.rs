//! Every entity set through one code path driven by the field registry: a validated document
//! becomes a row of promoted columns (each registry field kept in a column), child rows for its
//! collections, and the document text; reads are keyset pages, counts and id lookups that always
//! carry the tenant, the caller's scope and the tenant's retention window.
//!
//! Sign-ins keep their own typed ingest (`sign_ins.rs`, COPY on PostgreSQL, day partitions) because
//! they are the volume; their reads go through here like every other set.

use std::collections::HashSet;

use diesel::QueryableByName;
use diesel::connection::{Connection, SimpleConnection};
use diesel::sql_types::{BigInt, Text};
use domain::ids::TenantId;
use domain::policy::Masks;
use domain::query::{
    CmpOp, CollectionField, Element, EntitySet, Field, Filter, Operand, Scalar, SortKey, Source, ValueType, eval,
};
use domain::sets::Retention;
use serde_json::{Map, Value};

use crate::conn::{AnyConnection, Backend};
use crate::error::StorageResult;
use crate::feed;
use crate::filter::Compiler;
use crate::sign_ins::{IngestOutcome, StoredDocument};
use crate::sql::{Param, Sql};
use crate::{Store, TenantView};

/// Rows per multi-row INSERT (at most ~25 columns each: under SQLite's 32,766 bound variables).
const INSERT_CHUNK: usize = 400;

/// Risk states that keep a risky user visible whatever its age (lower case, as stored).
pub(crate) const OPEN_RISK_STATES: &[&str] = &["atrisk", "confirmedcompromised"];

/// The promoted columns of `set` besides the key and the time: (column, field), in registry order.
fn columns(set: &EntitySet) -> impl Iterator<Item = (&'static str, &'static Field)> + '_ {
    set.fields.iter().filter_map(|f| match f.source {
        Source::Column(c) | Source::Ticks(c) if c != "id" && c != "created_ticks" => Some((c, f)),
        _ => None,
    })
}

/// The columns of a collection's child table after `(tenant_id, key, created_ticks, ordinal)`.
fn child_columns(c: &CollectionField) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = c.discriminator.iter().map(|(col, _)| *col).collect();
    match c.element {
        Element::Primitive { column, .. } => out.push(column),
        Element::Complex { fields } => out.extend(fields.iter().filter_map(|f| match f.source {
            Source::Column(col) | Source::Ticks(col) => Some(col),
            Source::Document => None,
        })),
    }
    out
}

/// A normalised value as a bound parameter of a column of type `ty` (typed NULLs for PostgreSQL).
fn param(ty: ValueType, value: Scalar) -> Param {
    match (value, ty) {
        (Scalar::Text(t), _) => Param::NullableText(Some(t)),
        (Scalar::Int(i), _) => Param::NullableInteger(i32::try_from(i).ok()),
        (Scalar::Ticks(t), _) => Param::NullableBigInt(Some(t)),
        (Scalar::Bool(b), _) => Param::NullableBool(Some(b)),
        (Scalar::Double(d), _) => Param::NullableDouble(Some(d)),
        (Scalar::Null, ValueType::String | ValueType::Enum { .. }) => Param::NullableText(None),
        (Scalar::Null, ValueType::Int32) => Param::NullableInteger(None),
        (Scalar::Null, ValueType::DateTimeOffset) => Param::NullableBigInt(None),
        (Scalar::Null, ValueType::Boolean) => Param::NullableBool(None),
        (Scalar::Null, ValueType::Double) => Param::NullableDouble(None),
    }
}

/// One element row of a collection.
#[derive(Debug, Clone)]
struct ChildRow {
    collection: &'static CollectionField,
    ordinal: i32,
    values: Vec<Param>,
}

/// A validated document of any entity set, ready to store.
#[derive(Debug, Clone)]
pub struct Record {
    set: &'static EntitySet,
    id: String,
    ticks: i64,
    values: Vec<Param>,
    doc: Map<String, Value>,
    doc_extra: Map<String, Value>,
    children: Vec<ChildRow>,
}

/// Validates `doc` as a document of `set` (the typed model of its Graph type) and checks what
/// storage needs: the key, and the time the set is ordered and retained by.
fn validate(set: &EntitySet, doc: &Map<String, Value>) -> Result<(), String> {
    set.kind.validate(doc)?;
    let time = set.time_field;
    match doc.get(time) {
        Some(Value::String(_)) => Ok(()),
        _ => Err(format!("{time}: required (the time idtrail orders and retains {} by)", set.name)),
    }
}

impl Record {
    /// Validates a Graph document of `set` and prepares it for storage.
    ///
    /// # Errors
    /// A message naming the property and what is wrong with it.
    pub fn from_document(set: &'static EntitySet, doc: Map<String, Value>) -> Result<Self, String> {
        validate(set, &doc)?;
        let (v1, extra) = domain::model::split_properties(doc, set.v1_properties);
        let value = Value::Object(v1);
        let Scalar::Text(id) = eval::field_value(&value, set.id_field()) else {
            return Err("id: required".into());
        };
        if id.is_empty() {
            return Err("id: must not be empty".into());
        }
        let time = set.field(set.time_field).ok_or("the set has no time field")?;
        let Scalar::Ticks(ticks) = eval::field_value(&value, time) else {
            return Err(format!("{}: not a DateTimeOffset", set.time_field));
        };
        let values = columns(set).map(|(_, f)| param(f.ty, eval::field_value(&value, f))).collect();
        let mut children = Vec::new();
        for c in set.collections {
            let Some(Value::Array(items)) = value.get(c.path) else { continue };
            for (i, item) in items.iter().enumerate() {
                let mut values: Vec<Param> = c.discriminator.iter().map(|(_, v)| Param::Integer(*v)).collect();
                match c.element {
                    Element::Primitive { ty, .. } => values.push(param(ty, eval::normalise(Some(item), ty))),
                    Element::Complex { fields } => values.extend(
                        fields
                            .iter()
                            .filter(|f| f.source != Source::Document)
                            .map(|f| param(f.ty, eval::field_value(item, f))),
                    ),
                }
                children.push(ChildRow { collection: c, ordinal: i32::try_from(i).unwrap_or(i32::MAX), values });
            }
        }
        let Value::Object(doc) = value else { return Err("a record must be a JSON object".into()) };
        Ok(Self { set, id, ticks, values, doc, doc_extra: extra, children })
    }

    /// The record's key (lower case).
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The set's time of the record, in ticks.
    #[must_use]
    pub fn ticks(&self) -> i64 {
        self.ticks
    }

    /// The v1.0 document.
    #[must_use]
    pub fn document(&self) -> &Map<String, Value> {
        &self.doc
    }

    #[must_use]
    pub fn set(&self) -> &'static EntitySet {
        self.set
    }

    fn doc_text(&self) -> String {
        Value::Object(self.doc.clone()).to_string()
    }

    fn extra_text(&self) -> Option<String> {
        (!self.doc_extra.is_empty()).then(|| Value::Object(self.doc_extra.clone()).to_string())
    }
}

/// A read of one entity set of one tenant.
#[derive(Debug, Clone)]
pub struct Query<'a> {
    pub set: &'static EntitySet,
    pub tenant: &'a TenantId,
    /// Only rows whose `user_id` is this one (lower case): a user's own sign-ins, one user's risk
    /// history. Part of the WHERE clause outside anything the caller wrote.
    pub user: Option<&'a str>,
    pub filter: Option<&'a Filter>,
    /// Sort keys; empty means the set's default (its time, newest first). The id follows.
    pub order: &'a [SortKey],
    /// The keyset position to start after: one value per sort key, then the id.
    pub after: Option<&'a [Scalar]>,
    pub limit: usize,
}

/// The default order of `set`: its time, newest first.
#[must_use]
pub fn default_order(set: &'static EntitySet) -> Vec<SortKey> {
    set.field(set.time_field).map(|field| SortKey { field, descending: true }).into_iter().collect()
}

/// The most values of an `in (...)` whose index ranges a page merges; past it, one `IN` as written.
const MAX_MERGED_VALUES: usize = 16;

/// A page in the default order (SQLite; PostgreSQL with prepared statements) whose filter has, among its top-level `and`ed conditions, `p in
/// (v1, …, vn)` on a property with an equality index (`indexes::EQUALITY_INDEXES`): the filter
/// once per distinct value, with `p eq v` in the `in`'s place. The arms match disjoint rows whose
/// union is the filter's, and each is one ordered range of the index, so the newest rows of the
/// union are a merge of n ranges (issue 20: a single `IN` over the index cannot give the time order,
/// and the planner walked the time index or sorted every row of the n values). `None` for a
/// property the tenant sees masked (its values would read `hidden` or `generic`).
fn merged_arms(set: &EntitySet, filter: &Filter, masks: Masks) -> Option<Vec<Filter>> {
    let conditions = crate::filter::conjuncts(filter);
    let (at, field, values) = conditions.iter().enumerate().find_map(|(i, c)| match c {
        Filter::In { lhs: Operand::Field(f), values } => match f.source {
            Source::Column(column)
                if crate::indexes::equality_index(set.table, column).is_some()
                    && !masks.hidden.contains(&f.path)
                    && masks.generic_of(f.path).is_none() =>
            {
                Some((i, *f, values))
            }
            _ => None,
        },
        _ => None,
    })?;
    let mut distinct: Vec<&Scalar> = Vec::new();
    for v in values {
        if !distinct.contains(&v) {
            distinct.push(v);
        }
    }
    if !(2..=MAX_MERGED_VALUES).contains(&distinct.len()) || distinct.contains(&&Scalar::Null) {
        return None;
    }
    let arms = distinct
        .into_iter()
        .map(|v| {
            let eq = Filter::Compare { op: CmpOp::Eq, lhs: Operand::Field(field), rhs: Operand::Literal(v.clone()) };
            conditions
                .iter()
                .enumerate()
                .map(|(i, c)| if i == at { eq.clone() } else { (*c).clone() })
                .reduce(|a, b| Filter::And(Box::new(a), Box::new(b)))
                .unwrap_or(eq)
        })
        .collect();
    Some(arms)
}

/// The tenant, the caller's scope and the retention window: first in every WHERE clause, outside
/// anything the caller wrote, so no filter, id or skiptoken can widen them.
pub(crate) fn push_scope(sql: &mut Sql, set: &EntitySet, tenant: &TenantId, user: Option<&str>, view: &TenantView) {
    sql.push(" WHERE s.tenant_id = ").bind(Param::Text(tenant.as_str().to_owned()));
    let from = view.window_start(set);
    match set.kind.retention() {
        Retention::Window(_) => {
            sql.push(" AND s.created_ticks >= ").bind(Param::BigInt(from));
        }
        // Kept while at risk; once remediated or dismissed, for the window.
        Retention::WhileOpen(_) => push_open_or_recent(sql, "s", from),
        // Visible while the parent is: a risky user's history while the user is.
        Retention::WithParent(parent) => {
            let parent = parent.registry();
            sql.push(" AND EXISTS (SELECT 1 FROM ")
                .push(parent.table)
                .push(" u WHERE u.tenant_id = s.tenant_id AND u.id = s.user_id");
            match parent.kind.retention() {
                Retention::WhileOpen(_) => push_open_or_recent(sql, "u", from),
                Retention::Window(_) | Retention::WithParent(_) => {
                    sql.push(" AND u.created_ticks >= ").bind(Param::BigInt(from));
                }
            }
            sql.push(")");
        }
    }
    if let Some(user) = user {
        sql.push(" AND s.user_id = ").bind(Param::Text(user.to_owned()));
    }
}

/// ` AND (risk still open OR changed since from)` for the risky-user rows of `alias`.
pub(crate) fn push_open_or_recent(sql: &mut Sql, alias: &str, from: i64) {
    sql.push(" AND (").push(alias).push(".risk_state IN ").bind_list(open_risk_states());
    sql.push(" OR ").push(alias).push(".created_ticks >= ").bind(Param::BigInt(from)).push(")");
}

/// [`OPEN_RISK_STATES`] as parameters.
pub(crate) fn open_risk_states() -> impl Iterator<Item = Param> {
    OPEN_RISK_STATES.iter().map(|s| Param::Text((*s).to_owned()))
}

/// Ids as parameters.
pub(crate) fn id_params(ids: &[String]) -> impl Iterator<Item = Param> + '_ {
    ids.iter().map(|id| Param::Text(id.clone()))
}

#[derive(QueryableByName)]
struct IdRow {
    #[diesel(sql_type = Text)]
    id: String,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

impl Store {
    /// The SQL of one page of `q` (also for benchmarks and EXPLAIN tests).
    #[must_use]
    pub fn page_sql(&self, q: &Query<'_>, view: &TenantView) -> Sql {
        let masks = view.masks(q.set);
        let compiler = Compiler::new(q.set).masking(masks);
        let order = if q.order.is_empty() { default_order(q.set) } else { q.order.to_vec() };
        let arm = |sql: &mut Sql, filter: Option<&Filter>| {
            sql.push("SELECT s.created_ticks, s.id, s.doc, s.doc_extra FROM ").push(q.set.table).push(" s");
            push_scope(sql, q.set, q.tenant, q.user, view);
            if let Some(f) = filter {
                compiler.push_filter(sql, f);
            }
            if let Some(cursor) = q.after {
                compiler.push_keyset(sql, &order, q.set.id_field(), cursor);
            }
        };
        let mut sql = Sql::new(self.backend());
        let limit = Param::BigInt(i64::try_from(q.limit).unwrap_or(i64::MAX));
        // On PostgreSQL only with prepared statements: it plans every arm over every day partition
        // (three arms cost seven times Q1's planning, more than the rows they save:
        // bench/ANALYSIS.md), which a connection's generic plan for the shape does once
        // (`prepared.rs`). Without them its own plan for the `IN` (it walks the time index for
        // common values and sorts the few rows of rare ones) costs less.
        let merged = q
            .filter
            .filter(|_| {
                order == default_order(q.set)
                    && (self.backend() == Backend::Sqlite || self.session.prepared_statements > 0)
            })
            .and_then(|f| merged_arms(q.set, f, masks));
        match merged {
            Some(arms) => {
                // PostgreSQL merges a top-level UNION ALL's inputs in order (Merge Append) only when
                // each arm is itself ordered: each arm is its own page, ordered and limited (at
                // most `limit` rows of its index, read in order through its day partitions), and
                // the page is the newest of their union. Without the arms' limits it appends and
                // sorts every row of the values (measured: 297,746 rows read for one page).
                let postgres = self.backend() == Backend::Postgres;
                for (i, f) in arms.iter().enumerate() {
                    if i > 0 {
                        sql.push(" UNION ALL ");
                    }
                    if postgres {
                        sql.push("(");
                    }
                    arm(&mut sql, Some(f));
                    if postgres {
                        compiler.push_order(&mut sql, &order, q.set.id_field());
                        sql.push(" LIMIT ").bind(limit.clone()).push(")");
                    }
                }
                // Ordered by the result columns (every set's time is in `created_ticks`): each
                // arm's rows come from its index in this order, and the database merges them
                // (SQLite: MERGE (UNION ALL), each arm a co-routine), reading each arm only as
                // far as the page needs.
                sql.push(" ORDER BY created_ticks DESC, id DESC");
            }
            None => {
                arm(&mut sql, q.filter);
                compiler.push_order(&mut sql, &order, q.set.id_field());
            }
        }
        sql.push(" LIMIT ").bind(limit);
        sql
    }

    /// One page of `q` as `view` sees the tenant (read once per request by the caller), and with
    /// `count` how many rows match in all, on one connection.
    ///
    /// # Errors
    /// Database errors; [`crate::StorageError::Timeout`] past the statement timeout.
    pub fn page_in(
        &self,
        q: &Query<'_>,
        view: &TenantView,
        count: bool,
    ) -> StorageResult<(Vec<StoredDocument>, Option<i64>)> {
        let sql = self.page_sql(q, view);
        tracing::debug!(set = q.set.name, sql = sql.text(), "page");
        let count_sql = count.then(|| self.count_sql(q, view));
        self.read(|conn| {
            let docs = sql.load(conn)?;
            let n = match &count_sql {
                Some(c) => Some(c.load::<Count>(conn)?.first().map_or(0, |c| c.n)),
                None => None,
            };
            Ok((docs, n))
        })
    }

    /// The SQL that counts the rows `q` matches.
    #[must_use]
    pub fn count_sql(&self, q: &Query<'_>, view: &TenantView) -> Sql {
        let mut sql = Sql::new(self.backend());
        sql.push("SELECT COUNT(*) AS n FROM ").push(q.set.table).push(" s");
        push_scope(&mut sql, q.set, q.tenant, q.user, view);
        if let Some(f) = q.filter {
            Compiler::new(q.set).masking(view.masks(q.set)).push_filter(&mut sql, f);
        }
        sql
    }

    /// How many rows `q` matches (its order, cursor and limit aside) as `view` sees the tenant.
    ///
    /// # Errors
    /// Database errors; [`crate::StorageError::Timeout`].
    pub fn count_in(&self, q: &Query<'_>, view: &TenantView) -> StorageResult<i64> {
        let sql = self.count_sql(q, view);
        self.read(|conn| Ok(sql.load::<Count>(conn)?.first().map_or(0, |c| c.n)))
    }

    /// The SQL that reads the entity `id` of `set` (also for benchmarks and EXPLAIN tests).
    #[must_use]
    pub fn get_sql(
        &self,
        set: &'static EntitySet,
        tenant: &TenantId,
        user: Option<&str>,
        id: &str,
        view: &TenantView,
    ) -> Sql {
        let id = id.to_lowercase();
        let mut sql = Sql::new(self.backend());
        sql.push("SELECT s.created_ticks, s.id, s.doc, s.doc_extra FROM ").push(set.table).push(" s");
        push_scope(&mut sql, set, tenant, user, view);
        sql.push(" AND s.id = ").bind(Param::Text(id.clone()));
        if self.backend() == Backend::Postgres && crate::partitions::is_partitioned(set.kind) {
            // Find the partition through the key table instead of probing every partition.
            sql.push(" AND s.created_ticks = (SELECT created_ticks FROM sign_in_keys WHERE tenant_id = ")
                .bind(Param::Text(tenant.as_str().to_owned()))
                .push(" AND id = ")
                .bind(Param::Text(id))
                .push(")");
        }
        sql
    }

    /// The entity `id` of `set` in `tenant`, if it exists within the scope and retention, as
    /// `view` sees the tenant.
    ///
    /// # Errors
    /// Database errors.
    pub fn get_in(
        &self,
        set: &'static EntitySet,
        tenant: &TenantId,
        user: Option<&str>,
        id: &str,
        view: &TenantView,
    ) -> StorageResult<Option<StoredDocument>> {
        let sql = self.get_sql(set, tenant, user, id, view);
        self.read(|conn| Ok(sql.load::<StoredDocument>(conn)?.into_iter().next()))
    }

    /// Stores `records` of one set (not sign-ins, not risky users: see their own paths) for
    /// `tenant`, all or nothing. A record whose id is already stored (or repeats an earlier one in
    /// the batch) is a duplicate and left as it was; one past the tenant's window is expired.
    ///
    /// # Errors
    /// Database errors; nothing is stored then.
    pub fn ingest_records(&self, tenant: &TenantId, records: Vec<Record>) -> StorageResult<IngestOutcome> {
        let Some(set) = records.first().map(|r| r.set) else { return Ok(IngestOutcome::default()) };
        let view = self.tenant_view(tenant)?;
        let from = view.window_start(set);
        let total = records.len();
        let mut seen = HashSet::with_capacity(total);
        let (live, past): (Vec<Record>, Vec<Record>) = records.into_iter().partition(|r| r.ticks >= from);
        let unique: Vec<Record> = live.into_iter().filter(|r| seen.insert(r.id.clone())).collect();
        let inserted = self.write_transaction(|c| {
            let fresh = insert_new(c, tenant, &unique)?;
            feed::append(c, tenant, &fresh)?;
            Ok(fresh.len())
        })?;
        Ok(IngestOutcome { inserted, duplicates: total - past.len() - inserted, expired: past.len() })
    }
}

/// Runs `f` in a transaction that holds the write lock from its start (SQLite `BEGIN IMMEDIATE`,
/// so a read-then-write cannot fail on lock upgrade), committing on success.
pub(crate) fn in_write_transaction<T>(
    conn: &mut AnyConnection,
    f: impl FnOnce(&mut AnyConnection) -> diesel::QueryResult<T>,
) -> diesel::QueryResult<T> {
    if matches!(conn, AnyConnection::Postgresql(_)) {
        return conn.transaction(f);
    }
    conn.batch_execute("BEGIN IMMEDIATE")?;
    match f(conn) {
        Ok(v) => match conn.batch_execute("COMMIT") {
            Ok(()) => Ok(v),
            Err(e) => {
                let _ = conn.batch_execute("ROLLBACK");
                Err(e)
            }
        },
        Err(e) => {
            let _ = conn.batch_execute("ROLLBACK");
            Err(e)
        }
    }
}

/// Inserts the records whose id is not stored yet, with their child rows; returns their feed
/// entries (to append to the journal at the end of the transaction: `feed::append`).
pub(crate) fn insert_new(
    c: &mut AnyConnection,
    tenant: &TenantId,
    records: &[Record],
) -> diesel::QueryResult<Vec<feed::Entry>> {
    let mut inserted = Vec::new();
    for chunk in records.chunks(INSERT_CHUNK) {
        let Some(set) = chunk.first().map(|r| r.set) else { continue };
        let cols: Vec<&str> = columns(set).map(|(c, _)| c).collect();
        let backend = c.backend();
        let mut sql = Sql::new(backend);
        sql.push("INSERT INTO ").push(set.table).push(" (tenant_id, id, created_ticks");
        for col in &cols {
            sql.push(", ").push(col);
        }
        sql.push(", doc, doc_extra) VALUES ");
        for (i, r) in chunk.iter().enumerate() {
            sql.push(if i > 0 { ", (" } else { "(" });
            sql.bind(Param::Text(tenant.as_str().to_owned())).push(", ");
            sql.bind(Param::Text(r.id.clone())).push(", ");
            sql.bind(Param::BigInt(r.ticks));
            for v in &r.values {
                sql.push(", ").bind(v.clone());
            }
            sql.push(", ")
                .bind(Param::Text(r.doc_text()))
                .push(", ")
                .bind(Param::NullableText(r.extra_text()))
                .push(")");
        }
        sql.push(" ON CONFLICT (tenant_id, id) DO NOTHING RETURNING id");
        let fresh: HashSet<String> = sql.load::<IdRow>(c)?.into_iter().map(|r| r.id).collect();
        inserted.extend(chunk.iter().filter(|r| fresh.contains(&r.id)).map(|r| feed::Entry {
            set: set.kind,
            id: r.id.clone(),
            ticks: r.ticks,
            user: None,
        }));
        let children: Vec<(&Record, &ChildRow)> = chunk
            .iter()
            .filter(|r| fresh.contains(&r.id))
            .flat_map(|r| r.children.iter().map(move |ch| (r, ch)))
            .collect();
        insert_children(c, backend, tenant, set, &children)?;
    }
    Ok(inserted)
}

fn insert_children(
    c: &mut AnyConnection,
    backend: Backend,
    tenant: &TenantId,
    set: &EntitySet,
    rows: &[(&Record, &ChildRow)],
) -> diesel::QueryResult<()> {
    for collection in set.collections {
        let of_collection: Vec<&(&Record, &ChildRow)> =
            rows.iter().filter(|(_, ch)| std::ptr::eq(ch.collection, collection)).collect();
        let cols = child_columns(collection);
        for chunk in of_collection.chunks(INSERT_CHUNK) {
            let mut sql = Sql::new(backend);
            sql.push("INSERT INTO ").push(collection.table).push(" (tenant_id, ").push(set.child_key);
            sql.push(", created_ticks, ordinal");
            for col in &cols {
                sql.push(", ").push(col);
            }
            sql.push(") VALUES ");
            for (i, (r, ch)) in chunk.iter().enumerate() {
                sql.push(if i > 0 { ", (" } else { "(" });
                sql.bind(Param::Text(tenant.as_str().to_owned())).push(", ");
                sql.bind(Param::Text(r.id.clone())).push(", ");
                sql.bind(Param::BigInt(r.ticks)).push(", ").bind(Param::Integer(ch.ordinal));
                for v in &ch.values {
                    sql.push(", ").bind(v.clone());
                }
                sql.push(")");
            }
            sql.execute(c)?;
        }
    }
    Ok(())
}

/// Deletes the rows of `set` with these ids, their child rows and their feed entries.
pub(crate) fn delete_ids(
    c: &mut AnyConnection,
    backend: Backend,
    set: &EntitySet,
    tenant: &str,
    ids: &[String],
) -> diesel::QueryResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    feed::delete_ids(c, backend, set.kind, tenant, ids)?;
    let tables = set.collections.iter().map(|c| (c.table, set.child_key)).chain([(set.table, "id")]);
    for (table, key) in tables {
        let mut del = Sql::new(backend);
        del.push("DELETE FROM ").push(table).push(" WHERE tenant_id = ").bind(Param::Text(tenant.to_owned()));
        del.push(" AND ").push(key).push(" IN ").bind_list(id_params(ids));
        del.execute(c)?;
    }
    Ok(())
}
