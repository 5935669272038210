//! Registration, email verification, login, refresh, logout and password reset.
//!
//! None of these answers differently for an email that has an account and one that has
//! not: same status, same body, about the same time.

use actix_web::{HttpResponse, post, web};
use secrecy::{ExposeSecret, SecretString};

use super::{MAX_PASSWORD_BYTES, plausible_token};
use crate::accounts::models::{self, NewAccount, Refresh, TokenPurpose};
use crate::accounts::throttle;
use crate::accounts::views::{
    LoginRequest, MailTokenRequest, PasswordResetAccepted, PasswordResetConfirm,
    PasswordResetRequest, RefreshRequest, RegisterRequest, RegistrationAccepted, TokenPair,
};
use crate::auth::AuthUser;
use crate::auth::tokens::{ACCESS_TOKEN_TTL_SECS, issue_access_token};
use crate::db::{self, DbConnection};
use crate::domain::{DisplayName, Email, NewPassword, Role};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::moderation::models as moderation;
use crate::startup::AppState;

pub(super) const MAX_DEVICE_NAME_LEN: usize = 100;

fn invalid_credentials() -> ApiError {
    ApiError::unauthorized("invalid_credentials", "The email or password is not right.")
}

/// Said only to someone who proved the password (or holds a live refresh token), so it
/// tells nobody else whether an account exists.
fn account_banned() -> ApiError {
    ApiError::forbidden(
        "account_banned",
        "A moderator banned this account; it can no longer sign in.",
    )
}

fn invalid_mail_token() -> ApiError {
    ApiError::bad_request(
        "invalid_or_expired_token",
        "This link is invalid, already used or expired; ask for a new one.",
    )
}

/// Turns a session into the token pair a client holds.
fn token_pair(
    state: &AppState,
    conn: &mut DbConnection,
    account_id: &str,
    session_id: String,
    role: &str,
    refresh_token: String,
) -> ApiResult<TokenPair> {
    let access_token = issue_access_token(
        &state.keys,
        conn,
        &state.config.public_url,
        account_id,
        &session_id,
        role,
    )?;
    Ok(TokenPair {
        access_token,
        refresh_token,
        token_type: "Bearer",
        expires_in: ACCESS_TOKEN_TTL_SECS,
        session_id,
    })
}

/// Sends the mail that carries an email-verification token.
pub(super) fn send_verification_mail(state: &AppState, to: &str, token: &str) {
    state.mailer.send(
        to,
        "Verify your email address for Civitas",
        format!(
            "Welcome to Civitas!\n\n\
             To verify your email address, enter this code in the app:\n\n\
             verification token: {token}\n\n\
             (Apps send it to POST {}/api/v1/auth/verify-email.) It expires in 48 hours.\n\n\
             If you did not sign up, ignore this mail.\n",
            state.config.public_url
        ),
    );
}

/// Create an account.
///
/// Sends a verification mail. Answers `201` with the same body whether or not the email
/// was already registered (the owner of an existing account gets a mail saying someone
/// tried to sign up with it), so the route cannot be used to find out who has an account.
#[utoipa::path(
    tag = "Accounts",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Accepted: check your inbox", body = RegistrationAccepted),
        (status = 400, response = crate::error::BadRequest),
        (status = 413, response = crate::error::PayloadTooLarge),
        (status = 415, response = crate::error::UnsupportedMediaType),
        (status = 422, response = crate::error::ValidationFailed),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[post("/auth/register")]
pub async fn register_account(
    state: web::Data<AppState>,
    body: web::Json<RegisterRequest>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let email = Email::parse("email", &body.email);
    let password = NewPassword::parse("password", body.password.expose_secret());
    let name = DisplayName::parse("display_name", &body.display_name);
    let (email, password, name) = match (email, password, name) {
        (Ok(email), Ok(password), Ok(name)) => (email, password, name),
        (email, password, name) => {
            let errors: Vec<FieldError> = [email.err(), password.err(), name.err()]
                .into_iter()
                .flatten()
                .collect();
            return Err(ApiError::validation(errors));
        }
    };
    // Hash before looking the email up, so both outcomes cost the same.
    let password_hash = state
        .passwords
        .hash(SecretString::from(password.expose().to_owned()))
        .await?;
    let now = db::now();
    let account = NewAccount {
        id: uuid::Uuid::now_v7().to_string(),
        email: email.clone().into_inner(),
        display_name: name.into_inner(),
        password_hash,
        role: Role::Citizen.as_str().to_owned(),
        email_verified_at: None,
        created_at: now,
        updated_at: now,
    };
    let token = db::write(&state.pool, move |conn| {
        if models::find_account_by_email(conn, &account.email)?.is_some() {
            return Ok(None);
        }
        models::insert_account(conn, &account)?;
        Ok(Some(models::create_email_token(
            conn,
            &account.id,
            TokenPurpose::VerifyEmail,
            now,
        )?))
    })
    .await;
    let token = match token {
        Ok(token) => token,
        // Two sign-ups with one email at the same instant: the loser is "already taken".
        Err(error) if error.status() == actix_web::http::StatusCode::CONFLICT => None,
        Err(error) => return Err(error),
    };
    match token {
        Some(token) => send_verification_mail(&state, email.as_str(), &token),
        None => state.mailer.send(
            email.as_str(),
            "Someone tried to sign up to Civitas with your address",
            "Someone (maybe you) tried to create a Civitas account with this email address, \
             but you already have one. Sign in instead, or reset your password from the app \
             if you have forgotten it.\n\nIf it was not you, you can ignore this mail.\n"
                .to_owned(),
        ),
    }
    Ok(HttpResponse::Created().json(RegistrationAccepted {
        message: "Check your inbox: we sent a link to verify your email address.".into(),
    }))
}

/// Verify an email address with the token from the verification mail.
#[utoipa::path(
    tag = "Accounts",
    request_body = MailTokenRequest,
    responses(
        (status = 204, description = "The email address is verified"),
        (status = 400, response = crate::error::BadRequest),
        (status = 413, response = crate::error::PayloadTooLarge),
        (status = 415, response = crate::error::UnsupportedMediaType),
        (status = 422, response = crate::error::ValidationFailed),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[post("/auth/verify-email")]
pub async fn verify_email(
    state: web::Data<AppState>,
    body: web::Json<MailTokenRequest>,
) -> ApiResult<HttpResponse> {
    let token = body.into_inner().token;
    if !plausible_token(&token) {
        return Err(invalid_mail_token());
    }
    let now = db::now();
    db::write(&state.pool, move |conn| {
        let account_id = models::consume_email_token(conn, &token, TokenPurpose::VerifyEmail, now)?
            .ok_or_else(invalid_mail_token)?;
        models::mark_email_verified(conn, &account_id, now)?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Sign in: opens a session for this device and returns its tokens.
///
/// After five wrong passwords for one email, each further attempt must wait (1 s, 2 s,
/// 4 s… at most 15 minutes): `429` with `Retry-After`. The count is per email, whether or
/// not an account has it, and a successful sign-in clears it.
///
/// A banned account gets `403 account_banned`, but only once its password is proven.
#[utoipa::path(
    tag = "Accounts",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in", body = TokenPair),
        (status = 400, response = crate::error::BadRequest),
        (status = 401, response = crate::error::Unauthorized),
        (status = 403, response = crate::error::Forbidden),
        (status = 413, response = crate::error::PayloadTooLarge),
        (status = 415, response = crate::error::UnsupportedMediaType),
        (status = 422, response = crate::error::ValidationFailed),
        (status = 429, response = crate::error::TooManyRequests),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[post("/auth/login")]
pub async fn login(
    state: web::Data<AppState>,
    body: web::Json<LoginRequest>,
) -> ApiResult<web::Json<TokenPair>> {
    let LoginRequest {
        email,
        password,
        device_name,
    } = body.into_inner();
    let device_name = device_name
        .map(|name| name.trim().to_owned())
        .filter(|n| !n.is_empty());
    if device_name.as_ref().is_some_and(|name| {
        name.chars().count() > MAX_DEVICE_NAME_LEN || name.chars().any(char::is_control)
    }) {
        return Err(ApiError::invalid_field(
            "device_name",
            "too_long",
            format!("At most {MAX_DEVICE_NAME_LEN} characters, no control characters."),
        ));
    }
    let email = Email::parse("email", &email).map_err(|_| invalid_credentials())?;
    if password.expose_secret().len() > MAX_PASSWORD_BYTES {
        return Err(invalid_credentials());
    }
    let now = db::now();
    let key = email.clone().into_inner();
    let (blocked, account) = db::read(&state.pool, move |conn| {
        Ok((
            throttle::blocked_for(conn, &key, now)?,
            models::find_account_by_email(conn, &key)?,
        ))
    })
    .await?;
    if let Some(seconds) = blocked {
        return Err(ApiError::too_many_requests(
            "Too many failed sign-ins for this email; wait before trying again.",
            seconds,
        ));
    }
    let verified = state
        .passwords
        .verify(password, account.as_ref().map(|a| a.password_hash.clone()))
        .await?;
    let key = email.into_inner();
    match account {
        Some(account) if verified => {
            let app = state.clone();
            let pair = db::write(&state.pool, move |conn| {
                // Checked in the transaction that opens the session, so a ban cannot
                // slip between the check and the new session.
                if moderation::is_banned(conn, &account.id)? {
                    return Err(account_banned());
                }
                throttle::clear(conn, &key)?;
                let (session_id, refresh_token) =
                    models::create_session(conn, &account.id, device_name.as_deref(), now)?;
                token_pair(
                    &app,
                    conn,
                    &account.id,
                    session_id,
                    &account.role,
                    refresh_token,
                )
            })
            .await?;
            Ok(web::Json(pair))
        }
        _ => {
            db::write(&state.pool, move |conn| {
                Ok(throttle::record_failure(conn, &key, db::now())?)
            })
            .await?;
            Err(invalid_credentials())
        }
    }
}

/// Exchange a refresh token for a new pair.
///
/// The presented refresh token is spent. Presenting a spent one again ends the whole
/// session (its holder may not be the only one): sign in again. A ban ends every session
/// of the account, so its refresh tokens stop working too.
#[utoipa::path(
    tag = "Accounts",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "A new token pair", body = TokenPair),
        (status = 400, response = crate::error::BadRequest),
        (status = 401, response = crate::error::Unauthorized),
        (status = 403, response = crate::error::Forbidden),
        (status = 413, response = crate::error::PayloadTooLarge),
        (status = 415, response = crate::error::UnsupportedMediaType),
        (status = 422, response = crate::error::ValidationFailed),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[post("/auth/refresh")]
pub async fn refresh_session(
    state: web::Data<AppState>,
    body: web::Json<RefreshRequest>,
) -> ApiResult<web::Json<TokenPair>> {
    let presented = body.into_inner().refresh_token;
    let invalid = || {
        ApiError::unauthorized(
            "invalid_refresh_token",
            "This refresh token is not valid; sign in again.",
        )
    };
    if !plausible_token(&presented) {
        return Err(invalid());
    }
    let app = state.clone();
    let outcome = db::write(&state.pool, move |conn| {
        match models::rotate_refresh_token(conn, &presented, db::now())? {
            // A ban revokes every session, so this only catches a refresh racing it; the
            // error rolls the rotation back.
            Refresh::Rotated { account_id, .. } if moderation::is_banned(conn, &account_id)? => {
                Err(account_banned())
            }
            Refresh::Rotated {
                session_id,
                account_id,
                role,
                refresh_token,
            } => token_pair(&app, conn, &account_id, session_id, &role, refresh_token).map(Some),
            // Committed, not rolled back: the session stays revoked.
            Refresh::Reused => Ok(None),
            Refresh::Invalid => Err(invalid()),
        }
    })
    .await?;
    outcome.map(web::Json).ok_or_else(|| {
        ApiError::unauthorized(
            "refresh_token_reused",
            "This refresh token was already used, so its session has been ended; sign in again.",
        )
    })
}

/// Sign out: ends this session. Its access and refresh tokens stop working at once.
#[utoipa::path(
    tag = "Accounts",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Signed out"),
        (status = 401, response = crate::error::Unauthorized),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[post("/auth/logout")]
pub async fn logout(state: web::Data<AppState>, user: AuthUser) -> ApiResult<HttpResponse> {
    db::write(&state.pool, move |conn| {
        Ok(models::revoke_session(
            conn,
            &user.session_id,
            "logout",
            db::now(),
        )?)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Ask for a password-reset mail.
///
/// Always `202` with the same body: whether an account has this email is not revealed.
#[utoipa::path(
    tag = "Accounts",
    request_body = PasswordResetRequest,
    responses(
        (status = 202, description = "If an account has this email, a reset mail is on its way", body = PasswordResetAccepted),
        (status = 400, response = crate::error::BadRequest),
        (status = 413, response = crate::error::PayloadTooLarge),
        (status = 415, response = crate::error::UnsupportedMediaType),
        (status = 422, response = crate::error::ValidationFailed),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[post("/auth/password-reset")]
pub async fn request_password_reset(
    state: web::Data<AppState>,
    body: web::Json<PasswordResetRequest>,
) -> ApiResult<HttpResponse> {
    let email = Email::parse("email", &body.into_inner().email)
        .map_err(|e| ApiError::validation(vec![e]))?;
    let now = db::now();
    let key = email.clone().into_inner();
    let token = db::write(
        &state.pool,
        move |conn| match models::find_account_by_email(conn, &key)? {
            Some(account) => Ok(Some(models::create_email_token(
                conn,
                &account.id,
                TokenPurpose::PasswordReset,
                now,
            )?)),
            None => Ok(None),
        },
    )
    .await?;
    if let Some(token) = token {
        state.mailer.send(
            email.as_str(),
            "Reset your Civitas password",
            format!(
                "Someone (hopefully you) asked to reset the password of your Civitas account.\n\n\
                 To choose a new password, enter this code in the app:\n\n\
                 reset token: {token}\n\n\
                 (Apps send it to POST {}/api/v1/auth/password-reset/confirm.) It expires in one \
                 hour. If you did not ask for this, ignore this mail: your password is unchanged.\n",
                state.config.public_url
            ),
        );
    }
    Ok(HttpResponse::Accepted().json(PasswordResetAccepted {
        message: "If an account has this email address, we sent it a link to reset the password."
            .into(),
    }))
}

/// Set a new password with the token from the reset mail.
///
/// Ends every session of the account, and counts as proof the email address works.
#[utoipa::path(
    tag = "Accounts",
    request_body = PasswordResetConfirm,
    responses(
        (status = 204, description = "Password changed; sign in again"),
        (status = 400, response = crate::error::BadRequest),
        (status = 413, response = crate::error::PayloadTooLarge),
        (status = 415, response = crate::error::UnsupportedMediaType),
        (status = 422, response = crate::error::ValidationFailed),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[post("/auth/password-reset/confirm")]
pub async fn confirm_password_reset(
    state: web::Data<AppState>,
    body: web::Json<PasswordResetConfirm>,
) -> ApiResult<HttpResponse> {
    let PasswordResetConfirm {
        token,
        new_password,
    } = body.into_inner();
    let password = NewPassword::parse("new_password", new_password.expose_secret())
        .map_err(|e| ApiError::validation(vec![e]))?;
    if !plausible_token(&token) {
        return Err(invalid_mail_token());
    }
    let hash = state
        .passwords
        .hash(SecretString::from(password.expose().to_owned()))
        .await?;
    let now = db::now();
    db::write(&state.pool, move |conn| {
        let account_id =
            models::consume_email_token(conn, &token, TokenPurpose::PasswordReset, now)?
                .ok_or_else(invalid_mail_token)?;
        models::set_password_hash(conn, &account_id, &hash, now)?;
        models::mark_email_verified(conn, &account_id, now)?;
        models::revoke_sessions_of(conn, &account_id, None, "password_reset", now)?;
        let email = models::find_account(conn, &account_id)?.email;
        throttle::clear(conn, &email)?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
