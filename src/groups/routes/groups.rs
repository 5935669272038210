//! Creating, finding, reading and editing groups.

use actix_web::{HttpRequest, HttpResponse, get, patch, post, web};

use super::{locked_group, organiser, visible_group};
use crate::audit::{Entry, Trail};
use crate::auth::{AuthUser, MaybeUser, VerifiedCitizen};
use crate::db::{self, DbConnection};
use crate::domain::{
    Coordinates, Description, GroupArea, GroupName, JoinPolicy, MemberRole, MemberStatus, Radius,
    Tags,
};
use crate::error::{ApiError, ApiResult, FieldError, FieldErrors};
use crate::groups::models::{self, GroupChangeset, GroupCursor, GroupRow, MemberRow};
use crate::groups::views::{
    CreateGroupRequest, GroupDetail, GroupView, ListGroupsQuery, MyMembership, UpdateGroupRequest,
};
use crate::issues::models::{Circle, distance_m};
use crate::issues::routes::{DEFAULT_RADIUS_M, MAX_RADIUS_M};
use crate::pagination::{Page, PageQuery};
use crate::startup::AppState;

fn name_taken() -> ApiError {
    ApiError::conflict(
        "group_name_taken",
        "A group with this name already exists (names are compared ignoring case).",
    )
}

/// A unique violation on insert or update can only be the name (a concurrent request
/// took it after our check).
fn name_conflict(error: diesel::result::Error) -> ApiError {
    use diesel::result::{DatabaseErrorKind, Error};
    match error {
        Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => name_taken(),
        other => other.into(),
    }
}

/// The group as `viewer` sees it.
pub(crate) fn group_detail(
    conn: &mut DbConnection,
    row: GroupRow,
    viewer: Option<&AuthUser>,
) -> ApiResult<GroupDetail> {
    let mine = match viewer {
        Some(user) => models::find_member(conn, &row.id, &user.account_id)?,
        None => None,
    };
    let hidden = viewer
        .is_some_and(|v| v.role.is_staff())
        .then_some(row.hidden_at.is_some());
    Ok(GroupDetail {
        group: GroupView::from(row),
        my_membership: mine.as_ref().map(MyMembership::from),
        hidden,
    })
}

/// Start a community group.
///
/// Verified citizens only; the creator becomes its `owner`. Names are unique whatever
/// their case. The join policy is `open` unless given.
#[utoipa::path(
    tag = "Groups",
    security(("bearer" = [])),
    request_body = CreateGroupRequest,
    responses(
        (status = 201, description = "Created", body = GroupDetail,
         headers(("Location" = String, description = "The new group"))),
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
#[post("/groups")]
pub async fn create_group(
    state: web::Data<AppState>,
    VerifiedCitizen(user): VerifiedCitizen,
    body: web::Json<CreateGroupRequest>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let mut errors = FieldErrors::new();
    let name = errors.check(GroupName::parse("name", &body.name));
    let description = errors.check(Description::parse("description", &body.description));
    let area = GroupArea::new(body.lat, body.lon, body.radius_m)
        .map_err(|e| errors.extend(e))
        .ok();
    let tags = Tags::parse("tags", &body.tags)
        .map_err(|e| errors.extend(e))
        .ok();
    let policy = match body.join_policy.as_deref() {
        None => Some(JoinPolicy::Open),
        Some(raw) => JoinPolicy::parse_field("join_policy", raw)
            .map_err(|e| errors.push(e))
            .ok(),
    };
    let (Some(name), Some(description), Some(area), Some(tags), Some(policy)) =
        (name, description, area, tags, policy)
    else {
        return Err(ApiError::validation(errors));
    };
    let now = db::now();
    let detail = db::write(&state.pool, move |conn| {
        let key = name.key();
        if models::name_taken(conn, &key, None)? {
            return Err(name_taken());
        }
        let row = GroupRow {
            id: uuid::Uuid::now_v7().to_string(),
            name: name.into_inner(),
            name_key: key,
            description: description.into_inner(),
            lat: area.centre.lat,
            lon: area.centre.lon,
            radius_m: area.radius.metres(),
            tags: tags.to_stored(),
            join_policy: policy.as_str().to_owned(),
            verified: false,
            member_count: 1,
            created_by: Some(user.account_id.clone()),
            archived_at: None,
            created_at: now,
            updated_at: now,
            hidden_at: None,
        };
        models::insert_group(conn, &row).map_err(name_conflict)?;
        models::insert_member(
            conn,
            &MemberRow {
                group_id: row.id.clone(),
                account_id: user.account_id.clone(),
                role: MemberRole::Owner.as_str().to_owned(),
                status: MemberStatus::Active.as_str().to_owned(),
                created_at: now,
                updated_at: now,
            },
        )?;
        group_detail(conn, row, Some(&user))
    })
    .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/groups/{}", detail.group.id)))
        .json(detail))
}

/// The validated search of `GET /groups`.
fn parse_search(query: &ListGroupsQuery) -> ApiResult<(Option<Circle>, Option<String>)> {
    let mut errors = FieldErrors::new();
    let near = match &query.near {
        Some(near) => {
            let radius = query.radius.unwrap_or(DEFAULT_RADIUS_M);
            if !(radius.is_finite() && radius > 0.0 && radius <= MAX_RADIUS_M) {
                errors.push(FieldError::new(
                    "radius",
                    "out_of_range",
                    format!("Between 1 and {MAX_RADIUS_M} metres."),
                ));
            }
            Coordinates::parse_pair("near", near)
                .map(|point| Circle {
                    lat: point.lat,
                    lon: point.lon,
                    radius_m: radius,
                })
                .map_err(|e| errors.push(e))
                .ok()
        }
        None => {
            if query.radius.is_some() {
                errors.push(FieldError::new(
                    "radius",
                    "needs_near",
                    "`radius` needs `near`.",
                ));
            }
            None
        }
    };
    let text = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    if text.is_some_and(|q| q.chars().count() > 100) {
        errors.push(FieldError::new("q", "too_long", "At most 100 characters."));
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    Ok((near, text.map(str::to_lowercase)))
}

/// Find community groups: near a point (by the centre of their area, nearest first) or
/// anywhere (newest first), optionally by text in the name or description.
///
/// `near=lat,lon&radius=m` (default 1000 m, at most 50 km), `q`. Cursor pagination.
/// Groups show their member count, never their members. Groups moderators hid are not
/// listed.
#[utoipa::path(
    tag = "Groups",
    params(ListGroupsQuery),
    responses(
        (status = 200, description = "A page of groups", body = Page<GroupView>),
        (status = 400, response = crate::error::BadRequest),
        (status = 422, response = crate::error::ValidationFailed),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[get("/groups")]
pub async fn list_groups(
    state: web::Data<AppState>,
    query: web::Query<ListGroupsQuery>,
) -> ApiResult<web::Json<Page<GroupView>>> {
    let query = query.into_inner();
    let (near, text) = parse_search(&query)?;
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor,
    };
    let limit = page.limit()?;
    let cursor: Option<GroupCursor> = page.after()?;
    let cursor_fits = matches!(
        (&near, &cursor),
        (_, None)
            | (Some(_), Some(GroupCursor::Distance { .. }))
            | (None, Some(GroupCursor::Newest { .. }))
    );
    if !cursor_fits {
        return Err(ApiError::invalid_field(
            "cursor",
            "invalid_cursor",
            "This cursor belongs to a different kind of search.",
        ));
    }
    let page = db::read(&state.pool, move |conn| {
        let mut rows = models::search_groups(conn, near, text.as_deref(), cursor, limit + 1)?;
        if let Some(circle) = near {
            // The index narrowed by an approximation; cut at the exact radius. Rows come
            // nearest first, so everything after the first one outside is outside too.
            let inside = rows
                .iter()
                .take_while(|(row, _)| {
                    distance_m(circle.lat, circle.lon, row.lat, row.lon) <= circle.radius_m
                })
                .count();
            rows.truncate(inside);
        }
        Ok(Page::from_rows(
            rows,
            limit,
            |(row, d)| match d {
                Some(d) => GroupCursor::Distance {
                    d: *d,
                    id: row.id.clone(),
                },
                None => GroupCursor::Newest {
                    before: row.id.clone(),
                },
            },
            |(row, _)| {
                let distance = near.map(|c| distance_m(c.lat, c.lon, row.lat, row.lon));
                let mut view = GroupView::from(row);
                view.distance_m = distance.map(crate::issues::models::shown_metres);
                view
            },
        ))
    })
    .await?;
    Ok(web::Json(page))
}

/// One group, with the caller's own membership when signed in. A group moderators hid
/// is `404` for everyone but staff, who see it with `hidden: true`.
#[utoipa::path(
    tag = "Groups",
    params(("id" = String, Path, description = "Group id")),
    responses(
        (status = 200, description = "The group", body = GroupDetail),
        (status = 401, response = crate::error::Unauthorized),
        (status = 404, response = crate::error::NotFound),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[get("/groups/{id}")]
pub async fn get_group(
    state: web::Data<AppState>,
    MaybeUser(viewer): MaybeUser,
    id: web::Path<String>,
) -> ApiResult<web::Json<GroupDetail>> {
    let id = id.into_inner();
    let detail = db::read(&state.pool, move |conn| {
        let row = visible_group(conn, &id, viewer.as_ref())?;
        group_detail(conn, row, viewer.as_ref())
    })
    .await?;
    Ok(web::Json(detail))
}

/// Edit a group: organisers and owners change its name, description, area, tags and
/// join policy; staff (moderators, officers, admins) set `verified`, which nobody else may
/// send. Give `lat` and `lon` together.
#[utoipa::path(
    tag = "Groups",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "Group id"),
        ("If-Match" = Option<String>, Header, description = "The `ETag` of the group as last read; `412` if it changed since"),
    ),
    request_body = UpdateGroupRequest,
    responses(
        (status = 200, description = "The updated group", body = GroupDetail),
        (status = 400, response = crate::error::BadRequest),
        (status = 401, response = crate::error::Unauthorized),
        (status = 403, response = crate::error::Forbidden),
        (status = 404, response = crate::error::NotFound),
        (status = 409, response = crate::error::Conflict),
        (status = 412, response = crate::error::PreconditionFailed),
        (status = 413, response = crate::error::PayloadTooLarge),
        (status = 415, response = crate::error::UnsupportedMediaType),
        (status = 422, response = crate::error::ValidationFailed),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[patch("/groups/{id}")]
pub async fn update_group(
    state: web::Data<AppState>,
    user: AuthUser,
    trail: Trail,
    id: web::Path<String>,
    req: HttpRequest,
    body: web::Json<UpdateGroupRequest>,
) -> ApiResult<web::Json<GroupDetail>> {
    user.ensure_may_post()?;
    let id = id.into_inner();
    let if_match = crate::conditional::if_match(&req);
    let body = body.into_inner();
    let mut errors = FieldErrors::new();
    let name = errors.optional(body.name.as_deref(), |n| GroupName::parse("name", n));
    let description = errors.optional(body.description.as_deref(), |d| {
        Description::parse("description", d)
    });
    let centre = match (body.lat, body.lon) {
        (Some(lat), Some(lon)) => Coordinates::new("lat", lat, "lon", lon)
            .map_err(|e| errors.extend(e))
            .ok(),
        (Some(_), None) | (None, Some(_)) => {
            let missing = if body.lat.is_none() { "lat" } else { "lon" };
            errors.push(FieldError::new(
                missing,
                "required",
                "Give `lat` and `lon` together.",
            ));
            None
        }
        (None, None) => None,
    };
    let radius = errors.optional(body.radius_m, |r| Radius::parse("radius_m", r));
    let tags = body
        .tags
        .as_deref()
        .map(|t| Tags::parse("tags", t))
        .transpose()
        .map_err(|e| errors.extend(e))
        .ok()
        .flatten();
    let policy = errors.optional(body.join_policy.as_deref(), |p| {
        JoinPolicy::parse_field("join_policy", p)
    });
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let edits_profile = body.name.is_some()
        || body.description.is_some()
        || body.lat.is_some()
        || body.lon.is_some()
        || body.radius_m.is_some()
        || body.tags.is_some()
        || body.join_policy.is_some();
    let detail = db::write(&state.pool, move |conn| {
        let row = locked_group(conn, &id)?;
        if body.verified.is_some() && !user.role.is_staff() {
            return Err(ApiError::forbidden(
                "staff_only_field",
                "Only staff may set `verified`.",
            ));
        }
        if edits_profile || body.verified.is_none() {
            organiser(conn, &row.id, &user)?;
        }
        let current = group_detail(conn, row.clone(), Some(&user))?;
        crate::conditional::check_if_match(if_match.as_deref(), &current)?;
        let mut changes = GroupChangeset::default();
        let mut changed = false;
        if let Some(name) = name.filter(|n| n.as_str() != row.name) {
            let key = name.key();
            if key != row.name_key && models::name_taken(conn, &key, Some(&row.id))? {
                return Err(name_taken());
            }
            changes.name = Some(name.into_inner());
            changes.name_key = Some(key);
            changed = true;
        }
        if let Some(description) = description
            .map(Description::into_inner)
            .filter(|d| *d != row.description)
        {
            changes.description = Some(description);
            changed = true;
        }
        if let Some(centre) = centre.filter(|c| c.lat != row.lat || c.lon != row.lon) {
            changes.lat = Some(centre.lat);
            changes.lon = Some(centre.lon);
            changed = true;
        }
        if let Some(radius) = radius.map(Radius::metres).filter(|r| *r != row.radius_m) {
            changes.radius_m = Some(radius);
            changed = true;
        }
        if let Some(tags) = tags.map(|t| t.to_stored()).filter(|t| *t != row.tags) {
            changes.tags = Some(tags);
            changed = true;
        }
        if let Some(policy) = policy.filter(|p| p.as_str() != row.join_policy) {
            changes.join_policy = Some(policy.as_str().to_owned());
            changed = true;
        }
        if let Some(verified) = body.verified.filter(|v| *v != row.verified) {
            changes.verified = Some(verified);
            changed = true;
            trail.record(
                conn,
                &user,
                Entry {
                    action: "group.verification_changed",
                    target_type: "group",
                    target_id: &row.id,
                    before: Some(serde_json::json!({ "verified": row.verified })),
                    after: Some(serde_json::json!({ "verified": verified })),
                    reason: None,
                },
            )?;
        }
        if changed {
            changes.updated_at = Some(db::now());
            models::update_group(conn, &row.id, &changes).map_err(name_conflict)?;
        }
        let row = models::find_group(conn, &row.id)?;
        group_detail(conn, row, Some(&user))
    })
    .await?;
    Ok(web::Json(detail))
}
