//! Flags (raising, counting, resolving, the queue) and the moderation state of accounts
//! (suspension and ban).

use chrono::NaiveDateTime;
use diesel::dsl::{count_star, max, min};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::{FlagReason, FlagStatus, TargetType};
use crate::db::DbConnection;
use crate::db::schema::{accounts, flags, sessions};

/// A flag row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = flags)]
pub struct FlagRow {
    pub id: String,
    pub target_type: String,
    pub target_id: String,
    pub account_id: String,
    pub reason: String,
    pub details: Option<String>,
    /// `open`, `upheld` or `dismissed`.
    pub status: String,
    pub created_at: NaiveDateTime,
    pub resolved_at: Option<NaiveDateTime>,
    pub resolved_by: Option<String>,
}

/// Stores a flag. A second flag by the same account on the same item is a unique
/// violation.
pub fn insert_flag(conn: &mut DbConnection, row: &FlagRow) -> QueryResult<()> {
    diesel::insert_into(flags::table)
        .values(row)
        .execute(conn)
        .map(drop)
}

/// How many distinct accounts have an open flag on the item: its open flags, as the
/// table holds one flag per account per item.
pub fn open_flaggers(conn: &mut DbConnection, target: TargetType, id: &str) -> QueryResult<i64> {
    flags::table
        .filter(flags::target_type.eq(target.as_str()))
        .filter(flags::target_id.eq(id))
        .filter(flags::status.eq(FlagStatus::Open.as_str()))
        .select(count_star())
        .first(conn)
}

/// Closes the item's open flags as `status` (upheld or dismissed) by `by`; returns how
/// many.
pub fn resolve(
    conn: &mut DbConnection,
    target: TargetType,
    id: &str,
    status: FlagStatus,
    by: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        flags::table
            .filter(flags::target_type.eq(target.as_str()))
            .filter(flags::target_id.eq(id))
            .filter(flags::status.eq(FlagStatus::Open.as_str())),
    )
    .set((
        flags::status.eq(status.as_str()),
        flags::resolved_at.eq(now),
        flags::resolved_by.eq(by),
    ))
    .execute(conn)
}

/// Where the queue's previous page ended: the last item's oldest open flag and its key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QueueKey {
    pub first: NaiveDateTime,
    pub target_type: String,
    pub target_id: String,
}

/// What the queue lists, every part optional.
#[derive(Debug, Default)]
pub struct QueueFilter {
    pub target: Option<TargetType>,
    /// Items with at least one open flag for this reason.
    pub reason: Option<FlagReason>,
    pub after: Option<QueueKey>,
}

/// An item with open flags, summed up.
#[derive(Debug, Clone, Queryable)]
pub struct QueueEntry {
    pub target_type: String,
    pub target_id: String,
    pub first: Option<NaiveDateTime>,
    pub last: Option<NaiveDateTime>,
    pub count: i64,
}

impl QueueEntry {
    pub fn key(&self) -> QueueKey {
        QueueKey {
            first: self.first.unwrap_or_default(),
            target_type: self.target_type.clone(),
            target_id: self.target_id.clone(),
        }
    }
}

diesel::alias!(flags as reasoned: ReasonedFlags);

/// Up to `limit` items with open flags matching `filter`, oldest first by their oldest
/// open flag (then by kind and id, so the order is total).
pub fn queue(
    conn: &mut DbConnection,
    filter: &QueueFilter,
    limit: i64,
) -> QueryResult<Vec<QueueEntry>> {
    let open = FlagStatus::Open.as_str();
    let first = min(flags::created_at);
    let mut query = flags::table
        .filter(flags::status.eq(open))
        .group_by((flags::target_type, flags::target_id))
        .select((
            flags::target_type,
            flags::target_id,
            first,
            max(flags::created_at),
            count_star(),
        ))
        .into_boxed();
    if let Some(target) = filter.target {
        query = query.filter(flags::target_type.eq(target.as_str()));
    }
    if let Some(reason) = filter.reason {
        // `type:id` of the items with such a flag (`:` is in no kind's name).
        let keys = reasoned
            .filter(reasoned.field(flags::status).eq(open))
            .filter(reasoned.field(flags::reason).eq(reason.as_str()))
            .select(
                reasoned
                    .field(flags::target_type)
                    .concat(":")
                    .concat(reasoned.field(flags::target_id)),
            );
        query = query.filter(
            flags::target_type
                .concat(":")
                .concat(flags::target_id)
                .eq_any(keys),
        );
    }
    if let Some(after) = &filter.after {
        query = query.having(
            first.gt(after.first).or(first.eq(after.first).and(
                flags::target_type
                    .gt(after.target_type.clone())
                    .or(flags::target_type
                        .eq(after.target_type.clone())
                        .and(flags::target_id.gt(after.target_id.clone()))),
            )),
        );
    }
    query
        .order_by((
            first.asc(),
            flags::target_type.asc(),
            flags::target_id.asc(),
        ))
        .limit(limit)
        .load(conn)
}

/// The open flags of the items `keys`, oldest first.
pub fn open_flags_of(
    conn: &mut DbConnection,
    keys: &[(TargetType, String)],
) -> QueryResult<Vec<FlagRow>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<&str> = keys.iter().map(|(_, id)| id.as_str()).collect();
    let rows: Vec<FlagRow> = flags::table
        .filter(flags::status.eq(FlagStatus::Open.as_str()))
        .filter(flags::target_id.eq_any(ids))
        .select(FlagRow::as_select())
        .order_by((flags::created_at.asc(), flags::id.asc()))
        .load(conn)?;
    // An id of one kind may (in theory) equal one of another kind.
    Ok(rows
        .into_iter()
        .filter(|row| {
            keys.iter()
                .any(|(t, id)| t.as_str() == row.target_type && *id == row.target_id)
        })
        .collect())
}

/// Where an account stands with the moderators.
#[derive(Debug, Clone, Queryable)]
pub struct Standing {
    pub role: String,
    pub suspended_until: Option<NaiveDateTime>,
    pub banned_at: Option<NaiveDateTime>,
}

/// An account's standing; `None` if there is no such account (or it was erased).
pub fn standing(conn: &mut DbConnection, id: &str) -> QueryResult<Option<Standing>> {
    accounts::table
        .find(id)
        .filter(accounts::deleted_at.is_null())
        .select((
            accounts::role,
            accounts::suspended_until,
            accounts::banned_at,
        ))
        .first(conn)
        .optional()
}

/// Whether the account is banned (login and refresh refuse it).
pub fn is_banned(conn: &mut DbConnection, id: &str) -> QueryResult<bool> {
    Ok(accounts::table
        .find(id)
        .select(accounts::banned_at)
        .first::<Option<NaiveDateTime>>(conn)
        .optional()?
        .flatten()
        .is_some())
}

/// Suspends the account until `until` (replacing any earlier end).
pub fn suspend(
    conn: &mut DbConnection,
    id: &str,
    until: NaiveDateTime,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(accounts::table.find(id))
        .set((
            accounts::suspended_until.eq(until),
            accounts::updated_at.eq(now),
        ))
        .execute(conn)
        .map(drop)
}

/// Bans the account (keeping the time of an earlier ban) and ends every session of it,
/// so its access and refresh tokens stop at once.
pub fn ban(conn: &mut DbConnection, id: &str, now: NaiveDateTime) -> QueryResult<()> {
    diesel::update(
        accounts::table
            .find(id)
            .filter(accounts::banned_at.is_null()),
    )
    .set((accounts::banned_at.eq(now), accounts::updated_at.eq(now)))
    .execute(conn)?;
    diesel::update(
        sessions::table
            .filter(sessions::account_id.eq(id))
            .filter(sessions::revoked_at.is_null()),
    )
    .set((
        sessions::revoked_at.eq(now),
        sessions::revoked_reason.eq("banned"),
    ))
    .execute(conn)
    .map(drop)
}

/// Lifts the account's suspension and ban.
pub fn reinstate(conn: &mut DbConnection, id: &str, now: NaiveDateTime) -> QueryResult<()> {
    diesel::update(accounts::table.find(id))
        .set((
            accounts::suspended_until.eq(None::<NaiveDateTime>),
            accounts::banned_at.eq(None::<NaiveDateTime>),
            accounts::updated_at.eq(now),
        ))
        .execute(conn)
        .map(drop)
}
