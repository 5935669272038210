//! `Idempotency-Key` on writes: replays, a key reused for another request, a retry while
//! the first is still running (also across two nodes), scopes, expiry, and the routes
//! that run background tasks inside the request's transaction (photos).

use civitas::config::{Config, DatabaseUrl};
use civitas::startup::Application;
use diesel::RunQueryDsl;
use diesel::connection::SimpleConnection;
use reqwest::{Method, Response};
use serde_json::{Value, json};
use std::sync::mpsc;
use std::time::Duration;

use crate::helpers::{Citizen, TestApp, backend_is_postgres, problem};

const KEY: &str = "idempotency-key";
const REPLAYED: &str = "idempotent-replayed";

fn litter(title: &str) -> Value {
    json!({"category": "litter", "title": title, "description": "Bags and cans",
           "lat": 51.5072, "lon": -0.1276})
}

async fn keyed(
    app: &TestApp,
    method: Method,
    path: &str,
    who: &Citizen,
    key: &str,
    body: Option<&Value>,
) -> Response {
    let mut request = app
        .client
        .request(method, app.api(path))
        .bearer_auth(&who.access_token)
        .header(KEY, key);
    if let Some(body) = body {
        request = request.json(body);
    }
    request.send().await.unwrap()
}

async fn my_issue_count(app: &TestApp, who: &Citizen) -> usize {
    let list: Value = app
        .get_as("/issues?reported_by=me&limit=100", &who.access_token)
        .await
        .json()
        .await
        .unwrap();
    list["items"].as_array().unwrap().len()
}

fn replayed(response: &Response) -> bool {
    response
        .headers()
        .get(REPLAYED)
        .is_some_and(|value| value == "true")
}

#[actix_web::test]
async fn a_retried_report_returns_the_first_answer_and_creates_nothing_new() {
    let app = TestApp::spawn().await;
    let ann = app.citizen("ann@example.org").await;
    let body = litter("Bins overflowing");

    let first = keyed(&app, Method::POST, "/issues", &ann, "k-1", Some(&body)).await;
    assert_eq!(first.status(), 201);
    assert!(!replayed(&first));
    let location = first.headers().get("location").cloned();
    let first_body = first.bytes().await.unwrap();

    for _ in 0..2 {
        let retry = keyed(&app, Method::POST, "/issues", &ann, "k-1", Some(&body)).await;
        assert_eq!(retry.status(), 201);
        assert!(replayed(&retry));
        assert_eq!(retry.headers().get("location").cloned(), location);
        assert_eq!(
            retry.headers().get("content-type").unwrap(),
            "application/json"
        );
        assert_eq!(retry.bytes().await.unwrap(), first_body);
    }
    assert_eq!(my_issue_count(&app, &ann).await, 1);

    // A new key is a new request.
    let other = keyed(&app, Method::POST, "/issues", &ann, "k-2", Some(&body)).await;
    assert_eq!(other.status(), 201);
    assert_eq!(my_issue_count(&app, &ann).await, 2);
}

#[actix_web::test]
async fn the_same_key_on_a_different_request_is_422_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let ann = app.citizen("ann@example.org").await;
    let first = keyed(
        &app,
        Method::POST,
        "/issues",
        &ann,
        "k",
        Some(&litter("One")),
    )
    .await;
    assert_eq!(first.status(), 201);
    let issue: Value = first.json().await.unwrap();

    let other_body = keyed(
        &app,
        Method::POST,
        "/issues",
        &ann,
        "k",
        Some(&litter("Two")),
    )
    .await;
    problem(other_body, 422, "idempotency_key_reused").await;
    let other_path = keyed(
        &app,
        Method::POST,
        &format!("/issues/{}/comments", issue["id"].as_str().unwrap()),
        &ann,
        "k",
        Some(&json!({"body": "Still there"})),
    )
    .await;
    problem(other_path, 422, "idempotency_key_reused").await;
    assert_eq!(my_issue_count(&app, &ann).await, 1);
    let timeline: Value = app
        .get_as(
            &format!("/issues/{}/timeline", issue["id"].as_str().unwrap()),
            &ann.access_token,
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(
        !timeline.to_string().contains("Still there"),
        "the refused comment was not made"
    );
}

#[actix_web::test]
async fn keys_are_per_caller_and_validated() {
    let app = TestApp::spawn().await;
    let ann = app.citizen("ann@example.org").await;
    let bob = app.citizen("bob@example.org").await;
    let body = litter("Same words");
    let by_ann = keyed(&app, Method::POST, "/issues", &ann, "shared", Some(&body)).await;
    let by_bob = keyed(&app, Method::POST, "/issues", &bob, "shared", Some(&body)).await;
    assert_eq!(
        (by_ann.status().as_u16(), by_bob.status().as_u16()),
        (201, 201)
    );
    assert!(!replayed(&by_bob), "Bob never sees Ann's answer");
    let (ann_issue, bob_issue): (Value, Value) =
        (by_ann.json().await.unwrap(), by_bob.json().await.unwrap());
    assert_ne!(ann_issue["id"], bob_issue["id"]);

    for bad in ["", "has space", &"k".repeat(256)] {
        let response = keyed(&app, Method::POST, "/issues", &ann, bad, Some(&body)).await;
        problem(response, 400, "invalid_idempotency_key").await;
    }
    assert_eq!(my_issue_count(&app, &ann).await, 1);
}

#[actix_web::test]
async fn refusals_are_replayed_too_but_sign_ins_are_never_stored() {
    let app = TestApp::spawn().await;
    let ann = app.citizen("ann@example.org").await;
    let invalid = json!({"category": "litter", "title": "", "lat": 51.5, "lon": -0.1});
    let first = keyed(&app, Method::POST, "/issues", &ann, "bad", Some(&invalid)).await;
    assert_eq!(first.status(), 422);
    let first_body = first.bytes().await.unwrap();
    let retry = keyed(&app, Method::POST, "/issues", &ann, "bad", Some(&invalid)).await;
    assert_eq!(retry.status(), 422);
    assert!(replayed(&retry));
    assert_eq!(retry.bytes().await.unwrap(), first_body);

    // A retried sign-in signs in again: credentials are never kept for replay.
    let login = json!({"email": ann.email, "password": crate::helpers::PASSWORD});
    let mut tokens = Vec::new();
    for _ in 0..2 {
        let response = app
            .client
            .post(app.api("/auth/login"))
            .header(KEY, "login")
            .json(&login)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert!(!replayed(&response));
        let pair: Value = response.json().await.unwrap();
        tokens.push(pair["refresh_token"].as_str().unwrap().to_owned());
    }
    assert_ne!(tokens[0], tokens[1]);
}

#[actix_web::test]
async fn deletes_and_puts_replay_and_keys_expire_after_a_day() {
    let app = TestApp::spawn().await;
    let ann = app.citizen("ann@example.org").await;
    let bob = app.citizen("bob@example.org").await;
    let issue: Value = keyed(
        &app,
        Method::POST,
        "/issues",
        &ann,
        "r",
        Some(&litter("Pothole")),
    )
    .await
    .json()
    .await
    .unwrap();
    let id = issue["id"].as_str().unwrap();
    let comment: Value = keyed(
        &app,
        Method::POST,
        &format!("/issues/{id}/comments"),
        &ann,
        "c",
        Some(&json!({"body": "Getting worse"})),
    )
    .await
    .json()
    .await
    .unwrap();
    let path = format!("/issues/{id}/comments/{}", comment["id"].as_str().unwrap());
    let deleted = keyed(&app, Method::DELETE, &path, &ann, "d", None).await;
    assert_eq!(deleted.status(), 204);
    let again = keyed(&app, Method::DELETE, &path, &ann, "d", None).await;
    assert_eq!(again.status(), 204);
    assert!(replayed(&again));

    let support_path = format!("/issues/{id}/support");
    let supported = keyed(&app, Method::PUT, &support_path, &bob, "s", None).await;
    assert_eq!(supported.status(), 200);
    let support_body = supported.bytes().await.unwrap();
    let again = keyed(&app, Method::PUT, &support_path, &bob, "s", None).await;
    assert!(replayed(&again));
    assert_eq!(again.bytes().await.unwrap(), support_body);

    // A day later the key is free: the same request acts again.
    let pool = app.state.pool.clone();
    actix_web::web::block(move || {
        let mut conn = pool.get().unwrap();
        diesel::sql_query(
            "UPDATE idempotency_keys SET expires_at = created_at WHERE idempotency_key = 'r'",
        )
        .execute(&mut conn)
        .unwrap();
    })
    .await
    .unwrap();
    let fresh = keyed(
        &app,
        Method::POST,
        "/issues",
        &ann,
        "r",
        Some(&litter("Pothole")),
    )
    .await;
    assert_eq!(fresh.status(), 201);
    assert!(!replayed(&fresh));
    assert_eq!(my_issue_count(&app, &ann).await, 2);
}

/// Holds a write lock on one issue's row (and on SQLite, the database's write lock) from
/// another connection until told to let go, so a request touching it stays in flight.
struct Blocker {
    release: mpsc::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl Blocker {
    fn hold(app: &TestApp, issue_id: &str) -> Self {
        let pool = app.state.pool.clone();
        let statement =
            format!("UPDATE issues SET support_count = support_count WHERE id = '{issue_id}'");
        let (locked, is_locked) = mpsc::channel();
        let (release, released) = mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let mut conn = pool.get().unwrap();
            let begin = if backend_is_postgres() {
                "BEGIN"
            } else {
                "BEGIN IMMEDIATE"
            };
            conn.batch_execute(begin).unwrap();
            conn.batch_execute(&statement).unwrap();
            locked.send(()).unwrap();
            released.recv().unwrap();
            conn.batch_execute("COMMIT").unwrap();
        });
        is_locked.recv().unwrap();
        Self { release, thread }
    }

    fn release(self) {
        self.release.send(()).unwrap();
        self.thread.join().unwrap();
    }
}

#[actix_web::test]
async fn a_retry_while_the_first_request_runs_is_409_then_replays_once_it_is_done() {
    let app = TestApp::spawn().await;
    let ann = app.citizen("ann@example.org").await;
    let bob = app.citizen("bob@example.org").await;
    let issue: Value = app
        .post_json_as("/issues", &ann.access_token, &litter("Broken bench"))
        .await
        .json()
        .await
        .unwrap();
    let id = issue["id"].as_str().unwrap().to_owned();
    let path = format!("/issues/{id}/support");

    let blocker = Blocker::hold(&app, &id);
    let first = {
        let (client, url, token) = (app.client.clone(), app.api(&path), bob.access_token.clone());
        actix_web::rt::spawn(async move {
            client
                .put(url)
                .bearer_auth(token)
                .header(KEY, "busy")
                .send()
                .await
                .unwrap()
        })
    };
    actix_web::rt::time::sleep(Duration::from_millis(400)).await;
    let retry = keyed(&app, Method::PUT, &path, &bob, "busy", None).await;
    assert!(retry.headers().contains_key("retry-after"));
    problem(retry, 409, "idempotency_key_in_use").await;
    blocker.release();

    let first = first.await.unwrap();
    assert_eq!(first.status(), 200);
    assert!(!replayed(&first));
    let done = keyed(&app, Method::PUT, &path, &bob, "busy", None).await;
    assert!(replayed(&done));
    let detail: Value = app
        .get_as(&format!("/issues/{id}"), &ann.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(detail["support_count"], 1);
}

#[actix_web::test]
async fn two_nodes_share_keys_replays_and_on_postgresql_the_in_flight_lock() {
    let app = TestApp::spawn().await;
    let config = Config::for_database(
        DatabaseUrl::parse(&app.database_url).unwrap(),
        app.data_dir.path().to_owned(),
    );
    let second = Application::build(config).await.unwrap();
    let second_url = format!("http://127.0.0.1:{}/api/v1", second.port());
    actix_web::rt::spawn(second.run_until_stopped());
    let ann = app.citizen("ann@example.org").await;
    let bob = app.citizen("bob@example.org").await;
    let on_second = |method: Method, path: &str, who: &Citizen, key: &str| {
        app.client
            .request(method, format!("{second_url}{path}"))
            .bearer_auth(&who.access_token)
            .header(KEY, key)
    };

    let body = litter("Graffiti");
    let first = keyed(&app, Method::POST, "/issues", &ann, "n", Some(&body)).await;
    assert_eq!(first.status(), 201);
    let first_body = first.bytes().await.unwrap();
    let retry = on_second(Method::POST, "/issues", &ann, "n")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(replayed(&retry));
    assert_eq!(retry.bytes().await.unwrap(), first_body);
    assert_eq!(my_issue_count(&app, &ann).await, 1);

    if !backend_is_postgres() {
        // SQLite serves one node: a second process on the file would queue on its lock.
        return;
    }
    let issue: Value = serde_json::from_slice(&first_body).unwrap();
    let id = issue["id"].as_str().unwrap().to_owned();
    let path = format!("/issues/{id}/support");
    let blocker = Blocker::hold(&app, &id);
    let first = {
        let (client, url, token) = (app.client.clone(), app.api(&path), bob.access_token.clone());
        actix_web::rt::spawn(async move {
            client
                .put(url)
                .bearer_auth(token)
                .header(KEY, "x")
                .send()
                .await
                .unwrap()
        })
    };
    actix_web::rt::time::sleep(Duration::from_millis(400)).await;
    let elsewhere = on_second(Method::PUT, &path, &bob, "x")
        .send()
        .await
        .unwrap();
    problem(elsewhere, 409, "idempotency_key_in_use").await;
    blocker.release();
    assert_eq!(first.await.unwrap().status(), 200);
    let done = on_second(Method::PUT, &path, &bob, "x")
        .send()
        .await
        .unwrap();
    assert!(replayed(&done));
}

#[actix_web::test]
async fn a_retried_photo_upload_is_stored_once() {
    let app = TestApp::spawn().await;
    let ann = app.citizen("ann@example.org").await;
    let issue: Value = app
        .post_json_as("/issues", &ann.access_token, &litter("Fly-tipping"))
        .await
        .json()
        .await
        .unwrap();
    let id = issue["id"].as_str().unwrap();
    // A fixed boundary, as a client resending the same bytes would.
    let mut body = b"--b0undary\r\nContent-Disposition: form-data; name=\"photo\"; \
filename=\"a.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n"
        .to_vec();
    body.extend(crate::photos::jpeg(64, 48));
    body.extend(b"\r\n--b0undary--\r\n");
    let mut answers = Vec::new();
    for _ in 0..2 {
        let response = app
            .client
            .post(app.api(&format!("/issues/{id}/photos")))
            .bearer_auth(&ann.access_token)
            .header(KEY, "photo")
            .header("content-type", "multipart/form-data; boundary=b0undary")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        answers.push((replayed(&response), response.bytes().await.unwrap()));
    }
    assert_eq!((answers[0].0, answers[1].0), (false, true));
    assert_eq!(answers[0].1, answers[1].1);
    let detail: Value = app
        .get_as(&format!("/issues/{id}"), &ann.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        detail["photos"].as_array().map(Vec::len),
        Some(1),
        "{detail}"
    );
}
