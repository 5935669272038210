//! Opportunities and pledges: capacity and the waitlist, conditions, claims and
//! verification, issue pledges, participation records, and who may see what.

use serde_json::{Value, json};
use std::time::Duration;

use crate::helpers::{Citizen, TestApp, problem};

const LAT: f64 = 51.5072;
const LON: f64 = -0.1276;

async fn send(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    who: &Citizen,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = app
        .client
        .request(method, app.api(path))
        .bearer_auth(&who.access_token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

async fn created(response: reqwest::Response) -> Value {
    let status = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(status, 201, "{body}");
    serde_json::from_str(&body).unwrap()
}

async fn ok(response: reqwest::Response) -> Value {
    let status = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// `GET path` as the public: its `200` body.
async fn public(app: &TestApp, path: &str) -> Value {
    ok(app.client.get(app.api(path)).send().await.unwrap()).await
}

/// A group organised by `owner`.
async fn group(app: &TestApp, owner: &Citizen, name: &str) -> String {
    let body = json!({"name": name, "description": "Neighbours", "lat": LAT, "lon": LON, "radius_m": 2000, "join_policy": "open"});
    created(
        app.post_json_as("/groups", &owner.access_token, &body)
            .await,
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

async fn opportunity(app: &TestApp, organiser: &Citizen, group: &str, extra: Value) -> Value {
    let mut body = json!({
        "title": "Litter pick on the green", "description": "Bring gloves",
        "lat": LAT, "lon": LON, "starts_at": in_hours(24), "ends_at": in_hours(27),
        "skills": ["litter-picking"]
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    created(
        app.post_json_as(
            &format!("/groups/{group}/opportunities"),
            &organiser.access_token,
            &body,
        )
        .await,
    )
    .await
}

/// The id of an opportunity of `group`, made by `organiser` with `extra` fields.
async fn opportunity_id(app: &TestApp, organiser: &Citizen, group: &str, extra: Value) -> String {
    opportunity(app, organiser, group, extra).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn time_pledge(hours: f64) -> Value {
    json!({"kind": "time", "hours": hours})
}

async fn pledge(app: &TestApp, who: &Citizen, opportunity: &str, body: Value) -> reqwest::Response {
    app.post_json_as(
        &format!("/opportunities/{opportunity}/pledges"),
        &who.access_token,
        &body,
    )
    .await
}

#[actix_web::test]
async fn concurrent_pledges_never_exceed_capacity_and_the_rest_wait() {
    let app = TestApp::spawn().await;
    let owner = app.citizen("owner@example.org").await;
    let group = group(&app, &owner, "Green Street Friends").await;
    let opp = opportunity(&app, &owner, &group, json!({"capacity": 5})).await;
    let id = opp["id"].as_str().unwrap().to_owned();
    let mut volunteers = Vec::new();
    for i in 0..50 {
        volunteers.push(app.citizen(&format!("v{i}@example.org")).await);
    }
    let attempts = volunteers
        .iter()
        .map(|v| pledge(&app, v, &id, time_pledge(2.0)));
    let mut confirmed = 0;
    let mut waitlisted = 0;
    for response in futures_util::future::join_all(attempts).await {
        let body = created(response).await;
        match body["status"].as_str().unwrap() {
            "confirmed" => confirmed += 1,
            "waitlisted" => waitlisted += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!((confirmed, waitlisted), (5, 45));
    let opp: Value = public(&app, &format!("/opportunities/{id}")).await;
    assert_eq!(opp["places_taken"], 5);
    assert_eq!(opp["places_left"], 0);
    assert_eq!(opp["waitlist_count"], 45);
}

#[actix_web::test]
async fn a_pledge_checks_the_session_and_the_account_before_the_body() {
    let app = TestApp::spawn().await;
    let owner = app.citizen("owner@example.org").await;
    let group = group(&app, &owner, "Mill Lane Friends").await;
    let opp = opportunity(&app, &owner, &group, json!({"capacity": 5})).await;
    let id = opp["id"].as_str().unwrap().to_owned();
    let missing = "0190a1b2-0000-7000-8000-000000000000";
    let (good, bad) = (time_pledge(2.0), time_pledge(0.0));

    let unverified = app.unverified("new@example.org").await;
    for body in [&good, &bad] {
        let refused = pledge(&app, &unverified, &id, body.clone()).await;
        problem(refused, 403, "email_not_verified").await;
    }

    let ada = app.citizen("ada@example.org").await;
    let phone = app
        .sign_in("ada@example.org", crate::helpers::PASSWORD)
        .await;
    app.logout(&ada).await;
    for (target, body) in [(id.as_str(), &good), (id.as_str(), &bad), (missing, &good)] {
        let refused = pledge(&app, &ada, target, body.clone()).await;
        problem(refused, 401, "session_ended").await;
    }

    problem(
        pledge(&app, &phone, &id, bad).await,
        422,
        "validation_failed",
    )
    .await;
    problem(
        pledge(&app, &phone, missing, good.clone()).await,
        404,
        "not_found",
    )
    .await;
    let made = created(pledge(&app, &phone, &id, good).await).await;
    assert_eq!(made["status"], "confirmed");
    let opp: Value = public(&app, &format!("/opportunities/{id}")).await;
    assert_eq!(opp["places_taken"], 1);
}

#[actix_web::test]
async fn a_withdrawal_promotes_the_oldest_waitlisted_pledge() {
    let app = TestApp::spawn().await;
    let owner = app.citizen("owner@example.org").await;
    let group = group(&app, &owner, "Green Street Friends").await;
    let id = opportunity_id(&app, &owner, &group, json!({"capacity": 1})).await;
    let first = app.citizen("first@example.org").await;
    let second = app.citizen("second@example.org").await;
    let third = app.citizen("third@example.org").await;
    let a = created(pledge(&app, &first, &id, time_pledge(2.0)).await).await;
    let b = created(pledge(&app, &second, &id, time_pledge(2.0)).await).await;
    let c = created(pledge(&app, &third, &id, time_pledge(2.0)).await).await;
    assert_eq!(
        (
            a["status"].as_str(),
            b["status"].as_str(),
            c["status"].as_str()
        ),
        (Some("confirmed"), Some("waitlisted"), Some("waitlisted"))
    );
    // One live pledge each.
    problem(
        pledge(&app, &first, &id, time_pledge(1.0)).await,
        409,
        "already_pledged",
    )
    .await;

    let response = send(
        &app,
        reqwest::Method::DELETE,
        &format!("/pledges/{}", a["id"].as_str().unwrap()),
        &first,
        None,
    )
    .await;
    assert_eq!(response.status(), 204);
    let b = ok(app
        .get_as(
            &format!("/pledges/{}", b["id"].as_str().unwrap()),
            &second.access_token,
        )
        .await)
    .await;
    assert_eq!(b["status"], "confirmed");
    let c = ok(app
        .get_as(
            &format!("/pledges/{}", c["id"].as_str().unwrap()),
            &third.access_token,
        )
        .await)
    .await;
    assert_eq!(c["status"], "waitlisted");
    // Having withdrawn, the first volunteer may pledge again (and waits).
    let again = created(pledge(&app, &first, &id, time_pledge(1.0)).await).await;
    assert_eq!(again["status"], "waitlisted");
}

#[actix_web::test]
async fn a_conditional_pledge_activates_when_met_and_lapses_after_its_deadline() {
    let app = TestApp::spawn().await;
    let owner = app.citizen("owner@example.org").await;
    let group = group(&app, &owner, "Green Street Friends").await;
    let id = opportunity_id(&app, &owner, &group, json!({})).await;
    let ada = app.citizen("ada@example.org").await;
    let bo = app.citizen("bo@example.org").await;
    let cy = app.citizen("cy@example.org").await;
    let condition =
        json!({"kind": "time", "hours": 3, "min_pledgers": 3, "condition_deadline": in_hours(1)});
    let pending = created(pledge(&app, &ada, &id, condition).await).await;
    assert_eq!(pending["status"], "conditional");
    assert_eq!(pending["condition"]["current_pledgers"], 1);
    assert_eq!(pending["condition"]["met"], false);
    created(pledge(&app, &bo, &id, time_pledge(1.0)).await).await;
    created(pledge(&app, &cy, &id, time_pledge(1.0)).await).await;
    let met = ok(app
        .get_as(
            &format!("/pledges/{}", pending["id"].as_str().unwrap()),
            &ada.access_token,
        )
        .await)
    .await;
    assert_eq!(met["status"], "confirmed");
    assert_eq!(met["condition"]["met"], true);

    // Another opportunity where the threshold is never met.
    let lonely = opportunity_id(&app, &owner, &group, json!({"title": "Lonely task"})).await;
    let deadline = (chrono::Utc::now() + chrono::TimeDelta::seconds(2))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let waiting = created(
        pledge(
            &app,
            &ada,
            &lonely,
            json!({"kind": "time", "hours": 1, "min_pledgers": 5, "condition_deadline": deadline}),
        )
        .await,
    )
    .await;
    assert_eq!(waiting["status"], "conditional");
    actix_web::rt::time::sleep(Duration::from_millis(2500)).await;
    let lapsed = ok(app
        .get_as(
            &format!("/pledges/{}", waiting["id"].as_str().unwrap()),
            &ada.access_token,
        )
        .await)
    .await;
    assert_eq!(lapsed["status"], "lapsed");
    let body =
        json!({"kind": "time", "hours": 1, "min_pledgers": 5, "condition_deadline": in_hours(-1)});
    problem(
        pledge(&app, &bo, &lonely, body).await,
        422,
        "validation_failed",
    )
    .await;
}

/// A new pledge takes its place as its write's last step, after the conditions it meets
/// have settled: a conditional pledge it activates came first, so it gets the last place.
#[actix_web::test]
async fn a_conditional_pledge_a_new_one_activates_gets_the_last_place_first() {
    let app = TestApp::spawn().await;
    let owner = app.citizen("owner@example.org").await;
    let group = group(&app, &owner, "Green Street Friends").await;
    let id = opportunity_id(&app, &owner, &group, json!({"capacity": 1})).await;
    let ada = app.citizen("ada@example.org").await;
    let bo = app.citizen("bo@example.org").await;
    let condition =
        json!({"kind": "time", "hours": 2, "min_pledgers": 2, "condition_deadline": in_hours(1)});
    let pending = created(pledge(&app, &ada, &id, condition).await).await;
    assert_eq!(pending["status"], "conditional");

    let late = created(pledge(&app, &bo, &id, time_pledge(1.0)).await).await;
    assert_eq!(late["status"], "waitlisted");
    let met = ok(app
        .get_as(
            &format!("/pledges/{}", pending["id"].as_str().unwrap()),
            &ada.access_token,
        )
        .await)
    .await;
    assert_eq!(met["status"], "confirmed");
    let counts = public(&app, &format!("/opportunities/{id}")).await;
    assert_eq!(counts["places_taken"], 1);
    assert_eq!(counts["waitlist_count"], 1);
}

#[actix_web::test]
async fn hours_are_claimed_by_the_pledger_and_verified_by_an_organiser() {
    let app = TestApp::spawn().await;
    let owner = app.citizen("owner@example.org").await;
    let group = group(&app, &owner, "Green Street Friends").await;
    // Started an hour ago, so hours can be claimed.
    let opp = opportunity(
        &app,
        &owner,
        &group,
        json!({"starts_at": in_hours(-1), "ends_at": in_hours(2)}),
    )
    .await;
    let id = opp["id"].as_str().unwrap();
    let ada = app.citizen("ada@example.org").await;
    let p = created(pledge(&app, &ada, id, time_pledge(3.0)).await).await;
    let pid = p["id"].as_str().unwrap();
    let claim = format!("/pledges/{pid}/fulfilment");
    let verify = format!("/pledges/{pid}/verification");
    problem(
        app.post_json_as(&claim, &owner.access_token, &json!({"hours": 3}))
            .await,
        403,
        "not_pledger",
    )
    .await;
    problem(
        app.post_json_as(&verify, &owner.access_token, &json!({"accepted": true}))
            .await,
        409,
        "no_claim",
    )
    .await;
    let claimed = ok(app
        .post_json_as(&claim, &ada.access_token, &json!({"hours": 2.5}))
        .await)
    .await;
    assert_eq!(claimed["claimed_hours"], 2.5);
    problem(
        app.post_json_as(&verify, &ada.access_token, &json!({"accepted": true}))
            .await,
        403,
        "not_organiser",
    )
    .await;
    problem(
        app.post_json_as(&verify, &owner.access_token, &json!({"accepted": false}))
            .await,
        422,
        "validation_failed",
    )
    .await;
    let rejected = ok(app
        .post_json_as(
            &verify,
            &owner.access_token,
            &json!({"accepted": false, "reason": "You left early"}),
        )
        .await)
    .await;
    assert_eq!(rejected["claimed_hours"], Value::Null);
    assert_eq!(rejected["rejection_reason"], "You left early");
    ok(app
        .post_json_as(&claim, &ada.access_token, &json!({"hours": 2}))
        .await)
    .await;
    let done = ok(app
        .post_json_as(&verify, &owner.access_token, &json!({"accepted": true}))
        .await)
    .await;
    assert_eq!(done["status"], "fulfilled");
    assert_eq!(done["verified_hours"], 2.0);

    let mine = ok(app.get_as("/me/participation", &ada.access_token).await).await;
    assert_eq!(mine["hours_verified"], 2.0);
    assert_eq!(mine["hours_pledged"], 3.0);
    let account = ok(app.get_as("/me", &ada.access_token).await).await;
    let public: Value = ok(app
        .client
        .get(app.api(&format!(
            "/accounts/{}/participation",
            account["id"].as_str().unwrap()
        )))
        .send()
        .await
        .unwrap())
    .await;
    assert_eq!(public["hours_verified"], 2.0);
    assert!(public.get("money_pledged").is_none() && public.get("pending_claims").is_none());
}

#[actix_web::test]
async fn a_pledge_to_an_issue_moves_it_to_community_and_the_timeline_shows_only_totals() {
    let app = TestApp::spawn().await;
    let ada = app.citizen("ada@example.org").await;
    let bo = app.citizen("bo@example.org").await;
    let issue = created(
        app.post_json_as(
            "/issues",
            &ada.access_token,
            &json!({"category": "litter", "title": "Bags by the bench", "lat": LAT, "lon": LON}),
        )
        .await,
    )
    .await;
    let id = issue["id"].as_str().unwrap();
    let path = format!("/issues/{id}/pledges");
    created(
        app.post_json_as(
            &path,
            &bo.access_token,
            &json!({"kind": "money", "amount_minor": 1500, "currency": "GBP"}),
        )
        .await,
    )
    .await;
    created(
        app.post_json_as(
            &path,
            &ada.access_token,
            &json!({"kind": "time", "hours": 2}),
        )
        .await,
    )
    .await;
    let detail: Value = public(&app, &format!("/issues/{id}")).await;
    assert_eq!(detail["status"], "community");
    let timeline: Value = public(&app, &format!("/issues/{id}/timeline")).await;
    let pledged: Vec<&Value> = timeline["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "pledged")
        .collect();
    assert_eq!(pledged.len(), 2);
    assert_eq!(
        pledged[1]["text"],
        "2 people have pledged help, 2 hours in all."
    );
    let text = serde_json::to_string(&timeline).unwrap();
    assert!(!text.contains("1500") && !text.contains("GBP"));
    for entry in &pledged {
        assert_eq!(entry["actor"]["role"], "system");
    }
    let body = json!({"kind": "money", "amount_minor": 0, "currency": "pounds"});
    let problem = problem(
        app.post_json_as(&path, &bo.access_token, &body).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"].as_array().unwrap().len(), 2);
}

#[actix_web::test]
async fn another_citizens_pledge_is_404_for_every_verb() {
    let app = TestApp::spawn().await;
    let owner = app.citizen("owner@example.org").await;
    let group = group(&app, &owner, "Green Street Friends").await;
    let id = opportunity_id(&app, &owner, &group, json!({})).await;
    let ada = app.citizen("ada@example.org").await;
    let eve = app.citizen("eve@example.org").await;
    let pid = created(pledge(&app, &ada, &id, time_pledge(2.0)).await).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let cases = [
        (reqwest::Method::GET, format!("/pledges/{pid}"), None),
        (
            reqwest::Method::PATCH,
            format!("/pledges/{pid}"),
            Some(json!({"note": "mine now"})),
        ),
        (reqwest::Method::DELETE, format!("/pledges/{pid}"), None),
        (
            reqwest::Method::POST,
            format!("/pledges/{pid}/fulfilment"),
            Some(json!({"hours": 1})),
        ),
        (
            reqwest::Method::POST,
            format!("/pledges/{pid}/verification"),
            Some(json!({"accepted": true})),
        ),
        (
            reqwest::Method::GET,
            format!("/opportunities/{id}/pledges"),
            None,
        ),
    ];
    for (method, path, body) in cases {
        let response = send(&app, method.clone(), &path, &eve, body).await;
        problem(response, 404, "not_found").await;
    }
    // The pledger and the organiser do see it.
    ok(app
        .get_as(&format!("/pledges/{pid}"), &ada.access_token)
        .await)
    .await;
    ok(app
        .get_as(&format!("/pledges/{pid}"), &owner.access_token)
        .await)
    .await;
    let listed = ok(app
        .get_as(&format!("/opportunities/{id}/pledges"), &owner.access_token)
        .await)
    .await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    let mine = ok(app.get_as("/me/pledges", &eve.access_token).await).await;
    assert_eq!(mine["items"], json!([]));
}

#[actix_web::test]
async fn organisers_manage_opportunities_and_cancelling_withdraws_pledges() {
    let app = TestApp::spawn().await;
    let owner = app.citizen("owner@example.org").await;
    let stranger = app.citizen("stranger@example.org").await;
    let group = group(&app, &owner, "Green Street Friends").await;
    let body = json!({"title": "Hedge trimming", "lat": LAT, "lon": LON, "starts_at": in_hours(24), "ends_at": in_hours(26)});
    problem(
        app.post_json_as(
            &format!("/groups/{group}/opportunities"),
            &stranger.access_token,
            &body,
        )
        .await,
        403,
        "not_organiser",
    )
    .await;
    let bad =
        json!({"title": "x", "starts_at": in_hours(5), "ends_at": in_hours(4), "capacity": 0});
    let response = app
        .post_json_as(
            &format!("/groups/{group}/opportunities"),
            &owner.access_token,
            &bad,
        )
        .await;
    let errors = problem(response, 422, "validation_failed").await;
    let fields: Vec<&str> = errors["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["title", "lat", "ends_at", "capacity"]);

    let draft = opportunity(
        &app,
        &owner,
        &group,
        json!({"status": "draft", "safety_ack_required": true, "safety_notes": "Gloves"}),
    )
    .await;
    let id = draft["id"].as_str().unwrap();
    problem(
        app.client
            .get(app.api(&format!("/opportunities/{id}")))
            .send()
            .await
            .unwrap(),
        404,
        "not_found",
    )
    .await;
    let listed: Value = public(&app, "/opportunities").await;
    assert_eq!(listed["items"], json!([]));
    let path = format!("/opportunities/{id}");
    let patch = |who: Citizen, body: Value| {
        let (app, path) = (&app, path.clone());
        async move { send(app, reqwest::Method::PATCH, &path, &who, Some(body)).await }
    };
    problem(
        patch(stranger.clone(), json!({"status": "published"})).await,
        404,
        "not_found",
    )
    .await;
    ok(patch(owner.clone(), json!({"status": "published"})).await).await;
    let near: Value = ok(app
        .client
        .get(app.api(&format!(
            "/opportunities?near={LAT},{LON}&radius=1000&skill=litter-picking"
        )))
        .send()
        .await
        .unwrap())
    .await;
    assert_eq!(near["items"].as_array().unwrap().len(), 1);
    let far: Value = public(&app, "/opportunities?near=48.85,2.35&radius=1000").await;
    assert_eq!(far["items"], json!([]));

    let ada = app.citizen("ada@example.org").await;
    problem(
        pledge(&app, &ada, id, time_pledge(1.0)).await,
        422,
        "validation_failed",
    )
    .await;
    let p = created(
        pledge(
            &app,
            &ada,
            id,
            json!({"kind": "time", "hours": 1, "safety_acknowledged": true}),
        )
        .await,
    )
    .await;
    let cancelled = ok(patch(owner.clone(), json!({"status": "cancelled"})).await).await;
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["places_taken"], 0);
    let p = ok(app
        .get_as(
            &format!("/pledges/{}", p["id"].as_str().unwrap()),
            &ada.access_token,
        )
        .await)
    .await;
    assert_eq!(p["status"], "withdrawn");
    problem(
        patch(owner.clone(), json!({"status": "published"})).await,
        409,
        "opportunity_closed",
    )
    .await;

    // The cancellation is in the outbox, naming who must hear about it.
    let me = ok(app.get_as("/me", &ada.access_token).await).await;
    let pool = app.state.pool.clone();
    let opportunity = id.to_owned();
    let events: Vec<(String, String)> = actix_web::web::block(move || {
        use civitas::db::schema::outbox_events;
        use diesel::prelude::*;
        let mut conn = pool.get().unwrap();
        outbox_events::table
            .filter(outbox_events::subject_id.eq(opportunity))
            .filter(outbox_events::kind.eq("opportunity.cancelled"))
            .select((outbox_events::kind, outbox_events::data))
            .load(&mut conn)
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(events.len(), 1, "one cancellation event");
    let data: Value = serde_json::from_str(&events[0].1).unwrap();
    assert_eq!(data["withdrawn_pledgers"], json!([me["id"]]));
}

#[actix_web::test]
async fn a_pledge_edited_on_two_devices_is_412_for_the_stale_one() {
    let app = TestApp::spawn().await;
    let organiser = app.citizen("org@example.org").await;
    let ann = app.citizen("ann@example.org").await;
    let group = group(&app, &organiser, "Green Street").await;
    let opportunity = opportunity(&app, &organiser, &group, json!({})).await;
    let made = created(
        pledge(
            &app,
            &ann,
            opportunity["id"].as_str().unwrap(),
            time_pledge(2.0),
        )
        .await,
    )
    .await;
    let path = format!("/pledges/{}", made["id"].as_str().unwrap());
    let read = send(&app, reqwest::Method::GET, &path, &ann, None).await;
    let tag = read.headers()["etag"].to_str().unwrap().to_owned();

    let edit = |hours: f64| {
        app.client
            .patch(app.api(&path))
            .bearer_auth(&ann.access_token)
            .header("if-match", tag.clone())
            .json(&json!({"hours": hours}))
            .send()
    };
    assert_eq!(ok(edit(3.0).await.unwrap()).await["hours"], 3.0);
    problem(edit(4.0).await.unwrap(), 412, "precondition_failed").await;
    let now = ok(send(&app, reqwest::Method::GET, &path, &ann, None).await).await;
    assert_eq!(now["hours"], 3.0);
}
