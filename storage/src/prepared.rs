//! Statement reuse: each PostgreSQL connection prepares the statement shapes it runs repeatedly,
//! so that PostgreSQL parses and plans them once instead of on every request (planning was most of
//! a page's cost). The mechanism is backend-neutral, but SQLite connections keep none
//! (`conn::prepared_capacity`): compiling a SQLite statement costs microseconds, and reusing them
//! measured no gain.
//!
//! A shape is a statement's SQL text with its parameters' types; the values stay bound. A shape is
//! prepared the second time a connection sees it (one seen once, such as a multi-row insert of an
//! odd size, never is), and at most [`DEFAULT_CAPACITY`] shapes are in use per connection, least
//! recently used out first. The statements themselves live in diesel's per-connection cache, which
//! cannot drop one entry: when the statements it prepared since the last flush reach the capacity
//! and another is needed, the whole cache is dropped and, on PostgreSQL, `DEALLOCATE ALL` frees
//! the server's side. Shapes still in use are prepared again on their next run. Nothing here ever
//! changes which rows a statement returns: diesel keys its cache by the exact SQL and bind types,
//! and the shape record only decides whether that cache is used.
//!
//! Planning once means PostgreSQL's generic plan, and its own choice (`plan_cache_mode = auto`)
//! never takes it for idtrail's pages: a bound `LIMIT` and pruned partitions make every custom plan
//! look cheaper (bench/ANALYSIS.md). So connections run `force_custom_plan` by default and switch
//! to `force_generic_plan` only for a shape in use that has earned it: its first
//! [`CUSTOM_RUNS`] runs are planned for their values and timed, then as many generic runs. That
//! is the guard against a skewed filter: a `startswith` on a common prefix planned without its
//! value reads the prefix's range and sorts it where its custom plan walks the time index (2.5x
//! to 10x slower, measured), while an equality filter's in-order index serves every value alike.
//!
//! A wall-clock time also measures how busy the machine is: on a saturated one any run may wait
//! several times its own cost for a CPU, and judging single runs sent most of a pool's
//! connections back to per-run planning within seconds at 16 clients on 2 cores, none of them for
//! its plan (measured). So the guard judges the fastest of several runs, which a stall cannot
//! slow: a shape is suspect when the fastest of its first [`CUSTOM_RUNS`] generic runs is
//! [`FIRST_FACTOR`] times the fastest custom run (the custom times include planning, so a good
//! generic plan is faster), or later when the fastest of its last [`RECENT_RUNS`] is
//! [`REGRESSION_FACTOR`] times the reference, as a skewed value asked for repeatedly makes it;
//! or as soon as two generic runs in a row are catastrophically slow ([`CATASTROPHE_FACTOR`]).
//! Then its next run is a control, planned for its values, and the suspect time is held against
//! that, measured moments later under the same load. Confirmed, the shape goes back to custom
//! plans on that connection (a first judgement only once a second one, over as many runs,
//! confirms it); cleared, the control's time becomes the reference.
//!
//! One slow run alone is never enough, the run that makes the generic plan included (it counts
//! only as the first of a catastrophic pair): making it is planning for every partition. With
//! 32 day partitions it takes 19 ms on a quiet machine and 50-80 ms at 16 clients on 2 cores,
//! when every connection of the pool makes its plan at the same moment, and PostgreSQL makes it
//! again whenever an `ANALYZE` of a partition invalidates it. Judged alone, that one run sent a
//! third of a pool's connections back to per-run planning for the unfiltered newest page within
//! seconds (measured), the shape that gains the most from a generic plan (3x). A shape sent back
//! gets another trial after [`RETRY_AFTER`] statements of the connection, doubling with each
//! demotion, so that no mistake lasts the connection's lifetime. Statements inside a transaction
//! (the writes) always run custom plans.

use std::collections::HashMap;
use std::time::Duration;

use diesel::QueryResult;
use diesel::backend::Backend as DieselBackend;
use diesel::connection::{CacheSize, Connection, SimpleConnection};
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::query_dsl::RunQueryDsl;

/// Shapes in use per connection at most, and statements prepared per connection at most.
pub const DEFAULT_CAPACITY: usize = 256;

/// Shapes seen once that a connection remembers (so that the second sighting finds them), per
/// shape in use.
const SEEN_PER_SLOT: usize = 4;

/// Runs of a shape in use planned for their values, and timed, before it runs a generic plan
/// (PostgreSQL's own `auto` makes five custom plans first, too).
pub const CUSTOM_RUNS: usize = 5;

/// The fastest of the first [`CUSTOM_RUNS`] generic runs may be at most this many times the
/// fastest custom run (planning included, measured moments apart, so under the same load)...
pub const FIRST_FACTOR: f64 = 1.25;

/// ...or at most this much slower.
pub const FIRST_MARGIN: Duration = Duration::from_micros(500);

/// Later, the fastest of the last [`RECENT_RUNS`] generic runs may be at most this many times the
/// reference custom time...
pub const REGRESSION_FACTOR: u32 = 4;

/// ...or at most this much slower.
pub const REGRESSION_MARGIN: Duration = Duration::from_millis(2);

/// Two generic runs in a row this many times the reference...
pub const CATASTROPHE_FACTOR: u32 = 16;

/// ...and this much slower are suspect on their own: a generic plan that serves a value
/// catastrophically (a wide prefix's range read and sorted, 600 ms against 4.5 ms planned for
/// the value, measured) should cost two runs per connection (the plan-making one and the next),
/// not the [`CUSTOM_RUNS`] or [`RECENT_RUNS`] the other rules wait for. Two, because one may be
/// the plan being made again (see the module documentation).
pub const CATASTROPHE_MARGIN: Duration = Duration::from_millis(50);

/// The generic runs whose fastest is watched: a stall (the machine busy with other requests) only
/// ever adds time to a run, so the fastest of several is what the plan costs, and a regression is
/// every one of them slow, as a skewed value repeated is (measured: single runs of 4x the custom
/// time, even each confirmed by a fast custom run right after, sent a pool's connections back to
/// per-run planning within seconds at 16 clients on 2 cores).
pub const RECENT_RUNS: usize = 8;

/// Statements of the connection after which a shape sent back to custom plans gets another trial
/// (its custom runs timed again, then generic ones), doubled at each demotion up to
/// [`MAX_RETRY_SHIFT`] doublings: a shape demoted by mistake (a load spike the controls did not
/// absorb) does not stay expensive for the connection's lifetime, and a shape that does regress
/// costs a few slow runs per trial.
pub const RETRY_AFTER: u64 = 1_000;

/// The most doublings of [`RETRY_AFTER`].
pub const MAX_RETRY_SHIFT: u32 = 6;

/// The first generic runs, until their fastest is compared with the fastest custom one: in
/// `round` 0, then once more in round 1 when a control confirmed the first round's regression.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Judged {
    Pending { round: u8, runs: u8, times: [Duration; CUSTOM_RUNS] },
    Done,
}

/// The first judgement's first round.
const FIRST_JUDGEMENT: Judged = Judged::Pending { round: 0, runs: 0, times: [Duration::ZERO; CUSTOM_RUNS] };

/// Whether `time` is more than `factor` times `reference` and more than `margin` longer.
fn slower(time: Duration, reference: Duration, factor: f64, margin: Duration) -> bool {
    time.as_secs_f64() > reference.as_secs_f64() * factor && time.saturating_sub(reference) > margin
}

/// The fastest of `times`.
fn fastest(times: &[Duration]) -> Duration {
    times.iter().copied().min().unwrap_or_default()
}

/// How PostgreSQL plans a statement (`plan_cache_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Planned for its values on every run (`force_custom_plan`).
    Custom,
    /// Planned once without values, the plan kept (`force_generic_plan`).
    Generic,
}

impl Plan {
    /// The statement that puts a session in this mode.
    #[must_use]
    pub fn setting(self) -> &'static str {
        match self {
            Self::Custom => "SET plan_cache_mode = force_custom_plan",
            Self::Generic => "SET plan_cache_mode = force_generic_plan",
        }
    }
}

/// A generic time that looked like a regression, waiting for its control run (a custom one).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Suspect {
    /// The fastest of the first generic runs.
    First(Duration),
    /// The same, judged a second time, after a control confirmed the first.
    Again(Duration),
    /// The fastest of the last [`RECENT_RUNS`].
    Recent(Duration),
    /// The faster of two catastrophic runs in a row.
    Two(Duration),
}

/// Where a shape in use is in its planning.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    /// Custom plans, timed: `runs` so far, their times.
    Custom { runs: usize, times: [Duration; CUSTOM_RUNS] },
    /// Generic plans, watched against a custom time (the fastest first custom run, then the last
    /// control's): the flush epoch whose statement has its generic plan made (the run that makes
    /// it is slower), the first generic runs, the last ones, and a suspect awaiting its control.
    Generic { reference: Duration, planned_in: Option<u64>, judged: Judged, recent: Recent, suspect: Option<Suspect> },
    /// A generic plan regressed: custom plans until the connection's statement count reaches
    /// `until`, then a new trial.
    Demoted { until: u64 },
}

/// The last [`RECENT_RUNS`] generic runs' times (a ring).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
struct Recent {
    times: [Duration; RECENT_RUNS],
    len: usize,
    next: usize,
}

impl Recent {
    fn push(&mut self, took: Duration) {
        if let Some(slot) = self.times.get_mut(self.next) {
            *slot = took;
        }
        self.next = (self.next + 1) % RECENT_RUNS;
        self.len = (self.len + 1).min(RECENT_RUNS);
    }

    /// The fastest of the last [`RECENT_RUNS`], once there are that many.
    fn fastest(&self) -> Option<Duration> {
        (self.len == RECENT_RUNS).then(|| fastest(&self.times))
    }
}

/// What one connection knows of the shapes it ran.
#[derive(Debug)]
pub struct Shapes {
    capacity: usize,
    /// Increases with every statement: the recency of the LRU.
    tick: u64,
    /// Shapes seen once, with when.
    seen: HashMap<u64, u64>,
    /// Shapes in use (run through the statement cache).
    admitted: HashMap<u64, Admitted>,
    /// Statements diesel prepared since the last flush (its `CacheQuery` events): what the server holds.
    prepared: usize,
    /// Flushes so far.
    epoch: u64,
    /// The session's `plan_cache_mode` as last set (`None`: not known).
    mode: Option<Plan>,
    /// The mode was set inside a transaction, whose rollback would undo it.
    mode_in_transaction: bool,
}

#[derive(Debug, Clone, Copy)]
struct Admitted {
    last: u64,
    /// The flush epoch in which the shape last ran prepared (its statement is in diesel's cache).
    prepared_in: Option<u64>,
    phase: Phase,
    /// Times it was sent back to custom plans (each doubles the wait before the next trial).
    demotions: u32,
    /// In generic plans, the run before this one (zero: none since the plan was made or since
    /// the last control).
    previous: Duration,
}

/// A shape's first phase: custom plans, timed.
const FIRST_RUNS: Phase = Phase::Custom { runs: 0, times: [Duration::ZERO; CUSTOM_RUNS] };

/// A shape whose generic plan ran slower than its custom ones (for the log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Demotion {
    /// The generic runs' time held against the control (the fastest of several).
    pub generic: Duration,
    /// The control run's.
    pub custom: Duration,
}

/// How one statement runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Unprepared (PostgreSQL: the unnamed statement, parsed and planned for this run only).
    Once,
    /// Through the statement cache: prepared now if it is not yet.
    Reuse,
    /// The cache is full: flush it first, then as [`Route::Reuse`].
    FlushThenReuse,
}

impl Shapes {
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            tick: 0,
            seen: HashMap::new(),
            admitted: HashMap::new(),
            prepared: 0,
            epoch: 0,
            mode: None,
            mode_in_transaction: false,
        }
    }

    /// How the statement of shape `key` is planned (after [`Shapes::route`]).
    #[must_use]
    pub fn plan(&self, key: u64) -> Plan {
        match self.admitted.get(&key).map(|a| a.phase) {
            Some(Phase::Generic { suspect: None, .. }) => Plan::Generic,
            _ => Plan::Custom,
        }
    }

    /// Whether the session must be told `plan` before a statement (`in_transaction`: the
    /// statement runs inside one).
    #[must_use]
    pub fn needs_mode(&self, plan: Plan, in_transaction: bool) -> bool {
        // A mode set inside a transaction may have been rolled back since.
        self.mode != Some(plan) || (self.mode_in_transaction && !in_transaction)
    }

    /// The session's mode is now `mode` (`None`: not known, such as after a failed statement).
    pub fn set_mode(&mut self, mode: Option<Plan>, in_transaction: bool) {
        self.mode = mode;
        self.mode_in_transaction = in_transaction;
    }

    /// Decides how the statement of shape `key` runs, and records that it was seen.
    pub fn route(&mut self, key: u64) -> Route {
        self.tick += 1;
        let (tick, epoch) = (self.tick, self.epoch);
        if self.capacity == 0 {
            return Route::Once;
        }
        if let Some(a) = self.admitted.get_mut(&key) {
            a.last = tick;
            if matches!(a.phase, Phase::Demoted { until } if tick >= until) {
                a.phase = FIRST_RUNS;
            }
            if a.prepared_in == Some(epoch) {
                return Route::Reuse;
            }
            return self.room();
        }
        if self.seen.remove(&key).is_none() {
            if self.seen.len() >= self.capacity * SEEN_PER_SLOT {
                evict_oldest(&mut self.seen, |t| *t);
            }
            self.seen.insert(key, tick);
            return Route::Once;
        }
        if self.admitted.len() >= self.capacity {
            evict_oldest(&mut self.admitted, |a| a.last);
        }
        self.admitted.insert(
            key,
            Admitted { last: tick, prepared_in: None, phase: FIRST_RUNS, demotions: 0, previous: Duration::ZERO },
        );
        self.room()
    }

    /// A shape about to be prepared: whether the cache must be flushed first.
    fn room(&mut self) -> Route {
        if self.prepared >= self.capacity { Route::FlushThenReuse } else { Route::Reuse }
    }

    /// Shape `key` ran prepared: its statement is in the cache until the next flush.
    pub fn ran_prepared(&mut self, key: u64) {
        let epoch = self.epoch;
        if let Some(a) = self.admitted.get_mut(&key) {
            a.prepared_in = Some(epoch);
        }
    }

    /// Shape `key` ran prepared and as planned by [`Shapes::plan`], outside a transaction, in
    /// `took`: moves it from custom to generic plans after its first runs, holds a suspect generic
    /// time against the control run that follows it, and sends the shape back to custom plans when
    /// a regression is confirmed (returned).
    pub fn timed(&mut self, key: u64, took: Duration) -> Option<Demotion> {
        let (tick, epoch) = (self.tick, self.epoch);
        let a = self.admitted.get_mut(&key)?;
        let demotion = Self::judge(a, epoch, took);
        if demotion.is_some() {
            let wait = RETRY_AFTER << a.demotions.min(MAX_RETRY_SHIFT);
            a.demotions = a.demotions.saturating_add(1);
            a.phase = Phase::Demoted { until: tick.saturating_add(wait) };
        }
        demotion
    }

    /// The shape `a`'s phase after a run of `took` (see [`Shapes::timed`]); a regression found is
    /// returned, and the caller demotes the shape.
    fn judge(a: &mut Admitted, epoch: u64, took: Duration) -> Option<Demotion> {
        match &mut a.phase {
            Phase::Custom { runs, times } => {
                if let Some(slot) = times.get_mut(*runs) {
                    *slot = took;
                }
                *runs += 1;
                if *runs >= CUSTOM_RUNS {
                    a.phase = Phase::Generic {
                        reference: fastest(times),
                        planned_in: None,
                        judged: FIRST_JUDGEMENT,
                        recent: Recent::default(),
                        suspect: None,
                    };
                    a.previous = Duration::ZERO;
                }
                None
            }
            Phase::Generic { reference, planned_in, judged, recent, suspect } => {
                let previous = &mut a.previous;
                // This run was the control of a suspect generic time: planned for its values now.
                if let Some(held) = suspect.take() {
                    let (generic, regressed) = match held {
                        Suspect::First(g) | Suspect::Again(g) => (g, slower(g, took, FIRST_FACTOR, FIRST_MARGIN)),
                        Suspect::Recent(g) => (g, slower(g, took, f64::from(REGRESSION_FACTOR), REGRESSION_MARGIN)),
                        Suspect::Two(g) => (g, slower(g, took, f64::from(CATASTROPHE_FACTOR), CATASTROPHE_MARGIN)),
                    };
                    *previous = Duration::ZERO;
                    if regressed {
                        if let Suspect::First(_) = held {
                            // Confirmed once: judged again over as many runs, against this control.
                            *reference = took;
                            *judged = Judged::Pending { round: 1, runs: 0, times: [Duration::ZERO; CUSTOM_RUNS] };
                            return None;
                        }
                        return Some(Demotion { generic, custom: took });
                    }
                    // Custom plans take this long now (no longer than the generic ones, which
                    // were not to blame): later generic runs are held against it.
                    *reference = took.min(generic);
                    *recent = Recent::default();
                    return None;
                }
                // This run made the generic plan (first after a (re)prepare): not a measure of it
                // alone, but the first of a catastrophic pair (planning is never 16x a run).
                if *planned_in != Some(epoch) {
                    *planned_in = Some(epoch);
                    *previous = took;
                    return None;
                }
                // The faster of this run and the one before: one slow run may be a stall, or the
                // plan made again after an invalidation; two in a row are the plan.
                let pair = took.min(*previous);
                *previous = took;
                if slower(pair, *reference, f64::from(CATASTROPHE_FACTOR), CATASTROPHE_MARGIN) {
                    *suspect = Some(Suspect::Two(pair));
                    return None;
                }
                if let Judged::Pending { round, runs, times } = judged {
                    if let Some(slot) = times.get_mut(usize::from(*runs)) {
                        *slot = took;
                    }
                    *runs += 1;
                    if usize::from(*runs) >= CUSTOM_RUNS {
                        let (generic, round) = (fastest(times), *round);
                        *judged = Judged::Done;
                        if slower(generic, *reference, FIRST_FACTOR, FIRST_MARGIN) {
                            *suspect = Some(if round == 0 { Suspect::First(generic) } else { Suspect::Again(generic) });
                        }
                    }
                    return None;
                }
                recent.push(took);
                if let Some(generic) = recent.fastest()
                    && slower(generic, *reference, f64::from(REGRESSION_FACTOR), REGRESSION_MARGIN)
                {
                    *suspect = Some(Suspect::Recent(generic));
                }
                None
            }
            Phase::Demoted { .. } => None,
        }
    }

    /// diesel prepared a statement for its cache (named, on PostgreSQL).
    pub fn prepared_one(&mut self) {
        self.prepared += 1;
    }

    /// The cache was dropped: every shape in use is prepared again on its next run.
    pub fn flushed(&mut self) {
        self.epoch += 1;
        self.prepared = 0;
    }

    /// Statements diesel prepared since the last flush.
    #[must_use]
    pub fn prepared(&self) -> usize {
        self.prepared
    }

    /// Shapes in use.
    #[must_use]
    pub fn in_use(&self) -> usize {
        self.admitted.len()
    }
}

/// Removes the entry with the smallest recency (a scan: this runs only when a new shape arrives
/// at a full table, and the tables hold a few hundred entries).
fn evict_oldest<V>(map: &mut HashMap<u64, V>, recency: impl Fn(&V) -> u64) {
    if let Some(oldest) = map.iter().min_by_key(|(_, v)| recency(v)).map(|(k, _)| *k) {
        map.remove(&oldest);
    }
}

/// A statement that diesel's cache may keep or not, as [`Shapes`] decided. diesel's `SqlQuery`
/// always says "never cache" (it cannot know whether its text was built from values); here every
/// value is bound (`Sql`), so the text is a shape and the decision can be made per shape.
#[derive(Debug)]
pub struct Statement<Q> {
    inner: Q,
    reuse: bool,
}

impl<Q> Statement<Q> {
    pub fn new(inner: Q, reuse: bool) -> Self {
        Self { inner, reuse }
    }
}

impl<DB: DieselBackend, Q: QueryFragment<DB>> QueryFragment<DB> for Statement<Q> {
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.inner.walk_ast(pass)
    }

    fn is_safe_to_cache_prepared(&self, _backend: &DB) -> QueryResult<bool> {
        Ok(self.reuse)
    }
}

/// Keyed by its SQL text and bind types (no static id): the text differs per shape.
impl<Q> QueryId for Statement<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: Query> Query for Statement<Q> {
    type SqlType = Q::SqlType;
}

impl<Conn: Connection, Q> RunQueryDsl<Conn> for Statement<Q> {}

/// Whether `e` says the server no longer has a statement diesel's cache holds (someone ran
/// `DEALLOCATE`, a pooler moved the session) or that a table changed under a prepared plan's
/// result: the cache must be dropped for the next run to work.
#[must_use]
pub fn is_stale(e: &diesel::result::Error) -> bool {
    matches!(e, diesel::result::Error::DatabaseError(_, info)
        if info.message().contains("cached plan must not change result type")
            || (info.message().starts_with("prepared statement") && info.message().contains("does not exist")))
}

/// Drops diesel's statement cache (and with `deallocate`, the server's prepared statements).
///
/// # Errors
/// `DEALLOCATE ALL` failed (for example in an aborted transaction); diesel's cache is then kept,
/// so that it still matches what the server holds.
pub fn flush<C: Connection + SimpleConnection>(c: &mut C, deallocate: bool) -> QueryResult<()> {
    if deallocate {
        c.batch_execute("DEALLOCATE ALL")?;
    }
    // diesel has no way to drop one entry; switching the cache off and on again drops them all.
    c.set_prepared_statement_cache_size(CacheSize::Disabled);
    c.set_prepared_statement_cache_size(CacheSize::Unbounded);
    Ok(())
}

#[cfg(test)]
mod postgres;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shape_is_prepared_on_its_second_run_and_reused_after() {
        let mut s = Shapes::new(4);
        assert_eq!(s.route(1), Route::Once);
        assert_eq!(s.route(1), Route::Reuse);
        s.prepared_one();
        s.ran_prepared(1);
        assert_eq!(s.route(1), Route::Reuse);
        assert_eq!((s.in_use(), s.prepared()), (1, 1));
    }

    #[test]
    fn the_cache_is_flushed_when_full_and_shapes_in_use_are_prepared_again() {
        let mut s = Shapes::new(2);
        for key in [1, 2] {
            s.route(key);
            assert_eq!(s.route(key), Route::Reuse);
            s.prepared_one();
            s.ran_prepared(key);
        }
        s.route(3);
        // The third shape in use pushes out the least recently used one (1) and fills the cache.
        assert_eq!(s.route(3), Route::FlushThenReuse);
        s.flushed();
        s.prepared_one();
        s.ran_prepared(3);
        assert_eq!(s.in_use(), 2);
        // Shape 2 is still in use but its statement went with the flush: prepared again, no flush.
        assert_eq!(s.route(2), Route::Reuse);
        s.prepared_one();
        s.ran_prepared(2);
        assert_eq!(s.prepared(), 2);
        // Shape 1 was pushed out: seen once again, then in use again.
        assert_eq!(s.route(1), Route::Once);
        assert_eq!(s.route(1), Route::FlushThenReuse);
    }

    /// Runs `keys` against a model of diesel's cache (a set of prepared shapes).
    fn simulate(s: &mut Shapes, keys: impl Iterator<Item = u64>) -> usize {
        let mut cached = std::collections::HashSet::new();
        let mut most = 0;
        for key in keys {
            let route = s.route(key);
            if route == Route::FlushThenReuse {
                cached.clear();
                s.flushed();
            }
            if route != Route::Once {
                if cached.insert(key) {
                    s.prepared_one();
                }
                s.ran_prepared(key);
            }
            assert_eq!(cached.len(), s.prepared());
            most = most.max(cached.len());
        }
        most
    }

    #[test]
    fn many_shapes_never_hold_more_statements_than_the_capacity() {
        let mut s = Shapes::new(DEFAULT_CAPACITY);
        let most = simulate(&mut s, (0..3).flat_map(|_| 0..300_u64));
        assert_eq!(most, DEFAULT_CAPACITY);
        assert!(s.in_use() <= DEFAULT_CAPACITY);
    }

    #[test]
    fn a_steady_set_of_shapes_is_prepared_once() {
        let mut s = Shapes::new(DEFAULT_CAPACITY);
        simulate(&mut s, (0..10).flat_map(|_| 0..100_u64));
        assert_eq!((s.prepared(), s.epoch), (100, 0));
    }

    /// Runs shape `key` once as [`simulate`] would, taking `took`.
    fn run_timed(s: &mut Shapes, key: u64, took: Duration) -> (Plan, Option<Demotion>) {
        let route = s.route(key);
        let plan = s.plan(key);
        if route == Route::Once {
            return (plan, None);
        }
        s.ran_prepared(key);
        (plan, s.timed(key, took))
    }

    /// Runs shape `key` `n` times taking `took`, none demoted; the plans they ran.
    fn runs(s: &mut Shapes, key: u64, n: usize, took: Duration) -> Vec<Plan> {
        (0..n)
            .map(|i| {
                let (plan, demoted) = run_timed(s, key, took);
                assert_eq!(demoted, None, "run {i} of {n}");
                plan
            })
            .collect()
    }

    /// Seen once, prepared, its custom runs, the plan-making generic run, and the first generic
    /// runs, all taking `custom` then `generic`: ready for [`RECENT_RUNS`] judgement.
    fn settled(s: &mut Shapes, key: u64, custom: Duration, generic: Duration) {
        runs(s, key, 1 + CUSTOM_RUNS, custom);
        assert!(runs(s, key, 1 + CUSTOM_RUNS, generic).iter().all(|p| *p == Plan::Generic));
    }

    #[test]
    fn a_shape_runs_custom_plans_first_then_generic_ones() {
        let mut s = Shapes::new(4);
        let ms = Duration::from_millis;
        assert_eq!(run_timed(&mut s, 1, ms(1)).0, Plan::Custom, "seen once");
        for _ in 0..CUSTOM_RUNS {
            assert_eq!(run_timed(&mut s, 1, ms(1)).0, Plan::Custom);
        }
        // The first generic run makes the plan: slow, and not held against it.
        assert_eq!(run_timed(&mut s, 1, ms(9)), (Plan::Generic, None));
        assert!(runs(&mut s, 1, 20, ms(1)).iter().all(|p| *p == Plan::Generic));
        // Stalls, even several, are not the plan: the fastest of the last runs is still 1 ms.
        for _ in 0..10 {
            assert_eq!(runs(&mut s, 1, RECENT_RUNS - 1, ms(30)), vec![Plan::Generic; RECENT_RUNS - 1]);
            assert_eq!(run_timed(&mut s, 1, ms(1)), (Plan::Generic, None));
        }
    }

    /// Every statement slows down together on a saturated machine, long after the custom runs
    /// were timed: the shape's controls find custom plans as slow, and it keeps its generic plan
    /// for nearly every run.
    #[test]
    fn a_busy_machine_is_not_a_regression() {
        let mut s = Shapes::new(4);
        let ms = Duration::from_millis;
        settled(&mut s, 1, ms(1), ms(1));
        let mut generic_runs = 0;
        for run in 0..400_u64 {
            // 8 to 24 ms under load, whichever plan.
            let took = ms(8 + (run * 7) % 17);
            let (plan, demoted) = run_timed(&mut s, 1, took);
            assert_eq!(demoted, None, "run {run}");
            generic_runs += u32::from(plan == Plan::Generic);
        }
        assert!(generic_runs > 390, "{generic_runs} of 400 generic");
    }

    #[test]
    fn a_generic_plan_faster_than_planning_stays() {
        let mut s = Shapes::new(4);
        let ms = Duration::from_millis;
        settled(&mut s, 1, ms(2), ms(1));
        // Noisy, a few runs slower.
        for t in [1, 1, 3, 1, 2, 1, 1, 5, 1, 1, 9, 30, 1] {
            assert_eq!(run_timed(&mut s, 1, ms(t)), (Plan::Generic, None));
        }
    }

    /// A value the generic plan serves badly, asked for again and again: every recent run is slow,
    /// the control planned for its values is fast, and the shape goes back to custom plans.
    #[test]
    fn a_generic_plan_that_regresses_goes_back_to_custom_plans() {
        let mut s = Shapes::new(4);
        let ms = Duration::from_millis;
        settled(&mut s, 1, ms(2), ms(2));
        // 3x slower is not a regression worth a replan on every run...
        assert!(runs(&mut s, 1, RECENT_RUNS * 2, ms(6)).iter().all(|p| *p == Plan::Generic));
        // ...13 ms against 2 ms is, for every one of the last runs.
        assert!(runs(&mut s, 1, RECENT_RUNS, ms(13)).iter().all(|p| *p == Plan::Generic));
        let (plan, demoted) = run_timed(&mut s, 1, ms(2));
        assert_eq!((plan, demoted), (Plan::Custom, Some(Demotion { generic: ms(13), custom: ms(2) })));
        assert_eq!(runs(&mut s, 1, 10, ms(1)), vec![Plan::Custom; 10]);
    }

    #[test]
    fn generic_runs_slower_than_custom_ones_go_back_to_custom_plans() {
        let mut s = Shapes::new(4);
        let ms = Duration::from_millis;
        // Custom runs of 9 ms (planning included), then the plan-making generic run.
        runs(&mut s, 1, CUSTOM_RUNS + 2, ms(9));
        // A prefix's range read and sorted: 21 ms each, never 4x, but twice the custom time.
        assert_eq!(runs(&mut s, 1, CUSTOM_RUNS, ms(21)), vec![Plan::Generic; CUSTOM_RUNS]);
        // The control, planned for its values, still takes 9 ms: the generic plan is the cause,
        // once the same runs again confirm it.
        assert_eq!(run_timed(&mut s, 1, ms(9)), (Plan::Custom, None));
        assert_eq!(runs(&mut s, 1, CUSTOM_RUNS, ms(21)), vec![Plan::Generic; CUSTOM_RUNS]);
        let (plan, demoted) = run_timed(&mut s, 1, ms(9));
        assert_eq!((plan, demoted), (Plan::Custom, Some(Demotion { generic: ms(21), custom: ms(9) })));
        assert_eq!(s.plan(1), Plan::Custom);
    }

    /// Every connection of a pool makes its generic plan at the same moment, and the machine is
    /// saturated for the first generic runs: a control that happens to run when it is quiet
    /// confirms them once, and the second judgement, quiet too, clears the plan.
    #[test]
    fn first_generic_runs_slowed_by_the_pool_making_its_plans_are_judged_again() {
        let mut s = Shapes::new(4);
        let ms = Duration::from_millis;
        let us = Duration::from_micros;
        runs(&mut s, 1, CUSTOM_RUNS + 1, us(1_500));
        // The plan-making run and the first generic runs, all in the storm.
        assert_eq!(runs(&mut s, 1, 1 + CUSTOM_RUNS, ms(3)), vec![Plan::Generic; 1 + CUSTOM_RUNS]);
        assert_eq!(run_timed(&mut s, 1, us(1_500)), (Plan::Custom, None), "a lucky control");
        assert_eq!(runs(&mut s, 1, CUSTOM_RUNS, us(500)), vec![Plan::Generic; CUSTOM_RUNS]);
        assert_eq!(runs(&mut s, 1, 100, us(500)), vec![Plan::Generic; 100], "kept");
    }

    #[test]
    fn slow_first_generic_runs_are_forgiven_when_their_control_is_as_slow() {
        let mut s = Shapes::new(4);
        let ms = Duration::from_millis;
        runs(&mut s, 1, CUSTOM_RUNS + 2, ms(9));
        // Load arrived between the custom runs and the generic ones.
        runs(&mut s, 1, CUSTOM_RUNS, ms(21));
        assert_eq!(run_timed(&mut s, 1, ms(20)), (Plan::Custom, None));
        assert_eq!(s.plan(1), Plan::Generic);
    }

    /// A value the generic plan serves catastrophically costs two runs: the plan-making one and
    /// the next (measured at 2 M sign-ins: a wide prefix 430-950 ms against 7-40 ms planned for
    /// its value, each such run a stall of the page).
    #[test]
    fn two_catastrophic_generic_runs_are_controlled_at_once() {
        let mut s = Shapes::new(4);
        let ms = Duration::from_millis;
        runs(&mut s, 1, CUSTOM_RUNS + 1, ms(4));
        assert_eq!(runs(&mut s, 1, 2, ms(600)), vec![Plan::Generic; 2]);
        let (plan, demoted) = run_timed(&mut s, 1, ms(5));
        assert_eq!((plan, demoted), (Plan::Custom, Some(Demotion { generic: ms(600), custom: ms(5) })));
        // Made, fast, then one slow run: a stall, not the plan.
        let mut s = Shapes::new(4);
        runs(&mut s, 1, CUSTOM_RUNS + 1, ms(4));
        assert_eq!(runs(&mut s, 1, 2, ms(1)), vec![Plan::Generic; 2]);
        assert_eq!(run_timed(&mut s, 1, ms(600)), (Plan::Generic, None));
        assert_eq!(run_timed(&mut s, 1, ms(1)), (Plan::Generic, None));
        // A long stall whose control is as slow is forgiven.
        let mut s = Shapes::new(4);
        settled(&mut s, 1, ms(4), ms(1));
        assert_eq!(runs(&mut s, 1, 2, ms(90)), vec![Plan::Generic; 2]);
        assert_eq!(run_timed(&mut s, 1, ms(40)), (Plan::Custom, None));
        assert_eq!(run_timed(&mut s, 1, ms(1)), (Plan::Generic, None));
    }

    /// Making the generic plan of a partitioned table is planning for every partition: 19 ms
    /// with 32 day partitions on a quiet machine, 50-80 ms on a busy one, against 1 ms for a run
    /// planned for its values (measured). Neither the first making nor a remaking after an
    /// invalidation (one slow run among fast ones) is held against the plan.
    #[test]
    fn making_the_generic_plan_is_not_a_regression() {
        let mut s = Shapes::new(4);
        let ms = Duration::from_millis;
        runs(&mut s, 1, CUSTOM_RUNS + 1, ms(1));
        assert_eq!(run_timed(&mut s, 1, ms(76)), (Plan::Generic, None), "made");
        assert_eq!(runs(&mut s, 1, 40, ms(1)), vec![Plan::Generic; 40]);
        for _ in 0..5 {
            assert_eq!(run_timed(&mut s, 1, ms(76)), (Plan::Generic, None), "made again");
            assert_eq!(runs(&mut s, 1, 20, ms(1)), vec![Plan::Generic; 20]);
        }
    }

    /// A demoted shape is tried again after [`RETRY_AFTER`] statements, then after twice as many.
    #[test]
    fn a_demoted_shape_gets_another_trial_later() {
        let mut s = Shapes::new(4);
        let ms = Duration::from_millis;
        runs(&mut s, 1, CUSTOM_RUNS + 2, ms(9));
        runs(&mut s, 1, CUSTOM_RUNS, ms(21));
        assert_eq!(run_timed(&mut s, 1, ms(9)), (Plan::Custom, None), "confirmed once");
        runs(&mut s, 1, CUSTOM_RUNS, ms(21));
        assert!(run_timed(&mut s, 1, ms(9)).1.is_some(), "demoted");
        for wait in [RETRY_AFTER, RETRY_AFTER * 2] {
            // Other shapes' statements count too.
            for n in 0..wait - 1 {
                if n % 2 == 0 {
                    assert_eq!(run_timed(&mut s, 1, ms(1)).0, Plan::Custom, "{n} of {wait}");
                } else {
                    run_timed(&mut s, 2, ms(1));
                }
            }
            // The trial: custom runs timed again, then the generic plan, as slow as before.
            assert_eq!(runs(&mut s, 1, CUSTOM_RUNS, ms(9)), vec![Plan::Custom; CUSTOM_RUNS]);
            assert_eq!(runs(&mut s, 1, CUSTOM_RUNS + 1, ms(21)), vec![Plan::Generic; CUSTOM_RUNS + 1]);
            assert_eq!(run_timed(&mut s, 1, ms(9)), (Plan::Custom, None), "confirmed once");
            assert_eq!(runs(&mut s, 1, CUSTOM_RUNS, ms(21)), vec![Plan::Generic; CUSTOM_RUNS]);
            assert!(run_timed(&mut s, 1, ms(9)).1.is_some(), "demoted again after {wait}");
        }
    }

    #[test]
    fn a_mode_set_inside_a_transaction_is_set_again_after_it() {
        let mut s = Shapes::new(4);
        assert!(s.needs_mode(Plan::Custom, false), "unknown at first");
        s.set_mode(Some(Plan::Custom), true);
        assert!(!s.needs_mode(Plan::Custom, true));
        assert!(s.needs_mode(Plan::Custom, false));
        s.set_mode(Some(Plan::Custom), false);
        assert!(!s.needs_mode(Plan::Custom, false));
        assert!(s.needs_mode(Plan::Generic, false));
    }

    #[test]
    fn capacity_zero_prepares_nothing() {
        let mut s = Shapes::new(0);
        for _ in 0..3 {
            assert_eq!(s.route(7), Route::Once);
        }
    }
}
