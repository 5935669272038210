//! The Open311 queries over issues: the request search, lookups by token, and what a page
//! of requests needs besides its rows (category names, adopting groups, first photos,
//! status notes, timelines), one query each for the whole page.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::{categories, issue_events, issue_photos, issues};
use crate::issues::lifecycle::Status;
use crate::issues::models::{self, Circle, IssueRow};
use crate::issues::timeline::EventRow;

/// Which requests `GET requests` lists.
#[derive(Debug, Clone)]
pub enum Selection {
    /// These ids, whatever else was asked.
    Ids(Vec<String>),
    Search(Search),
}

/// `open`, `closed`, or both when `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    Open,
    Closed,
}

/// The filters of a request search. Times are naive UTC, as stored.
#[derive(Debug, Clone)]
pub struct Search {
    pub service_codes: Vec<String>,
    /// Requested at or after.
    pub start: NaiveDateTime,
    /// Requested at or before.
    pub end: NaiveDateTime,
    pub status: Option<StatusFilter>,
    /// Changed strictly after.
    pub updated_after: Option<NaiveDateTime>,
    /// Changed strictly before.
    pub updated_before: Option<NaiveDateTime>,
    pub near: Option<Circle>,
    pub offset: i64,
    pub limit: i64,
}

/// The requests selected, newest first (then by id, newest first). Issues moderators hid
/// are never among them, even asked for by id.
pub fn find_requests(conn: &mut DbConnection, selection: &Selection) -> QueryResult<Vec<IssueRow>> {
    match selection {
        Selection::Ids(ids) => issues::table
            .filter(issues::id.eq_any(ids))
            .filter(issues::hidden_at.is_null())
            .select(IssueRow::as_select())
            .order((issues::created_at.desc(), issues::id.desc()))
            .load(conn),
        Selection::Search(search) => search_requests(conn, search),
    }
}

fn search_requests(conn: &mut DbConnection, search: &Search) -> QueryResult<Vec<IssueRow>> {
    let mut query = issues::table
        .select(IssueRow::as_select())
        .filter(issues::hidden_at.is_null())
        .filter(issues::created_at.ge(search.start))
        .filter(issues::created_at.le(search.end))
        .into_boxed();
    if !search.service_codes.is_empty() {
        query = query.filter(issues::category_code.eq_any(search.service_codes.clone()));
    }
    let open = Status::open_states();
    match search.status {
        Some(StatusFilter::Open) => query = query.filter(issues::status.eq_any(open)),
        Some(StatusFilter::Closed) => query = query.filter(issues::status.ne_all(open)),
        None => {}
    }
    if let Some(after) = search.updated_after {
        query = query.filter(issues::updated_at.gt(after));
    }
    if let Some(before) = search.updated_before {
        query = query.filter(issues::updated_at.lt(before));
    }
    if let Some(circle) = search.near {
        let (min_lat, max_lat, min_lon, max_lon) = circle.bounds();
        // The (lat, lon) index narrows to the box; the same equirectangular approximation
        // as `issues::models::search_issues` (within a few parts per million of the true
        // distance up to 50 km) cuts the corners, so a page is not thinned after the fact.
        let (c0, s0) = (circle.lon_scale(), circle.lat.to_radians().sin());
        let slope = -s0 * std::f64::consts::PI / 360.0;
        let dlat = issues::lat - circle.lat;
        let dlon = (issues::lon - circle.lon) * ((issues::lat - circle.lat) * slope + c0);
        let limit_d2 = (circle.radius_m / models::METRES_PER_DEGREE).powi(2);
        query = query
            .filter(issues::lat.between(min_lat, max_lat))
            .filter(issues::lon.between(min_lon, max_lon))
            .filter((dlat * dlat + dlon * dlon).le(limit_d2 * 1.000_001));
    }
    let rows: Vec<IssueRow> = query
        .order((issues::created_at.desc(), issues::id.desc()))
        .offset(search.offset)
        .limit(search.limit)
        .load(conn)?;
    Ok(match search.near {
        Some(circle) => rows
            .into_iter()
            .filter(|row| {
                models::distance_m(circle.lat, circle.lon, row.lat, row.lon) <= circle.radius_m
            })
            .collect(),
        None => rows,
    })
}

/// The id of the issue an Open311 token was given for (none once moderators hid it).
pub fn find_by_token(conn: &mut DbConnection, token: &str) -> QueryResult<Option<String>> {
    issues::table
        .filter(issues::open311_token.eq(token))
        .filter(issues::hidden_at.is_null())
        .select(issues::id)
        .first(conn)
        .optional()
}

/// What a page of requests shows besides its rows.
#[derive(Debug, Default)]
pub struct PageExtras {
    /// Category names, by code.
    pub service_names: HashMap<String, String>,
    /// Adopting groups' names, by group id.
    pub group_names: HashMap<String, String>,
    /// The id of each issue's first photo (of those shown), by issue id.
    pub first_photos: HashMap<String, String>,
    /// The note of each issue's latest status change, when it has one, by issue id.
    pub status_notes: HashMap<String, String>,
    /// Each issue's timeline, oldest first, by issue id (only when asked for).
    pub timelines: HashMap<String, Vec<EventRow>>,
}

/// Loads what `rows` show besides themselves; timelines only `with_timelines`.
pub fn page_extras(
    conn: &mut DbConnection,
    rows: &[IssueRow],
    with_timelines: bool,
) -> QueryResult<PageExtras> {
    if rows.is_empty() {
        return Ok(PageExtras::default());
    }
    let ids: Vec<&str> = rows.iter().map(|row| row.id.as_str()).collect();
    let codes: Vec<&str> = rows.iter().map(|row| row.category_code.as_str()).collect();
    let service_names = categories::table
        .filter(categories::code.eq_any(codes))
        .select((categories::code, categories::name))
        .load::<(String, String)>(conn)?
        .into_iter()
        .collect();
    let group_ids: Vec<String> = rows
        .iter()
        .filter_map(|row| row.adopted_by_group_id.clone())
        .collect();
    let group_names = if group_ids.is_empty() {
        HashMap::new()
    } else {
        crate::groups::models::group_names(conn, &group_ids)?
    };
    let with_photos: Vec<&str> = rows
        .iter()
        .filter(|row| row.photo_count > 0)
        .map(|row| row.id.as_str())
        .collect();
    let first_photos = first_photos(conn, &with_photos)?;
    let status_notes = latest_status_notes(conn, &ids)?;
    let timelines = if with_timelines {
        timelines(conn, &ids)?
    } else {
        HashMap::new()
    };
    Ok(PageExtras {
        service_names,
        group_names,
        first_photos,
        status_notes,
        timelines,
    })
}

fn first_photos(conn: &mut DbConnection, ids: &[&str]) -> QueryResult<HashMap<String, String>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let photos: Vec<(String, String)> = issue_photos::table
        .filter(issue_photos::issue_id.eq_any(ids))
        .filter(issue_photos::hidden_at.is_null())
        .select((issue_photos::issue_id, issue_photos::id))
        .order(issue_photos::id.asc())
        .load(conn)?;
    let mut first = HashMap::new();
    for (issue_id, photo_id) in photos {
        first.entry(issue_id).or_insert(photo_id);
    }
    Ok(first)
}

/// The note of each issue's latest status change, if that change has one. Every event
/// that set a status counts (being reported, changes, being marked a duplicate).
fn latest_status_notes(
    conn: &mut DbConnection,
    ids: &[&str],
) -> QueryResult<HashMap<String, String>> {
    let changes: Vec<(String, Option<String>)> = issue_events::table
        .filter(issue_events::issue_id.eq_any(ids))
        .filter(issue_events::to_status.is_not_null())
        .select((issue_events::issue_id, issue_events::body))
        .order(issue_events::id.asc())
        .load(conn)?;
    let mut latest: HashMap<String, Option<String>> = HashMap::new();
    for (issue_id, note) in changes {
        latest.insert(issue_id, note);
    }
    Ok(latest
        .into_iter()
        .filter_map(|(issue_id, note)| {
            note.filter(|note| !note.trim().is_empty())
                .map(|note| (issue_id, note))
        })
        .collect())
}

fn timelines(conn: &mut DbConnection, ids: &[&str]) -> QueryResult<HashMap<String, Vec<EventRow>>> {
    let events: Vec<EventRow> = issue_events::table
        .filter(issue_events::issue_id.eq_any(ids))
        .select(EventRow::as_select())
        .order(issue_events::id.asc())
        .load(conn)?;
    let mut by_issue: HashMap<String, Vec<EventRow>> = HashMap::new();
    for event in events {
        by_issue
            .entry(event.issue_id.clone())
            .or_default()
            .push(event);
    }
    Ok(by_issue)
}
