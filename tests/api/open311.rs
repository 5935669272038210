//! Open311 GeoReport v2 under `/open311/v2`: discovery, services and their definitions,
//! posting requests (form and multipart, API keys, attributes, validation, contact
//! privacy), tokens, finding requests (every filter), jurisdictions, errors, and the round
//! trip with the REST API. Every resource is checked in XML and JSON, and the two formats
//! must carry the same data.

use chrono::{DateTime, Duration, SubsecRound, Utc};
use reqwest::Response;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use std::collections::BTreeSet;

use crate::helpers::{Citizen, PASSWORD, Partner, TestApp};

// ---------------------------------------------------------------------------------------
// Formats and parsing
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Xml,
    Json,
}

use Format::{Json, Xml};

const FORMATS: [Format; 2] = [Xml, Json];

impl Format {
    fn ext(self) -> &'static str {
        match self {
            Xml => "xml",
            Json => "json",
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Xml => "text/xml; charset=utf-8",
            Json => "application/json; charset=utf-8",
        }
    }
}

const XML_DECLARATION: &str = r#"<?xml version="1.0" encoding="UTF-8"?>"#;

/// The XML elements that are lists, with the name of their items.
const LISTS: &[(&str, &str)] = &[
    ("services", "service"),
    ("service_requests", "request"),
    ("errors", "error"),
    ("attributes", "attribute"),
    ("values", "value"),
    ("endpoints", "endpoint"),
    ("formats", "format"),
    ("notes", "note"),
];

/// The fields a service request may have (GeoReport v2 and the extensions).
const REQUEST_FIELDS: &[&str] = &[
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
    "extended_attributes",
];

/// An XML element as JSON: list elements become arrays (and must hold only their items),
/// elements with children objects (each child once), leaves their text.
fn xml_value(node: roxmltree::Node) -> Value {
    let name = node.tag_name().name();
    let children: Vec<roxmltree::Node> = node.children().filter(|n| n.is_element()).collect();
    if let Some((_, item)) = LISTS.iter().find(|(list, _)| *list == name) {
        for child in &children {
            assert_eq!(
                child.tag_name().name(),
                *item,
                "<{name}> holds only <{item}> elements"
            );
        }
        return Value::Array(children.into_iter().map(xml_value).collect());
    }
    if children.is_empty() {
        let text: String = node
            .children()
            .filter(|n| n.is_text())
            .filter_map(|n| n.text())
            .collect();
        return Value::String(text);
    }
    let mut object = serde_json::Map::new();
    for child in children {
        let key = child.tag_name().name().to_owned();
        let value = xml_value(child);
        assert!(
            object.insert(key.clone(), value).is_none(),
            "<{key}> appears twice in <{name}>"
        );
    }
    Value::Object(object)
}

fn assert_no_nulls(value: &Value, body: &str) {
    match value {
        Value::Null => panic!("JSON omits fields without a value rather than null: {body}"),
        Value::Array(items) => items.iter().for_each(|v| assert_no_nulls(v, body)),
        Value::Object(map) => map.values().for_each(|v| assert_no_nulls(v, body)),
        _ => {}
    }
}

/// Checks status, exact Content-Type, the XML declaration and root element (or the JSON
/// shape: an array for lists, an object otherwise) and returns the body as JSON (XML
/// converted with [`xml_value`]).
async fn read(response: Response, format: Format, status: u16, root: &str) -> Value {
    let actual = response.status().as_u16();
    let url = response.url().to_string();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let text = response.text().await.unwrap();
    assert_eq!(actual, status, "{url}: {text}");
    assert_eq!(content_type, format.content_type(), "{url}: {text}");
    let is_list = LISTS.iter().any(|(list, _)| *list == root);
    match format {
        Xml => {
            assert!(
                text.starts_with(XML_DECLARATION),
                "{url}: XML starts with its declaration: {text}"
            );
            let document = roxmltree::Document::parse(&text)
                .unwrap_or_else(|e| panic!("{url}: not XML ({e}): {text}"));
            let element = document.root_element();
            assert_eq!(element.tag_name().name(), root, "{url}: {text}");
            let value = xml_value(element);
            if !is_list {
                assert!(value.is_object(), "{url}: <{root}> has fields: {text}");
            }
            value
        }
        Json => {
            let value: Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{url}: not JSON ({e}): {text}"));
            assert_no_nulls(&value, &text);
            if is_list {
                assert!(value.is_array(), "{url}: a bare array: {text}");
            } else {
                assert!(value.is_object(), "{url}: an object: {text}");
            }
            value
        }
    }
}

/// Asserts the XML (converted) and the JSON carry the same data, with JSON numbers and
/// booleans as their decimal text and `true`/`false` in XML.
fn same_in_both(xml: &Value, json: &Value, path: &str) {
    match json {
        Value::Object(map) => {
            let other = xml
                .as_object()
                .unwrap_or_else(|| panic!("{path}: XML {xml} where JSON has {json}"));
            let json_keys: BTreeSet<&String> = map.keys().collect();
            let xml_keys: BTreeSet<&String> = other.keys().collect();
            assert_eq!(
                xml_keys, json_keys,
                "{path}: the same fields in XML and JSON"
            );
            for (key, value) in map {
                same_in_both(&other[key], value, &format!("{path}.{key}"));
            }
        }
        Value::Array(items) => {
            let other = xml
                .as_array()
                .unwrap_or_else(|| panic!("{path}: XML {xml} where JSON has {json}"));
            assert_eq!(other.len(), items.len(), "{path}: XML {xml}, JSON {json}");
            for (i, (x, j)) in other.iter().zip(items).enumerate() {
                same_in_both(x, j, &format!("{path}[{i}]"));
            }
        }
        Value::String(text) => assert_eq!(xml.as_str(), Some(text.as_str()), "{path}"),
        Value::Number(number) => {
            let parsed: f64 = xml
                .as_str()
                .and_then(|t| t.parse().ok())
                .unwrap_or_else(|| panic!("{path}: XML {xml} is no number"));
            let expected = number.as_f64().unwrap();
            assert!((parsed - expected).abs() < 1e-9, "{path}: {xml} vs {json}");
        }
        Value::Bool(flag) => assert_eq!(xml.as_str(), Some(flag.to_string().as_str()), "{path}"),
        Value::Null => panic!("{path}: null in JSON"),
    }
}

fn open311_url(app: &TestApp, format: Format, resource: &str, query: &str) -> String {
    let mut url = app.url(&format!("/open311/v2/{resource}.{}", format.ext()));
    if !query.is_empty() {
        url.push('?');
        url.push_str(query);
    }
    url
}

async fn get(app: &TestApp, format: Format, resource: &str, query: &str) -> Response {
    app.client
        .get(open311_url(app, format, resource, query))
        .send()
        .await
        .unwrap()
}

/// GETs a resource in XML and in JSON, checks both (200) and that they say the same, and
/// returns the JSON.
async fn both(app: &TestApp, resource: &str, query: &str, root: &str) -> Value {
    let xml = read(get(app, Xml, resource, query).await, Xml, 200, root).await;
    let json = read(get(app, Json, resource, query).await, Json, 200, root).await;
    same_in_both(&xml, &json, &format!("{resource}?{query}"));
    json
}

/// Checks an Open311 error list (`code` = the HTTP status) and returns the descriptions.
async fn error_list(response: Response, format: Format, status: u16) -> Vec<String> {
    let list = read(response, format, status, "errors").await;
    let list = list.as_array().unwrap();
    assert!(!list.is_empty(), "at least one error");
    list.iter()
        .map(|error| {
            assert_eq!(integer(format, error, "code"), i64::from(status), "{error}");
            assert_eq!(keys(error), ["code", "description"], "{error}");
            let description = text(error, "description");
            assert!(!description.trim().is_empty(), "{error}");
            description.to_owned()
        })
        .collect()
}

/// GETs in both formats and expects the error `status`; returns the number of errors.
async fn refused(app: &TestApp, resource: &str, query: &str, status: u16) -> usize {
    let mut counts = Vec::new();
    for format in FORMATS {
        let response = get(app, format, resource, query).await;
        counts.push(error_list(response, format, status).await.len());
    }
    assert_eq!(
        counts[0], counts[1],
        "{resource}?{query}: as many errors in both"
    );
    counts[0]
}

fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .unwrap_or_else(|| panic!("an object: {value}"))
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} is text in {value}"))
}

fn flag(format: Format, value: &Value, key: &str) -> bool {
    match format {
        Json => value[key]
            .as_bool()
            .unwrap_or_else(|| panic!("{key} is a JSON boolean in {value}")),
        Xml => match text(value, key) {
            "true" => true,
            "false" => false,
            other => panic!("{key} is true or false, not {other:?}"),
        },
    }
}

fn integer(format: Format, value: &Value, key: &str) -> i64 {
    match format {
        Json => value[key]
            .as_i64()
            .unwrap_or_else(|| panic!("{key} is a JSON integer in {value}")),
        Xml => text(value, key)
            .parse()
            .unwrap_or_else(|_| panic!("{key} is an integer in {value}")),
    }
}

/// `2026-11-23T10:00:00Z`: UTC, seconds precision.
fn assert_utc_seconds(time: &str) {
    assert_eq!(time.len(), 20, "{time}");
    assert!(time.ends_with('Z'), "{time}");
    DateTime::parse_from_rfc3339(time).unwrap_or_else(|e| panic!("{time}: {e}"));
}

/// A REST time (full precision) as Open311 shows it.
fn seconds(rest_time: &Value) -> String {
    let time = DateTime::parse_from_rfc3339(rest_time.as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc);
    iso(time)
}

fn iso(time: DateTime<Utc>) -> String {
    time.trunc_subsecs(0)
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// The shape every service request has (JSON).
fn check_request(request: &Value) {
    for key in keys(request) {
        assert!(
            REQUEST_FIELDS.contains(&key),
            "unexpected {key} in {request}"
        );
    }
    for key in [
        "service_request_id",
        "status",
        "status_notes",
        "service_name",
        "service_code",
        "agency_responsible",
        "requested_datetime",
        "updated_datetime",
        "lat",
        "long",
    ] {
        assert!(request.get(key).is_some(), "{key} missing in {request}");
    }
    assert!(
        matches!(request["status"].as_str(), Some("open" | "closed")),
        "{request}"
    );
    assert!(!text(request, "service_request_id").is_empty());
    assert_utc_seconds(text(request, "requested_datetime"));
    assert_utc_seconds(text(request, "updated_datetime"));
    assert!(request["lat"].is_number() && request["long"].is_number());
}

/// GET requests in both formats; checks every request and returns them (JSON).
async fn requests(app: &TestApp, query: &str) -> Vec<Value> {
    let list = both(app, "requests", query, "service_requests").await;
    let list = list.as_array().unwrap().clone();
    list.iter().for_each(check_request);
    list
}

/// GET requests/{id} in both formats: a list of one.
async fn request(app: &TestApp, id: &str, query: &str) -> Value {
    let list = both(app, &format!("requests/{id}"), query, "service_requests").await;
    assert_eq!(list.as_array().unwrap().len(), 1, "a list of one: {list}");
    let one = list[0].clone();
    check_request(&one);
    assert_eq!(one["service_request_id"], id);
    one
}

fn ids(list: &[Value]) -> Vec<&str> {
    list.iter().map(|r| text(r, "service_request_id")).collect()
}

fn sorted(mut ids: Vec<&str>) -> Vec<&str> {
    ids.sort_unstable();
    ids
}

// ---------------------------------------------------------------------------------------
// Posting
// ---------------------------------------------------------------------------------------

const LAT: &str = "51.5072";
const LONG: &str = "-0.1276";
/// Metres per degree of latitude on the mean Earth sphere.
const M_PER_DEG: f64 = 6_371_008.8 * std::f64::consts::PI / 180.0;

fn north(metres: f64) -> String {
    (LAT.parse::<f64>().unwrap() + metres / M_PER_DEG).to_string()
}

/// POSTs a form (urlencoded) to `requests.{format}`.
async fn post(app: &TestApp, format: Format, query: &str, fields: &[(&str, &str)]) -> Response {
    app.client
        .post(open311_url(app, format, "requests", query))
        .form(fields)
        .send()
        .await
        .unwrap()
}

/// Checks a POST answer (201, a list of one with an id and a token) and returns it.
async fn created(response: Response, format: Format) -> Value {
    let list = read(response, format, 201, "service_requests").await;
    assert_eq!(list.as_array().unwrap().len(), 1, "a list of one: {list}");
    let answer = list[0].clone();
    for key in keys(&answer) {
        assert!(
            ["service_request_id", "token", "service_notice"].contains(&key),
            "unexpected {key} in {answer}"
        );
    }
    assert!(!text(&answer, "service_request_id").is_empty());
    assert!(!text(&answer, "token").is_empty());
    answer
}

/// POSTs `fields` with `api_key` in the body and returns the answer.
async fn submit(app: &TestApp, format: Format, key: &str, fields: &[(&str, &str)]) -> Value {
    let mut all = vec![("api_key", key)];
    all.extend_from_slice(fields);
    created(post(app, format, "", &all).await, format).await
}

fn id_of(answer: &Value) -> String {
    text(answer, "service_request_id").to_owned()
}

/// A litter report at `lat`, `long` through Open311; its id.
async fn litter(app: &TestApp, key: &str, lat: &str, long: &str, description: &str) -> String {
    let fields = [
        ("service_code", "litter"),
        ("lat", lat),
        ("long", long),
        ("description", description),
    ];
    id_of(&submit(app, Json, key, &fields).await)
}

fn submitter(app: &TestApp) -> Partner {
    app.partner("Riverside Food Bank", &["open311:submit"])
}

fn png() -> Vec<u8> {
    let image = image::RgbImage::from_fn(32, 24, |x, y| {
        image::Rgb([(x * 8 % 256) as u8, (y * 10 % 256) as u8, 128])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(image)
        .write_to(&mut out, image::ImageFormat::Png)
        .unwrap();
    out.into_inner()
}

// ---------------------------------------------------------------------------------------
// REST and database helpers
// ---------------------------------------------------------------------------------------

async fn rest(app: &TestApp, path: &str, who: Option<&Citizen>) -> Value {
    let mut request = app.client.get(app.api(path));
    if let Some(who) = who {
        request = request.bearer_auth(&who.access_token);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(status, 200, "GET {path}: {body}");
    serde_json::from_str(&body).unwrap()
}

async fn staff(app: &TestApp, email: &str, role: &str) -> Citizen {
    let output = app.cli(
        &[
            "user",
            "create",
            "--email",
            email,
            "--password-stdin",
            "--role",
            role,
        ],
        Some(&format!("{PASSWORD}\n")),
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    app.sign_in(email, PASSWORD).await
}

/// Reports through the REST API; the new issue's id.
async fn rest_report(app: &TestApp, who: &Citizen, body: Value) -> String {
    let response = app.post_json_as("/issues", &who.access_token, &body).await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    let issue: Value = response.json().await.unwrap();
    issue["id"].as_str().unwrap().to_owned()
}

/// An officer (or moderator) moves an issue on, with a note.
async fn set_status(app: &TestApp, who: &Citizen, id: &str, body: Value) {
    let response = app
        .post_json_as(&format!("/issues/{id}/status"), &who.access_token, &body)
        .await;
    assert_eq!(
        response.status(),
        200,
        "{id} {body}: {}",
        response.text().await.unwrap()
    );
}

async fn step(app: &TestApp, who: &Citizen, id: &str, to: &str) {
    set_status(
        app,
        who,
        id,
        json!({"status": to, "note": format!("note for {to}")}),
    )
    .await;
}

/// How many issues exist, by the REST API and by Open311 (which must agree).
async fn issue_count(app: &TestApp) -> usize {
    let page = rest(app, "/issues?limit=100", None).await;
    let in_rest = page["items"].as_array().unwrap().len();
    let in_open311 = requests(app, "").await.len();
    assert_eq!(in_open311, in_rest, "Open311 and REST see the same issues");
    in_rest
}

/// Sets an issue's created_at and updated_at in the database.
async fn backdate(app: &TestApp, id: &str, created: DateTime<Utc>, updated: DateTime<Utc>) {
    let pool = app.state.pool.clone();
    let id = id.to_owned();
    actix_web::web::block(move || {
        use civitas::db::schema::issues;
        use diesel::prelude::*;
        let mut conn = pool.get().unwrap();
        let changed = diesel::update(issues::table.find(id))
            .set((
                issues::created_at.eq(created.naive_utc()),
                issues::updated_at.eq(updated.naive_utc()),
            ))
            .execute(&mut conn)
            .unwrap();
        assert_eq!(changed, 1);
    })
    .await
    .unwrap();
}

/// Disables a partner client (as an admin would).
async fn disable(app: &TestApp, partner: &Partner) {
    let pool = app.state.pool.clone();
    let id = partner.id.clone();
    actix_web::web::block(move || {
        use civitas::partners::models::{ClientChanges, update_client};
        let mut conn = pool.get().unwrap();
        let changes = ClientChanges {
            disabled_at: Some(Some(Utc::now().naive_utc())),
            ..ClientChanges::default()
        };
        update_client(&mut conn, &id, &changes).unwrap();
    })
    .await
    .unwrap();
}

// ---------------------------------------------------------------------------------------
// Discovery, services and service definitions
// ---------------------------------------------------------------------------------------

#[actix_web::test]
async fn discovery_describes_the_one_endpoint_in_both_formats() {
    let app = TestApp::spawn().await;
    let discovery = both(&app, "discovery", "", "discovery").await;
    assert_eq!(
        keys(&discovery),
        ["changeset", "contact", "endpoints", "key_service"]
    );
    let changeset = text(&discovery, "changeset");
    DateTime::parse_from_rfc3339(changeset).unwrap_or_else(|e| panic!("{changeset}: {e}"));
    assert!(!text(&discovery, "contact").trim().is_empty());
    assert!(
        text(&discovery, "key_service").contains("open311:submit"),
        "{discovery}"
    );
    let endpoints = discovery["endpoints"].as_array().unwrap();
    assert_eq!(endpoints.len(), 1, "{discovery}");
    let endpoint = &endpoints[0];
    assert_eq!(
        keys(endpoint),
        ["changeset", "formats", "specification", "type", "url"]
    );
    assert_eq!(
        endpoint["specification"],
        "http://wiki.open311.org/GeoReport_v2"
    );
    assert_eq!(
        endpoint["url"],
        format!("{}/open311/v2", app.state.config.public_url)
    );
    assert_eq!(endpoint["changeset"], changeset);
    assert_eq!(endpoint["type"], "production");
    assert_eq!(endpoint["formats"], json!(["text/xml", "application/json"]));

    // The XML, element by element.
    let body = get(&app, Xml, "discovery", "").await.text().await.unwrap();
    let document = roxmltree::Document::parse(&body).unwrap();
    let root = document.root_element();
    let names = |node: roxmltree::Node| -> Vec<String> {
        let mut names: Vec<String> = node
            .children()
            .filter(|n| n.is_element())
            .map(|n| n.tag_name().name().to_owned())
            .collect();
        names.sort();
        names
    };
    assert_eq!(
        names(root),
        ["changeset", "contact", "endpoints", "key_service"]
    );
    let endpoints = root
        .children()
        .find(|n| n.has_tag_name("endpoints"))
        .unwrap();
    assert_eq!(names(endpoints), ["endpoint"]);
    let endpoint = endpoints.first_element_child().unwrap();
    assert_eq!(
        names(endpoint),
        ["changeset", "formats", "specification", "type", "url"]
    );
    let formats = endpoint
        .children()
        .find(|n| n.has_tag_name("formats"))
        .unwrap();
    let formats: Vec<&str> = formats
        .children()
        .filter(|n| n.has_tag_name("format"))
        .filter_map(|n| n.text())
        .collect();
    assert_eq!(formats, ["text/xml", "application/json"]);
}

#[actix_web::test]
async fn services_are_the_active_categories() {
    let app = TestApp::spawn().await;
    let officer = staff(&app, "officer@council.example", "officer").await;
    let response = app
        .client
        .patch(app.api("/categories/damaged_bench"))
        .bearer_auth(&officer.access_token)
        .json(&json!({"active": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let categories = rest(&app, "/categories", None).await;
    let mut categories = categories["items"].as_array().unwrap().clone();
    categories.sort_by_key(|c| c["code"].as_str().unwrap().to_owned());
    let services = both(&app, "services", "", "services").await;
    let mut services = services.as_array().unwrap().clone();
    services.sort_by_key(|s| text(s, "service_code").to_owned());
    let codes: Vec<&str> = services.iter().map(|s| text(s, "service_code")).collect();
    let category_codes: Vec<&str> = categories
        .iter()
        .map(|c| c["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, category_codes);
    assert!(!codes.contains(&"damaged_bench"), "inactive: not a service");
    assert!(codes.contains(&"pothole") && codes.contains(&"litter"));

    for (service, category) in services.iter().zip(&categories) {
        for key in keys(service) {
            assert!(
                [
                    "service_code",
                    "service_name",
                    "description",
                    "metadata",
                    "type",
                    "keywords",
                    "group"
                ]
                .contains(&key),
                "unexpected {key} in {service}"
            );
        }
        assert_eq!(service["service_name"], category["name"], "{service}");
        assert_eq!(service["description"], category["description"]);
        let has_questions = !category["questions"].as_array().unwrap().is_empty();
        assert_eq!(
            flag(Json, service, "metadata"),
            has_questions,
            "metadata: {service}"
        );
        assert_eq!(service["type"], "realtime");
        let keywords: Vec<&str> = category["keywords"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_str().unwrap())
            .collect();
        if keywords.is_empty() {
            assert!(service.get("keywords").is_none(), "{service}");
        } else {
            assert_eq!(service["keywords"], keywords.join(","), "{service}");
        }
        let group = category["group"].as_str().unwrap();
        if group.is_empty() {
            assert!(service.get("group").is_none(), "{service}");
        } else {
            assert_eq!(service["group"], group, "{service}");
        }
    }
    let metadata = |code: &str| {
        services
            .iter()
            .find(|s| s["service_code"] == code)
            .map(|s| s["metadata"].clone())
    };
    assert_eq!(metadata("pothole"), Some(json!(true)));
    assert_eq!(metadata("litter"), Some(json!(false)));

    // An inactive category has no definition and takes no requests.
    refused(&app, "services/damaged_bench", "", 404).await;
    let partner = submitter(&app);
    for format in FORMATS {
        let fields = [
            ("api_key", partner.secret.as_str()),
            ("service_code", "damaged_bench"),
            ("lat", LAT),
            ("long", LONG),
        ];
        error_list(post(&app, format, "", &fields).await, format, 400).await;
    }
    assert_eq!(issue_count(&app).await, 0);
}

#[actix_web::test]
async fn a_service_definition_lists_the_questions_as_attributes() {
    let app = TestApp::spawn().await;
    let pothole = both(&app, "services/pothole", "", "service_definition").await;
    assert_eq!(keys(&pothole), ["attributes", "service_code"]);
    assert_eq!(pothole["service_code"], "pothole");
    let attributes = pothole["attributes"].as_array().unwrap();
    assert_eq!(attributes.len(), 2, "{pothole}");
    let size = &attributes[0];
    assert_eq!(
        keys(size),
        [
            "code",
            "datatype",
            "description",
            "order",
            "required",
            "values",
            "variable"
        ]
    );
    assert_eq!(size["variable"], true);
    assert_eq!(size["code"], "size");
    assert_eq!(size["datatype"], "singlevaluelist");
    assert_eq!(size["required"], true);
    assert_eq!(size["order"], 1);
    assert_eq!(size["description"], "How big is it?");
    assert_eq!(
        size["values"],
        json!([
            {"key": "small", "name": "Smaller than a dinner plate"},
            {"key": "medium", "name": "Up to a metre across"},
            {"key": "large", "name": "Larger than a metre"},
        ])
    );
    let depth = &attributes[1];
    assert_eq!(depth["code"], "depth_cm");
    assert_eq!(depth["datatype"], "number");
    assert_eq!(depth["required"], false);
    assert_eq!(depth["order"], 2);
    assert_eq!(depth["description"], "Roughly how deep, in centimetres?");
    assert!(
        depth.get("values").is_none() || depth["values"] == json!([]),
        "no values for a number: {depth}"
    );
    assert!(depth.get("datatype_description").is_none());

    // Every starter service with questions, against the category.
    for code in ["fly_tipping", "graffiti", "street_light", "litter"] {
        let definition = both(&app, &format!("services/{code}"), "", "service_definition").await;
        let category = rest(&app, &format!("/categories/{code}"), None).await;
        assert_eq!(definition["service_code"], code);
        let questions = category["questions"].as_array().unwrap();
        let attributes = definition
            .get("attributes")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        assert_eq!(attributes.len(), questions.len(), "{code}: {definition}");
        for (i, (attribute, question)) in attributes.iter().zip(questions).enumerate() {
            assert_eq!(attribute["variable"], true);
            assert_eq!(attribute["code"], question["code"]);
            assert_eq!(attribute["datatype"], question["datatype"]);
            assert_eq!(attribute["required"], question["required"]);
            assert_eq!(attribute["description"], question["description"]);
            assert_eq!(attribute["order"], i + 1, "1-based position");
            let values = question["values"].as_array().unwrap();
            if values.is_empty() {
                assert!(attribute.get("values").is_none() || attribute["values"] == json!([]));
            } else {
                assert_eq!(attribute["values"], question["values"], "{code}");
            }
        }
    }
    let fly_tipping = both(&app, "services/fly_tipping", "", "service_definition").await;
    assert_eq!(fly_tipping["attributes"][0]["datatype"], "multivaluelist");
    assert_eq!(
        fly_tipping["attributes"][0]["values"]
            .as_array()
            .unwrap()
            .len(),
        5
    );

    // The singular alias some clients use.
    let alias = both(&app, "service/pothole", "", "service_definition").await;
    assert_eq!(alias, pothole);

    for path in ["services/nonsense", "service/nonsense"] {
        assert_eq!(refused(&app, path, "", 404).await, 1);
    }
}

// ---------------------------------------------------------------------------------------
// Posting requests
// ---------------------------------------------------------------------------------------

#[actix_web::test]
async fn posting_a_request_answers_a_list_of_one_with_an_id_and_a_token() {
    let app = TestApp::spawn().await;
    let partner = submitter(&app);
    let long_line = "Bags ".repeat(60);
    let mut tokens = BTreeSet::new();
    for format in FORMATS {
        // api_key in the body, with an address next to the coordinates.
        let answer = submit(
            &app,
            format,
            &partner.secret,
            &[
                ("service_code", "litter"),
                ("lat", LAT),
                ("long", LONG),
                ("address_string", "12 High Street"),
                (
                    "description",
                    "Bags by the bench\nThree black bags, split open.",
                ),
                ("media_url", "https://photos.example.net/123.jpg"),
            ],
        )
        .await;
        assert!(tokens.insert(text(&answer, "token").to_owned()));
        let id = id_of(&answer);
        let issue = rest(&app, &format!("/issues/{id}"), None).await;
        assert_eq!(issue["category"]["code"], "litter");
        assert_eq!(issue["title"], "Bags by the bench");
        assert_eq!(
            issue["description"],
            "Bags by the bench\nThree black bags, split open."
        );
        assert_eq!(issue["address"], "12 High Street");
        assert_eq!(issue["status"], "reported");
        assert_eq!(issue["reporter"], Value::Null, "no account reported it");
        assert!((issue["lat"].as_f64().unwrap() - 51.5072).abs() < 1e-9);
        assert!((issue["lon"].as_f64().unwrap() + 0.1276).abs() < 1e-9);
        let one = request(&app, &id, "").await;
        assert_eq!(one["media_url"], "https://photos.example.net/123.jpg");
        assert_eq!(one["address"], "12 High Street");

        // api_key in the query string; no description: the title is the service name.
        let response = post(
            &app,
            format,
            &format!("api_key={}", partner.secret),
            &[("service_code", "litter"), ("lat", LAT), ("long", LONG)],
        )
        .await;
        let answer = created(response, format).await;
        assert!(tokens.insert(text(&answer, "token").to_owned()));
        let issue = rest(&app, &format!("/issues/{}", id_of(&answer)), None).await;
        assert_eq!(issue["title"], "Litter");
        assert_eq!(issue["address"], Value::Null);

        // A long first line makes a title within the limit.
        let answer = submit(
            &app,
            format,
            &partner.secret,
            &[
                ("service_code", "litter"),
                ("lat", LAT),
                ("long", LONG),
                ("description", &long_line),
            ],
        )
        .await;
        let issue = rest(&app, &format!("/issues/{}", id_of(&answer)), None).await;
        let title = issue["title"].as_str().unwrap();
        assert!(
            (3..=120).contains(&title.chars().count()),
            "{title:?} is a valid title"
        );
        assert!(
            long_line.starts_with(title.trim_end_matches('…').trim_end()),
            "{title:?}"
        );
        assert_eq!(issue["description"], long_line.trim());
    }
    assert_eq!(issue_count(&app).await, 6);
}

#[actix_web::test]
async fn a_photo_sent_as_media_is_stored_with_the_issue() {
    let app = TestApp::spawn().await;
    let partner = submitter(&app);
    for format in FORMATS {
        let form = Form::new()
            .text("api_key", partner.secret.clone())
            .text("service_code", "litter")
            .text("lat", LAT)
            .text("long", LONG)
            .text("description", "Bags by the bench")
            .part(
                "media",
                Part::bytes(png())
                    .file_name("bags.png")
                    .mime_str("image/png")
                    .unwrap(),
            );
        let response = app
            .client
            .post(open311_url(&app, format, "requests", ""))
            .multipart(form)
            .send()
            .await
            .unwrap();
        let id = id_of(&created(response, format).await);
        let issue = rest(&app, &format!("/issues/{id}"), None).await;
        assert_eq!(issue["photo_count"], 1, "{issue}");
        let photo_id = issue["photos"][0]["id"].as_str().unwrap();
        let one = request(&app, &id, "").await;
        assert_eq!(
            one["media_url"],
            format!("{}/api/v1/photos/{photo_id}", app.state.config.public_url)
        );
        let photo = app
            .client
            .get(app.api(&format!("/photos/{photo_id}")))
            .send()
            .await
            .unwrap();
        assert_eq!(photo.status(), 200);

        // Multipart with attributes works as the form does.
        let form = Form::new()
            .text("api_key", partner.secret.clone())
            .text("service_code", "fly_tipping")
            .text("lat", LAT)
            .text("long", LONG)
            .text("attribute[items][]", "bags")
            .text("attribute[items][]", "building");
        let response = app
            .client
            .post(open311_url(&app, format, "requests", ""))
            .multipart(form)
            .send()
            .await
            .unwrap();
        let id = id_of(&created(response, format).await);
        let issue = rest(&app, &format!("/issues/{id}"), None).await;
        assert_eq!(issue["answers"], json!({"items": ["bags", "building"]}));
        assert_eq!(issue["photo_count"], 0);

        // Not an image: refused, nothing stored.
        let form = Form::new()
            .text("api_key", partner.secret.clone())
            .text("service_code", "litter")
            .text("lat", LAT)
            .text("long", LONG)
            .part(
                "media",
                Part::bytes(b"not an image at all".to_vec())
                    .file_name("bags.png")
                    .mime_str("image/png")
                    .unwrap(),
            );
        let response = app
            .client
            .post(open311_url(&app, format, "requests", ""))
            .multipart(form)
            .send()
            .await
            .unwrap();
        error_list(response, format, 400).await;
    }
    assert_eq!(issue_count(&app).await, 4);
}

#[actix_web::test]
async fn attributes_become_answers_and_bad_ones_are_refused() {
    let app = TestApp::spawn().await;
    let partner = submitter(&app);
    let key = partner.secret.as_str();
    let at = |code: &'static str| vec![("service_code", code), ("lat", LAT), ("long", LONG)];
    for format in FORMATS {
        let mut fields = at("pothole");
        fields.extend([("attribute[size]", "large"), ("attribute[depth_cm]", "12")]);
        let id = id_of(&submit(&app, format, key, &fields).await);
        let issue = rest(&app, &format!("/issues/{id}"), None).await;
        assert_eq!(issue["answers"], json!({"size": "large", "depth_cm": 12}));

        let mut fields = at("fly_tipping");
        fields.extend([
            ("attribute[items][]", "bags"),
            ("attribute[items][]", "furniture"),
        ]);
        let id = id_of(&submit(&app, format, key, &fields).await);
        let issue = rest(&app, &format!("/issues/{id}"), None).await;
        assert_eq!(issue["answers"], json!({"items": ["bags", "furniture"]}));

        let bad: Vec<(Vec<(&str, &str)>, usize)> = vec![
            // The required size is missing.
            (at("pothole"), 1),
            // Not one of the keys.
            (
                [at("pothole"), vec![("attribute[size]", "huge")]].concat(),
                1,
            ),
            // Two problems, two errors.
            (
                [at("pothole"), vec![("attribute[depth_cm]", "deep")]].concat(),
                2,
            ),
            // One value only for a single-value list.
            (
                [
                    at("graffiti"),
                    vec![
                        ("attribute[offensive][]", "yes"),
                        ("attribute[offensive][]", "no"),
                    ],
                ]
                .concat(),
                1,
            ),
            // A multi-value list with a key it does not have.
            (
                [at("fly_tipping"), vec![("attribute[items][]", "piano")]].concat(),
                1,
            ),
        ];
        for (fields, problems) in bad {
            let mut all = vec![("api_key", key)];
            all.extend_from_slice(&fields);
            let errors = error_list(post(&app, format, "", &all).await, format, 400).await;
            assert_eq!(errors.len(), problems, "{fields:?}: {errors:?}");
        }
    }
    assert_eq!(
        issue_count(&app).await,
        4,
        "only the good requests were stored"
    );
}

#[actix_web::test]
async fn posting_needs_the_key_of_an_active_partner_with_the_submit_scope() {
    let app = TestApp::spawn().await;
    let partner = submitter(&app);
    let reader = app.partner("Reader", &["issues:read"]);
    let gone = app.partner("Gone", &["open311:submit"]);
    disable(&app, &gone).await;
    let good = [("service_code", "litter"), ("lat", LAT), ("long", LONG)];
    for format in FORMATS {
        let mut cases: Vec<Vec<(&str, &str)>> = vec![good.to_vec()];
        for key in [
            "",
            "cvs_not-a-real-key",
            "nonsense",
            reader.secret.as_str(),
            gone.secret.as_str(),
        ] {
            cases.push([vec![("api_key", key)], good.to_vec()].concat());
        }
        // The key is checked before the request itself.
        cases.push(vec![("api_key", "cvs_not-a-real-key")]);
        cases.push(vec![("api_key", reader.secret.as_str())]);
        for fields in cases {
            let errors = error_list(post(&app, format, "", &fields).await, format, 403).await;
            assert_eq!(errors.len(), 1, "{fields:?}");
        }
        let response = post(&app, format, &format!("api_key={}", reader.secret), &good).await;
        error_list(response, format, 403).await;
    }
    assert_eq!(issue_count(&app).await, 0);
    // The same request with a good key goes through.
    submit(&app, Json, &partner.secret, &good).await;
    assert_eq!(issue_count(&app).await, 1);
}

#[actix_web::test]
async fn invalid_requests_are_refused_with_400_and_create_nothing() {
    let app = TestApp::spawn().await;
    let partner = submitter(&app);
    let key = partner.secret.as_str();
    let html = "Bags by the <b>bench</b>";
    let too_long = "x".repeat(4001);
    let long_address = "a".repeat(201);
    let cases: Vec<Vec<(&str, &str)>> = vec![
        vec![("lat", LAT), ("long", LONG)],
        vec![("service_code", "nonsense"), ("lat", LAT), ("long", LONG)],
        vec![("service_code", "litter")],
        vec![
            ("service_code", "litter"),
            ("address_string", "12 High Street"),
        ],
        vec![("service_code", "litter"), ("address_id", "100023336956")],
        vec![("service_code", "litter"), ("lat", LAT)],
        vec![("service_code", "litter"), ("long", LONG)],
        vec![("service_code", "litter"), ("lat", "91"), ("long", LONG)],
        vec![("service_code", "litter"), ("lat", LAT), ("long", "-181")],
        vec![("service_code", "litter"), ("lat", "north"), ("long", LONG)],
        vec![
            ("service_code", "litter"),
            ("lat", LAT),
            ("long", LONG),
            ("description", html),
        ],
        vec![
            ("service_code", "litter"),
            ("lat", LAT),
            ("long", LONG),
            ("description", &too_long),
        ],
        vec![
            ("service_code", "litter"),
            ("lat", LAT),
            ("long", LONG),
            ("address_string", &long_address),
        ],
        vec![
            ("service_code", "litter"),
            ("lat", LAT),
            ("long", LONG),
            ("email", "not-an-email"),
        ],
        vec![
            ("service_code", "litter"),
            ("lat", LAT),
            ("long", LONG),
            ("media_url", "ftp://photos.example.net/1.jpg"),
        ],
    ];
    for format in FORMATS {
        for fields in &cases {
            let mut all = vec![("api_key", key)];
            all.extend_from_slice(fields);
            error_list(post(&app, format, "", &all).await, format, 400).await;
        }
        // Neither a form nor multipart.
        let response = app
            .client
            .post(open311_url(
                &app,
                format,
                "requests",
                &format!("api_key={key}"),
            ))
            .json(&json!({"service_code": "litter", "lat": 51.5072, "long": -0.1276}))
            .send()
            .await
            .unwrap();
        error_list(response, format, 400).await;
    }
    assert_eq!(issue_count(&app).await, 0);
}

#[actix_web::test]
async fn contact_details_reach_staff_only_and_the_partner_is_named() {
    let app = TestApp::spawn().await;
    let partner = submitter(&app);
    let citizen = app.citizen("ada@example.org").await;
    let officer = staff(&app, "officer@council.example", "officer").await;
    let contact = [
        ("email", "zeb.quartermaine@example.net"),
        ("first_name", "Zebedee"),
        ("last_name", "Quartermaine"),
        ("phone", "+44 7700 900123"),
        ("device_id", "device-7f3a9c"),
    ];
    let mut fields = vec![
        ("service_code", "litter"),
        ("lat", LAT),
        ("long", LONG),
        ("description", "Bags by the bench"),
    ];
    fields.extend(contact);
    let answer = submit(&app, Json, &partner.secret, &fields).await;
    let id = id_of(&answer);
    let token = text(&answer, "token").to_owned();
    let secret = |body: &str, place: &str| {
        for (field, value) in contact {
            assert!(!body.contains(value), "{place} shows the {field}: {body}");
        }
    };

    for format in FORMATS {
        for (resource, query) in [
            ("requests".to_owned(), ""),
            ("requests".to_owned(), "extensions=true"),
            (format!("requests/{id}"), ""),
            (format!("requests/{id}"), "extensions=true"),
            (format!("tokens/{token}"), ""),
        ] {
            let response = get(&app, format, &resource, query).await;
            assert_eq!(response.status(), 200);
            secret(
                &response.text().await.unwrap(),
                &format!("{resource}.{}?{query}", format.ext()),
            );
        }
    }
    for (viewer, place) in [(None, "the public"), (Some(&citizen), "a citizen")] {
        let detail = rest(&app, &format!("/issues/{id}"), viewer).await;
        assert!(
            detail.get("reporter_contact").is_none_or(Value::is_null),
            "{place}: {detail}"
        );
        assert_eq!(
            detail["reported_via"]["id"],
            partner.id.as_str(),
            "{detail}"
        );
        assert_eq!(detail["reported_via"]["name"], "Riverside Food Bank");
        for path in [
            format!("/issues/{id}"),
            format!("/issues/{id}/timeline"),
            "/issues?limit=100".to_owned(),
        ] {
            let body = serde_json::to_string(&rest(&app, &path, viewer).await).unwrap();
            secret(&body, &format!("{place} on {path}"));
        }
    }
    let detail = rest(&app, &format!("/issues/{id}"), Some(&officer)).await;
    let contact_seen = &detail["reporter_contact"];
    assert!(contact_seen.is_object(), "staff see the contact: {detail}");
    for (field, value) in &contact[..4] {
        assert_eq!(contact_seen[*field], *value, "{detail}");
    }
    assert_eq!(detail["reported_via"]["id"], partner.id.as_str());
}

#[actix_web::test]
async fn a_token_finds_its_request() {
    let app = TestApp::spawn().await;
    let partner = submitter(&app);
    let fields = [("service_code", "litter"), ("lat", LAT), ("long", LONG)];
    let first = submit(&app, Xml, &partner.secret, &fields).await;
    let second = submit(&app, Json, &partner.secret, &fields).await;
    assert_ne!(first["token"], second["token"]);
    for answer in [&first, &second] {
        let token = text(answer, "token");
        let list = both(&app, &format!("tokens/{token}"), "", "service_requests").await;
        assert_eq!(
            list,
            json!([{"service_request_id": answer["service_request_id"], "token": token}])
        );
    }
    assert_eq!(refused(&app, "tokens/no-such-token", "", 404).await, 1);
}

// ---------------------------------------------------------------------------------------
// Finding requests
// ---------------------------------------------------------------------------------------

#[actix_web::test]
async fn one_request_is_a_list_of_one_with_every_field() {
    let app = TestApp::spawn().await;
    let ada = app.citizen("ada@example.org").await;
    let id = rest_report(
        &app,
        &ada,
        json!({"category": "pothole", "title": "Deep pothole outside the school",
               "description": "A metre wide.", "lat": 51.5072, "lon": -0.1276,
               "address": "12 High Street", "answers": {"size": "large"}}),
    )
    .await;
    let other = rest_report(
        &app,
        &ada,
        json!({"category": "litter", "title": "Bags by the bench", "lat": 51.5, "lon": -0.12}),
    )
    .await;
    let issue = rest(&app, &format!("/issues/{id}"), None).await;
    let one = request(&app, &id, "").await;
    assert_eq!(
        keys(&one),
        [
            "address",
            "agency_responsible",
            "description",
            "lat",
            "long",
            "requested_datetime",
            "service_code",
            "service_name",
            "service_request_id",
            "status",
            "status_notes",
            "updated_datetime",
        ]
    );
    assert_eq!(one["status"], "open");
    assert_eq!(one["status_notes"], "reported");
    assert_eq!(one["service_code"], "pothole");
    assert_eq!(one["service_name"], "Pothole");
    assert_eq!(one["description"], "A metre wide.");
    assert_eq!(
        one["agency_responsible"],
        app.state.config.council_name.as_str()
    );
    assert_eq!(one["address"], "12 High Street");
    assert_eq!(one["requested_datetime"], seconds(&issue["created_at"]));
    assert_eq!(one["updated_datetime"], seconds(&issue["updated_at"]));
    assert!((one["lat"].as_f64().unwrap() - 51.5072).abs() < 1e-9);
    assert!((one["long"].as_f64().unwrap() + 0.1276).abs() < 1e-9);

    // The JSON a Python client reads as `json()[0]`.
    let body: Value = get(&app, Json, &format!("requests/{other}"), "")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body[0]["service_request_id"], other.as_str());
    assert_eq!(body.as_array().unwrap().len(), 1);

    assert_eq!(refused(&app, "requests/no-such-request", "", 404).await, 1);
}

#[actix_web::test]
async fn requests_are_found_by_id_service_and_status() {
    let app = TestApp::spawn().await;
    let ada = app.citizen("ada@example.org").await;
    let officer = staff(&app, "officer@council.example", "officer").await;
    let lat = 51.5072;
    let lon = -0.1276;
    let a = rest_report(
        &app,
        &ada,
        json!({"category": "litter", "title": "Bags by the bench", "lat": lat, "lon": lon}),
    )
    .await;
    let b = rest_report(
        &app,
        &ada,
        json!({"category": "graffiti", "title": "Tag on the bridge", "lat": lat, "lon": lon,
               "answers": {"offensive": "no"}}),
    )
    .await;
    let c = rest_report(
        &app,
        &ada,
        json!({"category": "litter", "title": "Cans in the park", "lat": lat, "lon": lon}),
    )
    .await;
    step(&app, &officer, &c, "resolved").await;
    let (a, b, c) = (a.as_str(), b.as_str(), c.as_str());

    let all = requests(&app, "").await;
    assert_eq!(ids(&all), [c, b, a], "newest first");
    for (query, expected) in [
        (format!("service_request_id={a},{c}"), vec![a, c]),
        // The ids override every other filter.
        (
            format!("service_request_id={a}&status=closed&service_code=graffiti"),
            vec![a],
        ),
        (format!("service_request_id=no-such-request,{b}"), vec![b]),
        ("service_code=graffiti".to_owned(), vec![b]),
        ("service_code=graffiti,litter".to_owned(), vec![a, b, c]),
        ("service_code=pothole".to_owned(), vec![]),
        ("status=open".to_owned(), vec![a, b]),
        ("status=closed".to_owned(), vec![c]),
        ("status=open,closed".to_owned(), vec![a, b, c]),
        ("status=closed&service_code=graffiti".to_owned(), vec![]),
        ("status=open&service_code=litter".to_owned(), vec![a]),
        // Empty parameters are absent ones; unknown ones are ignored.
        ("status=&service_code=".to_owned(), vec![a, b, c]),
        ("service_request_id=&status=closed".to_owned(), vec![c]),
        ("colour=blue&status=closed".to_owned(), vec![c]),
    ] {
        let found = requests(&app, &query).await;
        assert_eq!(sorted(ids(&found)), sorted(expected), "{query}");
    }
    let found = requests(&app, &format!("service_request_id={c}")).await;
    assert_eq!(found[0]["status"], "closed");

    for bad in ["status=pending", "status=open,nope"] {
        refused(&app, "requests", bad, 400).await;
    }
}

#[actix_web::test]
async fn requests_are_found_by_requested_and_updated_dates() {
    let app = TestApp::spawn().await;
    let partner = submitter(&app);
    let key = partner.secret.as_str();
    let now = Utc::now();
    let recent = litter(&app, key, LAT, LONG, "Recent bags").await;
    let stale = litter(&app, key, LAT, LONG, "Stale bags").await;
    let old = litter(&app, key, LAT, LONG, "Old bags").await;
    backdate(
        &app,
        &stale,
        now - Duration::days(5),
        now - Duration::days(3),
    )
    .await;
    backdate(
        &app,
        &old,
        now - Duration::days(100),
        now - Duration::days(100),
    )
    .await;
    let (recent, stale, old) = (recent.as_str(), stale.as_str(), old.as_str());
    let ago = |days: i64| iso(now - Duration::days(days));
    let day = |days: i64| (now - Duration::days(days)).format("%Y-%m-%d").to_string();

    // By default the last 90 days: nothing recent is left out, the old one is.
    assert_eq!(ids(&requests(&app, "").await), [recent, stale]);
    for (query, expected) in [
        (
            format!("start_date={}&end_date={}", ago(120), ago(60)),
            vec![old],
        ),
        (
            format!("start_date={}&end_date={}", ago(6), ago(-1)),
            vec![recent, stale],
        ),
        (
            format!("start_date={}&end_date={}", ago(1), ago(-1)),
            vec![recent],
        ),
        // Only a start: the 90 days after it.
        (format!("start_date={}", ago(120)), vec![old]),
        // Only an end: the 90 days before it.
        (format!("end_date={}", ago(50)), vec![old]),
        (format!("end_date={}", ago(4)), vec![stale]),
        (format!("end_date={}", ago(-1)), vec![recent, stale]),
        // Dates alone are midnight UTC.
        (
            format!("start_date={}&end_date={}", day(1), day(-2)),
            vec![recent],
        ),
        // The ids override the dates.
        (format!("service_request_id={old}"), vec![old]),
        (
            format!("service_request_id={old},{recent}&start_date={}", ago(120)),
            vec![old, recent],
        ),
        // On updated_datetime.
        (format!("updated_after={}", ago(1)), vec![recent]),
        (format!("updated_before={}", ago(1)), vec![stale]),
        (
            format!("updated_after={}&updated_before={}", ago(4), ago(2)),
            vec![stale],
        ),
        (format!("updated_after={}", ago(-1)), vec![]),
    ] {
        let found = requests(&app, &query).await;
        assert_eq!(sorted(ids(&found)), sorted(expected), "{query}");
    }
    let old_one = requests(&app, &format!("service_request_id={old}")).await;
    assert_eq!(old_one[0]["requested_datetime"], ago(100));

    for bad in [
        format!("start_date={}&end_date={}", ago(100), ago(0)),
        format!("start_date={}&end_date={}", ago(1), ago(2)),
        "start_date=yesterday".to_owned(),
        "end_date=2026-13-45".to_owned(),
        "updated_after=soon".to_owned(),
        "updated_before=later".to_owned(),
    ] {
        refused(&app, "requests", &bad, 400).await;
    }
}

#[actix_web::test]
async fn requests_are_found_near_a_point_and_paged() {
    let app = TestApp::spawn().await;
    let partner = submitter(&app);
    let key = partner.secret.as_str();
    let far_lat = north(2000.0);
    let near = litter(&app, key, LAT, LONG, "Near bags").await;
    let middle = litter(&app, key, &north(800.0), LONG, "Middle bags").await;
    let far = litter(&app, key, &far_lat, LONG, "Far bags").await;
    let (near, middle, far) = (near.as_str(), middle.as_str(), far.as_str());

    for (query, expected) in [
        (format!("lat={LAT}&long={LONG}"), vec![middle, near]),
        (format!("lat={LAT}&long={LONG}&radius=500"), vec![near]),
        (
            format!("lat={LAT}&long={LONG}&radius=2500"),
            vec![far, middle, near],
        ),
        (format!("lat={far_lat}&long={LONG}&radius=100"), vec![far]),
        (format!("lat={LAT}&long={LONG}&radius="), vec![middle, near]),
    ] {
        let found = requests(&app, &query).await;
        assert_eq!(ids(&found), expected, "{query}");
    }
    for bad in [
        format!("lat={LAT}"),
        format!("long={LONG}"),
        format!("lat=91&long={LONG}"),
        format!("lat={LAT}&long=181"),
        format!("lat=abc&long={LONG}"),
        format!("lat={LAT}&long={LONG}&radius=0"),
        format!("lat={LAT}&long={LONG}&radius=50001"),
        format!("lat={LAT}&long={LONG}&radius=far"),
    ] {
        refused(&app, "requests", &bad, 400).await;
    }

    // Newest first, a page at a time.
    assert_eq!(ids(&requests(&app, "").await), [far, middle, near]);
    for (query, expected) in [
        ("page_size=1", vec![far]),
        ("page=2&page_size=1", vec![middle]),
        ("page=3&page_size=1", vec![near]),
        ("page=4&page_size=1", vec![]),
        ("page=2&page_size=2", vec![near]),
        ("page=1&page_size=1000", vec![far, middle, near]),
        ("page=2", vec![]),
        ("page=&page_size=", vec![far, middle, near]),
    ] {
        let found = requests(&app, query).await;
        assert_eq!(ids(&found), expected, "{query}");
    }
    // The ids ignore paging.
    let found = requests(
        &app,
        &format!("service_request_id={near},{far}&page=2&page_size=1"),
    )
    .await;
    assert_eq!(sorted(ids(&found)), sorted(vec![near, far]));
    for bad in [
        "page=0",
        "page=10001",
        "page=first",
        "page_size=0",
        "page_size=1001",
        "page_size=-1",
    ] {
        refused(&app, "requests", bad, 400).await;
    }
}

#[actix_web::test]
async fn extensions_add_the_civitas_status_and_the_public_notes() {
    let app = TestApp::spawn().await;
    let partner = submitter(&app);
    let officer = staff(&app, "officer@council.example", "officer").await;
    let id = litter(&app, &partner.secret, LAT, LONG, "Bags by the bench").await;
    set_status(
        &app,
        &officer,
        &id,
        json!({"status": "escalated", "note": "Council please"}),
    )
    .await;
    let issue = rest(&app, &format!("/issues/{id}"), None).await;
    let timeline = rest(&app, &format!("/issues/{id}/timeline"), None).await;
    let events = timeline["items"].as_array().unwrap();

    let plain = request(&app, &id, "").await;
    assert!(plain.get("extended_attributes").is_none(), "{plain}");
    assert!(
        requests(&app, "").await[0]
            .get("extended_attributes")
            .is_none()
    );
    let listed = requests(&app, "extensions=true").await;
    for one in [
        request(&app, &id, "extensions=true").await,
        listed[0].clone(),
    ] {
        assert_eq!(one["status"], "open");
        assert_eq!(one["status_notes"], "escalated: Council please");
        let extended = &one["extended_attributes"];
        assert_eq!(extended["civitas_status"], "escalated", "{one}");
        assert_eq!(extended["title"], issue["title"]);
        assert_eq!(extended["support_count"], 0);
        let notes = extended["notes"].as_array().unwrap();
        assert_eq!(notes.len(), events.len(), "{one}");
        assert_eq!(notes[0]["type"], "reported");
        assert_eq!(notes[1]["type"], "status_changed");
        assert_eq!(notes[1]["status"], "escalated");
        assert!(
            text(&notes[1], "summary").contains("Council please"),
            "{one}"
        );
        for (note, event) in notes.iter().zip(events) {
            for key in keys(note) {
                assert!(
                    ["type", "datetime", "summary", "status"].contains(&key),
                    "{key} in {note}"
                );
            }
            assert_eq!(note["type"], event["kind"]);
            assert_eq!(note["datetime"], seconds(&event["created_at"]));
        }
    }
    // The ids filter keeps the extensions.
    let by_id = requests(&app, &format!("service_request_id={id}&extensions=true")).await;
    assert_eq!(
        by_id[0]["extended_attributes"]["civitas_status"],
        "escalated"
    );
}

// ---------------------------------------------------------------------------------------
// Jurisdictions and errors
// ---------------------------------------------------------------------------------------

#[actix_web::test]
async fn a_configured_jurisdiction_must_be_the_one_named() {
    let app =
        TestApp::spawn_with(|config| config.jurisdiction_id = Some("council.example".into())).await;
    let partner = submitter(&app);
    let fields = [("service_code", "litter"), ("lat", LAT), ("long", LONG)];
    let id = id_of(&submit(&app, Json, &partner.secret, &fields).await);
    for query in ["jurisdiction_id=council.example", "jurisdiction_id=", ""] {
        both(&app, "discovery", query, "discovery").await;
        both(&app, "services", query, "services").await;
        both(&app, "services/pothole", query, "service_definition").await;
        assert_eq!(ids(&requests(&app, query).await), [id.as_str()]);
        request(&app, &id, query).await;
    }
    for resource in [
        "services".to_owned(),
        "services/pothole".to_owned(),
        "requests".to_owned(),
        format!("requests/{id}"),
    ] {
        refused(&app, &resource, "jurisdiction_id=elsewhere.example", 404).await;
    }

    for format in FORMATS {
        // In the body…
        let mut body = vec![
            ("api_key", partner.secret.as_str()),
            ("jurisdiction_id", "council.example"),
        ];
        body.extend_from_slice(&fields);
        created(post(&app, format, "", &body).await, format).await;
        body[1].1 = "elsewhere.example";
        error_list(post(&app, format, "", &body).await, format, 404).await;
        // …checked before the key…
        error_list(post(&app, format, "", &body[1..]).await, format, 404).await;
        // …or in the query.
        let query = format!(
            "api_key={}&jurisdiction_id=elsewhere.example",
            partner.secret
        );
        error_list(post(&app, format, &query, &fields).await, format, 404).await;
        let query = format!("api_key={}&jurisdiction_id=council.example", partner.secret);
        created(post(&app, format, &query, &fields).await, format).await;
    }
    assert_eq!(issue_count(&app).await, 5);
}

#[actix_web::test]
async fn without_a_configured_jurisdiction_any_is_accepted() {
    let app = TestApp::spawn().await;
    let partner = submitter(&app);
    let query = "jurisdiction_id=anywhere.example";
    both(&app, "services", query, "services").await;
    let mut body = vec![
        ("api_key", partner.secret.as_str()),
        ("jurisdiction_id", "anywhere.example"),
        ("service_code", "litter"),
        ("lat", LAT),
        ("long", LONG),
    ];
    for format in FORMATS {
        let id = id_of(&created(post(&app, format, "", &body).await, format).await);
        assert_eq!(
            ids(&requests(&app, &format!("{query}&service_request_id={id}")).await),
            [id.as_str()]
        );
        request(&app, &id, query).await;
    }
    body.remove(0);
    let response = post(
        &app,
        Xml,
        &format!("api_key={}&{query}", partner.secret),
        &body,
    )
    .await;
    created(response, Xml).await;
}

#[actix_web::test]
async fn errors_are_open311_lists_in_the_requested_format() {
    let app = TestApp::spawn().await;
    for (path, format) in [
        ("/open311/v2/nothing.json", Json),
        ("/open311/v2/nothing.xml", Xml),
        ("/open311/v2/nothing", Xml),
        ("/open311/v2/a/b/c.json", Json),
        ("/open311/v2/services.html", Xml),
        ("/open311/v2/requests.csv", Xml),
        ("/open311/v2/discovery", Xml),
        ("/open311/v2/requests/no-such-request.json", Json),
        ("/open311/v2/requests/no-such-request.xml", Xml),
        ("/open311/v2/services/nonsense.json", Json),
    ] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        let errors = error_list(response, format, 404).await;
        assert_eq!(errors.len(), 1, "{path}");
    }
    // The JSON error is a bare array with a numeric code; the XML one is text.
    let body: Value = get(&app, Json, "requests/no-such-request", "")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body[0]["code"], 404);
    let body = get(&app, Xml, "requests/no-such-request", "")
        .await
        .text()
        .await
        .unwrap();
    let document = roxmltree::Document::parse(&body).unwrap();
    let error = document.root_element().first_element_child().unwrap();
    assert!(error.has_tag_name("error"), "{body}");
    let code = error
        .children()
        .find(|n| n.has_tag_name("code"))
        .and_then(|n| n.text());
    assert_eq!(code, Some("404"), "{body}");

    // 400 and 403 name their status too, in the requested format.
    let response = post(&app, Json, "", &[("service_code", "litter")]).await;
    let errors = error_list(response, Json, 403).await;
    assert_eq!(errors.len(), 1);
    refused(&app, "requests", "status=whatever", 400).await;
}

// ---------------------------------------------------------------------------------------
// The round trip with the REST API and the status mapping
// ---------------------------------------------------------------------------------------

#[actix_web::test]
async fn a_request_round_trips_between_open311_and_the_rest_api() {
    let app = TestApp::spawn().await;
    let partner = submitter(&app);
    let officer = staff(&app, "officer@council.example", "officer").await;
    for (format, council_path) in [(Xml, false), (Json, true)] {
        let answer = submit(
            &app,
            format,
            &partner.secret,
            &[
                ("service_code", "pothole"),
                ("lat", LAT),
                ("long", LONG),
                ("attribute[size]", "medium"),
                ("description", "A hole by the bus stop"),
            ],
        )
        .await;
        let id = id_of(&answer);
        let issue = rest(&app, &format!("/issues/{id}"), None).await;
        assert_eq!(issue["status"], "reported");
        assert_eq!(issue["category"]["code"], "pothole");
        assert_eq!(issue["answers"], json!({"size": "medium"}));
        let timeline = rest(&app, &format!("/issues/{id}/timeline"), None).await;
        let kinds: Vec<&str> = timeline["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["reported"]);
        let before = request(&app, &id, "").await;
        assert_eq!(before["status"], "open");
        assert_eq!(before["status_notes"], "reported");
        assert_eq!(before["description"], "A hole by the bus stop");
        assert_eq!(before["requested_datetime"], seconds(&issue["created_at"]));

        if council_path {
            for to in ["escalated", "acknowledged"] {
                step(&app, &officer, &id, to).await;
            }
            set_status(
                &app,
                &officer,
                &id,
                json!({"status": "in_progress", "note": "Crew booked for Tuesday"}),
            )
            .await;
            let working = request(&app, &id, "").await;
            assert_eq!(working["status"], "open");
            assert_eq!(
                working["status_notes"],
                "in_progress: Crew booked for Tuesday"
            );
            set_status(
                &app,
                &officer,
                &id,
                json!({"status": "fixed", "note": "Filled and sealed"}),
            )
            .await;
        } else {
            set_status(
                &app,
                &officer,
                &id,
                json!({"status": "resolved", "note": "Filled by the neighbours"}),
            )
            .await;
        }
        let (status, note) = if council_path {
            ("fixed", "Filled and sealed")
        } else {
            ("resolved", "Filled by the neighbours")
        };
        let after = request(&app, &id, "").await;
        assert_eq!(after["status"], "closed");
        let notes = text(&after, "status_notes");
        assert!(notes.contains(status) && notes.contains(note), "{after}");
        assert_eq!(notes, format!("{status}: {note}"));
        let issue = rest(&app, &format!("/issues/{id}"), None).await;
        assert_eq!(issue["status"], status);
        assert_eq!(after["updated_datetime"], seconds(&issue["updated_at"]));
        assert!(
            text(&after, "updated_datetime") >= text(&before, "updated_datetime"),
            "{before} {after}"
        );
        let closed = requests(&app, "status=closed").await;
        assert!(ids(&closed).contains(&id.as_str()));
        let open = requests(&app, "status=open").await;
        assert!(!ids(&open).contains(&id.as_str()));
    }
}

#[actix_web::test]
async fn civitas_statuses_map_to_open_and_closed() {
    let app = TestApp::spawn().await;
    let partner = submitter(&app);
    let officer = staff(&app, "officer@council.example", "officer").await;
    let paths: [(&str, &[&str]); 10] = [
        ("reported", &[]),
        ("community", &["community"]),
        ("escalated", &["escalated"]),
        ("acknowledged", &["escalated", "acknowledged"]),
        ("in_progress", &["escalated", "acknowledged", "in_progress"]),
        ("reopened", &["resolved", "reopened"]),
        ("resolved", &["resolved"]),
        (
            "fixed",
            &["escalated", "acknowledged", "in_progress", "fixed"],
        ),
        ("declined", &["escalated", "declined"]),
        ("duplicate", &[]),
    ];
    let mut issues = Vec::new();
    for (status, steps) in paths {
        let id = litter(&app, &partner.secret, LAT, LONG, &format!("Bags, {status}")).await;
        for to in steps {
            step(&app, &officer, &id, to).await;
        }
        issues.push((status, id));
    }
    let canonical = issues[0].1.clone();
    set_status(
        &app,
        &officer,
        &issues[9].1,
        json!({"status": "duplicate", "note": "note for duplicate", "duplicate_of": canonical}),
    )
    .await;

    let mut open = Vec::new();
    let mut closed = Vec::new();
    for (status, id) in &issues {
        let rest_status = rest(&app, &format!("/issues/{id}"), None).await["status"].clone();
        assert_eq!(rest_status, *status);
        let one = request(&app, id, "extensions=true").await;
        let is_closed = ["resolved", "fixed", "declined", "duplicate"].contains(status);
        assert_eq!(
            one["status"],
            if is_closed { "closed" } else { "open" },
            "{status}"
        );
        assert_eq!(one["extended_attributes"]["civitas_status"], *status);
        let expected_notes = if *status == "reported" {
            "reported".to_owned()
        } else {
            format!("{status}: note for {status}")
        };
        assert_eq!(one["status_notes"], expected_notes);
        if is_closed {
            closed.push(id.as_str());
        } else {
            open.push(id.as_str());
        }
    }
    assert_eq!(open.len(), 6);
    assert_eq!(closed.len(), 4);
    let all: Vec<&str> = issues.iter().map(|(_, id)| id.as_str()).collect();
    for (query, expected) in [
        ("status=open", open.clone()),
        ("status=closed", closed.clone()),
        ("status=open,closed", all.clone()),
        ("status=closed,open", all.clone()),
        ("", all.clone()),
    ] {
        let found = requests(&app, query).await;
        assert_eq!(sorted(ids(&found)), sorted(expected), "{query}");
    }
}
