//! When sign-ins happen: each tenant's exact count is spread over the hours of the window by a
//! daily and weekly rhythm in the tenant's own time zone, then times are drawn inside each hour.
//! Only one hour is held in memory, so millions of sign-ins cost no more memory than a hundred,
//! and they come out in time order.

use super::rng::{Rng, mix};
use domain::time::TICKS_PER_SECOND;

const TICKS_PER_HOUR: i64 = 3_600 * TICKS_PER_SECOND;

/// Relative sign-in volume per local hour of day (0..24).
static HOURLY: [f64; 24] = [
    0.05, 0.03, 0.02, 0.02, 0.03, 0.06, 0.15, 0.40, 0.85, 1.00, 1.00, 0.95, 0.75, 0.90, 0.95, 0.90, 0.80, 0.60, 0.35,
    0.25, 0.20, 0.16, 0.12, 0.08,
];

/// Relative sign-in volume per local weekday, Monday first.
static WEEKDAY: [f64; 7] = [1.0, 1.02, 1.0, 0.97, 0.85, 0.16, 0.11];

/// One tenant's share of the schedule.
#[derive(Debug, Clone)]
pub(super) struct TenantClock {
    pub utc_offset_hours: i64,
    /// How many sign-ins this tenant gets in all.
    pub count: u64,
    /// Sum of this tenant's hourly weights over the whole window.
    total_weight: f64,
    weight_so_far: f64,
    allocated: u64,
}

/// The time-ordered stream of `(ticks, tenant index)` pairs.
#[derive(Debug, Clone)]
pub(super) struct Schedule {
    start: i64,
    end: i64,
    hour: i64,
    last_hour: i64,
    seed: u64,
    tenants: Vec<TenantClock>,
    rng: Rng,
    batch: Vec<(i64, u8)>,
    next: usize,
}

impl Schedule {
    /// A schedule over `[start, end)` (ticks) for tenants with these UTC offsets and counts.
    pub(super) fn new(start: i64, end: i64, seed: u64, tenants: &[(i64, u64)]) -> Self {
        let first_hour = start.div_euclid(TICKS_PER_HOUR);
        let last_hour = (end - 1).div_euclid(TICKS_PER_HOUR);
        let tenants = tenants
            .iter()
            .enumerate()
            .map(|(t, &(utc_offset_hours, count))| {
                let total_weight =
                    (first_hour..=last_hour).map(|h| hour_weight(seed, t, utc_offset_hours, h, start, end)).sum();
                TenantClock { utc_offset_hours, count, total_weight, weight_so_far: 0.0, allocated: 0 }
            })
            .collect();
        Self {
            start,
            end,
            hour: first_hour,
            last_hour,
            seed,
            tenants,
            rng: Rng::new(mix(&[seed, 0x5C4E_D01E])),
            batch: Vec::new(),
            next: 0,
        }
    }

    /// How many pairs are still to come.
    pub(super) fn remaining(&self) -> u64 {
        let pending: u64 = self.tenants.iter().map(|t| t.count - t.allocated).sum();
        pending + (self.batch.len() - self.next) as u64
    }

    /// Fills the batch with the next hour that has any sign-ins; false when the window is done.
    fn refill(&mut self) -> bool {
        self.batch.clear();
        self.next = 0;
        while self.batch.is_empty() && self.hour <= self.last_hour {
            let h = self.hour;
            self.hour += 1;
            let lo = self.start.max(h * TICKS_PER_HOUR);
            let hi = self.end.min((h + 1) * TICKS_PER_HOUR);
            for (t, clock) in self.tenants.iter_mut().enumerate() {
                clock.weight_so_far += hour_weight(self.seed, t, clock.utc_offset_hours, h, self.start, self.end);
                let target = if h == self.last_hour || clock.total_weight <= 0.0 {
                    clock.count
                } else {
                    let share = (clock.weight_so_far / clock.total_weight).min(1.0);
                    ((clock.count as f64 * share).round() as u64).clamp(clock.allocated, clock.count)
                };
                for _ in clock.allocated..target {
                    let at = lo + self.rng.below((hi - lo) as u64) as i64;
                    self.batch.push((at, t as u8));
                }
                clock.allocated = target;
            }
            self.batch.sort_unstable();
        }
        !self.batch.is_empty()
    }
}

impl Iterator for Schedule {
    type Item = (i64, u8);

    fn next(&mut self) -> Option<(i64, u8)> {
        if self.next >= self.batch.len() && !self.refill() {
            return None;
        }
        let item = *self.batch.get(self.next)?;
        self.next += 1;
        Some(item)
    }
}

/// Local hour of day (0..24) and weekday (0 = Monday) of an instant, at a UTC offset.
pub(super) fn local_hour_and_weekday(ticks: i64, utc_offset_hours: i64) -> (usize, usize) {
    let local_hour = ticks.div_euclid(TICKS_PER_HOUR) + utc_offset_hours;
    let day = local_hour.div_euclid(24);
    // 1970-01-01, day 0, was a Thursday.
    (local_hour.rem_euclid(24) as usize, (day + 3).rem_euclid(7) as usize)
}

/// The relative number of a tenant's sign-ins in UTC hour `h`: office hours on weekdays peak,
/// nights and weekends are quiet, each day varies a little, and partial hours at the edges of the
/// window count for the part inside it.
fn hour_weight(seed: u64, tenant: usize, utc_offset_hours: i64, h: i64, start: i64, end: i64) -> f64 {
    let lo = start.max(h * TICKS_PER_HOUR);
    let hi = end.min((h + 1) * TICKS_PER_HOUR);
    if hi <= lo {
        return 0.0;
    }
    let covered = (hi - lo) as f64 / TICKS_PER_HOUR as f64;
    let (hour, weekday) = local_hour_and_weekday(h * TICKS_PER_HOUR, utc_offset_hours);
    let local_day = (h + utc_offset_hours).div_euclid(24);
    let day_noise = 0.85 + 0.3 * ((mix(&[seed, tenant as u64, local_day as u64]) >> 11) as f64 / (1_u64 << 53) as f64);
    // `hour` is below 24 and `weekday` below 7, the lengths of the tables.
    let (hourly, daily) = (HOURLY.get(hour).copied().unwrap_or(0.0), WEEKDAY.get(weekday).copied().unwrap_or(0.0));
    covered * hourly * daily * day_noise
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 24 * TICKS_PER_HOUR;

    #[test]
    fn counts_are_exact_and_times_ordered_inside_the_window() {
        let start = 19_000 * DAY + 1_234_567;
        let end = start + 3 * DAY;
        let pairs: Vec<_> = Schedule::new(start, end, 9, &[(-8, 1_000), (1, 301), (10, 0)]).collect();
        assert_eq!(pairs.len(), 1_301);
        assert_eq!(pairs.iter().filter(|p| p.1 == 1).count(), 301);
        assert!(pairs.windows(2).all(|w| w[0].0 <= w[1].0));
        assert!(pairs.iter().all(|p| (start..end).contains(&p.0)));
    }

    #[test]
    fn remaining_counts_down() {
        let mut s = Schedule::new(0, DAY, 1, &[(0, 10), (5, 5)]);
        assert_eq!(s.remaining(), 15);
        s.next();
        assert_eq!(s.remaining(), 14);
        assert_eq!(s.count(), 14);
    }

    #[test]
    fn the_epoch_was_a_thursday() {
        assert_eq!(local_hour_and_weekday(0, 0), (0, 3));
        assert_eq!(local_hour_and_weekday(0, -1), (23, 2));
    }
}
