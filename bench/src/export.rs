//! E1: exports. The large tenant's newest sign-ins downloaded whole as CSV and as NDJSON
//! (`$format=...&$top=N`, at 10 k rows and at 1 M or as many as the tenant has), read as a client
//! reads a stream (chunked, as it arrives), next to the database writing the same rows as CSV to a
//! pipe on its own (`psql \copy (SELECT ...) TO STDOUT CSV`; on SQLite, `sqlite3 -csv`). The
//! service's resident memory is sampled while it streams and compared with its idle size just
//! before.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::db::Db;
use crate::report::ExportResult;
use crate::service;
use anyhow::{Context, bail};

/// What one streamed download gave.
struct Download {
    rows: u64,
    bytes: u64,
    seconds: f64,
    complete: bool,
}

/// Reads a chunked response to the end, counting body bytes and lines, holding one chunk at a time.
fn download(addr: SocketAddr, target: &str, token: &str) -> anyhow::Result<Download> {
    let started = Instant::now();
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(600)))?;
    write!(
        stream,
        "GET {target} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    )?;
    let mut reader = BufReader::with_capacity(1 << 16, stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    if !line.starts_with("HTTP/1.1 200") {
        let mut rest = String::new();
        let _ = reader.take(2000).read_to_string(&mut rest);
        bail!("export refused: {} {rest}", line.trim());
    }
    let mut chunked = false;
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        if line.trim().is_empty() {
            break;
        }
        chunked |= line.to_ascii_lowercase().starts_with("transfer-encoding: chunked");
    }
    if !chunked {
        bail!("the export was not streamed (no chunked encoding)");
    }
    let (mut bytes, mut rows, mut complete) = (0u64, 0u64, false);
    let mut chunk = Vec::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            break;
        }
        let size = usize::from_str_radix(line.trim(), 16).context("chunk size")?;
        if size == 0 {
            complete = true;
            break;
        }
        chunk.resize(size, 0);
        reader.read_exact(&mut chunk)?;
        bytes += size as u64;
        rows += chunk.iter().filter(|b| **b == b'\n').count() as u64;
        reader.read_line(&mut line)?;
    }
    Ok(Download { rows, bytes, seconds: started.elapsed().as_secs_f64(), complete })
}

/// The database writing the same rows (the tenant's newest `n`, in the export's order) as CSV to
/// a pipe; returns (rows, seconds).
fn baseline(db: &Db, tenant: &str, n: u64) -> anyhow::Result<(u64, f64, String)> {
    // The tenant is a demo constant (a GUID) and `n` a number: nothing here needs binding.
    let select = format!(
        "SELECT s.created_ticks, s.id, s.doc, s.doc_extra FROM sign_ins s WHERE s.tenant_id = '{tenant}' \
         ORDER BY s.created_ticks DESC, s.id DESC LIMIT {n}"
    );
    let (mut command, what) = match db {
        Db::Postgres { .. } => {
            let mut c = Command::new("psql");
            c.arg(db.url())
                .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-c"])
                .arg(format!("\\copy ({select}) TO STDOUT CSV"));
            (c, "psql \\copy (SELECT ...) TO STDOUT CSV")
        }
        Db::Sqlite { path } => {
            let mut c = Command::new("sqlite3");
            c.arg("-csv").arg(path).arg(&select);
            (c, "sqlite3 -csv (SELECT ...)")
        }
    };
    let started = Instant::now();
    let mut child = command.stdout(Stdio::piped()).spawn().with_context(|| format!("running {what}"))?;
    let mut out = child.stdout.take().context("no stdout")?;
    let mut buf = vec![0u8; 1 << 16];
    let mut rows = 0u64;
    loop {
        let n = out.read(&mut buf)?;
        if n == 0 {
            break;
        }
        rows += buf.iter().take(n).filter(|b| **b == b'\n').count() as u64;
    }
    if !child.wait()?.success() {
        bail!("{what} failed");
    }
    Ok((rows, started.elapsed().as_secs_f64(), what.to_owned()))
}

/// Runs E1 against the running service.
pub fn run(
    addr: SocketAddr,
    pid: u32,
    sampler: &service::Sampler,
    token: &str,
    db: &Db,
    tenant: &str,
    tenant_rows: u64,
) -> anyhow::Result<Vec<ExportResult>> {
    let mut out = Vec::new();
    let mut sizes = vec![10_000u64.min(tenant_rows)];
    if tenant_rows > 10_000 {
        sizes.push(1_000_000u64.min(tenant_rows));
    }
    for n in sizes {
        let (base_rows, base_seconds, baseline_source) = baseline(db, tenant, n)?;
        for format in ["csv", "ndjson"] {
            std::thread::sleep(Duration::from_secs(1));
            let idle = service::memory(pid).map_or(0, |m| m.0);
            sampler.take_peak();
            let d = download(addr, &format!("/v1.0/auditLogs/signIns?$format={format}&$top={n}"), token)?;
            std::thread::sleep(Duration::from_millis(150));
            let peak = sampler.take_peak().max(idle);
            // CSV: a header line; NDJSON: a trailer line.
            let rows = d.rows.saturating_sub(1);
            let rate = rows as f64 / d.seconds;
            let base_rate = base_rows as f64 / base_seconds;
            crate::say(&format!(
                "E1 {} {format} {rows} rows: {:.0} rows/s ({:.1} MB/s), baseline {:.0} rows/s; memory {:.0} MB idle, \
                 {:.0} MB peak{}",
                match db {
                    Db::Postgres { .. } => "postgres",
                    Db::Sqlite { .. } => "sqlite",
                },
                rate,
                d.bytes as f64 / 1_048_576.0 / d.seconds,
                base_rate,
                idle as f64 / 1_048_576.0,
                peak as f64 / 1_048_576.0,
                if d.complete { "" } else { " (INCOMPLETE)" }
            ));
            out.push(ExportResult {
                format: format.into(),
                rows,
                bytes: d.bytes,
                seconds: d.seconds,
                rows_per_second: rate,
                baseline_rows_per_second: base_rate,
                baseline_source: baseline_source.clone(),
                ratio: rate / base_rate,
                idle_mb: idle as f64 / 1_048_576.0,
                peak_mb: peak as f64 / 1_048_576.0,
                complete: d.complete && rows == n,
            });
        }
    }
    Ok(out)
}
