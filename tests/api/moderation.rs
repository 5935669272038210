//! Moderation: citizens flag content (checked, one flag each, never their own); enough
//! flags from distinct citizens hide an item pending review; moderators work the queue
//! (oldest first, filtered, paged) and hide, restore, dismiss, redact, suspend, ban and
//! reinstate; only moderators and admins may, never on themselves, and only admins on
//! staff; every action lands in the audit log.

use reqwest::multipart::{Form, Part};
use reqwest::{Method, Response};
use serde_json::{Value, json};

use crate::helpers::{Citizen, PASSWORD, TestApp, expect, problem};

const LAT: f64 = 51.5072;
const LON: f64 = -0.1276;

fn id(value: &Value) -> String {
    value["id"].as_str().unwrap().to_owned()
}

async fn account_id(app: &TestApp, who: &Citizen) -> String {
    id(&expect(app.get_as("/me", &who.access_token).await, 200).await)
}

async fn report(app: &TestApp, who: &Citizen, title: &str) -> String {
    let body = json!({"category": "litter", "title": title,
        "description": "Bin bags split open by the bench", "lat": LAT, "lon": LON});
    id(&expect(
        app.post_json_as("/issues", &who.access_token, &body).await,
        201,
    )
    .await)
}

async fn comment(app: &TestApp, who: &Citizen, issue: &str, text: &str) -> String {
    let path = format!("/issues/{issue}/comments");
    let response = app
        .post_json_as(&path, &who.access_token, &json!({"body": text}))
        .await;
    id(&expect(response, 201).await)
}

async fn photo(app: &TestApp, who: &Citizen, issue: &str) -> String {
    let part = Part::bytes(crate::photos::jpeg(64, 48))
        .file_name("upload")
        .mime_str("image/jpeg")
        .unwrap();
    let response = app
        .client
        .post(app.api(&format!("/issues/{issue}/photos")))
        .bearer_auth(&who.access_token)
        .multipart(Form::new().part("photo", part))
        .send()
        .await
        .unwrap();
    id(&expect(response, 201).await)
}

async fn group(app: &TestApp, who: &Citizen, name: &str) -> String {
    let body = json!({"name": name, "description": "We tidy the park.", "lat": LAT,
        "lon": LON, "radius_m": 1500});
    id(&expect(
        app.post_json_as("/groups", &who.access_token, &body).await,
        201,
    )
    .await)
}

async fn opportunity(app: &TestApp, who: &Citizen, group: &str) -> String {
    let at = |hours: i64| {
        (chrono::Utc::now() + chrono::TimeDelta::hours(hours))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    let body = json!({"title": "Litter pick on the common", "description": "Bring gloves",
        "lat": LAT, "lon": LON, "starts_at": at(24), "ends_at": at(27)});
    let path = format!("/groups/{group}/opportunities");
    id(&expect(app.post_json_as(&path, &who.access_token, &body).await, 201).await)
}

async fn flag(app: &TestApp, who: &Citizen, kind: &str, target: &str, reason: &str) -> Response {
    let body = json!({"target_type": kind, "target_id": target, "reason": reason});
    app.post_json_as("/flags", &who.access_token, &body).await
}

async fn flagged(app: &TestApp, who: &Citizen, kind: &str, target: &str, reason: &str) -> Value {
    expect(flag(app, who, kind, target, reason).await, 201).await
}

/// Sends a moderation action, with `X-Request-Id: request_id`.
async fn act_with_id(app: &TestApp, who: &Citizen, request_id: &str, body: Value) -> Response {
    app.client
        .post(app.api("/moderation/actions"))
        .bearer_auth(&who.access_token)
        .header("X-Request-Id", request_id)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn act(app: &TestApp, who: &Citizen, body: Value) -> Response {
    act_with_id(app, who, "test-req-0", body).await
}

/// An action on content: `{action, target_type, target_id, reason}`.
fn on(action: &str, kind: &str, target: &str) -> Value {
    json!({"action": action, "target_type": kind, "target_id": target,
        "reason": "Checked against the rules"})
}

async fn queue(app: &TestApp, who: &Citizen, query: &str) -> Value {
    let path = format!("/moderation/flags?{query}");
    expect(app.get_as(&path, &who.access_token).await, 200).await
}

/// The `(target_type, target_id)` of a queue page's items.
fn keys(page: &Value) -> Vec<(String, String)> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            (
                item["target_type"].as_str().unwrap().to_owned(),
                item["target_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn key(kind: &str, target: &str) -> (String, String) {
    (kind.to_owned(), target.to_owned())
}

fn item<'a>(page: &'a Value, target: &str) -> &'a Value {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["target_id"] == target)
        .unwrap_or_else(|| panic!("{target} not in the queue: {page}"))
}

async fn audit(app: &TestApp, admin: &Citizen, query: &str) -> Value {
    let path = format!("/audit-log?{query}");
    expect(app.get_as(&path, &admin.access_token).await, 200).await
}

#[actix_web::test]
async fn flags_are_checked_one_per_citizen_per_item_and_never_on_your_own_content() {
    let app = TestApp::spawn().await;
    let bo = app.citizen("bo@example.org").await;
    let ada = app.citizen("ada@example.org").await;
    let cy = app.citizen("cy@example.org").await;
    let issue = report(&app, &bo, "Bags by the bus stop").await;

    let bad = [
        json!({"target_type": "issue", "target_id": issue, "reason": "rude"}),
        json!({"target_type": "issue", "target_id": issue, "reason": "other"}),
        json!({"target_type": "issue", "target_id": issue, "reason": "other", "details": " "}),
        json!({"target_type": "account", "target_id": issue, "reason": "spam"}),
        json!({"target_type": "issue", "target_id": issue, "reason": "spam",
            "details": "x".repeat(1001)}),
        json!({"target_type": "issue", "target_id": issue, "reason": "spam",
            "details": "tab\u{1b}escape"}),
        json!({"target_type": "issue", "target_id": "", "reason": "spam"}),
    ];
    let fields = [
        "reason",
        "details",
        "details",
        "target_type",
        "details",
        "details",
        "target_id",
    ];
    for (body, field) in bad.iter().zip(fields) {
        let response = app.post_json_as("/flags", &ada.access_token, body).await;
        let problem = problem(response, 422, "validation_failed").await;
        assert_eq!(problem["errors"][0]["field"], field, "{body}: {problem}");
    }
    let missing = flag(&app, &ada, "issue", "no-such-issue", "spam").await;
    problem(missing, 404, "not_found").await;
    let missing = flag(&app, &ada, "comment", &issue, "spam").await;
    problem(missing, 404, "not_found").await;

    let body = json!({"target_type": "issue", "target_id": issue, "reason": "other",
        "details": "Names a neighbour\r\nand where she lives"});
    let created = expect(
        app.post_json_as("/flags", &ada.access_token, &body).await,
        201,
    )
    .await;
    assert_eq!(created["target_type"], "issue");
    assert_eq!(created["target_id"], issue.as_str());
    assert_eq!(created["reason"], "other");
    assert_eq!(created["details"], "Names a neighbour\nand where she lives");
    assert_eq!(created["status"], "open");
    assert!(created["id"].is_string());
    assert!(created["created_at"].as_str().unwrap().ends_with('Z'));
    let again = flag(&app, &ada, "issue", &issue, "spam").await;
    problem(again, 409, "already_flagged").await;

    // Nobody flags their own issue, comment, photo, group or opportunity.
    let remark = comment(&app, &bo, &issue, "I reported this").await;
    let picture = photo(&app, &bo, &issue).await;
    let park = group(&app, &bo, "Friends of Elm Park").await;
    let pick = opportunity(&app, &bo, &park).await;
    for (kind, target) in [
        ("issue", &issue),
        ("comment", &remark),
        ("photo", &picture),
        ("group", &park),
        ("opportunity", &pick),
    ] {
        let own = flag(&app, &bo, kind, target, "spam").await;
        problem(own, 422, "own_content").await;
        // Someone else may flag each of them.
        assert_eq!(
            flagged(&app, &cy, kind, target, "spam").await["status"],
            "open"
        );
    }
    // A partner client is not a citizen.
    let partner = app.partner("Food bank", &["issues:read"]);
    let token = app.partner_token(&partner).await;
    let body = json!({"target_type": "comment", "target_id": remark, "reason": "spam"});
    let response = app.post_json_as("/flags", &token, &body).await;
    problem(response, 403, "citizens_only").await;
    let anonymous = app.post_json("/flags", &body).await;
    assert_eq!(anonymous.status(), 401);
}

#[actix_web::test]
async fn flags_from_enough_distinct_citizens_hide_an_item_pending_review() {
    let app = TestApp::spawn_with(|c| c.flag_threshold = 2).await;
    let bo = app.citizen("bo@example.org").await;
    let ada = app.citizen("ada@example.org").await;
    let cy = app.citizen("cy@example.org").await;
    let dee = app.citizen("dee@example.org").await;
    let moderator = app.staff("mod@example.org", "moderator").await;
    let issue = report(&app, &bo, "Offensive words about a neighbour").await;
    let remark = comment(&app, &bo, &issue, "Rude words").await;

    flagged(&app, &ada, "issue", &issue, "abuse").await;
    // One citizen flagging twice never hides anything.
    problem(
        flag(&app, &ada, "issue", &issue, "spam").await,
        409,
        "already_flagged",
    )
    .await;
    let page = queue(&app, &moderator, "").await;
    let entry = item(&page, &issue);
    assert_eq!(entry["hidden"], false);
    assert_eq!(entry["hidden_at"], Value::Null);
    assert_eq!(entry["flag_count"], 1);

    flagged(&app, &cy, "issue", &issue, "personal_data").await;
    let page = queue(&app, &moderator, "").await;
    let entry = item(&page, &issue);
    assert_eq!(entry["hidden"], true, "{entry}");
    assert!(entry["hidden_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(entry["flag_count"], 2);
    assert_eq!(entry["reasons"], json!({"abuse": 1, "personal_data": 1}));
    // Hidden now: nobody else can find it to flag it.
    problem(
        flag(&app, &dee, "issue", &issue, "spam").await,
        404,
        "not_found",
    )
    .await;
    // Nor its comments.
    problem(
        flag(&app, &dee, "comment", &remark, "spam").await,
        404,
        "not_found",
    )
    .await;

    // A restored item counts only flags raised after the review.
    let restored = act(&app, &moderator, on("restore", "issue", &issue)).await;
    assert_eq!(expect(restored, 200).await["flags_resolved"], 2);
    flagged(&app, &dee, "issue", &issue, "spam").await;
    let entry = item(&queue(&app, &moderator, "").await, &issue).clone();
    assert_eq!(entry["hidden"], false);
    assert_eq!(entry["flag_count"], 1);
}

#[actix_web::test]
async fn the_queue_runs_oldest_first_shows_the_content_and_filters_and_pages() {
    let app = TestApp::spawn().await;
    let bo = app.citizen("bo@example.org").await;
    let ada = app.citizen("ada@example.org").await;
    let cy = app.citizen("cy@example.org").await;
    let moderator = app.staff("mod@example.org", "moderator").await;
    let ada_id = account_id(&app, &ada).await;
    let (bo_id, cy_id) = (account_id(&app, &bo).await, account_id(&app, &cy).await);
    let issue = report(&app, &bo, "Bags by the bus stop").await;
    let unflagged = report(&app, &bo, "A quiet issue").await;
    let remark = comment(&app, &ada, &issue, "Call me on 07700 900123").await;
    let picture = photo(&app, &bo, &issue).await;
    let park = group(&app, &bo, "Friends of Elm Park").await;
    let pick = opportunity(&app, &bo, &park).await;

    flagged(&app, &cy, "group", &park, "spam").await;
    flagged(&app, &ada, "issue", &issue, "personal_data").await;
    flagged(&app, &cy, "comment", &remark, "abuse").await;
    flagged(&app, &bo, "comment", &remark, "spam").await;
    flagged(&app, &cy, "photo", &picture, "dangerous").await;
    flagged(&app, &ada, "opportunity", &pick, "spam").await;

    let all = queue(&app, &moderator, "").await;
    assert_eq!(
        keys(&all),
        [
            key("group", &park),
            key("issue", &issue),
            key("comment", &remark),
            key("photo", &picture),
            key("opportunity", &pick),
        ],
        "oldest first by the oldest open flag; {unflagged} is not flagged"
    );
    assert_eq!(all["next_cursor"], Value::Null);
    assert_eq!(
        item(&all, &park)["content"],
        json!({"name": "Friends of Elm Park", "description": "We tidy the park."})
    );
    assert_eq!(
        item(&all, &issue)["content"],
        json!({"issue_id": issue, "title": "Bags by the bus stop",
            "description": "Bin bags split open by the bench"})
    );
    assert_eq!(
        item(&all, &remark)["content"],
        json!({"issue_id": issue, "body": "Call me on 07700 900123", "author_id": ada_id})
    );
    assert_eq!(
        item(&all, &picture)["content"],
        json!({"issue_id": issue, "url": format!("/api/v1/photos/{picture}")})
    );
    assert_eq!(
        item(&all, &pick)["content"],
        json!({"title": "Litter pick on the common", "description": "Bring gloves"})
    );
    let both = item(&all, &remark);
    assert_eq!(both["hidden"], false);
    assert_eq!(both["flag_count"], 2);
    assert_eq!(both["reasons"], json!({"abuse": 1, "spam": 1}));
    let flags = both["flags"].as_array().unwrap();
    let flaggers: Vec<&str> = flags
        .iter()
        .map(|f| f["account_id"].as_str().unwrap())
        .collect();
    assert_eq!(flaggers, [cy_id.as_str(), bo_id.as_str()]);
    assert_eq!(flags[0]["reason"], "abuse");
    assert_eq!(both["first_flagged_at"], flags[0]["created_at"]);
    assert_eq!(both["last_flagged_at"], flags[1]["created_at"]);
    let instant = |value: &Value| -> chrono::DateTime<chrono::Utc> {
        value.as_str().unwrap().parse().unwrap()
    };
    assert!(instant(&both["first_flagged_at"]) < instant(&both["last_flagged_at"]));

    let comments = queue(&app, &moderator, "target_type=comment").await;
    assert_eq!(keys(&comments), [key("comment", &remark)]);
    // A reason keeps the items with such a flag, and still shows their other flags.
    let spam = queue(&app, &moderator, "reason=spam").await;
    assert_eq!(
        keys(&spam),
        [
            key("group", &park),
            key("comment", &remark),
            key("opportunity", &pick)
        ]
    );
    assert_eq!(item(&spam, &remark)["flag_count"], 2);
    let both_filters = queue(&app, &moderator, "reason=spam&target_type=group").await;
    assert_eq!(keys(&both_filters), [key("group", &park)]);
    let none = queue(&app, &moderator, "reason=dangerous&target_type=issue").await;
    assert_eq!(keys(&none), Vec::<(String, String)>::new());

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..5 {
        let query = match &cursor {
            Some(cursor) => format!("limit=2&cursor={cursor}"),
            None => "limit=2".to_owned(),
        };
        let page = queue(&app, &moderator, &query).await;
        assert!(page["items"].as_array().unwrap().len() <= 2);
        seen.extend(keys(&page));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, keys(&all), "pages cover the queue once, in order");

    for bad in [
        "target_type=account",
        "reason=rude",
        "limit=0",
        "limit=101",
        "cursor=zzz",
    ] {
        let response = app
            .get_as(&format!("/moderation/flags?{bad}"), &moderator.access_token)
            .await;
        problem(response, 422, "validation_failed").await;
    }

    // Items a moderator dealt with leave the queue.
    expect(
        act(&app, &moderator, on("dismiss", "group", &park)).await,
        200,
    )
    .await;
    let after = queue(&app, &moderator, "").await;
    assert_eq!(keys(&after)[0], key("issue", &issue));
    assert_eq!(keys(&after).len(), 4);
}

#[actix_web::test]
async fn hide_restore_and_dismiss_set_visibility_and_resolve_the_open_flags() {
    let app = TestApp::spawn_with(|c| c.flag_threshold = 2).await;
    let bo = app.citizen("bo@example.org").await;
    let ada = app.citizen("ada@example.org").await;
    let cy = app.citizen("cy@example.org").await;
    let moderator = app.staff("mod@example.org", "moderator").await;
    let issue = report(&app, &bo, "Bags by the bus stop").await;
    let remark = comment(&app, &bo, &issue, "Rude words").await;
    flagged(&app, &ada, "issue", &issue, "abuse").await;

    let hidden = expect(
        act(&app, &moderator, on("hide", "issue", &issue)).await,
        200,
    )
    .await;
    assert_eq!(
        hidden,
        json!({"action": "hide", "target_type": "issue", "target_id": issue,
            "hidden": true, "flags_resolved": 1})
    );
    assert!(keys(&queue(&app, &moderator, "").await).is_empty());
    // Hiding what is hidden is no error, and resolves nothing more.
    let again = expect(
        act(&app, &moderator, on("hide", "issue", &issue)).await,
        200,
    )
    .await;
    assert_eq!(
        (again["hidden"].clone(), again["flags_resolved"].clone()),
        (json!(true), json!(0))
    );
    // Hidden: citizens cannot find it to flag it.
    problem(
        flag(&app, &ada, "issue", &issue, "spam").await,
        404,
        "not_found",
    )
    .await;

    let restored = expect(
        act(&app, &moderator, on("restore", "issue", &issue)).await,
        200,
    )
    .await;
    assert_eq!(restored["hidden"], false);
    assert_eq!(restored["flags_resolved"], 0);
    problem(
        flag(&app, &ada, "issue", &issue, "spam").await,
        409,
        "already_flagged",
    )
    .await;

    // Flags hide the comment pending review; dismissing them puts it back.
    flagged(&app, &ada, "comment", &remark, "abuse").await;
    flagged(&app, &cy, "comment", &remark, "spam").await;
    assert_eq!(
        item(&queue(&app, &moderator, "").await, &remark)["hidden"],
        true
    );
    let dismissed = expect(
        act(&app, &moderator, on("dismiss", "comment", &remark)).await,
        200,
    )
    .await;
    assert_eq!(dismissed["hidden"], false);
    assert_eq!(dismissed["flags_resolved"], 2);
    assert!(keys(&queue(&app, &moderator, "").await).is_empty());
    // Visible again: a new citizen may flag it.
    let dee = app.citizen("dee@example.org").await;
    flagged(&app, &dee, "comment", &remark, "spam").await;

    let missing = act(&app, &moderator, on("hide", "issue", "no-such-issue")).await;
    problem(missing, 404, "not_found").await;
    let missing = act(&app, &moderator, on("hide", "comment", &issue)).await;
    problem(missing, 404, "not_found").await;
    let bo_id = account_id(&app, &bo).await;
    for (body, field) in [
        (on("ban", "issue", &issue), "action"),
        (on("hide", "account", &bo_id), "action"),
        (on("promote", "issue", &issue), "action"),
        (on("hide", "pledge", &issue), "target_type"),
        (
            json!({"action": "hide", "target_type": "issue", "target_id": issue, "reason": " "}),
            "reason",
        ),
        (
            json!({"action": "hide", "target_type": "issue", "target_id": issue,
                "reason": "x".repeat(1001)}),
            "reason",
        ),
    ] {
        let response = act(&app, &moderator, body.clone()).await;
        let problem = problem(response, 422, "validation_failed").await;
        assert_eq!(problem["errors"][0]["field"], field, "{body}: {problem}");
    }
    let no_reason = act(
        &app,
        &moderator,
        json!({"action": "hide", "target_type": "issue", "target_id": issue}),
    )
    .await;
    assert_eq!(no_reason.status(), 422);
}

#[actix_web::test]
async fn redaction_replaces_the_text_and_keeps_the_original_only_in_the_audit_log() {
    let app = TestApp::spawn_with(|c| c.flag_threshold = 2).await;
    let admin = app.staff("root@example.org", "admin").await;
    let moderator = app.staff("mod@example.org", "moderator").await;
    let bo = app.citizen("bo@example.org").await;
    let ada = app.citizen("ada@example.org").await;
    let cy = app.citizen("cy@example.org").await;
    let issue = report(&app, &bo, "Call Jane on 07700 900123").await;
    let remark = comment(&app, &ada, &issue, "She lives at 4 Elm Row").await;
    let park = group(&app, &bo, "Jane Doe's litter squad").await;
    let pick = opportunity(&app, &bo, &park).await;
    let picture = photo(&app, &bo, &issue).await;
    flagged(&app, &ada, "issue", &issue, "personal_data").await;

    let body = json!({"action": "redact", "target_type": "issue", "target_id": issue,
        "reason": "A private phone number", "fields": {"title": "Call [removed]"}});
    let redacted = expect(act(&app, &moderator, body).await, 200).await;
    assert_eq!(redacted["hidden"], false);
    assert_eq!(redacted["flags_resolved"], 1);
    let shown = expect(
        app.send(Method::GET, &format!("/issues/{issue}"), None, None)
            .await,
        200,
    )
    .await;
    assert_eq!(shown["title"], "Call [removed]");
    assert_eq!(shown["description"], "Bin bags split open by the bench");
    assert!(!shown.to_string().contains("07700"));

    // Flags hid the comment; the redaction puts it back without the address.
    flagged(&app, &bo, "comment", &remark, "personal_data").await;
    flagged(&app, &cy, "comment", &remark, "personal_data").await;
    let body = json!({"action": "redact", "target_type": "comment", "target_id": remark,
        "reason": "A home address", "fields": {"body": "She lives [removed]"}});
    let redacted = expect(act(&app, &moderator, body).await, 200).await;
    assert_eq!(redacted["hidden"], false);
    assert_eq!(redacted["flags_resolved"], 2);
    let timeline = expect(
        app.send(
            Method::GET,
            &format!("/issues/{issue}/timeline"),
            None,
            None,
        )
        .await,
        200,
    )
    .await;
    assert!(
        timeline.to_string().contains("She lives [removed]"),
        "{timeline}"
    );
    assert!(!timeline.to_string().contains("4 Elm Row"));

    let body = json!({"action": "redact", "target_type": "group", "target_id": park,
        "reason": "A private name", "fields": {"name": "The litter squad"}});
    expect(act(&app, &moderator, body).await, 200).await;
    let shown = expect(
        app.send(Method::GET, &format!("/groups/{park}"), None, None)
            .await,
        200,
    )
    .await;
    assert_eq!(shown["name"], "The litter squad");
    let body = json!({"action": "redact", "target_type": "opportunity", "target_id": pick,
        "reason": "A private name", "fields": {"description": "Bring gloves and bags"}});
    expect(act(&app, &moderator, body).await, 200).await;
    let path = format!("/opportunities/{pick}");
    let shown = expect(app.send(Method::GET, &path, None, None).await, 200).await;
    assert_eq!(shown["description"], "Bring gloves and bags");
    assert_eq!(shown["title"], "Litter pick on the common");

    for (kind, target, fields, field) in [
        ("issue", &issue, json!({}), "fields"),
        (
            "issue",
            &issue,
            json!({"body": "Hello there"}),
            "fields.body",
        ),
        ("issue", &issue, json!({"title": "ab"}), "fields.title"),
        ("comment", &remark, json!({"body": ""}), "fields.body"),
        ("group", &park, json!({"name": "Two\nlines"}), "fields.name"),
        ("photo", &picture, json!({"title": "A photo"}), "action"),
    ] {
        let body = json!({"action": "redact", "target_type": kind, "target_id": target,
            "reason": "Personal data", "fields": fields});
        let response = act(&app, &moderator, body.clone()).await;
        let problem = problem(response, 422, "validation_failed").await;
        assert_eq!(problem["errors"][0]["field"], field, "{body}: {problem}");
    }
    let without_fields = act(&app, &moderator, on("redact", "issue", &issue)).await;
    problem(without_fields, 422, "validation_failed").await;

    let log = audit(&app, &admin, "action=moderation.redact").await;
    let entries = log["items"].as_array().unwrap();
    assert_eq!(entries.len(), 4);
    let of = |target: &str| {
        entries
            .iter()
            .find(|e| e["target_id"] == target)
            .unwrap()
            .clone()
    };
    let entry = of(&issue);
    assert_eq!(
        entry["before"],
        json!({"title": "Call Jane on 07700 900123", "hidden": false})
    );
    assert_eq!(
        entry["after"],
        json!({"title": "Call [removed]", "hidden": false})
    );
    assert_eq!(entry["reason"], "A private phone number");
    let entry = of(&remark);
    assert_eq!(entry["target_type"], "comment");
    assert_eq!(
        entry["before"],
        json!({"body": "She lives at 4 Elm Row", "hidden": true})
    );
    assert_eq!(
        entry["after"],
        json!({"body": "She lives [removed]", "hidden": false})
    );
    assert_eq!(of(&park)["before"]["name"], "Jane Doe's litter squad");
}

#[actix_web::test]
async fn a_suspended_citizen_can_read_but_not_post_until_reinstated() {
    let app = TestApp::spawn().await;
    let moderator = app.staff("mod@example.org", "moderator").await;
    let bo = app.citizen("bo@example.org").await;
    let ada = app.citizen("ada@example.org").await;
    let bo_id = account_id(&app, &bo).await;
    let issue = report(&app, &ada, "Bags by the bus stop").await;
    let remark = comment(&app, &ada, &issue, "Still there").await;

    let in_days = |days: i64| {
        (chrono::Utc::now() + chrono::TimeDelta::days(days))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    let suspend = |until: Value| {
        json!({"action": "suspend", "target_type": "account", "target_id": bo_id,
            "reason": "Repeated insults", "until": until})
    };
    for until in [
        json!(null),
        json!(in_days(-1)),
        json!(in_days(400)),
        json!("soon"),
    ] {
        let response = act(&app, &moderator, suspend(until)).await;
        let problem = problem(response, 422, "validation_failed").await;
        assert_eq!(problem["errors"][0]["field"], "until", "{problem}");
    }
    let until = in_days(2);
    let suspended = expect(act(&app, &moderator, suspend(json!(until))).await, 200).await;
    assert_eq!(suspended["action"], "suspend");
    assert_eq!(suspended["target_type"], "account");
    assert_eq!(suspended["banned"], false);
    assert_eq!(suspended["flags_resolved"], 0);
    let end: chrono::DateTime<chrono::Utc> = suspended["suspended_until"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(end, until.parse::<chrono::DateTime<chrono::Utc>>().unwrap());

    let path = format!("/issues/{issue}/comments");
    let refused = app
        .post_json_as(&path, &bo.access_token, &json!({"body": "More insults"}))
        .await;
    let body = problem(refused, 403, "account_suspended").await;
    assert!(body["detail"].as_str().unwrap().contains(&until), "{body}");
    let body = json!({"name": "Insult club", "description": "", "lat": LAT, "lon": LON,
        "radius_m": 1500});
    let refused = app.post_json_as("/groups", &bo.access_token, &body).await;
    problem(refused, 403, "account_suspended").await;
    let report = json!({"category": "litter", "title": "Insults", "description": "",
        "lat": LAT, "lon": LON});
    let refused = app.post_json_as("/issues", &bo.access_token, &report).await;
    problem(refused, 403, "account_suspended").await;
    problem(
        flag(&app, &bo, "comment", &remark, "spam").await,
        403,
        "account_suspended",
    )
    .await;
    // Not even a new name, which the public posts show; the preferences still change.
    let rename = json!({"display_name": "Insult king"});
    let refused = app
        .send(reqwest::Method::PATCH, "/me", Some(&bo), Some(rename))
        .await;
    problem(refused, 403, "account_suspended").await;
    let quiet = json!({"notification_preferences": {"status_changes": false}});
    let me = expect(
        app.send(reqwest::Method::PATCH, "/me", Some(&bo), Some(quiet))
            .await,
        200,
    )
    .await;
    assert_eq!(me["notification_preferences"]["status_changes"], false);
    assert_ne!(me["display_name"], "Insult king");
    // Reading still works, with the same session.
    expect(
        app.get_as(&format!("/issues/{issue}"), &bo.access_token)
            .await,
        200,
    )
    .await;
    expect(app.get_as("/me", &bo.access_token).await, 200).await;

    let body = json!({"action": "reinstate", "target_type": "account", "target_id": bo_id,
        "reason": "Apologised"});
    let reinstated = expect(act(&app, &moderator, body).await, 200).await;
    assert_eq!(
        reinstated,
        json!({"action": "reinstate", "target_type": "account", "target_id": bo_id,
            "banned": false, "flags_resolved": 0})
    );
    comment(&app, &bo, &issue, "Sorry about earlier").await;
    flagged(&app, &bo, "comment", &remark, "spam").await;
}

#[actix_web::test]
async fn a_ban_ends_every_session_at_once_and_the_account_cannot_sign_in() {
    let app = TestApp::spawn().await;
    let moderator = app.staff("mod@example.org", "moderator").await;
    let bo = app.citizen("bo@example.org").await;
    let phone = app.sign_in("bo@example.org", PASSWORD).await;
    let bo_id = account_id(&app, &bo).await;

    let body = json!({"action": "ban", "target_type": "account", "target_id": bo_id,
        "reason": "Threats"});
    let banned = expect(act(&app, &moderator, body.clone()).await, 200).await;
    assert_eq!(banned["banned"], true);
    assert!(banned.get("suspended_until").is_none(), "{banned}");
    for session in [&bo, &phone] {
        let response = app.get_as("/me", &session.access_token).await;
        problem(response, 401, "session_ended").await;
        let refresh = app
            .post_json(
                "/auth/refresh",
                &json!({"refresh_token": session.refresh_token}),
            )
            .await;
        assert_eq!(refresh.status(), 401);
    }
    problem(
        app.login("bo@example.org", PASSWORD).await,
        403,
        "account_banned",
    )
    .await;
    // Without the password, nothing tells that the account exists or is banned.
    let wrong = app.login("bo@example.org", "not the password at all").await;
    problem(wrong, 401, "invalid_credentials").await;
    // Banning again is harmless.
    expect(act(&app, &moderator, body).await, 200).await;

    let body = json!({"action": "reinstate", "target_type": "account", "target_id": bo_id,
        "reason": "Appeal upheld"});
    let reinstated = expect(act(&app, &moderator, body).await, 200).await;
    assert_eq!(reinstated["banned"], false);
    let back = app.sign_in("bo@example.org", PASSWORD).await;
    expect(app.get_as("/me", &back.access_token).await, 200).await;
}

#[actix_web::test]
async fn only_admins_act_on_staff_accounts_and_nobody_on_their_own() {
    let app = TestApp::spawn().await;
    let admin = app.staff("root@example.org", "admin").await;
    let moderator = app.staff("mod@example.org", "moderator").await;
    let colleague = app.staff("mod2@example.org", "moderator").await;
    let officer = app.staff("officer@example.org", "officer").await;
    let ids = [
        account_id(&app, &admin).await,
        account_id(&app, &moderator).await,
        account_id(&app, &colleague).await,
        account_id(&app, &officer).await,
    ];
    let [admin_id, moderator_id, colleague_id, officer_id] = &ids;
    let on_account = |action: &str, target: &str| {
        let mut body = json!({"action": action, "target_type": "account", "target_id": target,
            "reason": "Testing the rules"});
        if action == "suspend" {
            body["until"] = json!(
                (chrono::Utc::now() + chrono::TimeDelta::days(1))
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            );
        }
        body
    };
    for target in [officer_id, admin_id, colleague_id] {
        for action in ["suspend", "ban", "reinstate"] {
            let response = act(&app, &moderator, on_account(action, target)).await;
            problem(response, 403, "staff_account").await;
        }
    }
    for action in ["suspend", "ban", "reinstate"] {
        let own = act(&app, &moderator, on_account(action, moderator_id)).await;
        problem(own, 422, "own_account").await;
        let own = act(&app, &admin, on_account(action, admin_id)).await;
        problem(own, 422, "own_account").await;
    }
    let missing = act(&app, &admin, on_account("ban", "no-such-account")).await;
    problem(missing, 404, "not_found").await;
    // The officer was never touched; an admin may act on them.
    expect(app.get_as("/me", &officer.access_token).await, 200).await;
    expect(act(&app, &admin, on_account("ban", officer_id)).await, 200).await;
    problem(
        app.get_as("/me", &officer.access_token).await,
        401,
        "session_ended",
    )
    .await;
    let suspended = act(&app, &admin, on_account("suspend", colleague_id)).await;
    assert!(expect(suspended, 200).await["suspended_until"].is_string());
}

#[actix_web::test]
async fn every_moderator_action_is_in_the_audit_log_with_actor_states_and_request_id() {
    let app = TestApp::spawn().await;
    let admin = app.staff("root@example.org", "admin").await;
    let moderator = app.staff("mod@example.org", "moderator").await;
    let bo = app.citizen("bo@example.org").await;
    let ada = app.citizen("ada@example.org").await;
    let moderator_id = account_id(&app, &moderator).await;
    let ada_id = account_id(&app, &ada).await;
    let issue = report(&app, &bo, "Bags by the bus stop").await;
    let remark = comment(&app, &ada, &issue, "Insults").await;
    let until = (chrono::Utc::now() + chrono::TimeDelta::days(7))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let on_ada = |action: &str| {
        let mut body = json!({"action": action, "target_type": "account",
            "target_id": ada_id, "reason": format!("{action} Ada")});
        if action == "suspend" {
            body["until"] = json!(until);
        }
        body
    };
    let mut redact = on("redact", "comment", &remark);
    redact["fields"] = json!({"body": "[removed]"});
    let steps = [
        ("test-req-1", on("hide", "issue", &issue)),
        ("test-req-2", on("restore", "issue", &issue)),
        ("test-req-3", on("dismiss", "comment", &remark)),
        ("test-req-4", redact),
        ("test-req-5", on_ada("suspend")),
        ("test-req-6", on_ada("ban")),
        ("test-req-7", on_ada("reinstate")),
    ];
    for (request_id, body) in &steps {
        expect(
            act_with_id(&app, &moderator, request_id, body.clone()).await,
            200,
        )
        .await;
    }
    // A refused action leaves no entry.
    let refused = act_with_id(&app, &moderator, "test-req-8", on_ada("promote")).await;
    assert_eq!(refused.status(), 422);

    let log = audit(&app, &admin, "action=moderation.&limit=100").await;
    let entries = log["items"].as_array().unwrap();
    assert_eq!(entries.len(), steps.len(), "{log}");
    let hidden = |h: bool| json!({ "hidden": h });
    let expected = [
        ("hide", "issue", issue.as_str(), hidden(false), hidden(true)),
        (
            "restore",
            "issue",
            issue.as_str(),
            hidden(true),
            hidden(false),
        ),
        (
            "dismiss",
            "comment",
            remark.as_str(),
            hidden(false),
            hidden(false),
        ),
        (
            "redact",
            "comment",
            remark.as_str(),
            json!({"body": "Insults", "hidden": false}),
            json!({"body": "[removed]", "hidden": false}),
        ),
        (
            "suspend",
            "account",
            ada_id.as_str(),
            json!({"suspended_until": null}),
            json!({"suspended_until": "SET"}),
        ),
        (
            "ban",
            "account",
            ada_id.as_str(),
            json!({"banned": false}),
            json!({"banned": true}),
        ),
        (
            "reinstate",
            "account",
            ada_id.as_str(),
            json!({"suspended_until": "SET", "banned": true}),
            json!({"suspended_until": null, "banned": false}),
        ),
    ];
    for (n, (action, kind, target, before, after)) in expected.into_iter().enumerate() {
        let request_id = format!("test-req-{}", n + 1);
        let entry = entries
            .iter()
            .find(|e| e["request_id"] == request_id.as_str())
            .unwrap_or_else(|| panic!("no entry for {request_id}: {log}"));
        assert_eq!(entry["action"], format!("moderation.{action}"));
        assert_eq!(entry["actor_id"], moderator_id.as_str());
        assert_eq!(entry["actor_role"], "moderator");
        assert_eq!(entry["target_type"], kind);
        assert_eq!(entry["target_id"], target);
        assert!(entry["reason"].as_str().is_some_and(|r| !r.is_empty()));
        // A suspension's end is an instant: compare it as one.
        let instant = |state: &Value| {
            let mut state = state.clone();
            if let Some(end) = state["suspended_until"].as_str() {
                let end: chrono::DateTime<chrono::Utc> = end.parse().unwrap();
                let wanted: chrono::DateTime<chrono::Utc> = until.parse().unwrap();
                assert_eq!(end, wanted, "{entry}");
                state["suspended_until"] = json!("SET");
            }
            state
        };
        assert_eq!(instant(&entry["before"]), before, "{entry}");
        assert_eq!(instant(&entry["after"]), after, "{entry}");
    }
}

#[actix_web::test]
async fn the_moderation_routes_and_the_audit_log_refuse_everyone_else() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen("ada@example.org").await;
    let officer = app.staff("officer@example.org", "officer").await;
    let moderator = app.staff("mod@example.org", "moderator").await;
    let action = on("hide", "issue", "no-such-issue");
    let routes = [
        (Method::GET, "/moderation/flags", None),
        (Method::POST, "/moderation/actions", Some(action.clone())),
    ];
    for (method, path, body) in &routes {
        let anonymous = app.send(method.clone(), path, None, body.clone()).await;
        assert_eq!(anonymous.status(), 401, "anonymous {method} {path}");
        problem(anonymous, 401, "missing_token").await;
        for (who, name) in [(&citizen, "citizen"), (&officer, "officer")] {
            let response = app
                .send(method.clone(), path, Some(who), body.clone())
                .await;
            assert_eq!(response.status(), 403, "{name} {method} {path}");
            problem(response, 403, "forbidden").await;
        }
    }
    let anonymous = app.send(Method::GET, "/audit-log", None, None).await;
    problem(anonymous, 401, "missing_token").await;
    for (who, name) in [
        (&citizen, "citizen"),
        (&moderator, "moderator"),
        (&officer, "officer"),
    ] {
        let response = app.send(Method::GET, "/audit-log", Some(who), None).await;
        assert_eq!(response.status(), 403, "{name} GET /audit-log");
        problem(response, 403, "forbidden").await;
    }
    // The moderator gets past the guard on both routes.
    expect(
        app.get_as("/moderation/flags", &moderator.access_token)
            .await,
        200,
    )
    .await;
    problem(act(&app, &moderator, action).await, 404, "not_found").await;
}
