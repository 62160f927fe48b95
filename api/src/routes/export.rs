//! Exports: any collection as CSV, NDJSON or one JSON array (`$format=csv|ndjson|json`, or
//! `Accept: text/csv | application/x-ndjson`), every row the list would page through, under the
//! same access, own-only scope, license masks, retention and Conditional Access omission.
//!
//! Streamed with constant memory: a blocking thread pages through the keyset
//! (`export_page_rows` per statement, each on a pooled connection released between statements)
//! and feeds a bounded channel, so a slow client slows the reads and a client that goes away
//! stops them (the next send fails). Errors found before the first rows (options, 401/403, the
//! first statement) are ordinary Graph error responses; a failure after that ends the stream with
//! an error, which cuts the chunked body: a truncated export never ends the way a complete one
//! does (no closing `]`, no NDJSON trailer, no last chunk). It never loads the whole result.

use actix_web::http::header::{self, HeaderValue};
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use domain::export::Column;
use domain::principal::Principal;
use domain::query::Scalar;
use domain::sets::SetKind;
use futures_util::StreamExt;
use serde_json::Value;
use storage::{Query, StoredDocument};
use tokio::sync::mpsc;

use super::entities::{Resolved, check_visible, cursor_of, omitted, option, resolve, scoped_user};
use super::{ApiVersion, Presentation, document_text, present, present_map};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::query::QueryOptions;
use crate::state::AppState;

/// Chunks (pages) the reading thread may run ahead of the client.
const CHANNEL_CHUNKS: usize = 2;

/// What an export is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Ndjson,
    Json,
}

impl Format {
    #[must_use]
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Csv => "text/csv; charset=utf-8",
            Self::Ndjson => "application/x-ndjson",
            Self::Json => "application/json",
        }
    }

    #[must_use]
    pub fn extension(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Ndjson => "ndjson",
            Self::Json => "json",
        }
    }

    /// `$format`'s value, by name or media type (any case).
    fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "csv" | "text/csv" => Some(Self::Csv),
            "ndjson" | "application/x-ndjson" => Some(Self::Ndjson),
            "json" | "application/json" => Some(Self::Json),
            _ => None,
        }
    }
}

/// The export a request asks for, if any: `$format` first, else the first media type of
/// `Accept` that is an export's (`application/json` or `*/*` before it means the list).
///
/// # Errors
/// [`ApiError::BadRequest`] for a `$format` that is none of them.
pub fn requested(options: &QueryOptions, req: &HttpRequest) -> Result<Option<Format>, ApiError> {
    if let Some(value) = option(options, "$format") {
        return Format::parse(value).map(Some).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "The value of $format must be csv, ndjson or json; got '{}'.",
                value.chars().take(32).collect::<String>()
            ))
        });
    }
    let accept = req.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
    for media in accept.split(',').map(|m| m.split(';').next().unwrap_or("").trim().to_ascii_lowercase()) {
        match media.as_str() {
            "text/csv" => return Ok(Some(Format::Csv)),
            "application/x-ndjson" => return Ok(Some(Format::Ndjson)),
            "application/json" | "*/*" => return Ok(None),
            _ => {}
        }
    }
    Ok(None)
}

/// The file name of an export of `set` started at `now`: `SignIns_2026-12-05T10-00Z.csv`.
#[must_use]
pub fn file_name(set: SetKind, now: chrono::DateTime<chrono::Utc>, extension: &str) -> String {
    format!("{}_{}.{extension}", set.export_name(), now.format("%Y-%m-%dT%H-%MZ"))
}

/// Everything the reading thread needs.
struct Job {
    state: web::Data<AppState>,
    res: SetKind,
    parent: Option<String>,
    principal: Principal,
    resolved: Resolved,
    version: ApiVersion,
    /// Graph's shaping of the documents for this request (version, `Prefer`).
    shape: domain::shape::Shape,
    format: Format,
    /// Only for CSV: the columns, in order.
    columns: Vec<Column>,
    cap: Option<usize>,
}

/// Streams the export of `res` (the collection, or a risky user's history when `parent` is set).
///
/// # Errors
/// Graph errors for bad options, access, or a first statement that fails.
pub async fn run(
    res: SetKind,
    parent: Option<String>,
    format: Format,
    options: &QueryOptions,
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    for (name, why) in [("$skiptoken", "it returns every row"), ("$count", "count with /$count")] {
        if option(options, name).is_some() {
            return Err(ApiError::BadRequest(format!("The query option '{name}' does not apply to an export: {why}.")));
        }
    }
    let version = ApiVersion::of(&req);
    let resolved = resolve(res.registry(), options, version)?;
    let principal = caller.0;
    let omit = omitted(res, &principal);
    check_visible(resolved.filter.as_ref(), omit)?;
    let columns = match format {
        Format::Csv => domain::export::columns(res, resolved.select.as_deref())
            .into_iter()
            .filter(|c| !omit.contains(&c.cell.property()))
            .collect(),
        Format::Ndjson | Format::Json => Vec::new(),
    };
    let name = file_name(res, state.store.clock().now(), format.extension());
    let shape = super::shape_of(&req, res);
    let job = Job { state, res, parent, principal, resolved, version, shape, format, columns, cap: options.top };

    let (tx, mut rx) = mpsc::channel::<Result<Bytes, ApiError>>(CHANNEL_CHUNKS);
    // The tenant's query slot stays taken until the last page is read (`fairness`).
    let slot = crate::fairness::QuerySlot::take(&req);
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || {
        let _in_request = span.enter();
        let _slot = slot;
        if let Err(e) = job.produce(&tx) {
            // After the first chunk this cuts the response; before it, it is the response.
            let _ = tx.blocking_send(Err(e));
        }
    });
    let first = rx.recv().await.ok_or_else(|| ApiError::Internal("the export stopped before it began".into()))??;
    let rest = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
    let body = futures_util::stream::once(async move { Ok::<_, ApiError>(first) }).chain(rest);
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
        .map_err(|e| ApiError::Internal(format!("export file name: {e}")))?;
    Ok(HttpResponse::Ok()
        .content_type(format.content_type())
        .insert_header((header::CONTENT_DISPOSITION, disposition))
        .streaming(body))
}

impl Job {
    /// Reads page after page and sends each as one chunk; returns when done or when the client is
    /// gone (a send fails).
    fn produce(&self, tx: &mpsc::Sender<Result<Bytes, ApiError>>) -> Result<(), ApiError> {
        let store = &self.state.store;
        let set = self.res.registry();
        let enforce = self.state.config.auth_enforce_scopes;
        let (user, view) = scoped_user(store, self.res, &self.principal, enforce, self.parent.as_deref())?;
        let masks = view.masks(set);
        // The next page is read while this one is written: the database and the formatting
        // overlap, one page apart (one more page in memory).
        let (pages_tx, pages) = std::sync::mpsc::sync_channel::<Result<Vec<StoredDocument>, ApiError>>(1);
        std::thread::scope(|scope| {
            // Owned here, so that leaving early drops it before the scope waits for the reader:
            // the reader's next send then fails and it stops.
            let pages = pages;
            scope.spawn(|| self.read_pages(user.as_deref(), &view, &pages_tx));
            let mut rows = 0usize;
            let mut first = true;
            for page in &pages {
                let docs = page?;
                let done = docs.len() < self.page_limit(rows) || rows + docs.len() >= self.cap.unwrap_or(usize::MAX);
                let mut chunk = self.write_page(&docs, first, masks)?;
                first = false;
                rows += docs.len();
                if done {
                    self.write_end(&mut chunk, rows);
                }
                if tx.blocking_send(Ok(Bytes::from(chunk))).is_err() {
                    tracing::info!(set = set.name, rows, "export stopped: the client went away");
                    return Ok(());
                }
                if done {
                    return Ok(());
                }
            }
            Err(ApiError::Internal("the export's reader stopped early".into()))
        })
    }

    /// The rows the page after `rows` rows asks for: a page, or what the cap leaves.
    fn page_limit(&self, rows: usize) -> usize {
        self.state.config.export_page_rows.max(1).min(self.cap.unwrap_or(usize::MAX) - rows)
    }

    /// Reads page after page through the keyset (each statement on a pooled connection, released
    /// between them) into `pages`, until a short page or the cap; stops when nobody receives.
    fn read_pages(
        &self,
        user: Option<&str>,
        view: &storage::TenantView,
        pages: &std::sync::mpsc::SyncSender<Result<Vec<StoredDocument>, ApiError>>,
    ) {
        let set = self.res.registry();
        let masks = view.masks(set);
        let order = if self.resolved.order.is_empty() {
            storage::entities::default_order(set)
        } else {
            self.resolved.order.clone()
        };
        let mut after: Option<Vec<Scalar>> = None;
        let mut rows = 0usize;
        loop {
            let limit = self.page_limit(rows);
            let q = Query {
                set,
                tenant: &self.principal.tenant,
                user,
                filter: self.resolved.filter.as_ref(),
                order: &order,
                after: after.as_deref(),
                limit,
            };
            let page = self.state.store.page_in(&q, view, false).map(|(docs, _)| docs).map_err(ApiError::from);
            let next = match &page {
                Ok(docs) if docs.len() == limit && rows + limit < self.cap.unwrap_or(usize::MAX) => {
                    docs.last().map(|last| cursor_of(set, last, &order, &masks))
                }
                Ok(_) | Err(_) => None,
            };
            rows += page.as_ref().map_or(0, Vec::len);
            let (next, failed) = match next {
                Some(Ok(cursor)) => (Some(cursor), None),
                Some(Err(e)) => (None, Some(e)),
                None => (None, None),
            };
            if pages.send(page).is_err() {
                return;
            }
            if let Some(e) = failed {
                let _ = pages.send(Err(e));
                return;
            }
            match next {
                Some(cursor) => after = Some(cursor),
                None => return,
            }
        }
    }

    fn presentation(&self, masks: domain::policy::Masks) -> Presentation<'_> {
        let select = match self.format {
            Format::Csv => None,
            Format::Ndjson | Format::Json => self.resolved.select.as_deref(),
        };
        Presentation { select, masks, omit: omitted(self.res, &self.principal), shape: self.shape }
    }

    /// One page's rows, after the header (CSV) or the opening bracket (JSON) when `first`.
    fn write_page(
        &self,
        docs: &[StoredDocument],
        first: bool,
        masks: domain::policy::Masks,
    ) -> Result<Vec<u8>, ApiError> {
        let how = self.presentation(masks);
        let mut out = Vec::with_capacity(docs.iter().map(|d| d.doc.len() + 2).sum::<usize>() + 2);
        match self.format {
            Format::Csv => {
                let mut csv = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(out);
                if first {
                    csv.write_record(self.columns.iter().map(|c| c.header.as_ref())).map_err(csv_error)?;
                }
                for d in docs {
                    let text = document_text(d, self.version);
                    let doc = match serde_json::from_str::<Value>(&text) {
                        Ok(Value::Object(map)) => Value::Object(present_map(map, how)),
                        Ok(_) | Err(_) => {
                            return Err(ApiError::Internal(format!("stored document {} is not an object", d.id)));
                        }
                    };
                    csv.write_record(self.columns.iter().map(|c| c.cell.text(&doc))).map_err(csv_error)?;
                }
                out = csv.into_inner().map_err(|e| ApiError::Internal(format!("CSV: {e}")))?;
            }
            Format::Ndjson => {
                for d in docs {
                    out.extend_from_slice(present(document_text(d, self.version), how).as_bytes());
                    out.push(b'\n');
                }
            }
            Format::Json => {
                for (i, d) in docs.iter().enumerate() {
                    out.push(if first && i == 0 { b'[' } else { b',' });
                    out.extend_from_slice(present(document_text(d, self.version), how).as_bytes());
                }
                if first && docs.is_empty() {
                    out.push(b'[');
                }
            }
        }
        Ok(out)
    }

    /// What only a complete export ends with: JSON's closing bracket, NDJSON's trailer line.
    fn write_end(&self, out: &mut Vec<u8>, rows: usize) {
        match self.format {
            Format::Csv => {}
            Format::Ndjson => {
                out.extend_from_slice(format!("{{\"@idtrail.complete\":true,\"rows\":{rows}}}\n").as_bytes())
            }
            Format::Json => out.push(b']'),
        }
    }
}

fn csv_error(e: csv::Error) -> ApiError {
    ApiError::Internal(format!("CSV: {e}"))
}
