//! The citizen's notification feed (`/me/notifications`) and push devices (`/me/devices`).

use actix_web::{HttpResponse, delete, get, post, put, web};
use utoipa_actix_web::service_config::ServiceConfig;

use super::models;
use super::views::{
    DeviceList, DeviceView, FeedFilter, MarkRead, MarkReadRequest, NotificationPage,
    NotificationView, Platform, PushToken, RegisterDeviceRequest, UnreadCount,
};
use crate::auth::AuthUser;
use crate::db;
use crate::error::{ApiError, ApiResult, FieldError, FieldErrors};
use crate::pagination::{Page, PageQuery};
use crate::startup::AppState;

/// Registers the notification and device routes (under `/api/v1`).
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_notifications)
        .service(mark_notifications_read)
        .service(list_devices)
        .service(register_device)
        .service(delete_device);
}

/// The caller's notifications, newest first.
///
/// Things the caller reported or follows changing status, being commented on or adopted;
/// their pledges confirmed (also on promotion from the waitlist), verified or their claims
/// rejected; opportunities they pledged to cancelled; their requests to join a group
/// approved. Never about the caller's own doing; the kinds switched off in
/// `notification_preferences` (on `/me`) are left out. Notifications appear a moment after
/// the change (they are fanned out from the event outbox). `unread_count` counts all
/// unread notifications, for a badge.
#[utoipa::path(
    tag = "Notifications",
    security(("bearer" = [])),
    params(PageQuery, FeedFilter),
    responses(
        (status = 200, description = "A page of the feed", body = NotificationPage),
        (status = 400, response = crate::error::BadRequest),
        (status = 401, response = crate::error::Unauthorized),
        (status = 422, response = crate::error::ValidationFailed),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[get("/me/notifications")]
pub async fn list_notifications(
    state: web::Data<AppState>,
    user: AuthUser,
    page: web::Query<PageQuery>,
    filter: web::Query<FeedFilter>,
) -> ApiResult<web::Json<NotificationPage>> {
    let limit = page.limit()?;
    let before: Option<String> = page.after()?;
    let unread_only = filter.unread.unwrap_or(false);
    let (rows, unread_count) = db::read(&state.pool, move |conn| {
        let rows = models::feed(
            conn,
            &user.account_id,
            unread_only,
            before.as_deref(),
            limit + 1,
        )?;
        Ok((rows, models::unread_count(conn, &user.account_id)?))
    })
    .await?;
    let page = Page::from_rows(rows, limit, |row| row.id.clone(), NotificationView::from);
    Ok(web::Json(NotificationPage {
        items: page.items,
        next_cursor: page.next_cursor,
        unread_count,
    }))
}

/// Mark notifications read: `{ids: [...]}` (at most 100; ids that are not the caller's
/// are ignored) or `{all: true}`. Answers how many stay unread.
#[utoipa::path(
    tag = "Notifications",
    security(("bearer" = [])),
    request_body = MarkReadRequest,
    responses(
        (status = 200, description = "Marked read", body = UnreadCount),
        (status = 400, response = crate::error::BadRequest),
        (status = 401, response = crate::error::Unauthorized),
        (status = 413, response = crate::error::PayloadTooLarge),
        (status = 415, response = crate::error::UnsupportedMediaType),
        (status = 422, response = crate::error::ValidationFailed),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[post("/me/notifications/read")]
pub async fn mark_notifications_read(
    state: web::Data<AppState>,
    user: AuthUser,
    body: web::Json<MarkReadRequest>,
) -> ApiResult<web::Json<UnreadCount>> {
    let which = MarkRead::try_from(body.into_inner()).map_err(ApiError::validation)?;
    let unread_count = db::write(&state.pool, move |conn| {
        let ids = match &which {
            MarkRead::Ids(ids) => Some(ids.as_slice()),
            MarkRead::All => None,
        };
        models::mark_read(conn, &user.account_id, ids, db::now())?;
        Ok(models::unread_count(conn, &user.account_id)?)
    })
    .await?;
    Ok(web::Json(UnreadCount { unread_count }))
}

/// The caller's push devices, most recently registered first, tokens shown only in part.
#[utoipa::path(
    tag = "Notifications",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's devices", body = DeviceList),
        (status = 401, response = crate::error::Unauthorized),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[get("/me/devices")]
pub async fn list_devices(
    state: web::Data<AppState>,
    user: AuthUser,
) -> ApiResult<web::Json<DeviceList>> {
    let rows = db::read(&state.pool, move |conn| {
        Ok(models::devices_of(conn, &user.account_id)?)
    })
    .await?;
    Ok(web::Json(DeviceList {
        items: rows.into_iter().map(DeviceView::from).collect(),
        next_cursor: None,
    }))
}

/// Register a push token for the caller's device. Idempotent: registering it again
/// updates its platform and time. A token registered by another account moves to the
/// caller (the last account to register a device's token gets its pushes). An account
/// keeps at most 20 devices: one more drops the one registered longest ago.
///
/// `201` when the token is new to the caller, `200` when it was already theirs. Put the
/// token in the path percent-encoded: 1 to 4096 printable ASCII characters.
#[utoipa::path(
    tag = "Notifications",
    security(("bearer" = [])),
    params(("token" = String, Path, description = "The push token (FCM registration token, APNs device token, Web Push endpoint): 1 to 4096 printable ASCII characters", min_length = 1, max_length = 4096, pattern = "^[!-~]+$")),
    request_body = RegisterDeviceRequest,
    responses(
        (status = 200, description = "Already registered to the caller; refreshed", body = DeviceView),
        (status = 201, description = "Registered to the caller", body = DeviceView),
        (status = 400, response = crate::error::BadRequest),
        (status = 401, response = crate::error::Unauthorized),
        (status = 413, response = crate::error::PayloadTooLarge),
        (status = 415, response = crate::error::UnsupportedMediaType),
        (status = 422, response = crate::error::ValidationFailed),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[put("/me/devices/{token}")]
pub async fn register_device(
    state: web::Data<AppState>,
    user: AuthUser,
    token: web::Path<String>,
    body: web::Json<RegisterDeviceRequest>,
) -> ApiResult<HttpResponse> {
    let mut errors = FieldErrors::new();
    let token = errors.check(PushToken::parse(&token));
    let platform =
        errors.check(Platform::parse(&body.platform).ok_or_else(|| {
            FieldError::new("platform", "invalid", "One of `fcm`, `apns`, `webpush`.")
        }));
    let (Some(token), Some(platform)) = (token, platform) else {
        return Err(ApiError::validation(errors));
    };
    let (row, is_new) = db::write(&state.pool, move |conn| {
        Ok(models::register_device(
            conn,
            &user.account_id,
            token.as_str(),
            platform.as_str(),
            db::now(),
        )?)
    })
    .await?;
    let view = DeviceView::from(row);
    Ok(if is_new {
        HttpResponse::Created().json(view)
    } else {
        HttpResponse::Ok().json(view)
    })
}

/// Forget one of the caller's push devices (on sign-out, or when the app loses its
/// token). `404` if the token is not registered to the caller.
#[utoipa::path(
    tag = "Notifications",
    security(("bearer" = [])),
    params(("token" = String, Path, description = "The push token, as registered (at most 4096 characters)", min_length = 1, max_length = 4096)),
    responses(
        (status = 204, description = "Forgotten"),
        (status = 401, response = crate::error::Unauthorized),
        (status = 404, response = crate::error::NotFound),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[delete("/me/devices/{token}")]
pub async fn delete_device(
    state: web::Data<AppState>,
    user: AuthUser,
    token: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let token = token.into_inner();
    let deleted = db::write(&state.pool, move |conn| {
        Ok(models::delete_device(conn, &user.account_id, &token)?)
    })
    .await?;
    if deleted {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::not_found("No such device is registered to you."))
    }
}
