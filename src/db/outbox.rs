//! The transactional outbox: domain events recorded in the same transaction as the change
//! they describe, so none is lost and none describes a change that rolled back. A
//! dispatcher delivers them (to notifications, webhooks and push) once that lands.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConnection;
use super::schema::outbox_events;

/// Records an event, e.g. `opportunity.cancelled` about `("opportunity", id)`.
pub fn record(
    conn: &mut DbConnection,
    kind: &str,
    subject: (&str, &str),
    data: serde_json::Value,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let id = uuid::Uuid::now_v7().to_string();
    let data = data.to_string();
    super::on_backend!(conn, |c| diesel::insert_into(outbox_events::table)
        .values((
            outbox_events::id.eq(&id),
            outbox_events::kind.eq(kind),
            outbox_events::subject_type.eq(subject.0),
            outbox_events::subject_id.eq(subject.1),
            outbox_events::data.eq(&data),
            outbox_events::created_at.eq(now),
        ))
        .execute(c))
    .map(|_| ())
}
