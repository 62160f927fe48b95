//! Activity reports: their parameters (`period`, `interval`, `timeZone`) and the report buckets of
//! a period in a time zone, each a union of the 15-minute UTC blocks the rollups count in.
//!
//! Every real time zone's offset is a multiple of 15 minutes, so a local hour, day or week starts
//! on a 15-minute UTC boundary: the bucket boundaries are found by walking those boundaries and
//! noting where the local hour (with its offset), date or ISO week changes. That is DST-exact by
//! construction: a day in Europe/Paris on a change of offset is 23 or 25 hours long, and the hour
//! repeated in autumn is two hourly buckets (one per offset).

use chrono::{Datelike, Offset, TimeZone, Timelike};
use chrono_tz::Tz;

use crate::query::registry::{EntitySet, Field, Source, ValueType};
use crate::sets::SetKind;
use crate::time::{TICKS_PER_DAY, TICKS_PER_SECOND, from_ticks};

/// The rollups' time block: 15 minutes, in ticks.
pub const BLOCK_TICKS: i64 = 15 * 60 * TICKS_PER_SECOND;

/// The 15-minute block that holds `ticks` (its start).
#[must_use]
pub fn block_of(ticks: i64) -> i64 {
    ticks.div_euclid(BLOCK_TICKS) * BLOCK_TICKS
}

/// The first block boundary at or after `ticks`.
#[must_use]
pub fn block_ceil(ticks: i64) -> i64 {
    let b = block_of(ticks);
    if b == ticks { b } else { b + BLOCK_TICKS }
}

/// Whether a sign-in counts as successful: `status/errorCode` is 0. A sign-in without a status
/// or error code counts as failed.
#[must_use]
pub fn is_success(error_code: Option<i32>) -> bool {
    error_code == Some(0)
}

/// The width of report buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interval {
    /// `PT1H`: local hours (an hour repeated by a change of offset is two buckets).
    Hour,
    /// `P1D`: local calendar days (23 to 25 hours across a change of offset).
    Day,
    /// `P1W`: ISO weeks, Monday to Monday, local time.
    Week,
}

impl Interval {
    /// Parses `PT1H`, `P1D` or `P1W` (ISO 8601 durations, any case).
    ///
    /// # Errors
    /// A message listing the accepted values.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.to_ascii_uppercase().as_str() {
            "PT1H" => Ok(Self::Hour),
            "P1D" => Ok(Self::Day),
            "P1W" | "P7D" => Ok(Self::Week),
            _ => Err(format!("Invalid interval '{text}': use PT1H, P1D or P1W.")),
        }
    }

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hour => "PT1H",
            Self::Day => "P1D",
            Self::Week => "P1W",
        }
    }
}

/// Parses a report period, `P{n}D` or `P{n}W`, into days between 1 and `max_days`.
///
/// # Errors
/// A message naming the accepted form and range.
pub fn parse_period(text: &str, max_days: u32) -> Result<u32, String> {
    let upper = text.to_ascii_uppercase();
    let days = upper
        .strip_prefix('P')
        .and_then(|rest| {
            if let Some(n) = rest.strip_suffix('D') {
                n.parse::<u32>().ok()
            } else if let Some(n) = rest.strip_suffix('W') {
                n.parse::<u32>().ok().and_then(|w| w.checked_mul(7))
            } else {
                None
            }
        })
        .filter(|n| n.to_string().len() <= 5);
    match days {
        Some(d) if (1..=max_days).contains(&d) => Ok(d),
        _ => Err(format!(
            "Invalid period '{text}': use an ISO 8601 duration in days or weeks from P1D to P{max_days}D (the \
             tenant's retention window)."
        )),
    }
}

/// Every IANA time zone name [`parse_time_zone`] takes (for the contract).
pub fn time_zone_names() -> impl Iterator<Item = &'static str> {
    chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name())
}

/// Parses an IANA time zone name (`Europe/Paris`, `UTC`), exactly as the database spells it.
///
/// # Errors
/// A message naming the value.
pub fn parse_time_zone(text: &str) -> Result<Tz, String> {
    text.parse::<Tz>()
        .map_err(|_| format!("Invalid timeZone '{text}': use an IANA time zone name such as Europe/Paris."))
}

/// One report bucket: `[start, end)` in ticks, both 15-minute boundaries. `partial` when the period
/// cuts the local hour, day or week (the first and last buckets, usually).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bucket {
    pub start: i64,
    pub end: i64,
    pub partial: bool,
}

/// What identifies the local hour, day or week an instant falls in.
fn key(zone: Tz, interval: Interval, ticks: i64) -> (i32, u32, u32, i32) {
    let local = zone.from_utc_datetime(&from_ticks(ticks).naive_utc());
    match interval {
        Interval::Hour => (local.year(), local.ordinal(), local.hour(), local.offset().fix().local_minus_utc()),
        Interval::Day => (local.year(), local.ordinal(), 0, 0),
        Interval::Week => {
            let w = local.iso_week();
            (w.year(), w.week(), 0, 0)
        }
    }
}

/// The buckets of `[start, end)` (15-minute boundaries, `start < end`) in `zone`: one per local
/// hour, day or ISO week the range touches, cut to the range (and then marked partial).
#[must_use]
pub fn buckets(zone: Tz, interval: Interval, start: i64, end: i64) -> Vec<Bucket> {
    let mut out = Vec::new();
    if start >= end {
        return out;
    }
    let mut bucket_start = start;
    let mut first_partial = key(zone, interval, start - BLOCK_TICKS) == key(zone, interval, start);
    let mut current = key(zone, interval, start);
    let mut t = start + BLOCK_TICKS;
    while t < end {
        let k = key(zone, interval, t);
        if k != current {
            out.push(Bucket { start: bucket_start, end: t, partial: first_partial });
            first_partial = false;
            bucket_start = t;
            current = k;
        }
        t += BLOCK_TICKS;
    }
    let last_partial = key(zone, interval, end) == current;
    out.push(Bucket { start: bucket_start, end, partial: first_partial || last_partial });
    out
}

/// Most buckets one report may have (a year of hours).
pub const MAX_BUCKETS: usize = 366 * 25;

/// The UTC days of `[start, end)` (day starts), for Graph's daily summaries.
#[must_use]
pub fn utc_days(start: i64, end: i64) -> Vec<i64> {
    let mut days = Vec::new();
    let mut d = crate::time::day_start(start);
    while d < end {
        days.push(d);
        d += TICKS_PER_DAY;
    }
    days
}

/// The properties of Graph's `applicationSignInDetailedSummary` that `$filter` and `$orderby`
/// take (`docs/graph-notes.md` §4), evaluated over the rows built from the rollups by the same
/// code that evaluates filters over documents (`query::eval`).
const DETAILED_SUMMARY_FIELDS: &[Field] = &[
    Field { path: "id", ty: ValueType::String, nullable: false, sortable: true, source: Source::Document },
    Field { path: "appId", ty: ValueType::String, nullable: true, sortable: true, source: Source::Document },
    Field { path: "appDisplayName", ty: ValueType::String, nullable: true, sortable: true, source: Source::Document },
    Field {
        path: "aggregatedEventDateTime",
        ty: ValueType::DateTimeOffset,
        nullable: false,
        sortable: true,
        source: Source::Document,
    },
    Field { path: "status/errorCode", ty: ValueType::Int32, nullable: true, sortable: true, source: Source::Document },
    Field { path: "signInCount", ty: ValueType::Int32, nullable: false, sortable: true, source: Source::Document },
];

/// `reports/applicationSignInDetailedSummary`: sign-ins per application, UTC day and status,
/// computed from the sign-in rollups (so it shares the sign-ins' access, retention and tiers: its
/// `kind`).
pub const APPLICATION_SIGN_IN_DETAILED_SUMMARY: EntitySet = EntitySet {
    kind: SetKind::SignIns,
    name: "reports/applicationSignInDetailedSummary",
    type_name: "applicationSignInDetailedSummary",
    table: "sign_in_app_blocks",
    child_key: "",
    fields: DETAILED_SUMMARY_FIELDS,
    collections: &[],
    time_field: "aggregatedEventDateTime",
    default_top: 1000,
    max_top: 1000,
    v1_properties: &[],
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::parse_ticks;

    fn t(s: &str) -> i64 {
        parse_ticks(s).unwrap()
    }

    #[test]
    fn a_paris_day_on_a_change_of_offset_is_23_or_25_hours() {
        let paris: Tz = "Europe/Paris".parse().unwrap();
        let b = buckets(paris, Interval::Day, t("2026-03-28T23:00:00Z"), t("2026-03-30T22:00:00Z"));
        assert_eq!(b.len(), 2);
        assert_eq!((b[0].end - b[0].start) / (3600 * TICKS_PER_SECOND), 23);
        assert!(!b[0].partial && !b[1].partial);
        let b = buckets(paris, Interval::Day, t("2026-10-24T22:00:00Z"), t("2026-10-25T23:00:00Z"));
        assert_eq!(b.len(), 1);
        assert_eq!((b[0].end - b[0].start) / (3600 * TICKS_PER_SECOND), 25);
        // The repeated hour is two hourly buckets.
        let h = buckets(paris, Interval::Hour, t("2026-10-25T00:00:00Z"), t("2026-10-25T02:00:00Z"));
        assert_eq!(h.len(), 2);
    }

    #[test]
    fn half_hour_zones_start_hours_at_half_past_in_utc() {
        let kolkata: Tz = "Asia/Kolkata".parse().unwrap();
        let b = buckets(kolkata, Interval::Hour, t("2026-11-27T10:00:00Z"), t("2026-11-27T12:00:00Z"));
        assert_eq!(
            b.iter().map(|b| b.start).collect::<Vec<_>>(),
            [t("2026-11-27T10:00:00Z"), t("2026-11-27T10:30:00Z"), t("2026-11-27T11:30:00Z")]
        );
        assert!(b[0].partial && !b[1].partial && b[2].partial);
    }

    #[test]
    fn weeks_start_on_monday() {
        // 2026-11-23 is a Monday.
        let b = buckets(Tz::UTC, Interval::Week, t("2026-11-20T00:00:00Z"), t("2026-12-01T00:00:00Z"));
        assert_eq!(b.len(), 3);
        assert_eq!(b[1].start, t("2026-11-23T00:00:00Z"));
        assert_eq!(b[1].end, t("2026-11-30T00:00:00Z"));
        assert!(b[0].partial && !b[1].partial && b[2].partial);
    }

    #[test]
    fn parameters_parse() {
        assert_eq!(parse_period("P30D", 30), Ok(30));
        assert_eq!(parse_period("p1w", 30), Ok(7));
        assert!(parse_period("P31D", 30).is_err());
        assert!(parse_period("P0D", 30).is_err());
        assert!(parse_period("PT1H", 30).is_err());
        assert_eq!(Interval::parse("pt1h"), Ok(Interval::Hour));
        assert!(Interval::parse("P1M").is_err());
        assert!(parse_time_zone("Europe/Paris").is_ok());
        assert!(parse_time_zone("Mars/Olympus").is_err());
        assert_eq!(block_ceil(t("2026-11-27T10:00:00.0000001Z")), t("2026-11-27T10:15:00Z"));
    }
}
