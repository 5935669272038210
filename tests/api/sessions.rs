//! Sessions: refresh-token rotation and reuse detection, logout, password change and
//! reset ending sessions, the list of signed-in devices, and the login throttle.

use reqwest::Response;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::Duration;

use crate::helpers::{Citizen, PASSWORD, TestApp, problem};

const NEW_PASSWORD: &str = "a brand new passphrase";

async fn refresh(app: &TestApp, refresh_token: &str) -> Response {
    app.post_json("/auth/refresh", &json!({"refresh_token": refresh_token}))
        .await
}

/// Refreshes and returns the new pair, asserting success.
async fn refreshed(app: &TestApp, citizen: &Citizen) -> Citizen {
    let response = refresh(app, &citizen.refresh_token).await;
    assert_eq!(response.status(), 200, "refresh");
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    Citizen {
        email: citizen.email.clone(),
        access_token: body["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned(),
        refresh_token: body["refresh_token"]
            .as_str()
            .expect("refresh_token")
            .to_owned(),
        session_id: body["session_id"].as_str().expect("session_id").to_owned(),
    }
}

async fn me_status(app: &TestApp, citizen: &Citizen) -> u16 {
    app.get_as("/me", &citizen.access_token)
        .await
        .status()
        .as_u16()
}

/// Asserts that a session is over: its access token and its refresh token are refused.
async fn assert_session_ended(app: &TestApp, citizen: &Citizen) {
    problem(
        app.get_as("/me", &citizen.access_token).await,
        401,
        "session_ended",
    )
    .await;
    problem(
        refresh(app, &citizen.refresh_token).await,
        401,
        "invalid_refresh_token",
    )
    .await;
}

async fn sign_in_on(app: &TestApp, email: &str, device_name: &str) -> Citizen {
    let response = app
        .post_json(
            "/auth/login",
            &json!({"email": email, "password": PASSWORD, "device_name": device_name}),
        )
        .await;
    assert_eq!(response.status(), 200, "login");
    let body: Value = response.json().await.expect("json");
    Citizen {
        email: email.to_owned(),
        access_token: body["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned(),
        refresh_token: body["refresh_token"]
            .as_str()
            .expect("refresh_token")
            .to_owned(),
        session_id: body["session_id"].as_str().expect("session_id").to_owned(),
    }
}

async fn list_sessions(app: &TestApp, token: &str, query: &[(&str, &str)]) -> Response {
    app.client
        .get(app.api("/me/sessions"))
        .bearer_auth(token)
        .query(query)
        .send()
        .await
        .expect("request sent")
}

async fn session_items(app: &TestApp, citizen: &Citizen) -> Vec<Value> {
    let response = list_sessions(app, &citizen.access_token, &[]).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert!(body["next_cursor"].is_null(), "{body}");
    body["items"].as_array().expect("items").clone()
}

async fn delete_session(app: &TestApp, token: &str, id: &str) -> Response {
    app.client
        .delete(app.api(&format!("/me/sessions/{id}")))
        .bearer_auth(token)
        .send()
        .await
        .expect("request sent")
}

async fn change_password(app: &TestApp, citizen: &Citizen, current: &str, new: &str) -> Response {
    app.post_json_as(
        "/me/password",
        &citizen.access_token,
        &json!({"current_password": current, "new_password": new}),
    )
    .await
}

#[actix_web::test]
async fn refreshing_rotates_the_refresh_token() {
    let app = TestApp::spawn().await;
    let first = app.citizen("ada@example.org").await;
    let second = refreshed(&app, &first).await;

    assert_ne!(second.refresh_token, first.refresh_token);
    assert_ne!(second.access_token, first.access_token);
    assert_eq!(
        second.session_id, first.session_id,
        "the same session continues"
    );
    assert_eq!(me_status(&app, &second).await, 200);
    // The earlier access token lives out its short life.
    assert_eq!(me_status(&app, &first).await, 200);

    // And the new refresh token rotates in turn.
    let third = refreshed(&app, &second).await;
    assert_ne!(third.refresh_token, second.refresh_token);
    assert_eq!(me_status(&app, &third).await, 200);
}

#[actix_web::test]
async fn reusing_a_spent_refresh_token_ends_the_whole_session() {
    let app = TestApp::spawn().await;
    let original = app.citizen("ada@example.org").await;
    let elsewhere = app.sign_in("ada@example.org", PASSWORD).await;
    let rotated = refreshed(&app, &original).await;
    assert_eq!(me_status(&app, &rotated).await, 200);

    problem(
        refresh(&app, &original.refresh_token).await,
        401,
        "refresh_token_reused",
    )
    .await;

    // Every token of that session is now dead: the successor pair and the original one.
    problem(
        refresh(&app, &rotated.refresh_token).await,
        401,
        "invalid_refresh_token",
    )
    .await;
    problem(
        app.get_as("/me", &rotated.access_token).await,
        401,
        "session_ended",
    )
    .await;
    problem(
        app.get_as("/me", &original.access_token).await,
        401,
        "session_ended",
    )
    .await;
    // Presenting the spent token yet again still says so, and revives nothing.
    problem(
        refresh(&app, &original.refresh_token).await,
        401,
        "refresh_token_reused",
    )
    .await;
    assert_eq!(me_status(&app, &rotated).await, 401);

    // Another device of the same account is not affected.
    assert_eq!(me_status(&app, &elsewhere).await, 200);
    refreshed(&app, &elsewhere).await;
}

#[actix_web::test]
async fn an_unknown_refresh_token_is_refused() {
    let app = TestApp::spawn().await;
    let ada = app.citizen("ada@example.org").await;
    let unknown = civitas::auth::tokens::random_token();
    for token in [
        unknown.as_str(),
        "",
        "not-a-token",
        &"x".repeat(300),
        &ada.access_token,
    ] {
        problem(refresh(&app, token).await, 401, "invalid_refresh_token").await;
    }
    // None of that disturbed the real session.
    refreshed(&app, &ada).await;
}

#[actix_web::test]
async fn logging_out_ends_the_session() {
    let app = TestApp::spawn().await;
    let ada = app.citizen("ada@example.org").await;
    let other = app.sign_in("ada@example.org", PASSWORD).await;

    app.logout(&ada).await;

    assert_session_ended(&app, &ada).await;
    problem(
        app.post_json_as("/auth/logout", &ada.access_token, &json!({}))
            .await,
        401,
        "session_ended",
    )
    .await;
    // Only that session ended.
    assert_eq!(me_status(&app, &other).await, 200);
}

#[actix_web::test]
async fn changing_the_password_ends_every_other_session() {
    let app = TestApp::spawn().await;
    let here = app.citizen("ada@example.org").await;
    let phone = app.sign_in("ada@example.org", PASSWORD).await;
    let tablet = app.sign_in("ada@example.org", PASSWORD).await;
    let bob = app.citizen("bob@example.org").await;

    let response = change_password(&app, &here, PASSWORD, NEW_PASSWORD).await;
    assert_eq!(response.status(), 204);

    assert_session_ended(&app, &phone).await;
    assert_session_ended(&app, &tablet).await;
    // The session that changed the password goes on, refresh included.
    assert_eq!(me_status(&app, &here).await, 200);
    let here = refreshed(&app, &here).await;
    assert_eq!(me_status(&app, &here).await, 200);
    let items = session_items(&app, &here).await;
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["id"], here.session_id.as_str());
    // Another account is untouched.
    assert_eq!(me_status(&app, &bob).await, 200);

    problem(
        app.login("ada@example.org", PASSWORD).await,
        401,
        "invalid_credentials",
    )
    .await;
    app.sign_in("ada@example.org", NEW_PASSWORD).await;
}

#[actix_web::test]
async fn a_wrong_current_password_changes_nothing() {
    let app = TestApp::spawn().await;
    let here = app.citizen("ada@example.org").await;
    let phone = app.sign_in("ada@example.org", PASSWORD).await;

    let response = change_password(&app, &here, "not my password at all", NEW_PASSWORD).await;
    let body = problem(response, 422, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "current_password", "{body}");

    assert_eq!(me_status(&app, &phone).await, 200, "no session ended");
    assert_eq!(me_status(&app, &here).await, 200);
    problem(
        app.login("ada@example.org", NEW_PASSWORD).await,
        401,
        "invalid_credentials",
    )
    .await;
    app.sign_in("ada@example.org", PASSWORD).await;
}

#[actix_web::test]
async fn a_password_reset_ends_every_session_and_its_token_works_once() {
    let app = TestApp::spawn().await;
    let first = app.citizen("ada@example.org").await;
    let second = app.sign_in("ada@example.org", PASSWORD).await;

    let response = app
        .post_json("/auth/password-reset", &json!({"email": "ada@example.org"}))
        .await;
    assert_eq!(response.status(), 202);
    let token = app.mail_token("ada@example.org", "reset token").await;

    let confirm = json!({"token": token, "new_password": NEW_PASSWORD});
    let response = app
        .post_json("/auth/password-reset/confirm", &confirm)
        .await;
    assert_eq!(response.status(), 204);

    assert_session_ended(&app, &first).await;
    assert_session_ended(&app, &second).await;
    problem(
        app.login("ada@example.org", PASSWORD).await,
        401,
        "invalid_credentials",
    )
    .await;
    let after = app.sign_in("ada@example.org", NEW_PASSWORD).await;
    assert_eq!(me_status(&app, &after).await, 200);

    // Single use: the same token cannot set the password again.
    let again = json!({"token": token, "new_password": "yet another passphrase"});
    let response = app.post_json("/auth/password-reset/confirm", &again).await;
    problem(response, 400, "invalid_or_expired_token").await;
    assert_eq!(
        me_status(&app, &after).await,
        200,
        "the failed confirm ended nothing"
    );
    app.sign_in("ada@example.org", NEW_PASSWORD).await;
}

#[actix_web::test]
async fn a_reset_request_does_not_reveal_whether_the_account_exists() {
    let app = TestApp::spawn().await;
    app.citizen("ada@example.org").await;

    let known = app
        .post_json("/auth/password-reset", &json!({"email": "ada@example.org"}))
        .await;
    let unknown = app
        .post_json(
            "/auth/password-reset",
            &json!({"email": "nobody@example.org"}),
        )
        .await;
    let (known_status, unknown_status) = (known.status(), unknown.status());
    let known_body: Value = known.json().await.expect("json");
    let unknown_body: Value = unknown.json().await.expect("json");
    assert_eq!(known_status, 202);
    assert_eq!(unknown_status, known_status);
    assert_eq!(unknown_body, known_body);

    // Only the real account gets a mail.
    app.mail_token("ada@example.org", "reset token").await;
    let stray = app
        .try_mail_token(
            "nobody@example.org",
            "reset token",
            Duration::from_millis(500),
        )
        .await;
    assert!(stray.is_none());
}

#[actix_web::test]
async fn the_session_list_shows_each_device_and_marks_the_current_one() {
    let app = TestApp::spawn().await;
    let laptop = app.citizen("ada@example.org").await;
    let phone = sign_in_on(&app, "ada@example.org", "Ada's phone").await;
    let bob = app.citizen("bob@example.org").await;

    let items = session_items(&app, &phone).await;
    assert_eq!(items.len(), 2, "{items:?}");
    let current: Vec<&Value> = items
        .iter()
        .filter(|item| item["current"] == true)
        .collect();
    assert_eq!(current.len(), 1, "{items:?}");
    assert_eq!(current[0]["id"], phone.session_id.as_str());
    assert_eq!(current[0]["device_name"], "Ada's phone");
    let other = items
        .iter()
        .find(|item| item["id"] == laptop.session_id.as_str())
        .expect("the laptop's session is listed");
    assert_eq!(other["current"], false);
    assert!(other["device_name"].is_null());
    assert!(
        !items
            .iter()
            .any(|item| item["id"] == bob.session_id.as_str()),
        "only the caller's own sessions"
    );
    for item in &items {
        for field in ["created_at", "last_used_at", "expires_at"] {
            assert!(item[field].is_string(), "{field} in {item}");
        }
    }

    // Asked from the laptop, the laptop's session is the current one.
    let items = session_items(&app, &laptop).await;
    let current: Vec<&Value> = items
        .iter()
        .filter(|item| item["current"] == true)
        .collect();
    assert_eq!(current.len(), 1, "{items:?}");
    assert_eq!(current[0]["id"], laptop.session_id.as_str());
}

#[actix_web::test]
async fn paging_the_session_list_visits_every_session_once() {
    let app = TestApp::spawn().await;
    let mut expected = HashSet::new();
    let first = app.citizen("ada@example.org").await;
    expected.insert(first.session_id.clone());
    for _ in 0..4 {
        expected.insert(app.sign_in("ada@example.org", PASSWORD).await.session_id);
    }
    assert_eq!(expected.len(), 5);

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let mut query = vec![("limit", "1")];
        if let Some(cursor) = cursor.as_deref() {
            query.push(("cursor", cursor));
        }
        let response = list_sessions(&app, &first.access_token, &query).await;
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.expect("json");
        let items = body["items"].as_array().expect("items");
        assert_eq!(items.len(), 1, "{body}");
        seen.push(items[0]["id"].as_str().expect("id").to_owned());
        match body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), expected.len(), "{seen:?}");
    assert_eq!(seen.iter().cloned().collect::<HashSet<_>>(), expected);
    let mut newest_first = seen.clone();
    newest_first.sort_by(|a, b| b.cmp(a));
    assert_eq!(seen, newest_first, "newest first");
}

#[actix_web::test]
async fn deleting_a_session_signs_that_device_out() {
    let app = TestApp::spawn().await;
    let laptop = app.citizen("ada@example.org").await;
    let phone = app.sign_in("ada@example.org", PASSWORD).await;

    let response = delete_session(&app, &laptop.access_token, &phone.session_id).await;
    assert_eq!(response.status(), 204);

    assert_session_ended(&app, &phone).await;
    let items = session_items(&app, &laptop).await;
    let ids: Vec<&str> = items
        .iter()
        .map(|item| item["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, [laptop.session_id.as_str()]);

    // It is gone: deleting it again finds nothing.
    let response = delete_session(&app, &laptop.access_token, &phone.session_id).await;
    problem(response, 404, "not_found").await;
    assert_eq!(me_status(&app, &laptop).await, 200);

    // A device can also sign itself out this way.
    let response = delete_session(&app, &laptop.access_token, &laptop.session_id).await;
    assert_eq!(response.status(), 204);
    assert_session_ended(&app, &laptop).await;
}

#[actix_web::test]
async fn another_citizens_session_cannot_be_deleted() {
    let app = TestApp::spawn().await;
    let ada = app.citizen("ada@example.org").await;
    let bob = app.citizen("bob@example.org").await;

    let response = delete_session(&app, &ada.access_token, &bob.session_id).await;
    problem(response, 404, "not_found").await;
    let response = delete_session(&app, &ada.access_token, &uuid::Uuid::now_v7().to_string()).await;
    problem(response, 404, "not_found").await;

    assert_eq!(me_status(&app, &bob).await, 200);
    let bob = refreshed(&app, &bob).await;
    assert_eq!(session_items(&app, &bob).await.len(), 1);
}

#[actix_web::test]
async fn bad_paging_parameters_are_refused() {
    let app = TestApp::spawn().await;
    let ada = app.citizen("ada@example.org").await;

    let not_a_string_key = {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b"{\"id\":1}")
    };
    let too_long = "A".repeat(600);
    for cursor in [
        "!!!not base64!!!",
        "bm90IGpzb24",
        not_a_string_key.as_str(),
        too_long.as_str(),
    ] {
        let response = list_sessions(&app, &ada.access_token, &[("cursor", cursor)]).await;
        let body = problem(response, 422, "validation_failed").await;
        assert_eq!(body["errors"][0]["field"], "cursor", "{cursor}: {body}");
    }
    for limit in ["0", "101", "-1"] {
        let response = list_sessions(&app, &ada.access_token, &[("limit", limit)]).await;
        let body = problem(response, 422, "validation_failed").await;
        assert_eq!(body["errors"][0]["field"], "limit", "{limit}: {body}");
    }
    // The bounds themselves are fine.
    for limit in ["1", "100"] {
        let response = list_sessions(&app, &ada.access_token, &[("limit", limit)]).await;
        assert_eq!(response.status(), 200, "limit={limit}");
    }
}

/// Five wrong passwords, then the right one (for an account) or a wrong one again: the
/// statuses, the bodies and the `Retry-After` of the refusal.
async fn throttle_sequence(app: &TestApp, email: &str) -> (Vec<u16>, Vec<Value>, Option<u64>) {
    let mut statuses = Vec::new();
    let mut bodies = Vec::new();
    for attempt in 1..=5 {
        let response = app.login(email, &format!("wrong password {attempt}")).await;
        statuses.push(response.status().as_u16());
        bodies.push(response.json().await.expect("json"));
    }
    let response = app.login(email, PASSWORD).await;
    statuses.push(response.status().as_u16());
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.parse::<u64>()
                .expect("Retry-After is a number of seconds")
        });
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(content_type, "application/problem+json");
    bodies.push(response.json().await.expect("json"));
    (statuses, bodies, retry_after)
}

#[actix_web::test]
async fn the_sixth_sign_in_after_five_wrong_passwords_must_wait() {
    let app = TestApp::spawn().await;
    app.citizen("ada@example.org").await;

    let (statuses, bodies, retry_after) = throttle_sequence(&app, "ada@example.org").await;
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429], "{bodies:?}");
    for body in &bodies[..5] {
        assert_eq!(body["code"], "invalid_credentials", "{body}");
    }
    assert_eq!(bodies[5]["code"], "too_many_requests", "{}", bodies[5]);
    let retry_after = retry_after.expect("a Retry-After header");
    assert!(
        (1..=900).contains(&retry_after),
        "Retry-After: {retry_after}"
    );

    // Once the wait is over, the right password signs in (and clears the count).
    actix_web::rt::time::sleep(Duration::from_secs(retry_after + 1)).await;
    app.sign_in("ada@example.org", PASSWORD).await;
    let response = app.login("ada@example.org", "wrong password again").await;
    problem(response, 401, "invalid_credentials").await;
}

#[actix_web::test]
async fn the_login_throttle_answers_alike_for_an_email_without_an_account() {
    let app = TestApp::spawn().await;
    app.citizen("ada@example.org").await;

    let (known_statuses, known_bodies, known_retry) =
        throttle_sequence(&app, "ada@example.org").await;
    let (unknown_statuses, unknown_bodies, unknown_retry) =
        throttle_sequence(&app, "nobody@example.org").await;

    assert_eq!(known_statuses, [401, 401, 401, 401, 401, 429]);
    assert_eq!(unknown_statuses, known_statuses);
    assert_eq!(unknown_bodies, known_bodies);
    assert!(known_retry.is_some());
    assert_eq!(unknown_retry, known_retry);
}

#[actix_web::test]
async fn waiting_as_long_as_retry_after_says_is_enough() {
    let app = TestApp::spawn().await;
    app.citizen("ada@example.org").await;
    for attempt in 1..=5 {
        let response = app
            .login("ada@example.org", &format!("wrong password {attempt}"))
            .await;
        problem(response, 401, "invalid_credentials").await;
    }
    // Wait out the first delay (1 s), then fail once more: the next delay is 2 s.
    actix_web::rt::time::sleep(Duration::from_millis(1200)).await;
    problem(
        app.login("ada@example.org", "wrong password 6").await,
        401,
        "invalid_credentials",
    )
    .await;

    let response = app.login("ada@example.org", PASSWORD).await;
    let retry_after: u64 = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("a Retry-After header in seconds");
    problem(response, 429, "too_many_requests").await;

    // A client that waits exactly what it was told must get in.
    actix_web::rt::time::sleep(Duration::from_millis(retry_after * 1000 + 100)).await;
    let response = app.login("ada@example.org", PASSWORD).await;
    assert_eq!(
        response.status(),
        200,
        "still throttled after waiting Retry-After: {retry_after} s"
    );
}
