//! Graph timestamps kept exactly: 100-nanosecond ticks since the Unix epoch, as Graph emits them
//! with 7 fractional digits. Ticks are what storage sorts, pages and partitions on.

use chrono::{DateTime, Datelike, FixedOffset, SecondsFormat, TimeZone, Utc};

use crate::DomainError;

/// Ticks per second (Graph's precision is 100 ns).
pub const TICKS_PER_SECOND: i64 = 10_000_000;
/// Ticks per day, the width of a PostgreSQL partition.
pub const TICKS_PER_DAY: i64 = 86_400 * TICKS_PER_SECOND;

/// Parses an OData DateTimeOffset (`2020-03-13T19:15:41.6195833Z`, any offset) into ticks.
///
/// # Errors
/// [`DomainError::InvalidTimestamp`] when `s` is not RFC 3339 or lies outside 0001..9999.
pub fn parse_ticks(s: &str) -> Result<i64, DomainError> {
    let invalid = || DomainError::InvalidTimestamp { value: s.chars().take(64).collect() };
    let dt: DateTime<FixedOffset> = DateTime::parse_from_rfc3339(s).map_err(|_| invalid())?;
    checked_ticks(dt.with_timezone(&Utc)).ok_or_else(invalid)
}

/// The years a timestamp may have: OData's `DateTimeOffset` range as Graph uses it, and what
/// ticks and every backend's integer columns hold exactly.
pub const YEARS: std::ops::RangeInclusive<i32> = 1..=9999;

/// Ticks of a UTC instant (sub-tick nanoseconds are dropped), or `None` outside [`YEARS`].
#[must_use]
pub fn checked_ticks(dt: DateTime<Utc>) -> Option<i64> {
    if !YEARS.contains(&dt.year()) {
        return None;
    }
    dt.timestamp().checked_mul(TICKS_PER_SECOND)?.checked_add(i64::from(dt.timestamp_subsec_nanos() / 100))
}

/// Ticks of a UTC instant (sub-tick nanoseconds are dropped); instants outside [`YEARS`]
/// saturate instead of wrapping (callers that take outside input use [`checked_ticks`]).
#[must_use]
pub fn to_ticks(dt: DateTime<Utc>) -> i64 {
    dt.timestamp().saturating_mul(TICKS_PER_SECOND).saturating_add(i64::from(dt.timestamp_subsec_nanos() / 100))
}

/// The UTC instant of `ticks`.
#[must_use]
pub fn from_ticks(ticks: i64) -> DateTime<Utc> {
    let secs = ticks.div_euclid(TICKS_PER_SECOND);
    let sub = ticks.rem_euclid(TICKS_PER_SECOND);
    let nanos = u32::try_from(sub * 100).unwrap_or(0);
    Utc.timestamp_opt(secs, nanos).single().unwrap_or_default()
}

/// Formats ticks the way Graph does: UTC, `Z`, seven fractional digits.
#[must_use]
pub fn format_ticks(ticks: i64) -> String {
    let dt = from_ticks(ticks);
    let base = dt.format("%Y-%m-%dT%H:%M:%S").to_string();
    format!("{base}.{:07}Z", ticks.rem_euclid(TICKS_PER_SECOND))
}

/// Formats an instant as RFC 3339 with seconds only (used for error envelopes' `date`, minus `Z`).
#[must_use]
pub fn format_error_date(dt: DateTime<Utc>) -> String {
    let s = dt.to_rfc3339_opts(SecondsFormat::Secs, true);
    s.trim_end_matches('Z').to_owned()
}

/// Where "now" comes from, so that tests move time instead of sleeping.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> DateTime<Utc>;

    /// Now, in ticks.
    fn now_ticks(&self) -> i64 {
        to_ticks(self.now())
    }
}

/// The machine's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that stands still until moved (for tests and replays).
#[derive(Debug, Default)]
pub struct ManualClock {
    ticks: std::sync::atomic::AtomicI64,
}

impl ManualClock {
    #[must_use]
    pub fn at(instant: DateTime<Utc>) -> Self {
        Self { ticks: std::sync::atomic::AtomicI64::new(to_ticks(instant)) }
    }

    /// Moves the clock by `by` (negative moves it back).
    pub fn advance(&self, by: chrono::Duration) {
        let delta = by.num_microseconds().unwrap_or(i64::MAX / 20) * 10;
        self.ticks.fetch_add(delta, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        from_ticks(self.ticks.load(std::sync::atomic::Ordering::SeqCst))
    }
}

/// The start of the UTC day that contains `ticks`.
#[must_use]
pub fn day_start(ticks: i64) -> i64 {
    ticks.div_euclid(TICKS_PER_DAY) * TICKS_PER_DAY
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seven_digits_round_trip() {
        let t = parse_ticks("2020-03-13T19:15:41.6195833Z").unwrap();
        assert_eq!(format_ticks(t), "2020-03-13T19:15:41.6195833Z");
        assert_eq!(t % TICKS_PER_SECOND, 6_195_833);
    }

    #[test]
    fn offsets_are_normalised_to_utc() {
        assert_eq!(parse_ticks("2020-03-13T20:15:41+01:00").unwrap(), parse_ticks("2020-03-13T19:15:41Z").unwrap());
    }

    #[test]
    fn bad_timestamps_are_refused() {
        for s in ["2020-03-13", "yesterday", "2020-13-01T00:00:00Z", ""] {
            assert!(parse_ticks(s).is_err(), "{s}");
        }
    }

    #[test]
    fn days_start_at_midnight() {
        let t = parse_ticks("2020-03-13T19:15:41Z").unwrap();
        assert_eq!(format_ticks(day_start(t)), "2020-03-13T00:00:00.0000000Z");
        let before_epoch = parse_ticks("1969-12-31T23:00:00Z").unwrap();
        assert_eq!(format_ticks(day_start(before_epoch)), "1969-12-31T00:00:00.0000000Z");
    }
}
