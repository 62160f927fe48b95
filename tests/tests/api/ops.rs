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
