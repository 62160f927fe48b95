//! Operations: the health check the container runs, `/metrics`, the access log, backups.

use std::path::Path;

use crate::support::*;

/// The app of `app` served over TCP on a loopback port, as `idtrail serve` serves it.
pub struct Served {
    pub addr: std::net::SocketAddr,
    handle: actix_web::dev::ServerHandle,
}

impl Served {
    pub fn start(app: &TestApp) -> Self {
        let state = app.state.clone();
        let server = actix_web::HttpServer::new(move || api::app(state.clone()))
            .workers(1)
            .disable_signals()
            .bind("127.0.0.1:0")
            .unwrap();
        let addr = server.addrs()[0];
        let server = server.run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        Self { addr, handle }
    }

    pub async fn stop(self) {
        self.handle.stop(true).await;
    }
}

async fn healthcheck(url: String) -> Result<(), String> {
    tokio::task::spawn_blocking(move || api::ops::healthcheck(&url).map_err(|e| e.to_string())).await.unwrap()
}

#[actix_web::test]
async fn healthcheck_passes_on_a_ready_service_and_says_why_not_otherwise() {
    each_backend(|app| async move {
        let served = Served::start(&app);
        let addr = served.addr;
        healthcheck(format!("http://{addr}/readyz")).await.unwrap();
        let e = healthcheck(format!("http://{addr}/no/such/path")).await.unwrap_err();
        assert!(e.contains("404") && e.contains("Resource not found"), "{e}");
        served.stop().await;
        let e = healthcheck(format!("http://{addr}/readyz")).await.unwrap_err();
        assert!(e.contains(&addr.to_string()), "the reason names the address: {e}");
        assert!(healthcheck("ftp://x/readyz".into()).await.unwrap_err().contains("http://"));
        // The default URL: the bind address, a wildcard host asked on loopback.
        let config = api::config::Config { bind: "0.0.0.0:8080".into(), ..api::config::Config::default() };
        assert_eq!(api::ops::readyz_url(&config).unwrap(), "http://127.0.0.1:8080/readyz");
        let config = api::config::Config { bind: "[::]:9000".into(), ..api::config::Config::default() };
        assert_eq!(api::ops::readyz_url(&config).unwrap(), "http://[::1]:9000/readyz");
    })
    .await;
}

#[test]
fn the_container_health_checks_run_idtrail_healthcheck() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let dockerfile = std::fs::read_to_string(root.join("Dockerfile")).unwrap();
    let checks: Vec<&str> = dockerfile.lines().filter(|l| l.trim_start().starts_with("HEALTHCHECK")).collect();
    assert_eq!(checks.len(), 1, "{checks:?}");
    assert!(checks[0].contains(r#"CMD ["idtrail", "healthcheck"]"#), "{}", checks[0]);
    assert!(!dockerfile.contains("/dev/tcp"), "dash has no /dev/tcp");

    let compose = std::fs::read_to_string(root.join("docker-compose.yml")).unwrap();
    let service = compose.split("\n  idtrail:\n").nth(1).expect("an idtrail service");
    let service = service.split("\nvolumes:").next().unwrap();
    let test = service
        .lines()
        .skip_while(|l| l.trim() != "healthcheck:")
        .find(|l| l.trim_start().starts_with("test:"))
        .expect("the idtrail service has a health check");
    assert!(test.contains(r#"["CMD", "idtrail", "healthcheck"]"#), "{test}");
}

/// One sample of an exposition.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: std::collections::BTreeMap<String, String>,
    pub value: f64,
}

/// A strict parser of the OpenMetrics text format (what Prometheus scrapes): `# TYPE`, `# HELP`
/// and `# UNIT` lines, samples of declared families only (their name is the family's, or it with
/// a suffix its type allows), quoted label values with `\\`, `\"` and `\n` escapes, and `# EOF`
/// as the last line. Anything else is an error naming the line.
pub fn parse_openmetrics(text: &str) -> Result<Vec<Sample>, String> {
    let mut types: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    let mut samples = Vec::new();
    let lines = text.lines().enumerate();
    let mut eof = false;
    for (i, line) in lines {
        let bad = |why: &str| format!("line {}: {why}: {line:?}", i + 1);
        if eof {
            return Err(bad("text after # EOF"));
        }
        if line == "# EOF" {
            eof = true;
            continue;
        }
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            let (kind, name) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            let value = parts.next().unwrap_or("");
            if !valid_name(name) {
                return Err(bad("bad metric name"));
            }
            match kind {
                "TYPE" => {
                    let known = ["counter", "gauge", "histogram", "summary", "info", "stateset", "unknown"];
                    if !known.contains(&value) {
                        return Err(bad("unknown type"));
                    }
                    if types.insert(name.to_owned(), value.to_owned()).is_some() {
                        return Err(bad("family declared twice"));
                    }
                }
                "HELP" | "UNIT" => {
                    if samples.iter().any(|s: &Sample| s.name.starts_with(name)) {
                        return Err(bad("HELP or UNIT after the family's samples"));
                    }
                }
                _ => return Err(bad("unknown comment")),
            }
            continue;
        }
        let (name, rest) = match line.find(['{', ' ']) {
            Some(at) => line.split_at(at),
            None => return Err(bad("no value")),
        };
        if !valid_name(name) {
            return Err(bad("bad sample name"));
        }
        let family = types
            .iter()
            .find(|(family, kind)| {
                let suffixes: &[&str] = match kind.as_str() {
                    "counter" => &["_total", "_created"],
                    "histogram" => &["_bucket", "_count", "_sum", "_created"],
                    "summary" => &["", "_count", "_sum", "_created"],
                    "info" => &["_info"],
                    _ => &[""],
                };
                suffixes.iter().any(|s| name.strip_suffix(s) == Some(family.as_str()))
            })
            .map(|(f, _)| f.clone());
        if family.is_none() {
            return Err(bad("a sample of no declared family"));
        }
        let mut labels = std::collections::BTreeMap::new();
        let mut rest = rest;
        if let Some(body) = rest.strip_prefix('{') {
            let mut chars = body.char_indices().peekable();
            let end;
            loop {
                let start = chars.peek().map(|(at, _)| *at).ok_or_else(|| bad("unclosed labels"))?;
                if body[start..].starts_with('}') {
                    end = start + 1;
                    break;
                }
                let eq = body[start..].find('=').ok_or_else(|| bad("label without ="))? + start;
                let key = &body[start..eq];
                if !valid_name(key) || key.contains(':') {
                    return Err(bad("bad label name"));
                }
                while chars.peek().is_some_and(|(at, _)| *at <= eq) {
                    chars.next();
                }
                if chars.next().map(|(_, c)| c) != Some('"') {
                    return Err(bad("label value not quoted"));
                }
                let mut value = String::new();
                loop {
                    match chars.next().map(|(_, c)| c) {
                        Some('"') => break,
                        Some('\\') => match chars.next().map(|(_, c)| c) {
                            Some('\\') => value.push('\\'),
                            Some('"') => value.push('"'),
                            Some('n') => value.push('\n'),
                            _ => return Err(bad("bad escape")),
                        },
                        Some(c) => value.push(c),
                        None => return Err(bad("unclosed label value")),
                    }
                }
                if labels.insert(key.to_owned(), value).is_some() {
                    return Err(bad("label given twice"));
                }
                match chars.next().map(|(_, c)| c) {
                    Some(',') => {}
                    Some('}') => {
                        end = chars.peek().map_or(body.len(), |(at, _)| *at);
                        break;
                    }
                    _ => return Err(bad("expected , or } after a label")),
                }
            }
            rest = &body[end..];
        }
        let value = rest.strip_prefix(' ').ok_or_else(|| bad("no space before the value"))?;
        let value = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            "NaN" => f64::NAN,
            v => v.parse::<f64>().map_err(|_| bad("the value is not a number (or has a timestamp)"))?,
        };
        samples.push(Sample { name: name.to_owned(), labels, value });
    }
    if !eof {
        return Err("no # EOF at the end".into());
    }
    Ok(samples)
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// The value of the sample `name` whose labels include `labels` (0 when there is none).
pub fn value_of(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|s| s.name == name && labels.iter().all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v)))
        .map(|s| s.value)
        .sum()
}

/// Scrapes the metrics listener's app of `app`, in process.
async fn scrape(app: &TestApp) -> Vec<Sample> {
    let service = actix_web::test::init_service(api::metrics::app(app.state.clone())).await;
    let res =
        actix_web::test::call_service(&service, actix_web::test::TestRequest::get().uri("/metrics").to_request()).await;
    assert_eq!(res.status(), 200);
    let content_type = res.headers().get("content-type").unwrap().to_str().unwrap().to_owned();
    assert!(content_type.starts_with("application/openmetrics-text"), "{content_type}");
    let body = actix_web::test::read_body(res).await;
    let text = String::from_utf8(body.to_vec()).unwrap();
    parse_openmetrics(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

#[test]
fn the_parser_is_strict() {
    let ok = "# TYPE a counter\n# HELP a An a.\na_total{x=\"1\",y=\"q\\\"\"} 2\n# EOF\n";
    let s = parse_openmetrics(ok).unwrap();
    assert_eq!(s[0].labels["y"], "q\"");
    assert_eq!(s[0].value, 2.0);
    for bad in [
        "a_total 1\n# EOF\n",
        "# TYPE a counter\na_total 1\n",
        "# TYPE a counter\na_total{x=1} 1\n# EOF\n",
        "# TYPE a counter\na_total{x=\"1\"}1\n# EOF\n",
        "# TYPE a counter\na_total one\n# EOF\n",
        "# TYPE a counter\na_sum 1\n# EOF\n",
        "# TYPE a counter\n# EOF\na_total 1\n",
    ] {
        assert!(parse_openmetrics(bad).is_err(), "{bad}");
    }
}

#[actix_web::test]
async fn metrics_parse_and_move_with_requests_ingest_and_refusals() {
    each_backend(|app| async move {
        let app = app
            .reconfigured(|c| {
                c.rate_limit_reports_burst = 3;
                c.rate_limit_reports_per_minute = 1;
            })
            .await;
        let before = scrape(&app).await;
        let route = [("method", "GET"), ("route", "/v1.0/auditLogs/signIns/{id}"), ("status", "404")];
        assert_eq!(value_of(&before, "idtrail_http_requests_total", &route), 0.0);
        assert!(value_of(&before, "idtrail_db_pool_max_connections", &[]) >= 1.0);
        assert!(value_of(&before, "process_resident_memory_bytes", &[]) > 1_000_000.0);
        assert!(value_of(&before, "process_open_fds", &[]) >= 3.0);

        let docs: Vec<_> = (0..5).map(|n| sign_in_doc(n, app.now(), USER_OID)).collect();
        let (s, _) = app.ingest(&ingest_token(TENANT_A), &docs).await;
        assert_eq!(s, 200);
        let (s, _) = app.ingest(&ingest_token(TENANT_A), &docs[..2]).await;
        assert_eq!(s, 200);
        let mut bad = docs.clone();
        bad.push(serde_json::json!({"id": 1}));
        let (s, _) = app.ingest(&ingest_token(TENANT_A), &bad).await;
        assert_eq!(s, 400);
        let admin = admin_token(TENANT_A);
        let missing = guid(999);
        for _ in 0..4 {
            app.get(&format!("/v1.0/auditLogs/signIns/{missing}?$select=id"), &admin).await;
        }
        let after = scrape(&app).await;
        assert_eq!(value_of(&after, "idtrail_http_requests_total", &route), 3.0, "the fourth was refused");
        let limited = [("route", "/v1.0/auditLogs/signIns/{id}"), ("status", "429")];
        assert_eq!(value_of(&after, "idtrail_http_requests_total", &limited), 1.0);
        assert_eq!(value_of(&after, "idtrail_rejected_requests_total", &[("reason", "rate_limit")]), 1.0);
        let rows =
            |outcome| value_of(&after, "idtrail_ingested_rows_total", &[("set", "signIns"), ("outcome", outcome)]);
        assert_eq!((rows("inserted"), rows("duplicates"), rows("refused")), (5.0, 2.0, 6.0));
        let ingest = [("method", "POST"), ("route", "/ingest/{kind}")];
        assert_eq!(value_of(&after, "idtrail_http_requests_total", &ingest), 3.0);
        let latency = [("route", "/ingest/{kind}")];
        assert_eq!(value_of(&after, "idtrail_http_request_duration_seconds_count", &latency), 3.0);
        assert!(
            value_of(
                &after,
                "idtrail_http_request_duration_seconds_bucket",
                &[("route", "/ingest/{kind}"), ("le", "+Inf")]
            ) == 3.0
        );
        assert!(
            value_of(&after, "idtrail_db_pool_checkouts_total", &[])
                > value_of(&before, "idtrail_db_pool_checkouts_total", &[])
        );
        // No label carries an id, a tenant or a query string.
        for s in &after {
            for v in s.labels.values() {
                assert!(!v.contains(&missing) && !v.contains(TENANT_A) && !v.contains('?'), "{s:?}");
            }
        }
        // The public app has no /metrics.
        let (s, _) = app.get("/metrics", &admin).await;
        assert_eq!(s, 404);
    })
    .await;
}

/// A log destination the test reads back.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[actix_web::test]
async fn json_log_lines_parse_and_carry_the_request_id_but_no_secrets() {
    each_backend(|app| async move {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = api::observe::subscriber(api::observe::LogFormat::Json, "info", false, move || writer.clone());
        let guard = tracing::subscriber::set_default(subscriber);
        let token = ingest_token(TENANT_A);
        let docs: Vec<_> = (0..3).map(|n| sign_in_doc(n, app.now(), USER_OID)).collect();
        let body: String = docs.iter().map(|d| format!("{d}\n")).collect();
        let (s, headers, _) = app
            .send(
                actix_web::test::TestRequest::post()
                    .uri("/ingest/signIns")
                    .insert_header(("Authorization", format!("Bearer {token}")))
                    .insert_header(("Content-Type", "application/x-ndjson"))
                    .set_payload(body),
            )
            .await;
        assert_eq!(s, 200);
        let ingest_id = headers.get("request-id").unwrap().to_str().unwrap().to_owned();
        let admin = admin_token(TENANT_A);
        let (s, headers, _) = app
            .send(
                actix_web::test::TestRequest::get()
                    .uri("/v1.0/auditLogs/signIns?$filter=userPrincipalName%20eq%20%27secret.person%40x.com%27")
                    .insert_header(("Authorization", format!("Bearer {admin}"))),
            )
            .await;
        assert_eq!(s, 200);
        let list_id = headers.get("request-id").unwrap().to_str().unwrap().to_owned();
        drop(guard);

        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<serde_json::Value> =
            text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
        let of = |id: &str| -> Vec<&serde_json::Value> {
            lines.iter().filter(|l| l.pointer("/span/request_id").and_then(|v| v.as_str()) == Some(id)).collect()
        };
        let ingest_lines = of(&ingest_id);
        assert!(
            ingest_lines.iter().any(|l| l["message"] == "ingest batch stored" && l["inserted"] == 3),
            "a line logged by the handler carries the request id: {text}"
        );
        let access = ingest_lines.iter().find(|l| l["target"] == api::observe::ACCESS_TARGET).expect("access line");
        assert_eq!(access["method"], "POST");
        assert_eq!(access["route"], "/ingest/{kind}");
        assert_eq!(access["status"], 200);
        assert_eq!(access["request_id"], ingest_id.as_str());
        assert_eq!(access["tenant"], TENANT_A);
        assert_eq!(access["client_app"], "44444444-4444-4444-8444-444444444444");
        assert!(access["duration_ms"].as_f64().unwrap() >= 0.0);
        let list = of(&list_id);
        let access = list.iter().find(|l| l["target"] == api::observe::ACCESS_TARGET).expect("access line");
        assert_eq!(access["route"], "/v1.0/auditLogs/signIns");
        for secret in [token.as_str(), admin.as_str(), "secret.person", "$filter", "filter=", ADMIN_OID] {
            assert!(!text.contains(secret), "the log holds {secret}: {text}");
        }
    })
    .await;
}
