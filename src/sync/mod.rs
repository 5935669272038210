//! The sync feed for offline-first apps (`GET /api/v1/sync`) and the change log behind it.
//!
//! Every change a citizen's app may cache appends a row to `sync_changes` in the same
//! transaction as the change itself, through [`record`] (the thing changed: relevant to
//! whoever relates to it) or [`record_for`] (one account's relation to it changed: gained
//! or lost). The feed reads the log after a cursor, keeps the rows that concern the
//! caller, and answers each entity once per page with its current state, or a tombstone
//! when the caller lost it. See `models` for why no change is skipped on either backend.

pub mod cursor;
mod items;
pub mod models;
pub mod routes;
pub mod views;

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::DbConnection;
use crate::db::schema::sync_changes;

/// The kinds of thing the feed carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Entity {
    /// The caller's own profile (`GET /me`).
    Account,
    /// A group the caller belongs to, asked to join, or is invited to (`GET /groups/{id}`).
    Group,
    /// An issue the caller reported, supports or follows (`GET /issues/{id}`).
    Issue,
    /// An opportunity the caller pledged to (`GET /opportunities/{id}`).
    Opportunity,
    /// One of the caller's pledges (`GET /pledges/{id}`).
    Pledge,
    /// One of the caller's notifications (as in `GET /me/notifications`).
    Notification,
}

impl Entity {
    /// Every kind, in the order an initial snapshot delivers them.
    pub const ALL: [Self; 6] = [
        Self::Account,
        Self::Group,
        Self::Issue,
        Self::Opportunity,
        Self::Pledge,
        Self::Notification,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Account => "account",
            Self::Group => "group",
            Self::Issue => "issue",
            Self::Opportunity => "opportunity",
            Self::Pledge => "pledge",
            Self::Notification => "notification",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == raw)
    }
}

/// Records that `id` itself changed: whoever relates to it hears of it. Call it in the
/// transaction that makes the change, so the log never disagrees with the data.
pub fn record(conn: &mut DbConnection, entity: Entity, id: &str) -> QueryResult<()> {
    insert(conn, entity, id, None)
}

/// Records that `account_id`'s relation to `id` changed (followed or unfollowed, joined
/// or left, a notification for them): they hear of it even when they no longer relate to
/// it, as a tombstone. Call it in the transaction that makes the change.
pub fn record_for(
    conn: &mut DbConnection,
    entity: Entity,
    id: &str,
    account_id: &str,
) -> QueryResult<()> {
    insert(conn, entity, id, Some(account_id))
}

/// Logs that `id` is about to be deleted for good: everyone it concerns now gets its
/// tombstone (once the rows that tie them to it are gone, a plain [`record`] would reach
/// nobody). Call it before the delete, in the same transaction. Hiding something needs
/// only [`record`]: those tied to it still are, and the feed sees they may not see it.
pub fn forget(conn: &mut DbConnection, entity: Entity, id: &str) -> QueryResult<()> {
    use crate::db::schema::{
        group_members, issue_follows, issue_supports, issues, notifications, pledges,
    };
    let mut accounts: Vec<String> = match entity {
        Entity::Account => vec![id.to_owned()],
        Entity::Group => group_members::table
            .filter(group_members::group_id.eq(id))
            .filter(group_members::status.eq_any(models::GROUP_TIES.map(|s| s.as_str())))
            .select(group_members::account_id)
            .load(conn)?,
        Entity::Issue => {
            let mut related: Vec<String> = issues::table
                .find(id)
                .select(issues::reporter_id)
                .load::<Option<String>>(conn)?
                .into_iter()
                .flatten()
                .collect();
            related.extend(
                issue_supports::table
                    .filter(issue_supports::issue_id.eq(id))
                    .select(issue_supports::account_id)
                    .load::<String>(conn)?,
            );
            related.extend(
                issue_follows::table
                    .filter(issue_follows::issue_id.eq(id))
                    .select(issue_follows::account_id)
                    .load::<String>(conn)?,
            );
            related
        }
        Entity::Opportunity => pledges::table
            .filter(pledges::opportunity_id.eq(id))
            .select(pledges::account_id)
            .load::<Option<String>>(conn)?
            .into_iter()
            .flatten()
            .collect(),
        Entity::Pledge => pledges::table
            .find(id)
            .select(pledges::account_id)
            .load::<Option<String>>(conn)?
            .into_iter()
            .flatten()
            .collect(),
        Entity::Notification => notifications::table
            .find(id)
            .select(notifications::account_id)
            .load(conn)?,
    };
    accounts.sort_unstable();
    accounts.dedup();
    for account in &accounts {
        record_for(conn, entity, id, account)?;
    }
    record(conn, entity, id)
}

fn insert(
    conn: &mut DbConnection,
    entity: Entity,
    id: &str,
    account_id: Option<&str>,
) -> QueryResult<()> {
    // `seq` and `txid` take their defaults: the log position is the database's to give.
    let now = crate::db::now();
    crate::db::on_backend!(conn, |c| diesel::insert_into(sync_changes::table)
        .values((
            sync_changes::entity_type.eq(entity.as_str()),
            sync_changes::entity_id.eq(id),
            sync_changes::account_id.eq(account_id),
            sync_changes::created_at.eq(now),
        ))
        .execute(c))
    .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entity_names_round_trip() {
        for entity in Entity::ALL {
            assert_eq!(Entity::parse(entity.as_str()), Some(entity));
        }
        assert_eq!(Entity::parse("comment"), None);
    }
}
