//! The audit log: staff actions outside moderation (roles, categories, partner clients,
//! the command line) are recorded with actor, before/after and request id; admins read
//! it with filters; nobody can change it, not even with SQL.

use serde_json::{Value, json};

use crate::helpers::{Citizen, TestApp, problem};

async fn audit(app: &TestApp, admin_token: &str, query: &str) -> Value {
    let response = app
        .get_as(&format!("/audit-log?{query}"), admin_token)
        .await;
    assert_eq!(response.status(), 200, "GET /audit-log?{query}");
    response.json().await.unwrap()
}

/// The id of a signed-in account.
async fn account_id(app: &TestApp, who: &Citizen) -> String {
    let me: Value = app
        .get_as("/me", &who.access_token)
        .await
        .json()
        .await
        .unwrap();
    me["id"].as_str().unwrap().to_owned()
}

fn actions(page: &Value) -> Vec<&str> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["action"].as_str().unwrap())
        .collect()
}

#[actix_web::test]
async fn an_admin_grants_a_role_and_the_audit_log_says_who_what_and_which_request() {
    let app = TestApp::spawn().await;
    let admin = app.staff("root@example.org", "admin").await;
    let citizen = app.citizen("ada@example.org").await;
    let id = account_id(&app, &citizen).await;
    let admin_id = account_id(&app, &admin).await;

    let response = app
        .client
        .put(app.api(&format!("/accounts/{id}/role")))
        .bearer_auth(&admin.access_token)
        .header("X-Request-Id", "audit-role-1")
        .json(&json!({"role": "moderator", "reason": "Volunteered to moderate"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let changed: Value = response.json().await.unwrap();
    assert_eq!(changed["role"], "moderator");
    // The role bites at once: the same session may now read the moderation queue.
    let queue = app.get_as("/moderation/flags", &citizen.access_token).await;
    assert_eq!(queue.status(), 200);

    let page = audit(&app, &admin.access_token, "action=account.role_changed").await;
    let entry = &page["items"][0];
    assert_eq!(entry["actor_id"], admin_id);
    assert_eq!(entry["actor_role"], "admin");
    assert_eq!(entry["target_type"], "account");
    assert_eq!(entry["target_id"], id.as_str());
    assert_eq!(entry["before"], json!({"role": "citizen"}));
    assert_eq!(entry["after"], json!({"role": "moderator"}));
    assert_eq!(entry["reason"], "Volunteered to moderate");
    assert_eq!(entry["request_id"], "audit-role-1");
    assert!(entry["created_at"].as_str().unwrap().ends_with('Z'));
}

#[actix_web::test]
async fn roles_are_granted_only_by_admins_never_to_themselves_and_only_known_ones() {
    let app = TestApp::spawn().await;
    let admin = app.staff("root@example.org", "admin").await;
    let officer = app.staff("officer@example.org", "officer").await;
    let citizen = app.citizen("ada@example.org").await;
    let id = account_id(&app, &citizen).await;
    let admin_id = account_id(&app, &admin).await;
    let put = |token: &str, target: &str, body: Value| {
        app.client
            .put(app.api(&format!("/accounts/{target}/role")))
            .bearer_auth(token)
            .json(&body)
            .send()
    };
    let unauthenticated = app
        .client
        .put(app.api(&format!("/accounts/{id}/role")))
        .json(&json!({"role": "admin"}))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);
    for token in [&citizen.access_token, &officer.access_token] {
        let response = put(token, &id, json!({"role": "admin"})).await.unwrap();
        problem(response, 403, "forbidden").await;
    }
    let own = put(&admin.access_token, &admin_id, json!({"role": "citizen"}))
        .await
        .unwrap();
    problem(own, 422, "validation_failed").await;
    let unknown_role = put(&admin.access_token, &id, json!({"role": "overlord"}))
        .await
        .unwrap();
    assert_eq!(unknown_role.status(), 422);
    let missing = put(
        &admin.access_token,
        "no-such-account",
        json!({"role": "officer"}),
    )
    .await
    .unwrap();
    problem(missing, 404, "not_found").await;
    // Nothing of that changed anything or was recorded.
    let me: Value = app
        .get_as("/me", &citizen.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["role"], "citizen");
    let page = audit(&app, &admin.access_token, "action=account.role_changed").await;
    assert_eq!(actions(&page), Vec::<&str>::new());
}

#[actix_web::test]
async fn category_and_partner_client_management_is_audited_without_secrets() {
    let app = TestApp::spawn().await;
    let admin = app.staff("root@example.org", "admin").await;
    let officer = app.staff("officer@example.org", "officer").await;

    let created = app
        .post_json_as(
            "/categories",
            &officer.access_token,
            &json!({"code": "noise", "name": "Noise", "handled_by": "council"}),
        )
        .await;
    assert_eq!(created.status(), 201);
    let changed = app
        .client
        .patch(app.api("/categories/noise"))
        .bearer_auth(&officer.access_token)
        .json(&json!({"name": "Noise nuisance"}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200);

    let client: Value = app
        .post_json_as(
            "/clients",
            &admin.access_token,
            &json!({"name": "Food bank", "scopes": ["issues:read"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let client_id = client["id"].as_str().unwrap();
    let secret = client["client_secret"].as_str().unwrap().to_owned();
    let patched = app
        .client
        .patch(app.api(&format!("/clients/{client_id}")))
        .bearer_auth(&admin.access_token)
        .json(&json!({"disabled": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 200);
    let rotated: Value = app
        .post_json_as(
            &format!("/clients/{client_id}/secret"),
            &admin.access_token,
            &json!({}),
        )
        .await
        .json()
        .await
        .unwrap();
    let new_secret = rotated["client_secret"].as_str().unwrap().to_owned();

    let category = audit(
        &app,
        &admin.access_token,
        "target_type=category&target_id=noise",
    )
    .await;
    assert_eq!(actions(&category), ["category.updated", "category.created"]);
    assert_eq!(category["items"][0]["before"]["name"], "Noise");
    assert_eq!(category["items"][0]["after"]["name"], "Noise nuisance");
    assert_eq!(category["items"][0]["actor_role"], "officer");

    let clients = audit(&app, &admin.access_token, &format!("target_id={client_id}")).await;
    assert_eq!(
        actions(&clients),
        ["client.secret_rotated", "client.updated", "client.created"]
    );
    assert_eq!(clients["items"][1]["before"]["disabled"], false);
    assert_eq!(clients["items"][1]["after"]["disabled"], true);
    let whole = audit(&app, &admin.access_token, "limit=100")
        .await
        .to_string();
    assert!(!whole.contains(&secret) && !whole.contains(&new_secret));
    assert!(!whole.contains("secret_hash"));
}

#[actix_web::test]
async fn command_line_grants_are_audited_as_the_operator() {
    let app = TestApp::spawn().await;
    let admin = app.staff("root@example.org", "admin").await;
    let partner = app.partner("Council systems", &["issues:read"]);
    let page = audit(&app, &admin.access_token, "").await;
    let entries = page["items"].as_array().unwrap();
    let client = entries
        .iter()
        .find(|e| e["action"] == "client.created")
        .expect("client creation audited");
    assert_eq!(client["target_id"], partner.id.as_str());
    assert_eq!(client["actor_id"], Value::Null);
    assert_eq!(client["actor_role"], "operator");
    let grant = entries
        .iter()
        .find(|e| e["action"] == "account.created_with_role")
        .expect("the admin's creation audited");
    assert_eq!(grant["after"], json!({"role": "admin"}));
}

#[actix_web::test]
async fn the_audit_log_filters_pages_and_checks_its_parameters() {
    let app = TestApp::spawn().await;
    let admin = app.staff("root@example.org", "admin").await;
    let officer = app.staff("officer@example.org", "officer").await;
    for code in ["aaa", "bbb", "ccc"] {
        let response = app
            .post_json_as(
                "/categories",
                &officer.access_token,
                &json!({"code": code, "name": code.to_uppercase(), "handled_by": "council"}),
            )
            .await;
        assert_eq!(response.status(), 201);
    }
    let first = audit(&app, &admin.access_token, "action=category.created&limit=2").await;
    let ids: Vec<&str> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["target_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["ccc", "bbb"], "newest first");
    let cursor = first["next_cursor"].as_str().expect("a second page");
    let second = audit(
        &app,
        &admin.access_token,
        &format!("action=category.created&limit=2&cursor={cursor}"),
    )
    .await;
    assert_eq!(second["items"][0]["target_id"], "aaa");
    assert_eq!(second["next_cursor"], Value::Null);

    let officer_id = account_id(&app, &officer).await;
    let by_actor = audit(&app, &admin.access_token, &format!("actor_id={officer_id}")).await;
    assert_eq!(by_actor["items"].as_array().unwrap().len(), 3);
    let future = audit(&app, &admin.access_token, "from=2999-01-01").await;
    assert_eq!(future["items"].as_array().unwrap().len(), 0);
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let until_today = audit(
        &app,
        &admin.access_token,
        &format!("to={today}&action=category."),
    )
    .await;
    assert_eq!(until_today["items"].as_array().unwrap().len(), 3);

    for bad in [
        "from=yesterday",
        "from=2026-02-02&to=2026-01-01",
        "limit=0",
        "cursor=zzz",
    ] {
        let response = app
            .get_as(&format!("/audit-log?{bad}"), &admin.access_token)
            .await;
        problem(response, 422, "validation_failed").await;
    }
}

#[actix_web::test]
async fn the_audit_log_is_append_only_even_for_the_database_user() {
    let app = TestApp::spawn().await;
    let admin = app.staff("root@example.org", "admin").await;
    let page = audit(&app, &admin.access_token, "").await;
    assert!(!page["items"].as_array().unwrap().is_empty());
    let update = app.execute_sql("UPDATE audit_log SET action = 'forged'");
    assert!(
        update.as_ref().is_err_and(|e| e.contains("append-only")),
        "{update:?}"
    );
    let delete = app.execute_sql("DELETE FROM audit_log");
    assert!(delete.is_err(), "{delete:?}");
    let after = audit(&app, &admin.access_token, "").await;
    assert_eq!(after["items"], page["items"]);
}

#[actix_web::test]
async fn officers_status_changes_and_group_verification_are_audited_residents_are_not() {
    let app = TestApp::spawn().await;
    let admin = app.staff("root@example.org", "admin").await;
    let officer = app.staff("officer@example.org", "officer").await;
    let moderator = app.staff("mod@example.org", "moderator").await;
    let ada = app.citizen("ada@example.org").await;
    let issue: Value = app
        .post_json_as(
            "/issues",
            &ada.access_token,
            &json!({"category": "litter", "title": "Bins overflowing", "description": "All week",
                    "lat": 51.5, "lon": -0.1}),
        )
        .await
        .json()
        .await
        .unwrap();
    let id = issue["id"].as_str().unwrap();
    for (who, to) in [(&ada, "escalated"), (&officer, "acknowledged")] {
        let response = app
            .post_json_as(
                &format!("/issues/{id}/status"),
                &who.access_token,
                &json!({"status": to, "note": format!("Now {to}")}),
            )
            .await;
        assert_eq!(response.status(), 200);
    }
    let page = audit(&app, &admin.access_token, &format!("target_id={id}")).await;
    assert_eq!(
        actions(&page),
        ["issue.status_changed"],
        "only the officer's"
    );
    let entry = &page["items"][0];
    assert_eq!(entry["actor_role"], "officer");
    assert_eq!(entry["before"], json!({"status": "escalated"}));
    assert_eq!(entry["after"], json!({"status": "acknowledged"}));
    assert_eq!(entry["reason"], "Now acknowledged");

    let group: Value = app
        .post_json_as(
            "/groups",
            &ada.access_token,
            &json!({"name": "Friends of Elm Park", "description": "Park volunteers",
                    "lat": 51.5, "lon": -0.1, "radius_m": 1500}),
        )
        .await
        .json()
        .await
        .unwrap();
    let group_id = group["id"].as_str().unwrap();
    let verify = app
        .client
        .patch(app.api(&format!("/groups/{group_id}")))
        .bearer_auth(&moderator.access_token)
        .json(&json!({"verified": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(verify.status(), 200);
    let page = audit(&app, &admin.access_token, &format!("target_id={group_id}")).await;
    assert_eq!(actions(&page), ["group.verification_changed"]);
    assert_eq!(page["items"][0]["before"], json!({"verified": false}));
    assert_eq!(page["items"][0]["after"], json!({"verified": true}));
    assert_eq!(page["items"][0]["actor_role"], "moderator");
}
