//! The webhook routes: a partner client (scope `webhooks:manage`) registers, lists, reads
//! and deletes its own subscriptions and reads their delivery log. Another client's
//! subscription is 404 everywhere.

use actix_web::http::header;
use actix_web::{HttpResponse, delete, get, post, web};
use secrecy::ExposeSecret;
use utoipa_actix_web::service_config::ServiceConfig;

use super::guard;
use super::models::{self, MAX_LIVE_SUBSCRIPTIONS, NewSubscription};
use super::signature;
use super::views::{CreateWebhookRequest, DeliveryView, WebhookView, WebhookWithSecret};
use crate::db;
use crate::error::{ApiError, ApiResult};
use crate::pagination::{Page, PageQuery};
use crate::partners::{PartnerClient, Scope};
use crate::startup::AppState;

/// Registers the webhook routes (under `/api/v1`).
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create_webhook)
        .service(list_webhooks)
        .service(get_webhook)
        .service(delete_webhook)
        .service(list_webhook_deliveries);
}

fn not_found(error: diesel::result::Error) -> ApiError {
    match error {
        diesel::result::Error::NotFound => ApiError::not_found("No such webhook."),
        other => other.into(),
    }
}

/// Register a webhook: Civitas POSTs each event the client may see and asked for to
/// `url`, signed in the Standard Webhooks format (`webhook-id`, `webhook-timestamp`,
/// `webhook-signature`) with the secret in this answer, which is shown only once.
///
/// The body is `{"type", "timestamp", "data"}`, `data` being the resource as the API
/// shows it to the client: `issue.*` (needs `issues:read`) the public issue with an
/// `event` object (timeline entry id, actor role, from and to status); `opportunity.*`
/// the opportunity; `pledge.*` (needs `pledges:read`) only for pledges to the client's
/// own opportunities. Answer with a 2xx within 10 seconds; anything else is retried with
/// exponential back-off and jitter for about a day. A 410 answer disables the
/// subscription, and so do 5 deliveries in a row that fail after every retry. The URL
/// must be `https` and resolve only to public addresses (checked now and before every
/// delivery); redirects are not followed. A client may have 20 subscriptions.
///
/// Event types: `issue.reported`, `issue.commented`, `issue.status_changed`,
/// `issue.edited`, `issue.photo_added`, `issue.marked_duplicate`, `issue.duplicate_merged`,
/// `issue.adopted`, `issue.adoption_released`, `issue.pledged`; `pledge.made`,
/// `pledge.pledged`, `pledge.waitlisted`, `pledge.confirmed`, `pledge.withdrawn`,
/// `pledge.lapsed`, `pledge.no_show`, `pledge.claimed`, `pledge.claim_rejected`,
/// `pledge.verified`; `opportunity.published`, `opportunity.updated`,
/// `opportunity.completed`, `opportunity.cancelled`; `group.member_approved` (group events
/// name residents and are never sent to partners); `webhook.disabled` (one of the
/// partner's own subscriptions was disabled, with the reason; sent to its others).
#[utoipa::path(
    tag = "Webhooks",
    security(("partner" = ["webhooks:manage"])),
    request_body = CreateWebhookRequest,
    responses(
        (status = 201, description = "Registered; the only answer that shows the secret", body = WebhookWithSecret,
         headers(("Location" = String, description = "The new subscription"))),
        (status = 400, response = crate::error::BadRequest),
        (status = 401, response = crate::error::Unauthorized),
        (status = 403, response = crate::error::Forbidden),
        (status = 409, response = crate::error::Conflict),
        (status = 413, response = crate::error::PayloadTooLarge),
        (status = 415, response = crate::error::UnsupportedMediaType),
        (status = 422, response = crate::error::ValidationFailed),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[post("/webhooks")]
pub async fn create_webhook(
    state: web::Data<AppState>,
    client: PartnerClient,
    body: web::Json<CreateWebhookRequest>,
) -> ApiResult<HttpResponse> {
    client.require(Scope::WebhooksManage)?;
    let checked = body
        .into_inner()
        .checked(state.config.webhook_allow_http)
        .map_err(ApiError::validation)?;
    // Where internal addresses are allowed (development, tests) the host need not even
    // resolve yet; it is resolved again before every delivery anyway.
    if !state.config.webhook_allow_private {
        guard::resolve_checked(&checked.url, false)
            .await
            .map_err(|refusal| ApiError::validation(vec![refusal.field_error()]))?;
    }
    let secret = signature::new_secret();
    let new = NewSubscription {
        id: uuid::Uuid::now_v7().to_string(),
        client_id: client.id.clone(),
        url: checked.url.as_str().to_owned(),
        events: checked.events,
        secret: secret.clone(),
        description: checked.description,
        created_at: db::now(),
    };
    let row = db::write(&state.pool, move |conn| {
        models::lock_client(conn, &new.client_id)?;
        if models::count_live(conn, &new.client_id)? >= MAX_LIVE_SUBSCRIPTIONS {
            return Err(ApiError::conflict(
                "too_many_webhooks",
                format!("A client may have {MAX_LIVE_SUBSCRIPTIONS} webhooks; delete one first."),
            ));
        }
        models::insert_subscription(conn, &new)?;
        Ok(models::find_own(conn, &new.client_id, &new.id)?)
    })
    .await?;
    let location = format!("/api/v1/webhooks/{}", row.id);
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, location))
        .insert_header(header::CacheControl(vec![header::CacheDirective::NoStore]))
        .json(WebhookWithSecret {
            webhook: WebhookView::from(row),
            secret: secret.expose_secret().to_owned(),
        }))
}

/// The client's webhooks, oldest first.
#[utoipa::path(
    tag = "Webhooks",
    security(("partner" = ["webhooks:manage"])),
    params(PageQuery),
    responses(
        (status = 200, description = "A page of webhooks", body = Page<WebhookView>),
        (status = 400, response = crate::error::BadRequest),
        (status = 401, response = crate::error::Unauthorized),
        (status = 403, response = crate::error::Forbidden),
        (status = 422, response = crate::error::ValidationFailed),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[get("/webhooks")]
pub async fn list_webhooks(
    state: web::Data<AppState>,
    client: PartnerClient,
    page: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<WebhookView>>> {
    client.require(Scope::WebhooksManage)?;
    let limit = page.limit()?;
    let after: Option<String> = page.after()?;
    let rows = db::read(&state.pool, move |conn| {
        Ok(models::list_own(
            conn,
            &client.id,
            after.as_deref(),
            limit + 1,
        )?)
    })
    .await?;
    Ok(web::Json(Page::from_rows(
        rows,
        limit,
        |row| row.id.clone(),
        WebhookView::from,
    )))
}

/// One of the client's webhooks.
#[utoipa::path(
    tag = "Webhooks",
    security(("partner" = ["webhooks:manage"])),
    params(("id" = String, Path, description = "Webhook id")),
    responses(
        (status = 200, description = "The webhook", body = WebhookView),
        (status = 401, response = crate::error::Unauthorized),
        (status = 403, response = crate::error::Forbidden),
        (status = 404, response = crate::error::NotFound),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[get("/webhooks/{id}")]
pub async fn get_webhook(
    state: web::Data<AppState>,
    client: PartnerClient,
    id: web::Path<String>,
) -> ApiResult<web::Json<WebhookView>> {
    client.require(Scope::WebhooksManage)?;
    let id = id.into_inner();
    let row = db::read(&state.pool, move |conn| {
        models::find_own(conn, &client.id, &id).map_err(not_found)
    })
    .await?;
    Ok(web::Json(WebhookView::from(row)))
}

/// Delete one of the client's webhooks: nothing more is delivered to it, not even
/// deliveries waiting to be retried.
#[utoipa::path(
    tag = "Webhooks",
    security(("partner" = ["webhooks:manage"])),
    params(("id" = String, Path, description = "Webhook id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, response = crate::error::Unauthorized),
        (status = 403, response = crate::error::Forbidden),
        (status = 404, response = crate::error::NotFound),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[delete("/webhooks/{id}")]
pub async fn delete_webhook(
    state: web::Data<AppState>,
    client: PartnerClient,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    client.require(Scope::WebhooksManage)?;
    let id = id.into_inner();
    db::write(&state.pool, move |conn| {
        models::delete_own(conn, &client.id, &id, db::now()).map_err(not_found)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The delivery log of one of the client's webhooks, newest first: each event's delivery
/// with its status, attempts, and the last attempt's answer and latency.
#[utoipa::path(
    tag = "Webhooks",
    security(("partner" = ["webhooks:manage"])),
    params(("id" = String, Path, description = "Webhook id"), PageQuery),
    responses(
        (status = 200, description = "A page of deliveries", body = Page<DeliveryView>),
        (status = 400, response = crate::error::BadRequest),
        (status = 401, response = crate::error::Unauthorized),
        (status = 403, response = crate::error::Forbidden),
        (status = 404, response = crate::error::NotFound),
        (status = 422, response = crate::error::ValidationFailed),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[get("/webhooks/{id}/deliveries")]
pub async fn list_webhook_deliveries(
    state: web::Data<AppState>,
    client: PartnerClient,
    id: web::Path<String>,
    page: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<DeliveryView>>> {
    client.require(Scope::WebhooksManage)?;
    let id = id.into_inner();
    let limit = page.limit()?;
    let before: Option<String> = page.after()?;
    let rows = db::read(&state.pool, move |conn| {
        let subscription = models::find_own(conn, &client.id, &id).map_err(not_found)?;
        Ok(models::list_deliveries(
            conn,
            &subscription.id,
            before.as_deref(),
            limit + 1,
        )?)
    })
    .await?;
    Ok(web::Json(Page::from_rows(
        rows,
        limit,
        |row| row.id.clone(),
        DeliveryView::from,
    )))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_registration_docs_list_every_event_type() {
        let spec = crate::openapi::spec();
        let description = spec
            .paths
            .paths
            .get("/api/v1/webhooks")
            .and_then(|item| item.post.as_ref())
            .and_then(|op| op.description.clone())
            .unwrap_or_default();
        for event_type in crate::events::EVENT_TYPES {
            assert!(
                description.contains(&format!("`{event_type}`")),
                "{event_type} is missing from the docs of POST /webhooks"
            );
        }
    }
}
