//! `civitas seed`: synthetic citizens and issues that the API serves like real ones, the
//! same for the same seed.

use serde_json::Value;
use std::collections::HashSet;

use crate::helpers::TestApp;

const SEED: [&str; 7] = ["seed", "--issues", "300", "--accounts", "20", "--seed", "7"];
/// The default centre of `civitas seed` (London) and its default spread.
const CENTRE: &str = "51.5072,-0.1276";
const SPREAD_M: f64 = 10_000.0;

fn seed(app: &TestApp, args: &[&str]) -> String {
    let output = app.cli(args, None);
    assert!(
        output.status.success(),
        "seed failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Every issue a search finds, page by page (100 a page).
async fn all_issues(app: &TestApp, search: &[(&str, &str)]) -> Vec<Value> {
    let mut issues = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..20 {
        let mut query: Vec<(&str, &str)> = search.to_vec();
        query.push(("limit", "100"));
        if let Some(cursor) = &cursor {
            query.push(("cursor", cursor));
        }
        let response = app
            .client
            .get(app.api("/issues"))
            .query(&query)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let page: Value = response.json().await.unwrap();
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 100);
        issues.extend(items.iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return issues,
        }
    }
    panic!("more pages than issues");
}

async fn first_page_titles(app: &TestApp) -> Vec<String> {
    let response = app
        .client
        .get(app.api("/issues?limit=100"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let page: Value = response.json().await.unwrap();
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|issue| issue["title"].as_str().unwrap().to_owned())
        .collect()
}

#[actix_web::test]
async fn seeding_creates_exactly_the_issues_asked_for_newest_first() {
    let app = TestApp::spawn().await;
    let stdout = seed(&app, &SEED);
    assert!(
        stdout.starts_with("seeded 300 issues and 20 accounts in "),
        "{stdout}"
    );

    let issues = all_issues(&app, &[]).await;
    assert_eq!(issues.len(), 300);
    let ids: HashSet<&str> = issues.iter().map(|i| i["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 300, "no issue twice");
    let created: Vec<&str> = issues
        .iter()
        .map(|i| i["created_at"].as_str().unwrap())
        .collect();
    assert!(
        created.windows(2).all(|w| w[0] >= w[1]),
        "ids follow creation times"
    );
    let statuses: HashSet<&str> = issues
        .iter()
        .map(|i| i["status"].as_str().unwrap())
        .collect();
    for status in ["reported", "community", "escalated"] {
        assert!(statuses.contains(status), "{status} in {statuses:?}");
    }
    let closed = issues.iter().filter(|i| !i["closed_at"].is_null()).count();
    assert!(closed > 0 && closed < 150, "some closed: {closed}");
    assert!(issues.iter().all(|i| i["support_count"] == 0));
    let categories: HashSet<&str> = issues
        .iter()
        .map(|i| i["category"]["code"].as_str().unwrap())
        .collect();
    assert!(categories.len() >= 8, "{categories:?}");
    // Required questions are answered with one of their keys.
    for issue in issues.iter().filter(|i| i["category"]["code"] == "pothole") {
        let size = issue["answers"]["size"].as_str().unwrap();
        assert!(["small", "medium", "large"].contains(&size), "{issue}");
    }
}

#[actix_web::test]
async fn seeded_issues_lie_around_the_centre_and_open_with_a_reported_event() {
    let app = TestApp::spawn().await;
    seed(&app, &SEED);

    let radius = (SPREAD_M + 50.0).to_string();
    let near = all_issues(&app, &[("near", CENTRE), ("radius", &radius)]).await;
    assert_eq!(near.len(), 300, "every issue within the spread");
    let distances: Vec<f64> = near
        .iter()
        .map(|i| i["distance_m"].as_f64().unwrap())
        .collect();
    // Nearest first, as the search orders: by a flat-map distance that can swap two
    // issues a few tenths of a per cent apart.
    assert!(
        distances.windows(2).all(|w| w[1] >= w[0] * 0.998),
        "nearest first: {distances:?}"
    );
    let close = all_issues(&app, &[("near", CENTRE), ("radius", "3000")]).await;
    assert!(!close.is_empty() && close.len() < 300, "{}", close.len());

    for issue in near.iter().take(5) {
        let id = issue["id"].as_str().unwrap();
        let response = app
            .client
            .get(app.api(&format!("/issues/{id}/timeline")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let timeline: Value = response.json().await.unwrap();
        let entries = timeline["items"].as_array().unwrap();
        assert_eq!(entries.len(), 1, "{timeline}");
        assert_eq!(entries[0]["kind"], "reported");
        assert_eq!(entries[0]["created_at"], issue["created_at"]);
    }
}

#[actix_web::test]
async fn seeded_citizens_sign_in_with_the_documented_password() {
    let app = TestApp::spawn().await;
    seed(&app, &SEED);

    for email in ["seed-1@example.org", "seed-20@example.org"] {
        let citizen = app.sign_in(email, "civitas-seed-password").await;
        let me = app.get_as("/me", &citizen.access_token).await;
        assert_eq!(me.status(), 200);
        let me: Value = me.json().await.unwrap();
        assert_eq!(me["email"], email);
        assert_eq!(me["role"], "citizen");
    }
    let response = app
        .login("seed-21@example.org", "civitas-seed-password")
        .await;
    assert_eq!(response.status(), 401, "only the accounts asked for");
}

#[actix_web::test]
async fn the_same_seed_gives_the_same_issues_and_another_seed_others() {
    let (first, second, other) = (
        TestApp::spawn().await,
        TestApp::spawn().await,
        TestApp::spawn().await,
    );
    seed(&first, &SEED);
    seed(&second, &SEED);
    seed(
        &other,
        &["seed", "--issues", "300", "--accounts", "20", "--seed", "8"],
    );

    let titles = first_page_titles(&first).await;
    assert_eq!(titles.len(), 100);
    assert_eq!(titles, first_page_titles(&second).await);
    assert_ne!(titles, first_page_titles(&other).await);
}

#[actix_web::test]
async fn a_database_is_seeded_only_once() {
    let app = TestApp::spawn().await;
    seed(&app, &SEED);
    let output = app.cli(&SEED, None);
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("already seeded"), "{stderr}");
    assert_eq!(all_issues(&app, &[]).await.len(), 300);
}

#[actix_web::test]
async fn bad_arguments_fail_with_one_line_and_seed_nothing() {
    let app = TestApp::spawn().await;
    let cases = [
        ("--spread-km", "0"),
        ("--spread-km", "201"),
        ("--centre-lat", "91"),
        ("--centre-lon", "-180.5"),
        ("--issues", "10000001"),
        ("--accounts", "0"),
    ];
    for (flag, value) in cases {
        let mut args = vec!["seed"];
        for (other, default) in [("--issues", "300"), ("--accounts", "20"), ("--seed", "7")] {
            if other != flag {
                args.extend([other, default]);
            }
        }
        args.extend([flag, value]);
        let output = app.cli(&args, None);
        assert!(!output.status.success(), "{flag} {value}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(
            stderr.trim_end().lines().count(),
            1,
            "{flag} {value}: {stderr}"
        );
        assert!(stderr.contains(flag), "{flag} {value}: {stderr}");
    }
    assert!(all_issues(&app, &[]).await.is_empty());
}
