//! The web console: `GET /` (the page) and `GET /console/{file}` (its scripts, styles and the
//! vendored libraries), embedded in the binary at build time from the repository's `console/`
//! folder, so serving it needs no files beside the binary, no npm and no network. Every answer
//! carries a strict `Content-Security-Policy` (scripts and styles from this origin only, no inline
//! code, `connect-src 'self'`): the page talks only to this idtrail's public API, with the bearer
//! token the user gives it.
//!
//! In development mode (the generated secret and demo data of `idtrail serve`) `GET
//! /idtrail/dev/tokens` lists the demo tenants' tokens for the console's sign-in picker. It exists
//! only then: without development tokens it is the ordinary 404 of an unknown path.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder, web};

use crate::error::ApiError;
use crate::state::AppState;

/// The console's policy: nothing by default; scripts, styles, images and fonts from this origin;
/// requests to this origin only; no framing, no `<base>`, no form posts elsewhere.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; font-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

/// Where the development tokens are listed (development mode only).
pub const DEV_TOKENS: &str = "/idtrail/dev/tokens";

/// One embedded file: its path below `console/`, content type and bytes.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

macro_rules! assets {
    ($($path:literal => $ty:literal),* $(,)?) => {
        &[$(Asset {
            path: $path,
            content_type: $ty,
            bytes: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../console/", $path)),
        }),*]
    };
}

/// Every file the console serves (a test checks that every file of `console/src` and
/// `console/vendor` is here).
static ASSETS: &[Asset] = assets![
    "index.html" => "text/html; charset=utf-8",
    "favicon.svg" => "image/svg+xml",
    "src/style.css" => "text/css; charset=utf-8",
    "src/main.js" => "text/javascript; charset=utf-8",
    "src/api.js" => "text/javascript; charset=utf-8",
    "src/format.js" => "text/javascript; charset=utf-8",
    "src/html.js" => "text/javascript; charset=utf-8",
    "src/ui.js" => "text/javascript; charset=utf-8",
    "src/signin.js" => "text/javascript; charset=utf-8",
    "src/sets.js" => "text/javascript; charset=utf-8",
    "src/list.js" => "text/javascript; charset=utf-8",
    "src/detail.js" => "text/javascript; charset=utf-8",
    "src/overview.js" => "text/javascript; charset=utf-8",
    "vendor/preact/preact.module.js" => "text/javascript; charset=utf-8",
    "vendor/preact/hooks.module.js" => "text/javascript; charset=utf-8",
    "vendor/htm/htm.module.js" => "text/javascript; charset=utf-8",
    "vendor/uplot/uPlot.esm.js" => "text/javascript; charset=utf-8",
    "vendor/uplot/uPlot.min.css" => "text/css; charset=utf-8",
];

/// The paths below `console/` that the binary serves (for the test that nothing is left out).
#[must_use]
pub fn asset_paths() -> Vec<&'static str> {
    ASSETS.iter().map(|a| a.path).collect()
}

/// The headers of every console answer: the policy, and no sniffing, framing or referrers.
fn secured(mut res: HttpResponseBuilder) -> HttpResponseBuilder {
    res.insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::HeaderName::from_static("cross-origin-opener-policy"), "same-origin"))
        .insert_header((header::CACHE_CONTROL, "no-cache"));
    res
}

fn serve(path: &str) -> Result<HttpResponse, ApiError> {
    let asset = ASSETS
        .iter()
        .find(|a| a.path == path)
        .ok_or_else(|| ApiError::NotFound(format!("The console has no file '{path}'.")))?;
    Ok(secured(HttpResponse::Ok()).content_type(asset.content_type).body(asset.bytes))
}

/// `GET /`
pub async fn index() -> Result<HttpResponse, ApiError> {
    serve("index.html")
}

/// `GET /console/{file}`
pub async fn file(file: web::Path<String>) -> Result<HttpResponse, ApiError> {
    serve(&file)
}

/// `GET /idtrail/dev/tokens`: the demo tokens, routed in development mode only (see
/// [`crate::app`]), and only to a request addressed to a loopback name (development mode binds to
/// loopback; the `Host` check keeps a page on another site from reading them through a DNS name
/// rebound to 127.0.0.1). Anything else gets the 404 of an unknown path.
pub async fn dev_tokens(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let host = req.headers().get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
    let Some(tokens) = state.dev_tokens.as_ref().filter(|_| is_loopback_host(host)) else {
        return Err(crate::unknown_path(&req));
    };
    let (tokens, config) = (tokens.clone(), state.config.clone());
    let body =
        crate::observe::block(move || tokens.json(&config)).await?.map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .content_type("application/json")
        .body(body))
}

/// Whether `host` (a `Host` header: name or address, optional port) names this machine's loopback.
fn is_loopback_host(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map_or(host, |(name, _)| name)
    };
    name.eq_ignore_ascii_case("localhost") || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Registers the console's routes (the development tokens' route is added by [`crate::app`] in
/// development mode only).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/").route(web::get().to(index)).route(web::head().to(index)))
        .service(web::resource("/console/{file:.*}").route(web::get().to(file)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for h in ["127.0.0.1:8080", "localhost", "LOCALHOST:1", "[::1]:8080", "127.0.0.2"] {
            assert!(is_loopback_host(h), "{h}");
        }
        for h in ["evil.example", "evil.example:8080", "10.0.0.1", "[2001:db8::1]:80", ""] {
            assert!(!is_loopback_host(h), "{h}");
        }
    }
}
