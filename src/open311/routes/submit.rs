//! Creating a service request (`POST requests`): reading the form (urlencoded, or
//! multipart with photos), the `api_key`, validating every field, and creating the issue
//! as a REST report would, on behalf of the partner client.

use actix_multipart::Multipart;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpMessage, HttpRequest, mime, post, web};
use futures_util::TryStreamExt;

use super::{Open311Errors, Reply, check_jurisdiction};
use crate::auth::tokens::random_token;
use crate::categories::answers::validate_answer_strings;
use crate::categories::models::find_category;
use crate::db;
use crate::domain::{Address, Description, Role, Title};
use crate::error::{ApiError, FieldError};
use crate::issues::lifecycle::Status;
use crate::issues::models::IssueRow;
use crate::issues::routes::record_report;
use crate::issues::timeline::Actor;
use crate::open311::error::{Open311Error, Open311Result};
use crate::open311::format::Format;
use crate::open311::params::{self, Params};
use crate::open311::views::{CreatedRequest, RequestForm};
use crate::partners::Scope;
use crate::partners::models::find_by_secret;
use crate::photos::process::{self, ProcessError, Processed};
use crate::photos::routes::{MAX_UPLOAD_BYTES, new_photo_row, store_and_commit};
use crate::startup::AppState;

/// The largest `application/x-www-form-urlencoded` body, in bytes.
pub const MAX_FORM_BYTES: usize = 64 * 1024;
/// The largest `multipart/form-data` body (photos and fields together), in bytes.
pub const MAX_MULTIPART_BYTES: usize = MAX_UPLOAD_BYTES;
/// The longest description, in characters.
const MAX_DESCRIPTION_LEN: usize = 4000;
/// The longest `address_string`, in characters.
const MAX_ADDRESS_LEN: usize = 200;
/// The longest contact detail, in characters.
const MAX_CONTACT_LEN: usize = 200;
/// The longest `media_url`, in characters.
const MAX_MEDIA_URL_LEN: usize = 2048;
/// The longest title, in characters (see `crate::domain::Title`).
const MAX_TITLE_LEN: usize = 120;
/// What the client may send about the resident, kept for staff only.
const CONTACT_FIELDS: [&str; 6] = [
    "email",
    "first_name",
    "last_name",
    "phone",
    "device_id",
    "account_id",
];
/// What a new request is told about what happens next.
const SERVICE_NOTICE: &str = "Reported to the community first; escalated to the council if \
                              it is not solved.";

/// A request body as read: its fields, and its photos (multipart only).
#[derive(Default)]
struct Body {
    params: Params,
    media: Vec<Vec<u8>>,
}

/// The validated fields of a new request, but the service and its attributes.
struct Fields {
    service_code: Option<String>,
    position: Option<(f64, f64)>,
    address: Option<String>,
    description: String,
    contact: Option<String>,
    media_url: Option<String>,
}

fn declared_length(req: &HttpRequest) -> Option<usize> {
    req.headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse().ok())
}

fn too_large(limit: usize) -> Open311Error {
    Open311Error::invalid(format!(
        "The request body is too large: at most {} KiB.",
        limit / 1024
    ))
}

/// Reads the whole payload, refusing past `limit` bytes.
async fn read_bytes(mut payload: web::Payload, limit: usize) -> Open311Result<Vec<u8>> {
    let mut bytes = Vec::new();
    while let Some(chunk) = payload
        .try_next()
        .await
        .map_err(|_| Open311Error::invalid("The request body could not be read."))?
    {
        if bytes.len() + chunk.len() > limit {
            return Err(too_large(limit));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

fn malformed(error: actix_multipart::MultipartError) -> Open311Error {
    Open311Error::invalid(format!("The multipart body could not be read: {error}"))
}

/// Reads a multipart form: text fields as parameters, `media` / `media[]` as photos (empty
/// ones left out), counting every byte against `MAX_MULTIPART_BYTES`.
async fn read_multipart(req: &HttpRequest, payload: web::Payload) -> Open311Result<Body> {
    let mut form = Multipart::new(req.headers(), payload);
    let mut body = Body::default();
    let mut total = 0usize;
    while let Some(mut field) = form.try_next().await.map_err(malformed)? {
        let name = field.name().unwrap_or_default().to_owned();
        let mut bytes = Vec::new();
        while let Some(chunk) = field.try_next().await.map_err(malformed)? {
            total += chunk.len();
            if total > MAX_MULTIPART_BYTES {
                return Err(too_large(MAX_MULTIPART_BYTES));
            }
            bytes.extend_from_slice(&chunk);
        }
        if name == "media" || name == "media[]" {
            if !bytes.is_empty() {
                body.media.push(bytes);
            }
        } else {
            let text = String::from_utf8(bytes)
                .map_err(|_| Open311Error::invalid(format!("`{name}` is not UTF-8 text.")))?;
            body.params.push(name, text)?;
        }
    }
    Ok(body)
}

/// Reads the body as its `Content-Type` says; an empty body of any type is an empty form.
async fn read_body(req: &HttpRequest, payload: web::Payload) -> Open311Result<Body> {
    let mime = req.mime_type().ok().flatten();
    let essence = mime.as_ref().map(|m| (m.type_(), m.subtype()));
    match essence {
        Some((mime::MULTIPART, mime::FORM_DATA)) => {
            if declared_length(req).is_some_and(|length| length > MAX_MULTIPART_BYTES) {
                return Err(too_large(MAX_MULTIPART_BYTES));
            }
            read_multipart(req, payload).await
        }
        Some((mime::APPLICATION, mime::WWW_FORM_URLENCODED)) => {
            if declared_length(req).is_some_and(|length| length > MAX_FORM_BYTES) {
                return Err(too_large(MAX_FORM_BYTES));
            }
            let bytes = read_bytes(payload, MAX_FORM_BYTES).await?;
            Ok(Body {
                params: Params::parse(&bytes)?,
                media: Vec::new(),
            })
        }
        _ => {
            let unsupported = || {
                Open311Error::invalid(
                    "Send the request as `application/x-www-form-urlencoded` or \
                     `multipart/form-data`.",
                )
            };
            if declared_length(req).is_some_and(|length| length > 0) {
                return Err(unsupported());
            }
            match read_bytes(payload, MAX_FORM_BYTES).await {
                Ok(bytes) if bytes.is_empty() => Ok(Body::default()),
                _ => Err(unsupported()),
            }
        }
    }
}

/// The partner client whose secret `api_key` is, if it is active and may submit.
async fn authorise(state: &AppState, api_key: Option<&str>) -> Open311Result<String> {
    let Some(key) = api_key.map(str::to_owned) else {
        return Err(Open311Error::forbidden(
            "An `api_key` is required to submit requests.",
        ));
    };
    let client = db::read(&state.pool, move |conn| Ok(find_by_secret(conn, &key)?)).await?;
    match client {
        Some(client) if client.is_active() && client.has_scope(Scope::Open311Submit) => {
            Ok(client.id)
        }
        _ => Err(Open311Error::forbidden(
            "This `api_key` is unknown, disabled, or may not submit requests.",
        )),
    }
}

fn field_problem(error: FieldError) -> String {
    format!("{}: {}", error.field, error.message)
}

/// Whether text holds something that looks like an HTML tag, comment or entity
/// declaration (`<b>`, `</p>`, `<!--`, `<?`), which Open311 descriptions may not.
fn looks_like_html(text: &str) -> bool {
    text.match_indices('<').any(|(at, _)| {
        text[at + 1..]
            .chars()
            .next()
            .is_some_and(|next| next.is_ascii_alphabetic() || matches!(next, '/' | '!' | '?'))
    })
}

fn description(params: &Params, problems: &mut Vec<String>) -> String {
    let raw = params.get("description").unwrap_or_default();
    if raw.chars().count() > MAX_DESCRIPTION_LEN {
        problems.push(format!(
            "description: At most {MAX_DESCRIPTION_LEN} characters."
        ));
        return String::new();
    }
    if looks_like_html(raw) {
        problems.push("description: Plain text only: HTML is not accepted.".to_owned());
        return String::new();
    }
    Description::parse("description", raw)
        .map(Description::into_inner)
        .map_err(|error| problems.push(field_problem(error)))
        .unwrap_or_default()
}

fn address(params: &Params, problems: &mut Vec<String>) -> Option<String> {
    let raw = params.get("address_string")?;
    if raw.chars().count() > MAX_ADDRESS_LEN {
        problems.push(format!(
            "address_string: At most {MAX_ADDRESS_LEN} characters."
        ));
        return None;
    }
    Address::parse("address_string", raw)
        .map(Address::into_inner)
        .map_err(|error| problems.push(field_problem(error)))
        .ok()
}

/// The contact details sent, as the JSON kept in `reporter_contact`.
fn contact(params: &Params, problems: &mut Vec<String>) -> Option<String> {
    let mut details = serde_json::Map::new();
    for name in CONTACT_FIELDS {
        let Some(value) = params.get(name) else {
            continue;
        };
        if value.chars().count() > MAX_CONTACT_LEN {
            problems.push(format!("{name}: At most {MAX_CONTACT_LEN} characters."));
        } else if value.chars().any(char::is_control) {
            problems.push(format!("{name}: Must not contain control characters."));
        } else if name == "email" && !value.contains('@') {
            problems.push("email: Not an email address.".to_owned());
        } else {
            details.insert(name.to_owned(), value.into());
        }
    }
    (!details.is_empty()).then(|| serde_json::Value::Object(details).to_string())
}

fn media_url(params: &Params, problems: &mut Vec<String>) -> Option<String> {
    let raw = params.get("media_url")?;
    let valid = raw.chars().count() <= MAX_MEDIA_URL_LEN
        && url::Url::parse(raw).is_ok_and(|url| matches!(url.scheme(), "http" | "https"));
    if !valid {
        problems.push(format!(
            "media_url: An http or https URL of at most {MAX_MEDIA_URL_LEN} characters."
        ));
        return None;
    }
    Some(raw.to_owned())
}

/// Where the problem is: `lat` and `long`, as this server does not geocode.
fn position(params: &Params, problems: &mut Vec<String>) -> Option<(f64, f64)> {
    let position = params::parse_position(params, problems);
    let neither = params.get("lat").is_none() && params.get("long").is_none();
    if neither {
        if params.get("address_string").is_some() || params.get("address_id").is_some() {
            problems.push(
                "This server does not geocode: send `lat` and `long` with `address_string` \
                 (`address_string` or `address_id` alone is not enough)."
                    .to_owned(),
            );
        } else {
            problems.push("`lat` and `long` are required.".to_owned());
        }
    }
    position
}

impl Fields {
    fn parse(params: &Params, photos: usize, max_photos: i32, problems: &mut Vec<String>) -> Self {
        let service_code = params.get("service_code").map(str::to_owned);
        if service_code.is_none() {
            problems.push("service_code: Required.".to_owned());
        }
        if i32::try_from(photos).map_or(true, |count| count > max_photos) {
            problems.push(format!(
                "media: At most {max_photos} photos may be sent with a request."
            ));
        }
        Self {
            service_code,
            position: position(params, problems),
            address: address(params, problems),
            description: description(params, problems),
            contact: contact(params, problems),
            media_url: media_url(params, problems),
        }
    }
}

/// An invalid answer, named and worded as Open311 has it (attributes of a service).
fn attribute_problem(error: FieldError) -> String {
    let code = error.field.strip_prefix("answers.").unwrap_or(&error.field);
    let message = match error.code.as_str() {
        "unknown_question" => "This service has no such attribute.".to_owned(),
        "required" => "This attribute is required.".to_owned(),
        _ => error.message,
    };
    format!("attribute[{code}]: {message}")
}

/// What checking a service and the answers to its attributes came to.
enum ServiceCheck {
    /// The service's name, and the answers as stored.
    Valid {
        name: String,
        answers: String,
    },
    Invalid(Vec<String>),
}

/// Checks that the service takes requests and validates the answers to its attributes.
async fn check_service(
    state: &AppState,
    code: String,
    answers: Vec<(String, Vec<String>)>,
) -> Open311Result<ServiceCheck> {
    Ok(db::read(&state.pool, move |conn| {
        let category = match find_category(conn, &code) {
            Ok(category) if category.active => category,
            Ok(_) | Err(diesel::result::Error::NotFound) => {
                return Ok(ServiceCheck::Invalid(vec![format!(
                    "service_code: There is no service `{code}`; see services."
                )]));
            }
            Err(error) => return Err(error.into()),
        };
        Ok(
            match validate_answer_strings(&category.questions, &answers) {
                Ok(valid) => ServiceCheck::Valid {
                    name: category.name,
                    answers: serde_json::Value::Object(valid).to_string(),
                },
                Err(errors) => {
                    ServiceCheck::Invalid(errors.into_iter().map(attribute_problem).collect())
                }
            },
        )
    })
    .await?)
}

/// The title of a request: the first line of its description, shortened to fit, or the
/// service's name when the description has none.
fn title(description: &str, service_name: &str) -> String {
    let line = description
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .unwrap_or_default();
    let line = if line.chars().count() > MAX_TITLE_LEN {
        let cut: String = line.chars().take(MAX_TITLE_LEN - 1).collect();
        format!("{}…", cut.trim_end())
    } else {
        line.to_owned()
    };
    Title::parse("title", &line)
        .or_else(|_| Title::parse("title", service_name))
        .map(Title::into_inner)
        .unwrap_or_else(|_| format!("A {service_name} report"))
}

fn media_problem(index: usize, error: ProcessError) -> Open311Error {
    let number = index + 1;
    match error {
        ProcessError::Unsupported(_) => Open311Error::invalid(format!(
            "media: Photo {number} is not a JPEG, PNG or WebP image, or it is damaged."
        )),
        ProcessError::TooLarge(_) => Open311Error::invalid(format!(
            "media: Photo {number} is too large: at most {} pixels a side.",
            process::MAX_DIMENSION
        )),
        ProcessError::Encode(error) => Open311Error::internal(error),
    }
}

/// Decodes and re-encodes every photo, before anything is stored.
async fn process_media(state: &AppState, media: Vec<Vec<u8>>) -> Open311Result<Vec<Processed>> {
    let mut processed = Vec::with_capacity(media.len());
    for (index, bytes) in media.into_iter().enumerate() {
        let _turn = state.photos.processing_turn().await?;
        let photo = web::block(move || process::process(&bytes))
            .await
            .map_err(ApiError::from)?
            .map_err(|error| media_problem(index, error))?;
        processed.push(photo);
    }
    Ok(processed)
}

/// Stores the photos of a new request. The request exists already, so a photo that cannot
/// be stored is logged rather than failing it (a retry would report the problem twice).
/// Run it in a task of its own, so a client hanging up cannot leave objects without a row.
async fn store_photos(state: web::Data<AppState>, issue_id: String, photos: Vec<Processed>) {
    for photo in photos {
        let stored = match new_photo_row(issue_id.clone(), None, &photo) {
            // The role is unused: the photo has no uploader account.
            Ok(row) => store_and_commit(state.clone(), row, photo, Role::Citizen).await,
            Err(error) => Err(error),
        };
        if let Err(error) = stored {
            tracing::error!(?error, %issue_id, "could not store a photo of an Open311 request");
        }
    }
}

/// The new issue, as a REST report makes it, but reported by the partner client.
fn issue_row(
    fields: Fields,
    code: String,
    title: String,
    answers: String,
    client: String,
) -> IssueRow {
    let now = db::now();
    let (lat, lon) = fields.position.unwrap_or_default();
    IssueRow {
        id: uuid::Uuid::now_v7().to_string(),
        category_code: code,
        title,
        description: fields.description,
        lat,
        lon,
        address: fields.address,
        answers,
        status: Status::Reported.as_str().to_owned(),
        reporter_id: None,
        anonymous: false,
        duplicate_of: None,
        support_count: 0,
        follower_count: 0,
        photo_count: 0,
        closed_at: None,
        created_at: now,
        updated_at: now,
        adopted_by_group_id: None,
        partner_client_id: Some(client),
        reporter_contact: fields.contact,
        media_url: fields.media_url,
        open311_token: Some(random_token()),
        hidden_at: None,
    }
}

/// Creates the issue and its `reported` event in one transaction, checking again that the
/// service still takes reports.
async fn insert_request(state: &AppState, row: IssueRow) -> Open311Result<()> {
    db::write(&state.pool, move |conn| {
        match find_category(conn, &row.category_code) {
            Ok(category) if category.active => {}
            Ok(_) | Err(diesel::result::Error::NotFound) => {
                return Err(ApiError::invalid_field(
                    "service_code",
                    "unknown_service",
                    "This service no longer takes requests.",
                ));
            }
            Err(error) => return Err(error.into()),
        }
        let actor = match row.partner_client_id.clone() {
            Some(client_id) => Actor::Partner { client_id },
            None => Actor::System,
        };
        record_report(conn, &row, actor)?;
        Ok(())
    })
    .await?;
    Ok(())
}

async fn submit(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    payload: web::Payload,
) -> Open311Result<Vec<CreatedRequest>> {
    let query = Params::parse(req.query_string().as_bytes())?;
    // A body that cannot be read is refused only after the jurisdiction and the key,
    // which the query string may carry.
    let body = read_body(req, payload).await;
    let mut params = Params::default();
    if let Ok(body) = &body {
        params.extend(body.params.clone())?;
    }
    params.extend(query)?;
    check_jurisdiction(&state.config, &params)?;
    let client = authorise(state, params.get("api_key")).await?;
    let media = body?.media;

    let mut problems = Vec::new();
    let max_photos = state.config.max_photos_per_issue;
    let fields = Fields::parse(&params, media.len(), max_photos, &mut problems);
    let service = match fields.service_code.clone() {
        Some(code) => match check_service(state, code.clone(), params.attributes()).await? {
            ServiceCheck::Valid { name, answers } => Some((code, name, answers)),
            ServiceCheck::Invalid(more) => {
                problems.extend(more);
                None
            }
        },
        None => None,
    };
    let Some((code, name, answers)) = service.filter(|_| problems.is_empty()) else {
        return Err(Open311Error::bad_request(problems));
    };
    let photos = process_media(state, media).await?;

    let title = title(&fields.description, &name);
    let row = issue_row(fields, code, title, answers, client);
    let (id, token) = (
        row.id.clone(),
        row.open311_token.clone().unwrap_or_default(),
    );
    insert_request(state, row).await?;
    if !photos.is_empty() {
        let stored = db::spawn(store_photos(state.clone(), id.clone(), photos)).await;
        if let Err(error) = stored {
            tracing::error!(%error, "the task storing an Open311 request's photos failed");
        }
    }
    Ok(vec![CreatedRequest {
        service_request_id: id,
        token,
        service_notice: SERVICE_NOTICE.to_owned(),
    }])
}

/// Submit a service request on behalf of a resident (partner clients with the
/// `open311:submit` scope; the client secret is the `api_key`).
///
/// A form, `application/x-www-form-urlencoded` (at most 64 KiB, 65 536 bytes) or
/// `multipart/form-data` (at most 10 MiB, 10 485 760 bytes, photos as `media` /
/// `media[]`: at most `CIVITAS_MAX_PHOTOS_PER_ISSUE`, 10 by default). Requires
/// `service_code`, `lat` and `long` (this server does not geocode), and answers to the
/// service's required attributes. The request becomes an issue like any report: community
/// first, escalated to the council if it is not solved. Contact details are kept for
/// staff only.
///
/// A body over its limit is refused with a `400` error list, as Open311 has it (after the
/// `jurisdiction_id` and `api_key` checks, which the query string may carry); so is a form
/// of more than 500 parameters (query string included) or a value over 16 KiB.
#[utoipa::path(
    tag = "Open311",
    params(
        ("format" = String, Path, description = "`xml` or `json`"),
        ("api_key" = Option<String>, Query, description = "May come in the body instead"),
        ("jurisdiction_id" = Option<String>, Query, description = "Accepted if it is this server's"),
    ),
    request_body(description = "The request's fields", content(
        (RequestForm = "application/x-www-form-urlencoded"),
        (RequestForm = "multipart/form-data"),
    )),
    responses(
        (status = 201, description = "Created: the new request's id and token", content(
            (Vec<CreatedRequest> = "application/json"), (String = "text/xml"))),
        (status = 400, response = Open311Errors),
        (status = 403, response = Open311Errors),
        (status = 404, response = Open311Errors),
    )
)]
#[post("/requests.{format}")]
pub async fn create_request(
    state: web::Data<AppState>,
    format: Format,
    req: HttpRequest,
    payload: web::Payload,
) -> Reply {
    let answer = submit(&state, &req, payload).await;
    format.respond(StatusCode::CREATED, "service_requests", answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_limits_are_the_enforced_ones() {
        use crate::open311::views::RequestForm;
        use crate::openapi::bounds::property;
        assert_eq!(
            property::<RequestForm>("description")["maxLength"],
            MAX_DESCRIPTION_LEN
        );
        assert_eq!(
            property::<RequestForm>("address_string")["maxLength"],
            MAX_ADDRESS_LEN
        );
        for name in CONTACT_FIELDS {
            assert_eq!(property::<RequestForm>(name)["maxLength"], MAX_CONTACT_LEN);
        }
        assert_eq!(
            property::<RequestForm>("media_url")["maxLength"],
            MAX_MEDIA_URL_LEN
        );
        assert_eq!(MAX_FORM_BYTES, 64 * 1024);
        assert_eq!(MAX_MULTIPART_BYTES, 10 * 1024 * 1024);
    }

    #[test]
    fn html_is_told_from_comparisons() {
        for html in ["<b>hi</b>", "a </p>", "<!-- x -->", "<script>", "x <?php"] {
            assert!(looks_like_html(html), "{html}");
        }
        for text in ["a < b", "3 <5", "<3", "<", "1 <= 2", "plain"] {
            assert!(!looks_like_html(text), "{text}");
        }
    }

    #[test]
    fn titles_come_from_the_first_line_or_the_service() {
        assert_eq!(
            title("\n  Deep pothole \nby the school", "Pothole"),
            "Deep pothole"
        );
        assert_eq!(title("", "Pothole"), "Pothole");
        assert_eq!(title("ok", "Pothole"), "Pothole");
        let long = title(&"x".repeat(500), "Pothole");
        assert_eq!(long.chars().count(), MAX_TITLE_LEN);
        assert!(long.ends_with('…'));
        assert_eq!(title("", "X"), "A X report");
    }

    #[test]
    fn contact_details_are_bounded_and_kept_as_json() {
        let mut problems = Vec::new();
        let params = Params::parse(b"email=a%40b.example&first_name=Ann&phone=").unwrap();
        let json = contact(&params, &mut problems).unwrap();
        assert!(problems.is_empty());
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&json).unwrap(),
            serde_json::json!({"email": "a@b.example", "first_name": "Ann"})
        );
        let params =
            Params::parse(format!("email=nope&last_name={}", "x".repeat(201)).as_bytes()).unwrap();
        assert_eq!(contact(&params, &mut problems), None);
        assert_eq!(problems.len(), 2);
    }

    #[test]
    fn a_location_needs_coordinates() {
        let mut problems = Vec::new();
        let params = Params::parse(b"address_string=1+High+St").unwrap();
        assert_eq!(position(&params, &mut problems), None);
        assert!(problems[0].contains("does not geocode"), "{problems:?}");
        let mut problems = Vec::new();
        assert_eq!(position(&Params::default(), &mut problems), None);
        assert_eq!(problems, ["`lat` and `long` are required."]);
    }

    #[test]
    fn media_urls_are_http() {
        let mut problems = Vec::new();
        let params = Params::parse(b"media_url=https%3A%2F%2Fexample.org%2Fa.jpg").unwrap();
        assert_eq!(
            media_url(&params, &mut problems).as_deref(),
            Some("https://example.org/a.jpg")
        );
        let params = Params::parse(b"media_url=javascript%3Aalert(1)").unwrap();
        assert_eq!(media_url(&params, &mut problems), None);
        assert_eq!(problems.len(), 1);
    }
}
