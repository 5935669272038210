//! Community groups: creating and finding them, join policies, members and their roles,
//! staff verification, and adopting issues.

use reqwest::{Method, Response};
use serde_json::{Value, json};

use crate::helpers::{Citizen, TestApp, problem};

const LAT: f64 = 51.5072;
const LON: f64 = -0.1276;
/// Metres per degree of latitude on the mean Earth sphere.
const M_PER_DEG: f64 = 6_371_008.8 * std::f64::consts::PI / 180.0;

/// A point `metres` north of the reference point.
fn north(metres: f64) -> f64 {
    LAT + metres / M_PER_DEG
}

/// A signed-in account and its id.
struct Person {
    who: Citizen,
    id: String,
}

async fn account_id(app: &TestApp, who: &Citizen) -> String {
    let me: Value = app
        .get_as("/me", &who.access_token)
        .await
        .json()
        .await
        .unwrap();
    me["id"].as_str().unwrap().to_owned()
}

async fn person(app: &TestApp, email: &str) -> Person {
    let who = app.citizen(email).await;
    let id = account_id(app, &who).await;
    Person { who, id }
}

async fn staff(app: &TestApp, email: &str, role: &str) -> Person {
    let output = app.cli(
        &[
            "user",
            "create",
            "--email",
            email,
            "--password-stdin",
            "--role",
            role,
        ],
        Some("a long staff passphrase\n"),
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let who = app.sign_in(email, "a long staff passphrase").await;
    let id = account_id(app, &who).await;
    Person { who, id }
}

async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    who: Option<&Person>,
    body: Option<Value>,
) -> Response {
    let mut request = app.client.request(method, app.api(path));
    if let Some(who) = who {
        request = request.bearer_auth(&who.who.access_token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

async fn ok(response: Response) -> Value {
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, 200, "{text}");
    serde_json::from_str(&text).unwrap()
}

async fn get(app: &TestApp, path: &str, who: Option<&Person>) -> Value {
    ok(send(app, Method::GET, path, who, None).await).await
}

fn group(name: &str, lat: f64, lon: f64) -> Value {
    json!({"name": name, "description": "We tidy the park.", "lat": lat, "lon": lon, "radius_m": 1500})
}

async fn create(app: &TestApp, who: &Person, body: Value) -> String {
    let response = send(app, Method::POST, "/groups", Some(who), Some(body)).await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    let body: Value = response.json().await.unwrap();
    body["id"].as_str().unwrap().to_owned()
}

async fn join(app: &TestApp, who: &Person, group: &str) -> Response {
    send(
        app,
        Method::PUT,
        &format!("/groups/{group}/membership"),
        Some(who),
        None,
    )
    .await
}

async fn leave(app: &TestApp, who: &Person, group: &str) -> Response {
    send(
        app,
        Method::DELETE,
        &format!("/groups/{group}/membership"),
        Some(who),
        None,
    )
    .await
}

async fn set_member(
    app: &TestApp,
    who: &Person,
    group: &str,
    member: &str,
    body: Value,
) -> Response {
    send(
        app,
        Method::PATCH,
        &format!("/groups/{group}/members/{member}"),
        Some(who),
        Some(body),
    )
    .await
}

async fn member_count(app: &TestApp, group: &str) -> i64 {
    get(app, &format!("/groups/{group}"), None).await["member_count"]
        .as_i64()
        .unwrap()
}

/// The `(account_id, role, status)` of a member list page.
fn members(page: &Value) -> Vec<(String, String, String)> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["account_id"].as_str().unwrap().to_owned(),
                m["role"].as_str().unwrap().to_owned(),
                m["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn row(who: &Person, role: &str, status: &str) -> (String, String, String) {
    (who.id.clone(), role.to_owned(), status.to_owned())
}

async fn report(app: &TestApp, who: &Person, title: &str) -> String {
    let body = json!({"category": "litter", "title": title, "description": "Bags and cans", "lat": LAT, "lon": LON});
    let response = send(app, Method::POST, "/issues", Some(who), Some(body)).await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    let body: Value = response.json().await.unwrap();
    body["id"].as_str().unwrap().to_owned()
}

async fn adopt(app: &TestApp, who: &Person, group: &str, issue: &str) -> Response {
    send(
        app,
        Method::POST,
        &format!("/groups/{group}/adoptions"),
        Some(who),
        Some(json!({ "issue_id": issue })),
    )
    .await
}

async fn set_status(app: &TestApp, who: &Person, issue: &str, status: &str) -> Response {
    send(
        app,
        Method::POST,
        &format!("/issues/{issue}/status"),
        Some(who),
        Some(json!({"status": status, "note": "Done by the group."})),
    )
    .await
}

async fn timeline_kinds(app: &TestApp, issue: &str) -> Vec<String> {
    get(app, &format!("/issues/{issue}/timeline"), None).await["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect()
}

#[actix_web::test]
async fn a_verified_citizen_creates_a_group_with_a_unique_name_and_becomes_its_owner() {
    let app = TestApp::spawn().await;
    let ada = person(&app, "ada@example.org").await;
    let body = json!({
        "name": "  Friends of Elm Park ", "description": "We tidy the park.",
        "lat": LAT, "lon": LON, "radius_m": 1500, "tags": ["Litter", "gardening", "litter"],
    });
    let response = send(&app, Method::POST, "/groups", Some(&ada), Some(body)).await;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let created: Value = response.json().await.unwrap();
    let id = created["id"].as_str().unwrap();
    assert_eq!(location, format!("/api/v1/groups/{id}"));
    assert_eq!(created["name"], "Friends of Elm Park");
    assert_eq!(created["tags"], json!(["litter", "gardening"]));
    assert_eq!(created["join_policy"], "open");
    assert_eq!(created["verified"], false);
    assert_eq!(created["member_count"], 1);
    assert_eq!(
        created["my_membership"],
        json!({"role": "owner", "status": "active"})
    );

    let public = get(&app, &format!("/groups/{id}"), None).await;
    assert_eq!(public["name"], "Friends of Elm Park");
    assert_eq!(public["my_membership"], Value::Null);
    assert_eq!(public["member_count"], 1);

    for name in ["FRIENDS OF ELM PARK", "friends of elm park "] {
        let response = send(
            &app,
            Method::POST,
            "/groups",
            Some(&ada),
            Some(group(name, LAT, LON)),
        )
        .await;
        problem(response, 409, "group_name_taken").await;
    }
    let other = create(&app, &ada, group("Elm Park Gardeners", LAT, LON)).await;
    let response = send(
        &app,
        Method::PATCH,
        &format!("/groups/{other}"),
        Some(&ada),
        Some(json!({"name": "friends of ELM park"})),
    )
    .await;
    problem(response, 409, "group_name_taken").await;
    // A group may change the case of its own name.
    let renamed = ok(send(
        &app,
        Method::PATCH,
        &format!("/groups/{id}"),
        Some(&ada),
        Some(json!({"name": "FRIENDS of Elm Park"})),
    )
    .await)
    .await;
    assert_eq!(renamed["name"], "FRIENDS of Elm Park");

    let response = send(
        &app,
        Method::POST,
        "/groups",
        None,
        Some(group("Nobody's group", LAT, LON)),
    )
    .await;
    problem(response, 401, "missing_token").await;
    let unverified = app.unverified("new@example.org").await;
    let response = app
        .post_json_as(
            "/groups",
            &unverified.access_token,
            &group("Unverified group", LAT, LON),
        )
        .await;
    problem(response, 403, "email_not_verified").await;
}

#[actix_web::test]
async fn invalid_groups_name_every_bad_field_and_store_nothing() {
    let app = TestApp::spawn().await;
    let ada = person(&app, "ada@example.org").await;
    let many_tags: Vec<String> = (0..21).map(|i| format!("tag{i}")).collect();
    let cases = [
        (
            json!({"name": "ab", "description": "x".repeat(4001), "lat": 91, "lon": 0, "radius_m": 49}),
            vec!["name", "description", "lat", "radius_m"],
        ),
        (
            json!({"name": "a".repeat(81), "lat": LAT, "lon": -181, "radius_m": 50001}),
            vec!["name", "lon", "radius_m"],
        ),
        (
            json!({"name": "Park group", "lat": LAT, "lon": LON, "radius_m": 500, "tags": ["ok", "not ok", "x".repeat(31)]}),
            vec!["tags[1]", "tags[2]"],
        ),
        (
            json!({"name": "Park group", "lat": LAT, "lon": LON, "radius_m": 500, "tags": many_tags}),
            vec!["tags"],
        ),
        (
            json!({"name": "Park group", "lat": LAT, "lon": LON, "radius_m": 500, "join_policy": "closed"}),
            vec!["join_policy"],
        ),
    ];
    for (body, fields) in cases {
        let response = send(&app, Method::POST, "/groups", Some(&ada), Some(body)).await;
        let problem = problem(response, 422, "validation_failed").await;
        let named: Vec<&str> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert_eq!(named, fields);
    }
    assert_eq!(get(&app, "/groups", None).await["items"], json!([]));

    let id = create(&app, &ada, group("Park group", LAT, LON)).await;
    for (body, field) in [
        (json!({"lat": 51.0}), "lon"),
        (json!({"radius_m": 10}), "radius_m"),
        (json!({"name": " a "}), "name"),
        (json!({"join_policy": "secret"}), "join_policy"),
    ] {
        let response = send(
            &app,
            Method::PATCH,
            &format!("/groups/{id}"),
            Some(&ada),
            Some(body),
        )
        .await;
        let problem = problem(response, 422, "validation_failed").await;
        assert_eq!(problem["errors"][0]["field"], field);
    }
    let unchanged = get(&app, &format!("/groups/{id}"), None).await;
    assert_eq!(unchanged["name"], "Park group");
    assert_eq!(unchanged["radius_m"], 1500.0);
}

#[actix_web::test]
async fn a_near_search_lists_groups_nearest_first_and_q_finds_text() {
    let app = TestApp::spawn().await;
    let ada = person(&app, "ada@example.org").await;
    for (name, metres) in [
        ("Nine hundred", 900.0),
        ("One hundred", 100.0),
        ("Far away", 5000.0),
        ("Five hundred", 500.0),
    ] {
        create(&app, &ada, group(name, north(metres), LON)).await;
    }
    let mut names = Vec::new();
    let mut distances = Vec::new();
    let mut path = format!("/groups?near={LAT},{LON}&radius=1000&limit=2");
    loop {
        let page = get(&app, &path, None).await;
        for item in page["items"].as_array().unwrap() {
            names.push(item["name"].as_str().unwrap().to_owned());
            distances.push(item["distance_m"].as_f64().unwrap());
            assert!(item.get("members").is_none());
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => {
                path = format!("/groups?near={LAT},{LON}&radius=1000&limit=2&cursor={cursor}")
            }
            None => break,
        }
    }
    assert_eq!(names, ["One hundred", "Five hundred", "Nine hundred"]);
    assert!((distances[0] - 100.0).abs() < 1.0, "{distances:?}");
    assert!(distances.windows(2).all(|w| w[0] <= w[1]));

    let everywhere = get(&app, "/groups", None).await;
    assert_eq!(everywhere["items"].as_array().unwrap().len(), 4);
    assert_eq!(
        everywhere["items"][0]["name"], "Five hundred",
        "newest first"
    );

    let found = get(&app, "/groups?q=HUNDRED", None).await;
    assert_eq!(found["items"].as_array().unwrap().len(), 3);
    let found = get(
        &app,
        "/groups?q=tidy%20the&near=51.5072,-0.1276&radius=200",
        None,
    )
    .await;
    assert_eq!(found["items"][0]["name"], "One hundred");
    assert_eq!(found["items"].as_array().unwrap().len(), 1);
    let found = get(&app, "/groups?q=100%25", None).await;
    assert_eq!(found["items"], json!([]));

    for (query, field) in [
        ("near=91,0", "near"),
        ("near=51.5,-0.1&radius=60000", "radius"),
        ("radius=100", "radius"),
    ] {
        let response = send(&app, Method::GET, &format!("/groups?{query}"), None, None).await;
        let problem = problem(response, 422, "validation_failed").await;
        assert_eq!(problem["errors"][0]["field"], field, "{query}");
    }
}

#[actix_web::test]
async fn join_policies_decide_who_joins_who_asks_and_who_needs_an_invitation() {
    let app = TestApp::spawn().await;
    let ada = person(&app, "ada@example.org").await;
    let ben = person(&app, "ben@example.org").await;
    let cat = person(&app, "cat@example.org").await;
    let mut open = group("Open group", LAT, LON);
    open["join_policy"] = json!("open");
    let open = create(&app, &ada, open).await;
    let mut approval = group("Approval group", LAT, LON);
    approval["join_policy"] = json!("approval");
    let approval = create(&app, &ada, approval).await;
    let mut invite = group("Invite group", LAT, LON);
    invite["join_policy"] = json!("invite");
    let invite = create(&app, &ada, invite).await;

    let joined = ok(join(&app, &ben, &open).await).await;
    assert_eq!(
        (&joined["role"], &joined["status"], &joined["member_count"]),
        (&json!("member"), &json!("active"), &json!(2))
    );

    let asked = ok(join(&app, &ben, &approval).await).await;
    assert_eq!(asked["status"], "pending");
    assert_eq!(asked["member_count"], 1);
    let seen = get(&app, &format!("/groups/{approval}"), Some(&ben)).await;
    assert_eq!(
        seen["my_membership"],
        json!({"role": "member", "status": "pending"})
    );

    problem(join(&app, &ben, &invite).await, 403, "invitation_required").await;
    let invited =
        ok(set_member(&app, &ada, &invite, &ben.id, json!({"status": "invited"})).await).await;
    assert_eq!(invited["status"], "invited");
    assert_eq!(member_count(&app, &invite).await, 1);
    let accepted = ok(join(&app, &ben, &invite).await).await;
    assert_eq!(accepted["status"], "active");
    assert_eq!(member_count(&app, &invite).await, 2);

    let banned =
        ok(set_member(&app, &ada, &open, &cat.id, json!({"status": "banned"})).await).await;
    assert_eq!(banned["status"], "banned");
    problem(join(&app, &cat, &open).await, 403, "banned").await;
    problem(join(&app, &cat, &open).await, 403, "banned").await;
    // Leaving does not lift a ban.
    assert_eq!(leave(&app, &cat, &open).await.status(), 204);
    problem(join(&app, &cat, &open).await, 403, "banned").await;
    assert_eq!(member_count(&app, &open).await, 2);
}

#[actix_web::test]
async fn joining_and_leaving_are_idempotent() {
    let app = TestApp::spawn().await;
    let ada = person(&app, "ada@example.org").await;
    let ben = person(&app, "ben@example.org").await;
    let open = create(&app, &ada, group("Open group", LAT, LON)).await;
    let mut approval = group("Approval group", LAT, LON);
    approval["join_policy"] = json!("approval");
    let approval = create(&app, &ada, approval).await;

    let first = ok(join(&app, &ben, &open).await).await;
    let second = ok(join(&app, &ben, &open).await).await;
    assert_eq!(first, second);
    assert_eq!(member_count(&app, &open).await, 2);
    assert_eq!(
        ok(join(&app, &ben, &approval).await).await,
        ok(join(&app, &ben, &approval).await).await
    );
    assert_eq!(member_count(&app, &approval).await, 1);

    for _ in 0..2 {
        assert_eq!(leave(&app, &ben, &open).await.status(), 204);
        assert_eq!(member_count(&app, &open).await, 1);
    }
    let seen = get(&app, &format!("/groups/{open}"), Some(&ben)).await;
    assert_eq!(seen["my_membership"], Value::Null);
    // Leaving withdraws a request.
    assert_eq!(leave(&app, &ben, &approval).await.status(), 204);
    let seen = get(&app, &format!("/groups/{approval}"), Some(&ben)).await;
    assert_eq!(seen["my_membership"], Value::Null);
    // Unknown groups are 404 either way.
    problem(join(&app, &ben, "nope").await, 404, "not_found").await;
    problem(leave(&app, &ben, "nope").await, 404, "not_found").await;
}

#[actix_web::test]
async fn the_last_owner_can_neither_leave_nor_be_demoted() {
    let app = TestApp::spawn().await;
    let ada = person(&app, "ada@example.org").await;
    let ben = person(&app, "ben@example.org").await;
    let id = create(&app, &ada, group("Park group", LAT, LON)).await;
    ok(join(&app, &ben, &id).await).await;

    problem(leave(&app, &ada, &id).await, 409, "last_owner").await;
    for body in [
        json!({"role": "member"}),
        json!({"role": "organiser"}),
        json!({"status": "removed"}),
        json!({"status": "banned"}),
    ] {
        problem(
            set_member(&app, &ada, &id, &ada.id, body).await,
            409,
            "last_owner",
        )
        .await;
    }
    let promoted = ok(set_member(&app, &ada, &id, &ben.id, json!({"role": "owner"})).await).await;
    assert_eq!(promoted["role"], "owner");
    // With a second owner, the first may step down or leave.
    assert_eq!(leave(&app, &ada, &id).await.status(), 204);
    problem(
        set_member(&app, &ben, &id, &ben.id, json!({"role": "member"})).await,
        409,
        "last_owner",
    )
    .await;
    problem(leave(&app, &ben, &id).await, 409, "last_owner").await;
    assert_eq!(member_count(&app, &id).await, 1);
}

#[actix_web::test]
async fn organisers_approve_requests_change_roles_remove_and_ban_members() {
    let app = TestApp::spawn().await;
    let ada = person(&app, "ada@example.org").await;
    let ben = person(&app, "ben@example.org").await;
    let cat = person(&app, "cat@example.org").await;
    let dan = person(&app, "dan@example.org").await;
    let mut body = group("Park group", LAT, LON);
    body["join_policy"] = json!("approval");
    let id = create(&app, &ada, body).await;
    for who in [&ben, &cat, &dan] {
        assert_eq!(ok(join(&app, who, &id).await).await["status"], "pending");
    }
    assert_eq!(member_count(&app, &id).await, 1);

    // The owner approves Ben and makes him an organiser.
    let approved =
        ok(set_member(&app, &ada, &id, &ben.id, json!({"status": "active"})).await).await;
    assert_eq!(approved["status"], "active");
    assert_eq!(approved["display_name"], "Test Citizen");
    let made = ok(set_member(&app, &ada, &id, &ben.id, json!({"role": "organiser"})).await).await;
    assert_eq!(made["role"], "organiser");
    assert_eq!(member_count(&app, &id).await, 2);

    // Ben, an organiser now, sees the requests and approves Cat.
    let pending = get(
        &app,
        &format!("/groups/{id}/members?status=pending"),
        Some(&ben),
    )
    .await;
    assert_eq!(
        members(&pending),
        [
            row(&cat, "member", "pending"),
            row(&dan, "member", "pending")
        ]
    );
    ok(set_member(&app, &ben, &id, &cat.id, json!({"status": "active"})).await).await;
    assert_eq!(member_count(&app, &id).await, 3);
    let everyone = get(&app, &format!("/groups/{id}/members"), Some(&cat)).await;
    assert_eq!(
        members(&everyone),
        [
            row(&ada, "owner", "active"),
            row(&ben, "organiser", "active"),
            row(&cat, "member", "active")
        ]
    );

    // Organisers may not make or unmake owners.
    problem(
        set_member(&app, &ben, &id, &cat.id, json!({"role": "owner"})).await,
        403,
        "owners_only",
    )
    .await;
    problem(
        set_member(&app, &ben, &id, &ada.id, json!({"status": "removed"})).await,
        403,
        "owners_only",
    )
    .await;

    // Removing: Cat is out, and may ask again.
    let removed =
        ok(set_member(&app, &ben, &id, &cat.id, json!({"status": "removed"})).await).await;
    assert_eq!(removed["status"], "removed");
    assert_eq!(member_count(&app, &id).await, 2);
    assert_eq!(ok(join(&app, &cat, &id).await).await["status"], "pending");

    // Banning: Dan's request is refused for good.
    ok(set_member(&app, &ben, &id, &dan.id, json!({"status": "banned"})).await).await;
    problem(join(&app, &dan, &id).await, 403, "banned").await;
    problem(
        set_member(&app, &ben, &id, &dan.id, json!({"status": "active"})).await,
        409,
        "not_pending",
    )
    .await;
    let banned = get(
        &app,
        &format!("/groups/{id}/members?status=banned"),
        Some(&ada),
    )
    .await;
    assert_eq!(members(&banned), [row(&dan, "member", "banned")]);
    // Lifting the ban lets Dan ask again.
    ok(set_member(&app, &ada, &id, &dan.id, json!({"status": "removed"})).await).await;
    assert_eq!(ok(join(&app, &dan, &id).await).await["status"], "pending");

    // Inviting needs an existing account; an owner may make another owner.
    problem(
        set_member(
            &app,
            &ada,
            &id,
            "no-such-account",
            json!({"status": "invited"}),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    problem(
        set_member(&app, &ada, &id, &ben.id, json!({})).await,
        422,
        "validation_failed",
    )
    .await;
    let owner = ok(set_member(&app, &ada, &id, &ben.id, json!({"role": "owner"})).await).await;
    assert_eq!(owner["role"], "owner");
    // An organiser demoted to member can no longer act as one.
    ok(set_member(&app, &ada, &id, &ben.id, json!({"role": "member"})).await).await;
    problem(
        set_member(&app, &ben, &id, &cat.id, json!({"status": "active"})).await,
        403,
        "not_organiser",
    )
    .await;
    assert_eq!(member_count(&app, &id).await, 2);
}

#[actix_web::test]
async fn plain_members_and_outsiders_cannot_act_as_organisers() {
    let app = TestApp::spawn().await;
    let ada = person(&app, "ada@example.org").await;
    let member = person(&app, "member@example.org").await;
    let outsider = person(&app, "outsider@example.org").await;
    let id = create(&app, &ada, group("Park group", LAT, LON)).await;
    ok(join(&app, &member, &id).await).await;
    let free = report(&app, &ada, "Bags by the bench").await;
    let adopted = report(&app, &ada, "Cans by the gate").await;
    assert_eq!(adopt(&app, &ada, &id, &adopted).await.status(), 201);

    let routes: Vec<(Method, String, Option<Value>)> = vec![
        (
            Method::PATCH,
            format!("/groups/{id}"),
            Some(json!({"description": "Hijacked"})),
        ),
        (
            Method::GET,
            format!("/groups/{id}/members?status=pending"),
            None,
        ),
        (
            Method::PATCH,
            format!("/groups/{id}/members/{}", ada.id),
            Some(json!({"role": "member"})),
        ),
        (
            Method::PATCH,
            format!("/groups/{id}/members/{}", outsider.id),
            Some(json!({"status": "invited"})),
        ),
        (
            Method::PATCH,
            format!("/groups/{id}/members/{}", member.id),
            Some(json!({"status": "banned"})),
        ),
        (
            Method::POST,
            format!("/groups/{id}/adoptions"),
            Some(json!({ "issue_id": free })),
        ),
        (
            Method::DELETE,
            format!("/groups/{id}/adoptions/{adopted}"),
            None,
        ),
    ];
    for (method, path, body) in &routes {
        let response = send(&app, method.clone(), path, None, body.clone()).await;
        problem(response, 401, "missing_token").await;
        for (who, code) in [(&member, "not_organiser"), (&outsider, "not_organiser")] {
            let response = send(&app, method.clone(), path, Some(who), body.clone()).await;
            let code = if *method == Method::GET && who.id == outsider.id {
                "members_only"
            } else {
                code
            };
            let problem = problem(response, 403, code).await;
            assert!(problem["detail"].is_string(), "{method} {path}");
        }
    }
    // Nothing changed.
    let group = get(&app, &format!("/groups/{id}"), None).await;
    assert_eq!(group["description"], "We tidy the park.");
    assert_eq!(group["member_count"], 2);
    let list = get(&app, &format!("/groups/{id}/members"), Some(&ada)).await;
    assert_eq!(
        members(&list),
        [
            row(&ada, "owner", "active"),
            row(&member, "member", "active")
        ]
    );
    assert_eq!(
        get(&app, &format!("/issues/{free}"), None).await["adopted_by"],
        Value::Null
    );
    assert_eq!(
        get(&app, &format!("/issues/{adopted}"), None).await["adopted_by"]["id"],
        json!(id)
    );
}

#[actix_web::test]
async fn only_members_see_the_member_list_and_the_public_sees_counts() {
    let app = TestApp::spawn().await;
    let ada = person(&app, "ada@example.org").await;
    let ben = person(&app, "ben@example.org").await;
    let cat = person(&app, "cat@example.org").await;
    let outsider = person(&app, "outsider@example.org").await;
    let id = create(&app, &ada, group("Park group", LAT, LON)).await;
    ok(join(&app, &ben, &id).await).await;
    ok(join(&app, &cat, &id).await).await;

    let first = get(&app, &format!("/groups/{id}/members?limit=2"), Some(&ben)).await;
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    let item = &first["items"][0];
    let mut keys: Vec<&str> = item
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["account_id", "display_name", "joined_at", "role", "status"]
    );
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = get(
        &app,
        &format!("/groups/{id}/members?limit=2&cursor={cursor}"),
        Some(&ben),
    )
    .await;
    assert_eq!(members(&second), [row(&cat, "member", "active")]);
    assert_eq!(second["next_cursor"], Value::Null);

    let path = format!("/groups/{id}/members");
    problem(
        send(&app, Method::GET, &path, Some(&outsider), None).await,
        403,
        "members_only",
    )
    .await;
    problem(
        send(&app, Method::GET, &path, None, None).await,
        401,
        "missing_token",
    )
    .await;
    problem(
        send(
            &app,
            Method::GET,
            &format!("{path}?status=nonsense"),
            Some(&ada),
            None,
        )
        .await,
        422,
        "validation_failed",
    )
    .await;

    let public = get(&app, &format!("/groups/{id}"), None).await;
    assert_eq!(public["member_count"], 3);
    let listed = get(&app, "/groups", None).await;
    assert_eq!(listed["items"][0]["member_count"], 3);
    for view in [&public, &listed["items"][0]] {
        let text = view.to_string();
        assert!(!text.contains(&ben.id) && !text.contains(&ada.id), "{text}");
    }
    // A member who left sees no more.
    assert_eq!(leave(&app, &ben, &id).await.status(), 204);
    problem(
        send(&app, Method::GET, &path, Some(&ben), None).await,
        403,
        "members_only",
    )
    .await;
}

#[actix_web::test]
async fn member_count_stays_exact_under_concurrent_joins_and_leaves() {
    let app = TestApp::spawn().await;
    let ada = person(&app, "ada@example.org").await;
    let id = create(&app, &ada, group("Park group", LAT, LON)).await;
    let mut people = Vec::new();
    for i in 0..6 {
        people.push(person(&app, &format!("c{i}@example.org")).await);
    }
    // Everyone joins twice at once; then the first three leave twice at once while the
    // others join again.
    let joins = people
        .iter()
        .flat_map(|p| [join(&app, p, &id), join(&app, p, &id)]);
    for response in futures_util::future::join_all(joins).await {
        assert_eq!(response.status(), 200);
    }
    assert_eq!(member_count(&app, &id).await, 7);
    let leaves = people[..3]
        .iter()
        .flat_map(|p| [leave(&app, p, &id), leave(&app, p, &id)]);
    let rejoins = people[3..].iter().map(|p| join(&app, p, &id));
    let (left, rejoined) = futures_util::future::join(
        futures_util::future::join_all(leaves),
        futures_util::future::join_all(rejoins),
    )
    .await;
    assert!(left.iter().all(|r| r.status() == 204));
    assert!(rejoined.iter().all(|r| r.status() == 200));
    assert_eq!(member_count(&app, &id).await, 4);
    let list = get(&app, &format!("/groups/{id}/members"), Some(&ada)).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 4);
}

#[actix_web::test]
async fn staff_verify_a_group_and_a_citizen_cannot() {
    let app = TestApp::spawn().await;
    let ada = person(&app, "ada@example.org").await;
    let moderator = staff(&app, "mod@council.example", "moderator").await;
    let officer = staff(&app, "officer@council.example", "officer").await;
    let id = create(&app, &ada, group("Park group", LAT, LON)).await;
    let path = format!("/groups/{id}");

    problem(
        send(
            &app,
            Method::PATCH,
            &path,
            Some(&ada),
            Some(json!({"verified": true})),
        )
        .await,
        403,
        "staff_only_field",
    )
    .await;
    problem(
        send(
            &app,
            Method::PATCH,
            &path,
            Some(&ada),
            Some(json!({"description": "Also", "verified": true})),
        )
        .await,
        403,
        "staff_only_field",
    )
    .await;
    assert_eq!(get(&app, &path, None).await["verified"], false);

    let verified = ok(send(
        &app,
        Method::PATCH,
        &path,
        Some(&moderator),
        Some(json!({"verified": true})),
    )
    .await)
    .await;
    assert_eq!(verified["verified"], true);
    assert_eq!(get(&app, &path, None).await["verified"], true);
    // Staff verify; they do not edit groups they do not organise.
    problem(
        send(
            &app,
            Method::PATCH,
            &path,
            Some(&officer),
            Some(json!({"description": "Council-approved"})),
        )
        .await,
        403,
        "not_organiser",
    )
    .await;
    let unverified = ok(send(
        &app,
        Method::PATCH,
        &path,
        Some(&officer),
        Some(json!({"verified": false})),
    )
    .await)
    .await;
    assert_eq!(unverified["verified"], false);
    // The organiser's own edits keep the flag.
    let edited = ok(send(
        &app,
        Method::PATCH,
        &path,
        Some(&ada),
        Some(json!({"description": "Now with bulbs.", "tags": ["Bulbs"], "lat": LAT, "lon": LON, "radius_m": 800, "join_policy": "approval"})),
    )
    .await)
    .await;
    assert_eq!(edited["description"], "Now with bulbs.");
    assert_eq!(edited["tags"], json!(["bulbs"]));
    assert_eq!(edited["radius_m"], 800.0);
    assert_eq!(edited["join_policy"], "approval");
    assert_eq!(edited["verified"], false);
}

#[actix_web::test]
async fn adopting_a_reported_issue_moves_it_to_community_with_timeline_events() {
    let app = TestApp::spawn().await;
    let ada = person(&app, "ada@example.org").await;
    let reporter = person(&app, "reporter@example.org").await;
    let id = create(&app, &ada, group("Friends of Elm Park", LAT, LON)).await;
    let issue = report(&app, &reporter, "Bags by the bench").await;

    let response = adopt(&app, &ada, &id, &issue).await;
    assert_eq!(response.status(), 201);
    assert_eq!(
        response.headers()["location"].to_str().unwrap(),
        format!("/api/v1/issues/{issue}")
    );
    let adopted: Value = response.json().await.unwrap();
    assert_eq!(adopted["status"], "community");
    assert_eq!(
        adopted["adopted_by"],
        json!({"id": id, "name": "Friends of Elm Park"})
    );
    assert_eq!(
        adopted["allowed_transitions"],
        json!(["resolved", "escalated"])
    );
    let public = get(&app, &format!("/issues/{issue}"), None).await;
    assert_eq!(public["adopted_by"]["name"], "Friends of Elm Park");
    let listed = get(&app, "/issues", None).await;
    assert_eq!(listed["items"][0]["adopted_by"]["id"], json!(id));

    let timeline = get(&app, &format!("/issues/{issue}/timeline"), None).await;
    let events = timeline["items"].as_array().unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["reported", "adopted", "status_changed"]);
    assert_eq!(events[1]["actor"]["id"], json!(ada.id));
    assert_eq!(
        events[1]["data"],
        json!({"group_id": id, "group_name": "Friends of Elm Park"})
    );
    assert_eq!(events[2]["from_status"], "reported");
    assert_eq!(events[2]["to_status"], "community");
    assert_eq!(events[2]["text"], "Adopted by Friends of Elm Park");
    assert_eq!(events[2]["actor"]["role"], "citizen");

    // Adopting again changes nothing.
    let again = adopt(&app, &ada, &id, &issue).await;
    assert_eq!(again.status(), 200);
    assert_eq!(timeline_kinds(&app, &issue).await.len(), 3);

    // An escalated issue is adopted but keeps its status.
    let escalated = report(&app, &reporter, "Fly-tipping in the lane").await;
    assert_eq!(
        set_status(&app, &reporter, &escalated, "escalated")
            .await
            .status(),
        200
    );
    let response = adopt(&app, &ada, &id, &escalated).await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "escalated");
    assert_eq!(
        timeline_kinds(&app, &escalated).await,
        ["reported", "status_changed", "adopted"]
    );

    // Closed and unknown issues cannot be adopted.
    let resolved = report(&app, &reporter, "Cans by the gate").await;
    assert_eq!(
        set_status(&app, &reporter, &resolved, "resolved")
            .await
            .status(),
        200
    );
    problem(adopt(&app, &ada, &id, &resolved).await, 409, "issue_closed").await;
    let problem = problem(
        adopt(&app, &ada, &id, "no-such-issue").await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "issue_id");
}

#[actix_web::test]
async fn a_second_group_cannot_adopt_an_adopted_issue_and_releasing_frees_it() {
    let app = TestApp::spawn().await;
    let ada = person(&app, "ada@example.org").await;
    let ben = person(&app, "ben@example.org").await;
    let moderator = staff(&app, "mod@council.example", "moderator").await;
    let first = create(&app, &ada, group("First group", LAT, LON)).await;
    let second = create(&app, &ben, group("Second group", LAT, LON)).await;
    let issue = report(&app, &ada, "Bags by the bench").await;

    assert_eq!(adopt(&app, &ada, &first, &issue).await.status(), 201);
    problem(
        adopt(&app, &ben, &second, &issue).await,
        409,
        "already_adopted",
    )
    .await;
    let release_second = send(
        &app,
        Method::DELETE,
        &format!("/groups/{second}/adoptions/{issue}"),
        Some(&ben),
        None,
    )
    .await;
    problem(release_second, 404, "not_found").await;

    let released = send(
        &app,
        Method::DELETE,
        &format!("/groups/{first}/adoptions/{issue}"),
        Some(&ada),
        None,
    )
    .await;
    assert_eq!(released.status(), 204);
    let detail = get(&app, &format!("/issues/{issue}"), None).await;
    assert_eq!(detail["adopted_by"], Value::Null);
    assert_eq!(detail["status"], "community", "releasing keeps the status");
    let timeline = get(&app, &format!("/issues/{issue}/timeline"), None).await;
    let last = timeline["items"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["kind"], "adoption_released");
    assert_eq!(last["data"]["group_id"], json!(first));

    // Now the second group may take it on; it is in `community` already.
    let response = adopt(&app, &ben, &second, &issue).await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["adopted_by"]["name"], "Second group");
    assert_eq!(
        timeline_kinds(&app, &issue).await,
        [
            "reported",
            "adopted",
            "status_changed",
            "adoption_released",
            "adopted"
        ]
    );

    // Both groups racing for one issue: exactly one wins.
    let contested = report(&app, &ada, "Cans by the gate").await;
    let (a, b) = futures_util::future::join(
        adopt(&app, &ada, &first, &contested),
        adopt(&app, &ben, &second, &contested),
    )
    .await;
    let mut statuses = [a.status().as_u16(), b.status().as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 409]);

    // Duplicates are adopted through their canonical issue.
    let duplicate = report(&app, &ada, "Bags again").await;
    let response = send(
        &app,
        Method::POST,
        &format!("/issues/{duplicate}/status"),
        Some(&moderator),
        Some(json!({"status": "duplicate", "note": "Same bags.", "duplicate_of": issue})),
    )
    .await;
    assert_eq!(response.status(), 200);
    problem(
        adopt(&app, &ada, &first, &duplicate).await,
        409,
        "issue_is_duplicate",
    )
    .await;
}

#[actix_web::test]
async fn the_adopting_groups_organiser_may_resolve_the_issue_and_a_plain_member_may_not() {
    let app = TestApp::spawn().await;
    let ada = person(&app, "ada@example.org").await;
    let ben = person(&app, "ben@example.org").await;
    let cat = person(&app, "cat@example.org").await;
    let reporter = person(&app, "reporter@example.org").await;
    let id = create(&app, &ada, group("Park group", LAT, LON)).await;
    // Cat owns another group: that makes her no organiser of this one.
    create(&app, &cat, group("Other group", LAT, LON)).await;
    ok(join(&app, &ben, &id).await).await;
    ok(join(&app, &cat, &id).await).await;
    let issue = report(&app, &reporter, "Bags by the bench").await;
    assert_eq!(adopt(&app, &ada, &id, &issue).await.status(), 201);

    // A plain member of the adopting group, and an owner of another group, may not.
    for who in [&ben, &cat] {
        let seen = get(&app, &format!("/issues/{issue}"), Some(who)).await;
        assert_eq!(seen["allowed_transitions"], json!([]));
        problem(
            set_status(&app, who, &issue, "resolved").await,
            403,
            "transition_not_allowed",
        )
        .await;
    }

    // Made an organiser, Cat may.
    ok(set_member(&app, &ada, &id, &cat.id, json!({"role": "organiser"})).await).await;
    let seen = get(&app, &format!("/issues/{issue}"), Some(&cat)).await;
    assert_eq!(
        seen["allowed_transitions"],
        json!(["resolved", "escalated"])
    );
    let resolved = ok(set_status(&app, &cat, &issue, "resolved").await).await;
    assert_eq!(resolved["status"], "resolved");
    assert_eq!(
        timeline_kinds(&app, &issue).await.last().unwrap(),
        "status_changed"
    );
}

#[actix_web::test]
async fn a_stale_if_match_leaves_a_group_unchanged() {
    let app = TestApp::spawn().await;
    let ada = person(&app, "ada@example.org").await;
    let id = create(&app, &ada, group("Mill Lane Friends", 51.5, -0.1)).await;
    let path = format!("/groups/{id}");
    let read = app.get_as(&path, &ada.who.access_token).await;
    let tag = read.headers()["etag"].to_str().unwrap().to_owned();
    let edit = |tag: String, name: &'static str| {
        app.client
            .patch(app.api(&path))
            .bearer_auth(&ada.who.access_token)
            .header("if-match", tag)
            .json(&json!({"name": name}))
            .send()
    };
    assert_eq!(
        edit(tag.clone(), "Mill Lane Friends of the Park")
            .await
            .unwrap()
            .status(),
        200
    );
    problem(
        edit(tag, "Mill Lane Gardeners").await.unwrap(),
        412,
        "precondition_failed",
    )
    .await;
    let now = get(&app, &path, Some(&ada)).await;
    assert_eq!(now["name"], "Mill Lane Friends of the Park");
}
