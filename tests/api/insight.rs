//! Trust and insight: `GET /stats` against a hand-counted fixture, and the open-data
//! exports (CSV and GeoJSON) without personal data.

use diesel::RunQueryDsl;
use serde_json::{Value, json};

use crate::helpers::{Citizen, TestApp, problem};

/// Central London: inside `BOX`.
const LAT: f64 = 51.5072;
const LON: f64 = -0.1276;
/// Manchester: outside it.
const FAR_LAT: f64 = 53.4808;
const FAR_LON: f64 = -2.2426;
const BOX: &str = "-0.2,51.4,0.0,51.6";

async fn report(
    app: &TestApp,
    who: &Citizen,
    category: &str,
    title: &str,
    lat: f64,
    lon: f64,
) -> String {
    let mut body = json!({"category": category, "title": title, "description": "Seen on my way to work", "lat": lat, "lon": lon});
    if category == "graffiti" {
        body["answers"] = json!({"offensive": "no"});
    }
    let response = app.post_json_as("/issues", &who.access_token, &body).await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    let issue: Value = response.json().await.unwrap();
    issue["id"].as_str().unwrap().to_owned()
}

async fn move_to(app: &TestApp, who: &Citizen, id: &str, status: &str) {
    let response = app
        .post_json_as(
            &format!("/issues/{id}/status"),
            &who.access_token,
            &json!({"status": status, "note": "Moving on"}),
        )
        .await;
    assert_eq!(
        response.status(),
        200,
        "{status}: {}",
        response.text().await.unwrap()
    );
}

/// Runs SQL against the test database (to pin timestamps to hand-counted values).
async fn exec(app: &TestApp, statement: String) {
    let pool = app.state.pool.clone();
    actix_web::web::block(move || {
        let mut conn = pool.get().unwrap();
        diesel::sql_query(statement).execute(&mut conn).unwrap();
    })
    .await
    .unwrap();
}

async fn pin(app: &TestApp, id: &str, created: &str, closed: Option<&str>) {
    let closed = closed.map_or("NULL".to_owned(), |c| format!("'{c}'"));
    exec(
        app,
        format!(
            "UPDATE issues SET created_at = '{created}', closed_at = {closed} WHERE id = '{id}'"
        ),
    )
    .await;
}

async fn stats(app: &TestApp, query: &str) -> Value {
    let response = app
        .client
        .get(app.api(&format!("/stats?{query}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{query}");
    response.json().await.unwrap()
}

struct Fixture {
    reporter: Citizen,
    far: String,
}

/// Five issues by hand:
///
/// | issue | category | where  | reported   | now        | closed     | to close |
/// |-------|----------|--------|------------|------------|------------|----------|
/// | A     | litter   | box    | 2026-01-10 | resolved   | 2026-01-12 | 2 days   |
/// | B     | litter   | box    | 2026-01-20 | resolved   | 2026-02-03 | 14 days  |
/// | C     | graffiti | box    | 2026-02-05 | fixed      | 2026-02-15 | 10 days  |
/// | D     | graffiti | box    | 2026-02-10 | (open)     |            |          |
/// | E     | litter   | far    | 2026-03-01 | resolved   | 2026-03-02 | 1 day    |
///
/// Pledges: 3 hours to D on 2026-01-15, 2 of them verified on 2026-02-20; 4 hours to E
/// on 2026-03-05. A group centred in the box gains its founder on 2026-02-01.
async fn fixture(app: &TestApp) -> Fixture {
    let reporter = app.citizen("ada.reporter@example.com").await;
    let volunteer = app.citizen("bob.volunteer@example.com").await;
    let officer = app.staff("officer@council.example", "officer").await;
    let a = report(app, &reporter, "litter", "Bags by Ada's gate", LAT, LON).await;
    let b = report(app, &reporter, "litter", "Cans", LAT + 0.01, LON).await;
    let c = report(app, &reporter, "graffiti", "Tag", LAT, LON + 0.01).await;
    let d = report(app, &reporter, "graffiti", "Another tag", LAT + 0.02, LON).await;
    let e = report(app, &reporter, "litter", "Far away bags", FAR_LAT, FAR_LON).await;

    for (issue, hours) in [(&d, 3), (&e, 4)] {
        let response = app
            .post_json_as(
                &format!("/issues/{issue}/pledges"),
                &volunteer.access_token,
                &json!({"kind": "time", "hours": hours}),
            )
            .await;
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    }

    move_to(app, &reporter, &a, "resolved").await;
    move_to(app, &reporter, &b, "resolved").await;
    move_to(app, &reporter, &e, "resolved").await;
    for status in ["escalated", "acknowledged", "in_progress", "fixed"] {
        move_to(app, &officer, &c, status).await;
    }

    pin(app, &a, "2026-01-10 00:00:00", Some("2026-01-12 00:00:00")).await;
    pin(app, &b, "2026-01-20 00:00:00", Some("2026-02-03 00:00:00")).await;
    pin(app, &c, "2026-02-05 00:00:00", Some("2026-02-15 00:00:00")).await;
    pin(app, &d, "2026-02-10 00:00:00", None).await;
    pin(app, &e, "2026-03-01 00:00:00", Some("2026-03-02 00:00:00")).await;
    exec(
        app,
        format!(
            "UPDATE pledges SET created_at = '2026-01-15 09:00:00', status = 'fulfilled', \
             verified_hours = 2, verified_at = '2026-02-20 12:00:00' WHERE issue_id = '{d}'"
        ),
    )
    .await;
    exec(
        app,
        format!("UPDATE pledges SET created_at = '2026-03-05 09:00:00' WHERE issue_id = '{e}'"),
    )
    .await;

    let group = json!({"name": "Mill Lane Neighbours", "description": "Neighbours", "lat": LAT, "lon": LON, "radius_m": 2000, "join_policy": "open"});
    let response = app
        .post_json_as("/groups", &volunteer.access_token, &group)
        .await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    exec(
        app,
        "UPDATE group_members SET created_at = '2026-02-01 10:00:00'".to_owned(),
    )
    .await;
    Fixture { reporter, far: e }
}

fn month<'a>(stats: &'a Value, month: &str) -> &'a Value {
    stats["months"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["month"] == month)
        .unwrap_or_else(|| panic!("no month {month} in {stats}"))
}

/// A month's (reported, resolved by community, fixed by council).
fn closures(month: &Value) -> (i64, i64, i64) {
    let count = |key: &str| month[key].as_i64().unwrap();
    (
        count("reported"),
        count("resolved_by_community"),
        count("fixed_by_council"),
    )
}

#[actix_web::test]
async fn stats_match_a_hand_counted_fixture() {
    let app = TestApp::spawn().await;
    fixture(&app).await;

    let all = stats(&app, "from=2026-01-01&to=2026-03-31").await;
    assert_eq!(all["issues"]["total"], 5, "{all}");
    let by_status = &all["issues"]["by_status"];
    assert_eq!(by_status["resolved"], 3);
    assert_eq!(by_status["fixed"], 1);
    assert_eq!(
        by_status["reported"].as_i64().unwrap() + by_status["community"].as_i64().unwrap(),
        1,
        "D is still open: {by_status}"
    );
    assert_eq!(by_status["declined"], 0);
    assert_eq!(
        all["issues"]["by_category"],
        json!([
            {"code": "graffiti", "name": all["issues"]["by_category"][0]["name"], "count": 2},
            {"code": "litter", "name": all["issues"]["by_category"][1]["name"], "count": 3},
        ])
    );
    let months: Vec<&str> = all["months"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["month"].as_str().unwrap())
        .collect();
    assert_eq!(months, ["2026-01", "2026-02", "2026-03"]);
    let jan = month(&all, "2026-01");
    assert_eq!(closures(jan), (2, 1, 0), "2026-01");
    assert_eq!(jan["hours_pledged"], 3.0);
    assert_eq!(jan["hours_verified"], 0.0);
    let feb = month(&all, "2026-02");
    assert_eq!(closures(feb), (2, 1, 1), "2026-02");
    assert_eq!(feb["hours_pledged"], 0.0);
    assert_eq!(feb["hours_verified"], 2.0);
    let mar = month(&all, "2026-03");
    assert_eq!(closures(mar), (1, 1, 0), "2026-03");
    assert_eq!(mar["hours_pledged"], 4.0);
    // Community: 1, 2 and 14 days; council: 10 days.
    let times = &all["time_to_resolution"];
    assert_eq!(times["community"]["count"], 3);
    assert_eq!(times["community"]["median_seconds"], 2.0 * 86400.0);
    assert_eq!(times["council"]["count"], 1);
    assert_eq!(times["council"]["median_seconds"], 10.0 * 86400.0);
    assert_eq!(all["active_groups"], 1);

    // The box leaves Manchester out: the median of 2 and 14 days is 8.
    let boxed = stats(&app, &format!("from=2026-01-01&to=2026-03-31&bbox={BOX}")).await;
    assert_eq!(boxed["issues"]["total"], 4);
    assert_eq!(boxed["issues"]["by_status"]["resolved"], 2);
    assert_eq!(boxed["time_to_resolution"]["community"]["count"], 2);
    assert_eq!(
        boxed["time_to_resolution"]["community"]["median_seconds"],
        8.0 * 86400.0
    );
    let mar = month(&boxed, "2026-03");
    assert_eq!(mar["reported"], 0);
    assert_eq!(mar["resolved_by_community"], 0);
    assert_eq!(mar["hours_pledged"], 0.0);
    assert_eq!(month(&boxed, "2026-01")["hours_pledged"], 3.0);
    assert_eq!(boxed["active_groups"], 1);

    // February only: B counts as resolved then, though reported in January.
    let feb = stats(&app, "from=2026-02-01&to=2026-02-28").await;
    assert_eq!(feb["issues"]["total"], 2);
    assert_eq!(feb["issues"]["by_status"]["fixed"], 1);
    assert_eq!(feb["months"].as_array().unwrap().len(), 1);
    assert_eq!(feb["time_to_resolution"]["community"]["count"], 1);
    assert_eq!(
        feb["time_to_resolution"]["community"]["median_seconds"],
        14.0 * 86400.0
    );
    assert_eq!(feb["active_groups"], 1);

    // January: no group gained anyone.
    let jan = stats(&app, "from=2026-01-01&to=2026-01-31").await;
    assert_eq!(jan["active_groups"], 0);
    assert_eq!(
        jan["time_to_resolution"]["council"]["median_seconds"],
        Value::Null
    );
}

#[actix_web::test]
async fn stats_refuse_bad_areas_and_periods() {
    let app = TestApp::spawn().await;
    for (query, field) in [
        ("bbox=1,2,3", "bbox"),
        ("bbox=-20,0,20,1", "bbox"),
        ("from=yesterday", "from"),
        ("from=2026-03-01&to=2026-01-01", "from"),
        ("from=2010-01-01&to=2026-01-01", "from"),
    ] {
        let response = app
            .client
            .get(app.api(&format!("/stats?{query}")))
            .send()
            .await
            .unwrap();
        let body = problem(response, 422, "validation_failed").await;
        assert_eq!(body["errors"][0]["field"], field, "{query}: {body}");
    }
    // Without a period: the last year, and no data yet.
    let empty = stats(&app, "").await;
    assert_eq!(empty["issues"]["total"], 0);
    assert!(empty["months"].as_array().unwrap().len() >= 12);
}

#[actix_web::test]
async fn open_data_has_every_public_issue_and_nothing_personal() {
    let app = TestApp::spawn_with(|config| {
        config.open_data_licence = "CC BY 4.0, Test Council".into();
    })
    .await;
    let fixture = fixture(&app).await;
    // A comment with personal words, which must not leak either.
    let response = app
        .post_json_as(
            &format!("/issues/{}/comments", fixture.far),
            &fixture.reporter.access_token,
            &json!({"body": "Call me on 07700 900123"}),
        )
        .await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());

    let response = app
        .client
        .get(app.api("/open-data/issues.csv"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    assert!(
        response.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("issues.csv")
    );
    let csv = response.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "id,category,category_name,status,created_at,updated_at,closed_at,lat,lon,support_count,licence"
    );
    assert_eq!(lines.len(), 1 + 5, "{csv}");
    assert!(
        lines[1..]
            .iter()
            .all(|l| l.ends_with(",\"CC BY 4.0, Test Council\"")),
        "{csv}"
    );
    assert!(csv.contains(",2026-01-10T00:00:00Z,"), "{csv}");

    let response = app
        .client
        .get(app.api("/open-data/issues.geojson"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/geo+json");
    let geojson = response.text().await.unwrap();
    let collection: Value = serde_json::from_str(&geojson).unwrap();
    assert_eq!(collection["type"], "FeatureCollection");
    assert_eq!(collection["licence"], "CC BY 4.0, Test Council");
    let features = collection["features"].as_array().unwrap();
    assert_eq!(features.len(), 5);
    let far = features
        .iter()
        .find(|f| f["id"] == fixture.far.as_str())
        .unwrap();
    assert_eq!(far["geometry"]["coordinates"], json!([FAR_LON, FAR_LAT]));
    assert_eq!(far["properties"]["status"], "resolved");
    assert_eq!(far["properties"]["category"], "litter");
    assert_eq!(far["properties"]["closed_at"], "2026-03-02T00:00:00Z");

    for body in [&csv, &geojson] {
        for secret in [
            "ada.reporter@example.com",
            "bob.volunteer@example.com",
            "officer@council.example",
            "Test Citizen",
            "Ada",
            "Seen on my way",
            "07700",
        ] {
            assert!(!body.contains(secret), "{secret} leaked: {body}");
        }
    }

    // Filters: the box and a category.
    let response = app
        .client
        .get(app.api(&format!(
            "/open-data/issues.geojson?bbox={BOX}&category=litter"
        )))
        .send()
        .await
        .unwrap();
    let boxed: Value = response.json().await.unwrap();
    assert_eq!(boxed["features"].as_array().unwrap().len(), 2);
    let response = app
        .client
        .get(app.api("/open-data/issues.csv?bbox=nonsense"))
        .send()
        .await
        .unwrap();
    problem(response, 422, "validation_failed").await;
}

#[actix_web::test]
async fn open_data_streams_past_one_page() {
    let app = TestApp::spawn().await;
    let reporter = app.citizen("many@example.com").await;
    let id = report(&app, &reporter, "litter", "Bags", LAT, LON).await;
    // Copies of the one issue, enough for two pages and a bit.
    let total = civitas::insight::open_data::PAGE_SIZE as usize * 2 + 7;
    let copies: Vec<String> = (1..total)
        .map(|i| {
            format!(
                "SELECT '{id}-{i:05}', category_code, title, description, lat, lon, address, \
                 answers, status, reporter_id, anonymous, duplicate_of, support_count, \
                 follower_count, photo_count, closed_at, created_at, updated_at \
                 FROM issues WHERE id = '{id}'"
            )
        })
        .collect();
    for chunk in copies.chunks(200) {
        exec(
            &app,
            format!(
                "INSERT INTO issues (id, category_code, title, description, lat, lon, address, \
                 answers, status, reporter_id, anonymous, duplicate_of, support_count, \
                 follower_count, photo_count, closed_at, created_at, updated_at) {}",
                chunk.join(" UNION ALL ")
            ),
        )
        .await;
    }
    let csv = app
        .client
        .get(app.api("/open-data/issues.csv"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(csv.lines().count(), 1 + total);
    let geojson: Value = app
        .client
        .get(app.api("/open-data/issues.geojson"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(geojson["features"].as_array().unwrap().len(), total);
}
