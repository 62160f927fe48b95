//! Sign-in rollups: counts per (tenant, 15-minute block, application, error code), the same per
//! UTC day (so a week reads 7 rows per key, not 672), and presence per (tenant, block, user,
//! application, status class), kept by ingest in the transaction that stores the sign-ins (for the
//! rows that went in only, so a duplicate adds nothing) and purged with them. Reports read these,
//! never `sign_ins`.
//!
//! A block is 15 minutes of UTC ([`domain::reports::BLOCK_TICKS`]); every local hour, day and week
//! of a real time zone is a union of blocks, so any report bucket sums blocks exactly, and distinct
//! users are counted over the presence rows of its blocks. Reports start at a block boundary: the
//! retention window starts at an arbitrary instant, and a report clamps to the first whole block
//! inside it (`domain::reports::block_ceil`).

use std::collections::BTreeMap;

use diesel::QueryResult;
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Text};
use domain::ids::TenantId;
use domain::reports::{BLOCK_TICKS, block_of, is_success};
use domain::time::{TICKS_PER_DAY, day_start};

use crate::Store;
use crate::conn::{AnyConnection, Backend};
use crate::error::StorageResult;
use crate::sign_ins::SignInRecord;
use crate::sql::{Param, Sql};

/// The stored error code of a sign-in without one (Graph's codes are not negative).
pub const NO_ERROR_CODE: i32 = -1;

/// Rows per multi-row upsert (7 parameters each, well under both databases' limits).
const CHUNK: usize = 500;

/// The rollup rows one ingest adds, summed per key (a key appears once per statement, and keys are
/// written in order, so concurrent ingests lock them in the same order).
#[derive(Debug, Default)]
pub(crate) struct RollupDelta {
    /// (block, app id, error code or [`NO_ERROR_CODE`]) → (sign-ins, the greatest display name
    /// and failure reason sent).
    apps: BTreeMap<(i64, String, i32), (i64, String, String)>,
    /// The same per UTC day.
    app_days: BTreeMap<(i64, String, i32), (i64, String, String)>,
    /// (block, user id, app id, failed) → sign-ins.
    users: BTreeMap<(i64, String, String, i32), i64>,
    /// (day, user id) → the day's blocks as bits (low 64, high 32).
    presence: BTreeMap<(i64, String), (i64, i64)>,
    /// (day, app id, user id) → the day's blocks as bits.
    app_presence: BTreeMap<(i64, String, String), (i64, i64)>,
}

/// What the rollups count of one sign-in.
struct Counted<'a> {
    ticks: i64,
    /// Lower case, as the columns hold them.
    user_id: &'a str,
    app_id: Option<&'a str>,
    /// `appDisplayName` and `status/failureReason` as sent.
    app_name: Option<&'a str>,
    failure_reason: Option<&'a str>,
    error_code: Option<i32>,
}

/// The bits of the blocks `[first, last]` of a UTC day (indices 0 to 95): (bits 0-63, bits 64-95).
#[must_use]
pub fn block_bits(first: i64, last: i64) -> (i64, i64) {
    let mut bits = (0i64, 0i64);
    for i in first.max(0)..=last.min(BLOCKS_PER_DAY - 1) {
        if i < 64 {
            bits.0 |= 1i64 << i;
        } else {
            bits.1 |= 1i64 << (i - 64);
        }
    }
    bits
}

/// 15-minute blocks in a UTC day.
const BLOCKS_PER_DAY: i64 = TICKS_PER_DAY / BLOCK_TICKS;

/// UTC days per row of the span tables (`sign_in_user_spans`): one bit each, in a bigint whose
/// sign bit stays clear.
pub(crate) const SPAN_DAYS: i64 = 63;

/// The span holding the UTC day that starts at `day` (ticks), and the day's bit in it.
#[must_use]
pub(crate) fn span_bit(day: i64) -> (i64, i64) {
    let index = day.div_euclid(TICKS_PER_DAY);
    let span = index.div_euclid(SPAN_DAYS) * SPAN_DAYS;
    (span * TICKS_PER_DAY, 1i64 << (index - span))
}

impl RollupDelta {
    /// Counts one stored sign-in.
    pub(crate) fn add(&mut self, r: &SignInRecord) {
        self.add_one(&Counted {
            ticks: r.created_ticks(),
            user_id: r.user_id(),
            app_id: r.app_id(),
            app_name: r.app_display_name(),
            failure_reason: r.failure_reason(),
            error_code: r.error_code(),
        });
    }

    fn add_one(&mut self, r: &Counted<'_>) {
        let block = block_of(r.ticks);
        let failed = i32::from(!is_success(r.error_code));
        let app = r.app_id.unwrap_or_default().to_owned();
        let name = r.app_name.unwrap_or_default().to_owned();
        let reason = r.failure_reason.unwrap_or_default().to_owned();
        let code = r.error_code.unwrap_or(NO_ERROR_CODE);
        let day = day_start(block);
        for (map, time) in [(&mut self.apps, block), (&mut self.app_days, day)] {
            let e = map.entry((time, app.clone(), code)).or_insert((0, String::new(), String::new()));
            e.0 += 1;
            if name > e.1 {
                e.1.clone_from(&name);
            }
            if reason > e.2 {
                e.2.clone_from(&reason);
            }
        }
        let index = (block - day) / BLOCK_TICKS;
        let (lo, hi) = block_bits(index, index);
        let p = self.presence.entry((day, r.user_id.to_owned())).or_insert((0, 0));
        *p = (p.0 | lo, p.1 | hi);
        let p = self.app_presence.entry((day, app.clone(), r.user_id.to_owned())).or_insert((0, 0));
        *p = (p.0 | lo, p.1 | hi);
        *self.users.entry((block, r.user_id.to_owned(), app, failed)).or_insert(0) += 1;
    }

    /// Adds the counts to the rollup tables, inside the caller's transaction. A bitmap that
    /// already has every bit of the update is left as it is: most batches sign in users who
    /// already signed in that day, and an update that changes nothing still writes a new row
    /// version on PostgreSQL.
    pub(crate) fn write(self, conn: &mut AnyConnection, backend: Backend, tenant: &TenantId) -> QueryResult<()> {
        let t = || Param::Text(tenant.as_str().to_owned());
        for (table, time, rows) in
            [("sign_in_app_blocks", "block_ticks", self.apps), ("sign_in_app_days", "day_ticks", self.app_days)]
        {
            // The greatest name and reason, so the rows do not depend on the order of ingests.
            let greatest =
                |c: &str| format!("{c} = CASE WHEN excluded.{c} > {table}.{c} THEN excluded.{c} ELSE {table}.{c} END");
            upsert(
                conn,
                backend,
                &format!(
                    "INSERT INTO {table} \
                     (tenant_id, {time}, app_id, error_code, sign_ins, app_display_name, failure_reason)"
                ),
                rows.into_iter().map(|((time, app, code), (n, name, reason))| {
                    [
                        t(),
                        Param::BigInt(time),
                        Param::Text(app),
                        Param::Integer(code),
                        Param::BigInt(n),
                        Param::Text(name),
                        Param::Text(reason),
                    ]
                }),
                &format!(
                    " ON CONFLICT (tenant_id, {time}, app_id, error_code) DO UPDATE SET \
                     sign_ins = {table}.sign_ins + excluded.sign_ins, {}, {}",
                    greatest("app_display_name"),
                    greatest("failure_reason")
                ),
            )?;
        }
        upsert(
            conn,
            backend,
            "INSERT INTO sign_in_user_blocks (tenant_id, block_ticks, user_id, app_id, failed, sign_ins)",
            self.users.into_iter().map(|((block, user, app, failed), n)| {
                [
                    t(),
                    Param::BigInt(block),
                    Param::Text(user),
                    Param::Text(app),
                    Param::Integer(failed),
                    Param::BigInt(n),
                ]
            }),
            " ON CONFLICT (tenant_id, block_ticks, user_id, app_id, failed) DO UPDATE SET \
             sign_ins = sign_in_user_blocks.sign_ins + excluded.sign_ins",
        )?;
        // A span's day is set when the user's presence row of that day is created (PostgreSQL
        // says which were); SQLite sets every day of the batch, most of them already set.
        let (days, app_days) = if backend == Backend::Postgres {
            (Vec::new(), Vec::new())
        } else {
            (
                self.presence.keys().map(|(day, user)| (*day, String::new(), user.clone())).collect(),
                self.app_presence.keys().map(|(day, app, user)| (*day, app.clone(), user.clone())).collect(),
            )
        };
        let new_days = upsert_presence(
            conn,
            backend,
            "INSERT INTO sign_in_presence (tenant_id, day_ticks, user_id, bits_lo, bits_hi)",
            self.presence.into_iter().map(|((day, user), (lo, hi))| {
                [t(), Param::BigInt(day), Param::Text(user), Param::BigInt(lo), Param::BigInt(hi)]
            }),
            (add_bits("sign_in_presence", "tenant_id, day_ticks, user_id").as_str(), "''"),
        )?;
        let new_app_days = upsert_presence(
            conn,
            backend,
            "INSERT INTO sign_in_app_presence (tenant_id, day_ticks, app_id, user_id, bits_lo, bits_hi)",
            self.app_presence.into_iter().map(|((day, app, user), (lo, hi))| {
                [t(), Param::BigInt(day), Param::Text(app), Param::Text(user), Param::BigInt(lo), Param::BigInt(hi)]
            }),
            (add_bits("sign_in_app_presence", "tenant_id, day_ticks, app_id, user_id").as_str(), "app_id"),
        )?;
        let spans = created_spans(new_days.unwrap_or(days), |span, _, user| (span, user));
        let app_spans = created_spans(new_app_days.unwrap_or(app_days), |span, app, user| (span, app, user));
        upsert(
            conn,
            backend,
            "INSERT INTO sign_in_user_spans (tenant_id, span_ticks, user_id, days)",
            spans
                .into_iter()
                .map(|((span, user), days)| [t(), Param::BigInt(span), Param::Text(user), Param::BigInt(days)]),
            " ON CONFLICT (tenant_id, span_ticks, user_id) DO UPDATE SET \
             days = sign_in_user_spans.days | excluded.days \
             WHERE (sign_in_user_spans.days | excluded.days) <> sign_in_user_spans.days",
        )?;
        upsert(
            conn,
            backend,
            "INSERT INTO sign_in_app_user_spans (tenant_id, span_ticks, app_id, user_id, days)",
            app_spans.into_iter().map(|((span, app, user), days)| {
                [t(), Param::BigInt(span), Param::Text(app), Param::Text(user), Param::BigInt(days)]
            }),
            " ON CONFLICT (tenant_id, span_ticks, app_id, user_id) DO UPDATE SET \
             days = sign_in_app_user_spans.days | excluded.days \
             WHERE (sign_in_app_user_spans.days | excluded.days) <> sign_in_app_user_spans.days",
        )
    }
}

/// Runs `insert` (`INSERT INTO table (columns)`) of `rows` with `on_conflict`. PostgreSQL: one
/// statement whatever the number of rows, each column bound as one array and read back with
/// `UNNEST` (a multi-row `VALUES` of 500 rows binds 3,500 parameters, and its parsing and planning
/// cost more than its writing: the rollups took 16 % of ingest). SQLite: `VALUES` in statements of
/// at most [`CHUNK`] rows.
fn upsert<const N: usize>(
    conn: &mut AnyConnection,
    backend: Backend,
    insert: &str,
    rows: impl Iterator<Item = [Param; N]>,
    on_conflict: &str,
) -> QueryResult<()> {
    for sql in upsert_statements(backend, insert, rows, on_conflict) {
        sql.execute(conn)?;
    }
    Ok(())
}

/// The statements of [`upsert`]: one on PostgreSQL (none without rows), one per [`CHUNK`] rows on
/// SQLite.
fn upsert_statements<const N: usize>(
    backend: Backend,
    insert: &str,
    rows: impl Iterator<Item = [Param; N]>,
    on_conflict: &str,
) -> Vec<Sql> {
    let rows: Vec<[Param; N]> = rows.collect();
    if rows.is_empty() {
        return Vec::new();
    }
    if backend == Backend::Postgres {
        let mut sql = Sql::new(backend);
        sql.push(insert).push(" SELECT * FROM UNNEST(");
        for k in 0..N {
            if k > 0 {
                sql.push(", ");
            }
            let column = rows.iter().filter_map(|r| r.get(k));
            match rows.first().and_then(|r| r.get(k)) {
                Some(Param::Text(_)) => {
                    sql.bind(Param::TextArray(
                        column.map(|p| if let Param::Text(v) = p { v.clone() } else { String::new() }).collect(),
                    ))
                    .push("::text[]");
                }
                Some(Param::Integer(_)) => {
                    sql.bind(Param::BigIntArray(
                        column.map(|p| if let Param::Integer(v) = p { i64::from(*v) } else { 0 }).collect(),
                    ))
                    .push("::bigint[]::integer[]");
                }
                _ => {
                    sql.bind(Param::BigIntArray(
                        column.map(|p| if let Param::BigInt(v) = p { *v } else { 0 }).collect(),
                    ))
                    .push("::bigint[]");
                }
            }
        }
        sql.push(")").push(on_conflict);
        return vec![sql];
    }
    rows.chunks(CHUNK)
        .map(|chunk| {
            let mut sql = Sql::new(backend);
            sql.push(insert).push(" VALUES ");
            for (i, row) in chunk.iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                sql.bind_list(row.iter().cloned());
            }
            sql.push(on_conflict);
            sql
        })
        .collect()
}

/// `ON CONFLICT (key) DO UPDATE` of a presence table: the block bits ORed in, and no new row
/// version when every bit is set already.
fn add_bits(table: &str, key: &str) -> String {
    format!(
        " ON CONFLICT ({key}) DO UPDATE SET bits_lo = {table}.bits_lo | excluded.bits_lo, \
         bits_hi = {table}.bits_hi | excluded.bits_hi \
         WHERE ({table}.bits_lo | excluded.bits_lo) <> {table}.bits_lo \
         OR ({table}.bits_hi | excluded.bits_hi) <> {table}.bits_hi"
    )
}

/// The span bits of presence rows ((day, app id, user id)), keyed by `key` of (span, app id,
/// user id).
fn created_spans<K: Ord>(
    created: Vec<(i64, String, String)>,
    key: impl Fn(i64, String, String) -> K,
) -> BTreeMap<K, i64> {
    let mut spans = BTreeMap::new();
    for (day, app, user) in created {
        let (span, bit) = span_bit(day);
        *spans.entry(key(span, app, user)).or_insert(0) |= bit;
    }
    spans
}

/// A presence row an upsert created or changed, and whether it created it.
#[derive(QueryableByName)]
struct Touched {
    #[diesel(sql_type = BigInt)]
    day_ticks: i64,
    #[diesel(sql_type = Text)]
    app_id: String,
    #[diesel(sql_type = Text)]
    user_id: String,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    created: bool,
}

/// Runs a presence upsert; on PostgreSQL, returns the (day, app id or `''`, user id) of the rows it
/// created (a user's first sign-in of the day), the only ones that change a span. SQLite: `None`
/// (its spans take every row of the batch, and an update there costs nothing like PostgreSQL's).
fn upsert_presence<const N: usize>(
    conn: &mut AnyConnection,
    backend: Backend,
    insert: &str,
    rows: impl Iterator<Item = [Param; N]>,
    (on_conflict, app_column): (&str, &str),
) -> QueryResult<Option<Vec<(i64, String, String)>>> {
    let mut created = Vec::new();
    for mut sql in upsert_statements(backend, insert, rows, on_conflict) {
        if backend != Backend::Postgres {
            sql.execute(conn)?;
            continue;
        }
        // `xmax` is 0 in a row version an INSERT wrote, and set in one an ON CONFLICT UPDATE wrote.
        sql.push(&format!(" RETURNING day_ticks, {app_column} AS app_id, user_id, (xmax = 0) AS created"));
        created.extend(
            sql.load::<Touched>(conn)?.into_iter().filter(|t| t.created).map(|t| (t.day_ticks, t.app_id, t.user_id)),
        );
    }
    Ok((backend == Backend::Postgres).then_some(created))
}

/// The rollup tables and their time column, for the purge (which deletes rows before a time).
pub(crate) const ROLLUP_TABLES: &[(&str, &str)] = &[
    ("sign_in_app_blocks", "block_ticks"),
    ("sign_in_app_days", "day_ticks"),
    ("sign_in_user_blocks", "block_ticks"),
    ("sign_in_presence", "day_ticks"),
    ("sign_in_app_presence", "day_ticks"),
];

/// The span tables, each with the presence table its bits summarise per day (the purge clears
/// bits of days, not rows before a time).
pub(crate) const SPAN_TABLES: &[(&str, &str)] =
    &[("sign_in_user_spans", "sign_in_presence"), ("sign_in_app_user_spans", "sign_in_app_presence")];

/// Every rollup table's name.
pub(crate) fn all_rollup_tables() -> impl Iterator<Item = &'static str> {
    ROLLUP_TABLES.iter().chain(SPAN_TABLES).map(|(t, _)| *t)
}

/// What a report counts: every sign-in of the tenant, or those of one application and/or users.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReportFilter<'a> {
    /// Lower-case application id (`''` selects sign-ins without one).
    pub app_id: Option<&'a str>,
    /// Lower-case user object ids.
    pub user_ids: Option<&'a [String]>,
}

/// The numbers of one range of blocks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub sign_ins: i64,
    pub failed: i64,
    pub distinct_users: i64,
}

/// An application's sign-ins in a range.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct AppTotal {
    #[diesel(sql_type = Text)]
    pub app_id: String,
    /// `''` when no sign-in carried one.
    #[diesel(sql_type = Text)]
    pub app_display_name: String,
    #[diesel(sql_type = BigInt)]
    pub sign_ins: i64,
}

/// One (application, UTC day, error code) of Graph's detailed summary.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct AppDay {
    #[diesel(sql_type = Text)]
    pub app_id: String,
    #[diesel(sql_type = Text)]
    pub app_display_name: String,
    #[diesel(sql_type = BigInt)]
    pub day: i64,
    /// [`NO_ERROR_CODE`] when the sign-ins had none.
    #[diesel(sql_type = diesel::sql_types::Integer)]
    pub error_code: i32,
    /// As last sent, `''` when absent.
    #[diesel(sql_type = Text)]
    pub failure_reason: String,
    #[diesel(sql_type = BigInt)]
    pub sign_ins: i64,
}

#[derive(QueryableByName)]
struct CountRow {
    #[diesel(sql_type = BigInt)]
    i: i64,
    #[diesel(sql_type = Text)]
    app_id: String,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = BigInt)]
    sign_ins: i64,
    #[diesel(sql_type = BigInt)]
    failed: i64,
}

#[derive(QueryableByName)]
struct UserRow {
    #[diesel(sql_type = BigInt)]
    i: i64,
    #[diesel(sql_type = Text)]
    app_id: String,
    #[diesel(sql_type = BigInt)]
    sign_ins: i64,
    #[diesel(sql_type = BigInt)]
    failed: i64,
    #[diesel(sql_type = BigInt)]
    users: i64,
}

#[derive(QueryableByName)]
struct UsersRow {
    #[diesel(sql_type = BigInt)]
    i: i64,
    #[diesel(sql_type = Text)]
    app_id: String,
    #[diesel(sql_type = BigInt)]
    users: i64,
}

#[derive(QueryableByName)]
struct IdRow {
    #[diesel(sql_type = Text)]
    id: String,
}

/// A range of blocks as the rollups read it: its whole UTC days from the day rows, and the blocks
/// before the first and after the last of them from the block rows. A report's buckets are local
/// hours, days or weeks: a week reads 6 or 7 day rows per key and at most two partial days of
/// blocks, where the blocks alone would be 672.
#[derive(Debug, Default, PartialEq, Eq)]
struct Split {
    /// (range index, start, end) in blocks.
    blocks: Vec<[i64; 3]>,
    /// (range index, first day, end day).
    days: Vec<[i64; 3]>,
}

impl Split {
    fn of(ranges: &[(i64, i64)]) -> Self {
        let mut split = Self::default();
        for (i, &(s, e)) in ranges.iter().enumerate() {
            let i = i64::try_from(i).unwrap_or(i64::MAX);
            let first_day = day_start(s + TICKS_PER_DAY - 1);
            let end_day = day_start(e);
            if first_day < end_day {
                split.days.push([i, first_day, end_day]);
                for (a, b) in [(s, first_day), (end_day, e)] {
                    if a < b {
                        split.blocks.push([i, a, b]);
                    }
                }
            } else if s < e {
                split.blocks.push([i, s, e]);
            }
        }
        split
    }
}

/// Ranges cut at every range's bounds into disjoint pieces, each covered by at least one range:
/// counts that add up are read once per piece and summed per range.
#[derive(Debug, Default, PartialEq, Eq)]
struct Pieces {
    /// (start, end), in order, disjoint.
    pieces: Vec<(i64, i64)>,
    /// For each range, the pieces it is made of.
    of: Vec<Vec<usize>>,
}

impl Pieces {
    fn of(ranges: &[(i64, i64)]) -> Self {
        let mut bounds: Vec<i64> = ranges.iter().flat_map(|&(s, e)| [s, e]).collect();
        bounds.sort_unstable();
        bounds.dedup();
        let mut cut = Self { pieces: Vec::new(), of: vec![Vec::new(); ranges.len()] };
        for (&a, &b) in bounds.iter().zip(bounds.iter().skip(1)) {
            let mut covered = false;
            for (of, &(s, e)) in cut.of.iter_mut().zip(ranges) {
                if s <= a && b <= e {
                    of.push(cut.pieces.len());
                    covered = true;
                }
            }
            if covered {
                cut.pieces.push((a, b));
            }
        }
        cut
    }

    /// Adds each piece's sign-ins and failures to the ranges made of it.
    fn add_up(&self, pieces: &[Counts], ranges: &mut [Counts]) {
        for (c, of) in ranges.iter_mut().zip(&self.of) {
            for p in of.iter().filter_map(|k| pieces.get(*k)) {
                c.sign_ins += p.sign_ins;
                c.failed += p.failed;
            }
        }
    }
}

/// `name(c1, c2, ...) AS (...)`: rows of bigints as a table (empty is allowed).
fn values_table<const N: usize>(sql: &mut Sql, name: &str, columns: [&str; N], rows: &[[i64; N]]) {
    sql.push(name).push("(").push(&columns.join(", ")).push(") AS (");
    match sql.backend() {
        Backend::Postgres => {
            sql.push("SELECT * FROM UNNEST(");
            for k in 0..N {
                if k > 0 {
                    sql.push("::bigint[], ");
                }
                sql.bind(Param::BigIntArray(rows.iter().map(|r| r.get(k).copied().unwrap_or(0)).collect()));
            }
            sql.push("::bigint[])");
        }
        Backend::Sqlite if rows.is_empty() => {
            let zeros = vec!["0"; N];
            sql.push("SELECT ").push(&zeros.join(", ")).push(" WHERE 0");
        }
        Backend::Sqlite => {
            sql.push("VALUES ");
            for (n, row) in rows.iter().enumerate() {
                if n > 0 {
                    sql.push(", ");
                }
                sql.bind_list(row.iter().map(|v| Param::BigInt(*v)));
            }
        }
    }
    sql.push(")");
}

/// `{range} JOIN {table} {alias} ON {alias}.tenant_id = $tenant AND {alias}.{time} >= {range}.s
/// AND {alias}.{time} < {range}.e` and the caller's `conditions` (` AND ...` on the rollup's
/// columns): each row of the range table reads its own index range of the rollup table.
///
/// On PostgreSQL the rollup side is a `LATERAL` subquery behind `OFFSET 0` (which keeps the planner
/// from folding it back into a plain join): the planner cannot see the bounds inside the range
/// table, costs each range at a third of the tenant's rows, and chose a sequential scan of every
/// block of the tenant with a join filter (52-95 ms for R1 at 5 M sign-ins) over the index ranges
/// it now reads (7 ms). SQLite's nested loop reads the index ranges already.
fn push_range_join(
    sql: &mut Sql,
    (range, table, alias, time): (&str, &str, &str, &str),
    tenant: &TenantId,
    conditions: impl FnOnce(&mut Sql),
) {
    let key = format!("{alias}.{time} >= {range}.s AND {alias}.{time} < {range}.e");
    push_lateral_join(sql, (range, table, alias), tenant, &key, conditions);
}

/// [`push_range_join`] with another condition on the range's row (`key`).
fn push_lateral_join(
    sql: &mut Sql,
    (range, table, alias): (&str, &str, &str),
    tenant: &TenantId,
    key: &str,
    conditions: impl FnOnce(&mut Sql),
) {
    let t = Param::Text(tenant.as_str().to_owned());
    match sql.backend() {
        Backend::Postgres => {
            sql.push(&format!(" {range} JOIN LATERAL (SELECT * FROM {table} {alias} WHERE {alias}.tenant_id = "))
                .bind(t)
                .push(&format!(" AND {key}"));
            conditions(sql);
            sql.push(&format!(" OFFSET 0) {alias} ON TRUE"));
        }
        Backend::Sqlite => {
            sql.push(&format!(" {range} JOIN {table} {alias} ON {alias}.tenant_id = "))
                .bind(t)
                .push(&format!(" AND {key}"));
            conditions(sql);
        }
    }
}

/// Which applications a read counts: all of them together, or each of these apart.
#[derive(Clone, Copy)]
enum Apps<'a> {
    All,
    Each(&'a [String]),
    /// Each application apart, all of them.
    Every,
}

impl Apps<'_> {
    /// What the statement selects as `app_id`.
    fn column(self) -> &'static str {
        match self {
            Self::All => "''",
            Self::Each(_) | Self::Every => "r.app_id",
        }
    }

    fn push_filter(self, sql: &mut Sql) {
        if let Self::Each(apps) = self {
            sql.push(" AND r.app_id IN ").bind_list(apps.iter().map(|a| Param::Text(a.clone())));
        }
    }

    fn group_by(self) -> &'static str {
        match self {
            Self::All => "",
            Self::Each(_) | Self::Every => ", r.app_id",
        }
    }

    /// Where the counts of `app_id` in range `i` go in a result of `ranges` entries per application.
    fn slot<'o>(self, out: &'o mut [Counts], ranges: usize, app_id: &str, i: i64) -> Option<&'o mut Counts> {
        let app = match self {
            Self::All => 0,
            Self::Each(apps) => apps.iter().position(|a| a == app_id)?,
            Self::Every => return None,
        };
        let i = usize::try_from(i).ok().filter(|i| *i < ranges)?;
        out.get_mut(app * ranges + i)
    }
}

fn push_users(sql: &mut Sql, users: Option<&[String]>) {
    if let Some(ids) = users {
        sql.push(" AND r.user_id IN ").bind_list(ids.iter().map(|id| Param::Text(id.clone())));
    }
}

impl Store {
    /// The sign-ins, failures and distinct users of `tenant` in each range of blocks (ranges may
    /// overlap: a report passes its buckets and then its whole period).
    ///
    /// # Errors
    /// Database errors.
    pub fn rollup_counts(
        &self,
        tenant: &TenantId,
        ranges: &[(i64, i64)],
        filter: ReportFilter<'_>,
    ) -> StorageResult<Vec<Counts>> {
        let app = filter.app_id.map(|a| [a.to_owned()]);
        let apps = app.as_ref().map_or(Apps::All, |a| Apps::Each(a));
        self.counts_of(tenant, ranges, apps, filter.user_ids)
    }

    /// [`Store::rollup_counts`] for each of `apps` (lower-case ids): one `Vec` per application, in
    /// the order given, read in one pass over the rollups whatever the number of applications.
    ///
    /// # Errors
    /// Database errors.
    pub fn rollup_app_series(
        &self,
        tenant: &TenantId,
        ranges: &[(i64, i64)],
        apps: &[String],
        users: Option<&[String]>,
    ) -> StorageResult<Vec<Vec<Counts>>> {
        if apps.is_empty() {
            return Ok(Vec::new());
        }
        let flat = self.counts_of(tenant, ranges, Apps::Each(apps), users)?;
        Ok(flat.chunks(ranges.len().max(1)).map(<[Counts]>::to_vec).collect())
    }

    /// The counts of each range (per application of `apps`, one run of `ranges` each).
    fn counts_of(
        &self,
        tenant: &TenantId,
        ranges: &[(i64, i64)],
        apps: Apps<'_>,
        users: Option<&[String]>,
    ) -> StorageResult<Vec<Counts>> {
        let per_app = match apps {
            Apps::All | Apps::Every => 1,
            Apps::Each(a) => a.len(),
        };
        let mut out = vec![Counts::default(); ranges.len() * per_app];
        if ranges.is_empty() || users.is_some_and(<[String]>::is_empty) {
            return Ok(out);
        }
        let mut conn = self.conn()?;
        if let Some(users) = users {
            self.user_counts(&mut conn, tenant, ranges, apps, users, &mut out)?;
            return Ok(out);
        }
        self.distinct_users(&mut conn, tenant, ranges, apps, &mut out)?;
        // Sign-ins and failures add up: each piece of time is read once (a report's whole period
        // is the sum of its buckets).
        let pieces = Pieces::of(ranges);
        let n = pieces.pieces.len();
        let mut per_piece = vec![Counts::default(); n * per_app];
        for row in self.piece_counts(&mut conn, tenant, &pieces.pieces, apps)? {
            if let Some(c) = apps.slot(&mut per_piece, n, &row.app_id, row.i) {
                c.sign_ins = row.sign_ins;
                c.failed = row.failed;
            }
        }
        for (range_counts, piece_counts) in out.chunks_mut(ranges.len()).zip(per_piece.chunks(n.max(1))) {
            pieces.add_up(piece_counts, range_counts);
        }
        Ok(out)
    }

    /// Sign-ins, failures and the greatest display name per piece (and application, as `apps`
    /// says): a piece's whole UTC days from the day rows, its edges from the blocks.
    fn piece_counts(
        &self,
        conn: &mut AnyConnection,
        tenant: &TenantId,
        pieces: &[(i64, i64)],
        apps: Apps<'_>,
    ) -> StorageResult<Vec<CountRow>> {
        let split = Split::of(pieces);
        let mut sql = Sql::new(self.backend());
        sql.push("WITH ");
        values_table(&mut sql, "b", ["i", "s", "e"], &split.blocks);
        sql.push(", ");
        values_table(&mut sql, "d", ["i", "s", "e"], &split.days);
        sql.push(" SELECT x.i AS i, x.app_id AS app_id, MAX(x.name) AS name, CAST(SUM(x.n) AS BIGINT) AS sign_ins, ");
        sql.push("CAST(SUM(x.f) AS BIGINT) AS failed FROM (");
        for (k, (range, table, time)) in
            [("b", "sign_in_app_blocks", "block_ticks"), ("d", "sign_in_app_days", "day_ticks")].into_iter().enumerate()
        {
            if k > 0 {
                sql.push(" UNION ALL ");
            }
            sql.push(&format!(
                "SELECT {range}.i AS i, {} AS app_id, MAX(r.app_display_name) AS name, SUM(r.sign_ins) AS n, \
                 SUM(CASE WHEN r.error_code = 0 THEN 0 ELSE r.sign_ins END) AS f FROM",
                apps.column()
            ));
            push_range_join(&mut sql, (range, table, "r", time), tenant, |sql| apps.push_filter(sql));
            sql.push(&format!(" GROUP BY {range}.i{}", apps.group_by()));
        }
        sql.push(") x GROUP BY x.i, x.app_id");
        Ok(sql.load::<CountRow>(conn)?)
    }

    /// The `top` applications of `tenant` by sign-ins in `[start, end)` (blocks; the union of
    /// `ranges`), most first, ties by application id, with their counts in each range: every
    /// application's counts are read in one pass, and the top ones' distinct users after.
    /// [`Store::rollup_top_apps`] and then [`Store::rollup_app_series`] in two statements
    /// instead of three.
    ///
    /// # Errors
    /// Database errors.
    pub fn rollup_top_app_series(
        &self,
        tenant: &TenantId,
        ranges: &[(i64, i64)],
        (start, end): (i64, i64),
        top: usize,
    ) -> StorageResult<Vec<(AppTotal, Vec<Counts>)>> {
        let pieces = Pieces::of(ranges);
        let mut conn = self.conn()?;
        let rows = self.piece_counts(&mut conn, tenant, &pieces.pieces, Apps::Every)?;
        // Per application: its name, total in [start, end), and counts per piece.
        let mut by_app: BTreeMap<String, (AppTotal, Vec<Counts>)> = BTreeMap::new();
        for row in rows {
            let (Ok(k), entry) = (
                usize::try_from(row.i),
                by_app.entry(row.app_id.clone()).or_insert_with(|| {
                    let total = AppTotal { app_id: row.app_id.clone(), app_display_name: String::new(), sign_ins: 0 };
                    (total, vec![Counts::default(); pieces.pieces.len()])
                }),
            ) else {
                continue;
            };
            let Some(&(a, b)) = pieces.pieces.get(k) else { continue };
            if start <= a && b <= end {
                entry.0.sign_ins += row.sign_ins;
                if row.name > entry.0.app_display_name {
                    entry.0.app_display_name.clone_from(&row.name);
                }
            }
            if let Some(c) = entry.1.get_mut(k) {
                c.sign_ins = row.sign_ins;
                c.failed = row.failed;
            }
        }
        let mut apps: Vec<(AppTotal, Vec<Counts>)> = by_app.into_values().filter(|(t, _)| t.sign_ins > 0).collect();
        apps.sort_by(|(a, _), (b, _)| b.sign_ins.cmp(&a.sign_ins).then_with(|| a.app_id.cmp(&b.app_id)));
        apps.truncate(top);
        let ids: Vec<String> = apps.iter().map(|(t, _)| t.app_id.clone()).collect();
        let mut users = vec![Counts::default(); ranges.len() * ids.len()];
        if !ids.is_empty() {
            self.distinct_users(&mut conn, tenant, ranges, Apps::Each(&ids), &mut users)?;
        }
        Ok(apps
            .into_iter()
            .zip(users.chunks(ranges.len().max(1)))
            .map(|((total, per_piece), users)| {
                let mut counts = users.to_vec();
                counts.resize(ranges.len(), Counts::default());
                pieces.add_up(&per_piece, &mut counts);
                (total, counts)
            })
            .collect())
    }

    /// Counts and distinct users of some users (a `userId` or `userPrincipalName` report) from
    /// their per-block rows (few: one user's sign-ins, through the by-user index).
    fn user_counts(
        &self,
        conn: &mut AnyConnection,
        tenant: &TenantId,
        ranges: &[(i64, i64)],
        apps: Apps<'_>,
        users: &[String],
        out: &mut [Counts],
    ) -> StorageResult<()> {
        let rows: Vec<[i64; 3]> =
            (0..ranges.len()).zip(ranges).map(|(i, (s, e))| [i64::try_from(i).unwrap_or(i64::MAX), *s, *e]).collect();
        let mut sql = Sql::new(self.backend());
        sql.push("WITH ");
        values_table(&mut sql, "b", ["i", "s", "e"], &rows);
        sql.push(&format!(
            " SELECT b.i AS i, {} AS app_id, CAST(SUM(r.sign_ins) AS BIGINT) AS sign_ins, \
             CAST(SUM(r.sign_ins * r.failed) AS BIGINT) AS failed, COUNT(DISTINCT r.user_id) AS users \
             FROM",
            apps.column()
        ));
        push_range_join(&mut sql, ("b", "sign_in_user_blocks", "r", "block_ticks"), tenant, |sql| {
            apps.push_filter(sql);
            push_users(sql, Some(users));
        });
        sql.push(&format!(" GROUP BY b.i{}", apps.group_by()));
        for row in sql.load::<UserRow>(conn)? {
            if let Some(c) = apps.slot(out, ranges.len(), &row.app_id, row.i) {
                c.distinct_users = row.users;
                c.sign_ins = row.sign_ins;
                c.failed = row.failed;
            }
        }
        Ok(())
    }

    /// Distinct users per range. The ranges are cut into disjoint pieces; a piece's whole UTC
    /// days are read from the span rows (one per user and 63 days, with a mask of the piece's days
    /// in the span), its partial first and last days from the day bitmaps (with a mask of its
    /// blocks in the day). A range's users are its pieces' users together: a report's whole
    /// period, which its buckets tile, reads nothing more.
    fn distinct_users(
        &self,
        conn: &mut AnyConnection,
        tenant: &TenantId,
        ranges: &[(i64, i64)],
        apps: Apps<'_>,
        out: &mut [Counts],
    ) -> StorageResult<()> {
        let index = |i: usize| i64::try_from(i).unwrap_or(i64::MAX);
        let pieces = Pieces::of(ranges);
        // (piece index, day, mask low, mask high) of partial days.
        let mut masks: Vec<[i64; 4]> = Vec::new();
        // (piece index, span) → mask of whole days.
        let mut spans: BTreeMap<(i64, i64), i64> = BTreeMap::new();
        for (k, (s, e)) in pieces.pieces.iter().enumerate() {
            for day in domain::reports::utc_days(*s, *e) {
                let first = ((*s).max(day) - day) / BLOCK_TICKS;
                let last = ((*e).min(day + TICKS_PER_DAY) - day) / BLOCK_TICKS - 1;
                if first == 0 && last == BLOCKS_PER_DAY - 1 {
                    let (span, bit) = span_bit(day);
                    *spans.entry((index(k), span)).or_insert(0) |= bit;
                } else if last >= first {
                    let (lo, hi) = block_bits(first, last);
                    masks.push([index(k), day, lo, hi]);
                }
            }
        }
        if masks.is_empty() && spans.is_empty() {
            return Ok(());
        }
        let spans: Vec<[i64; 3]> = spans.into_iter().map(|((k, span), days)| [k, span, days]).collect();
        // (range index, piece index)
        let made_of: Vec<[i64; 2]> =
            pieces.of.iter().enumerate().flat_map(|(i, of)| of.iter().map(move |k| [index(i), index(*k)])).collect();
        let mut sql = Sql::new(self.backend());
        sql.push("WITH ");
        values_table(&mut sql, "b", ["k", "d", "lo", "hi"], &masks);
        sql.push(", ");
        values_table(&mut sql, "s", ["k", "sp", "days"], &spans);
        sql.push(", ");
        values_table(&mut sql, "m", ["i", "k"], &made_of);
        let (presence, span_table) = match apps {
            Apps::All => ("sign_in_presence", "sign_in_user_spans"),
            Apps::Each(_) | Apps::Every => ("sign_in_app_presence", "sign_in_app_user_spans"),
        };
        // Distinct rows at each step, then counted: PostgreSQL hashes them, where
        // `COUNT(DISTINCT ...)` sorts every joined row by range and then each range's users.
        // Each day's and span's rows through the index: the tables are updated in place by every
        // ingest, and a scan of them reads their free space too.
        // Each day and span is read once, however many pieces it has, then matched to its pieces'
        // masks. Users are compared as bytes (ids are lower-case GUIDs): PostgreSQL sorts the
        // last distinct step, and a collation's rules cost more than the rows' reading.
        let bytes = if self.backend() == Backend::Postgres { " COLLATE \"C\"" } else { "" };
        sql.push(" SELECT y.i AS i, y.app_id AS app_id, COUNT(*) AS users FROM (SELECT DISTINCT m.i AS i, ");
        sql.push(&format!("x.app_id{bytes} AS app_id, x.user_id{bytes} AS user_id FROM (SELECT b.k AS k, "));
        sql.push(&format!("{} AS app_id, r.user_id AS user_id FROM", apps.column()));
        let days = ("(SELECT DISTINCT d FROM b) bd", presence, "r");
        push_lateral_join(&mut sql, days, tenant, "r.day_ticks = bd.d", |sql| apps.push_filter(sql));
        sql.push(" JOIN b ON b.d = r.day_ticks AND ((r.bits_lo & b.lo) <> 0 OR (r.bits_hi & b.hi) <> 0)");
        sql.push(&format!(" UNION SELECT s.k AS k, {} AS app_id, r.user_id AS user_id FROM", apps.column()));
        let spans = ("(SELECT DISTINCT sp FROM s) ss", span_table, "r");
        push_lateral_join(&mut sql, spans, tenant, "r.span_ticks = ss.sp", |sql| apps.push_filter(sql));
        sql.push(" JOIN s ON s.sp = r.span_ticks AND (r.days & s.days) <> 0");
        sql.push(") x JOIN m ON m.k = x.k) y GROUP BY y.i, y.app_id");
        for row in sql.load::<UsersRow>(conn)? {
            if let Some(c) = apps.slot(out, ranges.len(), &row.app_id, row.i) {
                c.distinct_users = row.users;
            }
        }
        Ok(())
    }

    /// The `top` applications of some users (lower-case ids) of `tenant` by their sign-ins in
    /// `[start, end)` (blocks), most first, ties by application id; with the application's display
    /// name in the period (the greatest one sent, if several were). A report without a user
    /// filter reads [`Store::rollup_top_app_series`].
    ///
    /// # Errors
    /// Database errors.
    pub fn rollup_top_apps(
        &self,
        tenant: &TenantId,
        (start, end): (i64, i64),
        top: usize,
        users: &[String],
    ) -> StorageResult<Vec<AppTotal>> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let split = Split::of(&[(start, end)]);
        let mut sql = Sql::new(self.backend());
        sql.push("WITH ");
        values_table(&mut sql, "b", ["i", "s", "e"], &split.blocks);
        sql.push(", ");
        values_table(&mut sql, "d", ["i", "s", "e"], &split.days);
        // The per-user rows carry no name: take it from the application rows of the period.
        let name = |sql: &mut Sql, range: &str, table: &str, time: &str| {
            sql.push("SELECT a.app_display_name AS name FROM");
            push_range_join(sql, (range, table, "a", time), tenant, |sql| {
                sql.push(" AND a.app_id = x.app_id");
            });
        };
        sql.push(" SELECT x.app_id AS app_id, COALESCE((SELECT MAX(y.name) FROM (");
        name(&mut sql, "b", "sign_in_app_blocks", "block_ticks");
        sql.push(" UNION ALL ");
        name(&mut sql, "d", "sign_in_app_days", "day_ticks");
        sql.push(") y), '') AS app_display_name, CAST(SUM(x.n) AS BIGINT) AS sign_ins FROM (");
        // The edges and the whole days alike from the per-user blocks (there are no per-user days).
        for (k, range) in ["b", "d"].into_iter().enumerate() {
            if k > 0 {
                sql.push(" UNION ALL ");
            }
            sql.push("SELECT r.app_id AS app_id, SUM(r.sign_ins) AS n FROM");
            push_range_join(&mut sql, (range, "sign_in_user_blocks", "r", "block_ticks"), tenant, |sql| {
                push_users(sql, Some(users));
            });
            sql.push(" GROUP BY r.app_id");
        }
        sql.push(") x GROUP BY x.app_id ORDER BY sign_ins DESC, app_id LIMIT ")
            .bind(Param::BigInt(i64::try_from(top).unwrap_or(i64::MAX)));
        let mut conn = self.conn()?;
        Ok(sql.load::<AppTotal>(&mut conn)?)
    }

    /// Sign-ins per application, UTC day and error code in `[start, end)` (blocks), by application
    /// id, day and error code: the whole days from the day rows, the partial first and last days
    /// from the blocks.
    ///
    /// # Errors
    /// Database errors.
    pub fn rollup_app_days(&self, tenant: &TenantId, start: i64, end: i64) -> StorageResult<Vec<AppDay>> {
        let split = Split::of(&[(start, end)]);
        let mut sql = Sql::new(self.backend());
        sql.push("WITH ");
        values_table(&mut sql, "b", ["i", "s", "e"], &split.blocks);
        sql.push(", ");
        values_table(&mut sql, "d", ["i", "s", "e"], &split.days);
        sql.push(
            " SELECT x.app_id AS app_id, MAX(x.app_display_name) AS app_display_name, x.day AS day, \
             x.error_code AS error_code, MAX(x.failure_reason) AS failure_reason, \
             CAST(SUM(x.sign_ins) AS BIGINT) AS sign_ins FROM (",
        );
        for (k, (range, table, time)) in
            [("b", "sign_in_app_blocks", "block_ticks"), ("d", "sign_in_app_days", "day_ticks")].into_iter().enumerate()
        {
            if k > 0 {
                sql.push(" UNION ALL ");
            }
            sql.push(&format!(
                "SELECT r.app_id AS app_id, r.app_display_name AS app_display_name, \
                 (r.{time} / {TICKS_PER_DAY}) * {TICKS_PER_DAY} AS day, r.error_code AS error_code, \
                 r.failure_reason AS failure_reason, r.sign_ins AS sign_ins FROM"
            ));
            push_range_join(&mut sql, (range, table, "r", time), tenant, |_| {});
        }
        sql.push(") x GROUP BY x.app_id, x.day, x.error_code ORDER BY x.app_id, x.day, x.error_code");
        let mut conn = self.conn()?;
        Ok(sql.load::<AppDay>(&mut conn)?)
    }

    /// The user ids that signed in to `tenant` with `upn` (any case) since `from`, sorted.
    ///
    /// # Errors
    /// Database errors.
    pub fn user_ids_of_upn(&self, tenant: &TenantId, upn: &str, from: i64) -> StorageResult<Vec<String>> {
        let mut sql = Sql::new(self.backend());
        sql.push("SELECT DISTINCT user_id AS id FROM sign_ins WHERE tenant_id = ")
            .bind(Param::Text(tenant.as_str().to_owned()))
            .push(" AND user_principal_name = ")
            .bind(Param::Text(upn.to_lowercase()))
            .push(" AND created_ticks >= ")
            .bind(Param::BigInt(from))
            .push(" ORDER BY id");
        let mut conn = self.conn()?;
        Ok(sql.load::<IdRow>(&mut conn)?.into_iter().map(|r| r.id).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_has_one_bit_in_its_span_of_63_days() {
        assert_eq!(span_bit(0), (0, 1));
        assert_eq!(span_bit(62 * TICKS_PER_DAY), (0, 1 << 62));
        assert_eq!(span_bit(63 * TICKS_PER_DAY), (63 * TICKS_PER_DAY, 1));
        // 2026-12-05 is day 20,792 since 1970-01-01: day 2 of the span that starts on day 20,790.
        let day = 20_792 * TICKS_PER_DAY;
        assert_eq!(span_bit(day), (20_790 * TICKS_PER_DAY, 4));
        assert!((0..SPAN_DAYS * 3).all(|d| span_bit(d * TICKS_PER_DAY).1 > 0), "the sign bit stays clear");
    }

    #[test]
    fn pieces_read_each_stretch_of_time_once() {
        // Two buckets and the period they tile, an overlapping range and an empty one.
        let cut = Pieces::of(&[(0, 10), (10, 20), (0, 20), (5, 25), (30, 30)]);
        assert_eq!(cut.pieces, vec![(0, 5), (5, 10), (10, 20), (20, 25)]);
        assert_eq!(cut.of, vec![vec![0, 1], vec![2], vec![0, 1, 2], vec![1, 2, 3], vec![]]);
        assert_eq!(Pieces::of(&[]), Pieces::default());
    }

    #[test]
    fn block_bits_cover_the_96_blocks_of_a_day() {
        assert_eq!(block_bits(0, 95), (-1, 0xFFFF_FFFF));
        assert_eq!(block_bits(63, 64), (i64::MIN, 1));
        assert_eq!(block_bits(95, 95), (0, 1 << 31));
        assert_eq!(block_bits(5, 4), (0, 0));
        assert_eq!(BLOCKS_PER_DAY, 96);
    }

    #[test]
    fn a_range_reads_its_whole_utc_days_from_the_day_rows_and_its_edges_from_the_blocks() {
        let d = TICKS_PER_DAY;
        let h = d / 24;
        // A Paris week (23:00 UTC to 23:00 UTC): 6 whole days and two edges of 1 and 23 hours.
        let week = (10 * d - h, 17 * d - h);
        // A day of Kolkata (18:30 to 18:30 UTC): no whole UTC day, all blocks.
        let kolkata = (20 * d + 18 * h + 2 * BLOCK_TICKS, 21 * d + 18 * h + 2 * BLOCK_TICKS);
        // UTC days exactly: days only.
        let utc = (30 * d, 37 * d);
        let split = Split::of(&[week, kolkata, utc, (5 * d, 5 * d)]);
        assert_eq!(split.days, vec![[0, 10 * d, 16 * d], [2, 30 * d, 37 * d]]);
        assert_eq!(split.blocks, vec![[0, 10 * d - h, 10 * d], [0, 16 * d, 17 * d - h], [1, kolkata.0, kolkata.1]]);
    }
}

/// Sign-ins read per statement while the rollups are rebuilt.
const REBUILD_CHUNK: i64 = 20_000;

/// What a rebuild reads of a stored sign-in.
#[derive(QueryableByName)]
struct StoredSignIn {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = BigInt)]
    created_ticks: i64,
    #[diesel(sql_type = Text)]
    user_id: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
    app_id: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Integer>)]
    status_error_code: Option<i32>,
    #[diesel(sql_type = Text)]
    doc: String,
}

#[derive(QueryableByName)]
struct TaskRow {
    #[diesel(sql_type = Text)]
    name: String,
}

/// The storage task (a row of `storage_tasks`) that asks for the rollups to be rebuilt: a
/// database that held sign-ins before the rollups existed gets it from its migration.
const REBUILD_ROLLUPS: &str = "rebuild_rollups";

impl Store {
    /// Rebuilds the rollups from the stored sign-ins when a migration asked for it (a database
    /// with sign-ins from before the rollups), so reports count every stored sign-in. Each tenant is
    /// rebuilt in one transaction (its rollups dropped and counted again), and the request is
    /// cleared only when every tenant is done, so an interrupted rebuild starts again at the next
    /// start. Returns the sign-ins counted.
    ///
    /// # Errors
    /// Database errors.
    pub fn run_storage_tasks(&self) -> StorageResult<u64> {
        let pending = self.write(|conn| {
            let mut sql = Sql::new(self.backend());
            sql.push("SELECT name FROM storage_tasks");
            Ok(sql.load::<TaskRow>(conn)?)
        })?;
        if !pending.iter().any(|t| t.name == REBUILD_ROLLUPS) {
            return Ok(0);
        }
        let tenants = self.write(|conn| {
            let mut sql = Sql::new(self.backend());
            sql.push("SELECT DISTINCT tenant_id AS id FROM sign_ins");
            Ok(sql.load::<IdRow>(conn)?)
        })?;
        let mut counted = 0;
        for tenant in tenants {
            counted += self.write_transaction(|conn| self.rebuild_tenant(conn, &tenant.id))?;
        }
        self.write(|conn| {
            let mut sql = Sql::new(self.backend());
            sql.push("DELETE FROM storage_tasks WHERE name = ").bind(Param::Text(REBUILD_ROLLUPS.into()));
            Ok(sql.execute(conn)?)
        })?;
        tracing::info!(sign_ins = counted, "rollups rebuilt from the stored sign-ins");
        Ok(counted)
    }

    fn rebuild_tenant(&self, conn: &mut AnyConnection, tenant: &str) -> QueryResult<u64> {
        let backend = self.backend();
        if backend == Backend::Postgres {
            // Another instance's ingest waits until this tenant is counted (it adds its rows to
            // the rebuilt counts after), and so does another instance's rebuild.
            let tables: Vec<&str> = all_rollup_tables().collect();
            Sql::new(backend).push(&format!("LOCK TABLE {} IN EXCLUSIVE MODE", tables.join(", "))).execute(conn)?;
        }
        let mut sql = Sql::new(backend);
        sql.push("SELECT name FROM storage_tasks WHERE name = ").bind(Param::Text(REBUILD_ROLLUPS.into()));
        if sql.load::<TaskRow>(conn)?.is_empty() {
            return Ok(0); // another instance finished the rebuild
        }
        for table in all_rollup_tables() {
            let mut sql = Sql::new(backend);
            sql.push(&format!("DELETE FROM {table} WHERE tenant_id = ")).bind(Param::Text(tenant.to_owned()));
            sql.execute(conn)?;
        }
        let tenant_id = TenantId::parse(tenant).map_err(|e| diesel::result::Error::DeserializationError(e.into()))?;
        let mut after: Option<(i64, String)> = None;
        let mut counted = 0u64;
        loop {
            let mut sql = Sql::new(backend);
            sql.push(
                "SELECT id, created_ticks, user_id, app_id, status_error_code, doc FROM sign_ins WHERE tenant_id = ",
            )
            .bind(Param::Text(tenant.to_owned()));
            if let Some((ticks, id)) = &after {
                sql.push(" AND (created_ticks > ").bind(Param::BigInt(*ticks));
                sql.push(" OR (created_ticks = ").bind(Param::BigInt(*ticks));
                sql.push(" AND id > ").bind(Param::Text(id.clone())).push("))");
            }
            sql.push(" ORDER BY created_ticks, id LIMIT ").bind(Param::BigInt(REBUILD_CHUNK));
            let rows = sql.load::<StoredSignIn>(conn)?;
            let Some(last) = rows.last() else { break };
            after = Some((last.created_ticks, last.id.clone()));
            let mut delta = RollupDelta::default();
            for row in &rows {
                let doc: serde_json::Value = serde_json::from_str(&row.doc).unwrap_or_default();
                delta.add_one(&Counted {
                    ticks: row.created_ticks,
                    user_id: &row.user_id,
                    app_id: row.app_id.as_deref(),
                    app_name: doc.get("appDisplayName").and_then(serde_json::Value::as_str),
                    failure_reason: doc.pointer("/status/failureReason").and_then(serde_json::Value::as_str),
                    error_code: row.status_error_code,
                });
            }
            counted += rows.len() as u64;
            delta.write(conn, backend, &tenant_id)?;
        }
        Ok(counted)
    }
}
