//! `GET /api/v1/audit-log`: the staff actions, newest first, for admins.

use actix_web::{get, web};
use utoipa_actix_web::service_config::ServiceConfig;

use super::models::{self, AuditRow, Filter};
use super::views::{AuditEntryView, AuditQuery};
use crate::auth::{AdminOnly, RoleGuard};
use crate::db;
use crate::error::{ApiError, ApiResult, FieldError, FieldErrors};
use crate::insight::views::parse_instant;
use crate::pagination::{Page, PageQuery};
use crate::startup::AppState;

/// Registers the audit-log route (under `/api/v1`).
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_audit_log);
}

/// The most characters a filter value may have.
const MAX_FILTER_LEN: usize = 64;

fn filter_of(query: &AuditQuery) -> ApiResult<Filter> {
    let mut errors = FieldErrors::default();
    let mut text = |field: &str, value: &Option<String>| -> Option<String> {
        let value = value.as_deref().map(str::trim).filter(|v| !v.is_empty())?;
        if value.chars().count() > MAX_FILTER_LEN {
            errors.push(FieldError::new(
                field,
                "too_long",
                format!("At most {MAX_FILTER_LEN} characters."),
            ));
            return None;
        }
        Some(value.to_owned())
    };
    let mut filter = Filter {
        actor_id: text("actor_id", &query.actor_id),
        action: text("action", &query.action),
        target_type: text("target_type", &query.target_type),
        target_id: text("target_id", &query.target_id),
        ..Filter::default()
    };
    let mut instant = |field: &str, raw: &Option<String>, end: bool| {
        let raw = raw.as_deref().filter(|v| !v.trim().is_empty())?;
        parse_instant(field, raw, end)
            .map_err(|error| errors.push(error))
            .ok()
    };
    filter.from = instant("from", &query.from, false);
    filter.to = instant("to", &query.to, true);
    if let (Some(from), Some(to)) = (filter.from, filter.to)
        && from >= to
    {
        errors.push(FieldError::new(
            "to",
            "before_from",
            "Must be after `from`.",
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    Ok(filter)
}

/// Every staff action in Civitas, newest first: moderation, role changes, officers'
/// status changes, category edits, partner-client management. Admins only. Entries are
/// never changed or removed.
#[utoipa::path(
    tag = "Moderation",
    security(("bearer" = [])),
    params(AuditQuery),
    responses(
        (status = 200, description = "A page of entries, newest first", body = Page<AuditEntryView>),
        (status = 400, response = crate::error::BadRequest),
        (status = 401, response = crate::error::Unauthorized),
        (status = 403, response = crate::error::Forbidden),
        (status = 422, response = crate::error::ValidationFailed),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[get("/audit-log")]
pub async fn list_audit_log(
    state: web::Data<AppState>,
    _admin: RoleGuard<AdminOnly>,
    query: web::Query<AuditQuery>,
) -> ApiResult<web::Json<Page<AuditEntryView>>> {
    let paging = PageQuery {
        limit: query.limit,
        cursor: query.cursor.clone(),
    };
    let limit = paging.limit()?;
    let mut filter = filter_of(&query)?;
    filter.before_id = paging.after()?;
    let rows = db::read(&state.pool, move |conn| {
        Ok(models::list(conn, &filter, limit + 1)?)
    })
    .await?;
    Ok(web::Json(Page::from_rows(
        rows,
        limit,
        |row: &AuditRow| row.id.clone(),
        AuditEntryView::from,
    )))
}
