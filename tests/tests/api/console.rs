//! The web console as the binary serves it: the page at `/` and every embedded file under
//! `/console/` with the strict Content-Security-Policy, nothing under `console/src` or
//! `console/vendor` left out of the binary, and the development tokens' list routed in development
//! mode only (and only for a loopback `Host`). The browser tests (`console/tests/run`) cover what
//! the page does. The page and its files do not touch the database (SQLite is enough); the
//! development tokens are read back through the API on both backends.

use std::path::{Path, PathBuf};

use actix_web::http::StatusCode;
use actix_web::http::header::HeaderMap;
use actix_web::test;
use api::demo::DevTokens;
use api::routes::console::{CONTENT_SECURITY_POLICY, DEV_TOKENS, asset_paths};
use api::state::AppState;
use domain::ids::TenantId;
use serde_json::Value;

use crate::support::*;

/// The demo tenant with a P2 license (Contoso).
const DEMO_P2_TENANT: &str = "b4c9f32e-2a6d-4c8e-9f1a-7d3e5c2b8a61";

async fn get(state: &AppState, path: &str, host: Option<&str>) -> (StatusCode, HeaderMap, Vec<u8>) {
    let service = test::init_service(api::app(state.clone())).await;
    let mut req = test::TestRequest::get().uri(path);
    if let Some(h) = host {
        req = req.insert_header(("Host", h));
    }
    let res = test::call_service(&service, req.to_request()).await;
    let (status, headers) = (res.status(), res.headers().clone());
    (status, headers, test::read_body(res).await.to_vec())
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

fn console_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../console")
}

/// Every file below `dir`, as paths relative to `console/`.
fn files_under(dir: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path.strip_prefix(console_dir()).unwrap().to_string_lossy().replace('\\', "/"));
        }
    }
}

#[actix_web::test]
async fn the_console_is_served_with_a_strict_content_security_policy() {
    let app = TestApp::new(sqlite_db()).await;
    let (status, headers, body) = get(&app.state, "/", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(header(&headers, "content-type").starts_with("text/html"), "{headers:?}");
    let csp = header(&headers, "content-security-policy");
    assert_eq!(csp, CONTENT_SECURITY_POLICY);
    for directive in ["default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'"] {
        assert!(csp.split(';').any(|d| d.trim() == directive), "{directive} in {csp}");
    }
    assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{csp}");
    assert_eq!(header(&headers, "x-content-type-options"), "nosniff");
    assert_eq!(header(&headers, "x-frame-options"), "DENY");
    assert_eq!(header(&headers, "referrer-policy"), "no-referrer");

    // The page has no inline script or style, and every file it names is served, with the policy.
    let page = String::from_utf8(body).unwrap();
    assert!(!page.contains("<style") && !page.contains(" style="), "{page}");
    assert!(page.contains("<script type=\"module\" src=\"/console/src/main.js\"></script>"), "{page}");
    let named: Vec<&str> = page.split("\"/console/").skip(1).filter_map(|s| s.split('"').next()).collect();
    assert!(named.len() >= 4, "{named:?}");
    for file in named {
        let (status, headers, _) = get(&app.state, &format!("/console/{file}"), None).await;
        assert_eq!(status, StatusCode::OK, "{file}");
        assert_eq!(header(&headers, "content-security-policy"), CONTENT_SECURITY_POLICY, "{file}");
        assert_eq!(header(&headers, "x-content-type-options"), "nosniff", "{file}");
    }
    let (_, headers, _) = get(&app.state, "/console/src/main.js", None).await;
    assert!(header(&headers, "content-type").starts_with("text/javascript"), "{headers:?}");

    // An unknown file is Graph's 404, like any unknown path; the API's own pages keep their routes.
    let (status, _, body) = get(&app.state, "/console/src/nope.js", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["error"]["code"], "Request_ResourceNotFound", "{body}");
    for path in ["/docs", "/openapi.json", "/v1.0/$metadata", "/healthz"] {
        let (status, headers, _) = get(&app.state, path, None).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(headers.get("content-security-policy").is_none(), "{path} is not the console's");
    }
}

#[actix_web::test]
async fn every_console_file_is_embedded_as_it_is_on_disk() {
    let app = TestApp::new(sqlite_db()).await;
    let mut on_disk = vec!["index.html".to_owned(), "favicon.svg".to_owned()];
    for dir in ["src", "vendor"] {
        files_under(&console_dir().join(dir), &mut on_disk);
    }
    // Licences and notes stay in the repository; code and styles are served.
    on_disk.retain(|p| !p.ends_with("LICENSE") && !p.ends_with(".md"));
    on_disk.sort();
    let mut served: Vec<String> = asset_paths().into_iter().map(str::to_owned).collect();
    served.sort();
    assert_eq!(served, on_disk, "console/ and the embedded list (api/src/routes/console.rs) differ");
    for path in served {
        let (status, _, body) = get(&app.state, &format!("/console/{path}"), None).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(body, std::fs::read(console_dir().join(&path)).unwrap(), "{path}: rebuild to embed the change");
    }
}

#[actix_web::test]
async fn the_development_tokens_are_listed_in_development_mode_only() {
    each_backend(|app| async move { development_tokens(app).await }).await;
}

async fn development_tokens(app: TestApp) {
    // Not development mode: no such route, for any method and any host.
    for host in [Some("127.0.0.1:8080"), None] {
        let (status, _, body) = get(&app.state, DEV_TOKENS, host).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{host:?}");
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["error"]["code"], "Request_ResourceNotFound", "{body}");
    }
    let (status, _, _) = app.send(test::TestRequest::post().uri(DEV_TOKENS)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Development mode: the demo tenants' administrator and user tokens, which the service accepts.
    let mut dev = app.state.clone();
    let contoso = TenantId::parse(DEMO_P2_TENANT).unwrap();
    dev.dev_tokens = Some(std::sync::Arc::new(DevTokens::new(SECRET, &[contoso])));
    let (status, headers, body) = get(&dev, DEV_TOKENS, Some("127.0.0.1:8080")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header(&headers, "cache-control"), "no-store");
    let body: Value = serde_json::from_slice(&body).unwrap();
    let tenants = body["tenants"].as_array().unwrap();
    assert_eq!(tenants.len(), 1, "{body}");
    assert_eq!((tenants[0]["id"].as_str(), tenants[0]["license"].as_str()), (Some(DEMO_P2_TENANT), Some("p2")));
    let users = tenants[0]["users"].as_array().unwrap();
    assert_eq!(users.len(), 2, "{body}");
    assert_eq!(users[0]["roles"], serde_json::json!(["Global Administrator"]));
    assert_eq!(users[1]["roles"], serde_json::json!([]));
    for user in users {
        let token = user["token"].as_str().unwrap();
        let (status, tenant) = app.get("/idtrail/tenant", token).await;
        assert_eq!(status, StatusCode::OK, "{tenant}");
        assert_eq!(tenant["id"], DEMO_P2_TENANT);
    }
    // A page elsewhere that reaches this port through a rebound DNS name is not given them.
    for host in ["evil.example:8080", "evil.example", ""] {
        let (status, _, _) = get(&dev, DEV_TOKENS, Some(host).filter(|h| !h.is_empty())).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{host}");
    }
    let (status, _, _) = get(&dev, DEV_TOKENS, Some("localhost:8080")).await;
    assert_eq!(status, StatusCode::OK);
}
