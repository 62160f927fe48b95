//! `GET /idtrail/script?shell=bash|python&request=<list request>`: the portal's Script button. The
//! answer is a script that downloads exactly that request (same filter, selection, order) from
//! this service as a CSV export, with the token from `IDTRAIL_TOKEN`, retrying 429 and 503 after
//! `Retry-After`, and writing the file only once it is complete. The request is parsed now with
//! the list's own code, so a bad filter is a 400 here, not a failing script later.
//!
//! Nothing the caller sent is ever written into a script except inside one string literal of its
//! language, quoted for it (the URL, whose options are percent-encoded besides): a filter cannot
//! become code.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use domain::sets::SetKind;

use super::entities::{LIST_OPTIONS, check_visible, omitted, option, resolve, scoped_user};
use super::{ApiVersion, base_url, json_string};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::query::{self, encode_value};
use crate::state::AppState;

/// The languages a script is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shell {
    /// bash with curl, nothing else.
    Bash,
    /// Python 3, standard library only.
    Python,
}

impl Shell {
    fn parse(value: &str) -> Option<Self> {
        match value.to_ascii_lowercase().as_str() {
            "bash" => Some(Self::Bash),
            "python" => Some(Self::Python),
            _ => None,
        }
    }

    fn extension(self) -> &'static str {
        match self {
            Self::Bash => "sh",
            Self::Python => "py",
        }
    }
}

/// A collection request a script can reproduce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub version: ApiVersion,
    pub set: SetKind,
    /// The risky user whose history is read.
    pub parent: Option<String>,
    /// The path as the script requests it, from the version on: `/v1.0/auditLogs/signIns`.
    pub path: String,
    pub query: String,
}

fn bad_request(why: &str) -> ApiError {
    ApiError::BadRequest(format!(
        "The request parameter must be a collection this service serves, with the list's query options \
         (for example /v1.0/auditLogs/signIns?$filter=...): {why}."
    ))
}

/// An id in a path segment: what Graph's ids are made of, nothing that needs quoting.
fn plain_segment(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~@".contains(&b))
}

impl Target {
    /// Parses `/v1.0/auditLogs/signIns?...` (any case; a leading scheme and host are ignored).
    ///
    /// # Errors
    /// [`ApiError::BadRequest`] for anything but a collection path this service serves.
    pub fn parse(request: &str) -> Result<Self, ApiError> {
        let without_host = match request.split_once("://") {
            Some((_, rest)) => rest.find('/').map_or("", |i| &rest[i..]),
            None => request,
        };
        let (path, query) = without_host.split_once('?').unwrap_or((without_host, ""));
        let mut segments = path.trim_start_matches('/').trim_end_matches('/').split('/');
        let version = match segments.next().map(str::to_ascii_lowercase).as_deref() {
            Some("v1.0") => ApiVersion::V1,
            Some("beta") => ApiVersion::Beta,
            _ => return Err(bad_request("it must start with /v1.0/ or /beta/")),
        };
        let rest: Vec<&str> = segments.collect();
        for set in SetKind::ALL {
            let route = set.route();
            let pattern: Vec<&str> = route.split('/').collect();
            if pattern.len() != rest.len() {
                continue;
            }
            let mut parent = None;
            let matches = pattern.iter().zip(&rest).all(|(p, s)| {
                if *p == "{user}" {
                    parent = Some((*s).to_owned());
                    plain_segment(s)
                } else {
                    p.eq_ignore_ascii_case(s)
                }
            });
            if matches {
                let path =
                    format!("/{}/{}", version.segment(), route.replace("{user}", parent.as_deref().unwrap_or("")));
                return Ok(Self { version, set, parent, path, query: query.to_owned() });
            }
        }
        Err(bad_request("no collection has this path"))
    }
}

/// The script.
///
/// # Errors
/// 400 for a bad `shell` or `request` (including its query options), 401/403/404 as the list
/// would answer.
pub async fn script(req: HttpRequest, caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let params: Vec<(String, String)> = serde_urlencoded::from_str(req.query_string())
        .map_err(|e| ApiError::BadRequest(format!("The query string cannot be decoded: {e}.")))?;
    let mut shell = None;
    let mut request = None;
    for (key, value) in params {
        match key.as_str() {
            "shell" if shell.is_none() => {
                shell = Some(
                    Shell::parse(&value)
                        .ok_or_else(|| ApiError::BadRequest("The shell parameter must be bash or python.".into()))?,
                );
            }
            "request" if request.is_none() => request = Some(value),
            "shell" | "request" => {
                return Err(ApiError::BadRequest(format!("The parameter '{key}' is given more than once.")));
            }
            other => {
                return Err(ApiError::BadRequest(format!(
                    "Unknown parameter '{}': give shell (bash or python) and request.",
                    other.chars().take(32).collect::<String>()
                )));
            }
        }
    }
    let shell =
        shell.ok_or_else(|| ApiError::BadRequest("The shell parameter (bash or python) is required.".into()))?;
    let request = request.ok_or_else(|| ApiError::BadRequest("The request parameter is required.".into()))?;
    let target = Target::parse(&request)?;

    // The list's own parsing and checks: what the export will be asked.
    let options = query::parse(&target.query, LIST_OPTIONS, usize::MAX)?;
    if option(&options, "$skiptoken").is_some() {
        return Err(bad_request("$skiptoken names one page; the script downloads every row"));
    }
    let resolved = resolve(target.set.registry(), &options, target.version)?;
    let principal = caller.0;
    check_visible(resolved.filter.as_ref(), omitted(target.set, &principal))?;
    let store = state.store.clone();
    let enforce = state.config.auth_enforce_scopes;
    let (set, parent) = (target.set, target.parent.clone());
    crate::observe::block(move || scoped_user(&store, set, &principal, enforce, parent.as_deref()).map(drop)).await??;

    let mut parts: Vec<String> = options
        .pairs
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "$format" | "$count" | "$skiptoken"))
        .map(|(k, v)| format!("{}={}", encode_value(k), encode_value(v)))
        .collect();
    parts.push("$format=csv".into());
    let url = format!("{}{}?{}", base_url(&req, &state), target.path, parts.join("&"));
    let stem = target.set.export_name();
    let text = match shell {
        Shell::Bash => bash(&url, stem),
        Shell::Python => python(&url, stem),
    };
    let name = format!("{stem}_export.{}", shell.extension());
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
        .map_err(|e| ApiError::Internal(format!("script file name: {e}")))?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .insert_header((header::CONTENT_DISPOSITION, disposition))
        .body(text))
}

/// `s` as one bash word in single quotes (`'` written as `'\''`): nothing in it is expanded.
#[must_use]
pub fn bash_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn bash(url: &str, stem: &str) -> String {
    BASH_TEMPLATE.replace("@URL@", &bash_quote(url)).replace("@STEM@", &bash_quote(stem))
}

fn python(url: &str, stem: &str) -> String {
    // A JSON string is a valid Python string literal with the same value.
    PYTHON_TEMPLATE.replace("@URL@", &json_string(url)).replace("@STEM@", &json_string(stem))
}

const BASH_TEMPLATE: &str = r#"#!/usr/bin/env bash
# Downloads an idtrail export as CSV: exactly the request this script was made for.
# Needs bash and curl. The token comes from IDTRAIL_TOKEN (a bearer token for idtrail).
# Usage: IDTRAIL_TOKEN=... bash this-script [output.csv]
# The file appears only once the export is complete; 429 and 503 are retried after Retry-After.
set -euo pipefail
url=@URL@
stem=@STEM@
out="${1:-${stem}_$(date -u +%Y-%m-%dT%H-%MZ).csv}"
: "${IDTRAIL_TOKEN:?set IDTRAIL_TOKEN to a bearer token for idtrail}"
part="$(mktemp "${out}.part.XXXXXX")"
headers="$(mktemp)"
trap 'rm -f "$part" "$headers"' EXIT
for attempt in 1 2 3 4 5 6 7 8; do
    # The token goes to curl on its standard input, not on its command line.
    status="$(printf 'Authorization: Bearer %s\n' "$IDTRAIL_TOKEN" |
        curl --silent --show-error --globoff -H @- -H 'Accept: text/csv' -D "$headers" -o "$part" -w '%{http_code}' "$url")"
    case "$status" in
        200)
            mv "$part" "$out"
            echo "wrote $out" >&2
            exit 0
            ;;
        429 | 503)
            wait="$(tr -d '\r' <"$headers" | sed -n 's/^[Rr][Ee][Tt][Rr][Yy]-[Aa][Ff][Tt][Ee][Rr]:[[:space:]]*\([0-9][0-9]*\)$/\1/p' | tail -n 1)"
            wait="${wait:-$attempt}"
            echo "idtrail is busy ($status): retrying in ${wait}s" >&2
            sleep "$wait"
            ;;
        *)
            echo "idtrail answered $status:" >&2
            cat "$part" >&2
            echo >&2
            exit 1
            ;;
    esac
done
echo "idtrail was still busy after 8 attempts" >&2
exit 1
"#;

const PYTHON_TEMPLATE: &str = r#"#!/usr/bin/env python3
"""Downloads an idtrail export as CSV: exactly the request this script was made for.

Needs Python 3 and its standard library. The token comes from IDTRAIL_TOKEN (a bearer token for
idtrail). Usage: IDTRAIL_TOKEN=... python3 this-script [output.csv]
The file appears only once the export is complete; 429 and 503 are retried after Retry-After.
"""
import os
import shutil
import sys
import tempfile
import time
import urllib.error
import urllib.request

URL = @URL@
STEM = @STEM@
ATTEMPTS = 8


def main():
    token = os.environ.get("IDTRAIL_TOKEN")
    if not token:
        sys.exit("set IDTRAIL_TOKEN to a bearer token for idtrail")
    if len(sys.argv) > 1:
        out = sys.argv[1]
    else:
        out = STEM + "_" + time.strftime("%Y-%m-%dT%H-%MZ", time.gmtime()) + ".csv"
    request = urllib.request.Request(URL, headers={"Authorization": "Bearer " + token, "Accept": "text/csv"})
    for attempt in range(1, ATTEMPTS + 1):
        try:
            with urllib.request.urlopen(request) as response:
                fd, part = tempfile.mkstemp(prefix=os.path.basename(out) + ".part.", dir=os.path.dirname(os.path.abspath(out)))
                try:
                    with os.fdopen(fd, "wb") as f:
                        # A body cut short raises http.client.IncompleteRead: no file then.
                        shutil.copyfileobj(response, f)
                    os.replace(part, out)
                finally:
                    if os.path.exists(part):
                        os.unlink(part)
            print("wrote " + out, file=sys.stderr)
            return
        except urllib.error.HTTPError as e:
            if e.code not in (429, 503):
                sys.exit("idtrail answered %d: %s" % (e.code, e.read().decode("utf-8", "replace")))
            wait = (e.headers.get("Retry-After") or "").strip()
            wait = int(wait) if wait.isdigit() else attempt
            print("idtrail is busy (%d): retrying in %ds" % (e.code, wait), file=sys.stderr)
            time.sleep(wait)
    sys.exit("idtrail was still busy after %d attempts" % ATTEMPTS)


if __name__ == "__main__":
    main()
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_collections_this_service_serves() {
        let t = Target::parse("/v1.0/auditlogs/SIGNINS?$top=5").unwrap();
        assert_eq!((t.set, t.path.as_str(), t.query.as_str()), (SetKind::SignIns, "/v1.0/auditLogs/signIns", "$top=5"));
        let t = Target::parse("https://graph.microsoft.com/beta/identityProtection/riskyUsers/abc-1/history").unwrap();
        assert_eq!((t.set, t.parent.as_deref()), (SetKind::RiskyUserHistory, Some("abc-1")));
        assert_eq!(t.path, "/beta/identityProtection/riskyUsers/abc-1/history");
        for bad in [
            "/v2/auditLogs/signIns",
            "/v1.0/auditLogs/signIns/abc",
            "/v1.0/identityProtection/riskyUsers/a'b/history",
            "",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bash_words_expand_nothing() {
        assert_eq!(bash_quote("a'b$(id)`x`"), r"'a'\''b$(id)`x`'");
    }
}
