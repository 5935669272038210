//! Local issues: reporting, finding, duplicates, detail, editing, lifecycle, timeline,
//! comments, support and follow.

use serde_json::{Value, json};

use crate::helpers::{Citizen, TestApp, backend_is_postgres, expect, problem};

const LAT: f64 = 51.5072;
const LON: f64 = -0.1276;
/// Metres per degree of latitude on the mean Earth sphere.
const M_PER_DEG: f64 = 6_371_008.8 * std::f64::consts::PI / 180.0;

/// A point `metres` north of the reference point.
fn north(metres: f64) -> f64 {
    LAT + metres / M_PER_DEG
}

async fn report(app: &TestApp, who: &Citizen, body: Value) -> Value {
    let response = app.post_json_as("/issues", &who.access_token, &body).await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    response.json().await.unwrap()
}

fn litter(title: &str, lat: f64, lon: f64) -> Value {
    json!({"category": "litter", "title": title, "description": "Bags and cans", "lat": lat, "lon": lon})
}

async fn get(app: &TestApp, path: &str, who: Option<&Citizen>) -> Value {
    let mut request = app.client.get(app.api(path));
    if let Some(who) = who {
        request = request.bearer_auth(&who.access_token);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200, "GET {path}");
    response.json().await.unwrap()
}

async fn set_status(app: &TestApp, who: &Citizen, id: &str, body: Value) -> reqwest::Response {
    app.post_json_as(&format!("/issues/{id}/status"), &who.access_token, &body)
        .await
}

async fn put(app: &TestApp, who: &Citizen, path: &str) -> reqwest::Response {
    app.client
        .put(app.api(path))
        .bearer_auth(&who.access_token)
        .send()
        .await
        .unwrap()
}

async fn delete(app: &TestApp, who: &Citizen, path: &str) -> reqwest::Response {
    app.client
        .delete(app.api(path))
        .bearer_auth(&who.access_token)
        .send()
        .await
        .unwrap()
}

fn titles(page: &Value) -> Vec<String> {
    list_titles(&page["items"])
}

/// The titles of a JSON array of issues, in order.
fn list_titles(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|i| i["title"].as_str().unwrap().to_owned())
        .collect()
}

#[actix_web::test]
async fn a_verified_citizen_reports_an_issue_and_anyone_can_read_it() {
    let app = TestApp::spawn().await;
    let ada = app.citizen("ada@example.org").await;
    let response = app
        .post_json_as(
            "/issues",
            &ada.access_token,
            &json!({
                "category": "pothole", "title": "  Deep pothole outside the school ",
                "description": "A metre wide.", "lat": LAT, "lon": LON,
                "address": "12 High Street", "answers": {"size": "large", "depth_cm": "12"}
            }),
        )
        .await;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let issue: Value = response.json().await.unwrap();
    assert_eq!(
        location,
        format!("/api/v1/issues/{}", issue["id"].as_str().unwrap())
    );
    assert_eq!(issue["title"], "Deep pothole outside the school");
    assert_eq!(issue["status"], "reported");
    assert_eq!(issue["category"]["code"], "pothole");
    assert_eq!(issue["answers"], json!({"size": "large", "depth_cm": 12}));
    assert_eq!(issue["possible_duplicates"], json!([]));

    let detail = get(
        &app,
        &format!("/issues/{}", issue["id"].as_str().unwrap()),
        None,
    )
    .await;
    assert_eq!(detail["reporter"]["display_name"], "Test Citizen");
    assert_eq!(detail["address"], "12 High Street");
    assert_eq!(detail["supported_by_me"], Value::Null);
    assert_eq!(detail["allowed_transitions"], json!([]));
    let mine = get(
        &app,
        &format!("/issues/{}", issue["id"].as_str().unwrap()),
        Some(&ada),
    )
    .await;
    assert_eq!(mine["supported_by_me"], false);
    assert_eq!(
        mine["allowed_transitions"],
        json!(["resolved", "escalated"])
    );
}

/// A well-formed id no issue has.
const MISSING_ISSUE: &str = "/issues/0190a1b2-0000-7000-8000-000000000000";

/// Ada's report (its path), and Bo signed in on two devices: two sessions of one account.
async fn ada_reports_to_bo_on_two_devices(app: &TestApp) -> (Citizen, Citizen, Citizen, String) {
    let ada = app.citizen("ada@example.org").await;
    let bo = app.citizen("bo@example.org").await;
    let phone = app
        .sign_in("bo@example.org", crate::helpers::PASSWORD)
        .await;
    let issue = report(app, &ada, litter("Bags by the gate", LAT, LON)).await;
    let path = format!("/issues/{}", issue["id"].as_str().unwrap());
    (ada, bo, phone, path)
}

#[actix_web::test]
async fn a_signed_in_detail_shows_the_callers_bonds_and_checks_their_session_first() {
    let app = TestApp::spawn().await;
    let (ada, bo, phone, path) = ada_reports_to_bo_on_two_devices(&app).await;
    assert_eq!(
        put(&app, &bo, &format!("{path}/support")).await.status(),
        200
    );

    for who in [&bo, &phone] {
        let detail = get(&app, &path, Some(who)).await;
        assert_eq!(detail["supported_by_me"], true);
        assert_eq!(detail["followed_by_me"], false);
        assert_eq!(detail["reporter"]["display_name"], "Test Citizen");
        assert_eq!(detail["category"]["name"], "Litter");
    }
    let ours = get(&app, &path, Some(&ada)).await;
    assert_eq!(ours["supported_by_me"], false);
    let missing = MISSING_ISSUE;
    problem(
        app.get_as(missing, &bo.access_token).await,
        404,
        "not_found",
    )
    .await;

    app.logout(&bo).await;
    // An ended session is refused whether or not the issue exists.
    for path in [path.as_str(), missing] {
        problem(
            app.get_as(path, &bo.access_token).await,
            401,
            "session_ended",
        )
        .await;
    }
    assert_eq!(
        get(&app, &path, Some(&phone)).await["supported_by_me"],
        true
    );
}

#[actix_web::test]
async fn support_and_follow_check_the_session_in_their_write_before_the_issue() {
    let app = TestApp::spawn().await;
    let (_, bo, phone, path) = ada_reports_to_bo_on_two_devices(&app).await;
    let missing = MISSING_ISSUE;

    // An unverified account may follow, not support; that is told before a missing issue.
    let unverified = app.unverified("new@example.org").await;
    for target in [path.as_str(), missing] {
        let response = put(&app, &unverified, &format!("{target}/support")).await;
        problem(response, 403, "email_not_verified").await;
    }
    let followed = expect(put(&app, &unverified, &format!("{path}/follow")).await, 200).await;
    assert_eq!(followed["follower_count"], 1);
    for bond in ["support", "follow"] {
        problem(
            put(&app, &bo, &format!("{missing}/{bond}")).await,
            404,
            "not_found",
        )
        .await;
    }

    app.logout(&bo).await;
    // An ended session changes nothing, whether or not the issue exists.
    for target in [path.as_str(), missing] {
        for bond in ["support", "follow"] {
            let route = format!("{target}/{bond}");
            problem(put(&app, &bo, &route).await, 401, "session_ended").await;
            problem(delete(&app, &bo, &route).await, 401, "session_ended").await;
        }
    }
    let detail = get(&app, &path, Some(&phone)).await;
    assert_eq!(detail["support_count"], 0);
    assert_eq!(detail["follower_count"], 1);
    assert_eq!(detail["supported_by_me"], false);

    // The account's other session still works, and counts move once per bond.
    let supported = expect(put(&app, &phone, &format!("{path}/support")).await, 200).await;
    assert_eq!(supported["support_count"], 1);
    let again = expect(put(&app, &phone, &format!("{path}/support")).await, 200).await;
    assert_eq!(again["support_count"], 1);
    let withdrawn = expect(delete(&app, &phone, &format!("{path}/support")).await, 200).await;
    assert_eq!(withdrawn["supported"], false);
    assert_eq!(withdrawn["support_count"], 0);
}

#[actix_web::test]
async fn only_verified_citizens_may_report() {
    let app = TestApp::spawn().await;
    let body = litter("Bags by the bench", LAT, LON);
    let response = app.post_json("/issues", &body).await;
    problem(response, 401, "missing_token").await;
    let unverified = app.unverified("new@example.org").await;
    let response = app
        .post_json_as("/issues", &unverified.access_token, &body)
        .await;
    problem(response, 403, "email_not_verified").await;
    // Who may report is told before what is wrong with the report.
    let invalid = litter("ab", 91.0, LON);
    let response = app
        .post_json_as("/issues", &unverified.access_token, &invalid)
        .await;
    problem(response, 403, "email_not_verified").await;
    let ada = app.citizen("ada@example.org").await;
    app.logout(&ada).await;
    for body in [&body, &invalid] {
        let response = app.post_json_as("/issues", &ada.access_token, body).await;
        problem(response, 401, "session_ended").await;
    }
    let page = get(&app, "/issues", None).await;
    assert_eq!(page["items"], json!([]));
}

#[actix_web::test]
async fn invalid_reports_name_every_bad_field_and_store_nothing() {
    let app = TestApp::spawn().await;
    let ada = app.citizen("ada@example.org").await;
    let cases = [
        (
            json!({"category": "litter", "title": "ab", "description": "x".repeat(4001), "lat": 91, "lon": 0}),
            vec!["title", "description", "lat"],
        ),
        (
            json!({"category": "nonsense", "title": "Bags", "lat": LAT, "lon": LON}),
            vec!["category"],
        ),
        (
            json!({"category": "pothole", "title": "Hole", "lat": LAT, "lon": LON}),
            vec!["answers.size"],
        ),
        (
            json!({"category": "pothole", "title": "Hole", "lat": LAT, "lon": LON, "answers": {"size": "huge"}}),
            vec!["answers.size"],
        ),
        (
            json!({"category": "litter", "title": "Bags", "lat": LAT, "lon": -181}),
            vec!["lon"],
        ),
        (
            json!({"category": "litter", "title": "Bags", "lat": LAT, "lon": LON, "address": "a".repeat(301)}),
            vec!["address"],
        ),
    ];
    for (body, fields) in cases {
        let response = app.post_json_as("/issues", &ada.access_token, &body).await;
        let problem = problem(response, 422, "validation_failed").await;
        let named: Vec<&str> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert_eq!(named, fields, "{body}");
    }
    let page = get(&app, "/issues", None).await;
    assert_eq!(page["items"], json!([]));
}

#[actix_web::test]
async fn an_anonymous_report_never_shows_its_reporter_to_the_public_or_other_citizens() {
    let app = TestApp::spawn().await;
    let ada = app.citizen("ada@example.org").await;
    let bo = app.citizen("bo@example.org").await;
    let officer = app.staff("officer@council.example", "officer").await;
    let mut body = litter("Bags by the bench", LAT, LON);
    body["anonymous"] = json!(true);
    let issue = report(&app, &ada, body).await;
    let id = issue["id"].as_str().unwrap();
    assert_eq!(
        issue["reporter"]["display_name"], "Test Citizen",
        "the reporter sees themself"
    );
    app.post_json_as(
        &format!("/issues/{id}/comments"),
        &ada.access_token,
        &json!({"body": "Still here"}),
    )
    .await;

    for viewer in [None, Some(&bo)] {
        let detail = get(&app, &format!("/issues/{id}"), viewer).await;
        assert_eq!(detail["anonymous"], true);
        assert_eq!(detail["reporter"], Value::Null);
        let list = get(&app, &format!("/issues?near={LAT},{LON}"), viewer).await;
        assert_eq!(list["items"][0]["reporter"], Value::Null);
        let timeline = get(&app, &format!("/issues/{id}/timeline"), viewer).await;
        for entry in timeline["items"].as_array().unwrap() {
            assert_eq!(entry["actor"]["display_name"], "anonymous");
            assert_eq!(entry["actor"]["id"], Value::Null);
        }
        let text =
            serde_json::to_string(&timeline).unwrap() + &serde_json::to_string(&detail).unwrap();
        assert!(!text.contains(&issue["reporter"]["id"].as_str().unwrap().to_string()));
    }
    let detail = get(&app, &format!("/issues/{id}"), Some(&officer)).await;
    assert_eq!(detail["reporter"]["display_name"], "Test Citizen");
}

/// Changes `who`'s display name.
async fn rename(app: &TestApp, who: &Citizen, name: &str) {
    let response = app
        .patch_json_as("/me", &who.access_token, &json!({"display_name": name}))
        .await;
    assert_eq!(response.status(), 200, "rename to {name}");
}

/// A page names each issue's category and reporter, looked up for the whole page at
/// once: several reporters and categories, an anonymous report, and a reporter who
/// renamed themself.
#[actix_web::test]
async fn a_page_of_issues_names_each_reporter_and_category() {
    let app = TestApp::spawn().await;
    let mut citizens = Vec::new();
    for name in ["Ada", "Bo", "Cy"] {
        let citizen = app
            .citizen(&format!("{}@example.org", name.to_lowercase()))
            .await;
        rename(&app, &citizen, name).await;
        citizens.push(citizen);
    }
    let [ada, bo, cy] = &citizens[..] else {
        unreachable!()
    };
    let pothole = |title: &str, metres: f64| {
        json!({
            "category": "pothole", "title": title, "description": "A metre wide.",
            "lat": north(metres), "lon": LON, "answers": {"size": "large", "depth_cm": "12"}
        })
    };
    report(&app, ada, litter("Ada's litter", north(0.0), LON)).await;
    report(&app, ada, pothole("Ada's pothole", 10.0)).await;
    report(&app, bo, pothole("Bo's pothole", 20.0)).await;
    let mut hidden_name = litter("Cy's litter", north(30.0), LON);
    hidden_name["anonymous"] = json!(true);
    report(&app, cy, hidden_name).await;
    rename(&app, bo, "Bo B.").await;

    let named = |page: &Value| -> Vec<(String, Value, Value)> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| {
                (
                    item["title"].as_str().unwrap().to_owned(),
                    item["category"]["name"].clone(),
                    item["reporter"]["display_name"].clone(),
                )
            })
            .collect()
    };
    let categories = get(&app, "/categories", None).await;
    let category_name = |code: &str| {
        categories["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["code"] == code)
            .map(|c| c["name"].clone())
            .unwrap()
    };
    let (litter_name, pothole_name) = (category_name("litter"), category_name("pothole"));
    assert_ne!(litter_name, pothole_name);
    let page = get(
        &app,
        &format!("/issues?near={LAT},{LON}&radius=100"),
        Some(bo),
    )
    .await;
    assert_eq!(
        named(&page),
        vec![
            ("Ada's litter".to_owned(), litter_name.clone(), json!("Ada")),
            (
                "Ada's pothole".to_owned(),
                pothole_name.clone(),
                json!("Ada")
            ),
            (
                "Bo's pothole".to_owned(),
                pothole_name.clone(),
                json!("Bo B.")
            ),
            ("Cy's litter".to_owned(), litter_name.clone(), Value::Null),
        ]
    );
    // Cy sees their own name on their anonymous report; the others do not.
    let page = get(
        &app,
        &format!("/issues?near={LAT},{LON}&radius=100"),
        Some(cy),
    )
    .await;
    assert_eq!(named(&page)[3].2, json!("Cy"));
}

#[actix_web::test]
async fn a_near_search_is_exact_at_the_radius_edge_and_nearest_first() {
    let app = TestApp::spawn().await;
    let ada = app.citizen("ada@example.org").await;
    for (title, metres) in [
        ("inside 990", 990.0),
        ("outside 1010", 1010.0),
        ("at 10", 10.0),
        ("at 500", 500.0),
    ] {
        report(&app, &ada, litter(title, north(metres), LON)).await;
    }
    // Due east at 990 m: a degree of longitude is shorter here, so this checks the scaling.
    let east = LON + 990.0 / (M_PER_DEG * LAT.to_radians().cos());
    report(&app, &ada, litter("east 990", LAT, east)).await;

    let page = get(&app, &format!("/issues?near={LAT},{LON}&radius=1000"), None).await;
    assert_eq!(titles(&page), ["at 10", "at 500", "inside 990", "east 990"]);
    let distances: Vec<f64> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["distance_m"].as_f64().unwrap())
        .collect();
    assert!((distances[2] - 990.0).abs() < 1.0, "{distances:?}");
    assert!((distances[3] - 990.0).abs() < 2.0, "{distances:?}");

    let wide = get(&app, &format!("/issues?near={LAT},{LON}&radius=1011"), None).await;
    assert_eq!(titles(&wide).last().unwrap(), "outside 1010");
}

/// A near search reads only the rows that can be on its page (on SQLite it asks the
/// spatial index how near the page's last issue can be). Paging through a crowd with a
/// wide radius, in small pages whose edges fall between issues a few decimetres apart,
/// at one point, and next to hidden issues, must give every listed issue once, nearest
/// first and by id at equal distance, the same as one large page.
#[actix_web::test]
async fn near_pages_through_a_crowd_are_nearest_first_and_skip_hidden_issues() {
    let app = TestApp::spawn().await;
    let ada = app.citizen("ada@example.org").await;
    let metres = [
        5.0, 5.3, 5.6, 20.0, 20.2, 40.0, 40.0, 60.0, 60.4, 70.0, 70.0, 80.0, 100.0, 100.5, 120.0,
        140.0, 140.2, 160.0, 2000.0,
    ];
    let hidden = ["5.3", "40.0 b", "100.5"];
    let mut issues = Vec::new();
    for (i, distance) in metres.into_iter().enumerate() {
        let twin = i > 0 && metres[i - 1] == distance;
        let title = format!("{distance:.1}{}", if twin { " b" } else { "" });
        // Twins share the point; the others go round the compass.
        let bearing = f64::from(if twin { i - 1 } else { i } as u32 * 47).to_radians();
        let lat = LAT + distance * bearing.cos() / M_PER_DEG;
        let lon = LON + distance * bearing.sin() / (M_PER_DEG * LAT.to_radians().cos());
        let issue = report(&app, &ada, litter(&title, lat, lon)).await;
        let id = issue["id"].as_str().unwrap().to_owned();
        if hidden.contains(&title.as_str()) {
            app.execute_sql(&format!(
                "UPDATE issues SET hidden_at = CURRENT_TIMESTAMP WHERE id = '{id}'"
            ))
            .unwrap();
        } else if distance < 1000.0 {
            issues.push((distance, id, title));
        }
    }
    // Nearest first; at one distance (the twins), by id.
    issues.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
    let expected: Vec<String> = issues.into_iter().map(|(_, _, title)| title).collect();
    let search = format!("/issues?near={LAT},{LON}&radius=1000");
    let whole = get(&app, &format!("{search}&limit=100"), None).await;
    assert_eq!(titles(&whole), expected);
    for limit in [1, 2, 3, 5] {
        assert_eq!(
            titles_page_by_page(&app, &search, limit).await,
            expected,
            "pages of {limit}"
        );
    }
}

/// The titles of every page of `search`, `limit` at a time, following `next_cursor`.
async fn titles_page_by_page(app: &TestApp, search: &str, limit: usize) -> Vec<String> {
    let query = format!("{search}&limit={limit}");
    let (mut seen, mut url) = (Vec::new(), query.clone());
    loop {
        let page = get(app, &url, None).await;
        assert!(titles(&page).len() <= limit, "{url}");
        seen.extend(titles(&page));
        match page["next_cursor"].as_str() {
            Some(cursor) => url = format!("{query}&cursor={cursor}"),
            None => return seen,
        }
    }
}

/// On SQLite a near search reads the spatial index's nearest entries a few pages' worth
/// at a time, and reads more when that cannot settle the page: many issues at one
/// distance, or a page whose issues lie in the corner of the first square it looks in,
/// beyond the circle that square is drawn around.
#[actix_web::test]
async fn near_pages_through_issues_at_one_point_and_in_a_corner() {
    let app = TestApp::spawn().await;
    let ada = app.citizen("ada@example.org").await;
    let mut at_one_point = Vec::new();
    for i in 0..12 {
        let issue = report(
            &app,
            &ada,
            litter(&format!("point {i:02}"), north(30.0), LON),
        )
        .await;
        at_one_point.push((
            issue["id"].as_str().unwrap().to_owned(),
            format!("point {i:02}"),
        ));
    }
    at_one_point.sort();
    let expected: Vec<String> = at_one_point.into_iter().map(|(_, title)| title).collect();
    let search = format!("/issues?near={LAT},{LON}&radius=1000");
    for limit in [1, 2, 5, 100] {
        assert_eq!(
            titles_page_by_page(&app, &search, limit).await,
            expected,
            "pages of {limit}"
        );
    }

    // 80 m to the north-east of a point 7 km away: inside the 62.5 m square around it.
    let east = LON + 0.1;
    let (dlat, dlon) = (
        80.0 * std::f64::consts::FRAC_1_SQRT_2 / M_PER_DEG,
        80.0 * std::f64::consts::FRAC_1_SQRT_2 / (M_PER_DEG * LAT.to_radians().cos()),
    );
    let mut corner = Vec::new();
    for title in ["corner a", "corner b"] {
        let issue = report(&app, &ada, litter(title, LAT + dlat, east + dlon)).await;
        corner.push((issue["id"].as_str().unwrap().to_owned(), title.to_owned()));
    }
    corner.sort();
    let expected: Vec<String> = corner.into_iter().map(|(_, title)| title).collect();
    let search = format!("/issues?near={LAT},{east}&radius=1000");
    for limit in [1, 2] {
        assert_eq!(
            titles_page_by_page(&app, &search, limit).await,
            expected,
            "pages of {limit}"
        );
    }
}

/// Near searches narrow through a spatial index: on SQLite an R*Tree that triggers keep
/// and that is keyed by rowid, on PostgreSQL a GiST index. It follows issues moved or
/// deleted in the database behind the API, and survives a VACUUM (which keeps rowids).
#[actix_web::test]
async fn near_searches_follow_issues_moved_or_deleted_in_the_database() {
    let app = TestApp::spawn().await;
    let ada = app.citizen("ada@example.org").await;
    let moved = report(&app, &ada, litter("moved", LAT, LON)).await;
    let deleted = report(&app, &ada, litter("deleted", LAT, LON)).await;
    report(&app, &ada, litter("stays", LAT, LON)).await;
    let there = north(5000.0);
    app.execute_sql(&format!(
        "UPDATE issues SET lat = {there} WHERE id = '{}'; DELETE FROM issues WHERE id = '{}';",
        moved["id"].as_str().unwrap(),
        deleted["id"].as_str().unwrap(),
    ))
    .unwrap();
    if !backend_is_postgres() {
        app.execute_sql("VACUUM").unwrap();
    }
    let here = get(&app, &format!("/issues?near={LAT},{LON}&radius=100"), None).await;
    assert_eq!(titles(&here), ["stays"]);
    let north = get(
        &app,
        &format!("/issues?near={there},{LON}&radius=100"),
        None,
    )
    .await;
    assert_eq!(titles(&north), ["moved"]);
}

#[actix_web::test]
async fn searches_filter_by_box_category_status_text_reporter_and_time() {
    let app = TestApp::spawn().await;
    let ada = app.citizen("ada@example.org").await;
    let bo = app.citizen("bo@example.org").await;
    report(&app, &ada, litter("Cans in the PARK", LAT, LON)).await;
    report(&app, &bo, json!({"category": "graffiti", "title": "Tag on the bridge", "lat": LAT, "lon": LON + 0.01, "answers": {"offensive": "no"}})).await;
    report(&app, &bo, litter("Far away litter", 48.85, 2.35)).await;
    let before_last = chrono::Utc::now();
    actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
    report(&app, &ada, litter("100% real_litter", LAT + 0.001, LON)).await;

    let bbox = get(&app, "/issues?bbox=-0.2,51.4,0.0,51.6", None).await;
    assert_eq!(
        titles(&bbox),
        ["100% real_litter", "Tag on the bridge", "Cans in the PARK"]
    );
    let graffiti = get(&app, "/issues?category=graffiti", None).await;
    assert_eq!(titles(&graffiti), ["Tag on the bridge"]);
    let both = get(
        &app,
        "/issues?category=graffiti,litter&bbox=-0.2,51.4,0.0,51.6",
        None,
    )
    .await;
    assert_eq!(titles(&both).len(), 3);
    let text = get(&app, "/issues?q=park", None).await;
    assert_eq!(titles(&text), ["Cans in the PARK"]);
    // LIKE wildcards in the query are literal.
    let literal = get(&app, "/issues?q=100%25%20real_", None).await;
    assert_eq!(titles(&literal), ["100% real_litter"]);
    let wildcard = get(&app, "/issues?q=%25", None).await;
    assert_eq!(titles(&wildcard), ["100% real_litter"]);
    let mine = get(&app, "/issues?reported_by=me", Some(&bo)).await;
    assert_eq!(titles(&mine), ["Far away litter", "Tag on the bridge"]);
    let recent = get(
        &app,
        &format!(
            "/issues?updated_since={}",
            before_last.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
        ),
        None,
    )
    .await;
    assert_eq!(titles(&recent), ["100% real_litter"]);
    let closed = get(&app, "/issues?status=fixed,resolved", None).await;
    assert_eq!(titles(&closed), Vec::<String>::new());

    problem(
        app.client
            .get(app.api("/issues?reported_by=me"))
            .send()
            .await
            .unwrap(),
        401,
        "missing_token",
    )
    .await;
    for bad in [
        "near=91,0",
        "near=abc",
        "near=51,0&radius=50001",
        "radius=10",
        "bbox=1,2,3",
        "bbox=0,0,20,20",
        "status=open",
        "limit=0",
        "limit=101",
        "cursor=xyz",
        "updated_since=yesterday",
        "near=51,0&bbox=0,51,1,52",
        "reported_by=someone",
    ] {
        let response = app
            .client
            .get(app.api(&format!("/issues?{bad}")))
            .send()
            .await
            .unwrap();
        problem(response, 422, "validation_failed").await;
    }
}

#[actix_web::test]
async fn paging_returns_every_issue_exactly_once_while_issues_are_being_added() {
    let app = TestApp::spawn().await;
    let ada = app.citizen("ada@example.org").await;
    for i in 0..12 {
        report(
            &app,
            &ada,
            litter(&format!("issue {i:02}"), north(f64::from(i) * 10.0), LON),
        )
        .await;
    }
    for (run, query) in [
        "/issues?limit=5",
        &format!("/issues?near={LAT},{LON}&radius=5000&limit=5"),
    ]
    .into_iter()
    .enumerate()
    {
        let mut seen = Vec::new();
        let mut url = query.to_owned();
        let mut added = 0;
        loop {
            let page = get(&app, &url, None).await;
            seen.extend(titles(&page));
            // New reports arrive between pages (at the far edge and at the centre).
            report(
                &app,
                &ada,
                litter(&format!("late {run}-{added}"), north(3000.0), LON),
            )
            .await;
            added += 1;
            match page["next_cursor"].as_str() {
                Some(cursor) => url = format!("{query}&cursor={cursor}"),
                None => break,
            }
        }
        let originals: Vec<&String> = seen.iter().filter(|t| t.starts_with("issue")).collect();
        assert_eq!(originals.len(), 12, "{query}: {seen:?}");
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), seen.len(), "{query}: duplicates in {seen:?}");
    }
}

/// Two issues a search for litter to duplicate must pass over, on the meridian `LON`:
/// graffiti, and litter that has been resolved.
async fn report_passed_over(
    app: &TestApp,
    reporter: &Citizen,
    officer: &Citizen,
    graffiti_lat: f64,
    closed_lat: f64,
) {
    report(app, reporter, json!({"category": "graffiti", "title": "Graffiti here", "lat": graffiti_lat, "lon": LON, "answers": {"offensive": "no"}})).await;
    let closed = report(app, reporter, litter("closed one", closed_lat, LON)).await;
    let response = set_status(
        app,
        officer,
        closed["id"].as_str().unwrap(),
        json!({"status": "resolved", "note": "Cleared"}),
    )
    .await;
    assert_eq!(response.status(), 200);
}

#[actix_web::test]
async fn duplicate_suggestions_are_open_issues_of_the_category_within_250_metres() {
    let app = TestApp::spawn().await;
    let ada = app.citizen("ada@example.org").await;
    let officer = app.staff("officer@council.example", "officer").await;
    for (title, metres) in [("at 200", 200.0), ("at 50", 50.0), ("at 300", 300.0)] {
        report(&app, &ada, litter(title, north(metres), LON)).await;
    }
    report_passed_over(&app, &ada, &officer, LAT, north(10.0)).await;

    let found: Value = app
        .client
        .get(app.api(&format!(
            "/issues/duplicates?lat={LAT}&lon={LON}&category=litter"
        )))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list_titles(&found), ["at 50", "at 200"]);

    let fresh = report(&app, &ada, litter("new report", LAT, LON)).await;
    assert_eq!(
        list_titles(&fresh["possible_duplicates"]),
        ["at 50", "at 200"]
    );

    for _ in 0..6 {
        report(&app, &ada, litter("crowded", north(100.0), LON)).await;
    }
    let many: Value = app
        .client
        .get(app.api(&format!(
            "/issues/duplicates?lat={LAT}&lon={LON}&category=litter"
        )))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(many.as_array().unwrap().len(), 5);
    let response = app
        .client
        .get(app.api("/issues/duplicates?lat=95&lon=0&category=litter"))
        .send()
        .await
        .unwrap();
    problem(response, 422, "validation_failed").await;
}

#[actix_web::test]
async fn duplicate_suggestions_are_the_nearest_five_where_reports_are_dense() {
    // The search looks within a quarter of its 250 m first, and goes on to the whole
    // circle only when that holds fewer than six (five, and one more to leave out the
    // new report itself).
    let app = TestApp::spawn().await;
    let ada = app.citizen("ada@example.org").await;
    let officer = app.staff("officer@council.example", "officer").await;
    for metres in [60.0, 10.0, 40.0, 120.0, 30.0, 50.0, 20.0] {
        report(
            &app,
            &ada,
            litter(&format!("at {metres}"), north(metres), LON),
        )
        .await;
    }
    report_passed_over(&app, &ada, &officer, north(5.0), north(5.0)).await;
    let found = get(
        &app,
        &format!("/issues/duplicates?lat={LAT}&lon={LON}&category=litter"),
        None,
    )
    .await;
    assert_eq!(
        list_titles(&found),
        ["at 10", "at 20", "at 30", "at 40", "at 50"]
    );

    // A kilometre north, four lie within 62.5 m of a new report: the fifth is found
    // farther out, and the report itself is not among them.
    let at = |metres: f64| north(1000.0 + metres);
    for metres in [300.0, -55.0, 15.0, 240.0, -150.0, 40.0, 100.0, -25.0] {
        report(&app, &ada, litter(&format!("km {metres}"), at(metres), LON)).await;
    }
    let fresh = report(&app, &ada, litter("new report", at(0.0), LON)).await;
    assert_eq!(
        list_titles(&fresh["possible_duplicates"]),
        ["km 15", "km -25", "km 40", "km -55", "km 100"]
    );
}

#[actix_web::test]
async fn duplicate_suggestions_reach_across_strips_of_longitude_and_far_north() {
    // The search reads its index strip by strip (0.005° of longitude each, cut at the
    // multiples of 0.005°); far north a 250 m box spans more strips than it names, and
    // it reads the whole band of latitude instead (85°).
    let app = TestApp::spawn().await;
    let ada = app.citizen("ada@example.org").await;
    for (lat, edge) in [(LAT, -0.125), (80.0, 10.0), (85.0, 20.0)] {
        let metres_per_degree = M_PER_DEG * f64::cos(lat.to_radians());
        let east = |metres: f64| edge + metres / metres_per_degree;
        for (title, metres) in [
            ("east 300", 300.0),
            ("west 150", -150.0),
            ("east 240", 240.0),
            ("west 260", -260.0),
            ("east 100", 100.0),
        ] {
            report(
                &app,
                &ada,
                litter(&format!("{lat} {title}"), lat, east(metres)),
            )
            .await;
        }
        let found = get(
            &app,
            &format!("/issues/duplicates?lat={lat}&lon={edge}&category=litter"),
            None,
        )
        .await;
        let expected: Vec<String> = ["east 100", "west 150", "east 240"]
            .iter()
            .map(|title| format!("{lat} {title}"))
            .collect();
        assert_eq!(list_titles(&found), expected, "at {lat}°");
    }
}

#[actix_web::test]
async fn the_reporter_edits_while_reported_and_staff_at_any_time() {
    let app = TestApp::spawn().await;
    let ada = app.citizen("ada@example.org").await;
    let bo = app.citizen("bo@example.org").await;
    let moderator = app.staff("mod@council.example", "moderator").await;
    let issue = report(&app, &ada, litter("Bags by the bench", LAT, LON)).await;
    let id = issue["id"].as_str().unwrap();
    let patch = |who: &Citizen, body: Value| {
        app.client
            .patch(app.api(&format!("/issues/{id}")))
            .bearer_auth(&who.access_token)
            .json(&body)
            .send()
    };
    let response = patch(
        &ada,
        json!({"title": "Bags by the old bench", "address": "Park Lane"}),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    let edited: Value = response.json().await.unwrap();
    assert_eq!(edited["title"], "Bags by the old bench");
    assert_eq!(edited["address"], "Park Lane");

    problem(
        patch(&bo, json!({"title": "Mine now"})).await.unwrap(),
        403,
        "not_reporter",
    )
    .await;
    problem(
        patch(&ada, json!({"category": "graffiti"})).await.unwrap(),
        403,
        "staff_only_field",
    )
    .await;
    problem(
        patch(&ada, json!({"title": "x"})).await.unwrap(),
        422,
        "validation_failed",
    )
    .await;

    let response = set_status(
        &app,
        &ada,
        id,
        json!({"status": "escalated", "note": "Council please"}),
    )
    .await;
    assert_eq!(response.status(), 200);
    problem(
        patch(&ada, json!({"title": "Too late"})).await.unwrap(),
        403,
        "no_longer_editable",
    )
    .await;
    let response = patch(
        &moderator,
        json!({"category": "fly_tipping", "answers": {"items": ["bags"]}}),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    let edited: Value = response.json().await.unwrap();
    assert_eq!(edited["category"]["code"], "fly_tipping");
    assert_eq!(edited["answers"], json!({"items": ["bags"]}));

    let timeline = get(&app, &format!("/issues/{id}/timeline"), None).await;
    let kinds: Vec<&str> = timeline["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["reported", "edited", "status_changed", "edited"]);
    assert_eq!(
        timeline["items"][1]["data"]["fields"],
        json!(["title", "address"])
    );
    assert_eq!(timeline["items"][3]["actor"]["display_name"], "Moderator");
}

/// Every transition of the table, allowed and refused, by role.
#[actix_web::test]
async fn every_lifecycle_transition_is_allowed_or_refused_by_role() {
    let app = TestApp::spawn().await;
    let reporter = app.citizen("reporter@example.org").await;
    let neighbour = app.citizen("neighbour@example.org").await;
    let moderator = app.staff("mod@council.example", "moderator").await;
    let officer = app.staff("officer@council.example", "officer").await;
    let new_issue = || report(&app, &reporter, litter("Bags by the bench", LAT, LON));
    let step = |who: &Citizen, id: String, to: &'static str| {
        let who = who.clone();
        let app = &app;
        async move { set_status(app, &who, &id, json!({"status": to, "note": "because"})).await }
    };

    // reported → community: staff only.
    let id = new_issue().await["id"].as_str().unwrap().to_owned();
    problem(
        step(&reporter, id.clone(), "community").await,
        403,
        "transition_not_allowed",
    )
    .await;
    assert_eq!(
        step(&moderator, id.clone(), "community").await.status(),
        200
    );
    // community → resolved by the reporter; resolved → reopened by the reporter.
    problem(
        step(&neighbour, id.clone(), "resolved").await,
        403,
        "transition_not_allowed",
    )
    .await;
    assert_eq!(step(&reporter, id.clone(), "resolved").await.status(), 200);
    assert_eq!(step(&reporter, id.clone(), "reopened").await.status(), 200);
    // reopened → escalated by the reporter; the council works it.
    assert_eq!(step(&reporter, id.clone(), "escalated").await.status(), 200);
    for to in ["acknowledged", "in_progress", "fixed"] {
        problem(
            step(&reporter, id.clone(), to).await,
            403,
            "transition_not_allowed",
        )
        .await;
        problem(
            step(&moderator, id.clone(), to).await,
            403,
            "transition_not_allowed",
        )
        .await;
        assert_eq!(step(&officer, id.clone(), to).await.status(), 200, "→ {to}");
    }
    // fixed → reopened by staff.
    problem(
        step(&neighbour, id.clone(), "reopened").await,
        403,
        "transition_not_allowed",
    )
    .await;
    assert_eq!(step(&moderator, id.clone(), "reopened").await.status(), 200);

    // The council declines (reason required); the community takes it back.
    let id = new_issue().await["id"].as_str().unwrap().to_owned();
    assert_eq!(step(&reporter, id.clone(), "escalated").await.status(), 200);
    let response = set_status(
        &app,
        &officer,
        &id,
        json!({"status": "declined", "note": ""}),
    )
    .await;
    problem(response, 422, "validation_failed").await;
    assert_eq!(step(&officer, id.clone(), "declined").await.status(), 200);
    let response = step(&reporter, id.clone(), "community").await;
    assert_eq!(response.status(), 200);

    // Impossible moves are 409 with what is possible.
    let id = new_issue().await["id"].as_str().unwrap().to_owned();
    let body = problem(
        step(&officer, id.clone(), "fixed").await,
        409,
        "invalid_transition",
    )
    .await;
    assert_eq!(
        body["allowed"],
        json!(["community", "resolved", "escalated", "duplicate"])
    );
    let body = problem(
        step(&reporter, id.clone(), "reopened").await,
        409,
        "invalid_transition",
    )
    .await;
    assert_eq!(body["allowed"], json!(["resolved", "escalated"]));

    // Every transition is on the timeline with who, from, to and the note.
    let timeline = get(&app, &format!("/issues/{id}/timeline"), None).await;
    assert_eq!(timeline["items"].as_array().unwrap().len(), 1);
    let first = get(&app, "/issues?limit=100", None).await;
    let first_id = first["items"].as_array().unwrap().last().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let history = get(
        &app,
        &format!("/issues/{first_id}/timeline?limit=100"),
        None,
    )
    .await;
    let moves: Vec<(String, String)> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "status_changed")
        .map(|e| {
            (
                e["from_status"].as_str().unwrap().to_owned(),
                e["to_status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(moves.len(), 8);
    assert_eq!(moves[0], ("reported".into(), "community".into()));
    assert_eq!(history["items"][1]["text"], "because");
    assert_eq!(history["items"][1]["actor"]["role"], "moderator");
}

#[actix_web::test]
async fn marking_a_duplicate_moves_its_supporters_and_followers_to_the_canonical_issue() {
    let app = TestApp::spawn().await;
    let ada = app.citizen("ada@example.org").await;
    let bo = app.citizen("bo@example.org").await;
    let cy = app.citizen("cy@example.org").await;
    let moderator = app.staff("mod@council.example", "moderator").await;
    let canonical = report(&app, &ada, litter("First report", LAT, LON)).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let dup = report(&app, &bo, litter("Second report", LAT, LON)).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for who in [&ada, &bo, &cy] {
        assert_eq!(
            put(&app, who, &format!("/issues/{dup}/support"))
                .await
                .status(),
            200
        );
        assert_eq!(
            put(&app, who, &format!("/issues/{dup}/follow"))
                .await
                .status(),
            200
        );
    }
    assert_eq!(
        put(&app, &ada, &format!("/issues/{canonical}/support"))
            .await
            .status(),
        200
    );

    let response = set_status(
        &app,
        &bo,
        &dup,
        json!({"status": "duplicate", "note": "same", "duplicate_of": canonical}),
    )
    .await;
    problem(response, 403, "transition_not_allowed").await;
    let response = set_status(
        &app,
        &moderator,
        &dup,
        json!({"status": "duplicate", "note": "same"}),
    )
    .await;
    problem(response, 422, "validation_failed").await;
    let response = set_status(
        &app,
        &moderator,
        &dup,
        json!({"status": "duplicate", "note": "same", "duplicate_of": dup}),
    )
    .await;
    problem(response, 422, "validation_failed").await;
    let response = set_status(
        &app,
        &moderator,
        &dup,
        json!({"status": "duplicate", "note": "Same bags", "duplicate_of": canonical}),
    )
    .await;
    assert_eq!(response.status(), 200);
    let marked: Value = response.json().await.unwrap();
    assert_eq!(marked["status"], "duplicate");
    assert_eq!(marked["duplicate_of"], canonical.as_str());
    assert_eq!(marked["support_count"], 0);
    assert_eq!(marked["follower_count"], 0);

    let target = get(&app, &format!("/issues/{canonical}"), Some(&cy)).await;
    assert_eq!(target["support_count"], 3, "ada is counted once");
    assert_eq!(target["follower_count"], 3);
    assert_eq!(target["supported_by_me"], true);
    let response = put(&app, &cy, &format!("/issues/{dup}/support")).await;
    problem(response, 409, "issue_is_duplicate").await;
}

#[actix_web::test]
async fn enough_supporters_escalate_an_issue_to_the_council() {
    let app = TestApp::spawn_with(|config| config.escalation_threshold = 2).await;
    let ada = app.citizen("ada@example.org").await;
    let bo = app.citizen("bo@example.org").await;
    let cy = app.citizen("cy@example.org").await;
    let id = report(&app, &ada, litter("Bags by the bench", LAT, LON)).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let state: Value = put(&app, &bo, &format!("/issues/{id}/support"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        state,
        json!({"supported": true, "support_count": 1, "status": "reported"})
    );
    let state: Value = put(&app, &cy, &format!("/issues/{id}/support"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        state,
        json!({"supported": true, "support_count": 2, "status": "escalated"})
    );
    let timeline = get(&app, &format!("/issues/{id}/timeline"), None).await;
    let last = timeline["items"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["to_status"], "escalated");
    assert_eq!(last["actor"]["role"], "system");
}

#[actix_web::test]
async fn support_and_follow_are_idempotent_and_counted_once() {
    let app = TestApp::spawn().await;
    let ada = app.citizen("ada@example.org").await;
    let bo = app.citizen("bo@example.org").await;
    let id = report(&app, &ada, litter("Bags by the bench", LAT, LON)).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for _ in 0..2 {
        let state: Value = put(&app, &bo, &format!("/issues/{id}/support"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(state["support_count"], 1);
        let state: Value = put(&app, &bo, &format!("/issues/{id}/follow"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(state, json!({"followed": true, "follower_count": 1}));
    }
    let detail = get(&app, &format!("/issues/{id}"), Some(&bo)).await;
    assert_eq!(
        (
            detail["supported_by_me"].clone(),
            detail["followed_by_me"].clone()
        ),
        (json!(true), json!(true))
    );
    for _ in 0..2 {
        let state: Value = delete(&app, &bo, &format!("/issues/{id}/support"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(state["support_count"], 0);
        let state: Value = delete(&app, &bo, &format!("/issues/{id}/follow"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(state["follower_count"], 0);
    }
    problem(
        put(&app, &bo, "/issues/nope/support").await,
        404,
        "not_found",
    )
    .await;
    let response = app
        .client
        .put(app.api(&format!("/issues/{id}/support")))
        .send()
        .await
        .unwrap();
    problem(response, 401, "missing_token").await;
}

/// A server that escalates only at 1,000 supporters, an issue reported by Ada, and
/// `n` more citizens (`c0@…` onwards).
async fn crowd_around_an_issue(n: usize) -> (TestApp, String, Vec<Citizen>) {
    let app = TestApp::spawn_with(|config| config.escalation_threshold = 1000).await;
    let ada = app.citizen("ada@example.org").await;
    let id = report(&app, &ada, litter("Bags by the bench", LAT, LON)).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut citizens = Vec::new();
    for i in 0..n {
        citizens.push(app.citizen(&format!("c{i}@example.org")).await);
    }
    (app, id, citizens)
}

#[actix_web::test]
async fn concurrent_support_and_unsupport_keep_the_count_exact() {
    let (app, id, citizens) = crowd_around_an_issue(6).await;
    let path = format!("/issues/{id}/support");
    // Everyone supports twice and the first three withdraw, all at once.
    let mut requests = Vec::new();
    for (i, citizen) in citizens.iter().enumerate() {
        requests.push(put(&app, citizen, &path));
        requests.push(put(&app, citizen, &path));
        if i < 3 {
            requests.push(put(&app, citizen, &path));
        }
    }
    for response in futures_util::future::join_all(requests).await {
        assert_eq!(response.status(), 200);
    }
    let withdrawals = citizens[..3].iter().map(|c| delete(&app, c, &path));
    let extra = citizens[..3].iter().map(|c| delete(&app, c, &path));
    for response in futures_util::future::join_all(withdrawals.chain(extra)).await {
        assert_eq!(response.status(), 200);
    }
    let detail = get(&app, &format!("/issues/{id}"), None).await;
    assert_eq!(detail["support_count"], 3);
}

#[actix_web::test]
async fn concurrent_writes_that_fail_undo_only_themselves() {
    // On SQLite the writes that queue together commit together: the ones that fail
    // among them must leave the others written, and every 200 must be durable.
    let (app, id, citizens) = crowd_around_an_issue(12).await;
    let real = format!("/issues/{id}/support");
    let missing = "/issues/01890000-0000-7000-8000-000000000000/support";
    let requests = citizens
        .iter()
        .flat_map(|citizen| [put(&app, citizen, &real), put(&app, citizen, missing)]);
    let statuses: Vec<u16> = futures_util::future::join_all(requests)
        .await
        .iter()
        .map(|response| response.status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        12,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 404).count(),
        12,
        "{statuses:?}"
    );
    let detail = get(&app, &format!("/issues/{id}"), Some(&citizens[7])).await;
    assert_eq!(detail["support_count"], 12);
    assert_eq!(detail["supported_by_me"], true);
}

#[actix_web::test]
async fn comments_appear_on_the_timeline_and_their_authors_can_delete_them() {
    let app = TestApp::spawn().await;
    let ada = app.citizen("ada@example.org").await;
    let bo = app.citizen("bo@example.org").await;
    let id = report(&app, &ada, litter("Bags by the bench", LAT, LON)).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/issues/{id}/comments");
    let response = app
        .post_json_as(
            &path,
            &bo.access_token,
            &json!({"body": "I can bring gloves"}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let comment: Value = response.json().await.unwrap();
    assert_eq!(comment["kind"], "comment");
    assert_eq!(comment["text"], "I can bring gloves");
    assert_eq!(comment["actor"]["display_name"], "Test Citizen");
    let comment_id = comment["id"].as_str().unwrap();

    for body in [json!({"body": ""}), json!({"body": "x".repeat(2001)})] {
        problem(
            app.post_json_as(&path, &bo.access_token, &body).await,
            422,
            "validation_failed",
        )
        .await;
    }
    problem(
        delete(&app, &ada, &format!("{path}/{comment_id}")).await,
        403,
        "not_author",
    )
    .await;
    assert_eq!(
        delete(&app, &bo, &format!("{path}/{comment_id}"))
            .await
            .status(),
        204
    );
    assert_eq!(
        delete(&app, &bo, &format!("{path}/{comment_id}"))
            .await
            .status(),
        204
    );
    problem(
        delete(&app, &bo, &format!("{path}/nope")).await,
        404,
        "not_found",
    )
    .await;

    let timeline = get(&app, &format!("/issues/{id}/timeline"), None).await;
    let tombstone = &timeline["items"][1];
    assert_eq!(tombstone["kind"], "comment");
    assert_eq!(tombstone["deleted"], true);
    assert_eq!(tombstone["text"], Value::Null);
    problem(
        app.client
            .get(app.api("/issues/nope/timeline"))
            .send()
            .await
            .unwrap(),
        404,
        "not_found",
    )
    .await;
}

#[actix_web::test]
async fn near_searches_are_exact_in_both_hemispheres_and_at_high_latitudes() {
    let app = TestApp::spawn().await;
    let ada = app.citizen("ada@example.org").await;
    // Cape Town, Reykjavik, the equator, and close to the edges of the map.
    let centres = [
        (-33.92, 18.42),
        (64.14, -21.94),
        (0.0, 100.0),
        (-60.0, 179.9),
        (70.0, -179.9),
    ];
    for (i, (lat, lon)) in centres.into_iter().enumerate() {
        let metres_per_deg_lon = M_PER_DEG * f64::to_radians(lat).cos();
        let points = [
            ("north 980", lat + 980.0 / M_PER_DEG, lon),
            ("south 1020", lat - 1020.0 / M_PER_DEG, lon),
            ("west 980", lat, lon - 980.0 / metres_per_deg_lon),
            (
                "north-east 1020",
                lat + 721.0 / M_PER_DEG,
                lon + 721.0 / metres_per_deg_lon,
            ),
        ];
        for (title, p_lat, p_lon) in points {
            if !(-180.0..=180.0).contains(&p_lon) {
                continue;
            }
            report(&app, &ada, litter(&format!("{i} {title}"), p_lat, p_lon)).await;
        }
        let page = get(&app, &format!("/issues?near={lat},{lon}&radius=1000"), None).await;
        let mut found = titles(&page);
        found.sort();
        let mut expected: Vec<String> = ["north 980", "west 980"]
            .iter()
            .map(|t| format!("{i} {t}"))
            .filter(|t| !(t.ends_with("west 980") && lon - 980.0 / metres_per_deg_lon < -180.0))
            .collect();
        expected.sort();
        assert_eq!(found, expected, "around {lat},{lon}");
        for item in page["items"].as_array().unwrap() {
            let distance = item["distance_m"].as_f64().unwrap();
            assert!((distance - 980.0).abs() < 2.0, "{item}");
        }
    }
}

#[actix_web::test]
async fn reads_carry_etags_and_edits_refuse_a_stale_if_match() {
    let app = TestApp::spawn().await;
    let ada = app.citizen("ada@example.org").await;
    let bob = app.citizen("bob@example.org").await;
    let issue = report(&app, &ada, litter("Bags by the bridge", LAT, LON)).await;
    let path = format!("/issues/{}", issue["id"].as_str().unwrap());

    let first = app.get_as(&path, &ada.access_token).await;
    assert_eq!(first.status(), 200);
    let tag = first.headers()["etag"].to_str().unwrap().to_owned();
    assert!(
        tag.starts_with('"') && !tag.starts_with("W/"),
        "strong: {tag}"
    );
    let cached = app
        .client
        .get(app.api(&path))
        .bearer_auth(&ada.access_token)
        .header("if-none-match", &tag)
        .send()
        .await
        .unwrap();
    assert_eq!(cached.status(), 304);
    assert_eq!(cached.headers()["etag"], tag.as_str());
    assert!(cached.bytes().await.unwrap().is_empty());

    // Another device's edit changes the tag; the first device's stale edit is refused.
    let patch = |tag: String, title: &'static str| {
        app.client
            .patch(app.api(&path))
            .bearer_auth(&ada.access_token)
            .header("if-match", tag)
            .json(&json!({"title": title}))
            .send()
    };
    let response = patch(tag.clone(), "Bags by the old bridge").await.unwrap();
    assert_eq!(response.status(), 200);
    let stale = patch(tag.clone(), "Bags by the new bridge").await.unwrap();
    problem(stale, 412, "precondition_failed").await;
    let now = app.get_as(&path, &ada.access_token).await;
    let fresh = now.headers()["etag"].to_str().unwrap().to_owned();
    assert_ne!(fresh, tag);
    let body: Value = now.json().await.unwrap();
    assert_eq!(
        body["title"], "Bags by the old bridge",
        "the stale edit changed nothing"
    );
    let response = patch(fresh.clone(), "Bags by the new bridge")
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    // A change by someone else (a supporter) changes the tag too.
    let before = app.get_as(&path, &bob.access_token).await.headers()["etag"].clone();
    let response = app
        .client
        .put(app.api(&format!("{path}/support")))
        .bearer_auth(&bob.access_token)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    let after = app.get_as(&path, &bob.access_token).await.headers()["etag"].clone();
    assert_ne!(before, after);

    // Lists are tagged as well.
    let list = app.client.get(app.api("/issues")).send().await.unwrap();
    let tag = list.headers()["etag"].clone();
    let again = app
        .client
        .get(app.api("/issues"))
        .header("if-none-match", tag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
}
