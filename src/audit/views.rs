//! What `GET /audit-log` takes and answers.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::models::AuditRow;
use crate::db::utc;

/// Filters and paging of `GET /audit-log`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only actions by this account.
    #[param(max_length = 64)]
    pub actor_id: Option<String>,
    /// An exact action (`moderation.hide`) or a prefix ending in `.` (`moderation.`).
    #[param(max_length = 64)]
    pub action: Option<String>,
    /// Only actions on this kind of thing: `issue`, `comment`, `photo`, `group`,
    /// `opportunity`, `account`, `category`, `client`.
    #[param(max_length = 32)]
    pub target_type: Option<String>,
    /// Only actions on this thing (with or without `target_type`).
    #[param(max_length = 64)]
    pub target_id: Option<String>,
    /// From this instant (RFC 3339) or day (`YYYY-MM-DD`), inclusive.
    pub from: Option<String>,
    /// Until this instant or day (a day includes all of it), exclusive.
    pub to: Option<String>,
    /// How many entries to return: 1 to 100, default 20.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page (at most 512 characters).
    #[param(max_length = 512)]
    pub cursor: Option<String>,
}

/// One staff action.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntryView {
    pub id: String,
    /// The staff account; `null` for the operator at the command line.
    pub actor_id: Option<String>,
    /// The actor's role when acting: `moderator`, `officer`, `admin` or `operator`.
    pub actor_role: String,
    /// What was done, e.g. `moderation.hide`, `issue.status_changed`,
    /// `account.role_changed`, `category.updated`, `client.secret_rotated`.
    pub action: String,
    pub target_type: String,
    pub target_id: String,
    /// The parts of the target the action changed, before it.
    #[schema(value_type = Option<Object>)]
    pub before: Option<serde_json::Value>,
    /// The same parts after it.
    #[schema(value_type = Option<Object>)]
    pub after: Option<serde_json::Value>,
    /// The reason given, if any.
    pub reason: Option<String>,
    /// The `X-Request-Id` of the request that did it.
    pub request_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

fn json(raw: Option<String>) -> Option<serde_json::Value> {
    raw.and_then(|text| serde_json::from_str(&text).ok())
}

impl From<AuditRow> for AuditEntryView {
    fn from(row: AuditRow) -> Self {
        Self {
            id: row.id,
            actor_id: row.actor_id,
            actor_role: row.actor_role,
            action: row.action,
            target_type: row.target_type,
            target_id: row.target_id,
            before: json(row.before_state),
            after: json(row.after_state),
            reason: row.reason,
            request_id: row.request_id,
            created_at: utc(row.created_at),
        }
    }
}
