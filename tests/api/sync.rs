//! The sync feed (`GET /sync`): the first sync's snapshot, every kind of change reaching
//! the feed, paging that delivers each change exactly once with a cursor that only moves
//! forward, tombstones for what a citizen lost (and nothing of other people's things), a
//! write that commits after later ones, errors and who may call it; and the tombstones of
//! `GET /issues?updated_since=…&include_deleted=true`.

use std::collections::{BTreeSet, HashSet};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use reqwest::{Method, Response};
use serde_json::{Value, json};

use crate::helpers::{Citizen, TestApp, backend_is_postgres, problem};

const LAT: f64 = 51.5072;
const LON: f64 = -0.1276;

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

async fn get(app: &TestApp, who: &Person, path: &str) -> Value {
    ok(send(app, Method::GET, path, who, None).await).await
}

async fn report(app: &TestApp, who: &Person, title: &str) -> String {
    let body = json!({"category": "litter", "title": title, "description": "Seen this morning", "lat": LAT, "lon": LON});
    let created = status_is(
        send(app, Method::POST, "/issues", who, Some(body)).await,
        201,
    )
    .await;
    created["id"].as_str().unwrap().to_owned()
}

/// `PUT` (or `DELETE`) with no body, expecting success.
async fn act(app: &TestApp, who: &Person, method: Method, path: &str) {
    let response = send(app, method, path, who, None).await;
    let status = response.status().as_u16();
    assert!(
        status == 200 || status == 204,
        "{path}: {status} {}",
        response.text().await.unwrap()
    );
}

async fn create_group(app: &TestApp, owner: &Person, name: &str) -> String {
    let body = json!({"name": name, "description": "Neighbours", "lat": LAT, "lon": LON, "radius_m": 2000});
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

async fn create_opportunity(app: &TestApp, owner: &Person, group: &str, title: &str) -> String {
    let body = json!({
        "title": title, "description": "Bring gloves",
        "lat": LAT, "lon": LON, "starts_at": in_hours(24), "ends_at": in_hours(27)
    });
    let path = format!("/groups/{group}/opportunities");
    status_is(send(app, Method::POST, &path, owner, Some(body)).await, 201).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn pledge_to(app: &TestApp, who: &Person, opportunity: &str) -> String {
    let path = format!("/opportunities/{opportunity}/pledges");
    let body = json!({"kind": "time", "hours": 2});
    status_is(send(app, Method::POST, &path, who, Some(body)).await, 201).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn comment(app: &TestApp, who: &Person, issue: &str, text: &str) {
    let path = format!("/issues/{issue}/comments");
    status_is(
        send(app, Method::POST, &path, who, Some(json!({"body": text}))).await,
        201,
    )
    .await;
}

/// Waits until the dispatcher has fanned out every event (notifications are written
/// then), so a sync sees them.
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
        assert!(Instant::now() < deadline, "{backlog} events undispatched");
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
}

/// One call of the feed.
async fn sync_once(app: &TestApp, who: &Person, since: Option<&str>, limit: u32) -> Value {
    let mut request = app
        .client
        .get(app.api("/sync"))
        .bearer_auth(&who.who.access_token)
        .query(&[("limit", limit.to_string())]);
    if let Some(since) = since {
        request = request.query(&[("since", since)]);
    }
    let page = ok(request.send().await.unwrap()).await;
    let items = page["items"].as_array().unwrap();
    assert!(items.len() <= limit as usize, "{page}");
    assert!(page["next_cursor"].is_string(), "{page}");
    page
}

/// Syncs until `has_more` is false: each page's items and the cursor after it.
async fn sync_pages(
    app: &TestApp,
    who: &Person,
    since: Option<&str>,
    limit: u32,
) -> Vec<(Vec<Value>, String)> {
    let mut pages = Vec::new();
    let mut since = since.map(str::to_owned);
    for _ in 0..200 {
        let page = sync_once(app, who, since.as_deref(), limit).await;
        let cursor = page["next_cursor"].as_str().unwrap().to_owned();
        pages.push((page["items"].as_array().unwrap().clone(), cursor.clone()));
        if page["has_more"] == false {
            return pages;
        }
        since = Some(cursor);
    }
    panic!("the feed never ran dry");
}

/// Everything after `since` in one list, and the final cursor.
async fn sync_all(app: &TestApp, who: &Person, since: Option<&str>) -> (Vec<Value>, String) {
    settle(app).await;
    let pages = sync_pages(app, who, since, 100).await;
    let cursor = pages.last().unwrap().1.clone();
    (
        pages.into_iter().flat_map(|(items, _)| items).collect(),
        cursor,
    )
}

/// The cursor of a citizen whose app is up to date.
async fn caught_up(app: &TestApp, who: &Person) -> String {
    sync_all(app, who, None).await.1
}

fn key(item: &Value) -> (String, String) {
    (
        item["type"].as_str().unwrap().to_owned(),
        item["id"].as_str().unwrap().to_owned(),
    )
}

fn keys(items: &[Value]) -> BTreeSet<(String, String)> {
    let keys: Vec<_> = items.iter().map(key).collect();
    let set: BTreeSet<_> = keys.iter().cloned().collect();
    assert_eq!(set.len(), keys.len(), "an item twice: {keys:?}");
    set
}

fn expect(pairs: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    pairs
        .iter()
        .map(|(kind, id)| ((*kind).to_owned(), (*id).to_owned()))
        .collect()
}

fn item<'a>(items: &'a [Value], kind: &str, id: &str) -> &'a Value {
    items
        .iter()
        .find(|item| item["type"] == kind && item["id"] == id)
        .unwrap_or_else(|| panic!("no {kind} {id} in {items:?}"))
}

fn tombstone(kind: &str, id: &str) -> Value {
    json!({"type": kind, "id": id, "deleted": true})
}

#[actix_web::test]
async fn the_first_sync_is_a_snapshot_of_everything_that_concerns_the_citizen() {
    let app = TestApp::spawn().await;
    let ada = person(&app, "ada@example.org").await;
    let bo = person(&app, "bo@example.org").await;
    let own = report(&app, &ada, "Broken bench").await;
    let supported = report(&app, &bo, "Pothole on Mill Lane").await;
    act(
        &app,
        &ada,
        Method::PUT,
        &format!("/issues/{supported}/support"),
    )
    .await;
    let followed = report(&app, &bo, "Graffiti on the bridge").await;
    act(
        &app,
        &ada,
        Method::PUT,
        &format!("/issues/{followed}/follow"),
    )
    .await;
    report(&app, &bo, "Fly-tipping behind the shops").await;
    let group = create_group(&app, &bo, "Green Street Friends").await;
    act(
        &app,
        &ada,
        Method::PUT,
        &format!("/groups/{group}/membership"),
    )
    .await;
    create_group(&app, &bo, "Park Group").await;
    let opportunity = create_opportunity(&app, &bo, &group, "Litter pick").await;
    let pledge = pledge_to(&app, &ada, &opportunity).await;
    comment(&app, &bo, &own, "I saw it too").await;
    settle(&app).await;
    let notifications = get(&app, &ada, "/me/notifications").await;
    let notification = notifications["items"][0].clone();
    let notification_id = notification["id"].as_str().unwrap();

    // Small pages, so the snapshot takes several calls.
    let pages = sync_pages(&app, &ada, None, 3).await;
    assert!(pages.len() >= 3, "{pages:?}");
    let items: Vec<Value> = pages.into_iter().flat_map(|(items, _)| items).collect();
    assert_eq!(
        keys(&items),
        expect(&[
            ("account", &ada.id),
            ("group", &group),
            ("issue", &own),
            ("issue", &supported),
            ("issue", &followed),
            ("opportunity", &opportunity),
            ("pledge", &pledge),
            ("notification", notification_id),
        ])
    );
    // Each as its own GET answers Ada.
    for (kind, id, path) in [
        ("account", ada.id.as_str(), "/me".to_owned()),
        ("group", &group, format!("/groups/{group}")),
        ("issue", &own, format!("/issues/{own}")),
        ("issue", &supported, format!("/issues/{supported}")),
        ("issue", &followed, format!("/issues/{followed}")),
        (
            "opportunity",
            &opportunity,
            format!("/opportunities/{opportunity}"),
        ),
        ("pledge", &pledge, format!("/pledges/{pledge}")),
    ] {
        let found = item(&items, kind, id);
        assert_eq!(found["deleted"], false);
        assert_eq!(found["data"], get(&app, &ada, &path).await, "{kind} {id}");
    }
    assert_eq!(
        item(&items, "notification", notification_id)["data"],
        notification
    );
    assert_eq!(
        item(&items, "issue", &supported)["data"]["supported_by_me"],
        true
    );
}

#[actix_web::test]
async fn every_kind_of_change_reaches_the_feed_after_it_is_made() {
    let app = TestApp::spawn().await;
    let ada = person(&app, "ada@example.org").await;
    let bo = person(&app, "bo@example.org").await;
    let cy = person(&app, "cy@example.org").await;
    let bos_issue = report(&app, &bo, "Pothole on Mill Lane").await;
    let bos_other = report(&app, &bo, "Graffiti on the bridge").await;
    let group = create_group(&app, &bo, "Green Street Friends").await;
    let cys_group = create_group(&app, &cy, "Park Group").await;
    let opportunity = create_opportunity(&app, &bo, &group, "Litter pick").await;
    let mut cursor = caught_up(&app, &ada).await;
    let next = async |cursor: &mut String| {
        let (items, next) = sync_all(&app, &ada, Some(cursor)).await;
        *cursor = next;
        items
    };

    let own = report(&app, &ada, "Broken bench").await;
    let items = next(&mut cursor).await;
    assert_eq!(keys(&items), expect(&[("issue", &own)]));
    assert_eq!(items[0]["data"]["title"], "Broken bench");

    act(
        &app,
        &ada,
        Method::PUT,
        &format!("/issues/{bos_issue}/support"),
    )
    .await;
    let items = next(&mut cursor).await;
    assert_eq!(keys(&items), expect(&[("issue", &bos_issue)]));
    assert_eq!(items[0]["data"]["supported_by_me"], true);
    assert_eq!(items[0]["data"]["support_count"], 1);

    act(
        &app,
        &ada,
        Method::PUT,
        &format!("/issues/{bos_other}/follow"),
    )
    .await;
    let items = next(&mut cursor).await;
    assert_eq!(keys(&items), expect(&[("issue", &bos_other)]));
    assert_eq!(items[0]["data"]["followed_by_me"], true);

    act(
        &app,
        &ada,
        Method::PUT,
        &format!("/groups/{group}/membership"),
    )
    .await;
    let items = next(&mut cursor).await;
    assert_eq!(keys(&items), expect(&[("group", &group)]));
    assert_eq!(items[0]["data"]["my_membership"]["status"], "active");
    assert_eq!(items[0]["data"]["member_count"], 2);

    let pledge = pledge_to(&app, &ada, &opportunity).await;
    let items = next(&mut cursor).await;
    assert_eq!(
        keys(&items),
        expect(&[("pledge", &pledge), ("opportunity", &opportunity)])
    );
    assert_eq!(
        item(&items, "opportunity", &opportunity)["data"]["places_taken"],
        1
    );

    // Someone else's doing reaches Ada too: a comment on her issue changes it and
    // notifies her.
    comment(&app, &bo, &own, "I saw it too").await;
    let items = next(&mut cursor).await;
    let notifications = get(&app, &ada, "/me/notifications").await;
    let notification = notifications["items"][0]["id"].as_str().unwrap();
    assert_eq!(
        keys(&items),
        expect(&[("issue", &own), ("notification", notification)])
    );
    assert_eq!(
        item(&items, "notification", notification)["data"]["read"],
        false
    );

    // Reading it on one device is a change for the others.
    status_is(
        send(
            &app,
            Method::POST,
            "/me/notifications/read",
            &ada,
            Some(json!({"all": true})),
        )
        .await,
        200,
    )
    .await;
    let items = next(&mut cursor).await;
    assert_eq!(keys(&items), expect(&[("notification", notification)]));
    assert_eq!(items[0]["data"]["read"], true);

    let path = format!("/opportunities/{opportunity}");
    let body = json!({"title": "Litter pick and picnic"});
    ok(send(&app, Method::PATCH, &path, &bo, Some(body)).await).await;
    let path = format!("/groups/{group}");
    let body = json!({"description": "Neighbours who tidy up"});
    ok(send(&app, Method::PATCH, &path, &bo, Some(body)).await).await;
    ok(send(
        &app,
        Method::PATCH,
        "/me",
        &ada,
        Some(json!({"display_name": "Ada L."})),
    )
    .await)
    .await;
    let items = next(&mut cursor).await;
    assert_eq!(
        keys(&items),
        expect(&[
            ("opportunity", &opportunity),
            ("group", &group),
            ("account", &ada.id),
        ])
    );
    // In the order of their latest change.
    let order: Vec<_> = items.iter().map(|i| i["type"].as_str().unwrap()).collect();
    assert_eq!(order, ["opportunity", "group", "account"]);
    assert_eq!(
        item(&items, "opportunity", &opportunity)["data"]["title"],
        "Litter pick and picnic"
    );
    assert_eq!(
        item(&items, "account", &ada.id)["data"]["display_name"],
        "Ada L."
    );

    // Other people's things never reach Ada.
    let cys_issue = report(&app, &cy, "Broken street light").await;
    act(
        &app,
        &cy,
        Method::PUT,
        &format!("/issues/{cys_issue}/follow"),
    )
    .await;
    act(
        &app,
        &bo,
        Method::PUT,
        &format!("/groups/{cys_group}/membership"),
    )
    .await;
    let cys_opportunity = create_opportunity(&app, &cy, &cys_group, "Bulb swap").await;
    pledge_to(&app, &bo, &cys_opportunity).await;
    ok(send(
        &app,
        Method::PATCH,
        "/me",
        &cy,
        Some(json!({"display_name": "Cy"})),
    )
    .await)
    .await;
    assert_eq!(next(&mut cursor).await, Vec::<Value>::new());
}

#[actix_web::test]
async fn paging_delivers_each_change_exactly_once_and_the_cursor_only_moves_forward() {
    let app = TestApp::spawn().await;
    let ada = person(&app, "ada@example.org").await;
    let bo = person(&app, "bo@example.org").await;
    let bos_issue = report(&app, &bo, "Pothole on Mill Lane").await;
    let groups = [
        create_group(&app, &bo, "Green Street Friends").await,
        create_group(&app, &bo, "Park Group").await,
    ];
    let start = caught_up(&app, &ada).await;

    let mut expected = Vec::new();
    for title in [
        "Broken bench",
        "Blocked drain",
        "Fallen tree",
        "Dumped sofa",
    ] {
        expected.push(("issue".to_owned(), report(&app, &ada, title).await));
    }
    for group in &groups {
        act(
            &app,
            &ada,
            Method::PUT,
            &format!("/groups/{group}/membership"),
        )
        .await;
        expected.push(("group".to_owned(), group.clone()));
    }
    act(
        &app,
        &ada,
        Method::PUT,
        &format!("/issues/{bos_issue}/follow"),
    )
    .await;
    expected.push(("issue".to_owned(), bos_issue.clone()));
    settle(&app).await;

    let pages = sync_pages(&app, &ada, Some(&start), 2).await;
    assert_eq!(pages.len(), 4, "{pages:?}");
    let delivered: Vec<Value> = pages.iter().flat_map(|(items, _)| items.clone()).collect();
    // Exactly once each, in the order they were made.
    assert_eq!(delivered.iter().map(key).collect::<Vec<_>>(), expected);
    let end = pages.last().unwrap().1.clone();

    // From any page's cursor, the feed goes on with exactly the pages after it: the
    // cursor never points back at something already delivered.
    let mut cursors = vec![start.clone()];
    cursors.extend(pages.iter().map(|(_, cursor)| cursor.clone()));
    for (k, cursor) in cursors.iter().enumerate() {
        let rest = sync_pages(&app, &ada, Some(cursor), 2).await;
        let rest: Vec<_> = rest
            .iter()
            .flat_map(|(items, _)| items.iter().map(key))
            .collect();
        assert_eq!(
            rest,
            expected[(2 * k).min(expected.len())..],
            "from page {k}"
        );
    }
    let distinct: HashSet<&String> = cursors.iter().collect();
    assert_eq!(distinct.len(), cursors.len(), "every page moved on");

    // Nothing new: nothing, and the same cursor.
    let again = sync_once(&app, &ada, Some(&end), 2).await;
    assert_eq!(again["items"], json!([]));
    assert_eq!(again["next_cursor"], end.as_str());
    assert_eq!(again["has_more"], false);

    // Several changes to one thing come as one item, in its latest state.
    let issue = &expected[0].1;
    for title in ["Broken bench, again", "Broken bench by the pond"] {
        let path = format!("/issues/{issue}");
        ok(send(
            &app,
            Method::PATCH,
            &path,
            &ada,
            Some(json!({"title": title})),
        )
        .await)
        .await;
    }
    act(&app, &ada, Method::PUT, &format!("/issues/{issue}/follow")).await;
    let (items, _) = sync_all(&app, &ada, Some(&end)).await;
    assert_eq!(keys(&items), expect(&[("issue", issue)]));
    assert_eq!(items[0]["data"]["title"], "Broken bench by the pond");
    assert_eq!(items[0]["data"]["followed_by_me"], true);
}

#[actix_web::test]
async fn what_a_citizen_loses_comes_as_a_tombstone_and_other_peoples_things_never_come() {
    let app = TestApp::spawn().await;
    let ada = person(&app, "ada@example.org").await;
    let bo = person(&app, "bo@example.org").await;
    let cy = person(&app, "cy@example.org").await;
    let followed = report(&app, &bo, "Pothole on Mill Lane").await;
    let supported = report(&app, &bo, "Graffiti on the bridge").await;
    let own = report(&app, &ada, "Broken bench").await;
    let elsewhere = report(&app, &bo, "Fly-tipping behind the shops").await;
    let left = create_group(&app, &bo, "Green Street Friends").await;
    let removed_from = create_group(&app, &bo, "Park Group").await;
    let opportunity = create_opportunity(&app, &bo, &left, "Litter pick").await;
    act(
        &app,
        &ada,
        Method::PUT,
        &format!("/issues/{followed}/follow"),
    )
    .await;
    act(
        &app,
        &ada,
        Method::PUT,
        &format!("/issues/{supported}/support"),
    )
    .await;
    act(&app, &ada, Method::PUT, &format!("/issues/{own}/follow")).await;
    act(
        &app,
        &ada,
        Method::PUT,
        &format!("/groups/{left}/membership"),
    )
    .await;
    act(
        &app,
        &ada,
        Method::PUT,
        &format!("/groups/{removed_from}/membership"),
    )
    .await;
    let pledge = pledge_to(&app, &ada, &opportunity).await;
    let cursor = caught_up(&app, &ada).await;

    // Cy's comings and goings on things Ada has nothing to do with.
    act(
        &app,
        &cy,
        Method::PUT,
        &format!("/issues/{elsewhere}/follow"),
    )
    .await;
    act(
        &app,
        &cy,
        Method::DELETE,
        &format!("/issues/{elsewhere}/follow"),
    )
    .await;
    act(
        &app,
        &cy,
        Method::PUT,
        &format!("/groups/{removed_from}/membership"),
    )
    .await;
    let (items, cursor) = sync_all(&app, &ada, Some(&cursor)).await;
    // Only the member count of a group Ada is in moved.
    assert_eq!(keys(&items), expect(&[("group", &removed_from)]));
    assert_eq!(items[0]["data"]["member_count"], 3);

    act(
        &app,
        &ada,
        Method::DELETE,
        &format!("/issues/{followed}/follow"),
    )
    .await;
    act(
        &app,
        &ada,
        Method::DELETE,
        &format!("/issues/{supported}/support"),
    )
    .await;
    act(&app, &ada, Method::DELETE, &format!("/issues/{own}/follow")).await;
    act(
        &app,
        &ada,
        Method::DELETE,
        &format!("/groups/{left}/membership"),
    )
    .await;
    let path = format!("/groups/{removed_from}/members/{}", ada.id);
    ok(send(
        &app,
        Method::PATCH,
        &path,
        &bo,
        Some(json!({"status": "removed"})),
    )
    .await)
    .await;
    let path = format!("/opportunities/{opportunity}");
    ok(send(
        &app,
        Method::PATCH,
        &path,
        &bo,
        Some(json!({"status": "cancelled"})),
    )
    .await)
    .await;
    let (items, cursor) = sync_all(&app, &ada, Some(&cursor)).await;
    let (notifications, items): (Vec<Value>, Vec<Value>) = items
        .into_iter()
        .partition(|item| item["type"] == "notification");
    assert_eq!(
        keys(&items),
        expect(&[
            ("issue", &followed),
            ("issue", &supported),
            ("issue", &own),
            ("group", &left),
            ("group", &removed_from),
            ("opportunity", &opportunity),
            ("pledge", &pledge),
        ])
    );
    for (kind, id) in [
        ("issue", &followed),
        ("issue", &supported),
        ("group", &left),
        ("group", &removed_from),
        // Cancelled: no longer there for Ada to see.
        ("opportunity", &opportunity),
    ] {
        assert_eq!(*item(&items, kind, id), tombstone(kind, id));
    }
    // Still hers as its reporter; the pledge is still hers, withdrawn.
    assert_eq!(item(&items, "issue", &own)["deleted"], false);
    assert_eq!(item(&items, "issue", &own)["data"]["followed_by_me"], false);
    assert_eq!(
        item(&items, "pledge", &pledge)["data"]["status"],
        "withdrawn"
    );
    // The cancellation is also news for her.
    assert_eq!(notifications.len(), 1, "{notifications:?}");
    assert_eq!(notifications[0]["data"]["kind"], "opportunity.cancelled");

    // Following again brings it back.
    act(
        &app,
        &ada,
        Method::PUT,
        &format!("/issues/{followed}/follow"),
    )
    .await;
    let (items, _) = sync_all(&app, &ada, Some(&cursor)).await;
    assert_eq!(keys(&items), expect(&[("issue", &followed)]));
    assert_eq!(items[0]["deleted"], false);
    assert_eq!(items[0]["data"]["followed_by_me"], true);

    // Cy never heard of any of it: her snapshot holds her account and the group.
    let (cys, _) = sync_all(&app, &cy, None).await;
    assert_eq!(
        keys(&cys),
        expect(&[("account", &cy.id), ("group", &removed_from)])
    );
}

#[actix_web::test]
async fn a_write_that_commits_after_later_ones_is_still_delivered() {
    let app = TestApp::spawn().await;
    let ada = person(&app, "ada@example.org").await;
    let bo = person(&app, "bo@example.org").await;
    let first = report(&app, &bo, "Pothole on Mill Lane").await;
    let late = report(&app, &bo, "Graffiti on the bridge").await;
    let last = report(&app, &bo, "Fly-tipping behind the shops").await;
    let cursor = caught_up(&app, &ada).await;
    let follow = |issue: &str| format!("/issues/{issue}/follow");

    if !backend_is_postgres() {
        // SQLite has one writer at a time and numbers changes inside its lock, so a
        // write cannot commit after a later one; the feed is in commit order.
        for issue in [&first, &late, &last] {
            act(&app, &ada, Method::PUT, &follow(issue)).await;
        }
        let pages = sync_pages(&app, &ada, Some(&cursor), 1).await;
        let delivered: Vec<_> = pages
            .iter()
            .flat_map(|(items, _)| items.iter().map(key))
            .collect();
        let expected: Vec<_> = [&first, &late, &last]
            .into_iter()
            .map(|id| ("issue".to_owned(), id.clone()))
            .collect();
        assert_eq!(delivered, expected);
        return;
    }

    act(&app, &ada, Method::PUT, &follow(&first)).await;
    // A transaction on a connection of the app's own pool follows `late` for Ada through
    // the model code, and stays open while another change commits and Ada syncs.
    let pool = app.state.pool.clone();
    let (written_tx, written_rx) = std::sync::mpsc::channel::<()>();
    let (commit_tx, commit_rx) = std::sync::mpsc::channel::<()>();
    let (late_issue, ada_id) = (late.clone(), ada.id.clone());
    let writer = std::thread::spawn(move || {
        let mut conn = pool.get().unwrap();
        civitas::db::transaction(&mut conn, |conn| {
            let now = civitas::db::now();
            let bond = civitas::issues::models::Bond::Follow;
            civitas::issues::models::add_bond(conn, bond, &late_issue, &ada_id, now)?;
            written_tx.send(()).unwrap();
            commit_rx.recv().unwrap();
            Ok::<_, diesel::result::Error>(())
        })
        .unwrap();
    });
    actix_web::web::block(move || written_rx.recv().unwrap())
        .await
        .unwrap();
    act(&app, &ada, Method::PUT, &follow(&last)).await;

    // The open transaction holds the feed back at itself: what committed before it is
    // delivered, what committed after it waits.
    let (items, cursor) = sync_all(&app, &ada, Some(&cursor)).await;
    assert_eq!(keys(&items), expect(&[("issue", &first)]));
    let (items, cursor) = sync_all(&app, &ada, Some(&cursor)).await;
    assert_eq!(items, Vec::<Value>::new());

    commit_tx.send(()).unwrap();
    actix_web::web::block(move || writer.join().unwrap())
        .await
        .unwrap();
    let (items, cursor) = sync_all(&app, &ada, Some(&cursor)).await;
    // The late write comes first: its transaction began before the other change.
    let delivered: Vec<_> = items.iter().map(key).collect();
    assert_eq!(
        delivered,
        [
            ("issue".to_owned(), late.clone()),
            ("issue".to_owned(), last.clone())
        ]
    );
    assert_eq!(item(&items, "issue", &late)["data"]["followed_by_me"], true);
    let (items, _) = sync_all(&app, &ada, Some(&cursor)).await;
    assert_eq!(items, Vec::<Value>::new());
}

#[actix_web::test]
async fn the_feed_is_for_signed_in_citizens_with_cursors_it_issued() {
    let app = TestApp::spawn().await;
    let ada = person(&app, "ada@example.org").await;
    let cursor = caught_up(&app, &ada).await;

    let path = |query: &str| format!("/sync?{query}");
    for since in [
        "garbage",
        "2.eyJwIjpbMCwwXX0",
        "1.eyJwIjpbLTEsMF19",
        &cursor[..cursor.len() - 2],
    ] {
        let response = send(
            &app,
            Method::GET,
            &path(&format!("since={since}")),
            &ada,
            None,
        )
        .await;
        problem(response, 400, "invalid_cursor").await;
    }
    for limit in ["0", "101"] {
        let response = send(
            &app,
            Method::GET,
            &path(&format!("limit={limit}")),
            &ada,
            None,
        )
        .await;
        let body = problem(response, 422, "validation_failed").await;
        assert_eq!(body["errors"][0]["field"], "limit");
    }

    let response = app.client.get(app.api("/sync")).send().await.unwrap();
    problem(response, 401, "missing_token").await;

    let partner = app.partner("Food bank", &["issues:write"]);
    let token = app.partner_token(&partner).await;
    let response = app.get_as("/sync", &token).await;
    problem(response, 403, "citizens_only").await;

    // A good cursor still works.
    let page = sync_once(&app, &ada, Some(&cursor), 10).await;
    assert_eq!(page["next_cursor"], cursor.as_str());
}

/// Deletes an issue outright, as a future admin tool might: logging it first, so those it
/// concerned hear of it.
async fn delete_issue(app: &TestApp, id: &str) {
    let pool = app.state.pool.clone();
    let id = id.to_owned();
    actix_web::web::block(move || {
        use civitas::db::schema::issues;
        let mut conn = pool.get().unwrap();
        civitas::db::transaction(&mut conn, |conn| {
            civitas::sync::forget(conn, civitas::sync::Entity::Issue, &id)?;
            diesel::delete(issues::table.find(&id)).execute(conn)?;
            Ok::<_, diesel::result::Error>(())
        })
        .unwrap();
    })
    .await
    .unwrap();
}

fn rfc3339(time: chrono::DateTime<chrono::Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

#[actix_web::test]
async fn issues_gone_from_the_list_come_as_tombstones_when_asked() {
    let app = TestApp::spawn().await;
    let ada = person(&app, "ada@example.org").await;
    let bo = person(&app, "bo@example.org").await;
    let since = rfc3339(chrono::Utc::now() - chrono::TimeDelta::seconds(1));
    let kept = report(&app, &bo, "Pothole on Mill Lane").await;
    let gone = report(&app, &bo, "Graffiti on the bridge").await;
    let newest = report(&app, &bo, "Fly-tipping behind the shops").await;
    act(&app, &ada, Method::PUT, &format!("/issues/{gone}/follow")).await;
    let cursor = caught_up(&app, &ada).await;
    delete_issue(&app, &gone).await;
    actix_web::rt::time::sleep(Duration::from_millis(5)).await;
    let after = rfc3339(chrono::Utc::now());

    let list = |query: String| {
        let app = &app;
        async move {
            let response = app
                .client
                .get(app.api(&format!("/issues?{query}")))
                .send()
                .await
                .unwrap();
            ok(response).await
        }
    };
    let ids = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| item["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let since_q = format!("updated_since={}", urlencode(&since));

    let page = list(format!("{since_q}&include_deleted=true")).await;
    assert_eq!(ids(&page), [newest.clone(), gone.clone(), kept.clone()]);
    assert_eq!(page["items"][1], json!({"id": gone, "deleted": true}));
    assert_eq!(page["items"][0]["deleted"], Value::Null);
    assert_eq!(page["items"][0]["title"], "Fly-tipping behind the shops");

    // Not asked: no tombstones.
    let page = list(since_q.clone()).await;
    assert_eq!(ids(&page), [newest.clone(), kept.clone()]);
    // Nothing left since the deletion.
    let page = list(format!(
        "updated_since={}&include_deleted=true",
        urlencode(&after)
    ))
    .await;
    assert_eq!(ids(&page), Vec::<String>::new());

    // Paged one by one, in the list's order.
    let mut seen = Vec::new();
    let mut query = format!("{since_q}&include_deleted=true&limit=1");
    loop {
        let page = list(query.clone()).await;
        seen.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(next) => query = format!("{since_q}&include_deleted=true&limit=1&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(seen, [newest.clone(), gone.clone(), kept.clone()]);

    // A near search lists them first (they have no place any more).
    let near = format!("{since_q}&include_deleted=true&near={LAT},{LON}&radius=500&limit=2");
    let page = list(near.clone()).await;
    assert_eq!(page["items"][0], json!({"id": gone, "deleted": true}));
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let next = page["next_cursor"].as_str().unwrap();
    let rest = list(format!("{near}&cursor={next}")).await;
    let mut all: Vec<String> = ids(&page).into_iter().chain(ids(&rest)).collect();
    all.sort();
    let mut expected = vec![newest.clone(), gone.clone(), kept.clone()];
    expected.sort();
    assert_eq!(all, expected);

    let response = app
        .client
        .get(app.api("/issues?include_deleted=true"))
        .send()
        .await
        .unwrap();
    let body = problem(response, 422, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "include_deleted");

    // Ada followed it: her feed says it is gone.
    let (items, _) = sync_all(&app, &ada, Some(&cursor)).await;
    assert_eq!(items, [tombstone("issue", &gone)]);
}

fn urlencode(text: &str) -> String {
    text.replace(':', "%3A").replace('+', "%2B")
}
