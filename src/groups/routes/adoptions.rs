//! A group taking an issue on (adoption) and letting it go again.

use actix_web::{HttpResponse, delete, post, web};
use diesel::OptionalExtension;

use super::{no_such_group, organiser, visible_group};
use crate::auth::AuthUser;
use crate::db;
use crate::error::{ApiError, ApiResult};
use crate::groups::models;
use crate::groups::views::AdoptIssueRequest;
use crate::issues::lifecycle::Status;
use crate::issues::models as issue_models;
use crate::issues::routes::issue_detail;
use crate::issues::timeline::{self, Actor, EventKind, NewEvent};
use crate::issues::views::IssueDetail;
use crate::startup::AppState;

/// Statuses an adoption moves to `community`; other open statuses keep theirs.
const MOVES_TO_COMMUNITY: [Status; 3] = [Status::Reported, Status::Reopened, Status::Declined];

/// Adopt an issue: the group takes it on (organisers and owners).
///
/// The issue must be open (or `declined` by the council) and not adopted by another
/// group (`409 already_adopted`); duplicates cannot be adopted (`409 issue_is_duplicate`).
/// A `reported`, `reopened` or `declined` issue moves to `community`; the timeline records
/// the adoption (and the status change). The group's organisers may then resolve or
/// escalate the issue. Adopting an issue the group already adopted changes nothing (200).
#[utoipa::path(
    tag = "Groups",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Group id")),
    request_body = AdoptIssueRequest,
    responses(
        (status = 201, description = "Adopted: the issue now", body = IssueDetail,
         headers(("Location" = String, description = "The issue"))),
        (status = 200, description = "This group had adopted it already", body = IssueDetail),
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
#[post("/groups/{id}/adoptions")]
pub async fn adopt_issue(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
    body: web::Json<AdoptIssueRequest>,
) -> ApiResult<HttpResponse> {
    user.ensure_may_post()?;
    let id = id.into_inner();
    let issue_id = body.into_inner().issue_id;
    let (created, detail) = db::write(&state.pool, move |conn| {
        // A hidden group takes nothing on (whoever asks), and a hidden issue is unknown
        // to all but staff.
        let group = visible_group(conn, &id, None)?;
        organiser(conn, &group.id, &user)?;
        let issue = issue_models::find_issue(conn, &issue_id)
            .optional()?
            .filter(|issue| !issue.is_hidden() || user.role.is_staff())
            .ok_or_else(|| {
                ApiError::invalid_field("issue_id", "unknown_issue", "No such issue.")
            })?;
        let status = Status::parse(&issue.status).ok_or_else(|| {
            ApiError::internal(anyhow::anyhow!("unknown status {:?}", issue.status))
        })?;
        if let Some(canonical) = &issue.duplicate_of {
            return Err(ApiError::conflict(
                "issue_is_duplicate",
                format!("This issue duplicates {canonical}; adopt that one."),
            ));
        }
        if !status.is_open() && status != Status::Declined {
            return Err(ApiError::conflict(
                "issue_closed",
                format!(
                    "The issue is `{}`; only open issues can be adopted.",
                    status.as_str()
                ),
            ));
        }
        let now = db::now();
        if !models::adopt(conn, &issue.id, &group.id, now)? {
            let adopter = issue_models::find_issue(conn, &issue.id)?.adopted_by_group_id;
            if adopter.as_deref() == Some(group.id.as_str()) {
                return Ok((false, issue_detail(conn, &issue.id, Some(&user))?));
            }
            return Err(ApiError::conflict(
                "already_adopted",
                "Another group has adopted this issue.",
            ));
        }
        let actor = Actor::Account {
            id: user.account_id.clone(),
            role: user.role.as_str().to_owned(),
        };
        timeline::record(
            conn,
            &issue.id,
            NewEvent {
                kind: EventKind::Adopted,
                actor: actor.clone(),
                from_status: None,
                to_status: None,
                body: None,
                data: Some(serde_json::json!({ "group_id": group.id, "group_name": group.name })),
            },
            now,
        )?;
        if MOVES_TO_COMMUNITY.contains(&status) {
            if !issue_models::set_status(conn, &issue.id, status, Status::Community, now)? {
                return Err(ApiError::conflict(
                    "status_changed",
                    "The issue changed status meanwhile; reload it and try again.",
                ));
            }
            let note = format!("Adopted by {}", group.name);
            timeline::record(
                conn,
                &issue.id,
                NewEvent {
                    kind: EventKind::StatusChanged,
                    actor,
                    from_status: Some(status.as_str()),
                    to_status: Some(Status::Community.as_str()),
                    body: Some(&note),
                    data: Some(serde_json::json!({ "group_id": group.id })),
                },
                now,
            )?;
        }
        Ok((true, issue_detail(conn, &issue.id, Some(&user))?))
    })
    .await?;
    if !created {
        return Ok(HttpResponse::Ok().json(detail));
    }
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/issues/{}", detail.issue.id)))
        .json(detail))
}

/// Release an adopted issue (organisers and owners): the group no longer takes it on.
/// The issue keeps its status; the timeline records the release. `404` if this group has
/// not adopted the issue.
#[utoipa::path(
    tag = "Groups",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "Group id"),
        ("issue_id" = String, Path, description = "Issue id"),
    ),
    responses(
        (status = 204, description = "Released"),
        (status = 401, response = crate::error::Unauthorized),
        (status = 403, response = crate::error::Forbidden),
        (status = 404, response = crate::error::NotFound),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[delete("/groups/{id}/adoptions/{issue_id}")]
pub async fn release_issue(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (id, issue_id) = path.into_inner();
    db::write(&state.pool, move |conn| {
        let group = models::find_group(conn, &id).map_err(no_such_group)?;
        organiser(conn, &group.id, &user)?;
        let now = db::now();
        if !models::release(conn, &issue_id, &group.id, now)? {
            return Err(ApiError::not_found(
                "This group has not adopted that issue.",
            ));
        }
        timeline::record(
            conn,
            &issue_id,
            NewEvent {
                kind: EventKind::AdoptionReleased,
                actor: Actor::Account {
                    id: user.account_id.clone(),
                    role: user.role.as_str().to_owned(),
                },
                from_status: None,
                to_status: None,
                body: None,
                data: Some(serde_json::json!({ "group_id": group.id, "group_name": group.name })),
            },
            now,
        )?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
