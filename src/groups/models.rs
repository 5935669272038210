//! Group rows and queries: groups, their members, and the issues they adopt.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use std::collections::HashMap;

use crate::db::DbConnection;
use crate::db::schema::{accounts, group_members, groups, issues};
use crate::domain::{MemberRole, MemberStatus};
use crate::issues::models::{Circle, METRES_PER_DEGREE, like_pattern};
use crate::sync::{self, Entity};

use crate::db::lower;

/// A group row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = groups)]
pub struct GroupRow {
    pub id: String,
    pub name: String,
    /// The lower-cased name, unique.
    pub name_key: String,
    pub description: String,
    pub lat: f64,
    pub lon: f64,
    pub radius_m: f64,
    /// Comma-separated.
    pub tags: String,
    pub join_policy: String,
    pub verified: bool,
    /// Active members only.
    pub member_count: i32,
    pub created_by: Option<String>,
    pub archived_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// When moderators took it out of public view; `None` while it is shown. A hidden
    /// group is in no list, only staff may read it, and nobody may change it.
    pub hidden_at: Option<NaiveDateTime>,
}

/// Changes made by an edit.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = groups)]
pub struct GroupChangeset {
    pub name: Option<String>,
    pub name_key: Option<String>,
    pub description: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub radius_m: Option<f64>,
    pub tags: Option<String>,
    pub join_policy: Option<String>,
    pub verified: Option<bool>,
    pub updated_at: Option<NaiveDateTime>,
}

/// A member row: one account's standing with one group.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = group_members)]
pub struct MemberRow {
    pub group_id: String,
    pub account_id: String,
    pub role: String,
    pub status: String,
    /// When the current membership (or request, or invitation) began.
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl MemberRow {
    pub fn role(&self) -> MemberRole {
        MemberRole::parse(&self.role).unwrap_or(MemberRole::Member)
    }

    pub fn status(&self) -> MemberStatus {
        MemberStatus::parse(&self.status).unwrap_or(MemberStatus::Removed)
    }

    /// An active owner or organiser.
    pub fn organises(&self) -> bool {
        self.status() == MemberStatus::Active && self.role().organises()
    }
}

pub fn insert_group(conn: &mut DbConnection, group: &GroupRow) -> QueryResult<()> {
    diesel::insert_into(groups::table)
        .values(group)
        .execute(conn)?;
    sync::record(conn, Entity::Group, &group.id)
}

/// One live (not archived) group, hidden or not; `NotFound` if there is none. Routes
/// check `hidden_at` against the caller (`groups::routes::visible_group`).
pub fn find_group(conn: &mut DbConnection, id: &str) -> QueryResult<GroupRow> {
    groups::table
        .find(id)
        .filter(groups::archived_at.is_null())
        .select(GroupRow::as_select())
        .first(conn)
}

/// Locks a live group for the rest of the transaction and returns it: a no-op write
/// takes the row lock on PostgreSQL (SQLite's write transactions are serial already), so
/// membership changes to one group happen one at a time and the counts and the
/// last-owner rule hold under concurrency.
pub fn lock_group(conn: &mut DbConnection, id: &str) -> QueryResult<GroupRow> {
    let locked = diesel::update(groups::table.find(id).filter(groups::archived_at.is_null()))
        .set(groups::member_count.eq(groups::member_count))
        .execute(conn)?;
    if locked == 0 {
        return Err(diesel::result::Error::NotFound);
    }
    find_group(conn, id)
}

/// Whether another group already has this name (by its lower-cased key).
pub fn name_taken(conn: &mut DbConnection, key: &str, except: Option<&str>) -> QueryResult<bool> {
    let mut query = groups::table
        .filter(groups::name_key.eq(key))
        .select(groups::id)
        .into_boxed();
    if let Some(id) = except {
        query = query.filter(groups::id.ne(id));
    }
    Ok(query.first::<String>(conn).optional()?.is_some())
}

pub fn update_group(
    conn: &mut DbConnection,
    id: &str,
    changes: &GroupChangeset,
) -> QueryResult<()> {
    diesel::update(groups::table.find(id))
        .set(changes)
        .execute(conn)?;
    sync::record(conn, Entity::Group, id)
}

/// Group names by id (archived ones too: an issue keeps naming its adopter).
pub fn group_names(
    conn: &mut DbConnection,
    ids: &[String],
) -> QueryResult<HashMap<String, String>> {
    Ok(crate::db::names_by_id!(
        conn,
        groups::table,
        groups::id,
        groups::name,
        ids
    ))
}

/// Where the previous page of groups ended.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum GroupCursor {
    /// Near searches: by distance (in the query's squared-degree units), then id.
    Distance { d: f64, id: String },
    /// Everything else: newest first, by id (UUIDv7, so by creation time).
    Newest { before: String },
}

/// Searches live groups that are not hidden: near a point (by centre, nearest first) or anywhere (newest
/// first), optionally by lower-cased text in name or description. Up to `limit` rows
/// after `cursor`, with the distance key for near searches; the exact distance is
/// computed by the caller.
pub fn search_groups(
    conn: &mut DbConnection,
    near: Option<Circle>,
    text: Option<&str>,
    cursor: Option<GroupCursor>,
    limit: i64,
) -> QueryResult<Vec<(GroupRow, Option<f64>)>> {
    let mut query = groups::table
        .filter(groups::archived_at.is_null())
        .filter(groups::hidden_at.is_null())
        .select(GroupRow::as_select())
        .into_boxed();
    if let Some(text) = text {
        let pattern = like_pattern(text);
        query = query.filter(
            lower(groups::name)
                .like(pattern.clone())
                .escape('\\')
                .or(lower(groups::description).like(pattern).escape('\\')),
        );
    }
    match (near, cursor) {
        (Some(circle), cursor) => {
            let (min_lat, max_lat, min_lon, max_lon) = circle.bounds();
            let scale = circle.lon_scale();
            // The same squared equirectangular distance as the issue search.
            let dlat = groups::lat - circle.lat;
            let dlon = (groups::lon - circle.lon) * scale;
            let d2 = dlat * dlat + dlon * dlon;
            let limit_d2 = (circle.radius_m / METRES_PER_DEGREE).powi(2);
            let mut query = query
                .filter(groups::lat.between(min_lat, max_lat))
                .filter(groups::lon.between(min_lon, max_lon))
                .filter(d2.le(limit_d2 * 1.000_001));
            match cursor {
                Some(GroupCursor::Distance { d, id }) => {
                    query = query.filter(d2.gt(d).or(d2.eq(d).and(groups::id.gt(id))));
                }
                Some(GroupCursor::Newest { .. }) => return Err(diesel::result::Error::NotFound),
                None => {}
            }
            let rows: Vec<(GroupRow, f64)> = query
                .select((GroupRow::as_select(), d2))
                .order((d2.asc(), groups::id.asc()))
                .limit(limit)
                .load(conn)?;
            Ok(rows.into_iter().map(|(row, d)| (row, Some(d))).collect())
        }
        (None, cursor) => {
            match cursor {
                Some(GroupCursor::Newest { before }) => query = query.filter(groups::id.lt(before)),
                Some(GroupCursor::Distance { .. }) => return Err(diesel::result::Error::NotFound),
                None => {}
            }
            let rows: Vec<GroupRow> = query.order(groups::id.desc()).limit(limit).load(conn)?;
            Ok(rows.into_iter().map(|row| (row, None)).collect())
        }
    }
}

/// An account's row in a group, whatever its status.
pub fn find_member(
    conn: &mut DbConnection,
    group_id: &str,
    account_id: &str,
) -> QueryResult<Option<MemberRow>> {
    group_members::table
        .find((group_id, account_id))
        .select(MemberRow::as_select())
        .first(conn)
        .optional()
}

/// Whether the account is an active owner or organiser of the group.
pub fn is_organiser(
    conn: &mut DbConnection,
    group_id: &str,
    account_id: &str,
) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        group_members::table
            .filter(group_members::group_id.eq(group_id))
            .filter(group_members::account_id.eq(account_id))
            .filter(group_members::status.eq(MemberStatus::Active.as_str()))
            .filter(
                group_members::role
                    .eq_any([MemberRole::Owner.as_str(), MemberRole::Organiser.as_str()]),
            ),
    ))
    .get_result(conn)
}

pub fn insert_member(conn: &mut DbConnection, member: &MemberRow) -> QueryResult<()> {
    diesel::insert_into(group_members::table)
        .values(member)
        .execute(conn)?;
    sync::record_for(conn, Entity::Group, &member.group_id, &member.account_id)
}

/// Sets a member row's role and status. A row that becomes active, or starts over after
/// a removal, begins a new membership: its `created_at` (shown as `joined_at`) moves to
/// `now`.
pub fn set_member(
    conn: &mut DbConnection,
    current: &MemberRow,
    role: MemberRole,
    status: MemberStatus,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let restarts = status != current.status()
        && (status == MemberStatus::Active || current.status() == MemberStatus::Removed);
    let created_at = if restarts { now } else { current.created_at };
    diesel::update(group_members::table.find((&current.group_id, &current.account_id)))
        .set((
            group_members::role.eq(role.as_str()),
            group_members::status.eq(status.as_str()),
            group_members::created_at.eq(created_at),
            group_members::updated_at.eq(now),
        ))
        .execute(conn)?;
    sync::record_for(conn, Entity::Group, &current.group_id, &current.account_id)
}

pub fn delete_member(conn: &mut DbConnection, group_id: &str, account_id: &str) -> QueryResult<()> {
    diesel::delete(group_members::table.find((group_id, account_id))).execute(conn)?;
    sync::record_for(conn, Entity::Group, group_id, account_id)
}

/// How many active owners the group has.
pub fn active_owner_count(conn: &mut DbConnection, group_id: &str) -> QueryResult<i64> {
    group_members::table
        .filter(group_members::group_id.eq(group_id))
        .filter(group_members::status.eq(MemberStatus::Active.as_str()))
        .filter(group_members::role.eq(MemberRole::Owner.as_str()))
        .count()
        .get_result(conn)
}

/// Recounts the group's active members into `member_count`; call it in the transaction
/// of every membership change (with the group locked) so the count is always exact. A
/// count that moved is a change to the group for everyone who caches it.
pub fn recount_members(conn: &mut DbConnection, group_id: &str) -> QueryResult<i32> {
    let active: i64 = group_members::table
        .filter(group_members::group_id.eq(group_id))
        .filter(group_members::status.eq(MemberStatus::Active.as_str()))
        .count()
        .get_result(conn)?;
    let count = i32::try_from(active).unwrap_or(i32::MAX);
    let moved = diesel::update(
        groups::table
            .find(group_id)
            .filter(groups::member_count.ne(count)),
    )
    .set(groups::member_count.eq(count))
    .execute(conn)?;
    if moved > 0 {
        sync::record(conn, Entity::Group, group_id)?;
    }
    Ok(count)
}

/// Where the previous page of members ended: joined time, then account id.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct MemberCursor {
    pub t: NaiveDateTime,
    pub id: String,
}

/// A page of a group's members in the given statuses, with display names, in the order
/// they joined.
pub fn list_members(
    conn: &mut DbConnection,
    group_id: &str,
    statuses: &[MemberStatus],
    after: Option<MemberCursor>,
    limit: i64,
) -> QueryResult<Vec<(MemberRow, String)>> {
    let statuses: Vec<&str> = statuses.iter().map(|s| s.as_str()).collect();
    let mut query = group_members::table
        .inner_join(accounts::table.on(accounts::id.eq(group_members::account_id)))
        .filter(group_members::group_id.eq(group_id))
        .filter(group_members::status.eq_any(statuses))
        .select((MemberRow::as_select(), accounts::display_name))
        .order((
            group_members::created_at.asc(),
            group_members::account_id.asc(),
        ))
        .limit(limit)
        .into_boxed();
    if let Some(MemberCursor { t, id }) = after {
        query = query.filter(
            group_members::created_at.gt(t).or(group_members::created_at
                .eq(t)
                .and(group_members::account_id.gt(id))),
        );
    }
    query.load(conn)
}

/// An account's display name; `NotFound` if there is no such account.
pub fn account_name(conn: &mut DbConnection, account_id: &str) -> QueryResult<String> {
    accounts::table
        .find(account_id)
        .select(accounts::display_name)
        .first(conn)
}

/// Marks the issue adopted by the group if no group has adopted it; returns whether it
/// did. One conditional statement, so two groups adopting at once cannot both win.
pub fn adopt(
    conn: &mut DbConnection,
    issue_id: &str,
    group_id: &str,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let adopted = diesel::update(
        issues::table
            .find(issue_id)
            .filter(issues::adopted_by_group_id.is_null()),
    )
    .set((
        issues::adopted_by_group_id.eq(group_id),
        issues::updated_at.eq(now),
    ))
    .execute(conn)?;
    Ok(adopted == 1)
}

/// Releases the issue if this group has adopted it; returns whether it did.
pub fn release(
    conn: &mut DbConnection,
    issue_id: &str,
    group_id: &str,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let released = diesel::update(
        issues::table
            .find(issue_id)
            .filter(issues::adopted_by_group_id.eq(group_id)),
    )
    .set((
        issues::adopted_by_group_id.eq(None::<String>),
        issues::updated_at.eq(now),
    ))
    .execute(conn)?;
    Ok(released == 1)
}
