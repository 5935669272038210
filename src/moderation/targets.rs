//! What each kind of flaggable thing is in the database: where its row lives, who wrote
//! it, whether it is hidden, what the moderator reads of it, how its text is redacted,
//! and what the sync feed hears of when it changes.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde_json::{Map, Value, json};
use std::collections::HashMap;

use super::TargetType;
use super::views::{FlaggedContent, Redaction};
use crate::db::DbConnection;
use crate::db::schema::{groups, issue_events, issue_photos, issues, opportunities};
use crate::error::{ApiError, ApiResult};
use crate::sync::{self, Entity};

/// The `kind` of a comment in `issue_events`.
const COMMENT: &str = "comment";
/// The status of an opportunity only its organisers see.
const DRAFT: &str = crate::opportunities::models::DRAFT;

/// A flaggable item as moderation sees it.
#[derive(Debug, Clone)]
pub struct Item {
    pub hidden_at: Option<NaiveDateTime>,
    /// Who wrote, uploaded or created it, while their account exists.
    pub owner: Option<String>,
    /// Whether the public may see it apart from its own `hidden_at`: a comment or photo
    /// of a hidden issue, a deleted comment and a draft opportunity are not.
    pub public: bool,
    /// What the sync feed hears of when it changes: the item itself, or for a comment or
    /// photo its issue.
    pub entity: (Entity, String),
}

/// The item, hidden or not; `None` if there is none.
pub fn find(conn: &mut DbConnection, target: TargetType, id: &str) -> QueryResult<Option<Item>> {
    let item = match target {
        TargetType::Issue => issues::table
            .find(id)
            .select((issues::reporter_id, issues::hidden_at))
            .first::<(Option<String>, Option<NaiveDateTime>)>(conn)
            .optional()?
            .map(|(owner, hidden_at)| Item {
                hidden_at,
                owner,
                public: true,
                entity: (Entity::Issue, id.to_owned()),
            }),
        TargetType::Comment => issue_events::table
            .inner_join(issues::table)
            .filter(issue_events::id.eq(id))
            .filter(issue_events::kind.eq(COMMENT))
            .select((
                issue_events::issue_id,
                issue_events::actor_id,
                issue_events::hidden_at,
                issue_events::deleted_at.is_null(),
                issues::hidden_at.is_null(),
            ))
            .first::<(String, Option<String>, Option<NaiveDateTime>, bool, bool)>(conn)
            .optional()?
            .map(|(issue_id, owner, hidden_at, live, issue_shown)| Item {
                hidden_at,
                owner,
                public: live && issue_shown,
                entity: (Entity::Issue, issue_id),
            }),
        TargetType::Photo => issue_photos::table
            .inner_join(issues::table)
            .filter(issue_photos::id.eq(id))
            .select((
                issue_photos::issue_id,
                issue_photos::uploader_id,
                issue_photos::hidden_at,
                issues::hidden_at.is_null(),
            ))
            .first::<(String, Option<String>, Option<NaiveDateTime>, bool)>(conn)
            .optional()?
            .map(|(issue_id, owner, hidden_at, issue_shown)| Item {
                hidden_at,
                owner,
                public: issue_shown,
                entity: (Entity::Issue, issue_id),
            }),
        TargetType::Group => groups::table
            .find(id)
            .select((groups::created_by, groups::hidden_at))
            .first::<(Option<String>, Option<NaiveDateTime>)>(conn)
            .optional()?
            .map(|(owner, hidden_at)| Item {
                hidden_at,
                owner,
                public: true,
                entity: (Entity::Group, id.to_owned()),
            }),
        TargetType::Opportunity => opportunities::table
            .find(id)
            .select((
                opportunities::created_by,
                opportunities::hidden_at,
                opportunities::status,
            ))
            .first::<(Option<String>, Option<NaiveDateTime>, String)>(conn)
            .optional()?
            .map(|(owner, hidden_at, status)| Item {
                hidden_at,
                owner,
                public: status != DRAFT,
                entity: (Entity::Opportunity, id.to_owned()),
            }),
        TargetType::Account => None,
    };
    Ok(item)
}

/// Sets or clears the item's `hidden_at` and tells the sync feed, so offline apps drop
/// (or get back) what they cached.
pub fn set_hidden(
    conn: &mut DbConnection,
    target: TargetType,
    id: &str,
    item: &Item,
    hidden_at: Option<NaiveDateTime>,
) -> QueryResult<()> {
    match target {
        TargetType::Issue => diesel::update(issues::table.find(id))
            .set(issues::hidden_at.eq(hidden_at))
            .execute(conn)?,
        TargetType::Comment => diesel::update(issue_events::table.find(id))
            .set(issue_events::hidden_at.eq(hidden_at))
            .execute(conn)?,
        TargetType::Photo => diesel::update(issue_photos::table.find(id))
            .set(issue_photos::hidden_at.eq(hidden_at))
            .execute(conn)?,
        TargetType::Group => diesel::update(groups::table.find(id))
            .set(groups::hidden_at.eq(hidden_at))
            .execute(conn)?,
        TargetType::Opportunity => diesel::update(opportunities::table.find(id))
            .set(opportunities::hidden_at.eq(hidden_at))
            .execute(conn)?,
        TargetType::Account => 0,
    };
    sync::record(conn, item.entity.0, &item.entity.1)
}

/// What the moderator reads of each item, and its `hidden_at`, by kind and id.
pub type Contents = HashMap<(TargetType, String), (Option<NaiveDateTime>, FlaggedContent)>;

/// What the moderator reads of each item, with its `hidden_at`: one query per kind.
/// Items that no longer exist are left out.
pub fn contents(conn: &mut DbConnection, keys: &[(TargetType, String)]) -> QueryResult<Contents> {
    let ids = |kind: TargetType| -> Vec<&str> {
        keys.iter()
            .filter(|(t, _)| *t == kind)
            .map(|(_, id)| id.as_str())
            .collect()
    };
    let mut out = HashMap::new();
    let issue_ids = ids(TargetType::Issue);
    if !issue_ids.is_empty() {
        let rows: Vec<(String, String, String, Option<NaiveDateTime>)> = issues::table
            .filter(issues::id.eq_any(&issue_ids))
            .select((
                issues::id,
                issues::title,
                issues::description,
                issues::hidden_at,
            ))
            .load(conn)?;
        for (id, title, description, hidden_at) in rows {
            let content = FlaggedContent::Issue {
                issue_id: id.clone(),
                title,
                description,
            };
            out.insert((TargetType::Issue, id), (hidden_at, content));
        }
    }
    let comment_ids = ids(TargetType::Comment);
    if !comment_ids.is_empty() {
        type CommentRow = (
            String,
            String,
            Option<String>,
            Option<String>,
            Option<NaiveDateTime>,
        );
        let rows: Vec<CommentRow> = issue_events::table
            .filter(issue_events::id.eq_any(&comment_ids))
            .filter(issue_events::kind.eq(COMMENT))
            .select((
                issue_events::id,
                issue_events::issue_id,
                issue_events::body,
                issue_events::actor_id,
                issue_events::hidden_at,
            ))
            .load(conn)?;
        for (id, issue_id, body, author_id, hidden_at) in rows {
            let content = FlaggedContent::Comment {
                issue_id,
                body,
                author_id,
            };
            out.insert((TargetType::Comment, id), (hidden_at, content));
        }
    }
    let photo_ids = ids(TargetType::Photo);
    if !photo_ids.is_empty() {
        let rows: Vec<(String, String, Option<NaiveDateTime>)> = issue_photos::table
            .filter(issue_photos::id.eq_any(&photo_ids))
            .select((
                issue_photos::id,
                issue_photos::issue_id,
                issue_photos::hidden_at,
            ))
            .load(conn)?;
        for (id, issue_id, hidden_at) in rows {
            let content = FlaggedContent::Photo {
                issue_id,
                url: format!("/api/v1/photos/{id}"),
            };
            out.insert((TargetType::Photo, id), (hidden_at, content));
        }
    }
    let group_ids = ids(TargetType::Group);
    if !group_ids.is_empty() {
        let rows: Vec<(String, String, String, Option<NaiveDateTime>)> = groups::table
            .filter(groups::id.eq_any(&group_ids))
            .select((
                groups::id,
                groups::name,
                groups::description,
                groups::hidden_at,
            ))
            .load(conn)?;
        for (id, name, description, hidden_at) in rows {
            let content = FlaggedContent::Group { name, description };
            out.insert((TargetType::Group, id), (hidden_at, content));
        }
    }
    let opportunity_ids = ids(TargetType::Opportunity);
    if !opportunity_ids.is_empty() {
        let rows: Vec<(String, String, String, Option<NaiveDateTime>)> = opportunities::table
            .filter(opportunities::id.eq_any(&opportunity_ids))
            .select((
                opportunities::id,
                opportunities::title,
                opportunities::description,
                opportunities::hidden_at,
            ))
            .load(conn)?;
        for (id, title, description, hidden_at) in rows {
            let content = FlaggedContent::Opportunity { title, description };
            out.insert((TargetType::Opportunity, id), (hidden_at, content));
        }
    }
    Ok(out)
}

/// The parts of `text` (field, old, new) that `redaction` changes, as audit states.
fn states(pairs: &[(&str, &str, Option<&String>)]) -> (Value, Value) {
    let (mut before, mut after) = (Map::new(), Map::new());
    for (field, old, new) in pairs {
        if let Some(new) = new {
            before.insert((*field).to_owned(), json!(old));
            after.insert((*field).to_owned(), json!(new));
        }
    }
    (Value::Object(before), Value::Object(after))
}

/// Replaces the item's text with `redaction` (checked for its kind), bumps its
/// `updated_at` where it has one and tells the sync feed. Returns the replaced text and
/// the new, for the audit log.
pub fn redact(
    conn: &mut DbConnection,
    target: TargetType,
    id: &str,
    item: &Item,
    redaction: &Redaction,
    now: NaiveDateTime,
) -> ApiResult<(Value, Value)> {
    let missing = || ApiError::not_found("No such item.");
    let (before, after) = match target {
        TargetType::Issue => {
            let (title, description): (String, String) = issues::table
                .find(id)
                .select((issues::title, issues::description))
                .first(conn)?;
            diesel::update(issues::table.find(id))
                .set((
                    redaction.title.as_ref().map(|t| issues::title.eq(t)),
                    redaction
                        .description
                        .as_ref()
                        .map(|d| issues::description.eq(d)),
                    issues::updated_at.eq(now),
                ))
                .execute(conn)?;
            states(&[
                ("title", &title, redaction.title.as_ref()),
                ("description", &description, redaction.description.as_ref()),
            ])
        }
        TargetType::Comment => {
            let body: Option<String> = issue_events::table
                .find(id)
                .select(issue_events::body)
                .first(conn)?;
            let (Some(body), Some(new)) = (body, redaction.body.as_ref()) else {
                return Err(ApiError::conflict(
                    "comment_deleted",
                    "Its author deleted this comment: there is no text left to redact.",
                ));
            };
            diesel::update(issue_events::table.find(id))
                .set(issue_events::body.eq(new))
                .execute(conn)?;
            states(&[("body", &body, Some(new))])
        }
        TargetType::Group => {
            let (name, description): (String, String) = groups::table
                .find(id)
                .select((groups::name, groups::description))
                .first(conn)?;
            let key = redaction.name.as_ref().map(|n| n.to_lowercase());
            let taken = || {
                ApiError::conflict(
                    "group_name_taken",
                    "A group with this name already exists (names are compared ignoring case).",
                )
            };
            if let Some(key) = &key
                && crate::groups::models::name_taken(conn, key, Some(id))?
            {
                return Err(taken());
            }
            diesel::update(groups::table.find(id))
                .set((
                    redaction.name.as_ref().map(|n| groups::name.eq(n)),
                    key.as_ref().map(|k| groups::name_key.eq(k)),
                    redaction
                        .description
                        .as_ref()
                        .map(|d| groups::description.eq(d)),
                    groups::updated_at.eq(now),
                ))
                .execute(conn)
                // Only the name is unique: a concurrent request took it after our check.
                .map_err(|error| match error {
                    diesel::result::Error::DatabaseError(
                        diesel::result::DatabaseErrorKind::UniqueViolation,
                        _,
                    ) => taken(),
                    other => other.into(),
                })?;
            states(&[
                ("name", &name, redaction.name.as_ref()),
                ("description", &description, redaction.description.as_ref()),
            ])
        }
        TargetType::Opportunity => {
            let (title, description): (String, String) = opportunities::table
                .find(id)
                .select((opportunities::title, opportunities::description))
                .first(conn)?;
            diesel::update(opportunities::table.find(id))
                .set((
                    redaction.title.as_ref().map(|t| opportunities::title.eq(t)),
                    redaction
                        .description
                        .as_ref()
                        .map(|d| opportunities::description.eq(d)),
                    opportunities::updated_at.eq(now),
                ))
                .execute(conn)?;
            states(&[
                ("title", &title, redaction.title.as_ref()),
                ("description", &description, redaction.description.as_ref()),
            ])
        }
        TargetType::Photo | TargetType::Account => return Err(missing()),
    };
    sync::record(conn, item.entity.0, &item.entity.1)?;
    Ok((before, after))
}
