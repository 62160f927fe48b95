//! A closed-loop load generator: `concurrency` threads, each with its own connection (HTTP or
//! database), issue one request after another for a warm-up and then a measured window. Every
//! measured request's latency is kept, so percentiles are exact, not estimated.

use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// How long to run.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub warmup: Duration,
    pub measure: Duration,
    /// Keep measuring past `measure` until this many requests (spread over the threads) were
    /// measured, but start none past `max`.
    pub min_requests: usize,
    pub max: Duration,
}

/// What one run measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Stats {
    pub concurrency: usize,
    pub requests: usize,
    pub errors: usize,
    pub first_error: Option<String>,
    pub seconds: f64,
    /// Completed requests per second.
    pub throughput: f64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// The value at quantile `q` (nearest rank) of sorted `v`.
pub fn quantile(v: &[u64], q: f64) -> u64 {
    if v.is_empty() {
        return 0;
    }
    let rank = (q * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

/// The raw outcome of one measured window.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    /// Latencies of the successful requests, in microseconds.
    pub latencies: Vec<u64>,
    pub errors: usize,
    pub first_error: Option<String>,
    pub seconds: f64,
}

impl Stats {
    /// Stats over several windows (rounds) of the same work: latencies pooled, throughput as
    /// requests over the summed measured time.
    pub fn from_samples(concurrency: usize, samples: Vec<Sample>) -> Self {
        let mut all = Vec::new();
        let (mut errors, mut first_error, mut seconds) = (0, None, 0.0);
        for s in samples {
            all.extend(s.latencies);
            errors += s.errors;
            if first_error.is_none() {
                first_error = s.first_error;
            }
            seconds += s.seconds;
        }
        all.sort_unstable();
        let seconds = f64::max(seconds, 1e-9);
        let ms = |us: u64| us as f64 / 1000.0;
        let mean = if all.is_empty() { 0.0 } else { all.iter().sum::<u64>() as f64 / all.len() as f64 / 1000.0 };
        Self {
            concurrency,
            requests: all.len(),
            errors,
            first_error,
            seconds,
            throughput: all.len() as f64 / seconds,
            mean_ms: mean,
            p50_ms: ms(quantile(&all, 0.50)),
            p90_ms: ms(quantile(&all, 0.90)),
            p99_ms: ms(quantile(&all, 0.99)),
            max_ms: ms(all.last().copied().unwrap_or(0)),
        }
    }
}

/// Runs `step` in a closed loop on `concurrency` threads. `setup(i)` makes thread `i`'s state
/// (its connection) before the clock starts; `step(state, n)` performs request number `n` of
/// that thread and reports failure as an error message.
pub fn run<S, Setup, Step>(concurrency: usize, window: Window, setup: Setup, step: Step) -> anyhow::Result<Sample>
where
    Setup: Fn(usize) -> anyhow::Result<S> + Sync,
    Step: Fn(&mut S, u64) -> Result<(), String> + Sync,
{
    let barrier = Arc::new(Barrier::new(concurrency + 1));
    let start_at: Arc<Mutex<Option<Instant>>> = Arc::new(Mutex::new(None));
    type Outcome = (Vec<u64>, usize, Option<String>, Instant, Instant);
    let results: Vec<anyhow::Result<Outcome>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..concurrency)
            .map(|i| {
                let barrier = barrier.clone();
                let start_at = start_at.clone();
                let (setup, step) = (&setup, &step);
                scope.spawn(move || -> anyhow::Result<Outcome> {
                    let state = setup(i);
                    // Wait for everyone even when setup failed, or the others would block forever.
                    barrier.wait();
                    let mut state = state?;
                    let start = start_at.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.unwrap_or_else(Instant::now);
                    let measure_from = start + window.warmup;
                    // A request still running when the warm-up ends is not measured, and this
                    // thread's window opens when it returns (with statements slower than the
                    // warm-up, a shared start would count their time and not their requests).
                    let mut opened = measure_from;
                    let per_thread_min = window.min_requests.div_ceil(concurrency.max(1));
                    let mut lat = Vec::with_capacity(4096);
                    let (mut errors, mut first_error) = (0usize, None);
                    // Threads start at different offsets of the request list (Q8's ids).
                    let mut n = (i as u64) * 7919;
                    loop {
                        let t0 = Instant::now();
                        let measured = lat.len() + errors;
                        // Every thread measures at least one request, however slow.
                        if (t0 >= opened + window.max && measured > 0)
                            || (t0 >= opened + window.measure && measured >= per_thread_min.max(1))
                        {
                            break;
                        }
                        let r = step(&mut state, n);
                        n += 1;
                        if t0 < measure_from {
                            opened = opened.max(Instant::now());
                            continue;
                        }
                        match r {
                            Ok(()) => lat.push(u64::try_from(t0.elapsed().as_micros()).unwrap_or(u64::MAX)),
                            Err(e) => {
                                errors += 1;
                                first_error.get_or_insert(e);
                            }
                        }
                    }
                    Ok((lat, errors, first_error, opened, Instant::now()))
                })
            })
            .collect();
        if let Ok(mut s) = start_at.lock() {
            *s = Some(Instant::now());
        }
        barrier.wait();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(anyhow::anyhow!("a load thread panicked"))))
            .collect()
    });
    let mut sample = Sample::default();
    // Closed loop: the throughput is the sum of each thread's rate over its own window; `seconds`
    // is the time that gives that rate for all the requests together.
    let mut rate = 0.0;
    let mut longest = 0.0_f64;
    for r in results {
        let (lat, e, fe, opened, end) = r?;
        let seconds = end.saturating_duration_since(opened).as_secs_f64();
        let done = lat.len() + e;
        if seconds > 0.0 {
            rate += done as f64 / seconds;
        }
        longest = longest.max(seconds);
        sample.latencies.extend(lat);
        sample.errors += e;
        if sample.first_error.is_none() {
            sample.first_error = fe;
        }
    }
    let done = sample.latencies.len() + sample.errors;
    sample.seconds = if rate > 0.0 { done as f64 / rate } else { longest };
    Ok(sample)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_use_the_nearest_rank() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(quantile(&v, 0.5), 50);
        assert_eq!(quantile(&v, 0.99), 99);
        assert_eq!(quantile(&v, 1.0), 100);
        assert_eq!(quantile(&[7], 0.99), 7);
        assert_eq!(quantile(&[], 0.5), 0);
    }

    #[test]
    fn a_run_counts_requests_and_errors() {
        let w = Window {
            warmup: Duration::from_millis(10),
            measure: Duration::from_millis(50),
            min_requests: 0,
            max: Duration::from_secs(1),
        };
        let sample = run(
            2,
            w,
            |_| Ok(()),
            |_, n| {
                std::thread::sleep(Duration::from_millis(1));
                if n % 2 == 0 { Ok(()) } else { Err("odd".into()) }
            },
        )
        .unwrap();
        let s = Stats::from_samples(2, vec![sample.clone(), sample]);
        assert!(s.requests > 0 && s.errors > 0);
        assert_eq!(s.first_error.as_deref(), Some("odd"));
    }
}
