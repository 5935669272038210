//! `POST /flags` (citizens flag content) and `GET /moderation/flags` (the moderators'
//! queue). The moderators' actions are in `actions`.

use actix_web::{HttpResponse, get, post, web};
use std::collections::{BTreeMap, HashMap};
use utoipa_actix_web::service_config::ServiceConfig;

use super::models::{self, FlagRow, QueueEntry, QueueFilter, QueueKey};
use super::views::{CreateFlagRequest, FlagView, QueueItem, QueueQuery, QueuedFlag};
use super::{FlagReason, FlagStatus, TargetType, targets};
use crate::auth::{Moderators, RoleGuard, VerifiedCitizen};
use crate::db::{self, utc};
use crate::error::{ApiError, ApiResult, FieldError, FieldErrors};
use crate::pagination::{Page, PageQuery};
use crate::startup::AppState;

/// Registers the moderation routes (under `/api/v1`).
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create_flag)
        .service(list_flags)
        .service(super::actions::create_action);
}

/// Flag content that breaks the rules: spam, abuse, someone's personal data, something
/// dangerous, or `other` (say what in `details`). Verified citizens only; a suspended
/// account cannot flag. One flag per citizen per item: a second is `409
/// already_flagged`, even once a moderator has dealt with the first. Your own content
/// cannot be flagged (`422 own_content`); content you cannot see is `404`.
///
/// When open flags from `CIVITAS_FLAG_THRESHOLD` (default 3) distinct citizens are on an
/// item, it is hidden from the public at once, pending a moderator's review.
#[utoipa::path(
    tag = "Moderation",
    security(("bearer" = [])),
    request_body = CreateFlagRequest,
    responses(
        (status = 201, description = "Flagged", body = FlagView),
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
#[post("/flags")]
pub async fn create_flag(
    state: web::Data<AppState>,
    VerifiedCitizen(user): VerifiedCitizen,
    body: web::Json<CreateFlagRequest>,
) -> ApiResult<HttpResponse> {
    let flag = body.checked().map_err(ApiError::validation)?;
    let threshold = i64::from(state.config.flag_threshold.max(1));
    let row = db::write(&state.pool, move |conn| {
        let item = targets::find(conn, flag.target, &flag.target_id)?
            .filter(|item| item.public && item.hidden_at.is_none())
            .ok_or_else(|| ApiError::not_found(format!("No such {}.", flag.target.as_str())))?;
        if item.owner.as_deref() == Some(user.account_id.as_str()) {
            return Err(ApiError::unprocessable(
                "own_content",
                "You cannot flag your own content; edit or delete it instead.",
            ));
        }
        let now = db::now();
        let row = FlagRow {
            id: uuid::Uuid::now_v7().to_string(),
            target_type: flag.target.as_str().to_owned(),
            target_id: flag.target_id.clone(),
            account_id: user.account_id.clone(),
            reason: flag.reason.as_str().to_owned(),
            details: flag.details.clone(),
            status: FlagStatus::Open.as_str().to_owned(),
            created_at: now,
            resolved_at: None,
            resolved_by: None,
        };
        models::insert_flag(conn, &row).map_err(|error| match error {
            diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            ) => ApiError::conflict("already_flagged", "You have already flagged this."),
            other => other.into(),
        })?;
        if models::open_flaggers(conn, flag.target, &flag.target_id)? >= threshold {
            targets::set_hidden(conn, flag.target, &flag.target_id, &item, Some(now))?;
        }
        Ok(row)
    })
    .await?;
    Ok(HttpResponse::Created().json(FlagView::from(row)))
}

fn filter_of(query: &QueueQuery) -> ApiResult<QueueFilter> {
    let mut errors = FieldErrors::new();
    let target = errors.optional(
        query.target_type.as_deref().filter(|t| !t.is_empty()),
        |raw| TargetType::parse_content("target_type", raw),
    );
    let reason = errors.optional(query.reason.as_deref().filter(|r| !r.is_empty()), |raw| {
        FlagReason::parse_field("reason", raw)
    });
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    Ok(QueueFilter {
        target,
        reason,
        after: None,
    })
}

/// Builds the queue's items (each with its cursor key): every open flag and what was
/// flagged, one query per kind.
fn queue_items(
    conn: &mut db::DbConnection,
    entries: Vec<QueueEntry>,
) -> ApiResult<Vec<(QueueKey, QueueItem)>> {
    let keys: Vec<(TargetType, String)> = entries
        .iter()
        .filter_map(|e| TargetType::parse(&e.target_type).map(|t| (t, e.target_id.clone())))
        .collect();
    let mut flags: HashMap<(String, String), Vec<FlagRow>> = HashMap::new();
    for row in models::open_flags_of(conn, &keys)? {
        flags
            .entry((row.target_type.clone(), row.target_id.clone()))
            .or_default()
            .push(row);
    }
    let mut contents = targets::contents(conn, &keys)?;
    let items = entries
        .into_iter()
        .filter_map(|entry| {
            let target = TargetType::parse(&entry.target_type)?;
            let key = entry.key();
            let rows = flags
                .remove(&(entry.target_type.clone(), entry.target_id.clone()))
                .unwrap_or_default();
            let mut reasons = BTreeMap::new();
            for row in &rows {
                *reasons.entry(row.reason.clone()).or_insert(0) += 1;
            }
            let (hidden_at, content) = contents
                .remove(&(target, entry.target_id.clone()))
                .map_or((None, None), |(hidden_at, content)| {
                    (hidden_at, Some(content))
                });
            Some((
                key,
                QueueItem {
                    target_type: target,
                    hidden: hidden_at.is_some(),
                    hidden_at: hidden_at.map(utc),
                    flag_count: entry.count,
                    reasons,
                    first_flagged_at: utc(entry.first.unwrap_or_default()),
                    last_flagged_at: utc(entry.last.unwrap_or_default()),
                    content,
                    flags: rows.into_iter().map(QueuedFlag::from).collect(),
                    target_id: entry.target_id,
                },
            ))
        })
        .collect();
    Ok(items)
}

/// The moderation queue: every item with open flags, oldest first by its oldest open
/// flag, with its flags, how many of each reason, whether it is hidden already, and what
/// was flagged (hidden or not). Moderators and admins only.
#[utoipa::path(
    tag = "Moderation",
    security(("bearer" = [])),
    params(QueueQuery),
    responses(
        (status = 200, description = "A page of flagged items, oldest first", body = Page<QueueItem>),
        (status = 400, response = crate::error::BadRequest),
        (status = 401, response = crate::error::Unauthorized),
        (status = 403, response = crate::error::Forbidden),
        (status = 422, response = crate::error::ValidationFailed),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[get("/moderation/flags")]
pub async fn list_flags(
    state: web::Data<AppState>,
    _moderator: RoleGuard<Moderators>,
    query: web::Query<QueueQuery>,
) -> ApiResult<web::Json<Page<QueueItem>>> {
    let paging = PageQuery {
        limit: query.limit,
        cursor: query.cursor.clone(),
    };
    let limit = paging.limit()?;
    let mut filter = filter_of(&query)?;
    filter.after = paging.after::<QueueKey>()?;
    if filter
        .after
        .as_ref()
        .is_some_and(|key| TargetType::parse(&key.target_type).is_none())
    {
        return Err(ApiError::validation(vec![FieldError::new(
            "cursor",
            "invalid_cursor",
            "Not a cursor this list issued.",
        )]));
    }
    let rows = db::read(&state.pool, move |conn| {
        let entries = models::queue(conn, &filter, limit + 1)?;
        queue_items(conn, entries)
    })
    .await?;
    Ok(web::Json(Page::from_rows(
        rows,
        limit,
        |(key, _): &(QueueKey, QueueItem)| key.clone(),
        |(_, item)| item,
    )))
}
