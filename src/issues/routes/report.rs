//! Reporting an issue, finding issues, duplicate suggestions, one issue, editing.

use actix_web::{HttpRequest, HttpResponse, get, patch, post, web};
use chrono::{DateTime, Utc};

use super::{Names, allowed_for, issue_views, sees_hidden, visible_issue, visible_to};
use crate::auth::{AuthUser, Viewer};
use crate::categories::answers::validate_answers;
use crate::categories::models::find_category;
use crate::conditional;
use crate::db;
use crate::domain::{Address, Coordinates, Description, Role, Title, parse_bbox};
use crate::error::{ApiError, ApiResult, FieldError, FieldErrors};
use crate::issues::lifecycle::Status;
use crate::issues::models::{
    self, Area, BoundingBox, Circle, Filters, IssueChangeset, IssueCursor, IssueRow,
};
use crate::issues::timeline::{self, Actor, EventKind, NewEvent};
use crate::issues::views::{
    CreateIssueRequest, DuplicatesQuery, IssueDetail, IssueView, ListIssuesQuery, ReportedIssue,
    UpdateIssueRequest,
};
use crate::pagination::{Page, PageQuery};
use crate::partners::{Caller, CallerToCheck, Scope};
use crate::startup::AppState;
use crate::sync::views::{IncludeDeletedQuery, IssueListItem, Tombstone};

/// Radius of a near search when none is given, in metres.
pub const DEFAULT_RADIUS_M: f64 = 1000.0;
/// The largest radius of a near search, in metres.
pub const MAX_RADIUS_M: f64 = 50_000.0;
/// How close an open issue of the same category must be to count as a likely duplicate.
pub const DUPLICATE_RADIUS_M: f64 = 250.0;
/// How many likely duplicates are suggested.
pub const MAX_DUPLICATES: i64 = 5;
/// The widest bounding box, in degrees.
pub const MAX_BBOX_DEGREES: f64 = 10.0;
const MAX_LIST_VALUES: usize = 20;

fn actor(user: &AuthUser) -> Actor {
    Actor::Account {
        id: user.account_id.clone(),
        role: user.role.as_str().to_owned(),
    }
}

/// Checks a category can take reports and validates the answers to its questions.
fn checked_answers(
    conn: &mut db::DbConnection,
    code: &str,
    answers: &serde_json::Map<String, serde_json::Value>,
) -> ApiResult<String> {
    let category = match find_category(conn, code) {
        Ok(category) if category.active => category,
        Ok(_) | Err(diesel::result::Error::NotFound) => {
            return Err(ApiError::invalid_field(
                "category",
                "unknown_category",
                "No active category has this code; see GET /categories.",
            ));
        }
        Err(error) => return Err(error.into()),
    };
    let answers = validate_answers(&category.questions, answers).map_err(ApiError::validation)?;
    Ok(serde_json::Value::Object(answers).to_string())
}

/// Who reports for `caller`: a verified citizen who may post (the reporter), or a
/// partner client with the `issues:write` scope (the report's `reported_via`). Gives the
/// reporter, the timeline's actor and the partner's id.
fn reporting_as(caller: Caller) -> ApiResult<(Option<AuthUser>, Actor, Option<String>)> {
    match caller {
        Caller::Citizen(user) => {
            user.ensure_may_create()?;
            let actor = actor(&user);
            Ok((Some(user), actor, None))
        }
        Caller::Partner(client) => {
            client.require(Scope::IssuesWrite)?;
            let actor = Actor::Partner {
                client_id: client.id.clone(),
            };
            Ok((None, actor, Some(client.id)))
        }
    }
}

/// A report's own fields, checked: every bad one named in one `422`.
fn checked_fields(
    body: &CreateIssueRequest,
) -> ApiResult<(Title, Description, Option<Address>, Coordinates)> {
    let mut errors = FieldErrors::new();
    let title = errors.check(Title::parse("title", &body.title));
    let description = errors.check(Description::parse("description", &body.description));
    let address = errors
        .check(Address::parse_optional("address", body.address.as_deref()))
        .flatten();
    let position = Coordinates::new("lat", body.lat, "lon", body.lon)
        .map_err(|e| errors.extend(e))
        .ok();
    match (title, description, position) {
        (Some(title), Some(description), Some(position)) if errors.is_empty() => {
            Ok((title, description, address, position))
        }
        _ => Err(ApiError::validation(errors)),
    }
}

/// Report a local problem.
///
/// Verified citizens, and partner clients with the `issues:write` scope reporting for a
/// resident (the partner is recorded as `reported_via`, and no account as reporter). The
/// answer carries the new issue and up to five open issues of the same category within
/// 250 m that may be the same problem (show them, and let the resident say "me too"
/// instead).
#[utoipa::path(
    tag = "Issues",
    security(("bearer" = []), ("partner" = ["issues:write"])),
    request_body = CreateIssueRequest,
    responses(
        (status = 201, description = "Reported", body = ReportedIssue,
         headers(("Location" = String, description = "The new issue"))),
        (status = 400, response = crate::error::BadRequest),
        (status = 401, response = crate::error::Unauthorized),
        (status = 403, response = crate::error::Forbidden),
        (status = 413, response = crate::error::PayloadTooLarge),
        (status = 415, response = crate::error::UnsupportedMediaType),
        (status = 422, response = crate::error::ValidationFailed),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[post("/issues")]
pub async fn create_issue(
    state: web::Data<AppState>,
    caller: CallerToCheck,
    body: web::Json<CreateIssueRequest>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let now = db::now();
    // The caller is checked in the write that stores the report: a citizen's session is
    // its first statement (no trip of its own to the database), and the body is judged
    // only once the caller may report, so a `401` or `403` still comes before a `422`.
    let (report, viewer) = db::write(&state.pool, move |conn| {
        let (reporter, actor, partner_client_id) = reporting_as(caller.check(conn)?)?;
        let (title, description, address, position) = checked_fields(&body)?;
        let answers = checked_answers(conn, &body.category, &body.answers)?;
        let row = IssueRow {
            id: uuid::Uuid::now_v7().to_string(),
            category_code: body.category,
            title: title.into_inner(),
            description: description.into_inner(),
            lat: position.lat,
            lon: position.lon,
            address: address.map(Address::into_inner),
            answers,
            status: Status::Reported.as_str().to_owned(),
            reporter_id: reporter.as_ref().map(|user| user.account_id.clone()),
            anonymous: body.anonymous,
            duplicate_of: None,
            support_count: 0,
            follower_count: 0,
            photo_count: 0,
            closed_at: None,
            created_at: now,
            updated_at: now,
            adopted_by_group_id: None,
            partner_client_id,
            reporter_contact: None,
            media_url: None,
            open311_token: None,
            hidden_at: None,
        };
        record_report(conn, &row, actor)?;
        Ok((row, reporter))
    })
    .await?;
    // Looked for after the report is stored, outside its write: the search reads many
    // rows, and no other writer should wait for it. The names the report shows are read
    // with theirs.
    let circle = Circle {
        lat: report.lat,
        lon: report.lon,
        radius_m: DUPLICATE_RADIUS_M,
    };
    let mut views = db::read(&state.pool, move |conn| {
        let (category, id) = (report.category_code.clone(), report.id.clone());
        let mut rows = vec![report];
        rows.extend(models::nearby_open(
            conn,
            &category,
            circle,
            Some(&id),
            MAX_DUPLICATES,
        )?);
        Ok(issue_views(conn, rows, viewer.as_ref())?)
    })
    .await?
    .into_iter();
    let reported = ReportedIssue {
        issue: views.next().ok_or_else(|| {
            ApiError::internal(anyhow::anyhow!("the new report's view is missing"))
        })?,
        possible_duplicates: views.collect(),
    };
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/issues/{}", reported.issue.id)))
        .json(reported))
}

/// Stores a new report and its `reported` timeline event, in the write transaction that
/// makes the report (REST and Open311 alike).
pub(crate) fn record_report(
    conn: &mut db::DbConnection,
    row: &IssueRow,
    actor: Actor,
) -> ApiResult<()> {
    models::insert_issue(conn, row)?;
    timeline::record(
        conn,
        &row.id,
        NewEvent {
            kind: EventKind::Reported,
            actor,
            from_status: None,
            to_status: Some(Status::Reported.as_str()),
            body: None,
            data: None,
        },
        row.created_at,
    )?;
    Ok(())
}

fn split_list(field: &str, raw: Option<&str>) -> ApiResult<Vec<String>> {
    let values: Vec<String> = raw
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .collect();
    if values.len() > MAX_LIST_VALUES {
        return Err(ApiError::invalid_field(
            field,
            "too_many",
            format!("At most {MAX_LIST_VALUES} values."),
        ));
    }
    Ok(values)
}

/// The validated search of `GET /issues`, and whether it asks for the caller's own
/// reports (`reported_by=me`: the route's read fills in the account once it has checked
/// the caller's session).
fn parse_search(query: &ListIssuesQuery, signed_in: bool) -> ApiResult<(Area, Filters, bool)> {
    let mut errors = FieldErrors::new();
    let area = match (&query.near, &query.bbox) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid_field(
                "bbox",
                "conflicting_parameters",
                "Give `near` or `bbox`, not both.",
            ));
        }
        (Some(near), None) => {
            let radius = query.radius.unwrap_or(DEFAULT_RADIUS_M);
            if !(radius.is_finite() && radius > 0.0 && radius <= MAX_RADIUS_M) {
                errors.push(FieldError::new(
                    "radius",
                    "out_of_range",
                    format!("Between 1 and {MAX_RADIUS_M} metres."),
                ));
            }
            match Coordinates::parse_pair("near", near) {
                Ok(point) => Area::Near(Circle {
                    lat: point.lat,
                    lon: point.lon,
                    radius_m: radius,
                }),
                Err(error) => {
                    errors.push(error);
                    Area::Anywhere
                }
            }
        }
        (None, Some(bbox)) => match parse_bbox("bbox", bbox, MAX_BBOX_DEGREES) {
            Ok([min_lon, min_lat, max_lon, max_lat]) => Area::Within(BoundingBox {
                min_lon,
                min_lat,
                max_lon,
                max_lat,
            }),
            Err(error) => {
                errors.push(error);
                Area::Anywhere
            }
        },
        (None, None) => Area::Anywhere,
    };
    // With `bbox` as without an area, a `radius` would go unread (and unchecked).
    if query.near.is_none() && query.radius.is_some() {
        errors.push(FieldError::new(
            "radius",
            "needs_near",
            "`radius` needs `near`.",
        ));
    }
    let statuses = split_list("status", query.status.as_deref())?;
    for status in &statuses {
        if Status::parse(status).is_none() {
            errors.push(FieldError::new(
                "status",
                "unknown_status",
                format!("No status {status:?}."),
            ));
        }
    }
    let text = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    if text.is_some_and(|q| q.chars().count() > 100) {
        errors.push(FieldError::new("q", "too_long", "At most 100 characters."));
    }
    let mine = match query.reported_by.as_deref() {
        None | Some("") => false,
        Some("me") if signed_in => true,
        Some("me") => {
            return Err(ApiError::unauthorized(
                "missing_token",
                "`reported_by=me` needs `Authorization: Bearer <access token>`.",
            ));
        }
        Some(_) => {
            errors.push(FieldError::new(
                "reported_by",
                "unsupported",
                "Only `me` is supported.",
            ));
            false
        }
    };
    let updated_since = match query.updated_since.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(raw) => match DateTime::parse_from_rfc3339(raw) {
            Ok(time) => Some(time.with_timezone(&Utc).naive_utc()),
            Err(_) => {
                errors.push(FieldError::new(
                    "updated_since",
                    "invalid_format",
                    "An RFC 3339 time such as 2026-01-31T12:00:00Z.",
                ));
                None
            }
        },
    };
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    Ok((
        area,
        Filters {
            categories: split_list("category", query.category.as_deref())?,
            statuses,
            text: text.map(str::to_lowercase),
            reported_by: None,
            updated_since,
        },
        mine,
    ))
}

/// Find issues: near a point (nearest first), inside a box or anywhere (newest first).
///
/// `near=lat,lon&radius=m` (default 1000 m, at most 50 km) or
/// `bbox=min_lon,min_lat,max_lon,max_lat` (at most 10° across); filters `category` and
/// `status` (comma-separated), `q` (text in title or description), `reported_by=me`,
/// `updated_since`. Cursor pagination; anonymous reporters are hidden.
///
/// To keep a cached copy in step, ask for `updated_since=<time of your last fetch>` and
/// `include_deleted=true`: the pages then also carry tombstones `{id, deleted: true}`
/// for issues that changed since then and are no longer in the public list at all
/// (deleted or hidden), whatever the other filters; drop those from your copy. They come
/// in the list's order (newest first by id; in a `near` search, before the issues). An
/// issue that merely stopped matching your filters is not reported. For everything that
/// concerns a signed-in citizen, `GET /sync` is the better tool.
#[utoipa::path(
    tag = "Issues",
    params(ListIssuesQuery, IncludeDeletedQuery),
    responses(
        (status = 200, description = "A page of issues (and, with `include_deleted`, tombstones)", body = Page<IssueListItem>),
        (status = 400, response = crate::error::BadRequest),
        (status = 401, response = crate::error::Unauthorized),
        (status = 422, response = crate::error::ValidationFailed),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[get("/issues")]
pub async fn list_issues(
    state: web::Data<AppState>,
    viewer: Viewer,
    query: web::Query<ListIssuesQuery>,
    deleted: web::Query<IncludeDeletedQuery>,
) -> ApiResult<web::Json<Page<IssueListItem>>> {
    let query = query.into_inner();
    let (area, mut filters, mine) = parse_search(&query, viewer.signed_in())?;
    let include_deleted = deleted.include_deleted.unwrap_or(false);
    if include_deleted && filters.updated_since.is_none() {
        return Err(ApiError::invalid_field(
            "include_deleted",
            "needs_updated_since",
            "Tombstones are of issues gone since `updated_since`: give it too.",
        ));
    }
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor,
    };
    let limit = page.limit()?;
    let cursor: Option<IssueCursor> = page.after()?;
    let cursor_fits = matches!(
        (&area, &cursor),
        (_, None)
            | (Area::Near(_), Some(IssueCursor::Distance { .. }))
            | (
                Area::Within(_) | Area::Anywhere,
                Some(IssueCursor::Newest { .. })
            )
    );
    if !cursor_fits {
        return Err(ApiError::invalid_field(
            "cursor",
            "invalid_cursor",
            "This cursor belongs to a different kind of search.",
        ));
    }
    let cursor_before = cursor.clone();
    let page = db::read(&state.pool, move |conn| {
        let viewer = viewer.check(conn)?;
        // `mine` comes only with a token, whose check answered an account or refused.
        if let (true, Some(user)) = (mine, &viewer) {
            filters.reported_by = Some(user.account_id.clone());
        }
        let mut rows = models::search_issues(conn, area, &filters, cursor, limit + 1)?;
        let mut distances = Vec::with_capacity(rows.len());
        if let Area::Near(circle) = area {
            // The index narrowed by an approximation; cut at the exact radius. Rows come
            // nearest first, so everything after the first one outside is outside too.
            let inside = rows
                .iter()
                .take_while(|(row, _)| {
                    models::distance_m(circle.lat, circle.lon, row.lat, row.lon) <= circle.radius_m
                })
                .count();
            rows.truncate(inside);
            distances = rows
                .iter()
                .map(|(row, _)| models::distance_m(circle.lat, circle.lon, row.lat, row.lon))
                .collect();
        }
        let keys: Vec<IssueCursor> = rows
            .iter()
            .map(|(row, d)| match d {
                Some(d) => IssueCursor::Distance {
                    d: *d,
                    id: row.id.clone(),
                },
                None => IssueCursor::Newest {
                    before: row.id.clone(),
                },
            })
            .collect();
        let views = issue_views(
            conn,
            rows.into_iter().map(|(row, _)| row).collect(),
            viewer.as_ref(),
        )?;
        let mut views: Vec<(IssueView, IssueCursor)> = views.into_iter().zip(keys).collect();
        for ((view, _), distance) in views.iter_mut().zip(distances) {
            view.distance_m = Some(models::shown_metres(distance));
        }
        let mut items: Vec<(IssueListItem, IssueCursor)> = views
            .into_iter()
            .map(|(view, key)| (IssueListItem::Issue(Box::new(view)), key))
            .collect();
        if let (true, Some(since)) = (include_deleted, filters.updated_since) {
            items = with_tombstones(conn, items, area, since, cursor_before, limit + 1)?;
        }
        Ok(Page::from_rows(
            items,
            limit,
            |(_, key)| key.clone(),
            |(item, _)| item,
        ))
    })
    .await?;
    Ok(web::Json(page))
}

/// Merges into a page's entries, in the list's order, the tombstones of issues gone from
/// the list since `since` that come after `cursor`: by id, newest first, among the issues
/// of a box or of the whole map; all before the issues of a `near` search (they have no
/// distance), keyed at distance -1 so the cursor can stand among them.
fn with_tombstones(
    conn: &mut db::DbConnection,
    items: Vec<(IssueListItem, IssueCursor)>,
    area: Area,
    since: chrono::NaiveDateTime,
    cursor: Option<IssueCursor>,
    fetch: i64,
) -> ApiResult<Vec<(IssueListItem, IssueCursor)>> {
    use crate::sync::models::{GoneOrder, gone_issues};
    let tombstone =
        |id: String, key: IssueCursor| (IssueListItem::Deleted(Tombstone::new(id)), key);
    if let Area::Near(_) = area {
        let after = match cursor {
            None => None,
            Some(IssueCursor::Distance { d, id }) if d < 0.0 => Some(id),
            // Past the tombstones already.
            Some(_) => return Ok(items),
        };
        let gone = gone_issues(conn, since, GoneOrder::Ascending { after }, fetch)?;
        let mut merged: Vec<_> = gone
            .into_iter()
            .map(|id| tombstone(id.clone(), IssueCursor::Distance { d: -1.0, id }))
            .collect();
        merged.extend(items);
        return Ok(merged);
    }
    let before = match cursor {
        Some(IssueCursor::Newest { before }) => Some(before),
        _ => None,
    };
    let gone = gone_issues(conn, since, GoneOrder::NewestFirst { before }, fetch)?;
    let mut merged: Vec<_> = items;
    merged.extend(
        gone.into_iter()
            .map(|id| tombstone(id.clone(), IssueCursor::Newest { before: id })),
    );
    let id_of = |key: &IssueCursor| match key {
        IssueCursor::Newest { before } => before.clone(),
        IssueCursor::Distance { id, .. } => id.clone(),
    };
    merged.sort_by_key(|(_, key)| std::cmp::Reverse(id_of(key)));
    Ok(merged)
}

/// Likely duplicates: up to five open issues of a category within 250 m of a point,
/// nearest first. Show them before a resident reports.
#[utoipa::path(
    tag = "Issues",
    params(DuplicatesQuery),
    responses(
        (status = 200, description = "Open issues close by, nearest first", body = Vec<IssueView>),
        (status = 400, response = crate::error::BadRequest),
        (status = 401, response = crate::error::Unauthorized),
        (status = 422, response = crate::error::ValidationFailed),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[get("/issues/duplicates")]
pub async fn list_duplicate_candidates(
    state: web::Data<AppState>,
    viewer: Viewer,
    query: web::Query<DuplicatesQuery>,
) -> ApiResult<web::Json<Vec<IssueView>>> {
    let query = query.into_inner();
    let position =
        Coordinates::new("lat", query.lat, "lon", query.lon).map_err(ApiError::validation)?;
    if query.category.is_empty() || query.category.len() > 50 {
        return Err(ApiError::invalid_field(
            "category",
            "invalid",
            "A category code.",
        ));
    }
    let views = db::read(&state.pool, move |conn| {
        let viewer = viewer.check(conn)?;
        let circle = Circle {
            lat: position.lat,
            lon: position.lon,
            radius_m: DUPLICATE_RADIUS_M,
        };
        let rows = models::nearby_open(conn, &query.category, circle, None, MAX_DUPLICATES)?;
        let mut views = issue_views(conn, rows, viewer.as_ref())?;
        for view in &mut views {
            let distance = models::distance_m(position.lat, position.lon, view.lat, view.lon);
            view.distance_m = Some(models::shown_metres(distance));
        }
        Ok(views)
    })
    .await?;
    Ok(web::Json(views))
}

/// One issue, with its photos, counts, and what the caller may do with it.
///
/// An issue moderators hid is `404` for everyone but staff, who see it with
/// `hidden: true`.
#[utoipa::path(
    tag = "Issues",
    params(("id" = String, Path, description = "Issue id")),
    responses(
        (status = 200, description = "The issue", body = IssueDetail),
        (status = 401, response = crate::error::Unauthorized),
        (status = 404, response = crate::error::NotFound),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[get("/issues/{id}")]
pub async fn get_issue(
    state: web::Data<AppState>,
    viewer: Viewer,
    id: web::Path<String>,
) -> ApiResult<web::Json<IssueDetail>> {
    let id = id.into_inner();
    let detail = db::read(&state.pool, move |conn| {
        let Some(token) = viewer.verify(conn)? else {
            return issue_detail(conn, &id, None);
        };
        let found = models::find_issue_in_detail_for_session(
            conn,
            &id,
            token.session_id(),
            token.account_id(),
        )?;
        // The session first: a token whose session ended is refused, issue or none.
        let (user, issue) = token.admit(found)?;
        detail_from(
            conn,
            issue.ok_or(diesel::result::Error::NotFound),
            Some(&user),
        )
    })
    .await?;
    Ok(web::Json(detail))
}

/// Everything `GET /issues/{id}` shows, for `viewer` (404 for a hidden issue unless
/// they are staff). The issue, its category's and reporter's names and the viewer's
/// bonds come in one statement; the rest only when the issue has them (photos, an
/// adopting group, a reporting partner).
pub(crate) fn issue_detail(
    conn: &mut db::DbConnection,
    id: &str,
    viewer: Option<&AuthUser>,
) -> ApiResult<IssueDetail> {
    let account = viewer.map(|v| v.account_id.as_str());
    let found = models::find_issue_in_detail(conn, id, account);
    detail_from(conn, found, viewer)
}

/// [`issue_detail`] of the issue as `found` (hidden or not) for `viewer`, whose bonds
/// it holds.
fn detail_from(
    conn: &mut db::DbConnection,
    found: diesel::QueryResult<models::IssueInDetail>,
    viewer: Option<&AuthUser>,
) -> ApiResult<IssueDetail> {
    let found = visible_to(found, |found| &found.row, viewer)?;
    let row = found.row;
    let mut names = Names::of_groups_and_partners(conn, std::slice::from_ref(&row))?;
    names.categories.extend(
        found
            .category_name
            .map(|name| (row.category_code.clone(), name)),
    );
    names
        .people
        .extend(row.reporter_id.clone().zip(found.reporter_name));
    let bonds = viewer.map(|_| found.bonds);
    Ok(detail_with(conn, row, &names, bonds, viewer)?)
}

/// The detail of an issue already read, as `viewer` may see it.
pub(crate) fn detail_of(
    conn: &mut db::DbConnection,
    row: IssueRow,
    viewer: Option<&AuthUser>,
) -> diesel::QueryResult<IssueDetail> {
    let bonds = match viewer {
        Some(user) => Some(models::bonds_of(conn, &row.id, &user.account_id)?),
        None => None,
    };
    let names = Names::of(conn, std::slice::from_ref(&row), viewer)?;
    detail_with(conn, row, &names, bonds, viewer)
}

/// The detail of `row` with its names looked up and `viewer`'s bonds to it (supported,
/// followed).
fn detail_with(
    conn: &mut db::DbConnection,
    row: IssueRow,
    names: &Names,
    bonds: Option<(bool, bool)>,
    viewer: Option<&AuthUser>,
) -> diesel::QueryResult<IssueDetail> {
    let allowed = allowed_for(conn, &row, viewer, db::now())?;
    let mut reporter_contact: Option<serde_json::Value> = row
        .reporter_contact
        .as_deref()
        .filter(|_| viewer.is_some_and(|v| v.role.is_staff()))
        .and_then(|contact| serde_json::from_str(contact).ok());
    // The council's staff also see a resident reporter's contact once the issue is with
    // the council, while the reporter consents to `contact_council`.
    let council_staff = viewer.is_some_and(|v| matches!(v.role, Role::Officer | Role::Admin));
    let with_council = Status::parse(&row.status).is_some_and(Status::is_with_council);
    if let (true, true, None, Some(reporter)) = (
        council_staff,
        with_council,
        &reporter_contact,
        &row.reporter_id,
    ) {
        reporter_contact = crate::privacy::consents::council_contact(conn, reporter)?;
    }
    let staff = sees_hidden(viewer);
    // The count only grows (a hidden photo still counts), so 0 means there are none.
    let photos = if row.photo_count > 0 {
        crate::photos::models::list_photos(conn, &row.id, staff)?
            .into_iter()
            .map(crate::photos::PhotoView::from)
            .collect()
    } else {
        Vec::new()
    };
    let hidden = staff.then_some(row.is_hidden());
    Ok(IssueDetail {
        issue: names.view(row, viewer),
        photos,
        supported_by_me: bonds.map(|(supported, _)| supported),
        followed_by_me: bonds.map(|(_, followed)| followed),
        allowed_transitions: allowed,
        reporter_contact,
        hidden,
    })
}

/// Edit an issue: the reporter while it is still `reported`, staff at any time. Only
/// staff may change the category. Every change is recorded on the timeline.
///
/// Send `If-Match` with the `ETag` of the issue as you last read it to be sure nobody
/// changed it since: a stale tag answers `412` and changes nothing. An issue moderators
/// hid is `404` for everyone but staff.
#[utoipa::path(
    tag = "Issues",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "Issue id"),
        ("If-Match" = Option<String>, Header, description = "The `ETag` of the issue as last read"),
    ),
    request_body = UpdateIssueRequest,
    responses(
        (status = 200, description = "The updated issue", body = IssueDetail),
        (status = 400, response = crate::error::BadRequest),
        (status = 401, response = crate::error::Unauthorized),
        (status = 403, response = crate::error::Forbidden),
        (status = 404, response = crate::error::NotFound),
        (status = 412, response = crate::error::PreconditionFailed),
        (status = 413, response = crate::error::PayloadTooLarge),
        (status = 415, response = crate::error::UnsupportedMediaType),
        (status = 422, response = crate::error::ValidationFailed),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[patch("/issues/{id}")]
pub async fn update_issue(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
    req: HttpRequest,
    body: web::Json<UpdateIssueRequest>,
) -> ApiResult<web::Json<IssueDetail>> {
    user.ensure_may_post()?;
    let id = id.into_inner();
    let if_match = conditional::if_match(&req);
    let body = body.into_inner();
    let mut errors = FieldErrors::new();
    let title = errors.optional(body.title.as_deref(), |t| Title::parse("title", t));
    let description = errors.optional(body.description.as_deref(), |d| {
        Description::parse("description", d)
    });
    let address = match &body.address {
        None => None,
        Some(None) => Some(None),
        Some(Some(a)) if a.trim().is_empty() => Some(None),
        Some(Some(a)) => Address::parse("address", a)
            .map(|a| Some(Some(a.into_inner())))
            .map_err(|e| errors.push(e))
            .ok()
            .flatten(),
    };
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let detail = db::write(&state.pool, move |conn| {
        let row = visible_issue(conn, &id, Some(&user))?;
        let is_reporter = row.reporter_id.as_deref() == Some(user.account_id.as_str());
        if !user.role.is_staff() {
            if !is_reporter {
                return Err(ApiError::forbidden(
                    "not_reporter",
                    "Only the reporter or staff may edit an issue.",
                ));
            }
            if row.status != Status::Reported.as_str() {
                return Err(ApiError::forbidden(
                    "no_longer_editable",
                    "The reporter may edit an issue only while it is `reported`.",
                ));
            }
            if body.category.is_some() {
                return Err(ApiError::forbidden(
                    "staff_only_field",
                    "Only staff may change the category.",
                ));
            }
        }
        let current = issue_detail(conn, &row.id, Some(&user))?;
        conditional::check_if_match(if_match.as_deref(), &current)?;
        let mut changes = IssueChangeset::default();
        let mut changed: Vec<&str> = Vec::new();
        if let Some(title) = title.map(Title::into_inner).filter(|t| *t != row.title) {
            changes.title = Some(title);
            changed.push("title");
        }
        if let Some(description) = description
            .map(Description::into_inner)
            .filter(|d| *d != row.description)
        {
            changes.description = Some(description);
            changed.push("description");
        }
        if let Some(address) = address.filter(|a| *a != row.address) {
            changes.address = Some(address);
            changed.push("address");
        }
        let category = body
            .category
            .clone()
            .unwrap_or_else(|| row.category_code.clone());
        if body.category.is_some() || body.answers.is_some() {
            let answers = body
                .answers
                .clone()
                .unwrap_or_else(|| serde_json::from_str(&row.answers).unwrap_or_default());
            let answers = checked_answers(conn, &category, &answers)?;
            if category != row.category_code {
                changes.category_code = Some(category);
                changed.push("category");
            }
            if answers != row.answers {
                changes.answers = Some(answers);
                changed.push("answers");
            }
        }
        if !changed.is_empty() {
            let now = db::now();
            changes.updated_at = Some(now);
            models::update_issue(conn, &row.id, &changes)?;
            timeline::record(
                conn,
                &row.id,
                NewEvent {
                    kind: EventKind::Edited,
                    actor: actor(&user),
                    from_status: None,
                    to_status: None,
                    body: None,
                    data: Some(serde_json::json!({ "fields": changed })),
                },
                now,
            )?;
        }
        issue_detail(conn, &row.id, Some(&user))
    })
    .await?;
    Ok(web::Json(detail))
}
