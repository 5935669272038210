//! Data rights: consents with their history (and the public name they govern), the export
//! of everything held about a fully active account, and erasure, which leaves no trace of
//! the person in any table of the database while their public contributions stay.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpResponse, HttpServer, web};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use diesel::{PgConnection, SqliteConnection};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Citizen, PASSWORD, TestApp, expect, problem};

const LAT: f64 = 51.5072;
const LON: f64 = -0.1276;
/// The person exported and erased: a name and an address found nowhere else.
const NAME: &str = "Zanthe Quillborough";
const EMAIL: &str = "zanthe.quillborough@example.org";
const DEVICE: &str = "Zanthe Quillborough's phone";

/// A signed-in account and its id.
struct Person {
    who: Citizen,
    id: String,
}

async fn public_get(app: &TestApp, path: &str) -> Value {
    expect(app.client.get(app.api(path)).send().await.unwrap(), 200).await
}

/// Registers `name`, verifies the address and signs in (naming the device, if given).
async fn person(app: &TestApp, email: &str, name: &str, device: Option<&str>) -> Person {
    assert_eq!(app.register(email, PASSWORD, name).await.status(), 201);
    let token = app.mail_token(email, "verification token").await;
    let verified = app
        .post_json("/auth/verify-email", &json!({"token": token}))
        .await;
    assert_eq!(verified.status(), 204);
    let login = app
        .post_json(
            "/auth/login",
            &json!({"email": email, "password": PASSWORD, "device_name": device}),
        )
        .await;
    let body = expect(login, 200).await;
    let who = Citizen {
        email: email.to_owned(),
        access_token: body["access_token"].as_str().unwrap().to_owned(),
        refresh_token: body["refresh_token"].as_str().unwrap().to_owned(),
        session_id: body["session_id"].as_str().unwrap().to_owned(),
    };
    let id = expect(app.get_as("/me", &who.access_token).await, 200).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    Person { who, id }
}

fn id_of(body: &Value) -> String {
    body["id"].as_str().unwrap().to_owned()
}

async fn report(app: &TestApp, who: &Person, title: &str, anonymous: bool) -> String {
    let body = json!({"category": "litter", "title": title, "description": "Bags and cans",
                      "lat": LAT, "lon": LON, "anonymous": anonymous});
    id_of(
        &expect(
            app.send(Method::POST, "/issues", Some(&who.who), Some(body))
                .await,
            201,
        )
        .await,
    )
}

async fn comment(app: &TestApp, who: &Person, issue: &str, text: &str) -> String {
    let path = format!("/issues/{issue}/comments");
    let body = Some(json!({"body": text}));
    id_of(
        &expect(
            app.send(Method::POST, &path, Some(&who.who), body).await,
            201,
        )
        .await,
    )
}

async fn create_group(app: &TestApp, owner: &Person, name: &str) -> String {
    let body = json!({"name": name, "description": "Neighbours", "lat": LAT, "lon": LON,
                      "radius_m": 2000, "join_policy": "open"});
    id_of(
        &expect(
            app.send(Method::POST, "/groups", Some(&owner.who), Some(body))
                .await,
            201,
        )
        .await,
    )
}

async fn join(app: &TestApp, who: &Person, group: &str) {
    let path = format!("/groups/{group}/membership");
    expect(
        app.send(Method::PUT, &path, Some(&who.who), None).await,
        200,
    )
    .await;
}

fn in_hours(hours: i64) -> String {
    (chrono::Utc::now() + chrono::TimeDelta::hours(hours))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

async fn opportunity(app: &TestApp, owner: &Person, group: &str, extra: Value) -> String {
    let mut body = json!({"title": "Litter pick on the green", "description": "Bring gloves",
                          "lat": LAT, "lon": LON, "starts_at": in_hours(24),
                          "ends_at": in_hours(27)});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let path = format!("/groups/{group}/opportunities");
    id_of(
        &expect(
            app.send(Method::POST, &path, Some(&owner.who), Some(body))
                .await,
            201,
        )
        .await,
    )
}

async fn pledge(app: &TestApp, who: &Person, path: &str, body: Value) -> Value {
    expect(
        app.send(Method::POST, path, Some(&who.who), Some(body))
            .await,
        201,
    )
    .await
}

/// Waits until the dispatcher has fanned out every event in the outbox.
async fn settle(app: &TestApp) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let pool = app.state.pool.clone();
        let backlog = web::block(move || {
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

/// A direct connection to the app's database, bypassing Civitas.
enum Raw {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

fn raw(app: &TestApp) -> Raw {
    match app.database_url.strip_prefix("sqlite://") {
        Some(path) => Raw::Sqlite(SqliteConnection::establish(path).unwrap()),
        None => Raw::Postgres(PgConnection::establish(&app.database_url).unwrap()),
    }
}

#[derive(QueryableByName)]
struct Column {
    #[diesel(sql_type = Text)]
    t: String,
    #[diesel(sql_type = Text)]
    c: String,
    #[diesel(sql_type = Text)]
    k: String,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Single {
    #[diesel(sql_type = Text)]
    v: String,
}

/// Every value of a text query (`SELECT … AS v`), on either backend.
fn strings(app: &TestApp, sql: &str) -> Vec<String> {
    let rows: Vec<Single> = match &mut raw(app) {
        Raw::Sqlite(c) => diesel::sql_query(sql).load(c).unwrap(),
        Raw::Postgres(c) => diesel::sql_query(sql).load(c).unwrap(),
    };
    rows.into_iter().map(|row| row.v).collect()
}

/// Every `table.column` of the database holding any of `needles` (case-insensitively),
/// whatever the column's type.
fn scan(app: &TestApp, needles: &[&str]) -> Vec<String> {
    let mut conn = raw(app);
    let columns: Vec<Column> = match &mut conn {
        Raw::Sqlite(c) => diesel::sql_query(
            "SELECT m.name AS t, p.name AS c, p.type AS k \
             FROM sqlite_master m JOIN pragma_table_info(m.name) p \
             WHERE m.type = 'table' ORDER BY m.name, p.cid",
        )
        .load(c)
        .unwrap(),
        Raw::Postgres(c) => diesel::sql_query(
            "SELECT c.table_name::text AS t, c.column_name::text AS c, c.data_type::text AS k \
             FROM information_schema.columns c JOIN information_schema.tables t \
               ON t.table_schema = c.table_schema AND t.table_name = c.table_name \
             WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE' \
             ORDER BY c.table_name, c.ordinal_position",
        )
        .load(c)
        .unwrap(),
    };
    assert!(
        columns.iter().any(|col| col.t == "accounts") && columns.len() > 100,
        "the scan sees the whole schema ({} columns)",
        columns.len()
    );
    let mut hits = Vec::new();
    for Column { t, c, k } in &columns {
        for needle in needles {
            let pattern = format!("%{}%", needle.to_lowercase());
            let found: Count = match &mut conn {
                Raw::Sqlite(conn) => diesel::sql_query(format!(
                    "SELECT COUNT(*) AS n FROM \"{t}\" WHERE lower(CAST(\"{c}\" AS TEXT)) LIKE ?"
                ))
                .bind::<Text, _>(&pattern)
                .get_result(conn)
                .unwrap(),
                Raw::Postgres(conn) => {
                    let text = if k == "bytea" {
                        format!("encode(\"{c}\", 'escape')")
                    } else {
                        format!("CAST(\"{c}\" AS TEXT)")
                    };
                    diesel::sql_query(format!(
                        "SELECT COUNT(*) AS n FROM \"{t}\" WHERE lower({text}) LIKE $1"
                    ))
                    .bind::<Text, _>(&pattern)
                    .get_result(conn)
                    .unwrap()
                }
            };
            if found.n > 0 {
                hits.push(format!("{t}.{c} ({needle}: {} rows)", found.n));
            }
        }
    }
    hits
}

/// A webhook endpoint on 127.0.0.1 that answers 204 and counts what it gets.
fn receiver() -> (String, Arc<Mutex<usize>>) {
    let received = Arc::new(Mutex::new(0usize));
    let data = web::Data::from(received.clone());
    let server = HttpServer::new(move || {
        App::new().app_data(data.clone()).default_service(web::to(
            |count: web::Data<Mutex<usize>>| async move {
                *count.lock().unwrap() += 1;
                HttpResponse::NoContent().finish()
            },
        ))
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let port = server.addrs()[0].port();
    actix_web::rt::spawn(server.run());
    (format!("http://127.0.0.1:{port}/hooks"), received)
}

/// Everything a fully active citizen (Zanthe) leaves in Civitas, with the people and
/// things around them.
struct Scene {
    zed: Person,
    owner: Person,
    olive: Person,
    own_issue: String,
    anonymous_issue: String,
    /// Olwen's issue, which Zanthe supports, follows and commented on.
    other_issue: String,
    zed_comment: String,
    /// Zanthe owns it; Olive is its organiser.
    zed_group: String,
    /// Zanthe owns it; Olwen is a plain member.
    solo_group: String,
    /// Capacity 1, not started: Zanthe holds the place, Olive waits.
    future_opportunity: String,
    olive_pledge: String,
    device_token: String,
}

async fn active_account(app: &TestApp) -> Scene {
    let zed = person(app, EMAIL, NAME, Some(DEVICE)).await;
    let owner = person(app, "olwen@example.org", "Olwen Marsh", None).await;
    let olive = person(app, "olive@example.org", "Olive Brook", None).await;

    // Reports, one anonymous; Olwen's issue supported, followed and commented on.
    let own_issue = report(app, &zed, "Bins overflowing on Mill Lane", false).await;
    let anonymous_issue = report(app, &zed, "Needles in the park", true).await;
    let other_issue = report(app, &owner, "Broken bench by the pond", false).await;
    for bond in ["support", "follow"] {
        let path = format!("/issues/{other_issue}/{bond}");
        expect(
            app.send(Method::PUT, &path, Some(&zed.who), None).await,
            200,
        )
        .await;
    }
    let zed_comment = comment(app, &zed, &other_issue, "Same here: it blocks the path.").await;
    let typo = comment(app, &zed, &own_issue, "Tpyo").await;
    let path = format!("/issues/{own_issue}/comments/{typo}");
    expect(
        app.send(Method::DELETE, &path, Some(&zed.who), None).await,
        204,
    )
    .await;
    // Olwen comments on Zanthe's issue: a notification for Zanthe.
    comment(app, &owner, &own_issue, "I saw it this morning too.").await;
    // A photo.
    let part = reqwest::multipart::Part::bytes(crate::photos::jpeg(64, 48))
        .file_name("bins.jpg")
        .mime_str("image/jpeg")
        .unwrap();
    let photo = app
        .client
        .post(app.api(&format!("/issues/{own_issue}/photos")))
        .bearer_auth(&zed.who.access_token)
        .multipart(reqwest::multipart::Form::new().part("photo", part))
        .send()
        .await
        .unwrap();
    expect(photo, 201).await;

    // Groups: a member of Olwen's, owner of two of their own.
    let friends = create_group(app, &owner, "Mill Lane Friends").await;
    join(app, &zed, &friends).await;
    let zed_group = create_group(app, &zed, "Pond Wardens").await;
    join(app, &olive, &zed_group).await;
    let path = format!("/groups/{zed_group}/members/{}", olive.id);
    let promoted = app.send(
        Method::PATCH,
        &path,
        Some(&zed.who),
        Some(json!({"role": "organiser"})),
    );
    assert_eq!(expect(promoted.await, 200).await["role"], "organiser");
    let solo_group = create_group(app, &zed, "Quiet Corner").await;
    join(app, &owner, &solo_group).await;

    // Pledges: hours claimed on a started opportunity, a place on a future one (with a
    // note), and money for an issue.
    let started = opportunity(
        app,
        &owner,
        &friends,
        json!({"title": "Clear the verge", "starts_at": in_hours(-1), "ends_at": in_hours(2)}),
    )
    .await;
    let done = pledge(
        app,
        &zed,
        &format!("/opportunities/{started}/pledges"),
        json!({"kind": "time", "hours": 3}),
    )
    .await;
    let path = format!("/pledges/{}/fulfilment", id_of(&done));
    let claimed = app.send(
        Method::POST,
        &path,
        Some(&zed.who),
        Some(json!({"hours": 2})),
    );
    assert_eq!(expect(claimed.await, 200).await["claimed_hours"], 2.0);
    let future_opportunity = opportunity(
        app,
        &owner,
        &friends,
        json!({"title": "Paint the fence", "capacity": 1}),
    )
    .await;
    let path = format!("/opportunities/{future_opportunity}/pledges");
    let place = pledge(
        app,
        &zed,
        &path,
        json!({"kind": "time", "hours": 2, "note": "The Quillborough ladder is free"}),
    )
    .await;
    assert_eq!(place["status"], "confirmed");
    let waiting = pledge(app, &olive, &path, json!({"kind": "time", "hours": 2})).await;
    assert_eq!(waiting["status"], "waitlisted");
    pledge(
        app,
        &zed,
        &format!("/issues/{other_issue}/pledges"),
        json!({"kind": "money", "amount_minor": 500, "currency": "GBP",
               "note": "From the Quillborough household"}),
    )
    .await;

    // A push device, consents, and a flag.
    let device_token = "fcm:APA91bZanthe0Quillborough0device0token".to_owned();
    let path = format!("/me/devices/{device_token}");
    let body = Some(json!({"platform": "fcm"}));
    expect(
        app.send(Method::PUT, &path, Some(&zed.who), body).await,
        201,
    )
    .await;
    for purpose in ["public_name", "contact_council"] {
        let path = format!("/me/consents/{purpose}");
        let body = Some(json!({"granted": true, "version": "1"}));
        expect(
            app.send(Method::PUT, &path, Some(&zed.who), body).await,
            200,
        )
        .await;
    }
    // A flag (POST /flags, from the moderation work).
    let body = Some(json!({"target_type": "issue", "target_id": other_issue, "reason": "spam"}));
    expect(
        app.send(Method::POST, "/flags", Some(&zed.who), body).await,
        201,
    )
    .await;

    settle(app).await;
    Scene {
        zed,
        owner,
        olive,
        own_issue,
        anonymous_issue,
        other_issue,
        zed_comment,
        zed_group,
        solo_group,
        future_opportunity,
        olive_pledge: id_of(&waiting),
        device_token,
    }
}

fn items(page: &Value) -> &Vec<Value> {
    page["items"].as_array().unwrap()
}

#[actix_web::test]
async fn consents_start_withdrawn_keep_their_history_and_govern_the_public_name() {
    let app = TestApp::spawn().await;
    let ada = person(&app, "ada@example.org", "Ada Lovelace", None).await;
    problem(
        app.client
            .get(app.api("/me/consents"))
            .send()
            .await
            .unwrap(),
        401,
        "missing_token",
    )
    .await;

    let list = expect(app.get_as("/me/consents", &ada.who.access_token).await, 200).await;
    let purposes: Vec<&str> = list["consents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["purpose"].as_str().unwrap())
        .collect();
    assert_eq!(purposes, ["contact_council", "public_name"]);
    for consent in list["consents"].as_array().unwrap() {
        assert_eq!(consent["granted"], false, "{consent}");
        assert_eq!(consent["version"], Value::Null);
        assert_eq!(consent["updated_at"], Value::Null);
        assert_eq!(consent["current_version"], "1");
        assert!(!consent["text"].as_str().unwrap().is_empty());
    }
    assert_eq!(list["history"], json!([]));
    let public_path = format!("/accounts/{}/participation", ada.id);
    let public = public_get(&app, &public_path).await;
    assert_eq!(public["display_name"], Value::Null, "no consent, no name");
    assert_eq!(public["account_id"], ada.id.as_str());

    let put = |purpose: &str, body: Value| {
        let request = app
            .client
            .put(app.api(&format!("/me/consents/{purpose}")))
            .bearer_auth(&ada.who.access_token)
            .json(&body);
        async move { request.send().await.unwrap() }
    };
    let stale = put("public_name", json!({"granted": true, "version": "0"})).await;
    problem(stale, 422, "stale_version").await;
    let unknown = put("marketing", json!({"granted": true, "version": "1"})).await;
    problem(unknown, 404, "not_found").await;
    let public = public_get(&app, &public_path).await;
    assert_eq!(
        public["display_name"],
        Value::Null,
        "refused answers change nothing"
    );

    let granted = expect(
        put("public_name", json!({"granted": true, "version": "1"})).await,
        200,
    )
    .await;
    assert_eq!(granted["purpose"], "public_name");
    assert_eq!(granted["granted"], true);
    assert_eq!(granted["version"], "1");
    assert!(granted["updated_at"].is_string());
    let public = public_get(&app, &public_path).await;
    assert_eq!(public["display_name"], "Ada Lovelace");

    let withdrawn = expect(
        put("public_name", json!({"granted": false, "version": "1"})).await,
        200,
    )
    .await;
    assert_eq!(withdrawn["granted"], false);
    let public = public_get(&app, &public_path).await;
    assert_eq!(public["display_name"], Value::Null);
    // The answer in force again: nothing new in the history.
    expect(
        put("public_name", json!({"granted": false, "version": "1"})).await,
        200,
    )
    .await;

    let list = expect(app.get_as("/me/consents", &ada.who.access_token).await, 200).await;
    let history = list["history"].as_array().unwrap();
    assert_eq!(history.len(), 2, "{history:?}");
    assert_eq!(
        (history[0]["granted"].clone(), history[1]["granted"].clone()),
        (json!(false), json!(true)),
        "newest first"
    );
    for change in history {
        assert_eq!(change["purpose"], "public_name");
        assert_eq!(change["version"], "1");
    }
    let newest = chrono::DateTime::parse_from_rfc3339(history[0]["created_at"].as_str().unwrap());
    let oldest = chrono::DateTime::parse_from_rfc3339(history[1]["created_at"].as_str().unwrap());
    assert!(newest.unwrap() >= oldest.unwrap());
    let public_name = &list["consents"][1];
    assert_eq!(
        (
            public_name["granted"].clone(),
            public_name["version"].clone()
        ),
        (json!(false), json!("1"))
    );

    // What the council may have of a reporter follows `contact_council`.
    let contact = |app: &TestApp, id: String| {
        let pool = app.state.pool.clone();
        web::block(move || {
            let mut conn = pool.get().unwrap();
            civitas::privacy::consents::council_contact(&mut conn, &id).unwrap()
        })
    };
    assert_eq!(contact(&app, ada.id.clone()).await.unwrap(), None);
    expect(
        put("contact_council", json!({"granted": true, "version": "1"})).await,
        200,
    )
    .await;
    assert_eq!(
        contact(&app, ada.id.clone()).await.unwrap(),
        Some(json!({"account_id": ada.id, "display_name": "Ada Lovelace",
                    "email": "ada@example.org"}))
    );
    let list = expect(app.get_as("/me/consents", &ada.who.access_token).await, 200).await;
    assert_eq!(list["consents"][0]["granted"], true);
    assert_eq!(list["history"].as_array().unwrap().len(), 3);
}

#[actix_web::test]
async fn the_export_of_a_fully_active_account_holds_every_kind_of_data_and_no_secret() {
    let app = TestApp::spawn().await;
    let scene = active_account(&app).await;
    let zed = &scene.zed;

    let response = app.get_as("/me/export", &zed.who.access_token).await;
    assert_eq!(response.status(), 200);
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    assert_eq!(
        header("content-disposition"),
        format!("attachment; filename=\"civitas-export-{today}.json\"")
    );
    assert_eq!(header("cache-control"), "no-store");
    assert!(header("content-type").starts_with("application/json"));
    let text = response.text().await.unwrap();
    let export: Value = serde_json::from_str(&text).unwrap();

    assert_eq!(export["format_version"], 1);
    assert!(export["exported_at"].is_string());
    let profile = &export["profile"];
    assert_eq!(profile["id"], zed.id.as_str());
    assert_eq!(profile["email"], EMAIL);
    assert_eq!(profile["display_name"], NAME);
    assert_eq!(profile["role"], "citizen");
    assert_eq!(profile["email_verified"], true);
    assert!(profile["notification_preferences"].is_object());
    assert!(profile.get("suspended_until").is_some() && profile.get("banned_at").is_some());

    for section in [
        "sessions",
        "reports",
        "comments",
        "activity",
        "supports",
        "follows",
        "groups",
        "pledges",
        "opportunities_created",
        "notifications",
        "devices",
        "photos",
        "mail_tokens",
        "flags",
    ] {
        if section == "opportunities_created" {
            // Zanthe created none; the section is there, empty.
            assert_eq!(export[section], json!([]), "{section}");
            continue;
        }
        let list = export[section].as_array();
        assert!(
            list.is_some_and(|l| !l.is_empty()),
            "{section} is present and not empty: {}",
            export[section]
        );
    }

    let session = &export["sessions"][0];
    assert_eq!(session["device_name"], DEVICE);
    assert_eq!(session["current"], true);
    assert!(session.get("revoked_at").is_some());
    let reports = export["reports"].as_array().unwrap();
    assert_eq!(reports.len(), 2);
    let anonymous = reports
        .iter()
        .find(|r| r["id"] == scene.anonymous_issue.as_str())
        .expect("the anonymous report is exported too");
    assert_eq!(anonymous["anonymous"], true);
    let own = reports
        .iter()
        .find(|r| r["id"] == scene.own_issue.as_str())
        .unwrap();
    assert_eq!(
        (own["lat"].as_f64(), own["lon"].as_f64()),
        (Some(LAT), Some(LON))
    );
    assert!(own["answers"].is_object());
    let comments = export["comments"].as_array().unwrap();
    assert_eq!(comments.len(), 2);
    assert!(
        comments
            .iter()
            .any(|c| c["id"] == scene.zed_comment.as_str()
                && c["text"] == "Same here: it blocks the path.")
    );
    let deleted = comments
        .iter()
        .find(|c| c["deleted_at"].is_string())
        .expect("a deleted comment keeps its metadata");
    assert_eq!(deleted["text"], Value::Null);
    assert_eq!(
        export["supports"][0]["issue_id"],
        scene.other_issue.as_str()
    );
    assert_eq!(export["follows"][0]["issue_id"], scene.other_issue.as_str());
    let groups = export["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 3);
    assert!(
        groups
            .iter()
            .any(|g| g["group_id"] == scene.zed_group.as_str()
                && g["role"] == "owner"
                && g["created_it"] == true)
    );
    assert!(
        groups
            .iter()
            .any(|g| g["role"] == "member" && g["status"] == "active")
    );
    let pledges = export["pledges"].as_array().unwrap();
    assert_eq!(pledges.len(), 3);
    assert!(
        pledges
            .iter()
            .any(|p| p["hours"] == 3.0 && p["claimed_hours"] == 2.0)
    );
    assert!(
        pledges
            .iter()
            .any(|p| p["note"] == "The Quillborough ladder is free")
    );
    assert!(
        pledges
            .iter()
            .any(|p| p["kind"] == "money" && p["amount_minor"] == 500)
    );
    assert_eq!(export["participation"]["hours_pledged"], 5.0);
    assert_eq!(export["participation"]["issues_reported"], 2);
    assert!(
        export["notifications"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["kind"] == "issue.commented")
    );
    assert_eq!(export["devices"][0]["token_hint"], "fcm:AP…oken");
    let consents = &export["consents"];
    assert_eq!(consents["consents"][1]["purpose"], "public_name");
    assert_eq!(consents["consents"][1]["granted"], true);
    assert_eq!(consents["history"].as_array().unwrap().len(), 2);
    assert_eq!(export["photos"][0]["issue_id"], scene.own_issue.as_str());
    assert!(
        export["photos"][0]["url"]
            .as_str()
            .unwrap()
            .starts_with("/api/v1/photos/")
    );
    assert_eq!(export["mail_tokens"][0]["purpose"], "verify_email");
    // The flag (POST /flags, from the moderation work).
    let flag = &export["flags"][0];
    assert_eq!(
        (
            flag["target_type"].clone(),
            flag["target_id"].clone(),
            flag["reason"].clone()
        ),
        (json!("issue"), json!(scene.other_issue), json!("spam"))
    );

    // No secret: neither the tokens the client holds nor the hashes Civitas keeps.
    let mut secrets = vec![
        zed.who.access_token.clone(),
        zed.who.refresh_token.clone(),
        scene.device_token.clone(),
        PASSWORD.to_owned(),
    ];
    secrets.extend(strings(&app, "SELECT password_hash AS v FROM accounts"));
    secrets.extend(strings(
        &app,
        "SELECT refresh_token_hash AS v FROM sessions",
    ));
    secrets.extend(strings(&app, "SELECT token_hash AS v FROM email_tokens"));
    assert!(secrets.len() > 8);
    for secret in &secrets {
        assert!(
            !text.contains(secret.as_str()),
            "the export holds a secret: {secret}"
        );
    }
    for word in ["password", "token_hash", "$argon2", "refresh_token"] {
        assert!(!text.contains(word), "the export mentions {word}");
    }

    // Only the caller's: Olwen's export has her report, not Zanthe's, and not their address
    // (her notification of Zanthe's comment is hers, and names them as it did to her).
    let theirs = app
        .get_as("/me/export", &scene.owner.who.access_token)
        .await;
    let theirs = theirs.text().await.unwrap();
    assert!(!theirs.contains(EMAIL));
    let theirs: Value = serde_json::from_str(&theirs).unwrap();
    let reported: Vec<&str> = theirs["reports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(reported, [scene.other_issue.as_str()]);
}

#[actix_web::test]
async fn a_wrong_password_erases_nothing() {
    let app = TestApp::spawn().await;
    let ada = person(&app, "ada@example.org", "Ada Lovelace", None).await;
    let issue = report(&app, &ada, "Pothole on Elm Road", false).await;
    let wrong = app
        .send(
            Method::DELETE,
            "/me",
            Some(&ada.who),
            Some(json!({"password": "not the password"})),
        )
        .await;
    problem(wrong, 403, "wrong_password").await;
    let too_long = Some(json!({"password": "x".repeat(1025)}));
    let too_long = app
        .send(Method::DELETE, "/me", Some(&ada.who), too_long)
        .await;
    problem(too_long, 403, "wrong_password").await;
    let missing = app
        .send(Method::DELETE, "/me", Some(&ada.who), Some(json!({})))
        .await;
    assert_eq!(missing.status(), 422);

    let me = expect(app.get_as("/me", &ada.who.access_token).await, 200).await;
    assert_eq!(
        (me["email"].clone(), me["display_name"].clone()),
        (json!("ada@example.org"), json!("Ada Lovelace"))
    );
    let detail = public_get(&app, &format!("/issues/{issue}")).await;
    assert_eq!(detail["reporter"]["display_name"], "Ada Lovelace");
    assert_eq!(
        strings(
            &app,
            "SELECT email AS v FROM accounts WHERE deleted_at IS NOT NULL"
        ),
        Vec::<String>::new()
    );
    app.sign_in("ada@example.org", PASSWORD).await;
}

#[actix_web::test]
async fn erasure_leaves_no_trace_of_the_person_in_any_table_while_public_content_stays() {
    let app = TestApp::spawn_with(|config| {
        config.webhook_allow_private = true;
        config.webhook_allow_http = true;
    })
    .await;
    // A partner watching issues: its deliveries carry reporters' names.
    let (url, received) = receiver();
    let partner = app.partner("Riverside Council", &["webhooks:manage", "issues:read"]);
    let partner_token = app.partner_token(&partner).await;
    let hook = app
        .post_json_as(
            "/webhooks",
            &partner_token,
            &json!({"url": url, "events": ["issue.*"]}),
        )
        .await;
    expect(hook, 201).await;

    let scene = active_account(&app).await;
    let zed = &scene.zed;
    // More traces: an unused password-reset link, a failed sign-in, an answer kept for a
    // retry, and Open311 contact details a partner sent for them.
    let reset = app
        .post_json("/auth/password-reset", &json!({"email": EMAIL}))
        .await;
    assert_eq!(reset.status(), 202);
    assert_eq!(app.login(EMAIL, "not the password").await.status(), 401);
    let keyed = app
        .client
        .post(app.api(&format!("/issues/{}/comments", scene.own_issue)))
        .bearer_auth(&zed.who.access_token)
        .header("Idempotency-Key", "zanthe-comment-1")
        .json(&json!({"body": "Still there today."}))
        .send()
        .await
        .unwrap();
    expect(keyed, 201).await;
    let submitter = app.partner("Street Reports", &["open311:submit"]);
    let open311 = app
        .client
        .post(app.url("/open311/v2/requests.json"))
        .form(&[
            ("api_key", submitter.secret.as_str()),
            ("service_code", "litter"),
            ("lat", "51.5072"),
            ("long", "-0.1276"),
            ("description", "Fly-tipping behind the shops"),
            ("email", EMAIL),
            ("first_name", "Zanthe"),
            ("last_name", "Quillborough"),
            ("account_id", zed.id.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(open311.status(), 201);
    settle(&app).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    while *received.lock().unwrap() == 0 {
        assert!(Instant::now() < deadline, "no webhook delivery arrived");
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }

    // The identity is all over the database now (which also shows the scan finds it).
    let needles = [NAME, "Quillborough", EMAIL];
    let before = scan(&app, &needles);
    for expected in [
        "accounts.email",
        "accounts.display_name",
        "sessions.device_name",
        "login_throttle.email",
        "pledges.note",
        "notifications.title",
        "webhook_deliveries.payload",
        "idempotency_keys.body",
        "issues.reporter_contact",
    ] {
        assert!(
            before
                .iter()
                .any(|hit| hit.starts_with(&format!("{expected} "))),
            "{expected} holds the identity before erasure: {before:?}"
        );
    }
    let other_before = public_get(&app, &format!("/issues/{}", scene.other_issue)).await;
    let supports_before = other_before["support_count"].clone();
    let followers_before = other_before["follower_count"].as_i64().unwrap();

    let erased = app
        .send(
            Method::DELETE,
            "/me",
            Some(&zed.who),
            Some(json!({"password": PASSWORD})),
        )
        .await;
    expect(erased, 204).await;

    // No trace, in any table.
    let after = scan(&app, &needles);
    assert!(after.is_empty(), "the identity survives in: {after:?}");

    // The old credentials are dead, and the address is free again.
    let me = app.get_as("/me", &zed.who.access_token).await;
    problem(me, 401, "session_ended").await;
    let refresh = app
        .post_json(
            "/auth/refresh",
            &json!({"refresh_token": zed.who.refresh_token}),
        )
        .await;
    assert_eq!(refresh.status(), 401);
    let old = app.login(EMAIL, PASSWORD).await;
    let unknown = app.login("nobody@example.org", PASSWORD).await;
    assert_eq!(old.status(), 401);
    let (old, unknown): (Value, Value) = (old.json().await.unwrap(), unknown.json().await.unwrap());
    assert_eq!(old["code"], unknown["code"], "like an unknown account");
    let again = person(&app, EMAIL, "Zanthe Again", None).await;
    assert_ne!(again.id, zed.id);

    // Public contributions stay, by "deleted user".
    let own = public_get(&app, &format!("/issues/{}", scene.own_issue)).await;
    assert_eq!(own["reporter"]["id"], zed.id.as_str());
    assert_eq!(own["reporter"]["display_name"], "deleted user");
    let listed = public_get(&app, "/issues?limit=100").await;
    let row = items(&listed)
        .iter()
        .find(|i| i["id"] == scene.own_issue.as_str())
        .expect("their issue is still listed");
    assert_eq!(row["reporter"]["display_name"], "deleted user");
    let timeline = public_get(
        &app,
        &format!("/issues/{}/timeline?limit=100", scene.other_issue),
    )
    .await;
    let entry = items(&timeline)
        .iter()
        .find(|e| e["id"] == scene.zed_comment.as_str())
        .expect("their comment is still in the timeline");
    assert_eq!(entry["text"], "Same here: it blocks the path.");
    assert_eq!(entry["actor"]["display_name"], "deleted user");
    let other = public_get(&app, &format!("/issues/{}", scene.other_issue)).await;
    assert_eq!(other["support_count"], supports_before, "supports stay");
    assert_eq!(
        other["follower_count"].as_i64().unwrap(),
        followers_before - 1,
        "the follow went, and the count with it"
    );

    // The group they were last owner of passed to its organiser; the one without an
    // organiser was archived.
    let members = expect(
        app.get_as(
            &format!("/groups/{}/members", scene.zed_group),
            &scene.olive.who.access_token,
        )
        .await,
        200,
    )
    .await;
    let members = items(&members);
    assert_eq!(members.len(), 1, "{members:?}");
    assert_eq!(members[0]["account_id"], scene.olive.id.as_str());
    assert_eq!(members[0]["role"], "owner");
    let group = public_get(&app, &format!("/groups/{}", scene.zed_group)).await;
    assert_eq!(group["member_count"], 1);
    let archived = app
        .client
        .get(app.api(&format!("/groups/{}", scene.solo_group)))
        .send()
        .await
        .unwrap();
    assert_eq!(archived.status(), 404, "archived");

    // Their place on the future opportunity was given up: Olive moved up.
    let moved_up = app
        .get_as(
            &format!("/pledges/{}", scene.olive_pledge),
            &scene.olive.who.access_token,
        )
        .await;
    assert_eq!(expect(moved_up, 200).await["status"], "confirmed");
    let opportunity = public_get(
        &app,
        &format!("/opportunities/{}", scene.future_opportunity),
    )
    .await;
    assert_eq!(
        (
            opportunity["places_taken"].clone(),
            opportunity["waitlist_count"].clone()
        ),
        (json!(1), json!(0))
    );
    // Their hours stay as anonymous figures.
    assert_eq!(
        strings(
            &app,
            "SELECT CAST(COUNT(*) AS TEXT) AS v FROM pledges \
             WHERE account_id IS NULL AND claimed_hours IS NOT NULL"
        ),
        ["1"]
    );
    assert_eq!(
        strings(
            &app,
            "SELECT display_name AS v FROM accounts WHERE deleted_at IS NOT NULL"
        ),
        ["deleted user"]
    );
    let participation = app
        .client
        .get(app.api(&format!("/accounts/{}/participation", zed.id)))
        .send()
        .await
        .unwrap();
    problem(participation, 404, "not_found").await;
}
