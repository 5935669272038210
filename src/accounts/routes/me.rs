//! The caller's own account: profile, password, verification mail and sessions.

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use secrecy::{ExposeSecret, SecretString};

use super::MAX_PASSWORD_BYTES;
use super::auth::send_verification_mail;
use crate::accounts::models::{self, TokenPurpose};
use crate::accounts::throttle;
use crate::accounts::views::{ChangePasswordRequest, MeView, SessionView, UpdateMeRequest};
use crate::auth::AuthUser;
use crate::db;
use crate::domain::{DisplayName, NewPassword};
use crate::error::{ApiError, ApiResult, FieldErrors};
use crate::notifications::models as notification_models;
use crate::notifications::preferences::PreferencesPatch;
use crate::pagination::{Page, PageQuery};
use crate::startup::AppState;

/// The caller's profile.
#[utoipa::path(
    tag = "Me",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's profile", body = MeView),
        (status = 401, response = crate::error::Unauthorized),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[get("/me")]
pub async fn get_me(state: web::Data<AppState>, user: AuthUser) -> ApiResult<web::Json<MeView>> {
    let account = db::read(&state.pool, move |conn| {
        Ok(models::find_account(conn, &user.account_id)?)
    })
    .await?;
    Ok(web::Json(account.into()))
}

/// Change the caller's profile: `display_name` and `notification_preferences` (a partial
/// object of booleans: the kinds named change, the others stay). Roles are granted by
/// staff, and a body naming `role` is refused. A suspended account may change its
/// preferences but not its name, which its public posts show (`403 account_suspended`).
#[utoipa::path(
    tag = "Me",
    security(("bearer" = [])),
    params(("If-Match" = Option<String>, Header, description = "The `ETag` of the profile as last read; `412` if it changed since")),
    request_body = UpdateMeRequest,
    responses(
        (status = 200, description = "The updated profile", body = MeView),
        (status = 400, response = crate::error::BadRequest),
        (status = 401, response = crate::error::Unauthorized),
        (status = 403, response = crate::error::Forbidden),
        (status = 413, response = crate::error::PayloadTooLarge),
        (status = 415, response = crate::error::UnsupportedMediaType),
        (status = 412, response = crate::error::PreconditionFailed),
        (status = 422, response = crate::error::ValidationFailed),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[patch("/me")]
pub async fn update_me(
    state: web::Data<AppState>,
    user: AuthUser,
    req: HttpRequest,
    body: web::Json<UpdateMeRequest>,
) -> ApiResult<web::Json<MeView>> {
    let if_match = crate::conditional::if_match(&req);
    let UpdateMeRequest {
        display_name,
        notification_preferences,
    } = body.into_inner();
    let mut errors = FieldErrors::new();
    let name = errors.optional(display_name, |name| {
        DisplayName::parse("display_name", &name)
    });
    let preferences = match notification_preferences
        .as_ref()
        .map(PreferencesPatch::parse)
    {
        Some(Err(invalid)) => {
            errors.extend(invalid);
            None
        }
        Some(Ok(patch)) => Some(patch),
        None => None,
    };
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    if name.is_some() {
        user.ensure_may_post()?;
    }
    let account = db::write(&state.pool, move |conn| {
        let current = MeView::from(models::find_account(conn, &user.account_id)?);
        crate::conditional::check_if_match(if_match.as_deref(), &current)?;
        let now = db::now();
        if let Some(name) = name {
            models::set_display_name(conn, &user.account_id, &name.into_inner(), now)?;
        }
        if let Some(patch) = preferences {
            let current = notification_models::preferences(conn, &user.account_id)?;
            notification_models::set_preferences(
                conn,
                &user.account_id,
                current.with(&patch),
                now,
            )?;
        }
        Ok(models::find_account(conn, &user.account_id)?)
    })
    .await?;
    Ok(web::Json(account.into()))
}

/// Change the caller's password. Every other session of the account ends; this one
/// stays signed in.
///
/// Wrong current passwords count towards the same throttle as sign-ins.
#[utoipa::path(
    tag = "Me",
    security(("bearer" = [])),
    request_body = ChangePasswordRequest,
    responses(
        (status = 204, description = "Password changed"),
        (status = 400, response = crate::error::BadRequest),
        (status = 401, response = crate::error::Unauthorized),
        (status = 413, response = crate::error::PayloadTooLarge),
        (status = 415, response = crate::error::UnsupportedMediaType),
        (status = 422, response = crate::error::ValidationFailed),
        (status = 429, response = crate::error::TooManyRequests),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[post("/me/password")]
pub async fn change_password(
    state: web::Data<AppState>,
    user: AuthUser,
    body: web::Json<ChangePasswordRequest>,
) -> ApiResult<HttpResponse> {
    let ChangePasswordRequest {
        current_password,
        new_password,
    } = body.into_inner();
    let new_password = NewPassword::parse("new_password", new_password.expose_secret())
        .map_err(|e| ApiError::validation(vec![e]))?;
    let incorrect = || {
        ApiError::invalid_field(
            "current_password",
            "incorrect",
            "The current password is not right.",
        )
    };
    confirm_password(&state, &user.account_id, &current_password, incorrect).await?;
    let now = db::now();
    let hash = state
        .passwords
        .hash(SecretString::from(new_password.expose().to_owned()))
        .await?;
    db::write(&state.pool, move |conn| {
        models::set_password_hash(conn, &user.account_id, &hash, now)?;
        models::revoke_sessions_of(
            conn,
            &user.account_id,
            Some(&user.session_id),
            "password_changed",
            now,
        )?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Send a new verification mail to the caller's address (earlier links stop working).
#[utoipa::path(
    tag = "Me",
    security(("bearer" = [])),
    responses(
        (status = 202, description = "A verification mail is on its way"),
        (status = 401, response = crate::error::Unauthorized),
        (status = 409, response = crate::error::Conflict),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[post("/me/email-verification")]
pub async fn resend_verification_email(
    state: web::Data<AppState>,
    user: AuthUser,
) -> ApiResult<HttpResponse> {
    let (email, token) = db::write(&state.pool, move |conn| {
        let account = models::find_account(conn, &user.account_id)?;
        if account.email_verified_at.is_some() {
            return Err(ApiError::conflict(
                "already_verified",
                "This email address is already verified.",
            ));
        }
        let token =
            models::create_email_token(conn, &account.id, TokenPurpose::VerifyEmail, db::now())?;
        Ok((account.email, token))
    })
    .await?;
    send_verification_mail(&state, &email, &token);
    Ok(HttpResponse::Accepted().finish())
}

/// The devices signed in to the caller's account, newest first.
#[utoipa::path(
    tag = "Me",
    security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "Live sessions", body = Page<SessionView>),
        (status = 400, response = crate::error::BadRequest),
        (status = 401, response = crate::error::Unauthorized),
        (status = 422, response = crate::error::ValidationFailed),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[get("/me/sessions")]
pub async fn list_sessions(
    state: web::Data<AppState>,
    user: AuthUser,
    page: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<SessionView>>> {
    let limit = page.limit()?;
    let before: Option<String> = page.after()?;
    let rows = db::read(&state.pool, {
        let account_id = user.account_id.clone();
        move |conn| {
            Ok(models::list_sessions(
                conn,
                &account_id,
                before.as_deref(),
                limit + 1,
                db::now(),
            )?)
        }
    })
    .await?;
    Ok(web::Json(Page::from_rows(
        rows,
        limit,
        |session| session.id.clone(),
        |session| SessionView::new(session, &user.session_id),
    )))
}

/// Sign a device out: ends one of the caller's sessions.
#[utoipa::path(
    tag = "Me",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "A session id from `GET /me/sessions`")),
    responses(
        (status = 204, description = "The session has ended"),
        (status = 401, response = crate::error::Unauthorized),
        (status = 404, response = crate::error::NotFound),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[delete("/me/sessions/{id}")]
pub async fn delete_session(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let ended = db::write(&state.pool, move |conn| {
        Ok(models::revoke_own_session(
            conn,
            &user.account_id,
            &id,
            db::now(),
        )?)
    })
    .await?;
    if ended {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::not_found("You have no such session."))
    }
}

/// The caller's account, once `password` is confirmed to be theirs: for the changes that
/// ask for the password again (changing it, erasing the account). A wrong password is
/// `wrong()` and counts towards the sign-in throttle; while throttled the answer is `429`.
pub(crate) async fn confirm_password(
    state: &AppState,
    account_id: &str,
    password: &SecretString,
    wrong: impl Fn() -> ApiError,
) -> ApiResult<models::Account> {
    if password.expose_secret().len() > MAX_PASSWORD_BYTES {
        return Err(wrong());
    }
    let account_id = account_id.to_owned();
    let now = db::now();
    let account = db::read(&state.pool, move |conn| {
        Ok(models::find_account(conn, &account_id)?)
    })
    .await?;
    let email = account.email.clone();
    let blocked = db::read(&state.pool, move |conn| {
        Ok(throttle::blocked_for(conn, &email, now)?)
    })
    .await?;
    if let Some(seconds) = blocked {
        return Err(ApiError::too_many_requests(
            "Too many wrong passwords; wait before trying again.",
            seconds,
        ));
    }
    if !state
        .passwords
        .verify(password.clone(), Some(account.password_hash.clone()))
        .await?
    {
        let email = account.email;
        db::write(&state.pool, move |conn| {
            Ok(throttle::record_failure(conn, &email, now)?)
        })
        .await?;
        return Err(wrong());
    }
    Ok(account)
}
