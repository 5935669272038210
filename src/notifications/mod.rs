//! The in-app notification feed, notification preferences and push devices.
//!
//! The event dispatcher calls `fanout` for every outbox event, inside its transaction:
//! `compose` decides who hears about it and what they read; the actor and those who
//! switched the topic off are left out; each remaining account gets one notification per
//! event. Push messages for accounts with devices go out through `push` after the
//! transaction commits.

pub mod compose;
pub mod models;
pub mod preferences;
pub mod push;
pub mod routes;
pub mod views;

use chrono::NaiveDateTime;

use crate::db::DbConnection;
use crate::events::Event;
use models::NotificationRow;

/// A push message for one account, sent after the notification it mirrors commits.
#[derive(Debug, Clone)]
pub struct PushMessage {
    pub account_id: String,
    pub notification_id: String,
    pub title: String,
    pub body: Option<String>,
    /// The notification's deep-link ids, plus its `notification_id` and `kind`.
    pub data: serde_json::Value,
}

/// Adds `event` to the feed of everyone it concerns; returns the push messages to send.
pub fn fanout(
    conn: &mut DbConnection,
    event: &Event,
    _now: NaiveDateTime,
) -> diesel::QueryResult<Vec<PushMessage>> {
    let Some(notice) = compose::notice(conn, event)? else {
        return Ok(Vec::new());
    };
    let actor = compose::actor(event);
    let mut recipients: Vec<String> = Vec::with_capacity(notice.audience.len());
    for account in notice.audience {
        if Some(&account) != actor.as_ref() && !recipients.contains(&account) {
            recipients.push(account);
        }
    }
    if recipients.is_empty() {
        return Ok(Vec::new());
    }
    let preferences = models::preferences_of(conn, &recipients)?;
    recipients.retain(|account| {
        preferences
            .get(account)
            .is_some_and(|prefs| prefs.wants(notice.topic))
    });
    if recipients.is_empty() {
        return Ok(Vec::new());
    }
    let with_devices = models::with_devices(conn, &recipients)?;
    let mut pushes = Vec::new();
    for account_id in recipients {
        let row = NotificationRow {
            id: uuid::Uuid::now_v7().to_string(),
            account_id,
            event_id: event.id.clone(),
            kind: event.kind.clone(),
            subject_type: event.subject_type.clone(),
            subject_id: event.subject_id.clone(),
            title: notice.title.clone(),
            body: notice.body.clone(),
            data: notice.data.to_string(),
            read_at: None,
            // When it happened, not when the dispatcher got to it.
            created_at: event.created_at,
        };
        if models::insert_notification(conn, &row)? && with_devices.contains(&row.account_id) {
            let mut data = notice.data.clone();
            data["notification_id"] = serde_json::json!(row.id);
            data["kind"] = serde_json::json!(row.kind);
            pushes.push(PushMessage {
                account_id: row.account_id,
                notification_id: row.id,
                title: row.title,
                body: row.body,
                data,
            });
        }
    }
    Ok(pushes)
}
