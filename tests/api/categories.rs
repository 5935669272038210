//! Categories: the public list and detail, and officers managing them.

use reqwest::Response;
use serde_json::{Value, json};

use crate::helpers::{TestApp, problem};

async fn get(app: &TestApp, path: &str) -> Response {
    app.client.get(app.api(path)).send().await.unwrap()
}

async fn patch_as(app: &TestApp, path: &str, token: &str, body: &Value) -> Response {
    app.client
        .patch(app.api(path))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap()
}

fn codes(list: &Value) -> Vec<&str> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|category| category["code"].as_str().unwrap())
        .collect()
}

/// The `(field, code)` pairs of a validation problem.
fn field_errors(problem: &Value) -> Vec<(String, String)> {
    problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["field"].as_str().unwrap().to_owned(),
                e["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn broken_sign() -> Value {
    json!({
        "code": "broken_sign",
        "name": "Broken road sign",
        "description": "A road sign that is bent, missing or unreadable.",
        "group": "Roads",
        "keywords": ["sign", "bent"],
        "handled_by": "council",
        "safety_notes": "Do not climb sign posts.",
        "questions": [
            {"code": "kind", "datatype": "singlevaluelist", "required": true,
             "description": "What kind of sign?", "order": 2,
             "values": [{"key": "speed", "name": "Speed limit"}, {"key": "name", "name": "Street name"}]},
            {"code": "notes", "datatype": "text", "description": "Anything else?", "order": 1},
        ],
    })
}

#[actix_web::test]
async fn anyone_lists_the_starter_categories_with_their_questions() {
    let app = TestApp::spawn().await;
    let response = get(&app, "/categories").await;
    assert_eq!(response.status(), 200);
    let list: Value = response.json().await.unwrap();
    assert_eq!(list["next_cursor"], Value::Null);
    let codes = codes(&list);
    for code in ["pothole", "litter", "fly_tipping", "other"] {
        assert!(codes.contains(&code), "{code} missing from {codes:?}");
    }
    // By group, then name.
    let groups: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["group"].as_str().unwrap())
        .collect();
    let mut sorted = groups.clone();
    sorted.sort_unstable();
    assert_eq!(groups, sorted);

    let pothole = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["code"] == "pothole")
        .unwrap();
    assert_eq!(pothole["name"], "Pothole");
    assert_eq!(pothole["group"], "Roads");
    assert_eq!(pothole["handled_by"], "council");
    assert_eq!(pothole["active"], true);
    assert_eq!(
        pothole["keywords"],
        json!(["road", "hole", "surface", "tarmac"])
    );
    let size = &pothole["questions"][0];
    assert_eq!(size["code"], "size");
    assert_eq!(size["datatype"], "singlevaluelist");
    assert_eq!(size["required"], true);
    assert_eq!(
        size["values"][0],
        json!({"key": "small", "name": "Smaller than a dinner plate"})
    );
    assert_eq!(pothole["questions"][1]["code"], "depth_cm");
    assert!(pothole["created_at"].as_str().unwrap().ends_with('Z'));
}

#[actix_web::test]
async fn anyone_fetches_one_category() {
    let app = TestApp::spawn().await;
    let response = get(&app, "/categories/fly_tipping").await;
    assert_eq!(response.status(), 200);
    let category: Value = response.json().await.unwrap();
    assert_eq!(category["code"], "fly_tipping");
    assert_eq!(category["name"], "Fly-tipping");
    assert_eq!(category["handled_by"], "either");
    assert_eq!(category["questions"][0]["code"], "items");
    assert_eq!(category["questions"][0]["datatype"], "multivaluelist");
    assert_eq!(
        category["questions"][0]["values"].as_array().unwrap().len(),
        5
    );
    assert!(category["updated_at"].as_str().unwrap().ends_with('Z'));
}

#[actix_web::test]
async fn an_unknown_category_is_not_found() {
    let app = TestApp::spawn().await;
    let response = get(&app, "/categories/unicorn_sighting").await;
    problem(response, 404, "not_found").await;
}

#[actix_web::test]
async fn an_officer_creates_a_category_that_everyone_then_sees() {
    let app = TestApp::spawn().await;
    let officer = app.staff("officer@council.example", "officer").await;
    let response = app
        .post_json_as("/categories", &officer.access_token, &broken_sign())
        .await;
    assert_eq!(response.status(), 201);
    assert_eq!(
        response.headers()["location"].to_str().unwrap(),
        "/api/v1/categories/broken_sign"
    );
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["code"], "broken_sign");
    assert_eq!(created["group"], "Roads");
    assert_eq!(created["keywords"], json!(["sign", "bent"]));
    assert_eq!(created["active"], true);
    // Questions come back in their order, with defaults filled in.
    assert_eq!(created["questions"][0]["code"], "notes");
    assert_eq!(created["questions"][0]["required"], false);
    assert_eq!(created["questions"][0]["values"], json!([]));
    assert_eq!(created["questions"][1]["code"], "kind");

    let fetched: Value = get(&app, "/categories/broken_sign")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(fetched, created);
    let list: Value = get(&app, "/categories").await.json().await.unwrap();
    assert!(codes(&list).contains(&"broken_sign"));
}

#[actix_web::test]
async fn an_admin_may_create_a_category_too() {
    let app = TestApp::spawn().await;
    let admin = app.staff("admin@council.example", "admin").await;
    let response = app
        .post_json_as(
            "/categories",
            &admin.access_token,
            &json!({"code": "noise", "name": "Noise", "handled_by": "council"}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["description"], "");
    assert_eq!(created["questions"], json!([]));
}

#[actix_web::test]
async fn only_officers_and_admins_manage_categories() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen("ada@example.org").await;
    let moderator = app.staff("mod@council.example", "moderator").await;
    for caller in [&citizen, &moderator] {
        let response = app
            .post_json_as("/categories", &caller.access_token, &broken_sign())
            .await;
        problem(response, 403, "forbidden").await;
        let response = patch_as(
            &app,
            "/categories/pothole",
            &caller.access_token,
            &json!({"name": "Hole"}),
        )
        .await;
        problem(response, 403, "forbidden").await;
    }
    let response = app.post_json("/categories", &broken_sign()).await;
    problem(response, 401, "missing_token").await;
    let response = app
        .client
        .patch(app.api("/categories/pothole"))
        .json(&json!({"name": "Hole"}))
        .send()
        .await
        .unwrap();
    problem(response, 401, "missing_token").await;

    // Nothing changed.
    problem(get(&app, "/categories/broken_sign").await, 404, "not_found").await;
    let pothole: Value = get(&app, "/categories/pothole").await.json().await.unwrap();
    assert_eq!(pothole["name"], "Pothole");
}

#[actix_web::test]
async fn invalid_categories_are_refused_naming_each_field() {
    let app = TestApp::spawn().await;
    let officer = app.staff("officer@council.example", "officer").await;
    let before: Value = get(&app, "/categories").await.json().await.unwrap();
    let cases = [
        (
            json!({"code": "Broken Sign", "name": "", "handled_by": "council"}),
            vec![("code", "invalid_format"), ("name", "required")],
        ),
        (
            json!({"code": "x", "name": "X", "handled_by": "council",
                   "description": "d".repeat(2001), "group": "g".repeat(101)}),
            vec![
                ("code", "too_short"),
                ("description", "too_long"),
                ("group", "too_long"),
            ],
        ),
        (
            json!({"code": "signs", "name": "Signs", "handled_by": "council",
                   "keywords": ["ok", "a,b", ""]}),
            vec![
                ("keywords[1]", "invalid_characters"),
                ("keywords[2]", "required"),
            ],
        ),
        (
            json!({"code": "signs", "name": "Signs", "handled_by": "council",
            "questions": [
                {"code": "kind", "datatype": "singlevaluelist", "description": "Which kind?"},
                {"code": "size", "datatype": "number", "description": "How big?",
                 "values": [{"key": "1", "name": "One"}]},
            ]}),
            vec![
                ("questions[0].values", "required"),
                ("questions[1].values", "not_allowed"),
            ],
        ),
        (
            json!({"code": "signs", "name": "Signs", "handled_by": "council",
            "questions": [
                {"code": "kind", "datatype": "string", "description": "Which kind?"},
                {"code": "kind", "datatype": "text", "description": "Which kind again?"},
                {"code": "colour", "datatype": "multivaluelist", "description": "",
                 "values": [{"key": "red", "name": "Red"}, {"key": "red", "name": "Also red"}]},
            ]}),
            vec![
                ("questions[1].code", "duplicate"),
                ("questions[2].description", "required"),
                ("questions[2].values[1].key", "duplicate"),
            ],
        ),
    ];
    for (body, expected) in cases {
        let response = app
            .post_json_as("/categories", &officer.access_token, &body)
            .await;
        let problem = problem(response, 422, "validation_failed").await;
        let expected: Vec<(String, String)> = expected
            .into_iter()
            .map(|(field, code)| (field.to_owned(), code.to_owned()))
            .collect();
        assert_eq!(field_errors(&problem), expected, "{body}");
    }
    let list: Value = get(&app, "/categories").await.json().await.unwrap();
    assert_eq!(codes(&list), codes(&before), "nothing was created");
}

#[actix_web::test]
async fn unknown_fields_and_bad_enums_are_refused() {
    let app = TestApp::spawn().await;
    let officer = app.staff("officer@council.example", "officer").await;
    let mut body = broken_sign();
    body["colour"] = json!("red");
    let response = app
        .post_json_as("/categories", &officer.access_token, &body)
        .await;
    problem(response, 422, "invalid_body").await;
    let mut body = broken_sign();
    body["handled_by"] = json!("nobody");
    let response = app
        .post_json_as("/categories", &officer.access_token, &body)
        .await;
    problem(response, 422, "invalid_body").await;
}

#[actix_web::test]
async fn a_taken_code_is_a_conflict() {
    let app = TestApp::spawn().await;
    let officer = app.staff("officer@council.example", "officer").await;
    let response = app
        .post_json_as(
            "/categories",
            &officer.access_token,
            &json!({"code": "pothole", "name": "Another pothole", "handled_by": "either"}),
        )
        .await;
    problem(response, 409, "category_exists").await;
    let pothole: Value = get(&app, "/categories/pothole").await.json().await.unwrap();
    assert_eq!(pothole["name"], "Pothole");
}

#[actix_web::test]
async fn an_officer_renames_and_deactivates_a_category() {
    let app = TestApp::spawn().await;
    let officer = app.staff("officer@council.example", "officer").await;
    let before: Value = get(&app, "/categories/litter").await.json().await.unwrap();
    let public: Value = get(&app, "/categories").await.json().await.unwrap();
    let active = codes(&public).len();

    let response = patch_as(
        &app,
        "/categories/litter",
        &officer.access_token,
        &json!({"name": "Litter and rubbish", "keywords": ["rubbish", "cans"]}),
    )
    .await;
    assert_eq!(response.status(), 200);
    let renamed: Value = response.json().await.unwrap();
    assert_eq!(renamed["name"], "Litter and rubbish");
    assert_eq!(renamed["keywords"], json!(["rubbish", "cans"]));
    assert_eq!(renamed["description"], before["description"], "untouched");
    assert_eq!(renamed["active"], true);
    assert_ne!(renamed["updated_at"], before["updated_at"]);

    let response = patch_as(
        &app,
        "/categories/litter",
        &officer.access_token,
        &json!({"active": false}),
    )
    .await;
    assert_eq!(response.status(), 200);
    let deactivated: Value = response.json().await.unwrap();
    assert_eq!(deactivated["active"], false);
    assert_eq!(deactivated["name"], "Litter and rubbish");

    // Gone for the public…
    let list: Value = get(&app, "/categories").await.json().await.unwrap();
    assert!(!codes(&list).contains(&"litter"));
    assert_eq!(codes(&list).len(), active - 1);
    problem(get(&app, "/categories/litter").await, 404, "not_found").await;
    // …but not for officers.
    let response = app
        .get_as("/categories/litter", &officer.access_token)
        .await;
    assert_eq!(response.status(), 200);
    let list: Value = app
        .get_as("/categories?include_inactive=true", &officer.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert!(codes(&list).contains(&"litter"));
    assert_eq!(codes(&list).len(), active);
}

#[actix_web::test]
async fn only_officers_may_list_inactive_categories() {
    let app = TestApp::spawn().await;
    let response = get(&app, "/categories?include_inactive=true").await;
    problem(response, 401, "missing_token").await;
    let citizen = app.citizen("ada@example.org").await;
    let response = app
        .get_as("/categories?include_inactive=true", &citizen.access_token)
        .await;
    problem(response, 403, "forbidden").await;
}

#[actix_web::test]
async fn a_patch_is_validated_and_cannot_change_the_code() {
    let app = TestApp::spawn().await;
    let officer = app.staff("officer@council.example", "officer").await;
    let response = patch_as(
        &app,
        "/categories/pothole",
        &officer.access_token,
        &json!({"name": " ", "questions": [
            {"code": "size", "datatype": "multivaluelist", "description": "How big?"}
        ]}),
    )
    .await;
    let body = problem(response, 422, "validation_failed").await;
    assert_eq!(
        field_errors(&body),
        [
            ("name".to_owned(), "required".to_owned()),
            ("questions[0].values".to_owned(), "required".to_owned()),
        ]
    );
    let response = patch_as(
        &app,
        "/categories/pothole",
        &officer.access_token,
        &json!({"code": "pot_hole"}),
    )
    .await;
    problem(response, 422, "invalid_body").await;
    let response = patch_as(
        &app,
        "/categories/unicorn_sighting",
        &officer.access_token,
        &json!({"name": "Unicorns"}),
    )
    .await;
    problem(response, 404, "not_found").await;

    let pothole: Value = get(&app, "/categories/pothole").await.json().await.unwrap();
    assert_eq!(pothole["name"], "Pothole");
    assert_eq!(pothole["questions"][0]["datatype"], "singlevaluelist");
}
