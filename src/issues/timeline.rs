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

    /// The domain event (webhooks, notifications) an entry of this kind raises.
    pub fn event_type(self) -> &'static str {
        match self {
            Self::Reported => "issue.reported",
            Self::Comment => "issue.commented",
            Self::StatusChanged => "issue.status_changed",
            Self::Edited => "issue.edited",
            Self::PhotoAdded => "issue.photo_added",
            Self::MarkedDuplicate => "issue.marked_duplicate",
            Self::DuplicateMerged => "issue.duplicate_merged",
            Self::Adopted => "issue.adopted",
            Self::AdoptionReleased => "issue.adoption_released",
            Self::Pledged => "issue.pledged",
        }
    }
}

/// Who did it: an account (with the role it acted in), a partner client, or Civitas
/// itself.
#[derive(Debug, Clone)]
pub enum Actor {
    Account { id: String, role: String },
    Partner { client_id: String },
    System,
}

/// The `actor_role` of events done by a partner client.
pub const PARTNER_ROLE: &str = "partner";

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
    /// The partner client that did it, for events done by a partner.
    pub actor_client_id: Option<String>,
    /// For a comment: when moderators removed it from public view (the text stays
    /// stored, for staff and for restoring it).
    pub hidden_at: Option<NaiveDateTime>,
}

/// Appends an event to an issue's timeline, raises the matching domain event in the
/// outbox and logs the change for the sync feed; returns the entry's id. Call it inside
/// the transaction that makes the change, so the history never disagrees with the state
/// and no event describes a rollback.
pub fn record(
    conn: &mut DbConnection,
    issue_id: &str,
    event: NewEvent<'_>,
    now: NaiveDateTime,
) -> QueryResult<String> {
    let id = uuid::Uuid::now_v7().to_string();
    let (actor_id, actor_client_id, actor_role) = match &event.actor {
        Actor::Account { id, role } => (Some(id.as_str()), None, role.as_str()),
        Actor::Partner { client_id } => (None, Some(client_id.as_str()), PARTNER_ROLE),
        Actor::System => (None, None, "system"),
    };
    let data = event.data.map(|d| d.to_string());
    crate::db::on_backend!(conn, |c| diesel::insert_into(issue_events::table)
        .values((
            issue_events::id.eq(&id),
            issue_events::issue_id.eq(issue_id),
            issue_events::kind.eq(event.kind.as_str()),
            issue_events::actor_id.eq(actor_id),
            issue_events::actor_client_id.eq(actor_client_id),
            issue_events::actor_role.eq(actor_role),
            issue_events::from_status.eq(event.from_status),
            issue_events::to_status.eq(event.to_status),
            issue_events::body.eq(event.body),
            issue_events::data.eq(&data),
            issue_events::created_at.eq(now),
        ))
        .execute(c))?;
    crate::db::outbox::record(
        conn,
        event.kind.event_type(),
        ("issue", issue_id),
        serde_json::json!({
            "timeline_entry_id": id,
            "actor_id": actor_id,
            "actor_client_id": actor_client_id,
            "actor_role": actor_role,
            "from_status": event.from_status,
            "to_status": event.to_status,
        }),
        now,
    )?;
    crate::sync::record(conn, crate::sync::Entity::Issue, issue_id)?;
    Ok(id)
}
