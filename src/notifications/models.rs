//! Notification and push-device rows, the preferences column, and the queries over them
//! (including who follows an issue, for the fan-out).

use std::collections::{HashMap, HashSet};

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::preferences::Preferences;
use crate::db::DbConnection;
use crate::db::schema::{
    accounts, groups, issue_events, issue_follows, notifications, push_devices,
};
use crate::issues::timeline::EventRow;
use crate::sync::{self, Entity};

/// The most push devices an account keeps: registering one more drops the one registered
/// longest ago, so an app that re-registers on every launch cannot grow the list forever.
pub const MAX_DEVICES_PER_ACCOUNT: usize = 20;

/// A notification in a citizen's feed.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = notifications)]
pub struct NotificationRow {
    pub id: String,
    pub account_id: String,
    /// The outbox event it came from; one notification per account and event.
    pub event_id: String,
    /// The event type, e.g. `issue.status_changed`.
    pub kind: String,
    pub subject_type: String,
    pub subject_id: String,
    pub title: String,
    pub body: Option<String>,
    /// Ids to deep-link with, as a JSON object.
    pub data: String,
    pub read_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

/// Adds a notification unless the account already has one for the event (and logs it
/// for the account's sync feed); returns whether it was added.
pub fn insert_notification(conn: &mut DbConnection, row: &NotificationRow) -> QueryResult<bool> {
    let query = diesel::insert_into(notifications::table)
        .values(row)
        .on_conflict((notifications::event_id, notifications::account_id))
        .do_nothing();
    let added = match conn {
        DbConnection::Sqlite(c) => query.execute(c)?,
        DbConnection::Postgresql(c) => query.execute(c)?,
    };
    if added == 1 {
        sync::record_for(conn, Entity::Notification, &row.id, &row.account_id)?;
    }
    Ok(added == 1)
}

/// A page of an account's feed, newest first, before `before`.
pub fn feed(
    conn: &mut DbConnection,
    account_id: &str,
    unread_only: bool,
    before: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<NotificationRow>> {
    let mut query = notifications::table
        .filter(notifications::account_id.eq(account_id))
        .select(NotificationRow::as_select())
        .order(notifications::id.desc())
        .limit(limit)
        .into_boxed();
    if unread_only {
        query = query.filter(notifications::read_at.is_null());
    }
    if let Some(before) = before {
        query = query.filter(notifications::id.lt(before.to_owned()));
    }
    query.load(conn)
}

pub fn unread_count(conn: &mut DbConnection, account_id: &str) -> QueryResult<i64> {
    notifications::table
        .filter(notifications::account_id.eq(account_id))
        .filter(notifications::read_at.is_null())
        .count()
        .get_result(conn)
}

/// Marks the account's notifications among `ids` read (others' ids are ignored);
/// `None` marks them all. Each one marked is a change for the account's sync feed (their
/// other devices learn it was read).
pub fn mark_read(
    conn: &mut DbConnection,
    account_id: &str,
    ids: Option<&[String]>,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    let mut unread = notifications::table
        .filter(notifications::account_id.eq(account_id))
        .filter(notifications::read_at.is_null())
        .select(notifications::id)
        .into_boxed();
    if let Some(ids) = ids {
        unread = unread.filter(notifications::id.eq_any(ids.to_vec()));
    }
    let marked: Vec<String> = unread.load(conn)?;
    if marked.is_empty() {
        return Ok(0);
    }
    let count = diesel::update(
        notifications::table
            .filter(notifications::id.eq_any(&marked))
            .filter(notifications::read_at.is_null()),
    )
    .set(notifications::read_at.eq(now))
    .execute(conn)?;
    for id in &marked {
        sync::record_for(conn, Entity::Notification, id, account_id)?;
    }
    Ok(count)
}

/// The preferences of one account.
pub fn preferences(conn: &mut DbConnection, account_id: &str) -> QueryResult<Preferences> {
    accounts::table
        .find(account_id)
        .select(accounts::notification_preferences)
        .first::<String>(conn)
        .map(|stored| Preferences::from_stored(&stored))
}

/// The preferences of the accounts among `ids` that exist.
pub fn preferences_of(
    conn: &mut DbConnection,
    ids: &[String],
) -> QueryResult<HashMap<String, Preferences>> {
    Ok(accounts::table
        .filter(accounts::id.eq_any(ids))
        .select((accounts::id, accounts::notification_preferences))
        .load::<(String, String)>(conn)?
        .into_iter()
        .map(|(id, stored)| (id, Preferences::from_stored(&stored)))
        .collect())
}

pub fn set_preferences(
    conn: &mut DbConnection,
    account_id: &str,
    preferences: Preferences,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(accounts::table.find(account_id))
        .set((
            accounts::notification_preferences.eq(preferences.to_stored()),
            accounts::updated_at.eq(now),
        ))
        .execute(conn)?;
    sync::record_for(conn, Entity::Account, account_id, account_id)
}

/// The accounts following an issue.
pub fn followers(conn: &mut DbConnection, issue_id: &str) -> QueryResult<Vec<String>> {
    issue_follows::table
        .filter(issue_follows::issue_id.eq(issue_id))
        .order(issue_follows::created_at.asc())
        .select(issue_follows::account_id)
        .load(conn)
}

/// The accounts that started following an issue at `at` exactly: those moved onto a
/// canonical issue by the merge that marked a duplicate (it stamps them with its time).
pub fn followers_since(
    conn: &mut DbConnection,
    issue_id: &str,
    at: NaiveDateTime,
) -> QueryResult<Vec<String>> {
    issue_follows::table
        .filter(issue_follows::issue_id.eq(issue_id))
        .filter(issue_follows::created_at.eq(at))
        .select(issue_follows::account_id)
        .load(conn)
}

/// One timeline entry, if it still exists.
pub fn timeline_entry(conn: &mut DbConnection, id: &str) -> QueryResult<Option<EventRow>> {
    issue_events::table
        .find(id)
        .select(EventRow::as_select())
        .first(conn)
        .optional()
}

/// A display name, if the account exists.
pub fn display_name(conn: &mut DbConnection, account_id: &str) -> QueryResult<Option<String>> {
    accounts::table
        .find(account_id)
        .select(accounts::display_name)
        .first(conn)
        .optional()
}

/// A group's name, archived or not.
pub fn group_name(conn: &mut DbConnection, group_id: &str) -> QueryResult<Option<String>> {
    groups::table
        .find(group_id)
        .select(groups::name)
        .first(conn)
        .optional()
}

/// A registered push device.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = push_devices)]
pub struct DeviceRow {
    pub token: String,
    pub account_id: String,
    pub platform: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// Registers `token` for the account (taking it from any other account); returns the row
/// and whether it is new to the account.
pub fn register_device(
    conn: &mut DbConnection,
    account_id: &str,
    token: &str,
    platform: &str,
    now: NaiveDateTime,
) -> QueryResult<(DeviceRow, bool)> {
    let existing: Option<DeviceRow> = push_devices::table
        .find(token)
        .select(DeviceRow::as_select())
        .first(conn)
        .optional()?;
    let is_new = match existing {
        None => {
            diesel::insert_into(push_devices::table)
                .values((
                    push_devices::token.eq(token),
                    push_devices::account_id.eq(account_id),
                    push_devices::platform.eq(platform),
                    push_devices::created_at.eq(now),
                    push_devices::updated_at.eq(now),
                ))
                .execute(conn)?;
            true
        }
        Some(row) if row.account_id == account_id => {
            diesel::update(push_devices::table.find(token))
                .set((
                    push_devices::platform.eq(platform),
                    push_devices::updated_at.eq(now),
                ))
                .execute(conn)?;
            false
        }
        // The token moves to whoever registered it last (a shared or handed-on device).
        Some(_) => {
            diesel::update(push_devices::table.find(token))
                .set((
                    push_devices::account_id.eq(account_id),
                    push_devices::platform.eq(platform),
                    push_devices::created_at.eq(now),
                    push_devices::updated_at.eq(now),
                ))
                .execute(conn)?;
            true
        }
    };
    // At most one over the cap, so reading them all is cheap.
    let stale: Vec<String> = push_devices::table
        .filter(push_devices::account_id.eq(account_id))
        .order((push_devices::updated_at.desc(), push_devices::token.desc()))
        .select(push_devices::token)
        .load::<String>(conn)?
        .into_iter()
        .skip(MAX_DEVICES_PER_ACCOUNT)
        .collect();
    if !stale.is_empty() {
        diesel::delete(push_devices::table.filter(push_devices::token.eq_any(&stale)))
            .execute(conn)?;
    }
    let row = push_devices::table
        .find(token)
        .select(DeviceRow::as_select())
        .first(conn)?;
    Ok((row, is_new))
}

/// Forgets one of the account's devices; returns whether it was the account's.
pub fn delete_device(conn: &mut DbConnection, account_id: &str, token: &str) -> QueryResult<bool> {
    diesel::delete(
        push_devices::table
            .filter(push_devices::token.eq(token))
            .filter(push_devices::account_id.eq(account_id)),
    )
    .execute(conn)
    .map(|n| n == 1)
}

/// The account's devices, most recently registered first.
pub fn devices_of(conn: &mut DbConnection, account_id: &str) -> QueryResult<Vec<DeviceRow>> {
    push_devices::table
        .filter(push_devices::account_id.eq(account_id))
        .order((push_devices::updated_at.desc(), push_devices::token.desc()))
        .select(DeviceRow::as_select())
        .load(conn)
}

/// The devices of the accounts among `ids`.
pub fn devices_for(conn: &mut DbConnection, ids: &[String]) -> QueryResult<Vec<DeviceRow>> {
    push_devices::table
        .filter(push_devices::account_id.eq_any(ids))
        .select(DeviceRow::as_select())
        .load(conn)
}

/// Which accounts among `ids` have at least one device.
pub fn with_devices(conn: &mut DbConnection, ids: &[String]) -> QueryResult<HashSet<String>> {
    Ok(push_devices::table
        .filter(push_devices::account_id.eq_any(ids))
        .select(push_devices::account_id)
        .distinct()
        .load::<String>(conn)?
        .into_iter()
        .collect())
}

/// Drops tokens the push provider rejected, each only while it still belongs to the
/// account it was sent for (it may have moved since).
pub fn drop_devices(conn: &mut DbConnection, rejected: &[(String, String)]) -> QueryResult<usize> {
    let mut dropped = 0;
    for (token, account_id) in rejected {
        dropped += diesel::delete(
            push_devices::table
                .filter(push_devices::token.eq(token))
                .filter(push_devices::account_id.eq(account_id)),
        )
        .execute(conn)?;
    }
    Ok(dropped)
}
