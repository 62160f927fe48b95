//! Rows read per page: how many sign-in rows (or index entries) a list statement visits to return
//! its page, next to the plan that visits them. A filtered page that costs much more than the
//! unfiltered one reads more rows; this says how many, so that the report can tell a plan that
//! could do better from a filter no layout answers without reading (issue 20, Q11).
//!
//! - PostgreSQL: `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)` of the statement; rows read = for every
//!   scan of `sign_ins` (each day partition), its actual rows plus the rows its filter and recheck
//!   removed, times its loops; and the shared buffers the statement touched.
//! - SQLite has no per-statement row counter reachable from diesel (`sqlite3_stmt_status` counts
//!   full scans and VM steps, not index rows). The statement is run once more with a counting
//!   function as the first condition of each `FROM sign_ins s WHERE`: SQLite evaluates it once
//!   for every row the plan's index range yields, before the other conditions. The count is kept
//!   only if `EXPLAIN QUERY PLAN` is the same with and without it (else it is not reported).
//!
//! Child rows read by `EXISTS` (a lambda over policies) are not in the count.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use diesel::QueryableByName;
use diesel::sql_types::Text;
use serde::{Deserialize, Serialize};
use storage::StoredDocument;
use storage::conn::AnyConnection;
use storage::sql::Sql;

/// What one page's statement read.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RowsRead {
    /// Rows the statement returned (the page and one more, to know whether there is a next page).
    pub returned: u64,
    /// Sign-in rows (index entries) it visited to find them.
    pub read: u64,
    /// PostgreSQL: shared buffers hit and read.
    pub buffers: Option<u64>,
    /// The plan's scans, one per line (SQLite's `EXPLAIN QUERY PLAN`; PostgreSQL's scan nodes).
    pub plan: String,
}

#[diesel::declare_sql_function]
extern "SQL" {
    /// Counts a visited row and lets it through.
    fn idtrail_row_read(x: diesel::sql_types::BigInt) -> diesel::sql_types::Bool;
}

#[derive(QueryableByName)]
struct Line {
    #[diesel(sql_type = Text)]
    detail: String,
}

#[derive(QueryableByName)]
struct Json {
    #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
    plan: String,
}

/// `prefix` + `sql`'s text with its parameters, bound in order.
fn prefixed(prefix: &str, sql: &Sql, text: &str) -> Sql {
    let mut out = Sql::new(sql.backend());
    out.push(prefix).push(text);
    for p in sql.params() {
        out.push_param_only(p.clone());
    }
    out
}

fn sqlite_plan(conn: &mut AnyConnection, sql: &Sql, text: &str) -> anyhow::Result<String> {
    let lines: Vec<Line> = prefixed("EXPLAIN QUERY PLAN ", sql, text).load(conn)?;
    Ok(lines.into_iter().map(|l| l.detail).collect::<Vec<_>>().join("\n"))
}

/// Rows `sql` (a page of sign-ins, alias `s`) reads; `None` when it cannot be counted honestly.
///
/// # Errors
/// Database errors.
pub fn rows_read(conn: &mut AnyConnection, sql: &Sql) -> anyhow::Result<Option<RowsRead>> {
    match conn {
        AnyConnection::Sqlite(c) => {
            let counter = Arc::new(AtomicU64::new(0));
            let seen = Arc::clone(&counter);
            idtrail_row_read_utils::register_nondeterministic_impl(c, move |_: i64| {
                seen.fetch_add(1, Ordering::Relaxed);
                true
            })?;
            let counted = sql.text().replace(" s WHERE ", " s WHERE idtrail_row_read(s.created_ticks) AND ");
            let plan = sqlite_plan(conn, sql, sql.text())?;
            if sqlite_plan(conn, sql, &counted)? != plan {
                return Ok(None);
            }
            counter.store(0, Ordering::Relaxed);
            let rows: Vec<StoredDocument> = prefixed("", sql, &counted).load(conn)?;
            Ok(Some(RowsRead {
                returned: rows.len() as u64,
                read: counter.load(Ordering::Relaxed),
                buffers: None,
                plan,
            }))
        }
        AnyConnection::Postgresql(_) => {
            let out: Vec<Json> = prefixed("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ", sql, sql.text()).load(conn)?;
            let Some(json) = out.first() else { return Ok(None) };
            let value: serde_json::Value = serde_json::from_str(&json.plan)?;
            let top = &value[0]["Plan"];
            let mut read = 0.0;
            let mut scans = Vec::new();
            walk(top, &mut read, &mut scans);
            let number = |v: &serde_json::Value| v.as_f64().unwrap_or(0.0);
            let buffers = number(&top["Shared Hit Blocks"]) + number(&top["Shared Read Blocks"]);
            scans.dedup();
            Ok(Some(RowsRead {
                returned: number(&top["Actual Rows"]) as u64,
                read: read.round() as u64,
                buffers: Some(buffers as u64),
                plan: scans.join("\n"),
            }))
        }
    }
}

/// Adds the rows every scan of `sign_ins` under `node` visited, and names the scans.
fn walk(node: &serde_json::Value, read: &mut f64, scans: &mut Vec<String>) {
    let number = |k: &str| node[k].as_f64().unwrap_or(0.0);
    let kind = node["Node Type"].as_str().unwrap_or_default();
    let relation = node["Relation Name"].as_str().unwrap_or_default();
    if kind.ends_with("Scan") && relation.starts_with("sign_ins") {
        let rows = number("Actual Rows") + number("Rows Removed by Filter") + number("Rows Removed by Index Recheck");
        *read += rows * number("Actual Loops");
        let index = node["Index Name"].as_str().map(|i| format!(" using {}", any_day(i))).unwrap_or_default();
        scans.push(format!("{kind} on {}{index}", any_day(relation)));
    } else if kind != "Result" && !kind.is_empty() && !kind.ends_with("Scan") {
        scans.push(kind.to_owned());
    }
    for child in node["Plans"].as_array().into_iter().flatten() {
        walk(child, read, scans);
    }
}

/// A day partition's name (or its index's) with the day as `*`, so that the scans of every day
/// read as one line: `sign_ins_d20261127_tenant_id_idx` → `sign_ins_d*_tenant_id_idx`.
fn any_day(name: &str) -> String {
    match name.find("_d2") {
        Some(at) if name.get(at + 2..at + 10).is_some_and(|d| d.bytes().all(|b| b.is_ascii_digit())) => {
            format!("{}_d*{}", name.get(..at).unwrap_or_default(), name.get(at + 10..).unwrap_or_default())
        }
        _ => name.to_owned(),
    }
}
