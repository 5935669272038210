//! What moderators hide disappears everywhere it could appear: hidden issues leave every
//! list (REST search, duplicates, Open311, statistics, open data, the sync feed) and are
//! `404` for all but staff; hidden comments stay in the timeline as removed by
//! moderators; hidden photos leave the issue and their URL; hidden groups and
//! opportunities leave their lists and take no one new. Every check first shows the
//! thing visible, then hides it.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Citizen, TestApp, expect, problem};

/// The moderation kind of content kept in `table`.
fn target_type(table: &str) -> &'static str {
    match table {
        "issues" => "issue",
        "issue_events" => "comment",
        "issue_photos" => "photo",
        "groups" => "group",
        "opportunities" => "opportunity",
        other => panic!("nothing to hide in {other}"),
    }
}

/// A moderator hides one item (`table` names its kind, see [`target_type`]).
async fn hide(app: &TestApp, table: &str, id: &str) {
    let email = format!("moderator-{}@example.org", uuid::Uuid::now_v7().simple());
    let moderator = app.staff(&email, "moderator").await;
    let body = json!({"action": "hide", "target_type": target_type(table), "target_id": id,
        "reason": "Breaks the rules"});
    let response = app
        .post_json_as("/moderation/actions", &moderator.access_token, &body)
        .await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
}

/// Enough distinct citizens flag one item (the default threshold is 3) to hide it
/// pending review.
async fn hide_by_flags(app: &TestApp, table: &str, id: &str) {
    for n in 0..3 {
        let email = format!("flagger-{n}-{}@example.org", uuid::Uuid::now_v7().simple());
        let flagger = app.citizen(&email).await;
        let body = json!({"target_type": target_type(table), "target_id": id,
            "reason": "abuse"});
        let response = app
            .post_json_as("/flags", &flagger.access_token, &body)
            .await;
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    }
}

const LAT: f64 = 51.5072;
const LON: f64 = -0.1276;
const BOX: &str = "-0.2,51.4,0.0,51.6";

async fn get(app: &TestApp, path: &str, who: Option<&Citizen>) -> Value {
    expect(app.send(Method::GET, path, who, None).await, 200).await
}

async fn missing(
    app: &TestApp,
    method: Method,
    path: &str,
    who: Option<&Citizen>,
    body: Option<Value>,
) {
    let response = app.send(method.clone(), path, who, body).await;
    let url = response.url().to_string();
    assert_eq!(response.status(), 404, "{method} {url}");
    problem(response, 404, "not_found").await;
}

async fn report(app: &TestApp, who: &Citizen, title: &str, lat: f64) -> Value {
    let body = json!({"category": "litter", "title": title,
        "description": "Bin bags split open", "lat": lat, "lon": LON});
    expect(
        app.send(Method::POST, "/issues", Some(who), Some(body))
            .await,
        201,
    )
    .await
}

fn id(value: &Value) -> String {
    value["id"].as_str().unwrap().to_owned()
}

/// The ids of a page's items (or of a plain list).
fn ids(value: &Value) -> Vec<String> {
    value
        .get("items")
        .unwrap_or(value)
        .as_array()
        .unwrap()
        .iter()
        .map(id)
        .collect()
}

fn has(value: &Value, wanted: &str) -> bool {
    ids(value).iter().any(|id| id == wanted)
}

/// The Open311 requests (JSON) for `query`.
async fn open311_requests(app: &TestApp, query: &str) -> (u16, Value) {
    let response = app
        .client
        .get(app.url(&format!("/open311/v2/requests.json?{query}")))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

fn request_ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|r| r["service_request_id"].as_str().unwrap().to_owned())
        .collect()
}

async fn open_data(app: &TestApp, file: &str) -> String {
    let response = app
        .send(Method::GET, &format!("/open-data/{file}"), None, None)
        .await;
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

/// Syncs from `since` until the feed runs dry: every item, and the last cursor.
async fn sync_all(app: &TestApp, who: &Citizen, since: Option<&str>) -> (Vec<Value>, String) {
    let mut items = Vec::new();
    let mut since = since.map(str::to_owned);
    for _ in 0..50 {
        let mut path = "/sync?limit=100".to_owned();
        if let Some(since) = &since {
            path.push_str(&format!("&since={since}"));
        }
        let page = get(app, &path, Some(who)).await;
        items.extend(page["items"].as_array().unwrap().iter().cloned());
        let cursor = page["next_cursor"].as_str().unwrap().to_owned();
        if page["has_more"] == false {
            return (items, cursor);
        }
        since = Some(cursor);
    }
    panic!("the feed never ran dry");
}

fn synced<'a>(items: &'a [Value], kind: &str, id: &str) -> Option<&'a Value> {
    items
        .iter()
        .rev()
        .find(|item| item["type"] == kind && item["id"] == id)
}

fn tombstone(kind: &str, id: &str) -> Value {
    json!({"type": kind, "id": id, "deleted": true})
}

fn rfc3339(time: chrono::DateTime<chrono::Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
        .replace(':', "%3A")
        .replace('+', "%2B")
}

#[actix_web::test]
async fn a_hidden_issue_leaves_every_list_count_and_export() {
    let app = TestApp::spawn().await;
    let bo = app.citizen("bo@example.org").await;
    let hidden = id(&report(&app, &bo, "Offensive words about a neighbour", LAT).await);
    let kept = id(&report(&app, &bo, "Bags by the bus stop", LAT + 0.001).await);
    let since = rfc3339(chrono::Utc::now() - chrono::TimeDelta::seconds(1));

    let lists = [
        "/issues".to_owned(),
        format!("/issues?near={LAT},{LON}&radius=500"),
        format!("/issues?bbox={BOX}"),
        "/issues?q=split%20open".to_owned(),
        "/issues?category=litter&status=reported".to_owned(),
        "/issues?reported_by=me".to_owned(),
        format!("/issues/duplicates?lat={LAT}&lon={LON}&category=litter"),
    ];
    let by_id = format!("service_request_id={hidden},{kept}");
    for path in &lists {
        let list = get(&app, path, Some(&bo)).await;
        assert!(has(&list, &hidden), "{path} lists it before: {list}");
    }
    let duplicates = report(&app, &bo, "More bags", LAT).await;
    assert!(has(&duplicates["possible_duplicates"], &hidden));
    for query in ["", by_id.as_str()] {
        let (status, list) = open311_requests(&app, query).await;
        assert_eq!(status, 200);
        assert!(request_ids(&list).contains(&hidden), "{query}: {list}");
    }
    let response = app
        .client
        .get(app.url(&format!("/open311/v2/requests/{hidden}.json")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(open_data(&app, "issues.csv").await.contains(&hidden));
    assert!(open_data(&app, "issues.geojson").await.contains(&hidden));
    let stats = get(&app, "/stats", None).await;
    assert_eq!(stats["issues"]["total"], 3, "{stats}");
    assert_eq!(stats["issues"]["by_category"][0]["count"], 3, "{stats}");

    hide_by_flags(&app, "issues", &hidden).await;

    let stats = get(&app, "/stats", None).await;
    assert_eq!(stats["issues"]["total"], 2, "{stats}");
    assert_eq!(stats["issues"]["by_category"][0]["count"], 2, "{stats}");
    for path in &lists {
        let list = get(&app, path, Some(&bo)).await;
        assert!(!has(&list, &hidden), "{path} still lists it: {list}");
        assert!(has(&list, &kept), "{path} lost the other issue: {list}");
    }
    let duplicates = report(&app, &bo, "Even more bags", LAT).await;
    assert!(!has(&duplicates["possible_duplicates"], &hidden));
    assert!(has(&duplicates["possible_duplicates"], &kept));
    for query in ["", by_id.as_str()] {
        let (status, list) = open311_requests(&app, query).await;
        assert_eq!(status, 200);
        assert!(!request_ids(&list).contains(&hidden), "{query}: {list}");
        assert!(request_ids(&list).contains(&kept), "{query}: {list}");
    }
    let response = app
        .client
        .get(app.url(&format!("/open311/v2/requests/{hidden}.json")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let errors: Value = response.json().await.unwrap();
    assert_eq!(errors[0]["code"], 404, "{errors}");
    let csv = open_data(&app, "issues.csv").await;
    assert!(!csv.contains(&hidden) && csv.contains(&kept), "{csv}");
    let geojson = open_data(&app, "issues.geojson").await;
    assert!(!geojson.contains(&hidden) && geojson.contains(&kept));

    // Caches kept with `updated_since` learn it is gone, like a deleted one.
    let page = get(
        &app,
        &format!("/issues?updated_since={since}&include_deleted=true"),
        None,
    )
    .await;
    let gone: Vec<&Value> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|item| item["id"] == hidden.as_str())
        .collect();
    assert_eq!(gone, [&json!({"id": hidden, "deleted": true})], "{page}");
}

#[actix_web::test]
async fn a_hidden_issue_is_missing_for_everyone_but_staff() {
    let app = TestApp::spawn().await;
    let bo = app.citizen("bo@example.org").await;
    let ada = app.citizen("ada@example.org").await;
    let moderator = app.staff("mod@council.example", "moderator").await;
    let issue = id(&report(&app, &bo, "Offensive words about a neighbour", LAT).await);
    let control = id(&report(&app, &bo, "Bags by the bus stop", LAT).await);
    let detail = format!("/issues/{issue}");
    let timeline = format!("/issues/{issue}/timeline");

    let public = get(&app, &detail, None).await;
    assert_eq!(public["id"], issue.as_str());
    assert!(public.get("hidden").is_none(), "only staff see `hidden`");
    let as_staff = get(&app, &detail, Some(&moderator)).await;
    assert_eq!(as_staff["hidden"], false);
    assert!(!ids(&get(&app, &timeline, None).await).is_empty());
    expect(
        app.send(
            Method::PUT,
            &format!("/issues/{issue}/follow"),
            Some(&ada),
            None,
        )
        .await,
        200,
    )
    .await;

    hide(&app, "issues", &issue).await;

    for who in [None, Some(&ada), Some(&bo)] {
        missing(&app, Method::GET, &detail, who, None).await;
        missing(&app, Method::GET, &timeline, who, None).await;
    }
    let as_staff = get(&app, &detail, Some(&moderator)).await;
    assert_eq!(as_staff["id"], issue.as_str());
    assert_eq!(as_staff["hidden"], true);
    let entries = get(&app, &timeline, Some(&moderator)).await;
    assert_eq!(entries["items"][0]["kind"], "reported");

    // Nobody but staff acts on it: it is as if it were not there. Each change works on
    // an issue that is not hidden.
    let writes = |issue: &str| -> Vec<(Method, String, &Citizen, Option<Value>)> {
        let detail = format!("/issues/{issue}");
        vec![
            (
                Method::PATCH,
                detail.clone(),
                &bo,
                Some(json!({"title": "Nicer words"})),
            ),
            (
                Method::POST,
                format!("{detail}/comments"),
                &ada,
                Some(json!({"body": "Me too"})),
            ),
            (Method::PUT, format!("{detail}/support"), &ada, None),
            (Method::PUT, format!("{detail}/follow"), &ada, None),
            (Method::DELETE, format!("{detail}/follow"), &ada, None),
            (
                Method::POST,
                format!("{detail}/pledges"),
                &ada,
                Some(json!({"kind": "time", "hours": 2})),
            ),
            (
                Method::POST,
                format!("{detail}/status"),
                &bo,
                Some(json!({"status": "resolved", "note": "Gone"})),
            ),
        ]
    };
    for (method, path, who, body) in writes(&control) {
        let response = app.send(method.clone(), &path, Some(who), body).await;
        assert!(
            response.status().is_success(),
            "{method} {path}: {}",
            response.status()
        );
    }
    for (method, path, who, body) in writes(&issue) {
        missing(&app, method, &path, Some(who), body).await;
    }
    let photo = || {
        reqwest::multipart::Form::new().part(
            "photo",
            reqwest::multipart::Part::bytes(crate::photos::jpeg(64, 48))
                .file_name("photo.jpg")
                .mime_str("image/jpeg")
                .unwrap(),
        )
    };
    for (target, status) in [(&control, 201), (&issue, 404)] {
        let response = app
            .client
            .post(app.api(&format!("/issues/{target}/photos")))
            .bearer_auth(&bo.access_token)
            .multipart(photo())
            .send()
            .await
            .unwrap();
        expect(response, status).await;
    }

    // Staff still may.
    let moved = expect(
        app.send(
            Method::POST,
            &format!("{detail}/status"),
            Some(&moderator),
            Some(json!({"status": "community", "note": "Checked"})),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(moved["status"], "community");
    assert_eq!(moved["hidden"], true);
}

#[actix_web::test]
async fn a_hidden_issue_leaves_the_sync_feed_of_those_it_concerned() {
    let app = TestApp::spawn().await;
    let bo = app.citizen("bo@example.org").await;
    let ada = app.citizen("ada@example.org").await;
    let hidden = id(&report(&app, &bo, "Offensive words about a neighbour", LAT).await);
    let kept = id(&report(&app, &bo, "Bags by the bus stop", LAT).await);
    for issue in [&hidden, &kept] {
        let path = format!("/issues/{issue}/follow");
        expect(app.send(Method::PUT, &path, Some(&ada), None).await, 200).await;
    }
    let (snapshot, cursor) = sync_all(&app, &ada, None).await;
    assert!(synced(&snapshot, "issue", &hidden).is_some_and(|i| i["deleted"] == false));
    let (bo_snapshot, bo_cursor) = sync_all(&app, &bo, None).await;
    assert!(synced(&bo_snapshot, "issue", &hidden).is_some_and(|i| i["deleted"] == false));

    hide(&app, "issues", &hidden).await;

    // The follower and the reporter both hear it is gone.
    for (who, since) in [(&ada, &cursor), (&bo, &bo_cursor)] {
        let (items, _) = sync_all(&app, who, Some(since)).await;
        assert_eq!(
            synced(&items, "issue", &hidden),
            Some(&tombstone("issue", &hidden)),
            "{items:?}"
        );
        assert!(synced(&items, "issue", &kept).is_none(), "{items:?}");
    }
    // A fresh snapshot never has it.
    for who in [&ada, &bo] {
        let (snapshot, _) = sync_all(&app, who, None).await;
        assert!(
            synced(&snapshot, "issue", &hidden).is_none(),
            "{snapshot:?}"
        );
        assert!(synced(&snapshot, "issue", &kept).is_some(), "{snapshot:?}");
    }
}

#[actix_web::test]
async fn a_hidden_comment_stays_in_the_timeline_as_removed_by_moderators() {
    let app = TestApp::spawn().await;
    let bo = app.citizen("bo@example.org").await;
    let ada = app.citizen("ada@example.org").await;
    let moderator = app.staff("mod@council.example", "moderator").await;
    let issue = id(&report(&app, &bo, "Bags by the bus stop", LAT).await);
    let path = format!("/issues/{issue}/comments");
    let comment = expect(
        app.send(
            Method::POST,
            &path,
            Some(&ada),
            Some(json!({"body": "Rude words"})),
        )
        .await,
        201,
    )
    .await;
    let comment = id(&comment);
    let timeline = format!("/issues/{issue}/timeline");
    let entry_of = |page: &Value| {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["id"] == comment.as_str())
            .cloned()
            .unwrap()
    };
    let entry = entry_of(&get(&app, &timeline, None).await);
    assert_eq!(entry["text"], "Rude words");
    assert_eq!(entry["removed_by_moderators"], false);
    let notes = |app: &TestApp| {
        let url = app.url(&format!(
            "/open311/v2/requests/{issue}.json?extensions=true"
        ));
        let client = app.client.clone();
        async move {
            let list: Value = client.get(url).send().await.unwrap().json().await.unwrap();
            list[0]["extended_attributes"]["notes"].clone()
        }
    };
    assert!(notes(&app).await.to_string().contains("Rude words"));

    hide(&app, "issue_events", &comment).await;

    for who in [None, Some(&ada), Some(&bo)] {
        let entry = entry_of(&get(&app, &timeline, who).await);
        assert_eq!(entry["kind"], "comment");
        assert_eq!(entry["text"], Value::Null);
        assert_eq!(entry["removed_by_moderators"], true);
        assert_eq!(entry["deleted"], false, "not deleted by its author");
    }
    let entry = entry_of(&get(&app, &timeline, Some(&moderator)).await);
    assert_eq!(entry["removed_by_moderators"], true);
    assert_eq!(entry["text"], "Rude words", "staff still read it");
    let notes = notes(&app).await;
    assert!(!notes.to_string().contains("Rude words"), "{notes}");
    assert!(
        notes.to_string().contains("Comment removed by moderators."),
        "{notes}"
    );
}

#[actix_web::test]
async fn a_hidden_photo_leaves_its_issue_and_its_url_but_for_staff() {
    let app = TestApp::spawn().await;
    let bo = app.citizen("bo@example.org").await;
    let moderator = app.staff("mod@council.example", "moderator").await;
    let issue = id(&report(&app, &bo, "Bags by the bus stop", LAT).await);
    let form = reqwest::multipart::Form::new().part(
        "photo",
        reqwest::multipart::Part::bytes(crate::photos::jpeg(64, 48))
            .file_name("photo.jpg")
            .mime_str("image/jpeg")
            .unwrap(),
    );
    let response = app
        .client
        .post(app.api(&format!("/issues/{issue}/photos")))
        .bearer_auth(&bo.access_token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let photo = id(&expect(response, 201).await);
    let photo_url = format!("/photos/{photo}");
    let thumb_url = format!("/photos/{photo}?size=thumb");
    let detail = format!("/issues/{issue}");
    let by_id = format!("service_request_id={issue}");

    assert_eq!(
        ids(&get(&app, &detail, None).await["photos"]),
        [photo.as_str()]
    );
    for url in [&photo_url, &thumb_url] {
        let response = app.send(Method::GET, url, None, None).await;
        assert_eq!(response.status(), 200, "{url}");
    }
    let (_, requests) = open311_requests(&app, &by_id).await;
    assert!(requests[0]["media_url"].as_str().unwrap().contains(&photo));

    hide(&app, "issue_photos", &photo).await;

    for who in [None, Some(&bo)] {
        let shown = get(&app, &detail, who).await;
        assert_eq!(shown["photos"], json!([]), "{shown}");
        for url in [&photo_url, &thumb_url] {
            missing(&app, Method::GET, url, who, None).await;
        }
    }
    let (_, requests) = open311_requests(&app, &by_id).await;
    assert_eq!(requests[0]["service_request_id"], issue.as_str());
    assert!(
        requests[0].get("media_url").is_none_or(Value::is_null),
        "{requests}"
    );

    // Staff see it, marked, and it is not left in shared caches.
    let shown = get(&app, &detail, Some(&moderator)).await;
    assert_eq!(ids(&shown["photos"]), [photo.as_str()]);
    assert_eq!(shown["photos"][0]["hidden"], true);
    let response = app
        .send(Method::GET, &photo_url, Some(&moderator), None)
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "private, no-store");
    assert_eq!(response.headers()["content-type"], "image/jpeg");
}

async fn create_group(app: &TestApp, owner: &Citizen, name: &str) -> String {
    let body = json!({"name": name, "description": "Neighbours", "lat": LAT, "lon": LON,
        "radius_m": 2000});
    id(&expect(
        app.send(Method::POST, "/groups", Some(owner), Some(body))
            .await,
        201,
    )
    .await)
}

#[actix_web::test]
async fn a_hidden_group_is_unlisted_missing_and_closed_to_everyone_but_staff_readers() {
    let app = TestApp::spawn().await;
    let owner = app.citizen("owner@example.org").await;
    let newcomer = app.citizen("newcomer@example.org").await;
    let moderator = app.staff("mod@council.example", "moderator").await;
    let hidden = create_group(&app, &owner, "Hateful Neighbours").await;
    let kept = create_group(&app, &owner, "Friendly Neighbours").await;
    let lists = [
        "/groups".to_owned(),
        format!("/groups?near={LAT},{LON}"),
        "/groups?q=neighbours".to_owned(),
    ];
    for path in &lists {
        assert!(has(&get(&app, path, None).await, &hidden), "{path}");
    }
    let detail = format!("/groups/{hidden}");
    assert_eq!(get(&app, &detail, None).await["id"], hidden.as_str());
    assert_eq!(get(&app, &detail, Some(&moderator)).await["hidden"], false);
    let members = format!("/groups/{hidden}/members");
    let listed = get(&app, &members, Some(&owner)).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1, "{listed}");
    let (snapshot, cursor) = sync_all(&app, &owner, None).await;
    assert!(synced(&snapshot, "group", &hidden).is_some_and(|g| g["deleted"] == false));

    hide(&app, "groups", &hidden).await;

    for path in &lists {
        let list = get(&app, path, None).await;
        assert!(!has(&list, &hidden), "{path}: {list}");
        assert!(has(&list, &kept), "{path}: {list}");
    }
    for who in [None, Some(&owner), Some(&newcomer)] {
        missing(&app, Method::GET, &detail, who, None).await;
    }
    missing(&app, Method::GET, &members, Some(&owner), None).await;
    let membership = format!("/groups/{kept}/membership");
    expect(
        app.send(Method::PUT, &membership, Some(&newcomer), None)
            .await,
        200,
    )
    .await;
    let membership = format!("/groups/{hidden}/membership");
    missing(&app, Method::PUT, &membership, Some(&newcomer), None).await;
    missing(
        &app,
        Method::PATCH,
        &detail,
        Some(&owner),
        Some(json!({"description": "Fine"})),
    )
    .await;
    let shown = get(&app, &detail, Some(&moderator)).await;
    assert_eq!(shown["hidden"], true);

    // Its members' apps drop it; a fresh snapshot never has it.
    let (items, _) = sync_all(&app, &owner, Some(&cursor)).await;
    assert_eq!(
        synced(&items, "group", &hidden),
        Some(&tombstone("group", &hidden))
    );
    let (snapshot, _) = sync_all(&app, &owner, None).await;
    assert!(synced(&snapshot, "group", &hidden).is_none());
    assert!(synced(&snapshot, "group", &kept).is_some());
}

#[actix_web::test]
async fn a_hidden_opportunity_is_unlisted_missing_and_takes_no_pledges() {
    let app = TestApp::spawn().await;
    let owner = app.citizen("owner@example.org").await;
    let early = app.citizen("early@example.org").await;
    let late = app.citizen("late@example.org").await;
    let moderator = app.staff("mod@council.example", "moderator").await;
    let group = create_group(&app, &owner, "Friendly Neighbours").await;
    let in_hours = |hours: i64| {
        (chrono::Utc::now() + chrono::TimeDelta::hours(hours))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    let mut opportunities = Vec::new();
    for title in ["Litter pick on the common", "Paint the fence"] {
        let body = json!({"title": title, "description": "Bring gloves", "lat": LAT,
            "lon": LON, "starts_at": in_hours(24), "ends_at": in_hours(27)});
        let path = format!("/groups/{group}/opportunities");
        let created = expect(
            app.send(Method::POST, &path, Some(&owner), Some(body))
                .await,
            201,
        )
        .await;
        opportunities.push(id(&created));
    }
    let (hidden, kept) = (opportunities[0].clone(), opportunities[1].clone());
    let lists = [
        "/opportunities".to_owned(),
        format!("/opportunities?near={LAT},{LON}"),
        format!("/opportunities?group={group}"),
    ];
    for path in &lists {
        assert!(has(&get(&app, path, None).await, &hidden), "{path}");
    }
    let detail = format!("/opportunities/{hidden}");
    assert_eq!(get(&app, &detail, None).await["id"], hidden.as_str());
    let pledges = format!("{detail}/pledges");
    let pledge = json!({"kind": "time", "hours": 2});
    let mine = expect(
        app.send(Method::POST, &pledges, Some(&early), Some(pledge.clone()))
            .await,
        201,
    )
    .await;
    let mine = id(&mine);
    let (_, cursor) = sync_all(&app, &early, None).await;

    hide(&app, "opportunities", &hidden).await;

    for path in &lists {
        let list = get(&app, path, None).await;
        assert!(!has(&list, &hidden), "{path}: {list}");
        assert!(has(&list, &kept), "{path}: {list}");
    }
    for who in [None, Some(&early), Some(&owner)] {
        missing(&app, Method::GET, &detail, who, None).await;
    }
    assert_eq!(get(&app, &detail, Some(&moderator)).await["hidden"], true);
    missing(
        &app,
        Method::POST,
        &pledges,
        Some(&late),
        Some(pledge.clone()),
    )
    .await;
    let other = format!("/opportunities/{kept}/pledges");
    expect(
        app.send(Method::POST, &other, Some(&late), Some(pledge))
            .await,
        201,
    )
    .await;
    // Those who pledged before still see their own pledge.
    assert_eq!(
        get(&app, &format!("/pledges/{mine}"), Some(&early)).await["id"],
        mine.as_str()
    );
    // Their app drops the opportunity.
    let (items, _) = sync_all(&app, &early, Some(&cursor)).await;
    assert_eq!(
        synced(&items, "opportunity", &hidden),
        Some(&tombstone("opportunity", &hidden)),
        "{items:?}"
    );
}
