//! `GET /idtrail/script`: the scripts run against a live service (bash with curl, Python with its
//! standard library) and write the very bytes of the export of the same request, after retrying a
//! 429; a hostile filter stays data; bad requests are refused before any script is written.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::test;
use chrono::Duration;
use serde_json::{Value, json};

use crate::export::{SIGN_INS, parse_csv, seed, with_page_rows};
use crate::support::*;

fn encode(s: &str) -> String {
    api::query::encode_value(s)
}

fn script_uri(shell: &str, request: &str) -> String {
    format!("/idtrail/script?shell={shell}&request={}", encode(request))
}

#[actix_web::test]
async fn bad_script_requests_are_refused_with_graph_errors() {
    each_backend(|app| async move {
        let admin = admin_token(TENANT_A);
        let user = user_token(TENANT_A, USER_OID);
        for (uri, token, status, says) in [
            (script_uri("zsh", SIGN_INS), admin.clone(), StatusCode::BAD_REQUEST, "bash or python"),
            ("/idtrail/script?shell=bash".to_owned(), admin.clone(), StatusCode::BAD_REQUEST, "request"),
            (script_uri("bash", "/v1.0/auditLogs/nothing"), admin.clone(), StatusCode::BAD_REQUEST, "collection"),
            (
                script_uri("bash", &format!("{SIGN_INS}?$filter={}", encode("nope eq 1"))),
                admin.clone(),
                StatusCode::BAD_REQUEST,
                "nope",
            ),
            (
                script_uri("python", &format!("{SIGN_INS}?$skiptoken=x")),
                admin.clone(),
                StatusCode::BAD_REQUEST,
                "$skiptoken",
            ),
            (script_uri("python", &format!("{SIGN_INS}?$bogus=1")), admin.clone(), StatusCode::BAD_REQUEST, "$bogus"),
            (script_uri("bash", "/v1.0/auditLogs/directoryAudits"), user.clone(), StatusCode::FORBIDDEN, ""),
            (script_uri("bash", SIGN_INS), "bad".to_owned(), StatusCode::UNAUTHORIZED, ""),
        ] {
            let (s, _, body) = app
                .send(test::TestRequest::get().uri(&uri).insert_header(("Authorization", format!("Bearer {token}"))))
                .await;
            assert_eq!(s, status, "{uri}: {body}");
            let message = body["error"]["message"].as_str().unwrap_or_default();
            assert!(message.contains(says), "{uri}: {message}");
        }
    })
    .await;
}

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("idtrail-script-{:016x}", rand::random::<u64>()));
    std::fs::create_dir_all(dir.join("home")).unwrap();
    dir
}

/// Runs `program script out.csv` in `dir` with the token, `HOME` inside `dir`.
async fn run(program: &'static str, dir: &Path, script: &str, out: &str, token: &str) -> Output {
    let (dir, script, out, token) = (dir.to_owned(), script.to_owned(), out.to_owned(), token.to_owned());
    tokio::task::spawn_blocking(move || {
        Command::new(program)
            .arg(&script)
            .arg(&out)
            .current_dir(&dir)
            .env("IDTRAIL_TOKEN", token)
            .env("HOME", dir.join("home"))
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

/// The CSV's rows as Python's `csv` module reads them.
async fn python_csv(path: &Path) -> Value {
    let path = path.to_owned();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .arg("-c")
            .arg("import csv, json, sys\nwith open(sys.argv[1], newline='', encoding='utf-8') as f:\n    print(json.dumps(list(csv.reader(f))))")
            .arg(&path)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[actix_web::test]
async fn scripts_write_the_exports_bytes_against_a_live_service() {
    each_backend(|app| async move {
        let mut app = with_page_rows(app, 3);
        seed(&app, 20).await;
        let now = app.now();
        let hostile = ["'; rm -rf ~; touch PWNED; '", "$(touch PWNED2) `touch PWNED3` \"q\" & ü \\ =1+1"];
        let docs: Vec<Value> = hostile
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let mut d = sign_in_doc(900 + u64::try_from(i).unwrap(), now - Duration::seconds(30), ADMIN_OID);
                d["userDisplayName"] = json!(name);
                d
            })
            .collect();
        let (s, b) = app.ingest(&ingest_token(TENANT_A), &docs).await;
        assert_eq!(s, StatusCode::OK, "{b}");

        // Scripts use the request's host; one report every 6 s, so each script first meets a 429
        // (at one every 2 s, a script that took long to start on a busy machine found a token).
        let mut config = (*app.state.config).clone();
        config.public_url = None;
        config.rate_limit_enabled = true;
        config.rate_limit_reports_per_minute = 10;
        config.rate_limit_reports_burst = 1;
        app.state.limits = Arc::new(api::ratelimit::RateLimits::from_config(&config));
        app.state.config = Arc::new(config);
        let (addr, handle) = app.serve(1);

        let filter = format!(
            "userDisplayName eq '{}' or userDisplayName eq '{}' or status/errorCode eq 50126",
            hostile[0].replace('\'', "''"),
            hostile[1]
        );
        let query = format!(
            "$filter={}&$orderby={}&$select=id,userDisplayName,status,location",
            encode(&filter),
            encode("userDisplayName desc")
        );
        let request = format!("{SIGN_INS}?{query}");
        let admin = admin_token(TENANT_A);
        let dir = temp_dir();
        let mut scripts = Vec::new();
        for shell in ["bash", "python"] {
            let (s, h, body) = app
                .send(
                    test::TestRequest::get()
                        .uri(&script_uri(shell, &request))
                        .insert_header(("Host", addr.to_string()))
                        .insert_header(("Authorization", format!("Bearer {admin}"))),
                )
                .await;
            assert_eq!(s, StatusCode::OK, "{body}");
            assert!(h.get("content-disposition").unwrap().to_str().unwrap().starts_with("attachment"));
            let text = body.as_str().unwrap().to_owned();
            assert!(text.contains(&format!("http://{addr}/v1.0/auditLogs/signIns?")), "{text}");
            let file = dir.join(format!("export.{shell}"));
            std::fs::write(&file, &text).unwrap();
            scripts.push((shell, file));
        }

        // The export of the same request (this also spends the second's one report).
        let svc = test::init_service(api::app(app.state.clone())).await;
        let res = test::call_service(
            &svc,
            test::TestRequest::get()
                .uri(&format!("{request}&$format=csv"))
                .insert_header(("Authorization", format!("Bearer {admin}")))
                .to_request(),
        )
        .await;
        assert_eq!(res.status(), StatusCode::OK);
        let expected = test::read_body(res).await;
        let (headers, rows) = parse_csv(std::str::from_utf8(&expected).unwrap());
        assert_eq!(headers, ["Request ID", "User", "Status", "Sign-in error code", "Failure reason", "Location"]);
        assert_eq!(rows.len(), 6, "{rows:?}");
        let users: Vec<&str> = rows.iter().map(|r| r[1].as_str()).collect();
        assert!(users.contains(&hostile[0]) && users.contains(&hostile[1]), "{users:?}");

        // Each script starts right after the bucket was spent, so its first request meets a 429.
        for (shell, file) in &scripts {
            let program = if *shell == "bash" { "bash" } else { "python3" };
            let _ = app.get(&format!("{SIGN_INS}?$top=1"), &admin).await;
            let ran = run(program, &dir, file.to_str().unwrap(), &format!("{shell}.csv"), &admin).await;
            let stderr = String::from_utf8_lossy(&ran.stderr);
            assert!(ran.status.success(), "{shell}: {stderr}");
            assert!(stderr.contains("retrying in "), "{shell} did not meet the 429: {stderr}");
        }
        for (shell, file) in &scripts {
            let out = dir.join(format!("{shell}.csv"));
            let written = std::fs::read(&out).unwrap();
            assert_eq!(written, expected.to_vec(), "{shell}: not the export's bytes");
            let python_rows = python_csv(&out).await;
            let crate_rows: Vec<Vec<String>> = std::iter::once(headers.clone()).chain(rows.clone()).collect();
            assert_eq!(python_rows, json!(crate_rows), "{shell}: Python's csv reads other values");

            // A refused token: the script fails and writes no file.
            let program = if *shell == "bash" { "bash" } else { "python3" };
            let ran = run(program, &dir, file.to_str().unwrap(), "refused.csv", "not-a-token").await;
            assert!(!ran.status.success(), "{shell}");
            assert!(String::from_utf8_lossy(&ran.stderr).contains("401"), "{shell}");
            assert!(!dir.join("refused.csv").exists());
        }
        for pwned in ["PWNED", "PWNED2", "PWNED3"] {
            assert!(!dir.join(pwned).exists() && !dir.join("home").join(pwned).exists(), "{pwned}: the filter ran");
        }
        assert!(dir.join("home").exists());
        let leftovers: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
            .filter(|n| n.contains(".part"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
        handle.stop(true).await;
        std::fs::remove_dir_all(&dir).unwrap();
    })
    .await;
}
