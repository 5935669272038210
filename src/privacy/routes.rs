//! The privacy routes: the caller's consents, the export of their data, and the erasure
//! of their account.

use actix_web::http::header;
use actix_web::{HttpResponse, delete, get, put, web};
use utoipa_actix_web::service_config::ServiceConfig;

use super::consents::{self, Purpose};
use super::erase;
use super::export::{self, consent_list};
use super::views::{
    ConsentList, ConsentState, DeleteAccountRequest, ExportDocument, UpdateConsentRequest,
};
use crate::accounts::routes::confirm_password;
use crate::auth::AuthUser;
use crate::db;
use crate::error::{ApiError, ApiResult};
use crate::startup::AppState;

/// Registers the routes (under `/api/v1`).
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_consents)
        .service(update_consent)
        .service(export_my_data)
        .service(delete_my_account);
}

/// How many answers `GET /me/consents` lists (the export has them all).
const HISTORY_SHOWN: i64 = 100;

/// The caller's consents: for every purpose Civitas asks about, its wording and version
/// now in force and the caller's answer (none given means not granted), then the latest
/// 100 answers, newest first.
#[utoipa::path(
    tag = "Privacy",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's consents", body = ConsentList),
        (status = 401, response = crate::error::Unauthorized),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[get("/me/consents")]
pub async fn list_consents(
    state: web::Data<AppState>,
    user: AuthUser,
) -> ApiResult<web::Json<ConsentList>> {
    let list = db::read(&state.pool, move |conn| {
        Ok(consent_list(conn, &user.account_id, Some(HISTORY_SHOWN))?)
    })
    .await?;
    Ok(web::Json(list))
}

/// Grant or withdraw a consent. `purpose` is `contact_council` (the council may have your
/// name and email address when an issue you reported is escalated to it) or `public_name`
/// (your name on your public participation record).
///
/// `version` must be the current version of the wording (`422 stale_version` otherwise:
/// show the current text from `GET /me/consents` and ask again). Each change is kept,
/// with its time and version; repeating the answer in force changes nothing. It holds
/// everywhere from the next request on.
#[utoipa::path(
    tag = "Privacy",
    security(("bearer" = [])),
    params(("purpose" = Purpose, Path, description = "What the consent is for")),
    request_body = UpdateConsentRequest,
    responses(
        (status = 200, description = "The consent as it now stands", body = ConsentState),
        (status = 400, response = crate::error::BadRequest),
        (status = 401, response = crate::error::Unauthorized),
        (status = 404, response = crate::error::NotFound),
        (status = 413, response = crate::error::PayloadTooLarge),
        (status = 415, response = crate::error::UnsupportedMediaType),
        (status = 422, response = crate::error::ValidationFailed),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[put("/me/consents/{purpose}")]
pub async fn update_consent(
    state: web::Data<AppState>,
    user: AuthUser,
    purpose: web::Path<String>,
    body: web::Json<UpdateConsentRequest>,
) -> ApiResult<web::Json<ConsentState>> {
    let purpose = Purpose::parse(&purpose)
        .ok_or_else(|| ApiError::not_found("Civitas asks for no consent of that name."))?;
    let UpdateConsentRequest { granted, version } = body.into_inner();
    if version != purpose.version() {
        return Err(ApiError::unprocessable(
            "stale_version",
            format!(
                "The wording of this consent is now version {}: show it and ask again.",
                purpose.version()
            ),
        ));
    }
    let row = db::write(&state.pool, move |conn| {
        Ok(consents::record(
            conn,
            &user.account_id,
            purpose,
            granted,
            db::now(),
        )?)
    })
    .await?;
    Ok(web::Json(ConsentState::new(purpose, Some(&row))))
}

/// Everything Civitas holds about the caller, as one JSON document to download: profile,
/// sessions, reports (anonymous ones too), comments, other timeline activity, supports,
/// follows, groups, pledges with their hours, the participation record, opportunities
/// created, notifications, push devices, consents with their history, flags raised,
/// photos uploaded, mail links sent and recent failed sign-ins. Never a password hash or
/// a token: push tokens are masked.
#[utoipa::path(
    tag = "Privacy",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The export, as an attachment (`Cache-Control: no-store`)", body = ExportDocument,
            headers(("Content-Disposition" = String, description = "`attachment; filename=\"civitas-export-YYYY-MM-DD.json\"`"))),
        (status = 401, response = crate::error::Unauthorized),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[get("/me/export")]
pub async fn export_my_data(state: web::Data<AppState>, user: AuthUser) -> ApiResult<HttpResponse> {
    let document = db::read(&state.pool, move |conn| {
        Ok(export::export(conn, &user.account_id, &user.session_id)?)
    })
    .await?;
    let filename = format!(
        "civitas-export-{}.json",
        document.exported_at.format("%Y-%m-%d")
    );
    Ok(HttpResponse::Ok()
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{filename}\""),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(document))
}

/// Erase the caller's account; the password confirms it (`403 wrong_password`; wrong
/// passwords count towards the sign-in throttle, `429` when it holds).
///
/// In one step: the email address, name and password are gone, with every session,
/// pending mail link, push device, notification, consent, follow and group membership.
/// Pledges lose their link to the caller and their notes, skills, materials and amounts
/// (open ones for opportunities that have not started are withdrawn first, so the
/// waitlist moves up); their hours stay as anonymous figures. Groups the caller was the
/// last owner of pass to their longest-standing organiser, or are archived when they
/// have none. What the caller contributed in public (issues, comments, photos, supports)
/// stays, by "deleted user".
///
/// Afterwards the caller's tokens are refused, the old email address signs in to nothing
/// and may register again. This cannot be undone: export first (`GET /me/export`).
#[utoipa::path(
    tag = "Privacy",
    security(("bearer" = [])),
    request_body = DeleteAccountRequest,
    responses(
        (status = 204, description = "The account is erased"),
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
#[delete("/me")]
pub async fn delete_my_account(
    state: web::Data<AppState>,
    user: AuthUser,
    body: web::Json<DeleteAccountRequest>,
) -> ApiResult<HttpResponse> {
    let DeleteAccountRequest { password } = body.into_inner();
    let wrong = || ApiError::forbidden("wrong_password", "The password is not right.");
    confirm_password(&state, &user.account_id, &password, wrong).await?;
    let account_id = user.account_id.clone();
    let erased = db::write(&state.pool, move |conn| {
        Ok(erase::erase_account(conn, &account_id, db::now())?)
    })
    .await?;
    if erased {
        tracing::info!(account_id = %user.account_id, "account erased at its owner's request");
    }
    Ok(HttpResponse::NoContent().finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::routes::MAX_PASSWORD_BYTES;
    use crate::openapi::bounds::property;
    use crate::privacy::views::MAX_VERSION_LEN;

    #[test]
    fn documented_lengths_are_the_enforced_ones() {
        assert_eq!(
            property::<DeleteAccountRequest>("password")["maxLength"],
            MAX_PASSWORD_BYTES
        );
        assert_eq!(
            property::<UpdateConsentRequest>("version")["maxLength"],
            MAX_VERSION_LEN
        );
        for purpose in Purpose::ALL {
            assert!(purpose.version().len() <= MAX_VERSION_LEN);
        }
    }
}
