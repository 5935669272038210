//! Operations: health probes, request ids, the OpenAPI document and docs, settings,
//! and behaviour when the database pool is exhausted.

use serde_json::Value;
use std::time::Duration;

use crate::helpers::{Node, NodeDatabase, TestApp, problem};

#[actix_web::test]
async fn liveness_and_readiness_answer_ok() {
    let app = TestApp::spawn().await;
    for path in ["/health/live", "/health/ready"] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["status"], "ok");
    }
}

#[actix_web::test]
async fn a_request_id_is_echoed_or_generated() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .get(app.url("/health/live"))
        .header("x-request-id", "client-chosen-42")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "client-chosen-42");

    let response = app
        .client
        .get(app.url("/health/live"))
        .send()
        .await
        .unwrap();
    let generated = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(generated.len(), 36, "a UUID: {generated}");

    // Errors carry one too, and an unacceptable id (too long) is replaced.
    let response = app
        .client
        .get(app.url("/nowhere"))
        .header("x-request-id", "x".repeat(500))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"].len(), 36);
}

#[actix_web::test]
async fn an_exhausted_pool_answers_503_with_retry_after_instead_of_hanging() {
    let app = TestApp::spawn_with(|config| {
        config.db_pool_size = 2;
        config.db_pool_timeout = Duration::from_millis(200);
    })
    .await;
    let ada = app.citizen("ada@example.org").await;
    let pool = app.state.pool.clone();
    let held = actix_web::web::block(move || {
        (0..pool.max_size())
            .map(|_| pool.get().unwrap())
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();

    let started = std::time::Instant::now();
    let response = app
        .client
        .get(app.url("/health/ready"))
        .send()
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(response.headers()["retry-after"], "1");
    problem(response, 503, "unavailable").await;
    let response = app.get_as("/me", &ada.access_token).await;
    problem(response, 503, "unavailable").await;

    drop(held);
    let response = app.get_as("/me", &ada.access_token).await;
    assert_eq!(response.status(), 200);
}

#[actix_web::test]
async fn the_openapi_document_is_served_and_lists_every_route() {
    let app = TestApp::spawn().await;
    let spec: Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let paths = spec["paths"].as_object().unwrap();
    for path in [
        "/api/v1/auth/register",
        "/api/v1/auth/verify-email",
        "/api/v1/auth/login",
        "/api/v1/auth/refresh",
        "/api/v1/auth/logout",
        "/api/v1/auth/password-reset",
        "/api/v1/auth/password-reset/confirm",
        "/api/v1/me",
        "/api/v1/me/password",
        "/api/v1/me/sessions",
        "/api/v1/me/sessions/{id}",
        "/.well-known/jwks.json",
        "/health/live",
        "/health/ready",
    ] {
        assert!(paths.contains_key(path), "{path} missing from the spec");
    }
    assert_eq!(
        spec["paths"]["/api/v1/auth/login"]["post"]["operationId"],
        "login"
    );
    assert!(spec["components"]["securitySchemes"]["bearer"].is_object());
}

#[actix_web::test]
async fn the_docs_page_is_served_without_external_assets() {
    let app = TestApp::spawn().await;
    let response = app.client.get(app.url("/docs")).send().await.unwrap();
    assert_eq!(response.status(), 308);
    let response = app.client.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    assert!(
        !html.contains("https://"),
        "the page must not load from a CDN"
    );
}

#[test]
fn the_committed_openapi_document_is_up_to_date() {
    let current = civitas::openapi::spec_json().unwrap();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi/openapi.json");
    if std::env::var("UPDATE_OPENAPI").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &current).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == current,
        "openapi/openapi.json is stale: run `UPDATE_OPENAPI=1 cargo test openapi` and commit it"
    );
}

fn civitas(env: &[(&str, &str)], args: &[&str]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    std::process::Command::new(env!("CARGO_BIN_EXE_civitas"))
        .args(args)
        .env_remove("DATABASE_URL")
        .env("CIVITAS_DATA_DIR", dir.path())
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

#[test]
fn a_bad_setting_stops_start_up_with_one_line_naming_it() {
    for (env, named) in [
        (("CIVITAS_BIND", "not-an-address"), "--bind"),
        (
            ("DATABASE_URL", "mysql://localhost/civitas"),
            "DATABASE_URL",
        ),
        (
            ("CIVITAS_PUBLIC_URL", "ftp://example.org"),
            "CIVITAS_PUBLIC_URL",
        ),
        (("CIVITAS_DB_POOL_SIZE", "0"), "--db-pool-size"),
        (("CIVITAS_SMTP_URL", "mail.example.org"), "CIVITAS_SMTP_URL"),
    ] {
        let output = civitas(&[env], &["serve"]);
        assert!(!output.status.success(), "{env:?} was accepted");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.trim().lines().count(), 1, "{env:?}: {stderr}");
        assert!(stderr.contains(named), "{env:?}: {stderr}");
    }
}

#[test]
fn the_openapi_command_prints_the_document() {
    let output = civitas(&[], &["openapi"]);
    assert!(output.status.success());
    let spec: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(spec["info"]["title"], "Civitas API");
}

#[actix_web::test]
async fn sigterm_lets_in_flight_requests_finish_then_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let database = NodeDatabase::fresh(dir.path());
    let mut server = Node::new(&database.url, dir.path()).start().await;
    let client = reqwest::Client::new();

    // Registration hashes a password (tens of milliseconds, one per core at a time), so
    // a burst of them is still in flight when the signal arrives.
    let run = uuid::Uuid::now_v7().simple().to_string();
    let email = |i: usize| format!("drain-{run}-{i}@example.org");
    // Connections first, each with an answer on it: the burst then goes over connections
    // the server already holds, which it reads at once. A request on a connection not yet
    // accepted when the signal closes the listener is refused at the door, and on a busy
    // machine the first answer could come back before any other had connected.
    let warm = (0..8).map(|_| client.get(server.url("/health/live")).send());
    for response in futures_util::future::join_all(warm).await {
        assert_eq!(response.unwrap().status(), 200);
    }
    let (done, mut finished) = tokio::sync::mpsc::unbounded_channel();
    for i in 0..8 {
        let request = client
            .post(server.api("/auth/register"))
            .json(&serde_json::json!({
                "email": email(i),
                "password": "correct horse battery",
                "display_name": "Drain",
            }))
            .send();
        let done = done.clone();
        actix_web::rt::spawn(async move { done.send((i, request.await)) });
    }
    drop(done);
    // Signal once the first answer is back: the others are queued at the password
    // hasher by then, unless (on a busy machine) a request had not even reached the
    // server yet; the listener closes at the signal, so such a request is refused.
    let first = finished.recv().await.unwrap();
    server.sigterm();
    let mut answers = vec![first];
    while let Some(answer) = finished.recv().await {
        answers.push(answer);
    }
    assert_eq!(answers.len(), 8);
    let status = server.wait_exit().await;
    assert!(status.success(), "exit status {status:?}");

    // Back up on the same data: an account exists exactly for each request answered
    // 201. A request the server took in is never dropped half-done, and one refused at
    // the door left nothing behind.
    server.restart().await;
    let mut answered = 0;
    for (i, response) in answers {
        let exists = client
            .post(server.api("/auth/login"))
            .json(&serde_json::json!({ "email": email(i), "password": "correct horse battery" }))
            .send()
            .await
            .unwrap()
            .status()
            == 200;
        match response {
            Ok(response) => {
                assert_eq!(response.status(), 201, "request {i}");
                assert!(exists, "request {i} was answered 201 but made no account");
                answered += 1;
            }
            Err(error) => assert!(
                !exists,
                "request {i} made an account but got no answer: {error}"
            ),
        }
    }
    // The first answer came before the signal; at least one more finished after it.
    assert!(answered >= 2, "only {answered} of 8 requests were answered");
}

#[actix_web::test]
async fn answers_are_compressed_when_the_client_accepts_it() {
    let app = TestApp::spawn().await;
    for encoding in ["gzip", "br"] {
        let response = app
            .client
            .get(app.api("/categories"))
            .header("accept-encoding", encoding)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-encoding"], encoding);
    }
    let plain = app.client.get(app.api("/categories")).send().await.unwrap();
    assert!(plain.headers().get("content-encoding").is_none());
    let body: serde_json::Value = plain.json().await.unwrap();
    assert!(body["items"].is_array());
}

#[actix_web::test]
async fn cors_admits_only_the_configured_origins() {
    let app = TestApp::spawn_with(|config| {
        config.cors_origins = vec!["https://app.council.example".into()];
    })
    .await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.api("/issues"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type",
            )
            .send()
    };
    let allowed = preflight("https://app.council.example").await.unwrap();
    assert!(allowed.status().is_success());
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://app.council.example"
    );
    let refused = preflight("https://evil.example").await.unwrap();
    assert!(
        refused
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );

    // By default no origin is allowed.
    let closed = TestApp::spawn().await;
    let response = closed
        .client
        .get(closed.api("/categories"))
        .header("origin", "https://app.council.example")
        .send()
        .await
        .unwrap();
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

#[actix_web::test]
async fn every_answer_carries_the_security_headers() {
    let app = TestApp::spawn().await;
    for path in ["/api/v1/categories", "/health/live", "/no/such/route"] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(
            response.headers()["x-content-type-options"],
            "nosniff",
            "{path}"
        );
        assert_eq!(
            response.headers()["referrer-policy"],
            "no-referrer",
            "{path}"
        );
        assert!(
            response
                .headers()
                .get("strict-transport-security")
                .is_none()
        );
        assert_eq!(
            response.headers()["content-security-policy"],
            "default-src 'none'; frame-ancestors 'none'",
            "{path}"
        );
    }
    // The Swagger UI gets a policy of its own: its page, initialiser and assets come from
    // this server only, nothing inline, nothing framing it.
    let docs_policy = "default-src 'none'; script-src 'self'; \
        style-src 'self' 'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w='; \
        img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; \
        form-action 'none'; frame-ancestors 'none'";
    for path in [
        "/docs",
        "/docs/",
        "/docs/swagger-initializer.js",
        "/docs/swagger-ui-bundle.js",
        "/docs/swagger-ui.css",
    ] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert!(
            response.status().is_success() || response.status().is_redirection(),
            "{path}: {}",
            response.status()
        );
        assert_eq!(
            response.headers()["content-security-policy"],
            docs_policy,
            "{path}"
        );
        assert_eq!(
            response.headers()["x-content-type-options"],
            "nosniff",
            "{path}"
        );
    }
    // Under that policy an inline script would not run, so the page must have none.
    let html = app
        .client
        .get(app.url("/docs/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let inline_scripts = html
        .split("<script")
        .skip(1)
        .filter(|tag| !tag.split('>').next().unwrap_or_default().contains("src="))
        .count();
    assert_eq!(inline_scripts, 0, "{html}");
    assert!(!html.contains(" style="), "{html}");
    let https =
        TestApp::spawn_with(|config| config.public_url = "https://civitas.example".into()).await;
    let response = https
        .client
        .get(https.url("/health/live"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["strict-transport-security"],
        "max-age=31536000"
    );
}

#[actix_web::test]
async fn metrics_show_the_requests_just_made_by_route_pattern() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen("ada@example.org").await;
    for _ in 0..3 {
        app.client
            .get(app.api("/categories/pothole"))
            .send()
            .await
            .unwrap();
    }
    app.get_as("/me", &citizen.access_token).await;
    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = response.text().await.unwrap();
    let line = text
        .lines()
        .find(|line| {
            line.starts_with("civitas_http_requests_total{")
                && line.contains("endpoint=\"/api/v1/categories/{code}\"")
                && line.contains("status=\"200\"")
        })
        .unwrap_or_else(|| panic!("no request count by pattern in\n{text}"));
    assert!(line.ends_with(" 3"), "{line}");
    assert!(text.contains("civitas_http_requests_duration_seconds_bucket{"));
    assert!(text.contains("civitas_db_pool_connections "));
    assert!(text.contains("civitas_outbox_backlog "));
    let sessions = text
        .lines()
        .find(|line| line.starts_with("civitas_active_sessions "))
        .unwrap();
    assert_eq!(sessions, "civitas_active_sessions 1");
}

#[actix_web::test]
async fn metrics_can_require_a_token() {
    let app = TestApp::spawn_with(|config| {
        config.metrics_token = Some(secrecy::SecretString::from("scrape-me"));
    })
    .await;
    let refused = app.client.get(app.url("/metrics")).send().await.unwrap();
    problem(refused, 401, "invalid_token").await;
    let allowed = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth("scrape-me")
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.status(), 200);
}
