//! The checkpoint feed (`GET .../delta`) on both backends: an initial sync then deltas return
//! exactly what was stored since, in arrival order (late arrivals included, re-sent duplicates
//! not); own-only scope, license masks and Conditional Access omission as the list; tokens bound
//! to the caller and set, valid across a restart, 410 once older than retention; risky users'
//! changes as their new state; and concurrent ingesters against a poller that must end with
//! every stored id exactly once.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use actix_web::http::StatusCode;
use actix_web::test;
use chrono::Duration;
use domain::ids::TenantId;
use serde_json::{Value, json};
use storage::{SignInRecord, Store};

use crate::audits_risk::{AUDITS, RISKY, dismiss, ids, ingest_kind, risk_admin, risky_user_doc};
use crate::indexes::plan;
use crate::support::*;

const BASE: &str = "https://idtrail.test";
const SIGN_INS_DELTA: &str = "/v1.0/auditLogs/signIns/delta";

fn path_of(link: &str) -> String {
    link.strip_prefix(BASE).unwrap_or_else(|| panic!("{link} is not under {BASE}")).to_owned()
}

/// Follows nextLinks from `path` to the deltaLink: every document in order, the deltaLink's path,
/// and how many pages.
async fn sync(app: &TestApp, path: &str, token: &str) -> (Vec<Value>, String, usize) {
    let mut docs = Vec::new();
    let mut next = path.to_owned();
    for pages in 1..10_000 {
        let (s, b) = app.get(&next, token).await;
        assert_eq!(s, StatusCode::OK, "{next}: {b}");
        docs.extend(b["value"].as_array().unwrap().iter().cloned());
        assert!(
            b.get("@odata.nextLink").is_none() || b.get("@odata.deltaLink").is_none(),
            "a page has one link, not both: {b}"
        );
        if let Some(link) = b["@odata.nextLink"].as_str() {
            assert!(link.contains("$skiptoken="), "{link}");
            next = path_of(link);
        } else {
            let link = b["@odata.deltaLink"].as_str().unwrap_or_else(|| panic!("no deltaLink: {b}"));
            assert!(link.starts_with(&format!("{BASE}{}", path.split('?').next().unwrap())), "{link}");
            assert!(link.contains("$deltatoken="), "{link}");
            return (docs, path_of(link), pages);
        }
    }
    panic!("runaway paging")
}

fn doc_ids(docs: &[Value]) -> Vec<String> {
    docs.iter().map(|d| d["id"].as_str().unwrap().to_owned()).collect()
}

#[actix_web::test]
async fn an_initial_sync_then_deltas_return_exactly_what_arrived_since() {
    each_backend(|app| async move {
        let admin = admin_token(TENANT_A);
        let now = app.now();
        let first: Vec<Value> =
            (1..=5).map(|n| sign_in_doc(n, now - Duration::hours(6 - n as i64), USER_OID)).collect();
        let (s, b) = app.ingest(&ingest_token(TENANT_A), &first).await;
        assert_eq!(s, StatusCode::OK, "{b}");

        // The initial sync: everything, in arrival order, in pages of $top, then a deltaLink.
        let (docs, delta, pages) = sync(&app, &format!("{SIGN_INS_DELTA}?$top=2"), &admin).await;
        assert_eq!(doc_ids(&docs), doc_ids(&first));
        assert_eq!(pages, 3);
        assert_eq!(
            docs[0],
            first[0]
                .as_object()
                .map(|m| {
                    let mut m = m.clone();
                    m.remove("signInEventTypes"); // beta-only: not under /v1.0
                    Value::Object(m)
                })
                .unwrap()
        );
        assert!(delta.contains("$top=2"), "{delta}");

        // Nothing new: an empty page and a deltaLink again.
        let (s, b) = app.get(&delta, &admin).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(ids(&b), Vec::<String>::new());
        let delta = path_of(b["@odata.deltaLink"].as_str().unwrap());

        // New records, one dated ten days back (a late arrival), with a re-sent old one: exactly
        // the new ones, in the order they arrived, whatever their own time.
        let late = sign_in_doc(6, now - Duration::days(10), USER_OID);
        let fresh = sign_in_doc(7, now, OTHER_OID);
        let (s, b) = app.ingest(&ingest_token(TENANT_A), &[fresh.clone(), first[2].clone()]).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["duplicates"], json!(1), "{b}");
        let (s, _) = app.ingest(&ingest_token(TENANT_A), &[late.clone(), first[0].clone()]).await;
        assert_eq!(s, StatusCode::OK);
        let (docs, delta, _) = sync(&app, &delta, &admin).await;
        assert_eq!(doc_ids(&docs), doc_ids(&[fresh, late]));
        let (docs, _, _) = sync(&app, &delta, &admin).await;
        assert!(docs.is_empty(), "nothing twice: {docs:?}");

        // $select shapes the documents and the context, and is kept in the links.
        let (s, b) = app.get(&format!("{SIGN_INS_DELTA}?$select=id,createdDateTime&$top=3"), &admin).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert!(b["@odata.context"].as_str().unwrap().ends_with("#auditLogs/signIns(id,createdDateTime)"), "{b}");
        assert_eq!(b["value"][0].as_object().unwrap().len(), 2, "{b}");
        let next = b["@odata.nextLink"].as_str().unwrap();
        assert!(next.contains("$select=id,createdDateTime"), "{next}");
        // ... and bound into the token: another $select with it is refused.
        let changed = path_of(next).replace("$select=id,createdDateTime", "$select=id");
        let (s, b) = app.get(&changed, &admin).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");

        // $filter and $orderby are refused by name: arrival order is the order.
        for q in ["$filter=userId%20eq%20'x'", "$orderby=createdDateTime"] {
            let (s, b) = app.get(&format!("{SIGN_INS_DELTA}?{q}"), &admin).await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "{q}: {b}");
            assert!(b["error"]["message"].as_str().unwrap().contains("arrival"), "{b}");
        }
        // Both tokens at once, and a tampered one, are 400 in Graph's envelope.
        let (s, b) = app.get(&format!("{delta}&$skiptoken=x"), &admin).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
        let (s, b) = app.get(&format!("{}x", delta), &admin).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
        assert_eq!(b["error"]["code"], "BadRequest");
        // A list skiptoken is not a delta token.
        let (_, list) = app.get("/v1.0/auditLogs/signIns?$top=1", &admin).await;
        let skiptoken = list["@odata.nextLink"].as_str().unwrap().split("$skiptoken=").nth(1).unwrap().to_owned();
        let (s, b) = app.get(&format!("{SIGN_INS_DELTA}?$skiptoken={skiptoken}"), &admin).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
        // Only GET.
        let (s, _, _) = app
            .send(
                test::TestRequest::post()
                    .uri(SIGN_INS_DELTA)
                    .insert_header(("Authorization", format!("Bearer {admin}"))),
            )
            .await;
        assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
    })
    .await;
}

#[actix_web::test]
async fn the_feed_has_the_lists_access_masks_and_token_binding() {
    each_backend(|app| async move {
        let now = app.now();
        let mine: Vec<Value> = (1..=3).map(|n| sign_in_doc(n, now - Duration::minutes(n as i64), USER_OID)).collect();
        let theirs: Vec<Value> =
            (4..=6).map(|n| sign_in_doc(n, now - Duration::minutes(n as i64), OTHER_OID)).collect();
        let all: Vec<Value> = mine.iter().chain(&theirs).cloned().collect();
        app.ingest(&ingest_token(TENANT_A), &all).await;
        app.ingest(&ingest_token(TENANT_B), &all).await;

        // A plain user's feed has only their sign-ins, and no Conditional Access details.
        let user = user_token(TENANT_A, USER_OID);
        let (docs, user_delta, _) = sync(&app, SIGN_INS_DELTA, &user).await;
        assert_eq!(doc_ids(&docs), doc_ids(&mine));
        assert!(docs.iter().all(|d| d.get("appliedConditionalAccessPolicies").is_none()), "{docs:?}");
        let (docs, admin_delta, _) = sync(&app, SIGN_INS_DELTA, &admin_token(TENANT_A)).await;
        assert_eq!(doc_ids(&docs), doc_ids(&all));
        assert!(docs.iter().all(|d| d.get("appliedConditionalAccessPolicies").is_some()));
        app.ingest(&ingest_token(TENANT_A), &[sign_in_doc(7, now, OTHER_OID), sign_in_doc(8, now, USER_OID)]).await;
        let (docs, _, _) = sync(&app, &user_delta, &user).await;
        assert_eq!(doc_ids(&docs), vec![guid(8)]);

        // Tokens are bound to the caller: another user's, or another tenant's admin's, is 400.
        for other in [user_token(TENANT_A, OTHER_OID), admin_token(TENANT_B)] {
            let (s, b) = app.get(&user_delta, &other).await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
            assert!(b["error"]["message"].as_str().unwrap().contains("$deltatoken"), "{b}");
        }
        // ... and to the set: the sign-ins' token on the audits' feed is 400.
        let token = admin_delta.split("$deltatoken=").nth(1).unwrap();
        let (s, b) = app.get(&format!("{AUDITS}/delta?$deltatoken={token}"), &admin_token(TENANT_A)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");

        // Tenant B is on P1: the P2 risk properties read `hidden`, as in the list.
        let (docs, _, _) = sync(&app, SIGN_INS_DELTA, &admin_token(TENANT_B)).await;
        assert_eq!(docs.len(), all.len());
        assert!(docs.iter().all(|d| d["riskLevelAggregated"] == "hidden" && d["riskDetail"] == "hidden"), "{docs:?}");
        let (_, list) = app.get("/v1.0/auditLogs/signIns?$top=1", &admin_token(TENANT_B)).await;
        assert_eq!(list["value"][0]["riskLevelDuringSignIn"], "hidden");

        // Who may not read the list may not read the feed (an app without AuditLog.Read.All).
        let (s, b) = app.get(SIGN_INS_DELTA, &app_token(TENANT_A, &["Directory.Read.All"])).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    })
    .await;
}

/// The app started again over the same database (a restart, or another instance), then `path`.
async fn restarted_get(app: TestApp, path: &str, token: &str) -> (TestApp, StatusCode, Value) {
    let app = app.restarted().await;
    let (status, body) = app.get(path, token).await;
    (app, status, body)
}

#[actix_web::test]
async fn tokens_survive_a_restart_and_expire_with_retention() {
    each_backend(|app| async move {
        let admin = admin_token(TENANT_A);
        let now = app.now();
        app.ingest(&ingest_token(TENANT_A), &[sign_in_doc(1, now, USER_OID), sign_in_doc(2, now, USER_OID)]).await;
        let (s, b) = app.get(&format!("{SIGN_INS_DELTA}?$top=1"), &admin).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let next = path_of(b["@odata.nextLink"].as_str().unwrap());

        // Another server over the same database accepts the token (the key is in the database).
        let (app, s, b) = restarted_get(app, &next, &admin).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(ids(&b), vec![guid(2)]);
        let delta = path_of(b["@odata.deltaLink"].as_str().unwrap());
        app.ingest(&ingest_token(TENANT_A), &[sign_in_doc(3, now, USER_OID)]).await;
        let (app, s, b) = restarted_get(app, &delta, &admin).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(ids(&b), vec![guid(3)]);
        let delta = path_of(b["@odata.deltaLink"].as_str().unwrap());

        // Within retention a deltaLink keeps working; past it (and the purge), 410 and a restart.
        app.clock.advance(Duration::days(29));
        let (s, b) = app.get(&delta, &admin).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(ids(&b), Vec::<String>::new());
        app.clock.advance(Duration::days(2));
        app.store.purge(false).unwrap();
        assert_eq!(app.count_rows("feed_journal", TENANT_A), 0, "the purge takes the journal rows too");
        let (s, b) = app.get(&delta, &admin).await;
        assert_eq!(s, StatusCode::GONE, "{b}");
        assert_eq!(b["error"]["code"], "syncStateNotFound");
        assert!(b["error"]["message"].as_str().unwrap().contains("full synchronization"), "{b}");
        // A fresh sync starts again, and its deltaLink works.
        let (docs, delta, _) = sync(&app, SIGN_INS_DELTA, &admin).await;
        assert!(docs.is_empty());
        app.ingest(&ingest_token(TENANT_A), &[sign_in_doc(4, app.now(), USER_OID)]).await;
        let (docs, _, _) = sync(&app, &delta, &admin).await;
        assert_eq!(doc_ids(&docs), vec![guid(4)]);
    })
    .await;
}

#[actix_web::test]
async fn risky_users_changes_appear_as_their_new_state() {
    each_backend(|app| async move {
        let admin = risk_admin(TENANT_A);
        let now = app.now();
        let (u1, u2) = ("aaaaaaaa-1111-4111-8111-000000000001", "aaaaaaaa-1111-4111-8111-000000000002");
        let users = [
            risky_user_doc(u1, now - Duration::hours(3), "atRisk", "high", "none", "Ann One"),
            risky_user_doc(u2, now - Duration::hours(2), "atRisk", "medium", "none", "Bob Two"),
        ];
        let (s, b) = ingest_kind(&app, "riskyUsers", TENANT_A, &users).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let feed = format!("{RISKY}/delta");
        let (docs, delta, _) = sync(&app, &feed, &admin).await;
        assert_eq!(doc_ids(&docs), vec![u1.to_owned(), u2.to_owned()]);
        let (_, audits_delta, _) = sync(&app, &format!("{AUDITS}/delta"), &admin).await;

        // An older state changes nothing and is not in the feed; a newer one is, once.
        let older = risky_user_doc(
            u2,
            now - Duration::hours(5),
            "remediated",
            "none",
            "userPerformedSecuredPasswordChange",
            "Bob Two",
        );
        let newer = risky_user_doc(u1, now - Duration::hours(1), "atRisk", "low", "none", "Ann One");
        let newest = risky_user_doc(u1, now - Duration::minutes(30), "atRisk", "medium", "none", "Ann One");
        ingest_kind(&app, "riskyUsers", TENANT_A, &[older, newer]).await;
        ingest_kind(&app, "riskyUsers", TENANT_A, &[newest]).await;
        let (docs, delta, _) = sync(&app, &delta, &admin).await;
        assert_eq!(doc_ids(&docs), vec![u1.to_owned()], "{docs:?}");
        assert_eq!(docs[0]["riskLevel"], "medium");

        // An admin action: the user's new state in its feed, the audit event in the audits' feed.
        let (s, b) = dismiss(&app, &admin, &[u2]).await;
        assert_eq!(s, StatusCode::NO_CONTENT, "{b}");
        let (docs, _, _) = sync(&app, &delta, &admin).await;
        assert_eq!(doc_ids(&docs), vec![u2.to_owned()]);
        assert_eq!(docs[0]["riskState"], "dismissed");
        let (docs, _, _) = sync(&app, &audits_delta, &admin).await;
        assert_eq!(docs.len(), 1, "{docs:?}");
        assert_eq!(docs[0]["activityDisplayName"], "DismissUser", "{docs:?}");
    })
    .await;
}

/// Ingests `batches` of sign-ins through `store` (one transaction each).
fn ingest_batches(store: &Store, batches: Vec<Vec<Value>>) {
    let tenant = TenantId::parse(TENANT_A).unwrap();
    for batch in batches {
        let records: Vec<SignInRecord> =
            batch.iter().map(|d| SignInRecord::from_document(&tenant, as_map(d)).unwrap()).collect();
        store.ingest_sign_ins(&tenant, records).unwrap();
    }
}

/// The feed's hard case: transactions that take their positions in one order and commit in
/// another. With the advisory lock of `storage::feed::append` taken out, this test misses ids on
/// PostgreSQL (when that was tried it did in two runs of four: the window is one round trip, so a
/// run can pass by luck, never fail by it).
#[actix_web::test]
async fn a_poller_following_deltalinks_gets_every_id_once_while_ingesters_race() {
    each_backend(|app| async move {
        let app = app.without_rate_limits().await;
        let admin = admin_token(TENANT_A);
        let now = app.now();
        // Another instance's store ingests (on PostgreSQL its transactions run side by side).
        let writer = Arc::new(Store::open_with_clock(&app.db.url, 10, app.clock.clone()).unwrap());
        let done = Arc::new(AtomicBool::new(false));
        let mut expected = BTreeSet::new();
        let mut threads = Vec::new();
        for (worker, batch_size) in [(0u64, 1usize), (1, 7), (2, 40), (3, 3), (4, 1), (5, 2), (6, 1), (7, 5)] {
            let mut batches = Vec::new();
            for b in 0..24u64 {
                let batch: Vec<Value> = (0..batch_size as u64)
                    .map(|i| {
                        let n = worker * 1_000_000 + b * 1_000 + i + 1;
                        expected.insert(guid(n));
                        // Some dated days back (late arrivals), spread over many day partitions.
                        let at = now - Duration::hours(i64::try_from((n * 7919) % (24 * 9)).unwrap());
                        sign_in_doc(n, at, if n % 2 == 0 { USER_OID } else { OTHER_OID })
                    })
                    .collect();
                batches.push(batch);
            }
            // Re-send an earlier batch: duplicates must not reappear in the feed.
            batches.push(batches[0].clone());
            let store = writer.clone();
            threads.push(std::thread::spawn(move || ingest_batches(&store, batches)));
        }
        let finisher = {
            let done = done.clone();
            std::thread::spawn(move || {
                for t in threads {
                    t.join().unwrap();
                }
                done.store(true, Ordering::SeqCst);
            })
        };

        // The poller: follows links in a tight loop while the ingesters run, then once more after.
        let mut seen: Vec<String> = Vec::new();
        let mut next = format!("{SIGN_INS_DELTA}?$top=25");
        let mut polls = 0;
        loop {
            let finished = done.load(Ordering::SeqCst);
            let (s, b) = app.get(&next, &admin).await;
            assert_eq!(s, StatusCode::OK, "{b}");
            seen.extend(ids(&b));
            polls += 1;
            match (b["@odata.nextLink"].as_str(), b["@odata.deltaLink"].as_str()) {
                (Some(link), None) => next = path_of(link),
                (None, Some(link)) => {
                    next = path_of(link);
                    if finished {
                        break;
                    }
                }
                _ => panic!("one link per page: {b}"),
            }
        }
        finisher.join().unwrap();
        let unique: HashSet<&String> = seen.iter().collect();
        assert_eq!(unique.len(), seen.len(), "an id came twice");
        let seen: BTreeSet<String> = seen.into_iter().collect();
        assert_eq!(seen.len(), expected.len(), "missed {:?}", expected.difference(&seen).take(5).collect::<Vec<_>>());
        assert_eq!(seen, expected);
        assert_eq!(app.count_rows("sign_ins", TENANT_A), i64::try_from(expected.len()).unwrap());
        assert!(polls > 2, "the poller ran alongside the ingest ({polls} polls)");
    })
    .await;
}

/// On PostgreSQL a feed page reads the journal by its index (the tenant's, or one user's) and
/// finds each sign-in by key in its day partition: no table is scanned, whatever its size.
#[actix_web::test]
async fn a_feed_page_reads_the_journal_by_index_on_postgres() {
    use diesel::connection::SimpleConnection;
    let Some(db) = postgres_db() else { return };
    let app = TestApp::new(db).await;
    let now = app.now();
    let docs: Vec<Value> = (1..=3000u64)
        .map(|n| {
            let user = if n % 100 == 0 { USER_OID.to_owned() } else { guid(n % 300 + 9_000_000) };
            sign_in_doc(n, now - Duration::hours(i64::try_from(n % 240).unwrap()), &user)
        })
        .collect();
    for chunk in docs.chunks(500) {
        let (s, b) = app.ingest(&ingest_token(TENANT_A), chunk).await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }
    let mut conn = app.connection();
    conn.batch_execute("ANALYZE; SET enable_seqscan = off;").unwrap();
    let tenant = TenantId::parse(TENANT_A).unwrap();
    let view = app.store.tenant_view(&tenant).unwrap();
    let own = USER_OID.to_lowercase();
    for (user, index) in [(None, "feed_journal_pkey"), (Some(own.as_str()), "feed_journal_by_user")] {
        let q = storage::FeedQuery {
            set: domain::sets::SetKind::SignIns.registry(),
            tenant: &tenant,
            user,
            after: 1500,
            limit: 101,
        };
        let keys: Vec<(i64, String)> = docs[1500..1600]
            .iter()
            .map(|d| {
                let ticks = domain::time::parse_ticks(d["createdDateTime"].as_str().unwrap()).unwrap();
                (ticks, d["id"].as_str().unwrap().to_owned())
            })
            .collect();
        let journal = plan(&mut conn, &app.store.feed_journal_sql(&q, 1500, 101));
        assert!(journal.contains(index), "{user:?} should read {index}:\n{journal}");
        assert!(!journal.contains("Seq Scan"), "{user:?} scans the journal:\n{journal}");
        let records = plan(&mut conn, &app.store.feed_records_sql(&q, &view, &keys));
        let partitions: BTreeSet<&str> = records
            .split("sign_ins_d")
            .skip(1)
            .filter_map(|rest| rest.get(..8).filter(|d| d.bytes().all(|b| b.is_ascii_digit())))
            .collect();
        let partitions = partitions.len();
        assert!(partitions > 0, "{records}");
        assert!(!records.contains("Seq Scan"), "{user:?} scans sign-ins:\n{records}");
        // The keys span five days: their partitions, not the other days'.
        assert!(partitions <= 6, "{user:?} reads {partitions} partitions:\n{records}");
    }
}
