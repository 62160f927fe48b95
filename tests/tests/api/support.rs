//! The test harness: a fresh database per test on each backend (SQLite always; PostgreSQL when a
//! server answers, and required under CI), the real app called in process, and tokens.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use actix_web::http::StatusCode;
use actix_web::test;
use api::auth::{Claims, sign_hs256};
use api::config::Config;
use api::startup::{Options, Started};
use api::state::AppState;
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use domain::ids::{LicenseTier, TenantId};
use domain::time::{Clock, ManualClock};
use serde_json::{Map, Value, json};
use storage::Store;

pub const SECRET: &[u8] = b"test-secret-test-secret-test-secret-0123";
pub const TENANT_A: &str = "aaaaaaaa-0000-4000-8000-000000000001";
pub const TENANT_B: &str = "bbbbbbbb-0000-4000-8000-000000000002";
pub const ADMIN_OID: &str = "11111111-1111-4111-8111-111111111111";
pub const USER_OID: &str = "22222222-2222-4222-8222-222222222222";
pub const OTHER_OID: &str = "33333333-3333-4333-8333-333333333333";

/// A database that exists for one test and is removed after it.
pub struct TestDb {
    pub url: String,
    pub backend: &'static str,
    drop_pg: Option<(String, String)>,
    drop_file: Option<std::path::PathBuf>,
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = &self.drop_pg
            && let Ok(mut c) = PgConnection::establish(admin_url)
        {
            let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
        if let Some(path) = &self.drop_file {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
            }
        }
    }
}

fn random_suffix() -> String {
    let n: u64 = rand::random();
    format!("{n:016x}")
}

impl TestDb {
    /// A PostgreSQL database the test made elsewhere (and removes with its server).
    pub fn external_postgres(url: String) -> Self {
        Self { url, backend: "postgres", drop_pg: None, drop_file: None }
    }
}

pub fn sqlite_db() -> TestDb {
    let path = std::env::temp_dir().join(format!("idtrail-test-{}.db", random_suffix()));
    TestDb { url: format!("sqlite://{}", path.display()), backend: "sqlite", drop_pg: None, drop_file: Some(path) }
}

/// The PostgreSQL server tests use: `TEST_DATABASE_URL` (a server URL, no database), or the
/// local one.
fn pg_server() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

pub fn postgres_db() -> Option<TestDb> {
    postgres_db_on(&pg_server())
}

/// A fresh database on the PostgreSQL server `server` (a URL without a database).
pub fn postgres_db_on(server: &str) -> Option<TestDb> {
    let admin_url = format!("{}/postgres", server.trim_end_matches('/'));
    let mut admin = match PgConnection::establish(&admin_url) {
        Ok(c) => c,
        Err(e) => {
            assert!(std::env::var_os("CI").is_none(), "CI is set but PostgreSQL at {admin_url} is unreachable: {e}");
            eprintln!("PostgreSQL not reachable at {admin_url}: PostgreSQL cases skipped ({e})");
            return None;
        }
    };
    let name = format!("idtrail_test_{}", random_suffix());
    if let Err(e) = admin.batch_execute(&format!("CREATE DATABASE {name}")) {
        assert!(std::env::var_os("CI").is_none(), "CI is set but creating the test database {name} failed: {e}");
        eprintln!("could not create the test database {name}: PostgreSQL cases skipped ({e})");
        return None;
    }
    Some(TestDb {
        url: format!("{}/{name}", server.trim_end_matches('/')),
        backend: "postgres",
        drop_pg: Some((admin_url, name)),
        drop_file: None,
    })
}

/// Every backend a scenario must pass on.
pub fn databases() -> Vec<TestDb> {
    let mut v = vec![sqlite_db()];
    v.extend(postgres_db());
    v
}

/// The configuration of the app under test (its database URL is set by [`TestApp::start`]).
/// Requests over a tenant's query slots wait long: tests that fire many at once on a busy machine
/// are not about fairness (`faults.rs` sets its own).
pub fn test_config() -> Config {
    Config {
        public_url: Some("https://idtrail.test".into()),
        pool_size: 4,
        tenant_query_wait_ms: 60_000,
        ..Config::default()
    }
}

/// The app under test, on one database, with a clock the test controls. It is started by
/// `api::startup::start`, as `idtrail serve` is: its partition and purge loops run.
pub struct TestApp {
    pub state: AppState,
    pub store: Arc<Store>,
    pub clock: Arc<ManualClock>,
    started: Started,
    secret: Option<Vec<u8>>,
    pub db: TestDb,
}

impl TestApp {
    /// The app on `db` with the test configuration.
    pub async fn new(db: TestDb) -> Self {
        Self::with_config(db, |_| {}).await
    }

    /// Like [`TestApp::new`], with `edit` applied to the test configuration.
    pub async fn with_config(db: TestDb, edit: impl FnOnce(&mut Config)) -> Self {
        let mut config = test_config();
        edit(&mut config);
        Self::start(db, config, Some(SECRET)).await
    }

    /// Starts the app on `db` with `config` (its database URL replaced by the test database's),
    /// accepting HS256 tokens signed with `secret` when given. Returns once the first purge is
    /// done, so that no purge of the start runs while the test moves the clock. Tenants A (P2) and
    /// B (P1) exist.
    pub async fn start(db: TestDb, config: Config, secret: Option<&[u8]>) -> Self {
        let clock = Arc::new(ManualClock::at(chrono::Utc::now()));
        let app = Self::launch(db, config, secret.map(<[u8]>::to_vec), clock).await;
        for (t, tier) in [(TENANT_A, LicenseTier::P2), (TENANT_B, LicenseTier::P1)] {
            app.store.set_tenant(&TenantId::parse(t).expect("tenant"), None, tier).expect("tenant");
        }
        app
    }

    async fn launch(db: TestDb, mut config: Config, secret: Option<Vec<u8>>, clock: Arc<ManualClock>) -> Self {
        config.database_url.clone_from(&db.url);
        let purging = config.purge_interval_seconds > 0;
        let options = Options { clock: clock.clone(), hs256_secret: secret.clone() };
        let started = api::startup::start(config, options).await.expect("start");
        if purging {
            started.purges().wait_for(|n| *n >= 1).await.expect("the purge loop runs");
        }
        let state = started.state.clone();
        let store = state.store.clone();
        Self { state, store, clock, started, secret, db }
    }

    /// The same database and clock, started again (as after a restart) with `edit` applied to the
    /// configuration. The previous instance's loops stop.
    pub async fn reconfigured(self, edit: impl FnOnce(&mut Config)) -> Self {
        let Self { state, clock, started, secret, db, store } = self;
        let mut config = (*state.config).clone();
        edit(&mut config);
        drop((state, store));
        started.stop().await;
        Self::launch(db, config, secret, clock).await
    }

    /// The same app, started again.
    pub async fn restarted(self) -> Self {
        self.reconfigured(|_| {}).await
    }

    /// The same app with rate limits off (for tests that make many calls on purpose).
    pub async fn without_rate_limits(self) -> Self {
        self.reconfigured(|c| c.rate_limit_enabled = false).await
    }

    /// Finished runs of the purge loop (see `api::startup::Started::purges`).
    pub fn purges(&self) -> tokio::sync::watch::Receiver<u64> {
        self.started.purges()
    }

    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    /// Sends a request and returns status, headers and body (JSON when it parses, else a string).
    pub async fn send(&self, req: test::TestRequest) -> (StatusCode, actix_web::http::header::HeaderMap, Value) {
        let app = test::init_service(api::app(self.state.clone())).await;
        let res = test::call_service(&app, req.to_request()).await;
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = test::read_body(res).await;
        let body =
            serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        (status, headers, body)
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        let (s, _, b) = self
            .send(test::TestRequest::get().uri(path).insert_header(("Authorization", format!("Bearer {token}"))))
            .await;
        (s, b)
    }

    /// A GET that asks for evolvable enum members (`Prefer: include-unknown-enum-members`), so
    /// documents read back as stored.
    pub async fn get_as_stored(&self, path: &str, token: &str) -> (StatusCode, Value) {
        let req = test::TestRequest::get()
            .uri(path)
            .insert_header(("Authorization", format!("Bearer {token}")))
            .insert_header(("Prefer", "include-unknown-enum-members"));
        let (s, _, b) = self.send(req).await;
        (s, b)
    }

    pub async fn ingest(&self, token: &str, docs: &[Value]) -> (StatusCode, Value) {
        let body: String = docs.iter().map(|d| format!("{d}\n")).collect();
        let (s, _, b) = self
            .send(
                test::TestRequest::post()
                    .uri("/ingest/signIns")
                    .insert_header(("Authorization", format!("Bearer {token}")))
                    .insert_header(("Content-Type", "application/x-ndjson"))
                    .set_payload(body),
            )
            .await;
        (s, b)
    }

    /// Serves the app on a port of 127.0.0.1 with `workers` workers, for tests that need a real
    /// socket; returns its address and the handle that stops it.
    pub fn serve(&self, workers: usize) -> (std::net::SocketAddr, actix_web::dev::ServerHandle) {
        let state = self.state.clone();
        let server = actix_web::HttpServer::new(move || api::app(state.clone()))
            .workers(workers)
            .bind(("127.0.0.1", 0))
            .expect("bind");
        let addr = server.addrs()[0];
        let server = server.run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        (addr, handle)
    }

    /// A connection of its own to the test's database.
    pub fn connection(&self) -> storage::conn::AnyConnection {
        match storage::DatabaseUrl::parse(&self.db.url).expect("url") {
            storage::DatabaseUrl::Sqlite { path } => {
                storage::conn::AnyConnection::Sqlite(diesel::SqliteConnection::establish(&path).expect("sqlite"))
            }
            storage::DatabaseUrl::Postgres { url } => {
                storage::conn::AnyConnection::Postgresql(PgConnection::establish(&url).expect("pg"))
            }
        }
    }

    /// Counts rows of `table` for `tenant` straight from the database.
    pub fn count_rows(&self, table: &str, tenant: &str) -> i64 {
        #[derive(diesel::QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut sql = storage::sql::Sql::new(self.store.backend());
        sql.push("SELECT COUNT(*) AS n FROM ")
            .push(table)
            .push(" WHERE tenant_id = ")
            .bind(storage::sql::Param::Text(tenant.into()));
        let db = storage::DatabaseUrl::parse(&self.db.url).expect("url");
        let mut conn = match db {
            storage::DatabaseUrl::Sqlite { path } => {
                storage::conn::AnyConnection::Sqlite(diesel::SqliteConnection::establish(&path).expect("sqlite"))
            }
            storage::DatabaseUrl::Postgres { url } => {
                storage::conn::AnyConnection::Postgresql(PgConnection::establish(&url).expect("pg"))
            }
        };
        sql.load::<N>(&mut conn).expect("count").first().map_or(0, |n| n.n)
    }
}

/// Runs `scenario` once per backend, each on a fresh database. A failure panics with a message
/// that starts with the backend it failed on (`on postgres: ...`).
pub async fn each_backend<F, Fut>(scenario: F)
where
    F: Fn(TestApp) -> Fut,
    Fut: Future<Output = ()>,
{
    for db in databases() {
        let backend = db.backend;
        eprintln!("-- on {backend}");
        let run = CatchUnwind(Box::pin(async { scenario(TestApp::new(db).await).await }));
        if let Err(panic) = run.await {
            fail_on(backend, panic);
        }
    }
}

/// Runs `check` for one backend; a failure panics with a message that names the backend.
pub fn on_backend(backend: &str, check: impl FnOnce()) {
    if let Err(panic) = std::panic::catch_unwind(AssertUnwindSafe(check)) {
        fail_on(backend, panic);
    }
}

/// Panics again with the message of `panic`, prefixed with the backend it happened on.
fn fail_on(backend: &str, panic: Box<dyn Any + Send>) -> ! {
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("(a panic without a message)");
    panic!("on {backend}: {message}")
}

/// A future that turns a panic while it is polled into `Err` (what `futures`' `catch_unwind` does).
struct CatchUnwind<'a>(Pin<Box<dyn Future<Output = ()> + 'a>>);

impl Future for CatchUnwind<'_> {
    type Output = Result<(), Box<dyn Any + Send>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = self.0.as_mut();
        match std::panic::catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(())) => Poll::Ready(Ok(())),
            Err(panic) => Poll::Ready(Err(panic)),
        }
    }
}

fn base_claims(tenant: &str) -> Claims {
    let now = chrono::Utc::now().timestamp();
    Claims {
        tid: Some(tenant.into()),
        aud: Some("https://graph.microsoft.com".into()),
        iss: Some(format!("https://sts.windows.net/{tenant}/")),
        exp: now + 3600,
        nbf: Some(now - 10),
        iat: Some(now),
        ..Claims::default()
    }
}

pub fn sign(claims: &Claims) -> String {
    sign_hs256(SECRET, claims).expect("sign")
}

pub fn user_claims(tenant: &str, oid: &str, wids: &[&str]) -> Claims {
    Claims {
        oid: Some(oid.into()),
        upn: Some(format!("{oid}@example.com")),
        scp: Some("AuditLog.Read.All Directory.Read.All".into()),
        idtyp: Some("user".into()),
        wids: wids.iter().map(|w| (*w).to_owned()).collect(),
        ..base_claims(tenant)
    }
}

pub const GLOBAL_ADMIN: &str = "62e90394-69f5-4237-9190-012177145e10";

pub fn admin_token(tenant: &str) -> String {
    sign(&user_claims(tenant, ADMIN_OID, &[GLOBAL_ADMIN]))
}

pub fn user_token(tenant: &str, oid: &str) -> String {
    sign(&user_claims(tenant, oid, &[]))
}

pub fn app_token(tenant: &str, roles: &[&str]) -> String {
    sign(&Claims {
        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        idtyp: Some("app".into()),
        azp: Some("44444444-4444-4444-8444-444444444444".into()),
        ..base_claims(tenant)
    })
}

pub fn ingest_token(tenant: &str) -> String {
    app_token(tenant, &["IdTrail.Ingest"])
}

/// A GUID made from a number (distinct numbers, distinct GUIDs).
pub fn guid(n: u64) -> String {
    format!("{:08x}-0000-4000-8000-{:012x}", n >> 16, n)
}

/// A complete v1.0 sign-in document, plus a beta-only property.
pub fn sign_in_doc(n: u64, created: chrono::DateTime<chrono::Utc>, user_oid: &str) -> Value {
    let ticks = domain::time::to_ticks(created) + i64::try_from(n % 7).unwrap_or(0);
    json!({
        "id": guid(n),
        "createdDateTime": domain::time::format_ticks(ticks),
        "userDisplayName": format!("User {n}"),
        "userPrincipalName": format!("user{n}@Contoso.com"),
        "userId": user_oid,
        "appId": "de8bc8b5-d9f9-48b1-a8ad-b748da725064",
        "appDisplayName": "Graph Explorer",
        "ipAddress": "131.107.159.37",
        "clientAppUsed": "Browser",
        "correlationId": guid(n + 1_000_000),
        "conditionalAccessStatus": "notApplied",
        "isInteractive": true,
        "riskDetail": "none",
        "riskLevelAggregated": "none",
        "riskLevelDuringSignIn": "none",
        "riskState": "none",
        "riskEventTypes": [],
        "riskEventTypes_v2": [],
        "resourceDisplayName": "Microsoft Graph",
        "resourceId": "00000003-0000-0000-c000-000000000000",
        "status": {"errorCode": if n.is_multiple_of(5) { 50126 } else { 0 }, "failureReason": null, "additionalDetails": null},
        "deviceDetail": {"deviceId": "", "displayName": null, "operatingSystem": "Windows 10", "browser": "Edge 80.0.361", "isCompliant": null, "isManaged": null, "trustType": null},
        "location": {"city": "Redmond", "state": "Washington", "countryOrRegion": "US", "geoCoordinates": {"altitude": null, "latitude": 47.68050003051758, "longitude": -122.12094116210938}},
        "appliedConditionalAccessPolicies": [{"id": "de7e60eb-ed89-4d73-8205-2227def6b7c9", "displayName": "SharePoint limited access", "enforcedGrantControls": [], "enforcedSessionControls": [], "result": "notEnabled"}],
        "signInEventTypes": ["interactiveUser"]
    })
}

pub fn as_map(v: &Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}
