//! Every error is problem+json: bad bodies, unknown routes, wrong media types.

use serde_json::Value;

use crate::helpers::{TestApp, problem};

#[actix_web::test]
async fn malformed_json_is_a_400_problem() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .post(app.api("/auth/login"))
        .header("content-type", "application/json")
        .body("{\"email\": ")
        .send()
        .await
        .unwrap();
    problem(response, 400, "malformed_json").await;
}

#[actix_web::test]
async fn a_body_over_one_mebibyte_is_a_413_problem() {
    let app = TestApp::spawn().await;
    let huge = format!("{{\"email\": \"{}\"}}", "a".repeat(1024 * 1024 + 1));
    let response = app
        .client
        .post(app.api("/auth/login"))
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    problem(response, 413, "payload_too_large").await;
}

#[actix_web::test]
async fn a_body_that_is_not_json_is_a_415_problem() {
    let app = TestApp::spawn().await;
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let mut request = app
            .client
            .post(app.api("/auth/register"))
            .body("email=a@b.org");
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        problem(request.send().await.unwrap(), 415, "unsupported_media_type").await;
    }
}

#[actix_web::test]
async fn json_of_the_wrong_shape_is_a_422_problem() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .post(app.api("/auth/login"))
        .header("content-type", "application/json")
        .body("{\"email\": 42}")
        .send()
        .await
        .unwrap();
    problem(response, 422, "invalid_body").await;
}

#[actix_web::test]
async fn unknown_routes_are_404_problems() {
    let app = TestApp::spawn().await;
    for path in ["/nowhere", "/api/v1/nowhere", "/api/v2/me"] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        problem(response, 404, "not_found").await;
    }
    let response = app
        .client
        .delete(app.api("/auth/login"))
        .send()
        .await
        .unwrap();
    problem(response, 404, "not_found").await;
}

#[actix_web::test]
async fn a_bad_query_string_is_a_problem_not_plain_text() {
    let app = TestApp::spawn().await;
    let ada = app.citizen("ada@example.org").await;
    let response = app
        .get_as("/me/sessions?limit=many", &ada.access_token)
        .await;
    problem(response, 400, "invalid_query").await;
}

#[actix_web::test]
async fn errors_never_leak_internals() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .post(app.api("/auth/login"))
        .header("content-type", "application/json")
        .body("{\"email\": \"a\",,}")
        .send()
        .await
        .unwrap();
    let body: Value = problem(response, 400, "malformed_json").await;
    let detail = body["detail"].as_str().unwrap().to_lowercase();
    for leak in ["diesel", "sqlite", "postgres", "panicked", "src/"] {
        assert!(!detail.contains(leak), "{detail}");
    }
}
