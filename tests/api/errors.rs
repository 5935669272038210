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
}

// Found by schemathesis (`.ci/run`): a route's path with a method it does not serve was
// a 404, as if the path did not exist.
#[actix_web::test]
async fn a_method_a_route_does_not_serve_is_a_405_listing_the_ones_it_does() {
    let app = TestApp::spawn().await;
    let cases = [
        (reqwest::Method::DELETE, "/api/v1/auth/login", "POST"),
        (reqwest::Method::PUT, "/api/v1/me", "DELETE, GET, PATCH"),
        (
            reqwest::Method::TRACE,
            "/api/v1/issues/0190f0a0-0000-7000-8000-000000000000",
            "GET, PATCH",
        ),
        // The fixed path wins over `/issues/{id}`, as it does in routing.
        (reqwest::Method::OPTIONS, "/api/v1/issues/duplicates", "GET"),
        (reqwest::Method::POST, "/health/live", "GET"),
    ];
    for (method, path, allowed) in cases {
        let response = app
            .client
            .request(method.clone(), app.url(path))
            .send()
            .await
            .unwrap();
        let allow = response
            .headers()
            .get("allow")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        assert_eq!(allow.as_deref(), Some(allowed), "{method} {path}");
        problem(response, 405, "method_not_allowed").await;
    }
    // Open311 answers in its own error format.
    let response = app
        .client
        .post(app.url("/open311/v2/services.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 405);
    assert_eq!(response.headers()["allow"], "GET");
    let errors = crate::helpers::expect(response, 405).await;
    assert_eq!(errors[0]["code"], 405, "{errors}");
}

// Found by schemathesis: serde reads a struct from a JSON array of its fields, so
// `PATCH /me` with `["Mallory", null]` renamed the account although the schema asks
// for an object.
#[actix_web::test]
async fn a_json_body_that_is_not_an_object_is_a_422_problem_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let ada = app.citizen("ada@example.org").await;
    let before = crate::helpers::expect(app.get_as("/me", &ada.access_token).await, 200).await;
    for body in ["[\"Mallory\", null]", "[]", "null", "\"Mallory\"", "7"] {
        let response = app
            .client
            .patch(app.api("/me"))
            .bearer_auth(&ada.access_token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        problem(response, 422, "invalid_body").await;
    }
    let after = crate::helpers::expect(app.get_as("/me", &ada.access_token).await, 200).await;
    assert_eq!(after["display_name"], before["display_name"]);
    // A body that is not JSON at all is still a 400, and an object still works.
    let response = app
        .client
        .post(app.api("/auth/login"))
        .header("content-type", "application/json")
        .body("[")
        .send()
        .await
        .unwrap();
    problem(response, 400, "malformed_json").await;
    let response = app
        .client
        .patch(app.api("/me"))
        .bearer_auth(&ada.access_token)
        .json(&serde_json::json!({"display_name": "Ada L."}))
        .send()
        .await
        .unwrap();
    let me = crate::helpers::expect(response, 200).await;
    assert_eq!(me["display_name"], "Ada L.");
}

// Found by schemathesis: the duplicates search answered an ended or bad bearer token
// with a 401 its documentation did not list.
#[actix_web::test]
async fn the_duplicates_search_refuses_a_bad_bearer_token_as_documented() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .get(app.api("/issues/duplicates?lat=51.5&lon=-0.12&category=pothole"))
        .bearer_auth("not-a-token")
        .send()
        .await
        .unwrap();
    problem(response, 401, "invalid_token").await;
    let spec = civitas::openapi::spec();
    let operation = spec.paths.paths["/api/v1/issues/duplicates"]
        .get
        .as_ref()
        .unwrap();
    assert!(operation.responses.responses.contains_key("401"));
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
