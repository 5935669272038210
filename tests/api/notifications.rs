//! The notification feed, preferences and push devices: who hears about what (never the
//! actor), reading and marking read, switching kinds off, registering devices, and push
//! through the HTTP relay provider.

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::{Method, Response};
use serde_json::{Value, json};

use crate::helpers::{Citizen, TestApp, problem};

const LAT: f64 = 51.5072;
const LON: f64 = -0.1276;
const TITLE: &str = "Fly-tipping on Mill Lane";

/// A signed-in account and its id.
struct Person {
    who: Citizen,
    id: String,
}

async fn person(app: &TestApp, email: &str) -> Person {
    let who = app.citizen(email).await;
    let id = ok(app.get_as("/me", &who.access_token).await).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    Person { who, id }
}

async fn staff(app: &TestApp, email: &str) -> Person {
    let who = app.staff(email, "officer").await;
    let id = ok(app.get_as("/me", &who.access_token).await).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    Person { who, id }
}

async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    who: &Person,
    body: Option<Value>,
) -> Response {
    let mut request = app
        .client
        .request(method, app.api(path))
        .bearer_auth(&who.who.access_token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

async fn status_is(response: Response, status: u16) -> Value {
    let code = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert_eq!(code, status, "{text}");
    if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap()
    }
}

async fn ok(response: Response) -> Value {
    status_is(response, 200).await
}

async fn report(app: &TestApp, who: &Person, title: &str) -> String {
    let body = json!({"category": "litter", "title": title, "description": "Mattresses and bags", "lat": LAT, "lon": LON});
    status_is(
        send(app, Method::POST, "/issues", who, Some(body)).await,
        201,
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn follow(app: &TestApp, who: &Person, issue: &str) {
    ok(send(
        app,
        Method::PUT,
        &format!("/issues/{issue}/follow"),
        who,
        None,
    )
    .await)
    .await;
}

async fn set_status(app: &TestApp, who: &Person, issue: &str, status: &str) {
    let body = json!({"status": status, "note": format!("Moving to {status}.")});
    ok(send(
        app,
        Method::POST,
        &format!("/issues/{issue}/status"),
        who,
        Some(body),
    )
    .await)
    .await;
}

async fn comment(app: &TestApp, who: &Person, issue: &str, text: &str) {
    let path = format!("/issues/{issue}/comments");
    status_is(
        send(app, Method::POST, &path, who, Some(json!({"body": text}))).await,
        201,
    )
    .await;
}

async fn create_group(app: &TestApp, owner: &Person, name: &str, policy: &str) -> String {
    let body = json!({"name": name, "description": "Neighbours", "lat": LAT, "lon": LON, "radius_m": 2000, "join_policy": policy});
    status_is(
        send(app, Method::POST, "/groups", owner, Some(body)).await,
        201,
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn in_hours(hours: i64) -> String {
    (chrono::Utc::now() + chrono::TimeDelta::hours(hours))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

async fn create_opportunity(app: &TestApp, owner: &Person, group: &str, extra: Value) -> String {
    let mut body = json!({
        "title": "Litter pick on the green", "description": "Bring gloves",
        "lat": LAT, "lon": LON, "starts_at": in_hours(24), "ends_at": in_hours(27)
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let path = format!("/groups/{group}/opportunities");
    status_is(send(app, Method::POST, &path, owner, Some(body)).await, 201).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn pledge(app: &TestApp, who: &Person, opportunity: &str) -> Value {
    let path = format!("/opportunities/{opportunity}/pledges");
    let body = json!({"kind": "time", "hours": 2});
    status_is(send(app, Method::POST, &path, who, Some(body)).await, 201).await
}

/// Waits until the dispatcher has fanned out every event in the outbox (notifications
/// are committed with the event's `dispatched_at`).
async fn settle(app: &TestApp) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let pool = app.state.pool.clone();
        let backlog = actix_web::web::block(move || {
            let mut conn = pool.get().unwrap();
            civitas::events::dispatcher::backlog(&mut conn).unwrap()
        })
        .await
        .unwrap();
        if backlog == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{backlog} events still undispatched"
        );
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Polls `check` every 20 ms until it returns something or `wait` passes.
async fn eventually<T, F, Fut>(wait: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + wait;
    loop {
        if let Some(found) = check().await {
            return Some(found);
        }
        if Instant::now() > deadline {
            return None;
        }
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The caller's whole feed (one page of up to 100), after the outbox has settled.
async fn feed(app: &TestApp, who: &Person) -> Value {
    settle(app).await;
    ok(send(app, Method::GET, "/me/notifications?limit=100", who, None).await).await
}

/// The kinds in a feed, newest first.
fn kinds(feed: &Value) -> Vec<String> {
    feed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["kind"].as_str().unwrap().to_owned())
        .collect()
}

#[actix_web::test]
async fn a_full_issue_journey_notifies_the_reporter_and_followers_but_never_the_actor() {
    let app = TestApp::spawn().await;
    let reporter = person(&app, "reporter@example.org").await;
    let follower = person(&app, "follower@example.org").await;
    let officer = staff(&app, "officer@example.org").await;
    let organiser = person(&app, "organiser@example.org").await;
    let issue = report(&app, &reporter, TITLE).await;
    follow(&app, &follower, &issue).await;
    // The officer follows too, and so hears about others' doings but not their own.
    follow(&app, &officer, &issue).await;

    set_status(&app, &officer, &issue, "escalated").await;
    set_status(&app, &officer, &issue, "acknowledged").await;
    set_status(&app, &officer, &issue, "in_progress").await;
    comment(&app, &follower, &issue, "The pile has grown since Monday.").await;
    comment(&app, &reporter, &issue, "Thanks for keeping an eye on it.").await;
    let group = create_group(&app, &organiser, "Mill Lane Friends", "open").await;
    status_is(
        send(
            &app,
            Method::POST,
            &format!("/groups/{group}/adoptions"),
            &organiser,
            Some(json!({"issue_id": issue})),
        )
        .await,
        201,
    )
    .await;

    let changes = [
        "issue.status_changed",
        "issue.status_changed",
        "issue.status_changed",
    ];
    let mut expected = vec!["issue.adopted", "issue.commented"];
    expected.extend(changes);
    let reporters = feed(&app, &reporter).await;
    assert_eq!(kinds(&reporters), expected);
    assert_eq!(kinds(&feed(&app, &follower).await), expected);
    assert_eq!(
        kinds(&feed(&app, &officer).await),
        ["issue.adopted", "issue.commented", "issue.commented"]
    );
    assert_eq!(kinds(&feed(&app, &organiser).await), Vec::<String>::new());

    let items = reporters["items"].as_array().unwrap();
    assert_eq!(reporters["unread_count"], 5);
    assert_eq!(
        items[0]["title"],
        format!("Mill Lane Friends adopted {TITLE}")
    );
    assert_eq!(items[0]["data"]["issue_id"], issue);
    assert_eq!(items[0]["data"]["group_id"], group);
    assert_eq!(
        items[1]["title"],
        format!("Test Citizen commented on {TITLE}")
    );
    assert_eq!(items[1]["body"], "The pile has grown since Monday.");
    assert_eq!(items[2]["title"], format!("{TITLE} is now in progress"));
    assert_eq!(items[2]["body"], "Moving to in_progress.");
    assert_eq!(items[2]["data"]["status"], "in_progress");
    assert_eq!(
        items[4]["title"],
        format!("{TITLE} is now escalated to the council")
    );
    for item in items {
        assert_eq!(item["read"], false);
        assert_eq!(item["data"]["issue_id"], issue);
        assert!(item["id"].is_string() && item["created_at"].is_string());
    }
    // The follower hears about the reporter's comment, not their own.
    let followers = feed(&app, &follower).await;
    assert_eq!(
        followers["items"][1]["body"],
        "Thanks for keeping an eye on it."
    );
}

#[actix_web::test]
async fn switching_a_kind_off_keeps_it_out_of_the_feed() {
    let app = TestApp::spawn().await;
    let reporter = person(&app, "reporter@example.org").await;
    let follower = person(&app, "follower@example.org").await;
    let officer = staff(&app, "officer@example.org").await;

    let me = ok(send(&app, Method::GET, "/me", &reporter, None).await).await;
    assert_eq!(
        me["notification_preferences"],
        json!({"status_changes": true, "comments": true, "adoptions": true, "pledges": true, "opportunities": true, "groups": true})
    );
    let patch = |body: Value| send(&app, Method::PATCH, "/me", &reporter, Some(body));
    let me = ok(patch(json!({"notification_preferences": {"status_changes": false}})).await).await;
    assert_eq!(me["notification_preferences"]["status_changes"], false);
    assert_eq!(me["notification_preferences"]["comments"], true);
    // A later change leaves the other kinds as they are.
    let me = ok(patch(json!({"notification_preferences": {"groups": false}})).await).await;
    assert_eq!(me["notification_preferences"]["status_changes"], false);
    assert_eq!(me["notification_preferences"]["groups"], false);
    let me = ok(patch(json!({"notification_preferences": {"groups": true}})).await).await;
    assert_eq!(me["notification_preferences"]["groups"], true);

    let refused = problem(
        patch(json!({"notification_preferences": {"spam": true, "comments": "no"}})).await,
        422,
        "validation_failed",
    )
    .await;
    let mut fields: Vec<&str> = refused["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "notification_preferences.comments",
            "notification_preferences.spam"
        ]
    );
    let me = ok(send(&app, Method::GET, "/me", &reporter, None).await).await;
    assert_eq!(me["notification_preferences"]["comments"], true);

    let issue = report(&app, &reporter, TITLE).await;
    follow(&app, &follower, &issue).await;
    set_status(&app, &officer, &issue, "escalated").await;
    comment(&app, &follower, &issue, "Still there.").await;
    assert_eq!(kinds(&feed(&app, &reporter).await), ["issue.commented"]);
    assert_eq!(
        kinds(&feed(&app, &follower).await),
        ["issue.status_changed"]
    );
}

#[actix_web::test]
async fn notifications_are_paged_and_marked_read_by_id_or_all_and_only_by_their_owner() {
    let app = TestApp::spawn().await;
    let ada = person(&app, "ada@example.org").await;
    let eve = person(&app, "eve@example.org").await;
    let officer = staff(&app, "officer@example.org").await;
    let issue = report(&app, &ada, TITLE).await;
    for status in ["escalated", "acknowledged", "in_progress"] {
        set_status(&app, &officer, &issue, status).await;
    }
    let all = feed(&app, &ada).await;
    let ids: Vec<String> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 3);
    assert_eq!(all["unread_count"], 3);

    // Pages, newest first.
    let first = ok(send(&app, Method::GET, "/me/notifications?limit=2", &ada, None).await).await;
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = ok(send(
        &app,
        Method::GET,
        &format!("/me/notifications?limit=2&cursor={cursor}"),
        &ada,
        None,
    )
    .await)
    .await;
    assert_eq!(second["items"][0]["id"], ids[2]);
    assert_eq!(second["next_cursor"], Value::Null);

    // Someone else sees none of them and cannot mark them read.
    let eves = feed(&app, &eve).await;
    assert_eq!(eves["items"], json!([]));
    assert_eq!(eves["unread_count"], 0);
    let answer = ok(send(
        &app,
        Method::POST,
        "/me/notifications/read",
        &eve,
        Some(json!({"ids": ids})),
    )
    .await)
    .await;
    assert_eq!(answer["unread_count"], 0);
    assert_eq!(feed(&app, &ada).await["unread_count"], 3);

    let read = |body: Value| {
        send(
            &app,
            Method::POST,
            "/me/notifications/read",
            &ada,
            Some(body),
        )
    };
    let answer = ok(read(json!({"ids": [ids[0], "not-a-notification"]})).await).await;
    assert_eq!(answer["unread_count"], 2);
    let unread = ok(send(
        &app,
        Method::GET,
        "/me/notifications?unread=true",
        &ada,
        None,
    )
    .await)
    .await;
    let unread_ids: Vec<&str> = unread["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    assert_eq!(unread_ids, [ids[1].as_str(), ids[2].as_str()]);
    assert_eq!(unread["unread_count"], 2);
    assert_eq!(feed(&app, &ada).await["items"][0]["read"], true);
    // Marking again changes nothing.
    assert_eq!(
        ok(read(json!({"ids": [ids[0]]})).await).await["unread_count"],
        2
    );

    for body in [
        json!({}),
        json!({"ids": []}),
        json!({"all": false}),
        json!({"ids": [ids[1]], "all": true}),
        json!({"ids": (0..101).map(|i| i.to_string()).collect::<Vec<_>>()}),
    ] {
        problem(read(body).await, 422, "validation_failed").await;
    }
    problem(read(json!({"everything": true})).await, 422, "invalid_body").await;
    assert_eq!(
        ok(read(json!({"all": true})).await).await["unread_count"],
        0
    );
    let after = feed(&app, &ada).await;
    assert!(
        after["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["read"] == true)
    );

    let anonymous = app
        .client
        .get(app.api("/me/notifications"))
        .send()
        .await
        .unwrap();
    problem(anonymous, 401, "missing_token").await;
}

#[actix_web::test]
async fn a_pledger_hears_of_promotion_from_the_waitlist_and_of_their_claims_verified_or_not() {
    let app = TestApp::spawn().await;
    let owner = person(&app, "owner@example.org").await;
    let ada = person(&app, "ada@example.org").await;
    let bo = person(&app, "bo@example.org").await;
    let group = create_group(&app, &owner, "Green Street Friends", "open").await;
    // Started an hour ago, so hours can be claimed; one place only.
    let opportunity = create_opportunity(
        &app,
        &owner,
        &group,
        json!({"capacity": 1, "starts_at": in_hours(-1), "ends_at": in_hours(2)}),
    )
    .await;
    let first = pledge(&app, &ada, &opportunity).await;
    assert_eq!(first["status"], "confirmed");
    let second = pledge(&app, &bo, &opportunity).await;
    assert_eq!(second["status"], "waitlisted");
    let pid = second["id"].as_str().unwrap();
    // Making a pledge tells nobody.
    assert_eq!(kinds(&feed(&app, &ada).await), Vec::<String>::new());
    assert_eq!(kinds(&feed(&app, &bo).await), Vec::<String>::new());

    // A place comes free (the organisers make room): the waitlist moves up.
    ok(send(
        &app,
        Method::PATCH,
        &format!("/opportunities/{opportunity}"),
        &owner,
        Some(json!({"capacity": 2})),
    )
    .await)
    .await;
    assert_eq!(kinds(&feed(&app, &bo).await), ["pledge.confirmed"]);

    let claim = format!("/pledges/{pid}/fulfilment");
    let verify = format!("/pledges/{pid}/verification");
    ok(send(&app, Method::POST, &claim, &bo, Some(json!({"hours": 2}))).await).await;
    let rejection = json!({"accepted": false, "reason": "You left early"});
    ok(send(&app, Method::POST, &verify, &owner, Some(rejection)).await).await;
    // (The notification quotes the reason from the pledge, which a new claim clears.)
    settle(&app).await;
    ok(send(&app, Method::POST, &claim, &bo, Some(json!({"hours": 1.5}))).await).await;
    let accepted = json!({"accepted": true});
    ok(send(&app, Method::POST, &verify, &owner, Some(accepted)).await).await;

    let bos = feed(&app, &bo).await;
    assert_eq!(
        kinds(&bos),
        [
            "pledge.verified",
            "pledge.claim_rejected",
            "pledge.confirmed"
        ]
    );
    let items = bos["items"].as_array().unwrap();
    assert_eq!(
        items[0]["title"],
        "1.5 hours verified for Litter pick on the green"
    );
    assert_eq!(
        items[1]["title"],
        "Your hours for Litter pick on the green were not verified"
    );
    assert_eq!(items[1]["body"], "The organisers said: You left early");
    assert_eq!(
        items[2]["title"],
        "You're confirmed for Litter pick on the green"
    );
    for item in items {
        assert_eq!(item["data"]["pledge_id"], pid);
        assert_eq!(item["data"]["opportunity_id"], opportunity);
        assert_eq!(item["data"]["group_id"], group);
    }
    // A withdrawal frees a place on a later opportunity: the next in line hears of it.
    let cy = person(&app, "cy@example.org").await;
    let later = create_opportunity(
        &app,
        &owner,
        &group,
        json!({"title": "Bulb planting", "capacity": 1}),
    )
    .await;
    let adas = pledge(&app, &ada, &later).await;
    assert_eq!(pledge(&app, &cy, &later).await["status"], "waitlisted");
    let path = format!("/pledges/{}", adas["id"].as_str().unwrap());
    status_is(send(&app, Method::DELETE, &path, &ada, None).await, 204).await;
    let cys = feed(&app, &cy).await;
    assert_eq!(kinds(&cys), ["pledge.confirmed"]);
    assert_eq!(
        cys["items"][0]["title"],
        "You're confirmed for Bulb planting"
    );
    // Pledging, withdrawing and organising tell the actors nothing.
    assert_eq!(kinds(&feed(&app, &ada).await), Vec::<String>::new());
    assert_eq!(kinds(&feed(&app, &owner).await), Vec::<String>::new());
}

#[actix_web::test]
async fn cancelling_an_opportunity_notifies_its_pledgers_who_want_to_hear() {
    let app = TestApp::spawn().await;
    let owner = person(&app, "owner@example.org").await;
    let ada = person(&app, "ada@example.org").await;
    let bo = person(&app, "bo@example.org").await;
    let cy = person(&app, "cy@example.org").await;
    let group = create_group(&app, &owner, "Green Street Friends", "open").await;
    let opportunity =
        create_opportunity(&app, &owner, &group, json!({"title": "Hedge trimming"})).await;
    for who in [&ada, &bo, &cy] {
        pledge(&app, who, &opportunity).await;
    }
    ok(send(
        &app,
        Method::PATCH,
        "/me",
        &cy,
        Some(json!({"notification_preferences": {"opportunities": false}})),
    )
    .await)
    .await;
    ok(send(
        &app,
        Method::PATCH,
        &format!("/opportunities/{opportunity}"),
        &owner,
        Some(json!({"status": "cancelled"})),
    )
    .await)
    .await;

    for who in [&ada, &bo] {
        let mine = feed(&app, who).await;
        assert_eq!(kinds(&mine), ["opportunity.cancelled"]);
        assert_eq!(
            mine["items"][0]["title"],
            "Hedge trimming has been cancelled"
        );
        assert_eq!(mine["items"][0]["data"]["opportunity_id"], opportunity);
    }
    assert_eq!(kinds(&feed(&app, &cy).await), Vec::<String>::new());
    assert_eq!(kinds(&feed(&app, &owner).await), Vec::<String>::new());
}

#[actix_web::test]
async fn a_member_hears_when_their_request_to_join_is_approved() {
    let app = TestApp::spawn().await;
    let owner = person(&app, "owner@example.org").await;
    let bo = person(&app, "bo@example.org").await;
    let group = create_group(&app, &owner, "Park Group", "approval").await;
    let path = format!("/groups/{group}/membership");
    let joined = ok(send(&app, Method::PUT, &path, &bo, None).await).await;
    assert_eq!(joined["status"], "pending");
    assert_eq!(kinds(&feed(&app, &bo).await), Vec::<String>::new());
    ok(send(
        &app,
        Method::PATCH,
        &format!("/groups/{group}/members/{}", bo.id),
        &owner,
        Some(json!({"status": "active"})),
    )
    .await)
    .await;
    let bos = feed(&app, &bo).await;
    assert_eq!(kinds(&bos), ["group.member_approved"]);
    assert_eq!(bos["items"][0]["title"], "Welcome to Park Group");
    assert_eq!(bos["items"][0]["data"]["group_id"], group);
    assert_eq!(kinds(&feed(&app, &owner).await), Vec::<String>::new());
}

#[actix_web::test]
async fn devices_register_idempotently_move_between_accounts_and_are_deleted_by_their_owner() {
    let app = TestApp::spawn().await;
    let ada = person(&app, "ada@example.org").await;
    let bo = person(&app, "bo@example.org").await;
    let token = "fcm:APA91bHun4MxP5egoKMwt2KZFBaFUH-1RYqx";
    let path = format!("/me/devices/{token}");
    let put = |who, platform: &str| {
        let body = Some(json!({ "platform": platform }));
        send(&app, Method::PUT, &path, who, body)
    };

    let created = status_is(put(&ada, "fcm").await, 201).await;
    assert_eq!(created["platform"], "fcm");
    assert_eq!(created["token_hint"], "fcm:AP…RYqx");
    let again = status_is(put(&ada, "apns").await, 200).await;
    assert_eq!(again["platform"], "apns");
    assert_eq!(again["created_at"], created["created_at"]);
    let list = send(&app, Method::GET, "/me/devices", &ada, None).await;
    let text = list.text().await.unwrap();
    assert!(!text.contains(token), "the token is masked: {text}");
    let list: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0]["platform"], "apns");

    // The token moves to whoever registered it last.
    status_is(put(&bo, "fcm").await, 201).await;
    let adas = ok(send(&app, Method::GET, "/me/devices", &ada, None).await).await;
    assert_eq!(adas["items"], json!([]));
    let bos = ok(send(&app, Method::GET, "/me/devices", &bo, None).await).await;
    assert_eq!(bos["items"].as_array().unwrap().len(), 1);
    problem(
        send(&app, Method::DELETE, &path, &ada, None).await,
        404,
        "not_found",
    )
    .await;
    status_is(send(&app, Method::DELETE, &path, &bo, None).await, 204).await;
    problem(
        send(&app, Method::DELETE, &path, &bo, None).await,
        404,
        "not_found",
    )
    .await;

    // A Web Push endpoint, percent-encoded into the path.
    let endpoint = "/me/devices/https%3A%2F%2Fpush.example.org%2Fsend%2Fabc123";
    let body = Some(json!({"platform": "webpush"}));
    status_is(send(&app, Method::PUT, endpoint, &ada, body).await, 201).await;
    status_is(send(&app, Method::DELETE, endpoint, &ada, None).await, 204).await;

    let bad = problem(put(&ada, "sms").await, 422, "validation_failed").await;
    assert_eq!(bad["errors"][0]["field"], "platform");
    let long = format!("/me/devices/{}", "a".repeat(4097));
    let body = Some(json!({"platform": "fcm"}));
    let bad = problem(
        send(&app, Method::PUT, &long, &ada, body).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(bad["errors"][0]["field"], "token");
    let longest = format!("/me/devices/{}", "a".repeat(4096));
    let body = Some(json!({"platform": "fcm"}));
    status_is(send(&app, Method::PUT, &longest, &ada, body).await, 201).await;
    let anonymous = app.client.get(app.api("/me/devices")).send().await.unwrap();
    problem(anonymous, 401, "missing_token").await;
}

/// A push relay on a random port that records what it receives and answers `status`.
struct Relay {
    url: String,
    received: Arc<Mutex<Vec<Value>>>,
    status: Arc<AtomicU16>,
}

fn spawn_relay() -> Relay {
    use actix_web::{App, HttpResponse, HttpServer, web};
    let received = Arc::new(Mutex::new(Vec::new()));
    let status = Arc::new(AtomicU16::new(200));
    let (sink, answer) = (received.clone(), status.clone());
    let server = HttpServer::new(move || {
        let (sink, answer) = (sink.clone(), answer.clone());
        App::new().route(
            "/push",
            web::post().to(move |body: web::Json<Value>| {
                let (sink, answer) = (sink.clone(), answer.clone());
                async move {
                    sink.lock().unwrap().push(body.into_inner());
                    let code = actix_web::http::StatusCode::from_u16(answer.load(Ordering::SeqCst))
                        .unwrap();
                    HttpResponse::build(code).finish()
                }
            }),
        )
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let port = server.addrs()[0].port();
    actix_web::rt::spawn(server.run());
    Relay {
        url: format!("http://127.0.0.1:{port}/push"),
        received,
        status,
    }
}

#[actix_web::test]
async fn the_relay_provider_pushes_to_devices_and_drops_tokens_the_relay_rejects() {
    let relay = spawn_relay();
    let url = relay.url.clone();
    let app = TestApp::spawn_with(|c| c.push_relay_url = Some(url)).await;
    let ada = person(&app, "ada@example.org").await;
    let bo = person(&app, "bo@example.org").await;
    let officer = staff(&app, "officer@example.org").await;
    let token = "ada-phone-token-0001";
    status_is(
        send(
            &app,
            Method::PUT,
            &format!("/me/devices/{token}"),
            &ada,
            Some(json!({"platform": "fcm"})),
        )
        .await,
        201,
    )
    .await;
    let issue = report(&app, &ada, TITLE).await;
    // Bo follows but has no device: he gets the notification, not a push.
    follow(&app, &bo, &issue).await;
    set_status(&app, &officer, &issue, "escalated").await;

    let expected = format!("{TITLE} is now escalated to the council");
    let push = eventually(Duration::from_secs(10), || {
        let received = relay.received.clone();
        let expected = expected.clone();
        async move {
            received
                .lock()
                .unwrap()
                .iter()
                .find(|p| p["title"] == expected.as_str())
                .cloned()
        }
    })
    .await
    .expect("the push reached the relay");
    assert_eq!(push["token"], token);
    assert_eq!(push["platform"], "fcm");
    assert_eq!(push["body"], "Moving to escalated.");
    assert_eq!(push["data"]["issue_id"], issue);
    assert_eq!(push["data"]["kind"], "issue.status_changed");
    let adas = feed(&app, &ada).await;
    assert_eq!(push["data"]["notification_id"], adas["items"][0]["id"]);
    assert_eq!(kinds(&feed(&app, &bo).await), ["issue.status_changed"]);
    assert!(
        relay
            .received
            .lock()
            .unwrap()
            .iter()
            .all(|p| p["token"] == token)
    );

    // The relay now says the token is gone: the device is dropped.
    relay.status.store(410, Ordering::SeqCst);
    set_status(&app, &officer, &issue, "acknowledged").await;
    let dropped = eventually(Duration::from_secs(10), || async {
        let devices = ok(send(&app, Method::GET, "/me/devices", &ada, None).await).await;
        devices["items"]
            .as_array()
            .unwrap()
            .is_empty()
            .then_some(())
    })
    .await;
    assert!(dropped.is_some(), "the rejected device was dropped");
    assert_eq!(relay.received.lock().unwrap().len(), 2);
    // The feed keeps the notification all the same.
    assert_eq!(
        kinds(&feed(&app, &ada).await),
        ["issue.status_changed", "issue.status_changed"]
    );
}
