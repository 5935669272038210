//! Opportunity rows and the queries over them.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::opportunities;
use crate::db::{DbConnection, KeepPrepared};

/// Where an opportunity stands. Only `published` ones are public.
pub const DRAFT: &str = "draft";
pub const PUBLISHED: &str = "published";
pub const CANCELLED: &str = "cancelled";
pub const COMPLETED: &str = "completed";

/// An opportunity row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = opportunities, treat_none_as_null = true)]
pub struct OpportunityRow {
    pub id: String,
    pub group_id: Option<String>,
    pub issue_id: Option<String>,
    pub title: String,
    pub description: String,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub address: Option<String>,
    pub online: bool,
    pub starts_at: NaiveDateTime,
    pub ends_at: NaiveDateTime,
    /// Places for people (time and skill pledges); `None` is unlimited.
    pub capacity: Option<i32>,
    /// Places taken (pledged or confirmed time and skill pledges).
    pub confirmed_count: i32,
    pub waitlist_count: i32,
    /// Comma-separated skill tags.
    pub skills: String,
    pub safety_notes: String,
    pub safety_ack_required: bool,
    pub min_age: Option<i32>,
    /// Pledges that get a place are confirmed at once (otherwise organisers confirm).
    pub auto_confirm: bool,
    pub status: String,
    pub created_by: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// The partner client that published it, for partners' own calls for volunteers.
    pub partner_client_id: Option<String>,
    /// When moderators took it out of public view; `None` while it is shown. Only
    /// moderation sets it, so saving the row leaves it alone.
    #[diesel(skip_update)]
    pub hidden_at: Option<NaiveDateTime>,
}

pub fn insert_opportunity(conn: &mut DbConnection, row: &OpportunityRow) -> QueryResult<()> {
    diesel::insert_into(opportunities::table)
        .values(row)
        .execute(conn)?;
    changed(conn, &row.id)
}

/// Logs a change to the opportunity for the sync feed (its pledgers' apps cache it).
fn changed(conn: &mut DbConnection, id: &str) -> QueryResult<()> {
    crate::sync::record(conn, crate::sync::Entity::Opportunity, id)
}

/// Saves every field of the row (counts excepted: those move only through
/// `take_place`, `free_place` and the waitlist functions).
pub fn save_opportunity(conn: &mut DbConnection, row: &OpportunityRow) -> QueryResult<()> {
    diesel::update(opportunities::table.find(&row.id))
        .set((
            opportunities::title.eq(&row.title),
            opportunities::description.eq(&row.description),
            opportunities::lat.eq(row.lat),
            opportunities::lon.eq(row.lon),
            opportunities::address.eq(&row.address),
            opportunities::online.eq(row.online),
            opportunities::starts_at.eq(row.starts_at),
            opportunities::ends_at.eq(row.ends_at),
            opportunities::capacity.eq(row.capacity),
            opportunities::skills.eq(&row.skills),
            opportunities::safety_notes.eq(&row.safety_notes),
            opportunities::safety_ack_required.eq(row.safety_ack_required),
            opportunities::min_age.eq(row.min_age),
            opportunities::auto_confirm.eq(row.auto_confirm),
            opportunities::status.eq(&row.status),
            opportunities::updated_at.eq(row.updated_at),
        ))
        .execute(conn)?;
    changed(conn, &row.id)
}

/// One opportunity, hidden or not; `NotFound` if there is none. Routes check `hidden_at`
/// against the caller (`opportunities::routes::visible`).
pub fn find_opportunity(conn: &mut DbConnection, id: &str) -> QueryResult<OpportunityRow> {
    opportunities::table
        .find(id)
        .select(OpportunityRow::as_select())
        .first(conn)
}

/// Takes a place if one is free. Atomic on both backends: the conditional update holds
/// the row, so concurrent sign-ups (on any number of nodes) cannot overfill it.
pub fn take_place(conn: &mut DbConnection, id: &str) -> QueryResult<bool> {
    let taken =
        KeepPrepared(
            diesel::update(opportunities::table.find(id).filter(
                opportunities::capacity.is_null().or(
                    opportunities::confirmed_count.lt(opportunities::capacity.assume_not_null()),
                ),
            ))
            .set(opportunities::confirmed_count.eq(opportunities::confirmed_count + 1)),
        )
        .execute(conn)?;
    if taken == 1 {
        changed(conn, id)?;
    }
    Ok(taken == 1)
}

pub fn free_place(conn: &mut DbConnection, id: &str) -> QueryResult<()> {
    KeepPrepared(
        diesel::update(
            opportunities::table
                .find(id)
                .filter(opportunities::confirmed_count.gt(0)),
        )
        .set(opportunities::confirmed_count.eq(opportunities::confirmed_count - 1)),
    )
    .execute(conn)?;
    changed(conn, id)
}

pub fn bump_waitlist(conn: &mut DbConnection, id: &str, by: i32) -> QueryResult<()> {
    KeepPrepared(
        diesel::update(opportunities::table.find(id))
            .set(opportunities::waitlist_count.eq(opportunities::waitlist_count + by)),
    )
    .execute(conn)?;
    changed(conn, id)
}

/// The search of `GET /opportunities`.
#[derive(Debug, Clone, Default)]
pub struct OpportunityFilters {
    /// (min_lat, max_lat, min_lon, max_lon) of the area of interest.
    pub area: Option<(f64, f64, f64, f64)>,
    pub from: Option<NaiveDateTime>,
    pub to: Option<NaiveDateTime>,
    pub skill: Option<String>,
    pub group_id: Option<String>,
    pub issue_id: Option<String>,
}

/// Published opportunities moderators did not hide, soonest first, after
/// `(starts_at, id)`.
pub fn search_opportunities(
    conn: &mut DbConnection,
    filters: &OpportunityFilters,
    after: Option<(NaiveDateTime, String)>,
    limit: i64,
) -> QueryResult<Vec<OpportunityRow>> {
    let mut query = opportunities::table
        .filter(opportunities::status.eq(PUBLISHED))
        .filter(opportunities::hidden_at.is_null())
        .select(OpportunityRow::as_select())
        .into_boxed();
    if let Some((min_lat, max_lat, min_lon, max_lon)) = filters.area {
        query = query
            .filter(opportunities::lat.between(min_lat, max_lat))
            .filter(opportunities::lon.between(min_lon, max_lon));
    }
    if let Some(from) = filters.from {
        query = query.filter(opportunities::ends_at.ge(from));
    }
    if let Some(to) = filters.to {
        query = query.filter(opportunities::starts_at.le(to));
    }
    if let Some(skill) = &filters.skill {
        // Skills are stored as ",a,b," so a tag matches only whole.
        query = query.filter(opportunities::skills.like(format!("%,{skill},%")));
    }
    if let Some(group) = &filters.group_id {
        query = query.filter(opportunities::group_id.eq(group.clone()));
    }
    if let Some(issue) = &filters.issue_id {
        query = query.filter(opportunities::issue_id.eq(issue.clone()));
    }
    if let Some((starts_at, id)) = after {
        query = query.filter(
            opportunities::starts_at
                .gt(starts_at)
                .or(opportunities::starts_at
                    .eq(starts_at)
                    .and(opportunities::id.gt(id))),
        );
    }
    query
        .order((opportunities::starts_at.asc(), opportunities::id.asc()))
        .limit(limit)
        .load(conn)
}

/// Empties an opportunity's places and waitlist (when it is cancelled).
pub fn reset_counts(conn: &mut DbConnection, id: &str) -> QueryResult<()> {
    diesel::update(opportunities::table.find(id))
        .set((
            opportunities::confirmed_count.eq(0),
            opportunities::waitlist_count.eq(0),
        ))
        .execute(conn)?;
    changed(conn, id)
}
