//! Moving an issue through the lifecycle.

use actix_web::{post, web};

use super::report::issue_detail;
use super::{allowed_for, visible_issue};
use crate::audit::{Entry, Trail};
use crate::auth::AuthUser;
use crate::db;
use crate::domain::Note;
use crate::error::{ApiError, ApiResult};
use crate::issues::lifecycle::{self, Status};
use crate::issues::models;
use crate::issues::timeline::{self, Actor, EventKind, NewEvent};
use crate::issues::views::{ChangeStatusRequest, IssueDetail};
use crate::startup::AppState;

/// Move an issue to another status, with a note.
///
/// Who may make each move:
///
/// | from | to | who |
/// |---|---|---|
/// | reported | community | staff (automatic when a group adopts it or a pledge is made) |
/// | declined | community | the reporter, the adopting group's organisers, staff |
/// | reported, community, reopened | resolved | the reporter, the adopting group's organisers, staff |
/// | reported, community, reopened | escalated | the reporter, the adopting group's organisers, staff (automatic at the supporter threshold) |
/// | escalated | acknowledged | officers, admins |
/// | acknowledged | in_progress | officers, admins |
/// | in_progress | fixed | officers, admins |
/// | escalated, acknowledged, in_progress | declined (the note is the reason) | officers, admins |
/// | resolved, fixed | reopened (within 30 days) | the reporter, staff |
/// | any open state | duplicate (with `duplicate_of`) | moderators, officers, admins |
///
/// Staff are moderators, officers and admins. A move the table does not have from the
/// current status is `409` with the `allowed` statuses; one the caller may not make is
/// `403`. Marking a duplicate moves its supporters and followers to the canonical issue.
/// An issue moderators hid is `404` for everyone but staff.
#[utoipa::path(
    tag = "Issues",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Issue id")),
    request_body = ChangeStatusRequest,
    responses(
        (status = 200, description = "The issue in its new status", body = IssueDetail),
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
#[post("/issues/{id}/status")]
pub async fn change_issue_status(
    state: web::Data<AppState>,
    user: AuthUser,
    trail: Trail,
    id: web::Path<String>,
    body: web::Json<ChangeStatusRequest>,
) -> ApiResult<web::Json<IssueDetail>> {
    // The note is posted on the public timeline: a suspended account may not post.
    user.ensure_may_post()?;
    let id = id.into_inner();
    let body = body.into_inner();
    let note = Note::parse("note", &body.note).map_err(|e| ApiError::validation(vec![e]))?;
    let to = body.status;
    if to == Status::Duplicate && body.duplicate_of.as_deref().is_none_or(str::is_empty) {
        return Err(ApiError::invalid_field(
            "duplicate_of",
            "required",
            "Name the issue this one duplicates.",
        ));
    }
    let detail = db::write(&state.pool, move |conn| {
        let row = visible_issue(conn, &id, Some(&user))?;
        let from = Status::parse(&row.status).ok_or_else(|| {
            ApiError::internal(anyhow::anyhow!("unknown status {:?}", row.status))
        })?;
        let now = db::now();
        let allowed = allowed_for(conn, &row, Some(&user), now)?;
        if !allowed.contains(&to) {
            let allowed_names = allowed.iter().map(|s| s.as_str().to_owned()).collect();
            let anyone = lifecycle::allowed_next(
                from,
                &lifecycle::Asker {
                    role: crate::domain::Role::Admin,
                    is_reporter: true,
                    is_organiser: true,
                },
                row.closed_at,
                now,
            );
            return Err(if anyone.contains(&to) {
                ApiError::forbidden(
                    "transition_not_allowed",
                    format!(
                        "You may not move this issue from `{}` to `{}`.",
                        from.as_str(),
                        to.as_str()
                    ),
                )
                .with_allowed(allowed_names)
            } else if lifecycle::exists(from, to) {
                ApiError::conflict(
                    "reopen_window_closed",
                    "Issues can be reopened only within 30 days of closing; report it again.",
                )
                .with_allowed(allowed_names)
            } else {
                ApiError::conflict(
                    "invalid_transition",
                    format!(
                        "An issue cannot go from `{}` to `{}`.",
                        from.as_str(),
                        to.as_str()
                    ),
                )
                .with_allowed(allowed_names)
            });
        }
        let actor = Actor::Account {
            id: user.account_id.clone(),
            role: user.role.as_str().to_owned(),
        };
        let mut data = None;
        if to == Status::Duplicate {
            let canonical = resolve_canonical(
                conn,
                &row.id,
                body.duplicate_of.as_deref().unwrap_or_default(),
            )?;
            models::set_duplicate_of(conn, &row.id, &canonical)?;
            models::merge_bonds(conn, &row.id, &canonical, now)?;
            timeline::record(
                conn,
                &canonical,
                NewEvent {
                    kind: EventKind::DuplicateMerged,
                    actor: actor.clone(),
                    from_status: None,
                    to_status: None,
                    body: None,
                    data: Some(serde_json::json!({ "duplicate": row.id })),
                },
                now,
            )?;
            data = Some(serde_json::json!({ "duplicate_of": canonical }));
        }
        if !models::set_status(conn, &row.id, from, to, now)? {
            return Err(ApiError::conflict(
                "status_changed",
                "The issue changed status meanwhile; reload it and try again.",
            ));
        }
        timeline::record(
            conn,
            &row.id,
            NewEvent {
                kind: if to == Status::Duplicate {
                    EventKind::MarkedDuplicate
                } else {
                    EventKind::StatusChanged
                },
                actor,
                from_status: Some(from.as_str()),
                to_status: Some(to.as_str()),
                body: Some(note.as_str()),
                data: data.clone(),
            },
            now,
        )?;
        // Staff changes are audited; residents' and organisers' are on the timeline.
        let mut after = serde_json::json!({ "status": to.as_str() });
        if let (Some(data), Some(object)) = (&data, after.as_object_mut()) {
            object.insert("duplicate_of".into(), data["duplicate_of"].clone());
        }
        trail.record_if_staff(
            conn,
            &user,
            Entry {
                action: "issue.status_changed",
                target_type: "issue",
                target_id: &row.id,
                before: Some(serde_json::json!({ "status": from.as_str() })),
                after: Some(after),
                reason: Some(note.as_str()),
            },
        )?;
        issue_detail(conn, &row.id, Some(&user))
    })
    .await?;
    Ok(web::Json(detail))
}

/// The issue a duplicate should point at: the named one, or, if that is itself a
/// duplicate, the one it points at (so chains stay one step long).
fn resolve_canonical(conn: &mut db::DbConnection, id: &str, named: &str) -> ApiResult<String> {
    let invalid =
        |message: &str| ApiError::invalid_field("duplicate_of", "invalid", message.to_owned());
    if named == id {
        return Err(invalid("An issue cannot duplicate itself."));
    }
    let canonical = models::find_issue(conn, named).map_err(|_| invalid("No such issue."))?;
    match canonical.duplicate_of {
        Some(target) if target == id => Err(invalid("That issue is a duplicate of this one.")),
        Some(target) => Ok(target),
        None => Ok(canonical.id),
    }
}
