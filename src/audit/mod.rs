//! The audit log: every staff action anywhere in Civitas (moderation, role changes,
//! officers' status changes, category edits, partner-client management), with who did
//! it, what, to what, the state before and after, when, and the request's id.
//!
//! Entries are written by [`Trail::record`] in the transaction that makes the change, so
//! the log never tells of a change that did not happen. The table is append-only: no
//! code updates or deletes it, and a trigger on each backend refuses to. Admins read it
//! at `GET /api/v1/audit-log`.

pub mod models;
pub mod routes;
pub mod views;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use diesel::QueryResult;
use serde_json::Value;
use std::future::{Ready, ready};

use crate::auth::AuthUser;
use crate::db::DbConnection;
use crate::telemetry::RequestId;

/// What a staff member did, to what.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    /// A dotted verb: `issue.status_changed`, `moderation.hide`, `account.role_changed`…
    pub action: &'a str,
    /// `issue`, `comment`, `photo`, `group`, `opportunity`, `account`, `category`,
    /// `client`, `signing_key`.
    pub target_type: &'a str,
    pub target_id: &'a str,
    /// The parts of the target the action changed, as they were and as they are.
    pub before: Option<Value>,
    pub after: Option<Value>,
    /// The staff member's stated reason, when the route takes one.
    pub reason: Option<&'a str>,
}

/// The request an action comes from: an extractor for handlers that audit.
#[derive(Debug, Clone, Default)]
pub struct Trail {
    request_id: Option<String>,
}

impl FromRequest for Trail {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let request_id = req.extensions().get::<RequestId>().map(|id| id.0.clone());
        ready(Ok(Self { request_id }))
    }
}

impl Trail {
    /// Records that `actor` did `entry`. Call it inside the change's transaction.
    pub fn record(
        &self,
        conn: &mut DbConnection,
        actor: &AuthUser,
        entry: Entry<'_>,
    ) -> QueryResult<()> {
        models::insert(
            conn,
            Some(&actor.account_id),
            actor.role.as_str(),
            self.request_id.as_deref(),
            entry,
        )
    }

    /// Records an action taken from the command line (`civitas user create`, `client
    /// create`, `keys rotate`): no account, role `operator`.
    pub fn record_operator(conn: &mut DbConnection, entry: Entry<'_>) -> QueryResult<()> {
        models::insert(conn, None, "operator", None, entry)
    }

    /// Records `entry` only when the actor is staff: for routes
    /// that citizens and staff share (an officer's status change is audited, a
    /// reporter's is not).
    pub fn record_if_staff(
        &self,
        conn: &mut DbConnection,
        actor: &AuthUser,
        entry: Entry<'_>,
    ) -> QueryResult<()> {
        if actor.role.is_staff() {
            self.record(conn, actor, entry)
        } else {
            Ok(())
        }
    }
}
