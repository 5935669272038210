//! Who belongs to a group: joining (or asking to), leaving, the member list, and the
//! organisers' changes to members.
//!
//! Every change locks the group first and recounts its active members in the same
//! transaction, so `member_count` is exact and a group always keeps an active owner.

use actix_web::{HttpResponse, delete, get, patch, put, web};

use super::{locked_group, organiser, visible_group};
use crate::auth::{AuthUser, VerifiedCitizen};
use crate::db;
use crate::domain::{JoinPolicy, MemberRole, MemberStatus};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::groups::models::{self, MemberCursor, MemberRow};
use crate::groups::views::{ListMembersQuery, MemberView, MembershipState, UpdateMemberRequest};
use crate::pagination::{Page, PageQuery};
use crate::startup::AppState;

fn last_owner() -> ApiError {
    ApiError::conflict(
        "last_owner",
        "A group always keeps an active owner: make another member owner first.",
    )
}

/// Join a group, or ask to.
///
/// `open` groups: you join at once. `approval`: your request waits (`pending`) for an
/// organiser. `invite`: only with an invitation (`403 invitation_required` without one).
/// An invitation is accepted whatever the policy. Banned accounts may not join
/// (`403 banned`). Idempotent: asking again answers the same state. A group moderators
/// hid is `404`.
#[utoipa::path(
    tag = "Groups",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Group id")),
    responses(
        (status = 200, description = "Your membership: `active` or `pending`", body = MembershipState),
        (status = 401, response = crate::error::Unauthorized),
        (status = 403, response = crate::error::Forbidden),
        (status = 404, response = crate::error::NotFound),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[put("/groups/{id}/membership")]
pub async fn join_group(
    state: web::Data<AppState>,
    VerifiedCitizen(user): VerifiedCitizen,
    id: web::Path<String>,
) -> ApiResult<web::Json<MembershipState>> {
    let id = id.into_inner();
    let membership = db::write(&state.pool, move |conn| {
        let group = locked_group(conn, &id)?;
        let policy = JoinPolicy::parse(&group.join_policy).unwrap_or(JoinPolicy::Invite);
        let current = models::find_member(conn, &group.id, &user.account_id)?;
        let (role, status) = match current.as_ref().map(|m| (m.role(), m.status())) {
            Some((_, MemberStatus::Banned)) => {
                return Err(ApiError::forbidden(
                    "banned",
                    "You are banned from this group.",
                ));
            }
            Some((role, MemberStatus::Active | MemberStatus::Invited)) => {
                (role, MemberStatus::Active)
            }
            Some((role, MemberStatus::Pending)) if policy == JoinPolicy::Open => {
                (role, MemberStatus::Active)
            }
            Some((role, MemberStatus::Pending)) => (role, MemberStatus::Pending),
            None | Some((_, MemberStatus::Removed)) => match policy {
                JoinPolicy::Open => (MemberRole::Member, MemberStatus::Active),
                JoinPolicy::Approval => (MemberRole::Member, MemberStatus::Pending),
                JoinPolicy::Invite => {
                    return Err(ApiError::forbidden(
                        "invitation_required",
                        "This group admits members by invitation only.",
                    ));
                }
            },
        };
        let now = db::now();
        match &current {
            None => models::insert_member(
                conn,
                &MemberRow {
                    group_id: group.id.clone(),
                    account_id: user.account_id.clone(),
                    role: role.as_str().to_owned(),
                    status: status.as_str().to_owned(),
                    created_at: now,
                    updated_at: now,
                },
            )?,
            Some(row) if row.status() != status || row.role() != role => {
                models::set_member(conn, row, role, status, now)?;
            }
            Some(_) => {}
        }
        let member_count = models::recount_members(conn, &group.id)?;
        Ok(MembershipState {
            group_id: group.id,
            role,
            status,
            member_count,
        })
    })
    .await?;
    Ok(web::Json(membership))
}

/// Leave a group, withdraw a request to join, or decline an invitation. Idempotent. The
/// last active owner cannot leave (`409 last_owner`); a ban stays in place.
#[utoipa::path(
    tag = "Groups",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Group id")),
    responses(
        (status = 204, description = "Not a member (any more)"),
        (status = 401, response = crate::error::Unauthorized),
        (status = 404, response = crate::error::NotFound),
        (status = 409, response = crate::error::Conflict),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[delete("/groups/{id}/membership")]
pub async fn leave_group(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    db::write(&state.pool, move |conn| {
        let group = locked_group(conn, &id)?;
        let Some(row) = models::find_member(conn, &group.id, &user.account_id)? else {
            return Ok(());
        };
        match row.status() {
            MemberStatus::Banned | MemberStatus::Removed => return Ok(()),
            MemberStatus::Active
                if row.role() == MemberRole::Owner
                    && models::active_owner_count(conn, &group.id)? <= 1 =>
            {
                return Err(last_owner());
            }
            _ => {}
        }
        models::delete_member(conn, &group.id, &user.account_id)?;
        models::recount_members(conn, &group.id)?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The statuses a member list asks for (default `active`).
fn parse_statuses(raw: Option<&str>) -> ApiResult<Vec<MemberStatus>> {
    let mut statuses = Vec::new();
    let mut errors = Vec::new();
    for part in raw.unwrap_or_default().split(',').map(str::trim) {
        if part.is_empty() {
            continue;
        }
        match MemberStatus::parse(part) {
            Some(status) if !statuses.contains(&status) => statuses.push(status),
            Some(_) => {}
            None => errors.push(FieldError::new(
                "status",
                "unknown_status",
                format!("No member status {part:?}."),
            )),
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    if statuses.is_empty() {
        statuses.push(MemberStatus::Active);
    }
    Ok(statuses)
}

/// A group's members, in the order they joined: for its active members only
/// (`403 members_only` for anyone else). Organisers and owners may also list `pending`
/// requests, `invited`, `banned` and `removed` accounts with `status` (comma-separated).
/// The members of a group moderators hid are `404` for everyone but staff.
#[utoipa::path(
    tag = "Groups",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Group id"), ListMembersQuery),
    responses(
        (status = 200, description = "A page of members", body = Page<MemberView>),
        (status = 400, response = crate::error::BadRequest),
        (status = 401, response = crate::error::Unauthorized),
        (status = 403, response = crate::error::Forbidden),
        (status = 404, response = crate::error::NotFound),
        (status = 422, response = crate::error::ValidationFailed),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[get("/groups/{id}/members")]
pub async fn list_group_members(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
    query: web::Query<ListMembersQuery>,
) -> ApiResult<web::Json<Page<MemberView>>> {
    let id = id.into_inner();
    let query = query.into_inner();
    let statuses = parse_statuses(query.status.as_deref())?;
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor,
    };
    let limit = page.limit()?;
    let after: Option<MemberCursor> = page.after()?;
    let page = db::read(&state.pool, move |conn| {
        let group = visible_group(conn, &id, Some(&user))?;
        let me = models::find_member(conn, &group.id, &user.account_id)?
            .filter(|m| m.status() == MemberStatus::Active)
            .ok_or_else(|| {
                ApiError::forbidden("members_only", "Only the group's members see its members.")
            })?;
        if statuses.iter().any(|s| *s != MemberStatus::Active) && !me.organises() {
            return Err(ApiError::forbidden(
                "not_organiser",
                "Only organisers and owners see requests, invitations and bans.",
            ));
        }
        let rows = models::list_members(conn, &group.id, &statuses, after, limit + 1)?;
        Ok(Page::from_rows(
            rows,
            limit,
            |(row, _)| MemberCursor {
                t: row.created_at,
                id: row.account_id.clone(),
            },
            |(row, name)| MemberView::new(&row, name),
        ))
    })
    .await?;
    Ok(web::Json(page))
}

/// Where a member change leads: the status and role the row ends with.
fn next_status(
    current: Option<MemberStatus>,
    asked: Option<MemberStatus>,
) -> ApiResult<MemberStatus> {
    use MemberStatus::{Active, Banned, Invited, Pending, Removed};
    let not_member = || ApiError::not_found("This account is not a member of the group.");
    match (asked, current) {
        (None, Some(status)) => Ok(status),
        (None | Some(Removed), None) => Err(not_member()),
        (Some(Active), Some(Active | Pending)) => Ok(Active),
        (Some(Active), _) => Err(ApiError::conflict(
            "not_pending",
            "Only a pending request can be approved; invite the account instead.",
        )),
        (Some(Invited), None | Some(Removed | Invited)) => Ok(Invited),
        // They asked to join: inviting them lets them in.
        (Some(Invited), Some(Pending)) => Ok(Active),
        (Some(Invited), Some(Active)) => Err(ApiError::conflict(
            "already_member",
            "This account is a member already.",
        )),
        (Some(Invited), Some(Banned)) => Err(ApiError::conflict(
            "banned",
            "This account is banned; lift the ban (`status: removed`) first.",
        )),
        (Some(Pending), _) => Err(ApiError::invalid_field(
            "status",
            "not_settable",
            "`pending` is set by the account asking to join.",
        )),
        (Some(Removed), Some(_)) => Ok(Removed),
        (Some(Banned), _) => Ok(Banned),
    }
}

/// Change one member (organisers and owners): approve a request (`status: active`),
/// invite any account (`status: invited`), remove (`removed`; they may join again), ban
/// (`banned`; they may not), or change the role.
///
/// Organisers and owners make and unmake organisers; only owners make, unmake, remove or
/// ban owners (`403 owners_only`). A group always keeps an active owner
/// (`409 last_owner`). Removing or banning someone also drops their role.
#[utoipa::path(
    tag = "Groups",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "Group id"),
        ("account_id" = String, Path, description = "The member's account id"),
    ),
    request_body = UpdateMemberRequest,
    responses(
        (status = 200, description = "The member after the change", body = MemberView),
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
#[patch("/groups/{id}/members/{account_id}")]
pub async fn update_group_member(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(String, String)>,
    body: web::Json<UpdateMemberRequest>,
) -> ApiResult<web::Json<MemberView>> {
    let (id, account_id) = path.into_inner();
    let body = body.into_inner();
    if body.status.is_none() && body.role.is_none() {
        return Err(ApiError::invalid_field(
            "status",
            "required",
            "Give `status`, `role` or both.",
        ));
    }
    let member = db::write(&state.pool, move |conn| {
        let group = locked_group(conn, &id)?;
        let me = organiser(conn, &group.id, &user)?;
        let name = models::account_name(conn, &account_id).map_err(|error| match error {
            diesel::result::Error::NotFound => ApiError::not_found("No such account."),
            other => other.into(),
        })?;
        let target = models::find_member(conn, &group.id, &account_id)?;
        let current = target.as_ref().map(|t| (t.role(), t.status()));
        let status = next_status(current.map(|(_, s)| s), body.status)?;
        let keeps_role = matches!(
            status,
            MemberStatus::Active | MemberStatus::Invited | MemberStatus::Pending
        );
        let role = match (body.role, current) {
            (Some(_), _) if !keeps_role => {
                return Err(ApiError::conflict(
                    "not_a_member",
                    "Only members, invited accounts and requests have a role.",
                ));
            }
            (Some(role), _) => role,
            (None, _) if !keeps_role => MemberRole::Member,
            (None, Some((role, s))) if s != MemberStatus::Removed => role,
            (None, _) => MemberRole::Member,
        };
        let target_owns = current.is_some_and(|(r, s)| {
            r == MemberRole::Owner && !matches!(s, MemberStatus::Removed | MemberStatus::Banned)
        });
        if (target_owns || role == MemberRole::Owner) && me.role() != MemberRole::Owner {
            return Err(ApiError::forbidden(
                "owners_only",
                "Only owners make, unmake, remove or ban owners.",
            ));
        }
        let stays_owner = status == MemberStatus::Active && role == MemberRole::Owner;
        if current == Some((MemberRole::Owner, MemberStatus::Active))
            && !stays_owner
            && models::active_owner_count(conn, &group.id)? <= 1
        {
            return Err(last_owner());
        }
        let now = db::now();
        match &target {
            None => models::insert_member(
                conn,
                &MemberRow {
                    group_id: group.id.clone(),
                    account_id: account_id.clone(),
                    role: role.as_str().to_owned(),
                    status: status.as_str().to_owned(),
                    created_at: now,
                    updated_at: now,
                },
            )?,
            Some(row) if current != Some((role, status)) => {
                models::set_member(conn, row, role, status, now)?;
                if current.is_some_and(|(_, s)| s == MemberStatus::Pending)
                    && status == MemberStatus::Active
                {
                    crate::db::outbox::record(
                        conn,
                        "group.member_approved",
                        ("group", &group.id),
                        serde_json::json!({ "account_id": account_id }),
                        now,
                    )?;
                }
            }
            Some(_) => {}
        }
        models::recount_members(conn, &group.id)?;
        let row = models::find_member(conn, &group.id, &account_id)?
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("member row vanished")))?;
        Ok(MemberView::new(&row, name))
    })
    .await?;
    Ok(web::Json(member))
}
