//! Data: the demo generator (the `demo` crate), bent to the split of rows between tenants,
//! cut into NDJSON batches per tenant.
//!
//! The generator gives each tenant a fixed share (60/28/12). The bench wants other counts (one
//! tenant holding 80 %), so it runs the generator twice with different seeds: pass B keeps every
//! tenant (it sizes the two small ones), pass A keeps only the large tenant and makes up the rest
//! of its rows. Documents are exactly the generator's, time-ordered within each pass, over the
//! same 30 days.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use demo::{DemoConfig, SignIns, TENANTS};

/// Rows wanted per tenant, in the order of [`TENANTS`].
pub type Counts = [u64; 3];

/// A batch ready to post: one tenant's NDJSON lines.
#[derive(Debug)]
pub struct Batch {
    pub tenant: usize,
    pub rows: usize,
    pub body: Vec<u8>,
}

/// A batch kept on disk for a timed phase.
#[derive(Debug, Clone)]
pub struct BatchFile {
    pub tenant: usize,
    pub rows: usize,
    pub path: PathBuf,
}

/// One run of the generator, filtered to some tenants, batched per tenant.
pub struct Pass {
    iter: SignIns,
    keep: [bool; 3],
    batch: usize,
    pending: [Vec<u8>; 3],
    pending_rows: [usize; 3],
    /// Rows handed out so far.
    pub produced: u64,
    /// Rows this pass will hand out in all.
    pub total: u64,
    /// Of which, per tenant.
    pub per_tenant: Counts,
}

impl std::fmt::Debug for Pass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pass").field("produced", &self.produced).field("total", &self.total).finish()
    }
}

fn share_count(total: u64, upto: usize) -> u64 {
    let sum: u64 = TENANTS.iter().map(|t| u64::from(t.share)).sum();
    let acc: u64 = TENANTS.iter().take(upto).map(|t| u64::from(t.share)).sum();
    u64::try_from(u128::from(total) * u128::from(acc) / u128::from(sum.max(1))).unwrap_or(u64::MAX)
}

/// How many rows the generator gives tenant `i` out of `total`.
fn generated_for(total: u64, i: usize) -> u64 {
    share_count(total, i + 1) - share_count(total, i)
}

/// The smallest generator total that gives tenant `i` at least `want` rows.
fn total_for(want: u64, tenants: &[usize]) -> u64 {
    if want == 0 {
        return 0;
    }
    let sum: u64 = TENANTS.iter().map(|t| u64::from(t.share)).sum();
    let part: u64 = tenants.iter().map(|&i| u64::from(TENANTS[i].share)).sum();
    let mut t = want * sum / part.max(1);
    while tenants.iter().map(|&i| generated_for(t, i)).sum::<u64>() < want {
        t += 1;
    }
    t
}

impl Pass {
    fn new(total: u64, seed: u64, end: DateTime<Utc>, days: u32, keep: [bool; 3], batch: usize) -> Self {
        let cfg = DemoConfig { sign_ins: usize::try_from(total).unwrap_or(usize::MAX), days, seed, end };
        let per_tenant: Counts = std::array::from_fn(|i| if keep[i] { generated_for(total, i) } else { 0 });
        Self {
            iter: demo::sign_ins(&cfg),
            keep,
            batch,
            pending: Default::default(),
            pending_rows: [0; 3],
            produced: 0,
            total: per_tenant.iter().sum(),
            per_tenant,
        }
    }

    /// The next full batch, or (once `limit` rows were handed out or the generator is done) the
    /// next partial one; `None` when nothing is left below `limit`.
    pub fn next_batch(&mut self, limit: u64) -> Option<Batch> {
        while self.produced < limit {
            let Some(s) = self.iter.next() else { break };
            let Some(t) = TENANTS.iter().position(|t| t.id == s.tenant_id) else { continue };
            if !self.keep[t] {
                continue;
            }
            // Writing a `Value` into a Vec cannot fail.
            let _ = serde_json::to_writer(&mut self.pending[t], &serde_json::Value::Object(s.document));
            self.pending[t].push(b'\n');
            self.pending_rows[t] += 1;
            self.produced += 1;
            if self.pending_rows[t] >= self.batch {
                return Some(self.take(t));
            }
        }
        let t = (0..3).find(|&t| self.pending_rows[t] > 0)?;
        Some(self.take(t))
    }

    fn take(&mut self, t: usize) -> Batch {
        let rows = std::mem::take(&mut self.pending_rows[t]);
        let body = std::mem::replace(&mut self.pending[t], Vec::with_capacity(self.batch * 3000));
        Batch { tenant: t, rows, body }
    }
}

/// The passes that give `counts`: B (seed 2) keeps every tenant and sizes the small ones; A
/// (seed 1) keeps only tenant 0 and tops it up.
pub fn passes(counts: Counts, end: DateTime<Utc>, days: u32, batch: usize) -> Vec<Pass> {
    let small = counts[1] + counts[2];
    let total_b = total_for(small, &[1, 2]);
    let from_b = generated_for(total_b, 0);
    let rest = counts[0].saturating_sub(from_b);
    let total_a = total_for(rest, &[0]);
    let mut v = vec![Pass::new(total_b, 2, end, days, [true, true, true], batch)];
    if total_a > 0 {
        v.push(Pass::new(total_a, 1, end, days, [true, false, false], batch));
    }
    v
}

/// Rows per tenant the passes will give (close to what was asked; exact for the large tenant).
pub fn planned(passes: &[Pass]) -> Counts {
    std::array::from_fn(|i| passes.iter().map(|p| p.per_tenant[i]).sum())
}

/// Writes the first `rows` rows of `pass` to files in `dir`, named `{prefix}-{n}.ndjson`.
pub fn write_files(pass: &mut Pass, rows: u64, dir: &Path, prefix: &str) -> anyhow::Result<Vec<BatchFile>> {
    let limit = pass.produced + rows;
    let mut files = Vec::new();
    while let Some(b) = pass.next_batch(limit) {
        let path = dir.join(format!("{prefix}-{:05}-t{}.ndjson", files.len(), b.tenant));
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path)?);
        f.write_all(&b.body)?;
        f.flush()?;
        files.push(BatchFile { tenant: b.tenant, rows: b.rows, path });
    }
    Ok(files)
}

/// Average bytes of a generated document (from a sample), for the disk check.
pub fn average_document_bytes(end: DateTime<Utc>) -> usize {
    let cfg = DemoConfig { sign_ins: 2_000, days: 30, seed: 9, end };
    let (mut n, mut bytes) = (0usize, 0usize);
    for s in demo::sign_ins(&cfg) {
        bytes += serde_json::Value::Object(s.document).to_string().len() + 1;
        n += 1;
    }
    bytes / n.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_passes_give_the_asked_split() {
        let end = chrono::Utc::now();
        let ps = passes([4_000_000, 700_000, 300_000], end, 30, 5000);
        let c = planned(&ps);
        assert_eq!(c[0], 4_000_000);
        assert_eq!(c[1] + c[2], 1_000_000);
        let ps = passes([800, 140, 60], end, 30, 100);
        let mut got = [0u64; 3];
        for mut p in ps {
            while let Some(b) = p.next_batch(u64::MAX) {
                assert!(b.rows <= 100);
                got[b.tenant] += b.rows as u64;
            }
        }
        assert_eq!(got[0], 800);
        assert_eq!(got[1] + got[2], 200);
    }
}
