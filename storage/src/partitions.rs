//! PostgreSQL daily partitions of the event tables: created ahead of time by the service and on
//! demand by ingest, remembered per process so that the common case costs no round trip.

use diesel::Connection;
use diesel::connection::SimpleConnection;
use domain::policy::DataSet;
use domain::sets::SetKind;
use domain::time::{TICKS_PER_DAY, day_start, format_ticks};

use crate::Store;
use crate::conn::AnyConnection;
use crate::error::StorageResult;
use crate::sign_ins::PARTITIONED_TABLES;

/// Whether the set's tables are range-partitioned by day on PostgreSQL (see [`PARTITIONED_TABLES`]):
/// sign-ins are; the other sets are a small fraction of their volume and stay plain tables.
#[must_use]
pub(crate) fn is_partitioned(kind: SetKind) -> bool {
    match kind {
        SetKind::SignIns => true,
        SetKind::DirectoryAudits | SetKind::RiskDetections | SetKind::RiskyUsers | SetKind::RiskyUserHistory => false,
    }
}

/// The advisory lock key that serialises partition creation (any fixed number; "idtrail" in hex).
const PARTITION_LOCK: i64 = 0x0069_6474_7261_696c;

/// The partition of `table` for the day starting at `day`: `sign_ins_d20261127`.
fn partition_name(table: &str, day: i64) -> String {
    let date: String = format_ticks(day).chars().take(10).filter(char::is_ascii_digit).collect();
    format!("{table}_d{date}")
}

impl Store {
    /// Makes sure every partitioned table has a partition for each day in `days` (day starts).
    /// A no-op on SQLite.
    ///
    /// # Errors
    /// Database errors.
    pub fn ensure_partitions(&self, days: impl IntoIterator<Item = i64>) -> StorageResult<()> {
        let (first, last) = self.partition_range();
        let missing: Vec<i64> = {
            let known = self.known_partitions.lock().map_err(|_| poisoned())?;
            let mut v: Vec<i64> =
                days.into_iter().map(day_start).filter(|d| (first..=last).contains(d) && !known.contains(d)).collect();
            v.sort_unstable();
            v.dedup();
            v
        };
        if missing.is_empty() {
            return Ok(());
        }
        let mut conn = self.conn()?;
        let AnyConnection::Postgresql(pg) = &mut **conn else {
            return Ok(());
        };
        for day in &missing {
            let mut ddl = String::new();
            for table in PARTITIONED_TABLES {
                // Names and bounds are computed here from integers, never from user text.
                ddl.push_str(&format!(
                    "CREATE TABLE IF NOT EXISTS {} PARTITION OF {table} FOR VALUES FROM ({day}) TO ({});",
                    partition_name(table, *day),
                    day + TICKS_PER_DAY
                ));
            }
            // Two ingests (or instances) creating the same day at once would race between IF NOT
            // EXISTS and CREATE; a transaction-scoped advisory lock makes them take turns, and
            // the second then finds the partitions there.
            pg.transaction(|c| c.batch_execute(&format!("SELECT pg_advisory_xact_lock({PARTITION_LOCK}); {ddl}")))?;
        }
        let mut known = self.known_partitions.lock().map_err(|_| poisoned())?;
        known.extend(missing);
        Ok(())
    }

    /// The first and last day (starts, ticks) a partition may exist for now: from the oldest day any
    /// tier may still see to tomorrow. Ingest refuses events dated later than a few minutes ahead,
    /// and older ones are expired, so no row needs a day outside; creating none there keeps a
    /// forged date from adding partitions every query then plans over.
    #[must_use]
    pub fn partition_range(&self) -> (i64, i64) {
        let now = self.clock().now_ticks();
        let longest = i64::from(self.retention().longest_days(DataSet::SignIns));
        (day_start(now - longest * TICKS_PER_DAY), day_start(now) + TICKS_PER_DAY)
    }

    /// Creates the partitions for today and the next `days_ahead` days, as far as
    /// [`Store::partition_range`] allows (tomorrow).
    ///
    /// # Errors
    /// Database errors.
    pub fn create_partitions_ahead(&self, days_ahead: i64) -> StorageResult<()> {
        let today = day_start(self.clock().now_ticks());
        self.ensure_partitions((0..=days_ahead).map(|i| today + i * TICKS_PER_DAY))
    }

    /// The day partitions that exist for `sign_ins` (PostgreSQL), oldest first.
    ///
    /// # Errors
    /// Database errors.
    pub fn partition_days(&self) -> StorageResult<Vec<String>> {
        #[derive(diesel::QueryableByName)]
        struct Name {
            #[diesel(sql_type = diesel::sql_types::Text)]
            name: String,
        }
        let mut conn = self.conn()?;
        if !matches!(&**conn, AnyConnection::Postgresql(_)) {
            return Ok(Vec::new());
        }
        let mut sql = crate::sql::Sql::new(self.backend());
        sql.push(
            "SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
             JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'sign_ins' ORDER BY c.relname",
        );
        Ok(sql.load::<Name>(&mut conn)?.into_iter().map(|n| n.name).collect())
    }
}

fn poisoned() -> crate::StorageError {
    crate::StorageError::Unavailable("a partition cache lock was poisoned".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_are_named_by_day() {
        let day = domain::time::parse_ticks("2026-11-27T13:00:00Z").unwrap();
        assert_eq!(partition_name("sign_ins", day_start(day)), "sign_ins_d20261127");
    }
}
