//! Physical deletion of what no tier can see any more, so retention also bounds disk use.
//!
//! Reads are clamped to each tenant's window already (`push_scope`); the purge only reclaims space.
//! PostgreSQL drops whole day partitions older than the longest window of any tier, then deletes
//! in batches what shorter tiers may no longer see; SQLite deletes in batches. Each batch is its
//! own short transaction, so readers and ingest are never held up for long.

use diesel::QueryableByName;
use diesel::connection::{Connection, SimpleConnection};
use diesel::sql_types::{BigInt, Text};
use domain::policy::DataSet;
use domain::query::EntitySet;
use domain::reports::block_of;
use domain::sets::{Retention, SetKind};
use domain::time::{TICKS_PER_DAY, parse_ticks};

use crate::Store;
use crate::conn::{AnyConnection, Backend};
use crate::error::StorageResult;
use crate::rollups::{ROLLUP_TABLES, SPAN_TABLES};
use crate::sign_ins::PARTITIONED_TABLES;
use crate::sql::{Param, Sql};

/// Rows deleted per transaction.
const BATCH: usize = 2_000;

/// What a purge removed (or, dry, would remove).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PurgeReport {
    pub dry_run: bool,
    /// (tenant, sign-ins deleted or to delete).
    pub sign_ins_by_tenant: Vec<(String, u64)>,
    /// PostgreSQL day partitions dropped (or to drop), with the rows they held.
    pub dropped_partitions: Vec<(String, u64)>,
    /// (entity set, tenant, rows deleted or to delete) for the other sets: directory audits, risk
    /// detections, and risky users whose risk closed before the risk window (with their history).
    pub others: Vec<(&'static str, String, u64)>,
}

impl PurgeReport {
    /// Every sign-in removed, by batch delete or with a dropped partition.
    #[must_use]
    pub fn total_sign_ins(&self) -> u64 {
        self.sign_ins_by_tenant.iter().map(|(_, n)| n).sum::<u64>()
            + self.dropped_partitions.iter().map(|(_, n)| n).sum::<u64>()
    }
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Oldest {
    #[diesel(sql_type = diesel::sql_types::Nullable<BigInt>)]
    n: Option<i64>,
}

#[derive(QueryableByName)]
struct IdRow {
    #[diesel(sql_type = Text)]
    id: String,
}

#[derive(QueryableByName)]
struct KeyRow {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = BigInt)]
    created_ticks: i64,
}

fn count(conn: &mut AnyConnection, sql: &Sql) -> StorageResult<u64> {
    Ok(sql.load::<Count>(conn)?.first().map_or(0, |c| u64::try_from(c.n).unwrap_or(0)))
}

impl Store {
    /// Deletes every sign-in that its tenant's tier may no longer see. With `dry_run`, only counts.
    ///
    /// # Errors
    /// Database errors; what was deleted before the error stays deleted (it was invisible anyway).
    pub fn purge(&self, dry_run: bool) -> StorageResult<PurgeReport> {
        let mut report = PurgeReport { dry_run, ..PurgeReport::default() };
        let now = self.clock().now_ticks();
        let longest = now - i64::from(self.retention().longest_days(DataSet::SignIns)) * TICKS_PER_DAY;
        if self.backend() == Backend::Postgres {
            self.drop_old_partitions(longest, dry_run, &mut report)?;
            self.drop_empty_future_partitions(dry_run, &mut report)?;
        }
        // Past every tier's window, for every tenant (registered or not): the rollups of the
        // dropped partitions, and of any tenant the loop below does not visit. Rows gone here may
        // be of a tenant's cutoff day, so every tenant's day is recounted below.
        let purged_everywhere = !dry_run && self.delete_rollups(None, block_of(longest))? > 0;
        if !dry_run {
            self.purge_spans(None, domain::time::day_start(block_of(longest)))?;
        }
        for tenant in self.tenants()? {
            let view = self.view_for(tenant.tier);
            for kind in SetKind::ALL {
                let set = kind.registry();
                match kind {
                    SetKind::SignIns => {
                        // At a block boundary: the rollups count whole 15-minute blocks, so the
                        // sign-ins and their rollups go by the same blocks and stay equal if the
                        // tenant's window grows again (a higher tier). The sign-ins of the cutoff's
                        // block from before the cutoff are invisible already, and go next time.
                        let cutoff = block_of(view.window_start(set));
                        let n = if dry_run {
                            self.count_before(tenant.id.as_str(), cutoff)?
                        } else {
                            self.delete_before(tenant.id.as_str(), cutoff)?
                        };
                        if n > 0 {
                            tracing::info!(tenant = %tenant.id, tier = %tenant.tier, sign_ins = n, dry_run, "purged sign-ins past retention");
                            report.sign_ins_by_tenant.push((tenant.id.as_str().to_owned(), n));
                        }
                        if !dry_run {
                            // Their rollups go with them: blocks that start before the cutoff
                            // (reports begin at the first whole block inside the window).
                            // The cutoff's own day is recounted only when some of its blocks may
                            // have gone: it takes locks that hold off the tenant's ingest.
                            let purged = self.delete_rollups(Some(tenant.id.as_str()), cutoff)?;
                            self.purge_spans(Some(tenant.id.as_str()), domain::time::day_start(cutoff))?;
                            if purged > 0 || purged_everywhere {
                                self.trim_cutoff_day(tenant.id.as_str(), cutoff)?;
                            }
                        }
                    }
                    SetKind::DirectoryAudits | SetKind::RiskDetections | SetKind::RiskyUsers => {
                        let n = self.purge_set(set, tenant.id.as_str(), view.window_start(set), dry_run)?;
                        if n > 0 {
                            tracing::info!(tenant = %tenant.id, tier = %tenant.tier, set = set.name, rows = n, dry_run, "purged rows past retention");
                            report.others.push((set.name, tenant.id.as_str().to_owned(), n));
                        }
                    }
                    // Deleted with the risky user it belongs to (`purge_set`).
                    SetKind::RiskyUserHistory => {}
                }
            }
        }
        Ok(report)
    }

    /// Deletes (or counts) the rows of `set` older than `cutoff`, in batches with their child rows;
    /// for risky users, only those whose risk is closed, and the rows of the sets below them (their
    /// history) with them.
    fn purge_set(&self, set: &'static EntitySet, tenant: &str, cutoff: i64, dry_run: bool) -> StorageResult<u64> {
        let backend = self.backend();
        let risky = matches!(set.kind.retention(), Retention::WhileOpen(_));
        let children: Vec<&EntitySet> =
            SetKind::ALL.into_iter().filter(|k| k.parent() == Some(set.kind)).map(SetKind::registry).collect();
        let pick = |select: &str, limit: Option<usize>| {
            let mut sql = Sql::new(backend);
            sql.push(select).push(" FROM ").push(set.table).push(" WHERE tenant_id = ");
            sql.bind(Param::Text(tenant.to_owned())).push(" AND created_ticks < ").bind(Param::BigInt(cutoff));
            if risky {
                sql.push(" AND (risk_state IS NULL OR risk_state NOT IN ")
                    .bind_list(crate::entities::open_risk_states())
                    .push(")");
            }
            if let Some(n) = limit {
                sql.push(" LIMIT ").bind(Param::BigInt(i64::try_from(n).unwrap_or(1000)));
            }
            sql
        };
        if dry_run {
            let mut conn = self.conn()?;
            return count(&mut conn, &pick("SELECT COUNT(*) AS n", None));
        }
        let mut total = 0u64;
        loop {
            let mut conn = self.conn()?;
            let ids: Vec<String> =
                pick("SELECT id", Some(BATCH)).load::<IdRow>(&mut conn)?.into_iter().map(|r| r.id).collect();
            if ids.is_empty() {
                return Ok(total);
            }
            conn.transaction(|c| {
                for child in &children {
                    let mut del = Sql::new(backend);
                    del.push("DELETE FROM ")
                        .push(child.table)
                        .push(" WHERE tenant_id = ")
                        .bind(Param::Text(tenant.to_owned()));
                    del.push(" AND user_id IN ").bind_list(crate::entities::id_params(&ids)).execute(c)?;
                }
                crate::entities::delete_ids(c, backend, set, tenant, &ids)
            })?;
            total += ids.len() as u64;
            if ids.len() < BATCH {
                return Ok(total);
            }
        }
    }

    /// Deletes the rollup rows of `tenant` (or of every tenant) whose block starts before `cutoff`,
    /// in batches of short transactions like the sign-ins; returns how many rows went.
    fn delete_rollups(&self, tenant: Option<&str>, cutoff: i64) -> StorageResult<u64> {
        let backend = self.backend();
        let mut deleted = 0_u64;
        // SQLite's rollup tables have no rowid (WITHOUT ROWID): batches go by block instead.
        for (table, time) in ROLLUP_TABLES {
            loop {
                let mut conn = self.conn()?;
                let mut del = Sql::new(backend);
                // The day bitmaps go once their whole day is before the cutoff (reports read
                // only the blocks inside the window).
                let cutoff = if *time == "day_ticks" { domain::time::day_start(cutoff) } else { cutoff };
                del.push("DELETE FROM ").push(table).push(" WHERE ").push(time).push(" < ").bind(Param::BigInt(cutoff));
                if let Some(t) = tenant {
                    del.push(" AND tenant_id = ").bind(Param::Text(t.to_owned()));
                }
                // Up to the oldest day still present, a day at a time.
                let mut oldest = Sql::new(backend);
                oldest
                    .push("SELECT MIN(")
                    .push(time)
                    .push(") AS n FROM ")
                    .push(table)
                    .push(" WHERE ")
                    .push(time)
                    .push(" < ");
                oldest.bind(Param::BigInt(cutoff));
                if let Some(t) = tenant {
                    oldest.push(" AND tenant_id = ").bind(Param::Text(t.to_owned()));
                }
                let Some(first) = oldest.load::<Oldest>(&mut conn)?.first().and_then(|c| c.n) else { break };
                let until = (first + TICKS_PER_DAY).min(cutoff);
                del.push(" AND ").push(time).push(" < ").bind(Param::BigInt(until));
                deleted += u64::try_from(del.execute(&mut conn)?).unwrap_or(u64::MAX);
                if until >= cutoff {
                    break;
                }
            }
        }
        Ok(deleted)
    }

    /// Clears the span tables' bits of the days before `cutoff_day` (of `tenant`, or of every
    /// tenant), and deletes the rows left without a day.
    fn purge_spans(&self, tenant: Option<&str>, cutoff_day: i64) -> StorageResult<()> {
        let backend = self.backend();
        let (span, bit) = crate::rollups::span_bit(cutoff_day);
        // The bits of the cutoff's day and the days after it.
        let keep = !(bit - 1);
        for (table, _) in SPAN_TABLES {
            let mut conn = self.conn()?;
            let of_tenant = |sql: &mut Sql| {
                if let Some(t) = tenant {
                    sql.push(" AND tenant_id = ").bind(Param::Text(t.to_owned()));
                }
            };
            let mut sql = Sql::new(backend);
            sql.push(&format!("DELETE FROM {table} WHERE span_ticks < ")).bind(Param::BigInt(span));
            of_tenant(&mut sql);
            sql.execute(&mut conn)?;
            let mut sql = Sql::new(backend);
            sql.push(&format!("UPDATE {table} SET days = days & "))
                .bind(Param::BigInt(keep))
                .push(" WHERE span_ticks = ")
                .bind(Param::BigInt(span))
                .push(" AND (days & ")
                .bind(Param::BigInt(!keep))
                .push(") <> 0");
            of_tenant(&mut sql);
            sql.execute(&mut conn)?;
            let mut sql = Sql::new(backend);
            sql.push(&format!("DELETE FROM {table} WHERE span_ticks = "))
                .bind(Param::BigInt(span))
                .push(" AND days = 0");
            of_tenant(&mut sql);
            sql.execute(&mut conn)?;
        }
        Ok(())
    }

    /// The rows of the cutoff's own UTC day, which the day-level rollups keep whole: its day rows
    /// are counted again from the blocks that remain, and the day bitmaps lose the bits of the
    /// purged blocks (a user whose every block went is no longer present). In one transaction,
    /// with concurrent ingest of the tenant's rollups held off on PostgreSQL.
    fn trim_cutoff_day(&self, tenant: &str, cutoff: i64) -> StorageResult<()> {
        let day = domain::time::day_start(cutoff);
        if day == cutoff {
            return Ok(());
        }
        let backend = self.backend();
        let t = || Param::Text(tenant.to_owned());
        let first_kept = (cutoff - day) / domain::reports::BLOCK_TICKS;
        let (lo, hi) = crate::rollups::block_bits(first_kept, 95);
        self.write_transaction(|conn| {
            if backend == Backend::Postgres {
                Sql::new(backend)
                    .push(
                        "LOCK TABLE sign_in_app_days, sign_in_presence, sign_in_app_presence, sign_in_user_spans, \
                         sign_in_app_user_spans IN EXCLUSIVE MODE",
                    )
                    .execute(conn)?;
            }
            let mut sql = Sql::new(backend);
            sql.push("DELETE FROM sign_in_app_days WHERE tenant_id = ").bind(t());
            sql.push(" AND day_ticks = ").bind(Param::BigInt(day)).execute(conn)?;
            let mut sql = Sql::new(backend);
            sql.push(
                "INSERT INTO sign_in_app_days \
                 (tenant_id, day_ticks, app_id, error_code, sign_ins, app_display_name, failure_reason) \
                 SELECT tenant_id, ",
            )
            .bind(Param::BigInt(day))
            .push(
                ", app_id, error_code, SUM(sign_ins), MAX(app_display_name), MAX(failure_reason) \
                 FROM sign_in_app_blocks WHERE tenant_id = ",
            )
            .bind(t())
            .push(" AND block_ticks >= ")
            .bind(Param::BigInt(day))
            .push(" AND block_ticks < ")
            .bind(Param::BigInt(day + TICKS_PER_DAY))
            .push(" GROUP BY tenant_id, app_id, error_code")
            .execute(conn)?;
            for table in ["sign_in_presence", "sign_in_app_presence"] {
                let mut sql = Sql::new(backend);
                sql.push(&format!("UPDATE {table} SET bits_lo = bits_lo & "))
                    .bind(Param::BigInt(lo))
                    .push(", bits_hi = bits_hi & ")
                    .bind(Param::BigInt(hi))
                    .push(" WHERE tenant_id = ")
                    .bind(t())
                    .push(" AND day_ticks = ")
                    .bind(Param::BigInt(day))
                    .execute(conn)?;
                let mut sql = Sql::new(backend);
                sql.push(&format!("DELETE FROM {table} WHERE tenant_id = "))
                    .bind(t())
                    .push(" AND day_ticks = ")
                    .bind(Param::BigInt(day))
                    .push(" AND bits_lo = 0 AND bits_hi = 0")
                    .execute(conn)?;
            }
            // A user none of whose blocks of the day remain loses the day in its span.
            let (span, bit) = crate::rollups::span_bit(day);
            for (table, presence) in SPAN_TABLES {
                let same_app = if *presence == "sign_in_app_presence" { " AND p.app_id = s.app_id" } else { "" };
                let absent = |sql: &mut Sql| {
                    sql.push(&format!(
                        " AND NOT EXISTS (SELECT 1 FROM {presence} p WHERE p.tenant_id = s.tenant_id \
                         AND p.user_id = s.user_id{same_app} AND p.day_ticks = "
                    ))
                    .bind(Param::BigInt(day))
                    .push(")");
                };
                let mut sql = Sql::new(backend);
                sql.push(&format!("UPDATE {table} AS s SET days = s.days & "))
                    .bind(Param::BigInt(!bit))
                    .push(" WHERE s.tenant_id = ")
                    .bind(t())
                    .push(" AND s.span_ticks = ")
                    .bind(Param::BigInt(span))
                    .push(" AND (s.days & ")
                    .bind(Param::BigInt(bit))
                    .push(") <> 0");
                absent(&mut sql);
                sql.execute(conn)?;
                let mut sql = Sql::new(backend);
                sql.push(&format!("DELETE FROM {table} WHERE tenant_id = "))
                    .bind(t())
                    .push(" AND span_ticks = ")
                    .bind(Param::BigInt(span))
                    .push(" AND days = 0");
                sql.execute(conn)?;
            }
            Ok(())
        })
    }

    fn count_before(&self, tenant: &str, cutoff: i64) -> StorageResult<u64> {
        let mut sql = Sql::new(self.backend());
        sql.push("SELECT COUNT(*) AS n FROM sign_ins WHERE tenant_id = ")
            .bind(Param::Text(tenant.to_owned()))
            .push(" AND created_ticks < ")
            .bind(Param::BigInt(cutoff));
        let mut conn = self.conn()?;
        count(&mut conn, &sql)
    }

    fn delete_before(&self, tenant: &str, cutoff: i64) -> StorageResult<u64> {
        let mut total = 0u64;
        loop {
            let mut conn = self.conn()?;
            let mut pick = Sql::new(self.backend());
            // Oldest first, so each batch's rows lie in one time range: SQLite's child rows are
            // keyed by (tenant, time, sign-in id), and the delete below reads just that range.
            pick.push("SELECT id, created_ticks FROM sign_ins WHERE tenant_id = ")
                .bind(Param::Text(tenant.to_owned()))
                .push(" AND created_ticks < ")
                .bind(Param::BigInt(cutoff))
                .push(" ORDER BY created_ticks LIMIT ")
                .bind(Param::BigInt(i64::try_from(BATCH).unwrap_or(1000)));
            let rows = pick.load::<KeyRow>(&mut conn)?;
            let (Some(first), Some(last)) =
                (rows.iter().map(|r| r.created_ticks).min(), rows.iter().map(|r| r.created_ticks).max())
            else {
                return Ok(total);
            };
            let ids: Vec<String> = rows.into_iter().map(|r| r.id).collect();
            let backend = self.backend();
            let tables: Vec<(&str, &str)> = {
                let mut t = vec![
                    ("sign_in_ca_policies", "sign_in_id"),
                    ("sign_in_risk_event_types", "sign_in_id"),
                    ("sign_ins", "id"),
                ];
                if backend == Backend::Postgres {
                    t.push(("sign_in_keys", "id"));
                }
                t
            };
            conn.transaction(|c| {
                for (table, key) in &tables {
                    let mut del = Sql::new(backend);
                    del.push("DELETE FROM ")
                        .push(table)
                        .push(" WHERE tenant_id = ")
                        .bind(Param::Text(tenant.to_owned()));
                    del.push(" AND created_ticks >= ").bind(Param::BigInt(first));
                    del.push(" AND created_ticks <= ").bind(Param::BigInt(last));
                    del.push(" AND ").push(key).push(" IN ").bind_list(crate::entities::id_params(&ids));
                    del.execute(c)?;
                }
                crate::feed::delete_ids(c, backend, SetKind::SignIns, tenant, &ids)
            })?;
            total += ids.len() as u64;
            if ids.len() < BATCH {
                return Ok(total);
            }
        }
    }

    fn drop_old_partitions(&self, before: i64, dry_run: bool, report: &mut PurgeReport) -> StorageResult<()> {
        let mut dropped_until = None;
        for name in self.partition_days()? {
            let Some(day) = partition_day(&name) else { continue };
            if day + TICKS_PER_DAY > before {
                continue;
            }
            let mut conn = self.conn()?;
            let mut sql = Sql::new(Backend::Postgres);
            // The name came from the catalogue and matched our pattern: digits only after the prefix.
            sql.push("SELECT COUNT(*) AS n FROM ").push(&name);
            let rows = count(&mut conn, &sql)?;
            if !dry_run {
                let ddl: String = PARTITIONED_TABLES
                    .iter()
                    .map(|t| format!("DROP TABLE IF EXISTS {t}_d{};", &name["sign_ins_d".len()..]))
                    .collect();
                conn.batch_execute(&ddl)?;
                tracing::info!(partition = %name, rows, "dropped a day partition past every tier's retention");
                if let Ok(mut known) = self.known_partitions.lock() {
                    known.remove(&day);
                }
            }
            dropped_until = Some(day + TICKS_PER_DAY);
            report.dropped_partitions.push((name, rows));
        }
        if let (Some(until), false) = (dropped_until, dry_run) {
            // The key rows of dropped partitions go too, in batches.
            loop {
                let mut conn = self.conn()?;
                let mut del = Sql::new(Backend::Postgres);
                del.push(
                    "DELETE FROM sign_in_keys WHERE ctid IN (SELECT ctid FROM sign_in_keys WHERE created_ticks < ",
                )
                .bind(Param::BigInt(until))
                .push(" LIMIT 10000)");
                if del.execute(&mut conn)? < 10_000 {
                    break;
                }
            }
            // And their feed entries (by the sign-in's time the journal keeps).
            loop {
                let mut conn = self.conn()?;
                let mut del = Sql::new(Backend::Postgres);
                del.push(
                    "DELETE FROM feed_journal WHERE ctid IN (SELECT ctid FROM feed_journal WHERE set_name = 'signIns' \
                     AND created_ticks < ",
                )
                .bind(Param::BigInt(until))
                .push(" LIMIT 10000)");
                if del.execute(&mut conn)? < 10_000 {
                    break;
                }
            }
        }
        Ok(())
    }
}

impl Store {
    /// Drops the day partitions after tomorrow that hold no rows (made ahead by an older version, or
    /// by a clock set forward): no event may be dated there, and every query plans over them.
    fn drop_empty_future_partitions(&self, dry_run: bool, report: &mut PurgeReport) -> StorageResult<()> {
        let (_, last) = self.partition_range();
        for name in self.partition_days()? {
            let Some(day) = partition_day(&name) else { continue };
            if day <= last {
                continue;
            }
            let mut conn = self.conn()?;
            let mut sql = Sql::new(Backend::Postgres);
            // The name came from the catalogue and matched our pattern: digits only after the prefix.
            sql.push("SELECT COUNT(*) AS n FROM ").push(&name);
            if count(&mut conn, &sql)? > 0 {
                tracing::warn!(partition = %name, "a future day partition holds rows; kept");
                continue;
            }
            if !dry_run {
                let suffix = name.strip_prefix("sign_ins_d").unwrap_or_default();
                let ddl: String =
                    PARTITIONED_TABLES.iter().map(|t| format!("DROP TABLE IF EXISTS {t}_d{suffix};")).collect();
                conn.batch_execute(&ddl)?;
                tracing::info!(partition = %name, "dropped an empty day partition after tomorrow");
                if let Ok(mut known) = self.known_partitions.lock() {
                    known.remove(&day);
                }
            }
            report.dropped_partitions.push((name, 0));
        }
        Ok(())
    }
}

/// The day a partition `sign_ins_dYYYYMMDD` holds, in ticks.
fn partition_day(name: &str) -> Option<i64> {
    let digits = name.strip_prefix("sign_ins_d")?;
    if digits.len() != 8 || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    parse_ticks(&format!("{}-{}-{}T00:00:00Z", &digits[..4], &digits[4..6], &digits[6..])).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_names_give_their_day() {
        assert_eq!(partition_day("sign_ins_d20261127"), parse_ticks("2026-11-27T00:00:00Z").ok());
        assert_eq!(partition_day("sign_ins_dxx"), None);
        assert_eq!(partition_day("other"), None);
    }
}
