//! The dispatcher: a background task in every node that claims undispatched events from
//! the outbox and fans each out, in one transaction, to webhook deliveries and
//! notifications; push messages for the new notifications go out after it commits.
//!
//! On PostgreSQL events are claimed with `FOR UPDATE SKIP LOCKED`, so several nodes share
//! the work and no event is fanned out twice; SQLite serialises writers anyway.

use std::time::Duration;

use actix_web::web;
use diesel::prelude::*;

use super::Event;
use crate::db::schema::outbox_events;
use crate::db::{self, DbConnection};
use crate::error::ApiError;
use crate::notifications::{self, PushMessage};
use crate::startup::AppState;
use crate::webhooks;

/// Events claimed per transaction.
const BATCH: i64 = 100;
/// How long to wait after a failed round before trying again.
const ERROR_BACKOFF: Duration = Duration::from_secs(5);

/// Dispatches until the process stops: a round, then a pause when there was nothing to do.
pub async fn run(state: web::Data<AppState>) {
    let idle = state.config.dispatch_interval;
    loop {
        match dispatch_once(&state).await {
            Ok(0) => actix_web::rt::time::sleep(idle).await,
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(%error, "event dispatch failed; retrying");
                actix_web::rt::time::sleep(ERROR_BACKOFF).await;
            }
        }
    }
}

/// One round: claims up to a batch of events, fans them out and marks them dispatched in
/// one transaction, then sends the push messages. Returns how many events it took.
pub async fn dispatch_once(state: &web::Data<AppState>) -> Result<usize, ApiError> {
    let (count, pushes) = db::write(&state.pool, |conn| {
        let events = claim(conn, BATCH)?;
        let now = db::now();
        let mut pushes: Vec<PushMessage> = Vec::new();
        webhooks::fanout(conn, &events, now)?;
        for event in &events {
            pushes.extend(notifications::fanout(conn, event, now)?);
        }
        let ids: Vec<&str> = events.iter().map(|event| event.id.as_str()).collect();
        diesel::update(outbox_events::table.filter(outbox_events::id.eq_any(&ids)))
            .set(outbox_events::dispatched_at.eq(now))
            .execute(conn)?;
        Ok((events.len(), pushes))
    })
    .await?;
    if !pushes.is_empty() {
        notifications::push::deliver(state, pushes).await;
    }
    Ok(count)
}

/// The oldest undispatched events, locked for this transaction (on PostgreSQL, skipping
/// those another node holds).
fn claim(conn: &mut DbConnection, limit: i64) -> QueryResult<Vec<Event>> {
    let pending = || {
        outbox_events::table
            .filter(outbox_events::dispatched_at.is_null())
            .order(outbox_events::id.asc())
            .limit(limit)
    };
    match conn {
        DbConnection::Postgresql(pg) => pending()
            .for_update()
            .skip_locked()
            .select(Event::as_select())
            .load(pg),
        DbConnection::Sqlite(lite) => pending().select(Event::as_select()).load(lite),
    }
}

/// Outbox events not yet dispatched (for `/metrics` and tests).
pub fn backlog(conn: &mut DbConnection) -> QueryResult<i64> {
    outbox_events::table
        .filter(outbox_events::dispatched_at.is_null())
        .count()
        .get_result(conn)
}
