//! Faults: the database goes away under the service. Requests answer 200 or 503 (never 500), the
//! pool replaces lost connections by itself, and every acknowledged ingest is stored exactly once.

use std::time::{Duration as StdDuration, Instant};

use actix_web::http::StatusCode;
use chrono::Duration;
use diesel::prelude::*;
use serde_json::Value;

use crate::support::*;

/// Terminates every backend of `url`'s database but the caller's, as an administrator would.
fn terminate_backends(url: &str) -> usize {
    #[derive(QueryableByName)]
    struct Killed {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        _killed: bool,
    }
    let mut admin = diesel::PgConnection::establish(url).unwrap();
    diesel::sql_query(
        "SELECT pg_terminate_backend(pid) AS _killed FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .load::<Killed>(&mut admin)
    .unwrap()
    .len()
}

#[actix_web::test]
async fn terminated_backends_are_replaced_without_a_restart() {
    let Some(db) = postgres_db() else { return };
    let url = db.url.clone();
    let app = TestApp::new(db).await.without_rate_limits().await;
    let admin = admin_token(TENANT_A);
    let list = "/v1.0/auditLogs/signIns?$top=5";
    let mut acknowledged = 0usize;
    let mut n = 0u64;
    for round in 0..5 {
        // Put several connections in the pool, then cut them all.
        for _ in 0..6 {
            let (s, b) = app.get(list, &admin).await;
            assert!(s == StatusCode::OK || s == StatusCode::SERVICE_UNAVAILABLE, "round {round}: {s} {b}");
        }
        let killed = terminate_backends(&url);
        assert!(killed > 0, "round {round}: no backend to terminate");
        let cut = Instant::now();
        let mut failed = 0;
        loop {
            let (s, b) = app.get(list, &admin).await;
            match s {
                StatusCode::OK => break,
                StatusCode::SERVICE_UNAVAILABLE => {
                    failed += 1;
                    assert_eq!(b["error"]["code"], "ServiceUnavailable", "{b}");
                }
                other => panic!("round {round}: {other} after the backends were terminated: {b}"),
            }
            assert!(
                cut.elapsed() < StdDuration::from_secs(5),
                "round {round}: no recovery within 5 s ({failed} failures)"
            );
        }
        // Ingest right after another cut: acknowledged or refused with 503, never half-stored.
        terminate_backends(&url);
        for _ in 0..3 {
            let now = app.now();
            let docs: Vec<Value> = (0..20)
                .map(|_| {
                    n += 1;
                    sign_in_doc(n, now - Duration::minutes(i64::try_from(n).unwrap()), USER_OID)
                })
                .collect();
            let (s, b) = app.ingest(&ingest_token(TENANT_A), &docs).await;
            match s {
                StatusCode::OK => acknowledged += b["inserted"].as_u64().unwrap() as usize,
                StatusCode::SERVICE_UNAVAILABLE => {}
                other => panic!("round {round}: ingest answered {other}: {b}"),
            }
        }
    }
    assert!(acknowledged > 0);
    let (s, count) = app.get("/v1.0/auditLogs/signIns/$count", &admin).await;
    assert_eq!(s, StatusCode::OK);
    let stored = app.count_rows("sign_ins", TENANT_A);
    assert_eq!(stored, acknowledged as i64, "every acknowledged row once, no refused one ({count})");
    let (s, _) = app.get("/readyz", &admin).await;
    assert_eq!(s, StatusCode::OK);
}

/// Eight concurrent `confirmCompromised` on one user take turns: each answers 204 and writes its
/// own history item and audit event.
#[actix_web::test]
async fn concurrent_actions_on_one_user_take_turns() {
    use crate::audits_risk::{confirm, ingest_kind, risky_user_doc};
    each_backend(|app| async move {
        let app = app.without_rate_limits().await;
        let user = guid(4242);
        let doc = risky_user_doc(&user, app.now() - Duration::hours(1), "atRisk", "medium", "none", "U");
        assert_eq!(ingest_kind(&app, "riskyUsers", TENANT_A, &[doc]).await.0, StatusCode::OK);
        let writer = crate::audits_risk::delegated(
            TENANT_A,
            ADMIN_OID,
            &[domain::principal::DirectoryRole::SecurityAdministrator],
            "IdentityRiskyUser.ReadWrite.All",
        );
        let ids = [user.as_str()];
        let calls = (0..8).map(|_| confirm(&app, &writer, &ids));
        let answers = futures_util::future::join_all(calls).await;
        for (s, b) in &answers {
            assert_eq!(*s, StatusCode::NO_CONTENT, "{b}");
        }
        let history = app.count_rows("risky_user_history", TENANT_A);
        assert_eq!(history, 1 + 8, "the ingested change and one per action");
        let (s, b) = app
            .get(
                &format!(
                    "/v1.0/auditLogs/directoryAudits/$count?$filter={}",
                    crate::audits_risk::enc("activityDisplayName eq 'ConfirmAccountCompromised'")
                ),
                &admin_token(TENANT_A),
            )
            .await;
        assert_eq!((s, b), (StatusCode::OK, serde_json::json!(8)));
    })
    .await;
}

/// The statement budget of the budget tests, in milliseconds.
const BUDGET_MS: u64 = 300;

/// 90 `contains()` on properties read from the stored document: each row is parsed 90 times.
fn heavy_filter() -> String {
    const FIELDS: [&str; 3] = ["deviceDetail/deviceId", "deviceDetail/trustType", "status/failureReason"];
    let filter = (0..90).map(|i| format!("contains({},'x{i}')", FIELDS[i % 3])).collect::<Vec<_>>().join(" or ");
    assert!(filter.len() <= 4096, "within the $filter limit");
    filter
}

/// Stores `batches` thousand sign-ins for tenant A.
async fn thousands_of_sign_ins(app: &TestApp, batches: u64) {
    let now = app.now();
    for batch in 0..batches {
        let docs: Vec<Value> = (0..1000)
            .map(|i| {
                let n = batch * 1000 + i + 1;
                sign_in_doc(n, now - Duration::seconds(i64::try_from(n).unwrap()), USER_OID)
            })
            .collect();
        let (s, b) = app.ingest(&ingest_token(TENANT_A), &docs).await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }
}

async fn get_with_headers(
    app: &TestApp,
    path: &str,
    token: &str,
) -> (StatusCode, actix_web::http::header::HeaderMap, Value) {
    app.send(actix_web::test::TestRequest::get().uri(path).insert_header(("Authorization", format!("Bearer {token}"))))
        .await
}

/// A filter that costs more than the statement budget is stopped at it (503 naming the budget and
/// its setting); a tenant that floods the service with it gets 429 past its query slots, while
/// another tenant's requests keep answering.
#[actix_web::test]
async fn a_heavy_filter_is_cut_at_its_budget_while_another_tenant_answers() {
    each_backend(|app| async move {
        // Enough rows that the heavy filter costs several budgets, even on a fast machine (at about one
        // budget, it could finish just inside it). Stored under the default budget: on a busy machine
        // one 1,000-row batch can take longer than the small budget of the test.
        let app = app.without_rate_limits().await;
        thousands_of_sign_ins(&app, 24).await;
        let app = app
            .reconfigured(|c| {
                c.statement_timeout_ms = BUDGET_MS;
                c.tenant_max_concurrent_queries = 2;
                c.tenant_query_wait_ms = 100;
            })
            .await;
        let heavy = format!("/v1.0/auditLogs/signIns/$count?$filter={}", crate::query::enc(&heavy_filter()));
        let a = admin_token(TENANT_A);
        let started = Instant::now();
        let (s, headers, b) = get_with_headers(&app, &heavy, &a).await;
        eprintln!("heavy filter answered {s} after {:?}", started.elapsed());
        assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{b}");
        assert_eq!(b["error"]["code"], "ServiceUnavailable", "{b}");
        let message = b["error"]["message"].as_str().unwrap();
        assert!(message.contains(&format!("{BUDGET_MS} ms")) && message.contains("statement_timeout_ms"), "{message}");
        assert!(headers.contains_key("retry-after"));

        // Tenant A floods with the heavy filter; tenant B's requests answer all the while.
        let b_token = admin_token(TENANT_B);
        let flood = futures_util::future::join_all((0..6).map(|_| get_with_headers(&app, &heavy, &a)));
        let others = futures_util::future::join_all(
            (0..6).map(|_| get_with_headers(&app, "/v1.0/auditLogs/signIns/$count", &b_token)),
        );
        let (flood, others) = futures_util::future::join(flood, others).await;
        let mut busy = 0;
        for (s, headers, b) in &flood {
            match *s {
                StatusCode::SERVICE_UNAVAILABLE => {
                    assert!(b["error"]["message"].as_str().unwrap().contains("statement_timeout_ms"), "{b}")
                }
                StatusCode::TOO_MANY_REQUESTS => {
                    busy += 1;
                    assert_eq!(b["error"]["code"], "TooManyRequests", "{b}");
                    assert!(b["error"]["message"].as_str().unwrap().contains("tenant_max_concurrent_queries"), "{b}");
                    assert!(headers.contains_key("retry-after"));
                }
                other => panic!("the heavy filter answered {other}: {b}"),
            }
        }
        assert!(busy > 0, "six at once over two slots: some are refused");
        for (s, _, b) in &others {
            assert_eq!((*s, b), (StatusCode::OK, &serde_json::json!(0)), "tenant B is not held up");
        }
        // Once the flood is over, tenant A's ordinary reads answer.
        let (s, b) = app.get("/v1.0/auditLogs/signIns/$count", &a).await;
        assert_eq!((s, b), (StatusCode::OK, serde_json::json!(24000)));
    })
    .await;
}

/// Sends the head of an ingest of `body` for `token`, then the first `trickle` bytes of the body
/// one at a time every `pause`, then nothing; returns the response once the server answers.
fn slow_upload(
    addr: std::net::SocketAddr,
    token: &str,
    body: &str,
    trickle: usize,
    pause: StdDuration,
    sending: &std::sync::atomic::AtomicUsize,
) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(StdDuration::from_secs(30))).unwrap();
    let head = format!(
        "POST /ingest/signIns HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/x-ndjson\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    for byte in body.as_bytes().iter().take(trickle) {
        std::thread::sleep(pause);
        stream.write_all(std::slice::from_ref(byte)).unwrap();
    }
    sending.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// Clients that send their ingest body a byte at a time hold no ingest slot: another tenant's
/// batch is stored while they are still sending. When they stop, they get 408 in Graph's envelope
/// and nothing of theirs is stored.
#[actix_web::test]
async fn slow_uploaders_do_not_delay_another_tenants_ingest() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    each_backend(|app| async move {
        let app = app
            .reconfigured(|c| {
                c.rate_limit_enabled = false;
                c.ingest_first_byte_timeout_ms = 1_000;
                c.ingest_idle_timeout_ms = 1_000;
                c.ingest_global_slots = 2;
            })
            .await;
        let (addr, server) = app.serve(2);
        let body = format!("{}\n", sign_in_doc(9_001, app.now() - Duration::minutes(5), USER_OID));
        // Two tenant B uploads trickling (as many as there are global slots), one that never
        // sends its first byte.
        let sending = Arc::new(AtomicUsize::new(3));
        let uploads: Vec<_> =
            [(40, StdDuration::from_millis(100)), (40, StdDuration::from_millis(100)), (0, StdDuration::ZERO)]
                .into_iter()
                .map(|(trickle, pause)| {
                    let (token, body, sending) = (ingest_token(TENANT_B), body.clone(), sending.clone());
                    std::thread::spawn(move || slow_upload(addr, &token, &body, trickle, pause, &sending))
                })
                .collect();
        actix_web::rt::time::sleep(StdDuration::from_millis(300)).await;
        let docs = [sign_in_doc(1, app.now() - Duration::minutes(1), USER_OID)];
        let (s, b) = app.ingest(&ingest_token(TENANT_A), &docs).await;
        assert_eq!((s, &b["inserted"]), (StatusCode::OK, &serde_json::json!(1)), "{b}");
        assert!(
            sending.load(Ordering::SeqCst) >= 2,
            "tenant A's batch was stored while B's uploads were still sending"
        );
        for upload in uploads {
            let response = actix_web::rt::task::spawn_blocking(move || upload.join().unwrap()).await.unwrap();
            let status = response.lines().next().unwrap_or_default();
            assert!(status.contains(" 408 "), "{response}");
            let json: Value = serde_json::from_str(response.split("\r\n\r\n").nth(1).unwrap_or_default()).unwrap();
            assert_eq!(json["error"]["code"], "RequestTimeout", "{json}");
            assert!(json["error"]["message"].as_str().unwrap().contains("timeout_ms"), "{json}");
        }
        server.stop(true).await;
        assert_eq!(app.count_rows("sign_ins", TENANT_B), 0, "nothing of a stalled body is stored");
        assert_eq!(app.count_rows("sign_ins", TENANT_A), 1);
    })
    .await;
}

/// A batch that finds its tenant's ingest slot (or every global one) taken waits
/// `ingest_slot_wait_ms`, then gets 503 with `Retry-After`; another tenant's batch goes in.
#[actix_web::test]
async fn a_batch_waits_for_its_slot_only_so_long() {
    each_backend(|app| async move {
        let app = app
            .reconfigured(|c| {
                c.rate_limit_enabled = false;
                c.ingest_slot_wait_ms = 200;
                c.ingest_tenant_slots = 1;
                c.ingest_global_slots = 2;
            })
            .await;
        let held = app.state.gates.ingest_slot(TENANT_A).await.unwrap();
        let docs = [sign_in_doc(1, app.now() - Duration::minutes(1), USER_OID)];
        let body: String = docs.iter().map(|d| format!("{d}\n")).collect();
        let request = |tenant: &str| {
            actix_web::test::TestRequest::post()
                .uri("/ingest/signIns")
                .insert_header(("Authorization", format!("Bearer {}", ingest_token(tenant))))
                .insert_header(("Content-Type", "application/x-ndjson"))
                .set_payload(body.clone())
        };
        let (s, headers, b) = app.send(request(TENANT_A)).await;
        assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{b}");
        assert!(b["error"]["message"].as_str().unwrap().contains("ingest_slot_wait_ms"), "{b}");
        assert!(headers.contains_key("retry-after"));
        let (s, _, b) = app.send(request(TENANT_B)).await;
        assert_eq!(s, StatusCode::OK, "another tenant's batch takes the other global slot: {b}");
        // With every global slot taken, tenant B waits too.
        let also = app.state.gates.ingest_slot(TENANT_B).await.unwrap();
        let (s, _, b) = app.send(request(TENANT_B)).await;
        assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{b}");
        drop((held, also));
        let (s, _, b) = app.send(request(TENANT_A)).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(app.count_rows("sign_ins", TENANT_A), 1);
    })
    .await;
}

/// The PostgreSQL server stops and starts again under load (on a throwaway cluster of its own, so
/// no other test notices): while it is down every request answers 503 (never 500), requests succeed
/// within 5 s of it accepting connections again with no restart of idtrail, and every acknowledged
/// ingest row is stored exactly once.
#[actix_web::test]
async fn a_database_restart_answers_503_then_recovers_on_its_own() {
    use std::collections::HashSet;
    let cluster = match crate::cluster::Cluster::create() {
        Ok(c) => std::sync::Arc::new(c),
        Err(why) => {
            eprintln!("cluster restart skipped: no throwaway PostgreSQL cluster can be made here ({why})");
            return;
        }
    };
    {
        let mut admin = diesel::PgConnection::establish(&cluster.url("postgres")).unwrap();
        diesel::connection::SimpleConnection::batch_execute(&mut admin, "CREATE DATABASE idtrail").unwrap();
    }
    let db = TestDb::external_postgres(cluster.url("idtrail"));
    let app = TestApp::new(db).await.without_rate_limits().await;
    let admin = admin_token(TENANT_A);
    let restart = {
        let cluster = cluster.clone();
        actix_web::rt::task::spawn_blocking(move || {
            std::thread::sleep(StdDuration::from_secs(1));
            cluster.stop().unwrap();
            let down = Instant::now();
            std::thread::sleep(StdDuration::from_secs(3));
            cluster.start().unwrap();
            (down, Instant::now())
        })
    };
    let mut answers: Vec<(Instant, StatusCode)> = Vec::new();
    let mut acknowledged: Vec<String> = Vec::new();
    let mut n = 0u64;
    let (down, back) = loop {
        let (s, b) = app.get("/v1.0/auditLogs/signIns?$top=5", &admin).await;
        answers.push((Instant::now(), s));
        assert!(s == StatusCode::OK || s == StatusCode::SERVICE_UNAVAILABLE, "list answered {s}: {b}");
        let docs: Vec<Value> = (0..10)
            .map(|_| {
                n += 1;
                sign_in_doc(n, app.now() - Duration::seconds(i64::try_from(n).unwrap()), USER_OID)
            })
            .collect();
        let (s, b) = app.ingest(&ingest_token(TENANT_A), &docs).await;
        answers.push((Instant::now(), s));
        match s {
            StatusCode::OK => {
                assert_eq!(b["inserted"], 10, "{b}");
                acknowledged.extend(docs.iter().map(|d| d["id"].as_str().unwrap().to_owned()));
            }
            StatusCode::SERVICE_UNAVAILABLE => assert_eq!(b["error"]["code"], "ServiceUnavailable", "{b}"),
            other => panic!("ingest answered {other}: {b}"),
        }
        if restart.is_finished() {
            break restart.await.unwrap();
        }
        actix_web::rt::time::sleep(StdDuration::from_millis(20)).await;
    };
    // After the server is back: the first success, and a few more.
    let recovered = loop {
        let (s, b) = app.get("/v1.0/auditLogs/signIns?$top=5", &admin).await;
        assert!(s == StatusCode::OK || s == StatusCode::SERVICE_UNAVAILABLE, "list answered {s}: {b}");
        if s == StatusCode::OK {
            break Instant::now();
        }
        assert!(back.elapsed() < StdDuration::from_secs(5), "no recovery within 5 s of the server's return");
    };
    eprintln!(
        "down {:?}, recovered {:?} after the server was back; {} answers since it went down, {} of them 503",
        back - down,
        recovered - back,
        answers.iter().filter(|(t, _)| *t > down).count(),
        answers.iter().filter(|(_, s)| *s == StatusCode::SERVICE_UNAVAILABLE).count()
    );
    assert!(answers.iter().any(|(_, s)| *s == StatusCode::SERVICE_UNAVAILABLE), "the outage was noticed");
    for _ in 0..5 {
        let docs = [sign_in_doc(100_000 + n, app.now() - Duration::minutes(1), USER_OID)];
        n += 1;
        let (s, b) = app.ingest(&ingest_token(TENANT_A), &docs).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        acknowledged.push(docs[0]["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(app.get("/readyz", "").await.0, StatusCode::OK);

    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = diesel::sql_types::Text)]
        id: String,
    }
    let mut conn = diesel::PgConnection::establish(&cluster.url("idtrail")).unwrap();
    let stored: Vec<String> = diesel::sql_query("SELECT id FROM sign_ins WHERE tenant_id = $1")
        .bind::<diesel::sql_types::Text, _>(TENANT_A)
        .load::<Id>(&mut conn)
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    let distinct: HashSet<&String> = stored.iter().collect();
    assert_eq!(distinct.len(), stored.len(), "no row stored twice");
    let missing = acknowledged.iter().filter(|id| !distinct.contains(id)).count();
    assert_eq!(
        missing,
        0,
        "every acknowledged row is stored ({} acknowledged, {} stored)",
        acknowledged.len(),
        stored.len()
    );
    drop(conn);
    drop(app);
}
