//! Granting roles: `PUT /accounts/{id}/role`, for admins, audited.

use actix_web::{put, web};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::audit::{Entry, Trail};
use crate::auth::{AdminOnly, RoleGuard};
use crate::db::{self, schema::accounts, utc};
use crate::domain::Role;
use crate::error::{ApiError, ApiResult};
use crate::startup::AppState;

/// The role to grant.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetRoleRequest {
    pub role: Role,
    /// Why, for the audit log (at most 1000 characters).
    #[schema(max_length = 1000)]
    pub reason: Option<String>,
}

/// An account's role after a change.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountRole {
    pub account_id: String,
    pub role: Role,
    pub updated_at: DateTime<Utc>,
}

const MAX_REASON_CHARS: usize = 1000;

/// Grant an account a role: `citizen`, `moderator`, `officer` or `admin`. Admins only,
/// never on their own account (so the last admin cannot demote themselves by mistake).
/// It takes effect on the account's next request; the change is in the audit log.
#[utoipa::path(
    tag = "Moderation",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The account id")),
    request_body = SetRoleRequest,
    responses(
        (status = 200, description = "The role now held", body = AccountRole),
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
#[put("/accounts/{id}/role")]
pub async fn set_account_role(
    state: web::Data<AppState>,
    admin: RoleGuard<AdminOnly>,
    trail: Trail,
    id: web::Path<String>,
    body: web::Json<SetRoleRequest>,
) -> ApiResult<web::Json<AccountRole>> {
    let id = id.into_inner();
    let SetRoleRequest { role, reason } = body.into_inner();
    let reason = reason
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty());
    if reason
        .as_deref()
        .is_some_and(|r| r.chars().count() > MAX_REASON_CHARS)
    {
        return Err(ApiError::invalid_field(
            "reason",
            "too_long",
            format!("At most {MAX_REASON_CHARS} characters."),
        ));
    }
    if id == admin.0.account_id {
        return Err(ApiError::invalid_field(
            "id",
            "own_account",
            "Another admin must change your role.",
        ));
    }
    let changed = db::write(&state.pool, move |conn| {
        let current: String = accounts::table
            .find(&id)
            .filter(accounts::deleted_at.is_null())
            .select(accounts::role)
            .first(conn)
            .optional()?
            .ok_or_else(|| ApiError::not_found("No such account."))?;
        let now = db::now();
        if current != role.as_str() {
            diesel::update(accounts::table.find(&id))
                .set((
                    accounts::role.eq(role.as_str()),
                    accounts::updated_at.eq(now),
                ))
                .execute(conn)?;
            trail.record(
                conn,
                &admin.0,
                Entry {
                    action: "account.role_changed",
                    target_type: "account",
                    target_id: &id,
                    before: Some(json!({ "role": current })),
                    after: Some(json!({ "role": role.as_str() })),
                    reason: reason.as_deref(),
                },
            )?;
        }
        Ok(AccountRole {
            account_id: id,
            role,
            updated_at: utc(now),
        })
    })
    .await?;
    Ok(web::Json(changed))
}
