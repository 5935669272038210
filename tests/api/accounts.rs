//! Registration, email verification and the profile.

use serde_json::{Value, json};
use std::time::Duration;

use crate::helpers::{PASSWORD, TestApp, problem};

#[actix_web::test]
async fn a_new_citizen_registers_verifies_and_sees_their_profile() {
    let app = TestApp::spawn().await;
    let response = app.register("  Ada@Example.ORG ", PASSWORD, " Ada ").await;
    assert_eq!(response.status(), 201);

    // Not verified yet: signing in works, but the profile says so.
    let ada = app.sign_in("ada@example.org", PASSWORD).await;
    let me: Value = app
        .get_as("/me", &ada.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["email"], "ada@example.org");
    assert_eq!(me["display_name"], "Ada");
    assert_eq!(me["role"], "citizen");
    assert_eq!(me["email_verified"], false);
    assert!(me["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(me.get("password_hash").is_none());

    let token = app
        .mail_token("ada@example.org", "verification token")
        .await;
    let response = app
        .post_json("/auth/verify-email", &json!({"token": token}))
        .await;
    assert_eq!(response.status(), 204);
    let me: Value = app
        .get_as("/me", &ada.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["email_verified"], true);

    // Single use.
    let again = app
        .post_json("/auth/verify-email", &json!({"token": token}))
        .await;
    problem(again, 400, "invalid_or_expired_token").await;
}

#[actix_web::test]
async fn emails_are_unique_whatever_their_case() {
    let app = TestApp::spawn().await;
    app.citizen("grace@example.org").await;
    let response = app
        .register("GRACE@example.org", "another long passphrase", "Imposter")
        .await;
    assert_eq!(response.status(), 201);
    // The second registration created nothing: the original password still signs in and
    // the imposter's does not.
    assert_eq!(app.login("grace@example.org", PASSWORD).await.status(), 200);
    assert_eq!(
        app.login("grace@example.org", "another long passphrase")
            .await
            .status(),
        401
    );
}

#[actix_web::test]
async fn registering_an_existing_email_answers_exactly_like_a_new_one() {
    let app = TestApp::spawn().await;
    app.citizen("taken@example.org").await;
    let fresh = app.register("fresh@example.org", PASSWORD, "Fresh").await;
    let taken = app.register("taken@example.org", PASSWORD, "Taken").await;
    assert_eq!(fresh.status(), taken.status());
    let fresh: Value = fresh.json().await.unwrap();
    let taken: Value = taken.json().await.unwrap();
    assert_eq!(fresh, taken);
    // The owner of the taken address hears about it; no verification token goes out.
    let token = app
        .try_mail_token(
            "taken@example.org",
            "verification token",
            Duration::from_millis(500),
        )
        .await;
    assert!(token.is_none());
}

#[actix_web::test]
async fn login_failures_look_the_same_for_unknown_emails_and_wrong_passwords() {
    let app = TestApp::spawn().await;
    app.citizen("known@example.org").await;
    let wrong_password = app
        .login("known@example.org", "not the password at all")
        .await;
    let unknown_email = app
        .login("nobody@example.org", "not the password at all")
        .await;
    let wrong_password = problem(wrong_password, 401, "invalid_credentials").await;
    let unknown_email = problem(unknown_email, 401, "invalid_credentials").await;
    assert_eq!(wrong_password, unknown_email);
}

#[actix_web::test]
async fn registration_reports_every_invalid_field_and_stores_nothing() {
    let app = TestApp::spawn().await;
    let response = app.register("not-an-email", "short", "   ").await;
    let body = problem(response, 422, "validation_failed").await;
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["email", "password", "display_name"]);

    let response = app.register("ok@example.org", "password123", "Ok").await;
    let body = problem(response, 422, "validation_failed").await;
    assert_eq!(body["errors"][0]["code"], "common_password");

    let response = app.register("ok@example.org", &"x".repeat(129), "Ok").await;
    let body = problem(response, 422, "validation_failed").await;
    assert_eq!(body["errors"][0]["code"], "too_long");

    assert_eq!(
        app.login("ok@example.org", "password123").await.status(),
        401
    );
}

#[actix_web::test]
async fn a_role_in_a_registration_or_profile_body_is_refused() {
    let app = TestApp::spawn().await;
    let response = app
        .post_json(
            "/auth/register",
            &json!({"email": "eve@example.org", "password": PASSWORD, "display_name": "Eve", "role": "admin"}),
        )
        .await;
    problem(response, 422, "invalid_body").await;
    assert_eq!(app.login("eve@example.org", PASSWORD).await.status(), 401);

    let eve = app.citizen("eve@example.org").await;
    let response = app
        .client
        .patch(app.api("/me"))
        .bearer_auth(&eve.access_token)
        .json(&json!({"role": "admin"}))
        .send()
        .await
        .unwrap();
    problem(response, 422, "invalid_body").await;
    let me: Value = app
        .get_as("/me", &eve.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["role"], "citizen");
}

#[actix_web::test]
async fn a_citizen_changes_their_display_name() {
    let app = TestApp::spawn().await;
    let ada = app.citizen("ada@example.org").await;
    let patch = |body: Value| {
        app.client
            .patch(app.api("/me"))
            .bearer_auth(&ada.access_token)
            .json(&body)
            .send()
    };
    let response = patch(json!({"display_name": "Ada L."})).await.unwrap();
    assert_eq!(response.status(), 200);
    let me: Value = response.json().await.unwrap();
    assert_eq!(me["display_name"], "Ada L.");

    let response = patch(json!({"display_name": "x".repeat(51)}))
        .await
        .unwrap();
    let body = problem(response, 422, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "display_name");
    let me: Value = app
        .get_as("/me", &ada.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["display_name"], "Ada L.");
}

#[actix_web::test]
async fn a_citizen_can_ask_for_a_new_verification_mail_until_verified() {
    let app = TestApp::spawn().await;
    assert_eq!(
        app.register("bo@example.org", PASSWORD, "Bo")
            .await
            .status(),
        201
    );
    let first = app.mail_token("bo@example.org", "verification token").await;
    let bo = app.sign_in("bo@example.org", PASSWORD).await;
    let response = app
        .post_json_as("/me/email-verification", &bo.access_token, &json!({}))
        .await;
    assert_eq!(response.status(), 202);
    let second = app.mail_token("bo@example.org", "verification token").await;
    // The newer link supersedes the older one.
    let stale = app
        .post_json("/auth/verify-email", &json!({"token": first}))
        .await;
    problem(stale, 400, "invalid_or_expired_token").await;
    let fresh = app
        .post_json("/auth/verify-email", &json!({"token": second}))
        .await;
    assert_eq!(fresh.status(), 204);
    let response = app
        .post_json_as("/me/email-verification", &bo.access_token, &json!({}))
        .await;
    problem(response, 409, "already_verified").await;
}

#[actix_web::test]
async fn concurrent_registrations_of_one_email_create_one_account() {
    let app = TestApp::spawn().await;
    let passwords: Vec<String> = (0..4).map(|i| format!("passphrase number {i}")).collect();
    let attempts = passwords
        .iter()
        .map(|password| app.register("twin@example.org", password, "Twin"));
    let responses = futures_util::future::join_all(attempts).await;
    assert!(responses.iter().all(|r| r.status() == 201));
    let mut signed_in = 0;
    for i in 0..4 {
        if app
            .login("twin@example.org", &format!("passphrase number {i}"))
            .await
            .status()
            == 200
        {
            signed_in += 1;
        }
    }
    assert_eq!(signed_in, 1);
}

#[actix_web::test]
async fn profile_edits_from_two_devices_do_not_overwrite_each_other_unseen() {
    let app = TestApp::spawn().await;
    let ada = app.citizen("ada@example.org").await;
    let read = app.get_as("/me", &ada.access_token).await;
    let tag = read.headers()["etag"].to_str().unwrap().to_owned();
    let edit = |tag: String, name: &'static str| {
        app.client
            .patch(app.api("/me"))
            .bearer_auth(&ada.access_token)
            .header("if-match", tag)
            .json(&json!({"display_name": name}))
            .send()
    };
    assert_eq!(edit(tag.clone(), "Ada L.").await.unwrap().status(), 200);
    problem(
        edit(tag, "Ada Lovelace").await.unwrap(),
        412,
        "precondition_failed",
    )
    .await;
    let me: Value = app
        .get_as("/me", &ada.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["display_name"], "Ada L.");
}
