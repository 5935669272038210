//! Scale-out: two real `civitas serve` processes on one database, on two ports, with
//! nothing in front of them. Driven at once, they behave as one system: sessions and
//! logout, idempotency replays, opportunity capacity, webhook delivery exactly once while
//! both run the dispatcher and the sender, and one sync feed order. On PostgreSQL, and on
//! one SQLite file in WAL mode shared by the two processes.

use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use crate::helpers::{Citizen, Node, NodeDatabase, PASSWORD, expect};
use crate::webhooks::Receiver;

/// A request to `node` as `token`, with a JSON body when given.
async fn call(
    node: &Node,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = node
        .client
        .request(method, node.api(path))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

fn report(title: &str) -> Value {
    json!({"category": "litter", "title": title, "description": "Bags by the bins.",
           "lat": 51.5, "lon": -0.12})
}

/// The whole sync feed of `who`, paged `limit` at a time, each page from the next of
/// `nodes` in turn: the items' `(type, id, deleted)` in order.
async fn sync_feed(nodes: &[&Node], who: &Citizen, limit: usize) -> Vec<(String, String, bool)> {
    let mut items = Vec::new();
    let mut since: Option<String> = None;
    for page in 0.. {
        assert!(page < 500, "the feed never ran dry");
        let node = nodes[page % nodes.len()];
        let mut path = format!("/sync?limit={limit}");
        if let Some(since) = &since {
            path.push_str(&format!("&since={since}"));
        }
        let body = expect(
            call(node, reqwest::Method::GET, &path, &who.access_token, None).await,
            200,
        )
        .await;
        for item in body["items"].as_array().unwrap() {
            items.push((
                item["type"].as_str().unwrap().to_owned(),
                item["id"].as_str().unwrap().to_owned(),
                item["deleted"] == true,
            ));
        }
        since = Some(body["next_cursor"].as_str().unwrap().to_owned());
        if body["has_more"] == false {
            return items;
        }
    }
    unreachable!()
}

#[actix_web::test]
async fn two_nodes_on_one_database_behave_as_one_system() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let database = NodeDatabase::fresh(dir.path());
    // One data directory, as a shared volume would be (the mail drop, photos); each node
    // logs to a file of its own. The first applies the migrations before the second
    // starts (on PostgreSQL an advisory lock would let them start together).
    let node = |name: &str| {
        Node::new(&database.url, dir.path())
            .log_to(&dir.path().join(format!("{name}.log")))
            .env("CIVITAS_WEBHOOK_ALLOW_HTTP", "true")
            .env("CIVITAS_WEBHOOK_ALLOW_PRIVATE", "true")
            .env("CIVITAS_DISPATCH_INTERVAL_MS", "50")
    };
    let a = node("a").start().await;
    let b = node("b").start().await;
    let backend = if database.is_postgres() {
        "postgres"
    } else {
        "sqlite"
    };

    // Sessions: signed in on A, the token works on B; logged out on B, refused on A at
    // once.
    a.create_user("ada@example.org", PASSWORD, "citizen");
    let ada = a.sign_in("ada@example.org", PASSWORD).await;
    let me = expect(
        call(&b, reqwest::Method::GET, "/me", &ada.access_token, None).await,
        200,
    )
    .await;
    assert_eq!(me["email"], "ada@example.org");
    let out = call(
        &b,
        reqwest::Method::POST,
        "/auth/logout",
        &ada.access_token,
        Some(json!({})),
    )
    .await;
    assert_eq!(out.status(), 204);
    let refused = call(&a, reqwest::Method::GET, "/me", &ada.access_token, None).await;
    assert_eq!(
        refused.status(),
        401,
        "a session ended on B still works on A"
    );
    let refresh = a
        .client
        .post(a.api("/auth/refresh"))
        .json(&json!({"refresh_token": ada.refresh_token}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        refresh.status(),
        401,
        "the ended session's refresh token works on A"
    );
    let ada = b.sign_in("ada@example.org", PASSWORD).await;

    // A partner's webhook for every new issue, registered on B.
    let receiver = Receiver::start();
    let partner = a.create_partner("Two Node Trust", &["webhooks:manage", "issues:read"]);
    let partner_token = b.partner_token(&partner).await;
    let hook = call(
        &b,
        reqwest::Method::POST,
        "/webhooks",
        &partner_token,
        Some(json!({"url": receiver.url, "events": ["issue.reported"]})),
    )
    .await;
    expect(hook, 201).await;

    // Idempotency: a keyed report on A, replayed on B: the same answer, one issue.
    let keyed = |node: &Node, key: &str, title: &str| {
        node.client
            .post(node.api("/issues"))
            .bearer_auth(&ada.access_token)
            .header("idempotency-key", key)
            .json(&report(title))
            .send()
    };
    let first = keyed(&a, "two-nodes-1", "Keyed on A").await.unwrap();
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first = expect(first, 201).await;
    let replay = keyed(&b, "two-nodes-1", "Keyed on A").await.unwrap();
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(expect(replay, 201).await, first);
    // The same new key on both at once: one issue, whichever node acts; the other
    // answers with it too, or 409 while it is still being made.
    let (on_a, on_b) = futures_util::join!(
        keyed(&a, "two-nodes-2", "Keyed on both"),
        keyed(&b, "two-nodes-2", "Keyed on both")
    );
    let mut ids = HashSet::new();
    for response in [on_a.unwrap(), on_b.unwrap()] {
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        match status {
            201 => {
                ids.insert(body["id"].as_str().unwrap().to_owned());
            }
            409 => assert_eq!(body["code"], "idempotency_key_in_use", "{body}"),
            other => panic!("{other}: {body}"),
        }
    }
    assert_eq!(ids.len(), 1, "one key, two issues: {ids:?}");

    // Writes through both at once: 10 reports on each.
    let token = &ada.access_token;
    let reports = (0..20).map(|i| {
        let node = if i % 2 == 0 { &a } else { &b };
        let title = format!("Report {i} through {}", if i % 2 == 0 { "A" } else { "B" });
        async move {
            let response = call(
                node,
                reqwest::Method::POST,
                "/issues",
                token,
                Some(report(&title)),
            )
            .await;
            expect(response, 201).await["id"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    });
    let mut reported: Vec<String> = futures_util::future::join_all(reports).await;
    reported.push(first["id"].as_str().unwrap().to_owned());
    reported.extend(ids);
    let mine = expect(
        call(
            &b,
            reqwest::Method::GET,
            "/issues?reported_by=me&limit=100",
            &ada.access_token,
            None,
        )
        .await,
        200,
    )
    .await;
    let listed: HashSet<&str> = mine["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed.len(), 22, "one issue per report and per key");
    for id in &reported {
        assert!(listed.contains(id.as_str()), "{id} missing");
    }

    // Capacity: 12 volunteers pledge at once, half through each node, for 4 places.
    a.create_user("owner@example.org", PASSWORD, "citizen");
    let owner = a.sign_in("owner@example.org", PASSWORD).await;
    let group = expect(
        call(
            &a,
            reqwest::Method::POST,
            "/groups",
            &owner.access_token,
            Some(json!({
            "name": "Two Node Friends", "description": "Neighbours", "lat": 51.5,
            "lon": -0.12, "radius_m": 2000, "join_policy": "open"})),
        )
        .await,
        201,
    )
    .await;
    let soon = |hours: i64| {
        (chrono::Utc::now() + chrono::TimeDelta::hours(hours))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    let opportunity = expect(
        call(
            &b,
            reqwest::Method::POST,
            &format!("/groups/{}/opportunities", group["id"].as_str().unwrap()),
            &owner.access_token,
            Some(
                json!({"title": "Litter pick", "description": "Bring gloves",
                "lat": 51.5, "lon": -0.12, "starts_at": soon(24), "ends_at": soon(27),
                "capacity": 4}),
            ),
        )
        .await,
        201,
    )
    .await;
    let opportunity = opportunity["id"].as_str().unwrap().to_owned();
    let mut volunteers = Vec::new();
    for i in 0..12 {
        let email = format!("volunteer{i}@example.org");
        a.create_user(&email, PASSWORD, "citizen");
        let node = if i % 2 == 0 { &a } else { &b };
        volunteers.push(node.sign_in(&email, PASSWORD).await);
    }
    let pledges = volunteers.iter().enumerate().map(|(i, volunteer)| {
        let node = if i % 2 == 0 { &a } else { &b };
        let path = format!("/opportunities/{opportunity}/pledges");
        async move {
            let response = call(
                node,
                reqwest::Method::POST,
                &path,
                &volunteer.access_token,
                Some(json!({"kind": "time", "hours": 2.0})),
            )
            .await;
            expect(response, 201).await["status"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    });
    let statuses = futures_util::future::join_all(pledges).await;
    let confirmed = statuses.iter().filter(|s| *s == "confirmed").count();
    let waitlisted = statuses.iter().filter(|s| *s == "waitlisted").count();
    assert_eq!((confirmed, waitlisted), (4, 8), "{statuses:?}");
    for node in [&a, &b] {
        let seen = expect(
            call(
                node,
                reqwest::Method::GET,
                &format!("/opportunities/{opportunity}"),
                &owner.access_token,
                None,
            )
            .await,
            200,
        )
        .await;
        assert_eq!(seen["places_taken"], 4);
        assert_eq!(seen["waitlist_count"], 8);
    }

    // Webhooks: each of the 22 reports reached the partner once, though both nodes
    // dispatch and send.
    let deadline = Instant::now() + Duration::from_secs(30);
    while receiver.received().len() < 22 {
        assert!(
            Instant::now() < deadline,
            "{} of 22 deliveries arrived",
            receiver.received().len()
        );
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    // Long enough for a second delivery of anything to show up.
    actix_web::rt::time::sleep(Duration::from_secs(2)).await;
    let received = receiver.received();
    let mut per_issue: HashMap<String, usize> = HashMap::new();
    let mut delivery_ids = HashSet::new();
    for delivery in &received {
        let (id, body) = (delivery.id(), delivery.json());
        assert_eq!(body["type"], "issue.reported", "{body}");
        assert!(
            delivery_ids.insert(id.to_owned()),
            "delivery {id} came twice"
        );
        *per_issue
            .entry(body["data"]["id"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    assert_eq!(received.len(), 22, "{per_issue:?}");
    for id in &reported {
        assert_eq!(per_issue.get(id), Some(&1), "issue {id}");
    }

    // Sync: the same feed, in the same order, from A, from B, and paged across both;
    // every report once.
    let mut feeds = Vec::new();
    for attempt in 0.. {
        // The feed only grows as background work (notifications) lands; read until
        // three reads agree.
        feeds = vec![
            sync_feed(&[&a], &ada, 100).await,
            sync_feed(&[&b], &ada, 100).await,
            sync_feed(&[&a, &b], &ada, 3).await,
        ];
        if feeds.iter().all(|feed| *feed == feeds[0]) {
            break;
        }
        assert!(attempt < 20, "the nodes' feeds never agreed: {feeds:?}");
        actix_web::rt::time::sleep(Duration::from_millis(250)).await;
    }
    let feed = &feeds[0];
    let unique: HashSet<(&str, &str)> = feed
        .iter()
        .map(|(t, id, _)| (t.as_str(), id.as_str()))
        .collect();
    assert_eq!(
        unique.len(),
        feed.len(),
        "an item twice in one sync: {feed:?}"
    );
    for id in &reported {
        assert!(
            feed.contains(&("issue".to_owned(), id.clone(), false)),
            "issue {id} missing from the feed"
        );
    }

    eprintln!(
        "scaleout ({backend}): two nodes agreed on sessions, idempotency, capacity (4 of 12), \
         22 webhooks once each and a {}-item feed, in {:?}",
        feed.len(),
        started.elapsed()
    );
}
