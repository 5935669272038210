//! Partner webhooks: registration and its checks (scopes, ownership, SSRF), signed
//! deliveries verified by an implementation of Standard Webhooks written here, retries,
//! 410, the delivery log, and exactly-once delivery from the transactional outbox.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use civitas::config::{Config, DatabaseUrl};
use civitas::events::dispatcher::dispatch_once;
use civitas::startup::Application;
use civitas::webhooks::sender::send_once;
use hmac::{Hmac, Mac};
use reqwest::Response;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::helpers::{TestApp, problem};

/// Settings for tests: the receiver runs on 127.0.0.1 over plain HTTP, and retries come
/// quickly.
fn local(config: &mut Config) {
    config.webhook_allow_private = true;
    config.webhook_allow_http = true;
    config.webhook_retry_delays = vec![Duration::from_millis(50); 7];
}

/// How long to wait for something the background tasks do.
const PATIENCE: Duration = Duration::from_secs(15);
/// How long to keep watching for something that must not happen.
const QUIET: Duration = Duration::from_millis(700);

/// What the receiver got: one request.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    headers: HashMap<String, String>,
    body: Vec<u8>,
    /// The status the receiver answered.
    answered: u16,
}

impl Received {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    pub(crate) fn id(&self) -> &str {
        &self.headers["webhook-id"]
    }
}

#[derive(Default)]
struct Shared {
    received: Mutex<Vec<Received>>,
    /// Statuses to answer, in order; then `otherwise`.
    script: Mutex<VecDeque<u16>>,
    otherwise: u16,
}

/// A webhook endpoint on 127.0.0.1 that records every request and answers as scripted.
pub(crate) struct Receiver {
    pub(crate) url: String,
    shared: Arc<Shared>,
}

impl Receiver {
    /// Answers 204 to everything.
    pub(crate) fn start() -> Self {
        Self::scripted(&[], 204)
    }

    /// Answers `script` in order, then `otherwise`.
    fn scripted(script: &[u16], otherwise: u16) -> Self {
        let shared = Arc::new(Shared {
            received: Mutex::new(Vec::new()),
            script: Mutex::new(script.iter().copied().collect()),
            otherwise,
        });
        let data = web::Data::from(shared.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .default_service(web::to(receive))
        })
        .workers(1)
        .bind("127.0.0.1:0")
        .unwrap();
        let port = server.addrs()[0].port();
        actix_web::rt::spawn(server.run());
        Self {
            url: format!("http://127.0.0.1:{port}/hooks/civitas"),
            shared,
        }
    }

    pub(crate) fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    /// Waits until at least `count` requests have come, and returns them all.
    async fn wait_for(&self, count: usize) -> Vec<Received> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let received = self.received();
            if received.len() >= count {
                return received;
            }
            assert!(
                Instant::now() < deadline,
                "expected {count} requests, got {}",
                received.len()
            );
            actix_web::rt::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn receive(req: HttpRequest, body: web::Bytes, shared: web::Data<Shared>) -> HttpResponse {
    let answered = shared
        .script
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or(shared.otherwise);
    let headers = req
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                value.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    shared.received.lock().unwrap().push(Received {
        headers,
        body: body.to_vec(),
        answered,
    });
    HttpResponse::build(actix_web::http::StatusCode::from_u16(answered).unwrap()).finish()
}

/// Why a delivery does not verify.
#[derive(Debug, PartialEq, Eq)]
enum Unverified {
    Missing,
    Stale,
    BadSignature,
}

/// Verifies a delivery the way a partner would, following the Standard Webhooks
/// specification independently of Civitas's code: HMAC-SHA256 keyed with the base64 after
/// `whsec_`, over `id.timestamp.body`, compared in constant time with each `v1,`
/// signature; timestamps more than 5 minutes from `now` are refused.
fn verify(
    secret: &str,
    headers: &HashMap<String, String>,
    body: &[u8],
    now: i64,
) -> Result<(), Unverified> {
    let id = headers.get("webhook-id").ok_or(Unverified::Missing)?;
    let timestamp: i64 = headers
        .get("webhook-timestamp")
        .and_then(|t| t.parse().ok())
        .ok_or(Unverified::Missing)?;
    let signatures = headers
        .get("webhook-signature")
        .ok_or(Unverified::Missing)?;
    if (now - timestamp).abs() > 5 * 60 {
        return Err(Unverified::Stale);
    }
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    let verified = signatures.split(' ').any(|signature| {
        signature
            .strip_prefix("v1,")
            .and_then(|encoded| STANDARD.decode(encoded).ok())
            .is_some_and(|bytes| mac.clone().verify_slice(&bytes).is_ok())
    });
    if verified {
        Ok(())
    } else {
        Err(Unverified::BadSignature)
    }
}

fn unix_now() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

/// A partner client with `scopes` and an access token for it.
async fn partner(app: &TestApp, name: &str, scopes: &[&str]) -> String {
    let partner = app.partner(name, scopes);
    app.partner_token(&partner).await
}

/// A partner that manages webhooks, reads issues and reports them.
async fn full_partner(app: &TestApp, name: &str) -> String {
    partner(
        app,
        name,
        &["webhooks:manage", "issues:read", "issues:write"],
    )
    .await
}

async fn subscribe(app: &TestApp, token: &str, url: &str, events: &[&str]) -> Value {
    let response = app
        .post_json_as("/webhooks", token, &json!({"url": url, "events": events}))
        .await;
    assert_eq!(response.status(), 201, "{:?}", response.text().await);
    response.json().await.unwrap()
}

/// Reports an issue as a partner; returns its id.
async fn report(app: &TestApp, token: &str, title: &str) -> String {
    let response = app
        .post_json_as(
            "/issues",
            token,
            &json!({"category": "litter", "title": title, "description": "Bags and cans",
                    "lat": 51.5, "lon": -0.1}),
        )
        .await;
    assert_eq!(response.status(), 201, "{:?}", response.text().await);
    let body: Value = response.json().await.unwrap();
    body["id"].as_str().unwrap().to_owned()
}

async fn send(app: &TestApp, method: &str, path: &str, token: Option<&str>) -> Response {
    let mut request = match method {
        "GET" => app.client.get(app.api(path)),
        "DELETE" => app.client.delete(app.api(path)),
        _ => app
            .client
            .post(app.api(path))
            .json(&json!({"url": "https://example.org/hook", "events": ["*"]})),
    };
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

async fn get_json(app: &TestApp, token: &str, path: &str) -> Value {
    let response = app.get_as(path, token).await;
    assert_eq!(response.status(), 200, "GET {path}");
    response.json().await.unwrap()
}

/// Waits until the subscription's newest delivery is no longer pending; returns the log.
async fn settled_log(app: &TestApp, token: &str, id: &str) -> Value {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let log = get_json(app, token, &format!("/webhooks/{id}/deliveries")).await;
        let first = &log["items"][0];
        if first.is_object() && first["status"] != "pending" {
            return log;
        }
        assert!(Instant::now() < deadline, "delivery still pending: {log}");
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
}

#[actix_web::test]
async fn every_webhook_route_needs_a_partner_token_with_the_webhooks_scope() {
    let app = TestApp::spawn_with(local).await;
    let owner = full_partner(&app, "Owner").await;
    let id = subscribe(&app, &owner, "https://example.org/hook", &["*"]).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let unscoped = partner(&app, "Reader", &["issues:read"]).await;
    let citizen = app.citizen("ada@example.org").await;
    let routes = [
        ("POST", "/webhooks".to_owned()),
        ("GET", "/webhooks".to_owned()),
        ("GET", format!("/webhooks/{id}")),
        ("GET", format!("/webhooks/{id}/deliveries")),
        ("DELETE", format!("/webhooks/{id}")),
    ];
    for (method, path) in &routes {
        let response = send(&app, method, path, None).await;
        assert_eq!(response.status(), 401, "{method} {path} without a token");
        problem(response, 401, "missing_token").await;
        let response = send(&app, method, path, Some(&unscoped)).await;
        problem(response, 403, "insufficient_scope").await;
        let response = send(&app, method, path, Some(&citizen.access_token)).await;
        problem(response, 403, "partners_only").await;
    }
    // None of the refused requests changed anything.
    let webhook = get_json(&app, &owner, &format!("/webhooks/{id}")).await;
    assert_eq!(webhook["status"], "active");
    let list = get_json(&app, &owner, "/webhooks").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
}

#[actix_web::test]
async fn a_partner_registers_lists_reads_and_deletes_its_webhooks_and_sees_the_secret_once() {
    let app = TestApp::spawn_with(local).await;
    let token = full_partner(&app, "Riverside Food Bank").await;
    let response = app
        .post_json_as(
            "/webhooks",
            &token,
            &json!({"url": "https://example.org/hook", "events": ["issue.*", "issue.*", "opportunity.published"],
                    "description": "  Our intake system  "}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    let id = created["id"].as_str().unwrap();
    let secret = created["secret"].as_str().unwrap();
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    assert_eq!(key.len(), 32);
    assert_eq!(created["url"], "https://example.org/hook");
    assert_eq!(
        created["events"],
        json!(["issue.*", "opportunity.published"])
    );
    assert_eq!(created["description"], "Our intake system");
    assert_eq!(created["status"], "active");
    assert_eq!(created["consecutive_failures"], 0);

    let other = subscribe(&app, &token, "https://example.org/other", &["*"]).await;
    assert_ne!(other["secret"], created["secret"]);

    let shown = get_json(&app, &token, &format!("/webhooks/{id}")).await;
    assert_eq!(shown["id"], id);
    assert!(shown.get("secret").is_none(), "{shown}");
    let page = get_json(&app, &token, "/webhooks?limit=1").await;
    assert_eq!(page["items"][0]["id"], id);
    assert!(page["items"][0].get("secret").is_none());
    let cursor = page["next_cursor"].as_str().unwrap();
    let rest = get_json(&app, &token, &format!("/webhooks?limit=1&cursor={cursor}")).await;
    assert_eq!(rest["items"][0]["id"], other["id"]);
    assert_eq!(rest["next_cursor"], Value::Null);
    let log = get_json(&app, &token, &format!("/webhooks/{id}/deliveries")).await;
    assert_eq!(log, json!({"items": [], "next_cursor": null}));

    let response = send(&app, "DELETE", &format!("/webhooks/{id}"), Some(&token)).await;
    assert_eq!(response.status(), 204);
    for (method, path) in [
        ("GET", format!("/webhooks/{id}")),
        ("GET", format!("/webhooks/{id}/deliveries")),
        ("DELETE", format!("/webhooks/{id}")),
    ] {
        problem(
            send(&app, method, &path, Some(&token)).await,
            404,
            "not_found",
        )
        .await;
    }
    let list = get_json(&app, &token, "/webhooks").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0]["id"], other["id"]);
}

#[actix_web::test]
async fn one_partner_cannot_see_or_delete_another_partners_webhooks_or_deliveries() {
    let app = TestApp::spawn_with(local).await;
    let receiver = Receiver::start();
    let alice = full_partner(&app, "Alice's charity").await;
    let bob = full_partner(&app, "Bob's charity").await;
    let id = subscribe(&app, &alice, &receiver.url, &["issue.*"]).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    report(&app, &alice, "Glass on the path").await;
    receiver.wait_for(1).await;

    for (method, path) in [
        ("GET", format!("/webhooks/{id}")),
        ("GET", format!("/webhooks/{id}/deliveries")),
        ("DELETE", format!("/webhooks/{id}")),
    ] {
        problem(
            send(&app, method, &path, Some(&bob)).await,
            404,
            "not_found",
        )
        .await;
    }
    let list = get_json(&app, &bob, "/webhooks").await;
    assert_eq!(list["items"], json!([]));
    // Alice's subscription is untouched and its log is hers to read.
    let log = settled_log(&app, &alice, &id).await;
    assert_eq!(log["items"].as_array().unwrap().len(), 1);
}

#[actix_web::test]
async fn invalid_registrations_name_every_bad_field_and_a_client_may_have_20_webhooks() {
    let app = TestApp::spawn_with(local).await;
    let token = full_partner(&app, "Partner").await;
    let long_url = format!("https://example.org/{}", "a".repeat(2048));
    let cases = [
        (
            json!({"url": "https://example.org/", "events": []}),
            vec![("events", "invalid_length")],
        ),
        (
            json!({"url": "https://example.org/", "events": ["issue.deleted"]}),
            vec![("events", "unknown_event")],
        ),
        (
            json!({"url": "https://example.org/", "events": ["iss*"]}),
            vec![("events", "unknown_event")],
        ),
        (
            json!({"url": "https://example.org/", "events": vec!["*"; 51]}),
            vec![("events", "invalid_length")],
        ),
        (
            json!({"url": long_url, "events": ["*"], "description": "x".repeat(201)}),
            vec![("url", "too_long"), ("description", "too_long")],
        ),
        (
            json!({"url": "not a url", "events": ["group.*"]}),
            vec![("url", "invalid_url")],
        ),
    ];
    for (body, expected) in cases {
        let response = app.post_json_as("/webhooks", &token, &body).await;
        let problem = problem(response, 422, "validation_failed").await;
        let fields: Vec<(String, String)> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["field"].as_str().unwrap().to_owned(),
                    e["code"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let expected: Vec<(String, String)> = expected
            .into_iter()
            .map(|(f, c)| (f.to_owned(), c.to_owned()))
            .collect();
        assert_eq!(fields, expected, "{body}");
    }
    let response = app
        .post_json_as(
            "/webhooks",
            &token,
            &json!({"url": "https://example.org/", "events": ["*"], "secret": "mine"}),
        )
        .await;
    assert_eq!(response.status(), 422, "unknown fields are refused");

    let mut ids = Vec::new();
    for n in 0..20 {
        let url = format!("https://example.org/hook/{n}");
        ids.push(subscribe(&app, &token, &url, &["*"]).await["id"].clone());
    }
    let response = app
        .post_json_as(
            "/webhooks",
            &token,
            &json!({"url": "https://example.org/21", "events": ["*"]}),
        )
        .await;
    problem(response, 409, "too_many_webhooks").await;
    let id = ids[0].as_str().unwrap();
    let response = send(&app, "DELETE", &format!("/webhooks/{id}"), Some(&token)).await;
    assert_eq!(response.status(), 204);
    subscribe(&app, &token, "https://example.org/21", &["*"]).await;
}

#[actix_web::test]
async fn urls_that_reach_internal_addresses_or_carry_credentials_are_refused() {
    // The defaults: https only, public addresses only.
    let app = TestApp::spawn().await;
    let token = full_partner(&app, "Partner").await;
    for (url, code) in [
        ("http://example.org/hook", "https_required"),
        ("https://127.0.0.1/hook", "address_not_allowed"),
        ("https://localhost/hook", "address_not_allowed"),
        ("https://10.0.0.1/hook", "address_not_allowed"),
        (
            "https://169.254.169.254/latest/meta-data",
            "address_not_allowed",
        ),
        ("https://[::1]/hook", "address_not_allowed"),
        ("https://[::ffff:127.0.0.1]/hook", "address_not_allowed"),
        ("https://100.64.0.1/hook", "address_not_allowed"),
        ("https://192.168.1.10:8443/hook", "address_not_allowed"),
        ("https://0.0.0.0/hook", "address_not_allowed"),
        (
            "https://user:password@example.org/hook",
            "userinfo_not_allowed",
        ),
        ("ftp://example.org/hook", "invalid_scheme"),
    ] {
        let response = app
            .post_json_as("/webhooks", &token, &json!({"url": url, "events": ["*"]}))
            .await;
        let body = problem(response, 422, "validation_failed").await;
        assert_eq!(body["errors"][0]["field"], "url", "{url}");
        assert_eq!(body["errors"][0]["code"], code, "{url}");
    }
    let list = get_json(&app, &token, "/webhooks").await;
    assert_eq!(list["items"], json!([]));
}

#[actix_web::test]
async fn a_url_that_turns_internal_after_registration_is_refused_at_delivery() {
    // Plain http is allowed here but private addresses are not: a subscription stored
    // with a loopback URL (as if its DNS had changed since registration) gets nothing.
    let app = TestApp::spawn_with(|config| {
        config.webhook_allow_http = true;
        config.webhook_retry_delays = vec![Duration::from_millis(50)];
    })
    .await;
    let receiver = Receiver::start();
    let partner = app.partner(
        "Partner",
        &["webhooks:manage", "issues:read", "issues:write"],
    );
    let token = app.partner_token(&partner).await;
    let client_id = partner.id.clone();
    let id = uuid::Uuid::now_v7().to_string();
    let pool = app.state.pool.clone();
    let (url, subscription_id) = (receiver.url.clone(), id.clone());
    web::block(move || {
        let mut conn = pool.get().unwrap();
        civitas::webhooks::models::insert_subscription(
            &mut conn,
            &civitas::webhooks::models::NewSubscription {
                id: subscription_id,
                client_id,
                url,
                events: vec!["*".into()],
                secret: civitas::webhooks::signature::new_secret(),
                description: None,
                created_at: civitas::db::now(),
            },
        )
    })
    .await
    .unwrap()
    .unwrap();
    report(&app, &token, "Broken bench").await;
    let log = settled_log(&app, &token, &id).await;
    let delivery = &log["items"][0];
    assert_eq!(delivery["status"], "failed", "{log}");
    assert_eq!(delivery["attempts"], 2);
    assert_eq!(delivery["last_status_code"], Value::Null);
    assert!(
        delivery["last_error"]
            .as_str()
            .unwrap()
            .contains("non-public address"),
        "{delivery}"
    );
    assert!(receiver.received().is_empty());
}

#[actix_web::test]
async fn deliveries_are_signed_so_an_independent_verifier_accepts_them_and_rejects_tampering() {
    let app = TestApp::spawn_with(local).await;
    let receiver = Receiver::start();
    let token = full_partner(&app, "Partner").await;
    let created = subscribe(&app, &token, &receiver.url, &["issue.reported"]).await;
    let secret = created["secret"].as_str().unwrap();
    let issue_id = report(&app, &token, "Overflowing bin").await;

    let received = receiver.wait_for(1).await;
    let delivery = &received[0];
    assert_eq!(delivery.headers["content-type"], "application/json");
    let now = unix_now();
    assert_eq!(
        verify(secret, &delivery.headers, &delivery.body, now),
        Ok(())
    );

    // One changed byte anywhere in the body breaks the signature.
    for at in [0, delivery.body.len() / 2, delivery.body.len() - 1] {
        let mut tampered = delivery.body.clone();
        tampered[at] ^= 0x01;
        assert_eq!(
            verify(secret, &delivery.headers, &tampered, now),
            Err(Unverified::BadSignature)
        );
    }
    // So does another id, or a timestamp moved by a second.
    let mut headers = delivery.headers.clone();
    headers.insert("webhook-id".into(), format!("{}x", delivery.id()));
    assert_eq!(
        verify(secret, &headers, &delivery.body, now),
        Err(Unverified::BadSignature)
    );
    let timestamp: i64 = delivery.headers["webhook-timestamp"].parse().unwrap();
    let mut headers = delivery.headers.clone();
    headers.insert("webhook-timestamp".into(), (timestamp + 1).to_string());
    assert_eq!(
        verify(secret, &headers, &delivery.body, now),
        Err(Unverified::BadSignature)
    );
    // A replay more than five minutes later is refused though the signature is valid.
    assert_eq!(
        verify(secret, &delivery.headers, &delivery.body, timestamp + 301),
        Err(Unverified::Stale)
    );
    // Another subscription's secret does not verify it.
    let other = subscribe(&app, &token, "https://example.org/x", &["*"]).await;
    assert_eq!(
        verify(
            other["secret"].as_str().unwrap(),
            &delivery.headers,
            &delivery.body,
            now
        ),
        Err(Unverified::BadSignature)
    );

    // The payload: type, time, and the issue as the public API shows it.
    let payload = delivery.json();
    assert_eq!(payload["type"], "issue.reported");
    let time =
        chrono::DateTime::parse_from_rfc3339(payload["timestamp"].as_str().unwrap()).unwrap();
    assert!((chrono::Utc::now() - time.to_utc()).num_seconds().abs() < 60);
    let public: Value = app
        .client
        .get(app.api(&format!("/issues/{issue_id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut data = payload["data"].clone();
    let event = data.as_object_mut().unwrap().remove("event").unwrap();
    assert_eq!(event["to_status"], "reported");
    assert_eq!(event["actor_role"], "partner");
    assert!(event["timeline_entry_id"].is_string());
    assert_eq!(data["id"], issue_id.as_str());
    assert_eq!(data["title"], public["title"]);
    assert_eq!(data["category"], public["category"]);
    assert_eq!(data["reported_via"], public["reported_via"]);
    assert_eq!(data["allowed_transitions"], json!([]));

    let log = settled_log(&app, &token, created["id"].as_str().unwrap()).await;
    let entry = &log["items"][0];
    assert_eq!(entry["id"], delivery.id());
    assert_eq!(entry["event_type"], "issue.reported");
    assert_eq!(entry["status"], "delivered");
    assert_eq!(entry["attempts"], 1);
    assert_eq!(entry["last_status_code"], 204);
    assert!(entry["last_latency_ms"].as_i64().unwrap() >= 0);
    assert_eq!(entry["next_attempt_at"], Value::Null);
    assert!(entry["delivered_at"].is_string());
}

#[actix_web::test]
async fn a_receiver_failing_three_times_then_succeeding_gets_the_event_once_with_one_id() {
    let app = TestApp::spawn_with(local).await;
    let receiver = Receiver::scripted(&[500, 500, 500], 204);
    let token = full_partner(&app, "Partner").await;
    let created = subscribe(&app, &token, &receiver.url, &["issue.*"]).await;
    let secret = created["secret"].as_str().unwrap();
    report(&app, &token, "Fly-tipping behind the shops").await;

    let received = receiver.wait_for(4).await;
    let id = received[0].id().to_owned();
    assert!(received.iter().all(|r| r.id() == id), "one webhook-id");
    assert!(received.iter().all(|r| r.body == received[0].body));
    assert!(
        received
            .iter()
            .all(|r| verify(secret, &r.headers, &r.body, unix_now()).is_ok()),
        "every attempt is signed afresh"
    );
    let answers: Vec<u16> = received.iter().map(|r| r.answered).collect();
    assert_eq!(answers, [500, 500, 500, 204]);

    let log = settled_log(&app, &token, created["id"].as_str().unwrap()).await;
    let items = log["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], id);
    assert_eq!(items[0]["status"], "delivered");
    assert_eq!(items[0]["attempts"], 4);
    assert_eq!(items[0]["last_status_code"], 204);
    assert_eq!(items[0]["last_error"], Value::Null);

    actix_web::rt::time::sleep(QUIET).await;
    assert_eq!(receiver.received().len(), 4, "nothing after the success");
    let webhook = get_json(
        &app,
        &token,
        &format!("/webhooks/{}", created["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(webhook["consecutive_failures"], 0);
    assert_eq!(webhook["status"], "active");
}

#[actix_web::test]
async fn a_receiver_that_keeps_failing_is_given_up_on_and_disabled_after_five_failed_deliveries() {
    let app = TestApp::spawn_with(|config| {
        local(config);
        config.webhook_retry_delays = vec![Duration::from_millis(30); 2];
    })
    .await;
    let receiver = Receiver::scripted(&[], 503);
    let token = full_partner(&app, "Partner").await;
    let created = subscribe(&app, &token, &receiver.url, &["issue.reported"]).await;
    let id = created["id"].as_str().unwrap();
    report(&app, &token, "Graffiti on the underpass").await;

    let log = settled_log(&app, &token, id).await;
    let entry = &log["items"][0];
    assert_eq!(entry["status"], "failed");
    assert_eq!(entry["attempts"], 3);
    assert_eq!(entry["last_status_code"], 503);
    assert_eq!(entry["last_error"], "HTTP 503");
    assert_eq!(receiver.received().len(), 3);
    let webhook = get_json(&app, &token, &format!("/webhooks/{id}")).await;
    assert_eq!(webhook["consecutive_failures"], 1);
    assert_eq!(
        webhook["status"], "active",
        "one failure does not disable it"
    );

    // Four more deliveries fail for good: the fifth in a row disables the subscription.
    for n in 2..=5 {
        report(&app, &token, &format!("More graffiti {n}")).await;
        receiver.wait_for(3 * n).await;
        settled_log(&app, &token, id).await;
    }
    let webhook = get_json(&app, &token, &format!("/webhooks/{id}")).await;
    assert_eq!(webhook["consecutive_failures"], 5);
    assert_eq!(webhook["status"], "disabled", "{webhook}");
    assert!(webhook["disabled_reason"].as_str().unwrap().contains('5'));
    report(&app, &token, "Even more graffiti").await;
    actix_web::rt::time::sleep(QUIET).await;
    assert_eq!(receiver.received().len(), 15, "nothing after disabling");
}

#[actix_web::test]
async fn a_410_answer_disables_the_subscription_and_deleting_one_stops_its_deliveries() {
    let app = TestApp::spawn_with(local).await;
    let gone = Receiver::scripted(&[], 410);
    let deleted = Receiver::start();
    let control = Receiver::start();
    let watcher = Receiver::start();
    let token = full_partner(&app, "Partner").await;
    subscribe(&app, &token, &watcher.url, &["webhook.disabled"]).await;
    let gone_id = subscribe(&app, &token, &gone.url, &["issue.*"]).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let deleted_id = subscribe(&app, &token, &deleted.url, &["issue.*"]).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    subscribe(&app, &token, &control.url, &["issue.*"]).await;
    let response = send(
        &app,
        "DELETE",
        &format!("/webhooks/{deleted_id}"),
        Some(&token),
    )
    .await;
    assert_eq!(response.status(), 204);

    report(&app, &token, "Pothole on Mill Lane").await;
    control.wait_for(1).await;
    gone.wait_for(1).await;
    let log = settled_log(&app, &token, &gone_id).await;
    assert_eq!(log["items"][0]["status"], "failed");
    assert_eq!(log["items"][0]["attempts"], 1);
    assert_eq!(log["items"][0]["last_status_code"], 410);
    let webhook = get_json(&app, &token, &format!("/webhooks/{gone_id}")).await;
    assert_eq!(webhook["status"], "disabled");
    assert!(webhook["disabled_at"].is_string());
    assert!(
        webhook["disabled_reason"].as_str().unwrap().contains("410"),
        "{webhook}"
    );
    // The partner hears of it on its other subscriptions.
    let told = watcher.wait_for(1).await[0].json();
    assert_eq!(told["type"], "webhook.disabled");
    assert_eq!(told["data"]["id"], gone_id.as_str());
    assert!(
        told["data"]["reason"].as_str().unwrap().contains("410"),
        "{told}"
    );

    report(&app, &token, "Second pothole").await;
    control.wait_for(2).await;
    actix_web::rt::time::sleep(QUIET).await;
    assert_eq!(
        gone.received().len(),
        1,
        "a disabled subscription gets nothing"
    );
    assert!(deleted.received().is_empty(), "a deleted one neither");
    let log = get_json(&app, &token, &format!("/webhooks/{gone_id}/deliveries")).await;
    assert_eq!(log["items"].as_array().unwrap().len(), 1);
}

#[actix_web::test]
async fn partners_receive_only_events_they_may_see_and_never_an_anonymous_reporter() {
    let app = TestApp::spawn_with(local).await;
    let reader = Receiver::start();
    let blind = Receiver::start();
    let reader_token = full_partner(&app, "Reader").await;
    let blind_token = partner(&app, "No issues scope", &["webhooks:manage"]).await;
    subscribe(&app, &reader_token, &reader.url, &["*"]).await;
    subscribe(&app, &blind_token, &blind.url, &["*"]).await;

    let ada = app.citizen("ada@example.org").await;
    let response = app
        .post_json_as(
            "/issues",
            &ada.access_token,
            &json!({"category": "litter", "title": "Needles in the park", "description": "By the gate",
                    "lat": 51.5, "lon": -0.1, "anonymous": true}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let issue: Value = response.json().await.unwrap();
    let reporter_id = issue["reporter"]["id"].as_str().unwrap().to_owned();

    let received = reader.wait_for(1).await;
    let payload = received[0].json();
    assert_eq!(payload["type"], "issue.reported");
    assert_eq!(payload["data"]["anonymous"], true);
    assert_eq!(payload["data"]["reporter"], Value::Null);
    let text = String::from_utf8(received[0].body.clone()).unwrap();
    assert!(!text.contains(&reporter_id), "the reporter stays anonymous");
    actix_web::rt::time::sleep(QUIET).await;
    assert!(blind.received().is_empty(), "issue events need issues:read");
    assert_eq!(reader.received().len(), 1);
}

#[actix_web::test]
async fn an_event_from_a_rolled_back_transaction_is_never_delivered() {
    let app = TestApp::spawn_with(local).await;
    let receiver = Receiver::start();
    let token = full_partner(&app, "Partner").await;
    subscribe(&app, &token, &receiver.url, &["issue.*"]).await;
    let issue_id = report(&app, &token, "Blocked drain").await;
    receiver.wait_for(1).await;

    // A change that records its event and then rolls back.
    let pool = app.state.pool.clone();
    let subject = issue_id.clone();
    let rolled_back = web::block(move || {
        let mut conn = pool.get().unwrap();
        civitas::db::transaction(&mut conn, |conn| {
            civitas::db::outbox::record(
                conn,
                "issue.commented",
                ("issue", &subject),
                json!({"timeline_entry_id": "rolled-back"}),
                civitas::db::now(),
            )?;
            Err::<(), _>(diesel::result::Error::RollbackTransaction)
        })
    })
    .await
    .unwrap();
    assert!(rolled_back.is_err());

    // A real event after it: once that has arrived, the dispatcher has been past the
    // rolled-back one's place in the outbox.
    report(&app, &token, "Second drain").await;
    receiver.wait_for(2).await;
    actix_web::rt::time::sleep(QUIET).await;
    let types: Vec<String> = receiver
        .received()
        .iter()
        .map(|r| r.json()["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(types, ["issue.reported", "issue.reported"]);
    assert!(
        receiver
            .received()
            .iter()
            .all(|r| !String::from_utf8_lossy(&r.body).contains("rolled-back"))
    );
}

#[actix_web::test]
async fn two_nodes_dispatching_and_sending_at_once_deliver_every_event_exactly_once() {
    // Two nodes on one database, each with its background dispatcher and sender, and
    // extra rounds of both started by hand at the same time, race for a backlog of events
    // (on PostgreSQL they claim and lease with SKIP LOCKED; SQLite serialises them).
    let app = TestApp::spawn_with(local).await;
    let mut config = Config::for_database(
        DatabaseUrl::parse(&app.database_url).unwrap(),
        app.data_dir.path().to_owned(),
    );
    local(&mut config);
    let second = Application::build(config).await.unwrap();
    let nodes = [app.state.clone(), second.state()];
    actix_web::rt::spawn(second.run_until_stopped());
    let receiver = Receiver::start();
    let token = full_partner(&app, "Partner").await;
    subscribe(&app, &token, &receiver.url, &["issue.commented"]).await;
    let issue_id = report(&app, &token, "Leaking hydrant").await;
    const EVENTS: usize = 250;

    for wave in 0..2 {
        let pool = app.state.pool.clone();
        let subject = issue_id.clone();
        web::block(move || {
            let mut conn = pool.get().unwrap();
            civitas::db::transaction(&mut conn, |conn| {
                for n in 0..EVENTS / 2 {
                    civitas::db::outbox::record(
                        conn,
                        "issue.commented",
                        ("issue", &subject),
                        json!({"timeline_entry_id": format!("entry-{wave}-{n}")}),
                        civitas::db::now(),
                    )?;
                }
                Ok::<_, diesel::result::Error>(())
            })
        })
        .await
        .unwrap()
        .unwrap();
        let dispatches = nodes
            .iter()
            .flat_map(|node| (0..3).map(move |_| dispatch_once(node)));
        let sends = nodes
            .iter()
            .flat_map(|node| (0..3).map(move |_| send_once(node)));
        let (dispatched, sent) = futures_util::future::join(
            futures_util::future::join_all(dispatches),
            futures_util::future::join_all(sends),
        )
        .await;
        assert!(dispatched.iter().all(Result::is_ok));
        assert!(sent.iter().all(Result::is_ok));
    }

    let received = receiver.wait_for(EVENTS).await;
    actix_web::rt::time::sleep(QUIET).await;
    let received = if receiver.received().len() > received.len() {
        receiver.received()
    } else {
        received
    };
    let mut entries: Vec<String> = received
        .iter()
        .map(|r| {
            r.json()["data"]["event"]["timeline_entry_id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    entries.sort();
    entries.dedup();
    assert_eq!(entries.len(), EVENTS, "every event arrived");
    assert_eq!(received.len(), EVENTS, "and none twice");
    let mut ids: Vec<&str> = received.iter().map(Received::id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), EVENTS);
    let pool = app.state.pool.clone();
    let backlog = web::block(move || {
        let mut conn = pool.get().unwrap();
        civitas::events::dispatcher::backlog(&mut conn)
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(backlog, 0, "every event was dispatched");
}

#[actix_web::test]
async fn pledges_go_only_to_the_partner_whose_opportunity_it_is() {
    let app = TestApp::spawn_with(local).await;
    let owner_receiver = Receiver::start();
    let other_receiver = Receiver::start();
    let owner = partner(
        &app,
        "Riverside Food Bank",
        &["webhooks:manage", "opportunities:write", "pledges:read"],
    )
    .await;
    let other = partner(&app, "Elsewhere", &["webhooks:manage", "pledges:read"]).await;
    subscribe(&app, &owner, &owner_receiver.url, &["*"]).await;
    subscribe(
        &app,
        &other,
        &other_receiver.url,
        &["opportunity.*", "pledge.*"],
    )
    .await;

    let starts = chrono::Utc::now() + chrono::TimeDelta::hours(24);
    let response = app
        .post_json_as(
            "/opportunities",
            &owner,
            &json!({"title": "Sort donations", "description": "Tins for the food bank",
                    "lat": 51.5, "lon": -0.1, "starts_at": starts.to_rfc3339(),
                    "ends_at": (starts + chrono::TimeDelta::hours(3)).to_rfc3339(),
                    "capacity": 2, "status": "published"}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let opportunity: Value = response.json().await.unwrap();
    let id = opportunity["id"].as_str().unwrap();
    let citizen = app.citizen("ada@example.org").await;
    let response = app
        .post_json_as(
            &format!("/opportunities/{id}/pledges"),
            &citizen.access_token,
            &json!({"kind": "time", "hours": 2}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let pledge: Value = response.json().await.unwrap();

    let deadline = Instant::now() + PATIENCE;
    let pledge_event = loop {
        let found = owner_receiver
            .received()
            .into_iter()
            .map(|r| r.json())
            .find(|p| p["type"] == "pledge.made");
        if let Some(found) = found {
            break found;
        }
        assert!(Instant::now() < deadline, "no pledge.made for the owner");
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(pledge_event["data"]["id"], pledge["id"]);
    assert_eq!(pledge_event["data"]["opportunity_id"], id);
    assert_eq!(pledge_event["data"]["kind"], "time");

    actix_web::rt::time::sleep(QUIET).await;
    let types = |receiver: &Receiver| -> Vec<String> {
        receiver
            .received()
            .iter()
            .map(|r| r.json()["type"].as_str().unwrap().to_owned())
            .collect()
    };
    let other_types = types(&other_receiver);
    assert_eq!(
        other_types,
        ["opportunity.published"],
        "no one else's pledges"
    );
    assert!(types(&owner_receiver).contains(&"opportunity.published".to_owned()));
    let published = other_receiver.received()[0].json();
    assert_eq!(published["data"]["id"], id);
    assert_eq!(published["data"]["title"], "Sort donations");
}

#[actix_web::test]
async fn only_the_councils_client_gets_a_reporters_contact_and_only_while_they_consent() {
    let app = TestApp::spawn_with(local).await;
    let council = Receiver::start();
    let charity = Receiver::start();
    let council_token = partner(
        &app,
        "Council systems",
        &["webhooks:manage", "issues:read", "issues:contact"],
    )
    .await;
    let charity_token = full_partner(&app, "Charity").await;
    subscribe(&app, &council_token, &council.url, &["issue.*"]).await;
    subscribe(&app, &charity_token, &charity.url, &["issue.*"]).await;
    let officer = app.staff("officer@example.org", "officer").await;
    let ada = app.citizen("ada@example.org").await;
    let consent = |granted: bool| {
        app.client
            .put(app.api("/me/consents/contact_council"))
            .bearer_auth(&ada.access_token)
            .json(&json!({"granted": granted, "version": "1"}))
            .send()
    };
    assert_eq!(consent(true).await.unwrap().status(), 200);

    let response = app
        .post_json_as(
            "/issues",
            &ada.access_token,
            &json!({"category": "litter", "title": "Fly-tipped sofa", "description": "On the verge",
                    "lat": 51.5, "lon": -0.1}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let id = response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Reported: with the community, so nobody gets contact details yet.
    let reported = council.wait_for(1).await;
    assert!(reported[0].json()["data"].get("reporter_contact").is_none());

    assert_eq!(
        set_status(&app, &ada.access_token, &id, "escalated")
            .await
            .status(),
        200
    );
    let escalated = council.wait_for(2).await[1].json();
    assert_eq!(escalated["data"]["status"], "escalated");
    assert_eq!(
        escalated["data"]["reporter_contact"]["email"],
        "ada@example.org"
    );
    let charity_copy = charity.wait_for(2).await[1].json();
    assert_eq!(charity_copy["data"]["status"], "escalated");
    assert!(charity_copy["data"].get("reporter_contact").is_none());
    // The council's officers see the same contact on the issue; a moderator does not.
    let moderator = app.staff("mod@example.org", "moderator").await;
    let seen = get_json(&app, &officer.access_token, &format!("/issues/{id}")).await;
    assert_eq!(seen["reporter_contact"]["email"], "ada@example.org");
    let seen = get_json(&app, &moderator.access_token, &format!("/issues/{id}")).await;
    assert!(seen.get("reporter_contact").is_none());

    // Consent withdrawn: the next event carries no contact.
    assert_eq!(consent(false).await.unwrap().status(), 200);
    assert_eq!(
        set_status(&app, &officer.access_token, &id, "acknowledged")
            .await
            .status(),
        200
    );
    let acknowledged = council.wait_for(3).await[2].json();
    assert_eq!(acknowledged["data"]["status"], "acknowledged");
    assert!(acknowledged["data"].get("reporter_contact").is_none());
    let seen = get_json(&app, &officer.access_token, &format!("/issues/{id}")).await;
    assert!(seen.get("reporter_contact").is_none());
    let text: String = council
        .received()
        .iter()
        .skip(2)
        .map(|r| String::from_utf8(r.body.clone()).unwrap())
        .collect();
    assert!(!text.contains("ada@example.org"));
}

async fn set_status(app: &TestApp, token: &str, id: &str, to: &str) -> Response {
    app.post_json_as(
        &format!("/issues/{id}/status"),
        token,
        &json!({"status": to, "note": "Over to the council"}),
    )
    .await
}
