//! `POST /moderation/actions`: what a moderator does about content (hide, restore,
//! dismiss, redact) or an account (suspend, ban, reinstate). Each action changes the
//! item, resolves its open flags and writes its audit entry in one transaction.

use actix_web::{post, web};
use chrono::NaiveDateTime;
use serde_json::{Value, json};

use super::models::{self, Standing};
use super::targets;
use super::views::{ActionRequest, ActionResult, Change, CheckedAction};
use super::{Action, FlagStatus, TargetType};
use crate::audit::{Entry, Trail};
use crate::auth::{AuthUser, Moderators, RoleGuard};
use crate::db::{self, DbConnection, utc};
use crate::domain::Role;
use crate::error::{ApiError, ApiResult};
use crate::startup::AppState;

/// Act on flagged content or on an account. Moderators and admins only; `reason` is
/// required and kept in the audit log with the state before and after.
///
/// On content (`issue`, `comment`, `photo`, `group`, `opportunity`):
/// - `hide` takes it out of public view (again: still `200`) and upholds its open flags;
/// - `restore` puts it back and dismisses its open flags;
/// - `dismiss` dismisses its open flags, restoring it if flags had hidden it;
/// - `redact` replaces text (`fields`: issue and opportunity `title`, `description`;
///   comment `body`; group `name`, `description`; not photos: hide those). The original
///   text is kept only in the audit log. The item is visible afterwards and its open flags
///   are upheld.
///
/// On an `account`:
/// - `suspend` until `until` (at most 365 days ahead): it keeps its sessions and can read,
///   but cannot post (`403 account_suspended`);
/// - `ban`: every session ends at once and it cannot sign in (`403 account_banned`);
/// - `reinstate` lifts both.
///
/// Nobody acts on their own account (`422 own_account`); only an admin acts on a staff
/// account (`403 staff_account`). A target that does not exist is `404`.
#[utoipa::path(
    tag = "Moderation",
    security(("bearer" = [])),
    request_body = ActionRequest,
    responses(
        (status = 200, description = "Done", body = ActionResult),
        (status = 400, response = crate::error::BadRequest),
        (status = 401, response = crate::error::Unauthorized),
        (status = 403, response = crate::error::Forbidden),
        (status = 404, response = crate::error::NotFound),
        (status = 409, response = crate::error::Conflict),
        (status = 413, response = crate::error::PayloadTooLarge),
        (status = 415, response = crate::error::UnsupportedMediaType),
        (status = 422, response = crate::error::ValidationFailed),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[post("/moderation/actions")]
pub async fn create_action(
    state: web::Data<AppState>,
    moderator: RoleGuard<Moderators>,
    trail: Trail,
    body: web::Json<ActionRequest>,
) -> ApiResult<web::Json<ActionResult>> {
    let moderator = moderator.0;
    let now = db::now();
    let action = body.checked(now).map_err(ApiError::validation)?;
    if action.target == TargetType::Account && action.target_id == moderator.account_id {
        return Err(ApiError::unprocessable(
            "own_account",
            "Nobody moderates their own account.",
        ));
    }
    let result = db::write(&state.pool, move |conn| {
        let (result, before, after) = if action.target == TargetType::Account {
            on_account(conn, &moderator, &action, now)?
        } else {
            on_content(conn, &moderator, &action, now)?
        };
        trail.record(
            conn,
            &moderator,
            Entry {
                action: action.action.audit_name(),
                target_type: action.target.as_str(),
                target_id: &action.target_id,
                before: Some(before),
                after: Some(after),
                reason: Some(&action.reason),
            },
        )?;
        Ok(result)
    })
    .await?;
    Ok(web::Json(result))
}

/// Adds `"hidden": hidden` to an audit state.
fn with_hidden(mut state: Value, hidden: bool) -> Value {
    if let Some(object) = state.as_object_mut() {
        object.insert("hidden".to_owned(), json!(hidden));
    }
    state
}

/// Hides, restores, dismisses or redacts; returns the answer and the audit states.
fn on_content(
    conn: &mut DbConnection,
    moderator: &AuthUser,
    action: &CheckedAction,
    now: NaiveDateTime,
) -> ApiResult<(ActionResult, Value, Value)> {
    let (target, id) = (action.target, action.target_id.as_str());
    let item = targets::find(conn, target, id)?
        .ok_or_else(|| ApiError::not_found(format!("No such {}.", target.as_str())))?;
    let was_hidden = item.hidden_at.is_some();
    let hide = action.action == Action::Hide;
    let (before, after) = match &action.change {
        Change::Redact(redaction) => {
            let (before, after) = targets::redact(conn, target, id, &item, redaction, now)?;
            (with_hidden(before, was_hidden), with_hidden(after, false))
        }
        _ => (json!({ "hidden": was_hidden }), json!({ "hidden": hide })),
    };
    if hide != was_hidden {
        targets::set_hidden(conn, target, id, &item, hide.then_some(now))?;
    }
    let verdict = match action.action {
        Action::Hide | Action::Redact => FlagStatus::Upheld,
        _ => FlagStatus::Dismissed,
    };
    let resolved = models::resolve(conn, target, id, verdict, &moderator.account_id, now)?;
    let result = ActionResult {
        action: action.action,
        target_type: target,
        target_id: id.to_owned(),
        hidden: Some(hide),
        suspended_until: None,
        banned: None,
        flags_resolved: i64::try_from(resolved).unwrap_or(i64::MAX),
    };
    Ok((result, before, after))
}

/// The parts of an account's standing an action changes, as an audit state.
fn standing_state(action: Action, standing: &Standing) -> Value {
    let suspended_until = standing.suspended_until.map(utc);
    let banned = standing.banned_at.is_some();
    match action {
        Action::Suspend => json!({ "suspended_until": suspended_until }),
        Action::Ban => json!({ "banned": banned }),
        _ => json!({ "suspended_until": suspended_until, "banned": banned }),
    }
}

/// Suspends, bans or reinstates; returns the answer and the audit states.
fn on_account(
    conn: &mut DbConnection,
    moderator: &AuthUser,
    action: &CheckedAction,
    now: NaiveDateTime,
) -> ApiResult<(ActionResult, Value, Value)> {
    let id = action.target_id.as_str();
    let missing = || ApiError::not_found("No such account.");
    let standing = models::standing(conn, id)?.ok_or_else(missing)?;
    let role = Role::parse(&standing.role).unwrap_or(Role::Citizen);
    if role.is_staff() && moderator.role != Role::Admin {
        return Err(ApiError::forbidden(
            "staff_account",
            "Only an admin may suspend, ban or reinstate a staff account.",
        ));
    }
    match (&action.action, &action.change) {
        (Action::Suspend, Change::Suspend(until)) => models::suspend(conn, id, *until, now)?,
        (Action::Ban, _) => models::ban(conn, id, now)?,
        (Action::Reinstate, _) => models::reinstate(conn, id, now)?,
        _ => {
            return Err(ApiError::unprocessable(
                "not_for_target_type",
                "This action does not act on an account.",
            ));
        }
    }
    let after = models::standing(conn, id)?.ok_or_else(missing)?;
    let result = ActionResult {
        action: action.action,
        target_type: TargetType::Account,
        target_id: id.to_owned(),
        hidden: None,
        // A suspension that has ended is no suspension.
        suspended_until: after.suspended_until.filter(|t| *t > now).map(utc),
        banned: Some(after.banned_at.is_some()),
        flags_resolved: 0,
    };
    Ok((
        result,
        standing_state(action.action, &standing),
        standing_state(action.action, &after),
    ))
}
