//! The public history of an issue: one ordered list of events (reported, comments, status
//! changes, edits, photos, adoption, pledges, council responses).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::issue_events;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Reported,
    Comment,
    StatusChanged,
    Edited,
    PhotoAdded,
    MarkedDuplicate,
    DuplicateMerged,
    Adopted,
    AdoptionReleased,
    Pledged,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reported => "reported",
            Self::Comment => "comment",
            Self::StatusChanged => "status_changed",
            Self::Edited => "edited",
            Self::PhotoAdded => "photo_added",
            Self::MarkedDuplicate => "marked_duplicate",
            Self::DuplicateMerged => "duplicate_merged",
            Self::Adopted => "adopted",
            Self::AdoptionReleased => "adoption_released",
            Self::Pledged => "pledged",
        }
    }
}

/// Who did it: an account (with the role it acted in), or Civitas itself.
#[derive(Debug, Clone)]
pub enum Actor {
    Account { id: String, role: String },
    System,
}

/// An event to append to an issue's timeline.
#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    pub kind: EventKind,
    pub actor: Actor,
    pub from_status: Option<&'a str>,
    pub to_status: Option<&'a str>,
    pub body: Option<&'a str>,
    /// Extra detail as JSON (changed fields, photo id, canonical issue…).
    pub data: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = issue_events)]
pub struct EventRow {
    pub id: String,
    pub issue_id: String,
    pub kind: String,
    pub actor_id: Option<String>,
    pub actor_role: Option<String>,
    pub from_status: Option<String>,
    pub to_status: Option<String>,
    pub body: Option<String>,
    pub data: Option<String>,
    pub deleted_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

/// Appends an event to an issue's timeline; returns the event id. Call it inside the
/// transaction that makes the change, so the history never disagrees with the state.
pub fn record(
    conn: &mut DbConnection,
    issue_id: &str,
    event: NewEvent<'_>,
    now: NaiveDateTime,
) -> QueryResult<String> {
    let id = uuid::Uuid::now_v7().to_string();
    let (actor_id, actor_role) = match &event.actor {
        Actor::Account { id, role } => (Some(id.as_str()), role.as_str()),
        Actor::System => (None, "system"),
    };
    diesel::insert_into(issue_events::table)
        .values((
            issue_events::id.eq(&id),
            issue_events::issue_id.eq(issue_id),
            issue_events::kind.eq(event.kind.as_str()),
            issue_events::actor_id.eq(actor_id),
            issue_events::actor_role.eq(actor_role),
            issue_events::from_status.eq(event.from_status),
            issue_events::to_status.eq(event.to_status),
            issue_events::body.eq(event.body),
            issue_events::data.eq(event.data.map(|d| d.to_string())),
            issue_events::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(id)
}
