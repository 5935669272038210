//! Storage of the audit log: appending, and reading with filters, newest first.

use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;

use super::Entry;
use crate::db::DbConnection;
use crate::db::schema::audit_log;

#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_log)]
pub struct AuditRow {
    pub id: String,
    pub actor_id: Option<String>,
    pub actor_role: String,
    pub action: String,
    pub target_type: String,
    pub target_id: String,
    pub before_state: Option<String>,
    pub after_state: Option<String>,
    pub reason: Option<String>,
    pub request_id: Option<String>,
    pub created_at: NaiveDateTime,
}

pub(super) fn insert(
    conn: &mut DbConnection,
    actor_id: Option<&str>,
    actor_role: &str,
    request_id: Option<&str>,
    entry: Entry<'_>,
) -> QueryResult<()> {
    let row = AuditRow {
        id: uuid::Uuid::now_v7().to_string(),
        actor_id: actor_id.map(str::to_owned),
        actor_role: actor_role.to_owned(),
        action: entry.action.to_owned(),
        target_type: entry.target_type.to_owned(),
        target_id: entry.target_id.to_owned(),
        before_state: entry.before.map(|v| v.to_string()),
        after_state: entry.after.map(|v| v.to_string()),
        reason: entry.reason.map(str::to_owned),
        request_id: request_id.map(str::to_owned),
        created_at: Utc::now().naive_utc(),
    };
    diesel::insert_into(audit_log::table)
        .values(&row)
        .execute(conn)
        .map(drop)
}

/// What `GET /audit-log` filters by; every part optional.
#[derive(Debug, Default)]
pub struct Filter {
    pub actor_id: Option<String>,
    /// An exact action, or a prefix ending in `.` (`moderation.`).
    pub action: Option<String>,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub from: Option<NaiveDateTime>,
    pub to: Option<NaiveDateTime>,
    /// Entries older than this id (the cursor).
    pub before_id: Option<String>,
}

/// Up to `limit` entries matching `filter`, newest first.
pub fn list(conn: &mut DbConnection, filter: &Filter, limit: i64) -> QueryResult<Vec<AuditRow>> {
    let mut query = audit_log::table.select(AuditRow::as_select()).into_boxed();
    if let Some(actor) = &filter.actor_id {
        query = query.filter(audit_log::actor_id.eq(actor));
    }
    match filter.action.as_deref() {
        Some(prefix) if prefix.ends_with('.') => {
            let next = format!("{}/", prefix.trim_end_matches('.'));
            // `a.` ≤ action < `a/`: the actions starting with the prefix, by the index.
            query = query
                .filter(audit_log::action.ge(prefix.to_owned()))
                .filter(audit_log::action.lt(next));
        }
        Some(action) => query = query.filter(audit_log::action.eq(action.to_owned())),
        None => {}
    }
    if let Some(kind) = &filter.target_type {
        query = query.filter(audit_log::target_type.eq(kind));
    }
    if let Some(id) = &filter.target_id {
        query = query.filter(audit_log::target_id.eq(id));
    }
    if let Some(from) = filter.from {
        query = query.filter(audit_log::created_at.ge(from));
    }
    if let Some(to) = filter.to {
        query = query.filter(audit_log::created_at.lt(to));
    }
    if let Some(before) = &filter.before_id {
        query = query.filter(audit_log::id.lt(before));
    }
    query.order(audit_log::id.desc()).limit(limit).load(conn)
}
