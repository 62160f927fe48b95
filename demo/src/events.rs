//! What happened in each demo tenant besides its daily rhythm, so that the report's graphs look
//! like a real tenant's: the rollout of a new application (none of its sign-ins before, a ramp to
//! a steady share over a few days, a bad first two days of consent errors) and a morning when
//! multi-factor authentication failed for many people (a spike of failures). Both are placed
//! relative to the end of the window, in the tenant's own time zone, so every demo shows them.

use domain::time::TICKS_PER_SECOND;

const TICKS_PER_HOUR: i64 = 3_600 * TICKS_PER_SECOND;
const TICKS_PER_DAY: i64 = 24 * TICKS_PER_HOUR;

/// Days before the last local day: the rollout's Monday is on or before the 17th, the spike's
/// Wednesday on or before the 8th.
const ROLLOUT_DAYS_BEFORE_END: i64 = 17;
const SPIKE_DAYS_BEFORE_END: i64 = 8;
/// Days the rollout takes to reach its full share.
const RAMP_DAYS: i64 = 5;
/// The share of ordinary (modern, non-admin-tool) sign-ins that go to the new application once it
/// is fully rolled out.
const FULL_SHARE: f64 = 0.10;
/// Local hours of the failure spike: 08:30 to 11:45.
const SPIKE_LOCAL: (i64, i64) =
    (8 * TICKS_PER_HOUR + 30 * 60 * TICKS_PER_SECOND, 11 * TICKS_PER_HOUR + 45 * 60 * TICKS_PER_SECOND);
/// How likely an interactive sign-in fails its MFA challenge during the spike.
pub(super) const SPIKE_FAILURE_RATE: f64 = 0.6;
/// How likely a sign-in to the new application fails in its first two days (consent not yet granted,
/// a reply URL wrong), against the 4% of any custom application.
pub(super) const LAUNCH_FAILURE_RATE: f64 = 0.22;
const LAUNCH_DAYS: i64 = 2;

/// One tenant's events, in UTC ticks.
#[derive(Debug, Clone, Copy)]
pub(super) struct Timeline {
    rollout_start: i64,
    spike: (i64, i64),
}

impl Timeline {
    /// The events of a tenant at `utc_offset_hours` whose window ends at `end`.
    pub(super) fn new(end: i64, utc_offset_hours: i64) -> Self {
        let offset = utc_offset_hours * TICKS_PER_HOUR;
        let last_local_day = (end + offset).div_euclid(TICKS_PER_DAY);
        // Day 0 (1970-01-01) was a Thursday: day d's weekday, Monday = 0, is (d + 3) mod 7.
        let on_or_before = |day: i64, weekday: i64| day - (day + 3 - weekday).rem_euclid(7);
        let rollout_day = on_or_before(last_local_day - ROLLOUT_DAYS_BEFORE_END, 0);
        let spike_day = on_or_before(last_local_day - SPIKE_DAYS_BEFORE_END, 2);
        let utc = |local_day: i64, at: i64| local_day * TICKS_PER_DAY + at - offset;
        Self {
            rollout_start: utc(rollout_day, 9 * TICKS_PER_HOUR),
            spike: (utc(spike_day, SPIKE_LOCAL.0), utc(spike_day, SPIKE_LOCAL.1)),
        }
    }

    /// Whether the new application is live at `ticks`.
    pub(super) fn rolled_out(&self, ticks: i64) -> bool {
        ticks >= self.rollout_start
    }

    /// The share of ordinary sign-ins that go to the new application at `ticks`: none before the
    /// rollout, then a linear ramp to [`FULL_SHARE`].
    pub(super) fn rollout_share(&self, ticks: i64) -> f64 {
        if !self.rolled_out(ticks) {
            return 0.0;
        }
        let ramp = (ticks - self.rollout_start) as f64 / (RAMP_DAYS * TICKS_PER_DAY) as f64;
        FULL_SHARE * ramp.min(1.0)
    }

    /// Whether `ticks` is in the new application's first days.
    pub(super) fn launching(&self, ticks: i64) -> bool {
        self.rolled_out(ticks) && ticks < self.rollout_start + LAUNCH_DAYS * TICKS_PER_DAY
    }

    /// Whether `ticks` is in the morning MFA failed.
    pub(super) fn in_spike(&self, ticks: i64) -> bool {
        (self.spike.0..self.spike.1).contains(&ticks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::local_hour_and_weekday;

    #[test]
    fn the_rollout_is_a_monday_morning_and_the_spike_a_wednesday_morning_locally() {
        let end = 20_500 * TICKS_PER_DAY + 13 * TICKS_PER_HOUR + 17;
        for offset in [-8, 0, 1, 10] {
            let t = Timeline::new(end, offset);
            assert_eq!(local_hour_and_weekday(t.rollout_start, offset), (9, 0), "offset {offset}");
            assert_eq!(local_hour_and_weekday(t.spike.0, offset), (8, 2), "offset {offset}");
            let days_before = |x: i64| (end - x) / TICKS_PER_DAY;
            assert!((17..24).contains(&days_before(t.rollout_start)), "offset {offset}");
            assert!((8..15).contains(&days_before(t.spike.0)), "offset {offset}");
            assert_eq!(t.rollout_share(t.rollout_start - 1), 0.0);
            assert!(t.rollout_share(t.rollout_start + TICKS_PER_DAY) < FULL_SHARE);
            assert_eq!(t.rollout_share(t.rollout_start + RAMP_DAYS * TICKS_PER_DAY), FULL_SHARE);
            assert!(t.in_spike(t.spike.0) && !t.in_spike(t.spike.1));
        }
    }
}
