//! Partner clients: `civitas client create`, the OAuth 2 token endpoint, scopes, and the
//! admin routes to list, rotate and disable clients.

use reqwest::Response;
use serde_json::{Value, json};

use crate::helpers::{Partner, TestApp, problem};

async fn token_request(app: &TestApp, form: &[(&str, &str)]) -> Response {
    app.client
        .post(app.api("/oauth/token"))
        .form(form)
        .send()
        .await
        .unwrap()
}

/// Asserts an RFC 6749 error answer.
async fn oauth_error(response: Response, status: u16, error: &str) {
    assert_eq!(response.status().as_u16(), status);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], error, "{body}");
    assert!(body["error_description"].is_string());
}

fn report(title: &str) -> Value {
    json!({"category": "litter", "title": title, "description": "Bags and cans", "lat": 51.5, "lon": -0.1})
}

#[actix_web::test]
async fn a_client_gets_a_token_by_basic_auth_form_fields_or_json() {
    let app = TestApp::spawn().await;
    let partner = app.partner("Riverside Food Bank", &["issues:write", "issues:read"]);
    assert!(partner.secret.starts_with("cvs_"));

    let response = app
        .client
        .post(app.api("/oauth/token"))
        .basic_auth(&partner.id, Some(&partner.secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(body["scope"], "issues:read issues:write");
    let token = body["access_token"].as_str().unwrap();
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("partner+jwt"));
    let jwks: Value = app
        .client
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|key| key["kid"].as_str() == header.kid.as_deref())
    );

    let response = token_request(
        &app,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &partner.id),
            ("client_secret", &partner.secret),
            ("scope", "issues:read"),
        ],
    )
    .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["scope"], "issues:read", "narrowed on request");

    let response = app
        .post_json(
            "/oauth/token",
            &json!({"grant_type": "client_credentials", "client_id": partner.id, "client_secret": partner.secret}),
        )
        .await;
    assert_eq!(response.status(), 200);
}

#[actix_web::test]
async fn token_errors_follow_rfc_6749() {
    let app = TestApp::spawn().await;
    let partner = app.partner("Riverside", &["issues:read"]);
    let other = app.partner("Elsewhere", &["issues:read"]);
    let id = partner.id.as_str();
    let secret = partner.secret.as_str();
    let grant = ("grant_type", "client_credentials");

    oauth_error(
        token_request(&app, &[("client_id", id), ("client_secret", secret)]).await,
        400,
        "invalid_request",
    )
    .await;
    oauth_error(
        token_request(
            &app,
            &[
                ("grant_type", "password"),
                ("client_id", id),
                ("client_secret", secret),
            ],
        )
        .await,
        400,
        "unsupported_grant_type",
    )
    .await;
    oauth_error(token_request(&app, &[grant]).await, 401, "invalid_client").await;
    let wrong = token_request(
        &app,
        &[grant, ("client_id", id), ("client_secret", "cvs_wrong")],
    )
    .await;
    assert_eq!(
        wrong.headers()["www-authenticate"],
        "Basic realm=\"civitas\""
    );
    oauth_error(wrong, 401, "invalid_client").await;
    // Another client's secret does not open this client.
    oauth_error(
        token_request(
            &app,
            &[grant, ("client_id", id), ("client_secret", &other.secret)],
        )
        .await,
        401,
        "invalid_client",
    )
    .await;
    oauth_error(
        token_request(
            &app,
            &[
                grant,
                ("client_id", id),
                ("client_secret", secret),
                ("scope", "issues:write"),
            ],
        )
        .await,
        400,
        "invalid_scope",
    )
    .await;
    oauth_error(
        token_request(
            &app,
            &[
                grant,
                ("client_id", id),
                ("client_secret", secret),
                ("scope", "everything"),
            ],
        )
        .await,
        400,
        "invalid_scope",
    )
    .await;
    let both = app
        .client
        .post(app.api("/oauth/token"))
        .basic_auth(id, Some(secret))
        .form(&[grant, ("client_id", id), ("client_secret", secret)])
        .send()
        .await
        .unwrap();
    oauth_error(both, 400, "invalid_request").await;
    let garbled = app
        .client
        .post(app.api("/oauth/token"))
        .header("authorization", "Basic !!!")
        .form(&[grant])
        .send()
        .await
        .unwrap();
    oauth_error(garbled, 401, "invalid_client").await;
    let text = app
        .client
        .post(app.api("/oauth/token"))
        .header("content-type", "text/plain")
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    oauth_error(text, 400, "invalid_request").await;
}

#[actix_web::test]
async fn a_partner_reports_for_a_resident_only_with_the_scope() {
    let app = TestApp::spawn().await;
    let writer = app.partner("Riverside Food Bank", &["issues:write"]);
    let reader = app.partner("Read Only", &["issues:read"]);

    let token = app.partner_token(&writer).await;
    let response = app
        .post_json_as("/issues", &token, &report("Bags by the bridge"))
        .await;
    assert_eq!(response.status(), 201, "{:?}", response.text().await);
    let issue: Value = response.json().await.unwrap();
    assert_eq!(issue["reporter"], Value::Null);
    assert_eq!(
        issue["reported_via"],
        json!({"id": writer.id, "name": "Riverside Food Bank"})
    );
    let id = issue["id"].as_str().unwrap();
    let timeline: Value = app
        .client
        .get(app.api(&format!("/issues/{id}/timeline")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let reported = &timeline["items"][0];
    assert_eq!(reported["kind"], "reported");
    assert_eq!(reported["actor"]["role"], "partner");
    assert_eq!(reported["actor"]["display_name"], "Riverside Food Bank");

    let token = app.partner_token(&reader).await;
    let response = app
        .post_json_as("/issues", &token, &report("Bags again"))
        .await;
    problem(response, 403, "insufficient_scope").await;

    // A partner token is not a citizen's, and the other way round.
    let response = app.get_as("/me", &token).await;
    problem(response, 403, "citizens_only").await;
}

async fn admin_and_client(app: &TestApp) -> (String, Value) {
    let admin = app.staff("admin@example.org", "admin").await;
    let response = app
        .post_json_as(
            "/clients",
            &admin.access_token,
            &json!({"name": "  Council CRM ", "scopes": ["open311:submit", "issues:write"]}),
        )
        .await;
    assert_eq!(response.status(), 201);
    assert!(
        response.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/api/v1/clients/")
    );
    let created: Value = response.json().await.unwrap();
    (admin.access_token, created)
}

#[actix_web::test]
async fn admins_create_list_rotate_and_disable_clients() {
    let app = TestApp::spawn().await;
    let (admin, created) = admin_and_client(&app).await;
    assert_eq!(created["name"], "Council CRM");
    assert_eq!(created["scopes"], json!(["issues:write", "open311:submit"]));
    assert_eq!(created["disabled"], false);
    let id = created["id"].as_str().unwrap().to_owned();
    let partner = Partner {
        id: id.clone(),
        secret: created["client_secret"].as_str().unwrap().to_owned(),
    };
    let token = app.partner_token(&partner).await;

    let list: Value = app.get_as("/clients", &admin).await.json().await.unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert!(
        list["items"][0].get("client_secret").is_none(),
        "secrets are shown once"
    );
    let one: Value = app
        .get_as(&format!("/clients/{id}"), &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(one["id"], id.as_str());

    // Rotating the secret: the old one stops, the new one works.
    let response = app
        .post_json_as(&format!("/clients/{id}/secret"), &admin, &json!({}))
        .await;
    assert_eq!(response.status(), 200);
    let rotated: Value = response.json().await.unwrap();
    let fresh = Partner {
        id: id.clone(),
        secret: rotated["client_secret"].as_str().unwrap().to_owned(),
    };
    assert_ne!(fresh.secret, partner.secret);
    let old = token_request(
        &app,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", &partner.secret),
        ],
    )
    .await;
    oauth_error(old, 401, "invalid_client").await;
    app.partner_token(&fresh).await;

    // Taking a scope away bites at once, on tokens already issued too.
    let response = app
        .client
        .patch(app.api(&format!("/clients/{id}")))
        .bearer_auth(&admin)
        .json(&json!({"scopes": ["open311:submit"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let response = app.post_json_as("/issues", &token, &report("Bags")).await;
    problem(response, 403, "insufficient_scope").await;

    // Disabling stops the secret and every token.
    let response = app
        .client
        .patch(app.api(&format!("/clients/{id}")))
        .bearer_auth(&admin)
        .json(&json!({"disabled": true, "scopes": ["issues:write"]}))
        .send()
        .await
        .unwrap();
    let disabled: Value = response.json().await.unwrap();
    assert_eq!(disabled["disabled"], true);
    assert!(disabled["disabled_at"].is_string());
    let response = app.post_json_as("/issues", &token, &report("Bags")).await;
    problem(response, 401, "client_disabled").await;
    let response = token_request(
        &app,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", &fresh.secret),
        ],
    )
    .await;
    oauth_error(response, 401, "invalid_client").await;

    // And enabling brings it back.
    let response = app
        .client
        .patch(app.api(&format!("/clients/{id}")))
        .bearer_auth(&admin)
        .json(&json!({"disabled": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let token = app.partner_token(&fresh).await;
    let response = app.post_json_as("/issues", &token, &report("Bags")).await;
    assert_eq!(response.status(), 201);
}

#[actix_web::test]
async fn only_admins_manage_clients_and_input_is_checked() {
    let app = TestApp::spawn().await;
    let (admin, created) = admin_and_client(&app).await;
    let id = created["id"].as_str().unwrap();
    let officer = app.staff("officer@example.org", "officer").await;
    let citizen = app.citizen("ada@example.org").await;
    for token in [&officer.access_token, &citizen.access_token] {
        problem(app.get_as("/clients", token).await, 403, "forbidden").await;
        problem(
            app.get_as(&format!("/clients/{id}"), token).await,
            403,
            "forbidden",
        )
        .await;
        let response = app
            .post_json_as(
                "/clients",
                token,
                &json!({"name": "X", "scopes": ["issues:read"]}),
            )
            .await;
        problem(response, 403, "forbidden").await;
        let response = app
            .post_json_as(&format!("/clients/{id}/secret"), token, &json!({}))
            .await;
        problem(response, 403, "forbidden").await;
    }
    let anonymous = app.client.get(app.api("/clients")).send().await.unwrap();
    problem(anonymous, 401, "missing_token").await;

    let response = app
        .post_json_as(
            "/clients",
            &admin,
            &json!({"name": " ", "scopes": ["issues:delete"]}),
        )
        .await;
    let body = problem(response, 422, "validation_failed").await;
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["name", "scopes"]);
    for scopes in [json!([]), json!([""]), json!(["issues:read issues:write"])] {
        let response = app
            .post_json_as("/clients", &admin, &json!({"name": "X", "scopes": scopes}))
            .await;
        problem(response, 422, "validation_failed").await;
    }
    let list: Value = app.get_as("/clients", &admin).await.json().await.unwrap();
    assert_eq!(
        list["items"].as_array().unwrap().len(),
        1,
        "nothing was created"
    );

    problem(app.get_as("/clients/nope", &admin).await, 404, "not_found").await;
    let response = app
        .post_json_as("/clients/nope/secret", &admin, &json!({}))
        .await;
    problem(response, 404, "not_found").await;
}

#[actix_web::test]
async fn the_command_line_refuses_unknown_scopes() {
    let app = TestApp::spawn().await;
    let output = app.cli(
        &[
            "client",
            "create",
            "--name",
            "X",
            "--scopes",
            "issues:delete",
        ],
        None,
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--scopes"), "{stderr}");
}

fn in_hours(hours: i64) -> String {
    (chrono::Utc::now() + chrono::TimeDelta::hours(hours)).to_rfc3339()
}

#[actix_web::test]
async fn a_partner_publishes_runs_and_reads_the_pledges_of_its_own_opportunities() {
    let app = TestApp::spawn().await;
    let charity = app.partner(
        "Riverside Food Bank",
        &["opportunities:write", "pledges:read"],
    );
    let other = app.partner("Elsewhere", &["opportunities:write", "pledges:read"]);
    let no_pledges = app.partner("Writes only", &["opportunities:write"]);
    let token = app.partner_token(&charity).await;
    let body = json!({
        "title": "Sort donations", "description": "Sorting tins for the food bank",
        "lat": 51.5, "lon": -0.1, "starts_at": in_hours(24), "ends_at": in_hours(27),
        "capacity": 2, "status": "published"
    });

    let response = app.post_json_as("/opportunities", &token, &body).await;
    assert_eq!(response.status(), 201);
    let opportunity: Value = response.json().await.unwrap();
    assert_eq!(opportunity["partner_id"], charity.id.as_str());
    assert_eq!(opportunity["group_id"], Value::Null);
    let id = opportunity["id"].as_str().unwrap();

    // Scope and token kind are enforced.
    let reader = app.partner("Reader", &["issues:read"]);
    let reader_token = app.partner_token(&reader).await;
    problem(
        app.post_json_as("/opportunities", &reader_token, &body)
            .await,
        403,
        "insufficient_scope",
    )
    .await;
    let citizen = app.citizen("ada@example.org").await;
    problem(
        app.post_json_as("/opportunities", &citizen.access_token, &body)
            .await,
        403,
        "partners_only",
    )
    .await;

    // A resident pledges; the partner reads the pledge, no one else does.
    let response = app
        .post_json_as(
            &format!("/opportunities/{id}/pledges"),
            &citizen.access_token,
            &json!({"kind": "time", "hours": 2}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let pledges: Value = app
        .get_as(&format!("/opportunities/{id}/pledges"), &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(pledges["items"].as_array().unwrap().len(), 1);
    let other_token = app.partner_token(&other).await;
    problem(
        app.get_as(&format!("/opportunities/{id}/pledges"), &other_token)
            .await,
        404,
        "not_found",
    )
    .await;
    let no_pledges_token = app.partner_token(&no_pledges).await;
    problem(
        app.get_as(&format!("/opportunities/{id}/pledges"), &no_pledges_token)
            .await,
        403,
        "insufficient_scope",
    )
    .await;
    problem(
        app.get_as(
            &format!("/opportunities/{id}/pledges"),
            &citizen.access_token,
        )
        .await,
        404,
        "not_found",
    )
    .await;

    // Only the publishing partner changes it; cancelling withdraws the pledge.
    let patch = |token: String, body: Value| {
        let request = app
            .client
            .patch(app.api(&format!("/opportunities/{id}")))
            .bearer_auth(token)
            .json(&body);
        async move { request.send().await.unwrap() }
    };
    problem(
        patch(other_token, json!({"title": "Mine now"})).await,
        403,
        "not_organiser",
    )
    .await;
    let response = patch(token.clone(), json!({"status": "cancelled"})).await;
    assert_eq!(response.status(), 200);
    let cancelled: Value = response.json().await.unwrap();
    assert_eq!(cancelled["status"], "cancelled");
    let pledges: Value = app
        .get_as(&format!("/opportunities/{id}/pledges"), &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(pledges["items"][0]["status"], "withdrawn");
}

#[actix_web::test]
async fn a_partner_reads_public_routes_and_edits_its_opportunity_only_when_current() {
    let app = TestApp::spawn().await;
    let charity = app.partner("Riverside Food Bank", &["opportunities:write"]);
    let token = app.partner_token(&charity).await;
    let body = json!({
        "title": "Sort donations", "description": "Sorting tins for the food bank",
        "online": true, "starts_at": in_hours(24), "ends_at": in_hours(27), "status": "published"
    });
    let created: Value = app
        .post_json_as("/opportunities", &token, &body)
        .await
        .json()
        .await
        .unwrap();
    let path = format!("/opportunities/{}", created["id"].as_str().unwrap());

    // Public reads work with a partner token, as for anyone.
    let read = app.get_as(&path, &token).await;
    assert_eq!(read.status(), 200);
    let tag = read.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(app.get_as("/issues", &token).await.status(), 200);

    let edit = |tag: String, title: &'static str| {
        app.client
            .patch(app.api(&path))
            .bearer_auth(&token)
            .header("if-match", tag)
            .json(&json!({"title": title}))
            .send()
    };
    assert_eq!(edit(tag.clone(), "Sort tins").await.unwrap().status(), 200);
    problem(
        edit(tag, "Sort jars").await.unwrap(),
        412,
        "precondition_failed",
    )
    .await;
    let now: Value = app.get_as(&path, &token).await.json().await.unwrap();
    assert_eq!(now["title"], "Sort tins");
}

#[actix_web::test]
async fn clients_and_categories_refuse_a_stale_if_match() {
    let app = TestApp::spawn().await;
    let (admin, created) = admin_and_client(&app).await;
    for (path, field, first, second) in [
        (
            format!("/clients/{}", created["id"].as_str().unwrap()),
            "name",
            "Council CRM 2",
            "Council CRM 3",
        ),
        (
            "/categories/litter".to_owned(),
            "name",
            "Litter and rubbish",
            "Rubbish",
        ),
    ] {
        let read = app.get_as(&path, &admin).await;
        assert_eq!(read.status(), 200);
        let tag = read.headers()["etag"].to_str().unwrap().to_owned();
        let edit = |value: &'static str| {
            app.client
                .patch(app.api(&path))
                .bearer_auth(&admin)
                .header("if-match", tag.clone())
                .json(&json!({ field: value }))
                .send()
        };
        assert_eq!(edit(first).await.unwrap().status(), 200, "{path}");
        problem(edit(second).await.unwrap(), 412, "precondition_failed").await;
        let now: Value = app.get_as(&path, &admin).await.json().await.unwrap();
        assert_eq!(now[field], first, "{path}");
    }
}
