//! The opportunity routes: create (organisers of a group), find, read, change.

use actix_web::{HttpRequest, HttpResponse, get, patch, post, web};
use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};

use super::models::{
    self, CANCELLED, COMPLETED, DRAFT, OpportunityFilters, OpportunityRow, PUBLISHED,
};
use super::views::{
    CreateOpportunityRequest, ListOpportunitiesQuery, OpportunityView, UpdateOpportunityRequest,
    skills_column,
};
use crate::auth::{AuthUser, MaybeUser};
use crate::db::{self, DbConnection};
use crate::domain::{Address, Coordinates, Description, Title, tag_key};
use crate::error::{ApiError, ApiResult, FieldError, FieldErrors};
use crate::issues::models::Circle;
use crate::pagination::{Page, PageQuery};
use crate::partners::{Caller, PartnerClient, Scope};
use crate::pledges::models as pledge_models;
use crate::startup::AppState;
use utoipa_actix_web::service_config::ServiceConfig;

/// Registers the opportunity routes (under `/api/v1`).
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create_opportunity)
        .service(create_partner_opportunity)
        .service(list_opportunities)
        .service(get_opportunity)
        .service(update_opportunity);
}

const MAX_SKILLS: usize = 20;
const MAX_CAPACITY: i32 = 10_000;
const MAX_DURATION: TimeDelta = TimeDelta::days(30);
const DEFAULT_RADIUS_M: f64 = 5000.0;
const MAX_RADIUS_M: f64 = 50_000.0;

fn parse_skills(field: &str, skills: &[String], errors: &mut Vec<FieldError>) -> Vec<String> {
    if skills.len() > MAX_SKILLS {
        errors.push(FieldError::new(
            field,
            "too_many",
            format!("At most {MAX_SKILLS} skills."),
        ));
    }
    let mut tags: Vec<String> = Vec::new();
    for skill in skills {
        let Some(tag) = tag_key(skill) else {
            errors.push(FieldError::new(
                field,
                "invalid_skill",
                "Skills are 1 to 30 of a-z, 0-9 and -.",
            ));
            continue;
        };
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    tags
}

fn check_window(starts_at: NaiveDateTime, ends_at: NaiveDateTime, errors: &mut Vec<FieldError>) {
    if ends_at <= starts_at {
        errors.push(FieldError::new(
            "ends_at",
            "before_start",
            "Must be after `starts_at`.",
        ));
    } else if ends_at - starts_at > MAX_DURATION {
        errors.push(FieldError::new(
            "ends_at",
            "too_long",
            "At most 30 days after `starts_at`.",
        ));
    }
}

fn check_capacity(capacity: Option<i32>, errors: &mut Vec<FieldError>) {
    if capacity.is_some_and(|c| !(1..=MAX_CAPACITY).contains(&c)) {
        errors.push(FieldError::new(
            "capacity",
            "out_of_range",
            format!("Between 1 and {MAX_CAPACITY}, or null."),
        ));
    }
}

fn check_min_age(min_age: Option<i32>, errors: &mut Vec<FieldError>) {
    if min_age.is_some_and(|a| !(0..=120).contains(&a)) {
        errors.push(FieldError::new(
            "min_age",
            "out_of_range",
            "Between 0 and 120.",
        ));
    }
}

fn naive(time: DateTime<Utc>) -> NaiveDateTime {
    use chrono::SubsecRound;
    time.naive_utc().trunc_subsecs(6)
}

/// Whether `caller` runs the opportunity: an organiser of its group, or the partner
/// client that published it.
pub(crate) fn manages(
    conn: &mut DbConnection,
    row: &OpportunityRow,
    caller: Option<&Caller>,
) -> ApiResult<bool> {
    Ok(match (caller, &row.group_id) {
        (Some(Caller::Citizen(user)), Some(group)) => {
            crate::groups::models::is_organiser(conn, group, &user.account_id)?
        }
        (Some(Caller::Partner(client)), _) => {
            row.partner_client_id.as_deref() == Some(client.id.as_str())
        }
        _ => false,
    })
}

/// Whether `caller` is staff, who still see what moderators hid.
fn is_staff(caller: Option<&Caller>) -> bool {
    matches!(caller, Some(Caller::Citizen(user)) if user.role.is_staff())
}

/// The opportunity if `caller` may see it: published ones to anyone, others to those who
/// run it; one moderators hid to staff only (not even to those who run it); everyone
/// else gets 404.
pub(crate) fn visible(
    conn: &mut DbConnection,
    id: &str,
    caller: Option<&Caller>,
) -> ApiResult<(OpportunityRow, bool)> {
    let missing = || ApiError::not_found("No such opportunity.");
    let row = models::find_opportunity(conn, id).map_err(|_| missing())?;
    if row.hidden_at.is_some() && !is_staff(caller) {
        return Err(missing());
    }
    let organiser = manages(conn, &row, caller)?;
    if row.status != PUBLISHED && row.status != COMPLETED && !organiser {
        return Err(missing());
    }
    Ok((row, organiser))
}

/// Call for volunteers, as an organiser of the group.
#[utoipa::path(
    tag = "Opportunities",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Group id")),
    request_body = CreateOpportunityRequest,
    responses(
        (status = 201, description = "Created", body = OpportunityView,
         headers(("Location" = String, description = "The new opportunity"))),
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
#[post("/groups/{id}/opportunities")]
pub async fn create_opportunity(
    state: web::Data<AppState>,
    user: AuthUser,
    group_id: web::Path<String>,
    body: web::Json<CreateOpportunityRequest>,
) -> ApiResult<HttpResponse> {
    user.ensure_may_post()?;
    let publisher = Publisher::Group {
        group_id: group_id.into_inner(),
        account_id: user.account_id,
    };
    publish(&state, publisher, body.into_inner()).await
}

/// Call for volunteers as a partner organisation (a charity, the council's volunteering
/// service), with the `opportunities:write` scope. The opportunity belongs to no group;
/// the partner manages it with `PATCH /opportunities/{id}` and, with `pledges:read`,
/// reads its pledges.
#[utoipa::path(
    tag = "Opportunities",
    security(("partner" = ["opportunities:write"])),
    request_body = CreateOpportunityRequest,
    responses(
        (status = 201, description = "Created", body = OpportunityView,
         headers(("Location" = String, description = "The new opportunity"))),
        (status = 400, response = crate::error::BadRequest),
        (status = 401, response = crate::error::Unauthorized),
        (status = 403, response = crate::error::Forbidden),
        (status = 413, response = crate::error::PayloadTooLarge),
        (status = 415, response = crate::error::UnsupportedMediaType),
        (status = 422, response = crate::error::ValidationFailed),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[post("/opportunities")]
pub async fn create_partner_opportunity(
    state: web::Data<AppState>,
    client: PartnerClient,
    body: web::Json<CreateOpportunityRequest>,
) -> ApiResult<HttpResponse> {
    client.require(Scope::OpportunitiesWrite)?;
    let publisher = Publisher::Partner {
        client_id: client.id,
    };
    publish(&state, publisher, body.into_inner()).await
}

/// Who calls for volunteers.
enum Publisher {
    /// An organiser of a group, for the group.
    Group {
        group_id: String,
        account_id: String,
    },
    /// A partner client, as itself.
    Partner { client_id: String },
}

/// Validates and stores a new opportunity; answers 201 with it.
async fn publish(
    state: &web::Data<AppState>,
    publisher: Publisher,
    body: CreateOpportunityRequest,
) -> ApiResult<HttpResponse> {
    let mut errors = FieldErrors::new();
    let title = errors.check(Title::parse("title", &body.title));
    let description = errors.check(Description::parse("description", &body.description));
    let address = errors
        .check(Address::parse_optional("address", body.address.as_deref()))
        .flatten();
    let position = match (body.lat, body.lon) {
        (Some(lat), Some(lon)) => Coordinates::new("lat", lat, "lon", lon)
            .map_err(|e| errors.extend(e))
            .ok(),
        (None, None) if body.online => None,
        _ => {
            errors.push(FieldError::new(
                "lat",
                "required",
                "Give `lat` and `lon`, or set `online`.",
            ));
            None
        }
    };
    let (starts_at, ends_at) = (naive(body.starts_at), naive(body.ends_at));
    check_window(starts_at, ends_at, &mut errors);
    if ends_at <= db::now() {
        errors.push(FieldError::new(
            "ends_at",
            "in_the_past",
            "Must be in the future.",
        ));
    }
    check_capacity(body.capacity, &mut errors);
    check_min_age(body.min_age, &mut errors);
    let skills = parse_skills("skills", &body.skills, &mut errors);
    let safety_notes = errors.check(Description::parse("safety_notes", &body.safety_notes));
    if body.status != DRAFT && body.status != PUBLISHED {
        errors.push(FieldError::new(
            "status",
            "invalid",
            "`draft` or `published`.",
        ));
    }
    let (Some(title), Some(description), Some(safety_notes)) = (title, description, safety_notes)
    else {
        return Err(ApiError::validation(errors));
    };
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let view = db::write(&state.pool, move |conn| {
        if let Publisher::Group {
            group_id,
            account_id,
        } = &publisher
        {
            // A hidden group calls for nobody.
            if diesel::OptionalExtension::optional(crate::groups::models::find_group(
                conn, group_id,
            ))?
            .is_none_or(|group| group.hidden_at.is_some())
            {
                return Err(ApiError::not_found("No such group."));
            }
            if !crate::groups::models::is_organiser(conn, group_id, account_id)? {
                return Err(ApiError::forbidden(
                    "not_organiser",
                    "Only the group's organisers may call for volunteers.",
                ));
            }
        }
        let (group_id, created_by, partner_client_id) = match publisher {
            Publisher::Group {
                group_id,
                account_id,
            } => (Some(group_id), Some(account_id), None),
            Publisher::Partner { client_id } => (None, None, Some(client_id)),
        };
        if let Some(issue) = &body.issue_id {
            crate::issues::models::find_shown_issue(conn, issue).map_err(|_| {
                ApiError::invalid_field("issue_id", "unknown_issue", "No such issue.")
            })?;
        }
        let now = db::now();
        let row = OpportunityRow {
            id: uuid::Uuid::now_v7().to_string(),
            group_id,
            issue_id: body.issue_id,
            title: title.into_inner(),
            description: description.into_inner(),
            lat: position.map(|p| p.lat),
            lon: position.map(|p| p.lon),
            address: address.map(Address::into_inner),
            online: body.online,
            starts_at,
            ends_at,
            capacity: body.capacity,
            confirmed_count: 0,
            waitlist_count: 0,
            skills: skills_column(&skills),
            safety_notes: safety_notes.into_inner(),
            safety_ack_required: body.safety_ack_required,
            min_age: body.min_age,
            auto_confirm: body.auto_confirm,
            status: body.status,
            created_by,
            created_at: now,
            updated_at: now,
            partner_client_id,
            hidden_at: None,
        };
        models::insert_opportunity(conn, &row)?;
        if row.status == PUBLISHED {
            raise(conn, "opportunity.published", &row, now)?;
        }
        Ok(OpportunityView::from(row))
    })
    .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/opportunities/{}", view.id)))
        .json(view))
}

/// Find published opportunities, soonest first: `near` (with `radius`), `from`, `to`,
/// `skill`, `group`, `issue`. Opportunities moderators hid are not listed.
#[utoipa::path(
    tag = "Opportunities",
    params(ListOpportunitiesQuery),
    responses(
        (status = 200, description = "A page of opportunities", body = Page<OpportunityView>),
        (status = 400, response = crate::error::BadRequest),
        (status = 422, response = crate::error::ValidationFailed),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[get("/opportunities")]
pub async fn list_opportunities(
    state: web::Data<AppState>,
    query: web::Query<ListOpportunitiesQuery>,
) -> ApiResult<web::Json<Page<OpportunityView>>> {
    let query = query.into_inner();
    let mut errors = FieldErrors::new();
    let mut circle = None;
    if let Some(near) = &query.near {
        let radius = query.radius.unwrap_or(DEFAULT_RADIUS_M);
        if !(radius.is_finite() && radius > 0.0 && radius <= MAX_RADIUS_M) {
            errors.push(FieldError::new(
                "radius",
                "out_of_range",
                format!("Between 1 and {MAX_RADIUS_M} metres."),
            ));
        }
        match Coordinates::parse_pair("near", near) {
            Ok(point) => {
                circle = Some(Circle {
                    lat: point.lat,
                    lon: point.lon,
                    radius_m: radius,
                })
            }
            Err(error) => errors.push(error),
        }
    } else if query.radius.is_some() {
        errors.push(FieldError::new(
            "radius",
            "needs_near",
            "`radius` needs `near`.",
        ));
    }
    let skill = query
        .skill
        .as_deref()
        .map(|s| parse_skills("skill", &[s.to_owned()], &mut errors));
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor,
    };
    let limit = page.limit()?;
    let after: Option<(NaiveDateTime, String)> = page.after()?;
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let filters = OpportunityFilters {
        area: circle.map(|c| {
            let (a, b, c2, d) = c.bounds();
            (a, b, c2, d)
        }),
        from: query.from.map(naive),
        to: query.to.map(naive),
        skill: skill.and_then(|s| s.into_iter().next()),
        group_id: query.group,
        issue_id: query.issue,
    };
    let page = db::read(&state.pool, move |conn| {
        let rows = models::search_opportunities(conn, &filters, after, limit + 1)?;
        // The index narrowed to the box around the circle; keep the circle.
        let rows = rows
            .into_iter()
            .filter(|row| match (circle, row.lat, row.lon) {
                (Some(c), Some(lat), Some(lon)) => {
                    crate::issues::models::distance_m(c.lat, c.lon, lat, lon) <= c.radius_m
                }
                (Some(_), _, _) => false,
                (None, _, _) => true,
            })
            .collect();
        Ok(Page::from_rows(
            rows,
            limit,
            |row: &OpportunityRow| (row.starts_at, row.id.clone()),
            OpportunityView::from,
        ))
    })
    .await?;
    Ok(web::Json(page))
}

/// One opportunity. Drafts are visible to the group's organisers only. One moderators hid
/// is `404` for everyone but staff, who see it with `hidden: true`.
#[utoipa::path(
    tag = "Opportunities",
    params(("id" = String, Path, description = "Opportunity id")),
    responses(
        (status = 200, description = "The opportunity", body = OpportunityView),
        (status = 401, response = crate::error::Unauthorized),
        (status = 404, response = crate::error::NotFound),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[get("/opportunities/{id}")]
pub async fn get_opportunity(
    state: web::Data<AppState>,
    MaybeUser(user): MaybeUser,
    id: web::Path<String>,
) -> ApiResult<web::Json<OpportunityView>> {
    let id = id.into_inner();
    let view = db::write(&state.pool, move |conn| {
        pledge_models::settle_conditions(
            conn,
            &pledge_models::Target::Opportunity(id.clone()),
            db::now(),
        )?;
        let caller = user.map(Caller::Citizen);
        let (row, _) = visible(conn, &id, caller.as_ref())?;
        let hidden = is_staff(caller.as_ref()).then_some(row.hidden_at.is_some());
        let mut view = OpportunityView::from(row);
        view.hidden = hidden;
        Ok(view)
    })
    .await?;
    Ok(web::Json(view))
}

/// Change an opportunity (the group's organisers, or the partner that published it, with
/// `opportunities:write`). Cancelling withdraws every pledge; raising the capacity
/// promotes the waitlist.
#[utoipa::path(
    tag = "Opportunities",
    security(("bearer" = []), ("partner" = ["opportunities:write"])),
    params(
        ("id" = String, Path, description = "Opportunity id"),
        ("If-Match" = Option<String>, Header, description = "The `ETag` of the opportunity as last read; `412` if it changed since"),
    ),
    request_body = UpdateOpportunityRequest,
    responses(
        (status = 200, description = "The updated opportunity", body = OpportunityView),
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
#[patch("/opportunities/{id}")]
pub async fn update_opportunity(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    req: HttpRequest,
    body: web::Json<UpdateOpportunityRequest>,
) -> ApiResult<web::Json<OpportunityView>> {
    if let Caller::Citizen(user) = &caller {
        user.ensure_may_post()?;
    }
    let id = id.into_inner();
    let body = body.into_inner();
    if body
        .status
        .as_deref()
        .is_some_and(|s| ![DRAFT, PUBLISHED, CANCELLED, COMPLETED].contains(&s))
    {
        return Err(ApiError::invalid_field(
            "status",
            "invalid",
            "`draft`, `published`, `cancelled` or `completed`.",
        ));
    }
    let if_match = crate::conditional::if_match(&req);
    let view = db::write(&state.pool, move |conn| {
        if let Caller::Partner(client) = &caller {
            client.require(Scope::OpportunitiesWrite)?;
        }
        let actor_id = match &caller {
            Caller::Citizen(user) => Some(user.account_id.clone()),
            Caller::Partner(_) => None,
        };
        let (mut row, organiser) = visible(conn, &id, Some(&caller))?;
        if !organiser {
            return Err(ApiError::forbidden(
                "not_organiser",
                "Only the group's organisers (or the partner that published it) may change it.",
            ));
        }
        // Compared with what `GET` shows now, conditions settled as `GET` settles them.
        if if_match.is_some() {
            pledge_models::settle_conditions(
                conn,
                &pledge_models::Target::Opportunity(id.clone()),
                db::now(),
            )?;
            row = models::find_opportunity(conn, &id)?;
            let current = OpportunityView::from(row.clone());
            crate::conditional::check_if_match(if_match.as_deref(), &current)?;
        }
        if row.status == CANCELLED || row.status == COMPLETED {
            return Err(ApiError::conflict(
                "opportunity_closed",
                "A cancelled or completed opportunity cannot change.",
            ));
        }
        let mut errors = FieldErrors::new();
        if let Some(title) = &body.title {
            match Title::parse("title", title) {
                Ok(t) => row.title = t.into_inner(),
                Err(e) => errors.push(e),
            }
        }
        if let Some(description) = &body.description {
            match Description::parse("description", description) {
                Ok(d) => row.description = d.into_inner(),
                Err(e) => errors.push(e),
            }
        }
        if let Some(address) = &body.address {
            match Address::parse("address", address) {
                Ok(a) => row.address = Some(a.into_inner()),
                Err(e) => errors.push(e),
            }
        }
        if let Some(notes) = &body.safety_notes {
            match Description::parse("safety_notes", notes) {
                Ok(n) => row.safety_notes = n.into_inner(),
                Err(e) => errors.push(e),
            }
        }
        row.starts_at = body.starts_at.map(naive).unwrap_or(row.starts_at);
        row.ends_at = body.ends_at.map(naive).unwrap_or(row.ends_at);
        check_window(row.starts_at, row.ends_at, &mut errors);
        if body.capacity.is_some() {
            check_capacity(body.capacity, &mut errors);
            row.capacity = body.capacity;
        }
        if body.min_age.is_some() {
            check_min_age(body.min_age, &mut errors);
            row.min_age = body.min_age;
        }
        if let Some(skills) = &body.skills {
            row.skills = skills_column(&parse_skills("skills", skills, &mut errors));
        }
        row.safety_ack_required = body.safety_ack_required.unwrap_or(row.safety_ack_required);
        row.auto_confirm = body.auto_confirm.unwrap_or(row.auto_confirm);
        let moving_to = body.status.clone().filter(|s| *s != row.status);
        if let Some(to) = &moving_to {
            let allowed = matches!(
                (row.status.as_str(), to.as_str()),
                (DRAFT, PUBLISHED)
                    | (DRAFT, CANCELLED)
                    | (PUBLISHED, CANCELLED)
                    | (PUBLISHED, COMPLETED)
            );
            if !allowed {
                return Err(ApiError::conflict(
                    "invalid_transition",
                    format!("An opportunity cannot go from `{}` to `{to}`.", row.status),
                ));
            }
        }
        if !errors.is_empty() {
            return Err(ApiError::validation(errors));
        }
        if row.capacity.is_some_and(|c| c < row.confirmed_count) {
            return Err(ApiError::conflict(
                "capacity_below_taken",
                format!("{} places are already taken.", row.confirmed_count),
            ));
        }
        let now = db::now();
        row.updated_at = now;
        let event = match moving_to.as_deref() {
            Some(PUBLISHED) => Some("opportunity.published"),
            Some(COMPLETED) => Some("opportunity.completed"),
            // Cancellation raises its own event below, with the pledgers it withdrew.
            Some(_) => None,
            None if row.status == PUBLISHED => Some("opportunity.updated"),
            None => None,
        };
        if let Some(to) = moving_to {
            row.status = to;
        }
        models::save_opportunity(conn, &row)?;
        if let Some(event) = event {
            raise(conn, event, &row, now)?;
        }
        if row.status == CANCELLED {
            let pledges = pledge_models::live_pledges_to(conn, &row.id)?;
            for pledge in &pledges {
                pledge_models::set_status(conn, &pledge.id, pledge_models::WITHDRAWN, now)?;
            }
            models::reset_counts(conn, &row.id)?;
            // The pledgers hear about it from the outbox's dispatcher.
            let pledgers: Vec<&str> = pledges
                .iter()
                .filter_map(|p| p.account_id.as_deref())
                .collect();
            crate::db::outbox::record(
                conn,
                "opportunity.cancelled",
                ("opportunity", &row.id),
                serde_json::json!({
                    "title": row.title,
                    "withdrawn_pledgers": pledgers,
                    "actor_id": actor_id,
                }),
                now,
            )?;
        } else {
            pledge_models::promote_waitlist(conn, &row.id, now)?;
        }
        Ok(OpportunityView::from(models::find_opportunity(
            conn, &row.id,
        )?))
    })
    .await?;
    Ok(web::Json(view))
}

/// Raises an opportunity event in the outbox, in the caller's transaction.
fn raise(
    conn: &mut crate::db::DbConnection,
    event_type: &str,
    row: &OpportunityRow,
    now: chrono::NaiveDateTime,
) -> diesel::QueryResult<()> {
    crate::db::outbox::record(
        conn,
        event_type,
        ("opportunity", &row.id),
        serde_json::json!({ "title": row.title, "partner_client_id": row.partner_client_id }),
        now,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openapi::bounds::{assert_items, assert_range, param, property};

    fn passes(check: fn(Option<i32>, &mut Vec<FieldError>)) -> impl Fn(f64) -> bool {
        move |value| {
            let mut errors = Vec::new();
            check(Some(value as i32), &mut errors);
            errors.is_empty()
        }
    }

    #[test]
    fn documented_bounds_are_the_enforced_ones() {
        for (capacity, min_age, skills) in [
            (
                property::<CreateOpportunityRequest>("capacity"),
                property::<CreateOpportunityRequest>("min_age"),
                property::<CreateOpportunityRequest>("skills"),
            ),
            (
                property::<UpdateOpportunityRequest>("capacity"),
                property::<UpdateOpportunityRequest>("min_age"),
                property::<UpdateOpportunityRequest>("skills"),
            ),
        ] {
            assert_range(&capacity, 1.0, passes(check_capacity));
            assert_range(&min_age, 1.0, passes(check_min_age));
            assert_items(&skills, |n| {
                let many: Vec<String> = (0..n).map(|i| format!("s{i}")).collect();
                let mut errors = Vec::new();
                parse_skills("skills", &many, &mut errors);
                errors.is_empty()
            });
        }
        let radius = param::<ListOpportunitiesQuery>("radius");
        assert_eq!(radius["maximum"], MAX_RADIUS_M);
        assert_eq!(radius["exclusiveMinimum"], 0.0);
    }
}
