//! The category routes: anyone lists and reads the active categories; officers and admins
//! also see inactive ones, and create and change categories.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, patch, post, web};
use diesel::OptionalExtension;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use utoipa_actix_web::service_config::ServiceConfig;

use super::models::{self, CategoryChanges, NewCategory};
use super::views::{
    CategoryView, CreateCategoryRequest, ListCategoriesQuery, UpdateCategoryRequest,
};
use crate::audit::{Entry, Trail};
use crate::auth::{AuthUser, MaybeUser, Officers, RoleGuard, RoleSet};
use crate::db;
use crate::error::{ApiError, ApiResult};
use crate::pagination::Page;
use crate::startup::AppState;

/// Registers the category routes (under `/api/v1`).
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_categories)
        .service(get_category)
        .service(create_category)
        .service(update_category);
}

/// A category as the audit log keeps it: its public view.
fn snapshot(row: models::Category) -> serde_json::Value {
    serde_json::to_value(CategoryView::from(row)).unwrap_or_default()
}

fn no_such_category() -> ApiError {
    ApiError::not_found("There is no such category.")
}

/// Whether the caller is an officer or admin, who also see inactive categories.
fn is_officer(user: &AuthUser) -> bool {
    Officers::ALLOWED.contains(&user.role)
}

/// The categories an issue can be reported in, by group and name, with their questions.
///
/// All categories fit in one page, so `next_cursor` is always `null`. With
/// `include_inactive=true` (officers and admins only: 401 without a token, 403 for other
/// roles) the inactive ones are listed too.
#[utoipa::path(
    tag = "Categories",
    params(ListCategoriesQuery),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The categories", body = Page<CategoryView>),
        (status = 400, response = crate::error::BadRequest),
        (status = 401, response = crate::error::Unauthorized),
        (status = 403, response = crate::error::Forbidden),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[get("/categories")]
pub async fn list_categories(
    state: web::Data<AppState>,
    MaybeUser(user): MaybeUser,
    query: web::Query<ListCategoriesQuery>,
) -> ApiResult<web::Json<Page<CategoryView>>> {
    let include_inactive = query.include_inactive.unwrap_or(false);
    if include_inactive {
        match &user {
            None => {
                return Err(ApiError::unauthorized(
                    "missing_token",
                    "Only officers and admins see inactive categories: sign in.",
                ));
            }
            Some(user) if !is_officer(user) => {
                return Err(ApiError::forbidden(
                    "forbidden",
                    format!(
                        "Only {} may see inactive categories.",
                        Officers::DESCRIPTION
                    ),
                ));
            }
            Some(_) => {}
        }
    }
    let categories = db::read(&state.pool, move |conn| {
        Ok(models::list_categories(conn, include_inactive)?)
    })
    .await?;
    Ok(web::Json(Page {
        items: categories.into_iter().map(CategoryView::from).collect(),
        next_cursor: None,
    }))
}

/// One category with its questions. Inactive categories are found by officers and admins
/// only (a token, if sent, must be valid).
#[utoipa::path(
    tag = "Categories",
    params(("code" = String, Path, description = "The category's code", example = "pothole")),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The category", body = CategoryView),
        (status = 401, response = crate::error::Unauthorized),
        (status = 404, response = crate::error::NotFound),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[get("/categories/{code}")]
pub async fn get_category(
    state: web::Data<AppState>,
    MaybeUser(user): MaybeUser,
    code: web::Path<String>,
) -> ApiResult<web::Json<CategoryView>> {
    let code = code.into_inner();
    let category = db::read(&state.pool, move |conn| {
        models::find_category(conn, &code)
            .optional()?
            .ok_or_else(no_such_category)
    })
    .await?;
    if !category.active && !user.as_ref().is_some_and(is_officer) {
        return Err(no_such_category());
    }
    Ok(web::Json(category.into()))
}

/// Add a category (officers and admins).
#[utoipa::path(
    tag = "Categories",
    security(("bearer" = [])),
    request_body = CreateCategoryRequest,
    responses(
        (status = 201, description = "The new category", body = CategoryView,
            headers(("Location" = String, description = "The category's URL"))),
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
#[post("/categories")]
pub async fn create_category(
    state: web::Data<AppState>,
    officer: RoleGuard<Officers>,
    trail: Trail,
    body: web::Json<CreateCategoryRequest>,
) -> ApiResult<HttpResponse> {
    let category = NewCategory::try_from(body.into_inner()).map_err(ApiError::validation)?;
    let category = db::write(&state.pool, move |conn| {
        let created =
            models::insert_category(conn, &category, db::now()).map_err(|error| match error {
                DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
                    ApiError::conflict(
                        "category_exists",
                        format!("There is already a category `{}`.", category.code()),
                    )
                }
                other => other.into(),
            })?;
        let after = snapshot(created.clone());
        trail.record(
            conn,
            &officer.0,
            Entry {
                action: "category.created",
                target_type: "category",
                target_id: &created.code,
                before: None,
                after: Some(after),
                reason: None,
            },
        )?;
        Ok(created)
    })
    .await?;
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("/api/v1/categories/{}", category.code),
        ))
        .json(CategoryView::from(category)))
}

/// Change a category (officers and admins). Deactivate it with `active: false`: it then
/// takes no new reports and disappears from the public list, while its issues keep it.
#[utoipa::path(
    tag = "Categories",
    security(("bearer" = [])),
    params(
        ("code" = String, Path, description = "The category's code", example = "pothole"),
        ("If-Match" = Option<String>, Header, description = "The `ETag` of the category as last read; `412` if it changed since"),
    ),
    request_body = UpdateCategoryRequest,
    responses(
        (status = 200, description = "The category as changed", body = CategoryView),
        (status = 400, response = crate::error::BadRequest),
        (status = 401, response = crate::error::Unauthorized),
        (status = 403, response = crate::error::Forbidden),
        (status = 404, response = crate::error::NotFound),
        (status = 412, response = crate::error::PreconditionFailed),
        (status = 413, response = crate::error::PayloadTooLarge),
        (status = 415, response = crate::error::UnsupportedMediaType),
        (status = 422, response = crate::error::ValidationFailed),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[patch("/categories/{code}")]
pub async fn update_category(
    state: web::Data<AppState>,
    officer: RoleGuard<Officers>,
    trail: Trail,
    code: web::Path<String>,
    req: HttpRequest,
    body: web::Json<UpdateCategoryRequest>,
) -> ApiResult<web::Json<CategoryView>> {
    let changes = CategoryChanges::try_from(body.into_inner()).map_err(ApiError::validation)?;
    let code = code.into_inner();
    let if_match = crate::conditional::if_match(&req);
    let category = db::write(&state.pool, move |conn| {
        let current = models::find_category(conn, &code)
            .optional()?
            .ok_or_else(no_such_category)?;
        let before = snapshot(current.clone());
        crate::conditional::check_if_match(if_match.as_deref(), &CategoryView::from(current))?;
        let updated = models::update_category(conn, &code, &changes, db::now())
            .optional()?
            .ok_or_else(no_such_category)?;
        trail.record(
            conn,
            &officer.0,
            Entry {
                action: "category.updated",
                target_type: "category",
                target_id: &code,
                before: Some(before),
                after: Some(snapshot(updated.clone())),
                reason: None,
            },
        )?;
        Ok(updated)
    })
    .await?;
    Ok(web::Json(category.into()))
}
