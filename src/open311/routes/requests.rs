//! Reading service requests: the search (`GET requests`) and one request
//! (`GET requests/{id}`), both a list of `request`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, get, web};
use chrono::{NaiveDateTime, TimeDelta};

use super::{Open311Errors, Reply, query_params};
use crate::db::{self, utc};
use crate::issues::lifecycle::Status;
use crate::issues::models::{Circle, IssueRow};
use crate::issues::routes::{DEFAULT_RADIUS_M, MAX_RADIUS_M};
use crate::issues::timeline::EventRow;
use crate::open311::error::{Open311Error, Open311Result};
use crate::open311::format::Format;
use crate::open311::params::{self, Params};
use crate::open311::queries::{self, PageExtras, Search, Selection, StatusFilter};
use crate::open311::views::{ExtendedAttributes, Note, OpenClosed, ServiceRequest};
use crate::startup::AppState;

/// The most ids `service_request_id` may list.
const MAX_IDS: usize = 100;
/// The most service codes `service_code` may list.
const MAX_CODES: usize = 100;
/// The widest span of `start_date`..`end_date`, and the default window.
const MAX_SPAN_DAYS: i64 = 90;
/// The last page that may be asked for.
const MAX_PAGE: i64 = 10_000;
/// The largest (and default) page.
const MAX_PAGE_SIZE: i64 = 1000;

/// A stored time as Open311 shows it: UTC, to the second, with `Z`.
fn open311_time(time: NaiveDateTime) -> String {
    utc(time).format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Reads an optional parameter with `parse`, recording its problem.
fn optional<T>(
    params: &Params,
    name: &str,
    problems: &mut Vec<String>,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Option<T> {
    params
        .get(name)
        .and_then(|raw| parse(raw).map_err(|problem| problems.push(problem)).ok())
}

/// The requested window: defaults to the last 90 days, or 90 days from the one end given.
fn window(
    start: Option<NaiveDateTime>,
    end: Option<NaiveDateTime>,
    problems: &mut Vec<String>,
) -> (NaiveDateTime, NaiveDateTime) {
    let span = TimeDelta::days(MAX_SPAN_DAYS);
    let (start, end) = match (start, end) {
        (Some(start), Some(end)) => (start, end),
        (Some(start), None) => (start, start + span),
        (None, Some(end)) => (end - span, end),
        (None, None) => {
            let now = db::now();
            (now - span, now)
        }
    };
    if start > end {
        problems.push("`start_date` must not be after `end_date`.".to_owned());
    } else if end - start > span {
        problems.push(format!(
            "`start_date` to `end_date` may span at most {MAX_SPAN_DAYS} days."
        ));
    }
    (start, end)
}

fn status_filter(raw: &str) -> Result<Option<StatusFilter>, String> {
    let (mut open, mut closed) = (false, false);
    for status in params::split_list("status", Some(raw), 2)? {
        match status {
            "open" => open = true,
            "closed" => closed = true,
            _ => return Err("`status` is `open`, `closed` or `open,closed`.".to_owned()),
        }
    }
    Ok(match (open, closed) {
        (true, false) => Some(StatusFilter::Open),
        (false, true) => Some(StatusFilter::Closed),
        _ => None,
    })
}

fn near(params: &Params, problems: &mut Vec<String>) -> Option<Circle> {
    let position = params::parse_position(params, problems);
    let radius = optional(params, "radius", problems, |raw| {
        params::parse_number("radius", raw).and_then(|radius| {
            (radius > 0.0 && radius <= MAX_RADIUS_M)
                .then_some(radius)
                .ok_or_else(|| {
                    format!("`radius` must be above 0 and at most {MAX_RADIUS_M} metres.")
                })
        })
    });
    match position {
        Some((lat, lon)) => Some(Circle {
            lat,
            lon,
            radius_m: radius.unwrap_or(DEFAULT_RADIUS_M),
        }),
        None => {
            if radius.is_some() && params.get("lat").is_none() && params.get("long").is_none() {
                problems.push("`radius` needs `lat` and `long`.".to_owned());
            }
            None
        }
    }
}

/// The validated selection of `GET requests`. With `service_request_id`, every other
/// filter is ignored (and not checked).
fn selection(params: &Params) -> Open311Result<Selection> {
    let ids = params::split_list(
        "service_request_id",
        params.get("service_request_id"),
        MAX_IDS,
    )
    .map_err(Open311Error::invalid)?;
    if !ids.is_empty() {
        return Ok(Selection::Ids(ids.into_iter().map(str::to_owned).collect()));
    }
    let mut problems = Vec::new();
    let service_codes = params::split_list("service_code", params.get("service_code"), MAX_CODES)
        .map_err(|problem| problems.push(problem))
        .unwrap_or_default()
        .into_iter()
        .map(str::to_owned)
        .collect();
    let time = |name: &'static str| move |raw: &str| params::parse_time(name, raw);
    let start = optional(params, "start_date", &mut problems, time("start_date"));
    let end = optional(params, "end_date", &mut problems, time("end_date"));
    let (start, end) = window(start, end, &mut problems);
    let status = optional(params, "status", &mut problems, status_filter).flatten();
    let updated_after = optional(
        params,
        "updated_after",
        &mut problems,
        time("updated_after"),
    );
    let updated_before = optional(
        params,
        "updated_before",
        &mut problems,
        time("updated_before"),
    );
    let near = near(params, &mut problems);
    let page = optional(params, "page", &mut problems, |raw| {
        params::parse_whole("page", raw, 1, MAX_PAGE)
    })
    .unwrap_or(1);
    let page_size = optional(params, "page_size", &mut problems, |raw| {
        params::parse_whole("page_size", raw, 1, MAX_PAGE_SIZE)
    })
    .unwrap_or(MAX_PAGE_SIZE);
    if !problems.is_empty() {
        return Err(Open311Error::bad_request(problems));
    }
    Ok(Selection::Search(Search {
        service_codes,
        start,
        end,
        status,
        updated_after,
        updated_before,
        near,
        offset: (page - 1) * page_size,
        limit: page_size,
    }))
}

/// What an event says: its text, or what happened when it has none (or when moderators
/// removed its text).
fn summary(event: &EventRow) -> String {
    if event.hidden_at.is_some() {
        return "Comment removed by moderators.".to_owned();
    }
    if let Some(text) = event.body.as_deref().filter(|t| !t.trim().is_empty()) {
        return text.to_owned();
    }
    if event.deleted_at.is_some() {
        return "Comment deleted.".to_owned();
    }
    match event.kind.as_str() {
        "reported" => "Reported.".to_owned(),
        "status_changed" => format!(
            "Status changed to {}.",
            event.to_status.as_deref().unwrap_or("another status")
        ),
        "edited" => "Details edited.".to_owned(),
        "photo_added" => "Photo added.".to_owned(),
        "marked_duplicate" => "Marked as a duplicate of another request.".to_owned(),
        "duplicate_merged" => "A duplicate request was merged into this one.".to_owned(),
        "adopted" => "Adopted by a community group.".to_owned(),
        "adoption_released" => "Released by the community group that adopted it.".to_owned(),
        "pledged" => "Help was pledged.".to_owned(),
        other => other.replace('_', " "),
    }
}

fn note(event: &EventRow) -> Note {
    Note {
        kind: event.kind.clone(),
        datetime: open311_time(event.created_at),
        summary: summary(event),
        status: event.to_status.clone(),
    }
}

/// Builds the requests of a page, in the order of `rows`.
fn service_requests(
    state: &AppState,
    rows: Vec<IssueRow>,
    extras: &mut PageExtras,
    extensions: bool,
) -> Vec<ServiceRequest> {
    let config = &state.config;
    rows.into_iter()
        .map(|row| {
            let status = Status::parse(&row.status).unwrap_or(Status::Reported);
            let status_notes = match extras.status_notes.get(&row.id) {
                Some(note) => format!("{}: {note}", status.as_str()),
                None => status.as_str().to_owned(),
            };
            let agency_responsible = row
                .adopted_by_group_id
                .as_ref()
                .and_then(|group| extras.group_names.get(group).cloned())
                .unwrap_or_else(|| config.council_name.clone());
            let media_url = extras
                .first_photos
                .get(&row.id)
                .map(|photo| format!("{}/api/v1/photos/{photo}", config.public_url))
                .or(row.media_url);
            let extended_attributes = extensions.then(|| ExtendedAttributes {
                civitas_status: status.as_str().to_owned(),
                title: row.title,
                support_count: row.support_count,
                notes: extras
                    .timelines
                    .remove(&row.id)
                    .unwrap_or_default()
                    .iter()
                    .map(note)
                    .collect(),
            });
            ServiceRequest {
                status: if status.is_open() {
                    OpenClosed::Open
                } else {
                    OpenClosed::Closed
                },
                status_notes,
                service_name: extras
                    .service_names
                    .get(&row.category_code)
                    .cloned()
                    .unwrap_or_else(|| row.category_code.clone()),
                service_code: row.category_code,
                description: Some(row.description).filter(|d| !d.trim().is_empty()),
                agency_responsible,
                requested_datetime: open311_time(row.created_at),
                updated_datetime: open311_time(row.updated_at),
                address: row.address.filter(|a| !a.trim().is_empty()),
                lat: row.lat,
                long: row.lon,
                media_url,
                extended_attributes,
                service_request_id: row.id,
            }
        })
        .collect()
}

/// Loads the selected requests and builds their answers.
async fn load_requests(
    state: &web::Data<AppState>,
    selection: Selection,
    extensions: bool,
) -> Open311Result<Vec<ServiceRequest>> {
    let app = state.clone();
    Ok(db::read(&state.pool, move |conn| {
        let rows = queries::find_requests(conn, &selection)?;
        let mut extras = queries::page_extras(conn, &rows, extensions)?;
        Ok(service_requests(&app, rows, &mut extras, extensions))
    })
    .await?)
}

/// Service requests, newest first.
///
/// By default those requested in the last 90 days, at most 1000. `service_request_id`
/// (comma-separated, at most 100) picks requests by id and overrides every other filter.
/// Filters: `service_code` (comma-separated), `start_date` / `end_date` (ISO 8601 with a
/// zone, or a date; at most 90 days apart; one alone spans 90 days from it), `status`
/// (`open`, `closed`), `updated_after` / `updated_before`, `lat` + `long` + `radius`
/// (metres, default 1000, at most 50000). Pages: `page` (from 1) and `page_size` (at
/// most 1000). `extensions=true` adds `extended_attributes`: the precise status, title,
/// support count and the public timeline as `notes`. Requests moderators took out of
/// public view are never listed, even by id.
#[utoipa::path(
    tag = "Open311",
    params(
        ("format" = String, Path, description = "`xml` or `json`"),
        ("jurisdiction_id" = Option<String>, Query, description = "Accepted if it is this server's"),
        ("service_request_id" = Option<String>, Query, description = "Ids, comma-separated (at most 100); overrides every other filter"),
        ("service_code" = Option<String>, Query, description = "Service codes, comma-separated (at most 100)"),
        ("start_date" = Option<String>, Query, description = "Requested at or after (ISO 8601 with a zone, or a date)"),
        ("end_date" = Option<String>, Query, description = "Requested at or before (at most 90 days after `start_date`)"),
        ("status" = Option<String>, Query, description = "`open`, `closed` or `open,closed`"),
        ("updated_after" = Option<String>, Query, description = "Changed after (ISO 8601 with a zone)"),
        ("updated_before" = Option<String>, Query, description = "Changed before (ISO 8601 with a zone)"),
        ("lat" = Option<f64>, Query, description = "With `long`: only requests within `radius` of this point (−90 to 90)", minimum = -90, maximum = 90),
        ("long" = Option<f64>, Query, description = "With `lat` (−180 to 180)", minimum = -180, maximum = 180),
        ("radius" = Option<f64>, Query, description = "Metres around `lat`/`long`: above 0, at most 50000; default 1000", exclusive_minimum = 0, maximum = 50000),
        ("page" = Option<i64>, Query, description = "From 1 (at most 10000)", minimum = 1, maximum = 10000),
        ("page_size" = Option<i64>, Query, description = "1 to 1000, default 1000", minimum = 1, maximum = 1000),
        ("extensions" = Option<bool>, Query, description = "`true` adds `extended_attributes`"),
    ),
    responses(
        (status = 200, description = "The requests", content(
            (Vec<ServiceRequest> = "application/json"), (String = "text/xml"))),
        (status = 400, response = Open311Errors),
        (status = 404, response = Open311Errors),
    )
)]
#[get("/requests.{format}")]
pub async fn list_requests(state: web::Data<AppState>, format: Format, req: HttpRequest) -> Reply {
    let answer = async {
        let params = query_params(&state, &req)?;
        let selection = selection(&params)?;
        load_requests(&state, selection, params.flag("extensions")).await
    };
    format.respond(StatusCode::OK, "service_requests", answer.await)
}

/// One service request, as a list of one (`404` for one moderators took out of public
/// view).
#[utoipa::path(
    tag = "Open311",
    params(
        ("service_request_id" = String, Path, description = "The request's id"),
        ("format" = String, Path, description = "`xml` or `json`"),
        ("jurisdiction_id" = Option<String>, Query, description = "Accepted if it is this server's"),
        ("extensions" = Option<bool>, Query, description = "`true` adds `extended_attributes`"),
    ),
    responses(
        (status = 200, description = "The request", content(
            (Vec<ServiceRequest> = "application/json"), (String = "text/xml"))),
        (status = 404, response = Open311Errors),
    )
)]
#[get("/requests/{service_request_id}.{format}")]
pub async fn get_request(
    state: web::Data<AppState>,
    format: Format,
    path: web::Path<(String, String)>,
    req: HttpRequest,
) -> Reply {
    let (id, _) = path.into_inner();
    let answer = async {
        let params = query_params(&state, &req)?;
        let requests =
            load_requests(&state, Selection::Ids(vec![id]), params.flag("extensions")).await?;
        if requests.is_empty() {
            return Err(Open311Error::not_found("There is no such service request."));
        }
        Ok(requests)
    };
    format.respond(StatusCode::OK, "service_requests", answer.await)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(query: &str) -> Vec<String> {
        match selection(&Params::parse(query.as_bytes()).unwrap()) {
            Ok(_) => Vec::new(),
            Err(error) => error.problems().to_vec(),
        }
    }

    #[test]
    fn documented_ranges_are_the_enforced_ones() {
        use crate::openapi::bounds::{assert_range, route_param};
        let passes = |query: String| problems(&query).is_empty();
        assert_range(&route_param::<list_requests>("lat"), 0.001, |lat| {
            passes(format!("lat={lat}&long=0"))
        });
        assert_range(&route_param::<list_requests>("long"), 0.001, |long| {
            passes(format!("lat=0&long={long}"))
        });
        assert_range(&route_param::<list_requests>("radius"), 0.5, |radius| {
            passes(format!("lat=0&long=0&radius={radius}"))
        });
        assert_range(&route_param::<list_requests>("page"), 1.0, |page| {
            passes(format!("page={page}"))
        });
        assert_range(&route_param::<list_requests>("page_size"), 1.0, |size| {
            passes(format!("page_size={size}"))
        });
    }

    fn search(query: &str) -> Search {
        match selection(&Params::parse(query.as_bytes()).unwrap()) {
            Ok(Selection::Search(search)) => search,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn ids_override_every_other_filter() {
        let selected =
            selection(&Params::parse(b"service_request_id=a,b&status=nonsense&page=0").unwrap())
                .unwrap();
        assert!(matches!(selected, Selection::Ids(ids) if ids == ["a", "b"]));
        let many = format!("service_request_id={}", vec!["x"; MAX_IDS + 1].join(","));
        assert_eq!(problems(&many).len(), 1);
    }

    #[test]
    fn the_window_defaults_to_ninety_days() {
        let found = search("");
        assert_eq!(found.end - found.start, TimeDelta::days(90));
        let found = search("start_date=2026-01-01");
        assert_eq!(open311_time(found.end), "2026-04-01T00:00:00Z");
        let found = search("end_date=2026-04-01T00:00:00Z");
        assert_eq!(open311_time(found.start), "2026-01-01T00:00:00Z");
        assert_eq!(
            problems("start_date=2026-01-01&end_date=2026-04-02").len(),
            1
        );
        assert_eq!(
            problems("start_date=2026-02-01&end_date=2026-01-01").len(),
            1
        );
        assert!(problems("start_date=2026-01-01&end_date=2026-03-31").is_empty());
    }

    #[test]
    fn bad_values_are_each_named() {
        assert_eq!(
            problems("status=pending&page=0&page_size=1001&lat=95").len(),
            4
        );
        assert_eq!(problems("radius=0&lat=1&long=1").len(), 1);
        assert_eq!(problems("radius=50").len(), 1);
        assert_eq!(problems("start_date=yesterday").len(), 1);
    }

    #[test]
    fn statuses_are_open_closed_or_both() {
        assert_eq!(search("status=open").status, Some(StatusFilter::Open));
        assert_eq!(search("status=closed").status, Some(StatusFilter::Closed));
        assert_eq!(search("status=open,closed").status, None);
        assert_eq!(search("status=").status, None);
    }

    #[test]
    fn pages_become_offsets() {
        let found = search("page=3&page_size=20");
        assert_eq!((found.offset, found.limit), (40, 20));
        let found = search("");
        assert_eq!((found.offset, found.limit), (0, 1000));
    }
}
