//! What neighbours do with an issue: say "me too", follow it, comment, read its history.

use actix_web::{HttpResponse, delete, get, post, put, web};
use std::collections::HashMap;

use super::{may_see_reporter, sees_hidden, visible_issue, visible_to};
use crate::auth::{AuthUser, CitizenToCheck, MaybeUser, VerifiedCitizen};
use crate::db::{self, DbConnection, utc};
use crate::domain::{Note, Role};
use crate::error::{ApiError, ApiResult};
use crate::issues::lifecycle::Status;
use crate::issues::models::{self, Bond, BondCounts, IssueRow};
use crate::issues::timeline::{self, Actor, EventKind, EventRow, NewEvent, PARTNER_ROLE};
use crate::issues::views::{
    CreateCommentRequest, FollowState, SupportState, TimelineActor, TimelineEntry,
};
use crate::pagination::{Page, PageQuery};
use crate::startup::AppState;

/// Statuses from which enough supporters escalate an issue to the council.
const ESCALATES_FROM: [Status; 3] = [Status::Reported, Status::Community, Status::Reopened];

/// An issue that takes new support and followers: one `user` may see, and no duplicate.
fn live_issue(found: Option<IssueRow>, user: &AuthUser) -> ApiResult<IssueRow> {
    let row = seen_issue(found, user)?;
    if let Some(canonical) = &row.duplicate_of {
        return Err(ApiError::conflict(
            "issue_is_duplicate",
            format!("This issue duplicates {canonical}; support or follow that one."),
        ));
    }
    Ok(row)
}

/// The issue `found` if `user` may know it exists, as [`visible_issue`].
fn seen_issue(found: Option<IssueRow>, user: &AuthUser) -> ApiResult<IssueRow> {
    visible_to(
        found.ok_or(diesel::result::Error::NotFound),
        |row| row,
        Some(user),
    )
}

/// Escalates the issue if its supporters reached the threshold. Returns its status.
fn escalate_if_due(
    conn: &mut DbConnection,
    id: &str,
    status: Status,
    support_count: i32,
    threshold: i32,
) -> ApiResult<Status> {
    if support_count < threshold || !ESCALATES_FROM.contains(&status) {
        return Ok(status);
    }
    let now = db::now();
    if models::set_status(conn, id, status, Status::Escalated, now)? {
        let note = format!(
            "Escalated to the council automatically: {support_count} residents support this issue."
        );
        timeline::record(
            conn,
            id,
            NewEvent {
                kind: EventKind::StatusChanged,
                actor: Actor::System,
                from_status: Some(status.as_str()),
                to_status: Some(Status::Escalated.as_str()),
                body: Some(&note),
                data: Some(serde_json::json!({ "support_count": support_count })),
            },
            now,
        )?;
        return Ok(Status::Escalated);
    }
    Ok(status)
}

/// Adds or removes a bond between the caller and an issue in one transaction; returns
/// the issue's counts afterwards and its status (supporting may have escalated it). New
/// bonds are refused on duplicates; removing one always works. The caller's session is
/// checked in the write's first statement, with the issue read; supporting also needs
/// what [`AuthUser::ensure_may_create`] asks.
async fn change_bond(
    state: &AppState,
    caller: CitizenToCheck,
    id: String,
    bond: Bond,
    add: bool,
) -> ApiResult<(BondCounts, Status)> {
    let threshold = state.config.escalation_threshold;
    db::write(&state.pool, move |conn| {
        let token = caller.verify(conn)?;
        let found = models::find_issue_for_session(conn, &id, token.session_id())?;
        let (user, found) = token.admit(found)?;
        let account_id = &user.account_id;
        let (row, changed) = if add {
            if matches!(bond, Bond::Support) {
                user.ensure_may_create()?;
            }
            let row = live_issue(found, &user)?;
            (
                row,
                models::add_bond(conn, bond, &id, account_id, db::now())?,
            )
        } else {
            let row = seen_issue(found, &user)?;
            (row, models::remove_bond(conn, bond, &id, account_id)?)
        };
        // Unchanged, the issue is as just read, in this same transaction.
        let counts = changed.unwrap_or_else(|| BondCounts::of(&row));
        let status = Status::parse(&counts.status).unwrap_or(Status::Reported);
        let status = match (bond, add) {
            (Bond::Support, true) => {
                escalate_if_due(conn, &id, status, counts.support_count, threshold)?
            }
            _ => status,
        };
        Ok((counts, status))
    })
    .await
}

/// Say "me too". Idempotent; verified citizens only. Once an open community issue has
/// enough supporters (`CIVITAS_ESCALATION_THRESHOLD`, default 25) it is escalated to the
/// council automatically.
#[utoipa::path(
    tag = "Issues",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Issue id")),
    responses(
        (status = 200, description = "Supported", body = SupportState),
        (status = 401, response = crate::error::Unauthorized),
        (status = 403, response = crate::error::Forbidden),
        (status = 404, response = crate::error::NotFound),
        (status = 409, response = crate::error::Conflict),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[put("/issues/{id}/support")]
pub async fn support_issue(
    state: web::Data<AppState>,
    caller: CitizenToCheck,
    id: web::Path<String>,
) -> ApiResult<web::Json<SupportState>> {
    let (counts, status) =
        change_bond(&state, caller, id.into_inner(), Bond::Support, true).await?;
    Ok(web::Json(SupportState {
        supported: true,
        support_count: counts.support_count,
        status,
    }))
}

/// Withdraw a "me too". Idempotent.
#[utoipa::path(
    tag = "Issues",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Issue id")),
    responses(
        (status = 200, description = "Not supported", body = SupportState),
        (status = 401, response = crate::error::Unauthorized),
        (status = 404, response = crate::error::NotFound),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[delete("/issues/{id}/support")]
pub async fn unsupport_issue(
    state: web::Data<AppState>,
    caller: CitizenToCheck,
    id: web::Path<String>,
) -> ApiResult<web::Json<SupportState>> {
    let (counts, status) =
        change_bond(&state, caller, id.into_inner(), Bond::Support, false).await?;
    Ok(web::Json(SupportState {
        supported: false,
        support_count: counts.support_count,
        status,
    }))
}

/// Follow an issue: hear about its changes. Idempotent.
#[utoipa::path(
    tag = "Issues",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Issue id")),
    responses(
        (status = 200, description = "Followed", body = FollowState),
        (status = 401, response = crate::error::Unauthorized),
        (status = 404, response = crate::error::NotFound),
        (status = 409, response = crate::error::Conflict),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[put("/issues/{id}/follow")]
pub async fn follow_issue(
    state: web::Data<AppState>,
    caller: CitizenToCheck,
    id: web::Path<String>,
) -> ApiResult<web::Json<FollowState>> {
    let (counts, _) = change_bond(&state, caller, id.into_inner(), Bond::Follow, true).await?;
    Ok(web::Json(FollowState {
        followed: true,
        follower_count: counts.follower_count,
    }))
}

/// Stop following an issue. Idempotent.
#[utoipa::path(
    tag = "Issues",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Issue id")),
    responses(
        (status = 200, description = "Not followed", body = FollowState),
        (status = 401, response = crate::error::Unauthorized),
        (status = 404, response = crate::error::NotFound),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[delete("/issues/{id}/follow")]
pub async fn unfollow_issue(
    state: web::Data<AppState>,
    caller: CitizenToCheck,
    id: web::Path<String>,
) -> ApiResult<web::Json<FollowState>> {
    let (counts, _) = change_bond(&state, caller, id.into_inner(), Bond::Follow, false).await?;
    Ok(web::Json(FollowState {
        followed: false,
        follower_count: counts.follower_count,
    }))
}

fn staff_title(role: &str) -> Option<&'static str> {
    match Role::parse(role)? {
        Role::Moderator => Some("Moderator"),
        Role::Officer => Some("Council officer"),
        Role::Admin => Some("Administrator"),
        Role::Citizen => None,
    }
}

/// Timeline entries as `viewer` may see them: anonymous reporters stay anonymous, staff
/// appear by role, automatic changes as Civitas, and comments moderators removed keep
/// their place without their text (which staff still see).
fn entries(
    conn: &mut DbConnection,
    issue: &IssueRow,
    events: Vec<EventRow>,
    viewer: Option<&AuthUser>,
) -> ApiResult<Vec<TimelineEntry>> {
    let ids: Vec<String> = events.iter().filter_map(|e| e.actor_id.clone()).collect();
    let partner_ids: Vec<String> = events
        .iter()
        .filter_map(|e| e.actor_client_id.clone())
        .collect();
    let names: HashMap<String, String> = models::display_names(conn, &ids)?;
    let partners = crate::partners::models::client_names(conn, &partner_ids)?;
    let hide_reporter = !may_see_reporter(issue, viewer);
    let staff = sees_hidden(viewer);
    Ok(events
        .into_iter()
        .map(|event| {
            let role = event.actor_role.clone().unwrap_or_else(|| "system".into());
            let actor = match (&event.actor_id, staff_title(&role)) {
                (None, _) if event.actor_client_id.is_some() => TimelineActor {
                    id: event.actor_client_id.clone(),
                    display_name: event
                        .actor_client_id
                        .as_ref()
                        .and_then(|id| partners.get(id))
                        .cloned()
                        .unwrap_or_else(|| PARTNER_ROLE.into()),
                    role,
                },
                (None, _) => TimelineActor {
                    id: None,
                    display_name: "Civitas".into(),
                    role,
                },
                (Some(_), Some(title)) => TimelineActor {
                    id: None,
                    display_name: title.into(),
                    role,
                },
                (Some(id), None) if hide_reporter && issue.reporter_id.as_ref() == Some(id) => {
                    TimelineActor {
                        id: None,
                        display_name: "anonymous".into(),
                        role,
                    }
                }
                (Some(id), None) => TimelineActor {
                    id: Some(id.clone()),
                    display_name: names
                        .get(id)
                        .cloned()
                        .unwrap_or_else(|| "deleted user".into()),
                    role,
                },
            };
            let removed_by_moderators = event.hidden_at.is_some();
            TimelineEntry {
                id: event.id,
                kind: event.kind,
                actor,
                from_status: event.from_status.as_deref().and_then(Status::parse),
                to_status: event.to_status.as_deref().and_then(Status::parse),
                text: event.body.filter(|_| staff || !removed_by_moderators),
                data: event.data.and_then(|d| serde_json::from_str(&d).ok()),
                deleted: event.deleted_at.is_some(),
                removed_by_moderators,
                created_at: utc(event.created_at),
            }
        })
        .collect())
}

/// The public history of an issue, oldest first: reported, comments, status changes,
/// edits, photos and more. Each entry names its actor (a display name, `anonymous`, a
/// staff role, or Civitas for automatic changes). A comment moderators removed stays as
/// an entry with `removed_by_moderators: true` and no `text`. The timeline of a hidden
/// issue is `404` for everyone but staff.
#[utoipa::path(
    tag = "Issues",
    params(("id" = String, Path, description = "Issue id"), PageQuery),
    responses(
        (status = 200, description = "A page of the timeline", body = Page<TimelineEntry>),
        (status = 400, response = crate::error::BadRequest),
        (status = 401, response = crate::error::Unauthorized),
        (status = 404, response = crate::error::NotFound),
        (status = 422, response = crate::error::ValidationFailed),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[get("/issues/{id}/timeline")]
pub async fn list_timeline(
    state: web::Data<AppState>,
    MaybeUser(viewer): MaybeUser,
    id: web::Path<String>,
    page: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<TimelineEntry>>> {
    let id = id.into_inner();
    let limit = page.limit()?;
    let after: Option<String> = page.after()?;
    let page = db::read(&state.pool, move |conn| {
        let issue = visible_issue(conn, &id, viewer.as_ref())?;
        let events = models::timeline_page(conn, &id, after.as_deref(), limit + 1)?;
        let entries = entries(conn, &issue, events, viewer.as_ref())?;
        Ok(Page::from_rows(entries, limit, |e| e.id.clone(), |e| e))
    })
    .await?;
    Ok(web::Json(page))
}

/// Comment on an issue (verified citizens; 1 to 2000 characters of plain text). On an
/// issue moderators hid, this and every other change (support, follow, photos, pledges)
/// is `404` for everyone but staff.
#[utoipa::path(
    tag = "Issues",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Issue id")),
    request_body = CreateCommentRequest,
    responses(
        (status = 201, description = "The comment, as the timeline shows it", body = TimelineEntry),
        (status = 400, response = crate::error::BadRequest),
        (status = 401, response = crate::error::Unauthorized),
        (status = 403, response = crate::error::Forbidden),
        (status = 404, response = crate::error::NotFound),
        (status = 413, response = crate::error::PayloadTooLarge),
        (status = 415, response = crate::error::UnsupportedMediaType),
        (status = 422, response = crate::error::ValidationFailed),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[post("/issues/{id}/comments")]
pub async fn create_comment(
    state: web::Data<AppState>,
    VerifiedCitizen(user): VerifiedCitizen,
    id: web::Path<String>,
    body: web::Json<CreateCommentRequest>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let text =
        Note::parse("body", &body.into_inner().body).map_err(|e| ApiError::validation(vec![e]))?;
    let entry = db::write(&state.pool, move |conn| {
        let issue = visible_issue(conn, &id, Some(&user))?;
        let now = db::now();
        let event_id = timeline::record(
            conn,
            &id,
            NewEvent {
                kind: EventKind::Comment,
                actor: Actor::Account {
                    id: user.account_id.clone(),
                    role: user.role.as_str().to_owned(),
                },
                from_status: None,
                to_status: None,
                body: Some(text.as_str()),
                data: None,
            },
            now,
        )?;
        let event = models::find_comment(conn, &id, &event_id)?;
        entries(conn, &issue, vec![event], Some(&user))?
            .pop()
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("comment vanished")))
    })
    .await?;
    Ok(HttpResponse::Created().json(entry))
}

/// Delete one of your comments. A tombstone stays in the timeline. Idempotent.
#[utoipa::path(
    tag = "Issues",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "Issue id"),
        ("comment_id" = String, Path, description = "Comment id (its timeline entry id)"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, response = crate::error::Unauthorized),
        (status = 403, response = crate::error::Forbidden),
        (status = 404, response = crate::error::NotFound),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[delete("/issues/{id}/comments/{comment_id}")]
pub async fn delete_comment(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (id, comment_id) = path.into_inner();
    db::write(&state.pool, move |conn| {
        visible_issue(conn, &id, Some(&user))?;
        let comment = models::find_comment(conn, &id, &comment_id)
            .map_err(|_| ApiError::not_found("No such comment."))?;
        if comment.actor_id.as_deref() != Some(user.account_id.as_str()) {
            return Err(ApiError::forbidden(
                "not_author",
                "Only its author may delete a comment.",
            ));
        }
        if comment.deleted_at.is_none() {
            models::tombstone_comment(conn, &id, &comment_id, db::now())?;
        }
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
