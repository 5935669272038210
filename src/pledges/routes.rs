//! The pledge routes. Only the pledger and the organisers of the owning group (for an
//! issue pledge: of the adopting group, or staff) see a pledge; everyone else gets 404.

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use chrono::NaiveDateTime;

use super::models::{
    self, CONDITIONAL, CONFIRMED, FULFILLED, NO_SHOW, PLEDGED, PledgeRow, Target, WAITLISTED,
    WITHDRAWN,
};
use super::views::{
    ClaimRequest, CreatePledgeRequest, PledgeKind, PledgeView, UpdatePledgeRequest,
    VerificationRequest,
};
use crate::auth::{AuthUser, VerifiedCitizen};
use crate::db::{self, DbConnection};
use crate::domain::{PledgeNote, tag_key};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::issues::lifecycle::Status as IssueStatus;
use crate::opportunities::models::{self as opportunity_models, OpportunityRow, PUBLISHED};
use crate::pagination::{Page, PageQuery};
use crate::partners::{Caller, Scope};
use crate::startup::AppState;
use utoipa_actix_web::service_config::ServiceConfig;

/// Registers the pledge routes (under `/api/v1`).
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create_opportunity_pledge)
        .service(create_issue_pledge)
        .service(list_opportunity_pledges)
        .service(list_my_pledges)
        .service(get_pledge)
        .service(update_pledge)
        .service(withdraw_pledge)
        .service(claim_fulfilment)
        .service(verify_fulfilment)
        .service(super::participation::get_my_participation)
        .service(super::participation::get_participation);
}

fn check_hours(field: &str, hours: Option<f64>, errors: &mut Vec<FieldError>) {
    match hours {
        Some(h) if h.is_finite() && (0.25..=1000.0).contains(&h) => {}
        _ => errors.push(FieldError::new(
            field,
            "out_of_range",
            "Between 0.25 and 1000 hours.",
        )),
    }
}

/// The fields a pledge of each kind needs, validated into a row (ids and status unset).
fn pledge_row(
    body: &CreatePledgeRequest,
    account_id: &str,
    now: NaiveDateTime,
) -> ApiResult<PledgeRow> {
    let mut errors = Vec::new();
    let mut row = PledgeRow {
        id: uuid::Uuid::now_v7().to_string(),
        account_id: Some(account_id.to_owned()),
        opportunity_id: None,
        issue_id: None,
        kind: body.kind.as_str().to_owned(),
        hours: None,
        skill: None,
        materials: None,
        quantity: None,
        amount_minor: None,
        currency: None,
        note: None,
        min_pledgers: None,
        condition_deadline: None,
        status: PLEDGED.to_owned(),
        claimed_hours: None,
        claimed_at: None,
        verified_hours: None,
        verified_at: None,
        verified_by: None,
        rejection_reason: None,
        safety_acknowledged: body.safety_acknowledged,
        created_at: now,
        updated_at: now,
    };
    // Fields of another kind are refused, as on update, so none goes unchecked.
    let (time, skill, materials, money) = (
        matches!(body.kind, PledgeKind::Time | PledgeKind::Skill),
        body.kind == PledgeKind::Skill,
        body.kind == PledgeKind::Materials,
        body.kind == PledgeKind::Money,
    );
    for (field, sent, fits) in [
        ("hours", body.hours.is_some(), time),
        ("skill", body.skill.is_some(), skill),
        ("materials", body.materials.is_some(), materials),
        ("quantity", body.quantity.is_some(), materials),
        ("amount_minor", body.amount_minor.is_some(), money),
        ("currency", body.currency.is_some(), money),
    ] {
        if sent && !fits {
            errors.push(FieldError::new(
                field,
                "not_for_kind",
                format!("A {} pledge has no `{field}`.", body.kind.as_str()),
            ));
        }
    }
    match body.kind {
        PledgeKind::Time | PledgeKind::Skill => {
            check_hours("hours", body.hours, &mut errors);
            row.hours = body.hours;
            if body.kind == PledgeKind::Skill {
                if let Some(skill) = tag_key(body.skill.as_deref().unwrap_or_default()) {
                    row.skill = Some(skill);
                } else {
                    errors.push(FieldError::new(
                        "skill",
                        "invalid_skill",
                        "A skill tag: 1 to 30 of a-z, 0-9 and -.",
                    ));
                }
            }
        }
        PledgeKind::Materials => {
            match body
                .materials
                .as_deref()
                .map(|m| crate::domain::Address::parse("materials", m))
            {
                Some(Ok(m)) => row.materials = Some(m.into_inner()),
                Some(Err(e)) => errors.push(e),
                None => errors.push(FieldError::new(
                    "materials",
                    "required",
                    "Say what you will bring.",
                )),
            }
            match body.quantity {
                Some(q) if (1..=1_000_000).contains(&q) => row.quantity = Some(q),
                _ => errors.push(FieldError::new(
                    "quantity",
                    "out_of_range",
                    "Between 1 and 1000000.",
                )),
            }
        }
        PledgeKind::Money => {
            match body.amount_minor {
                Some(a) if (1..=100_000_000).contains(&a) => row.amount_minor = Some(a),
                _ => errors.push(FieldError::new(
                    "amount_minor",
                    "out_of_range",
                    "Between 1 and 100000000 minor units.",
                )),
            }
            match body.currency.as_deref() {
                Some(c) if c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase()) => {
                    row.currency = Some(c.to_owned())
                }
                _ => errors.push(FieldError::new(
                    "currency",
                    "invalid_currency",
                    "An ISO 4217 code such as GBP.",
                )),
            }
        }
    }
    if let Some(note) = body.note.as_deref().filter(|n| !n.trim().is_empty()) {
        match PledgeNote::parse("note", note) {
            Ok(note) => row.note = Some(note.into_inner()),
            Err(e) => errors.push(e),
        }
    }
    match (body.min_pledgers, body.condition_deadline) {
        (None, None) => {}
        (Some(min), Some(deadline)) => {
            if !(2..=10_000).contains(&min) {
                errors.push(FieldError::new(
                    "min_pledgers",
                    "out_of_range",
                    "Between 2 and 10000.",
                ));
            }
            let deadline = deadline.naive_utc();
            if deadline <= now {
                errors.push(FieldError::new(
                    "condition_deadline",
                    "in_the_past",
                    "Must be in the future.",
                ));
            }
            row.min_pledgers = Some(min);
            row.condition_deadline = Some(deadline);
            row.status = CONDITIONAL.to_owned();
        }
        _ => errors.push(FieldError::new(
            "condition_deadline",
            "incomplete_condition",
            "A condition needs both `min_pledgers` and `condition_deadline`.",
        )),
    }
    if errors.is_empty() {
        Ok(row)
    } else {
        Err(ApiError::validation(errors))
    }
}

/// Stores a validated pledge for its target (`opportunity`, read in the same write, for
/// a pledge to one), settles conditions, updates the issue it helps, and places it last.
///
/// Every sign-up for an opportunity locks the opportunity's row to take a place (see
/// [`models::take_place_or_wait`]), and keeps it locked until it commits. So the pledge is
/// stored as if it got a place, and the place is taken as the write's last step: on
/// PostgreSQL the row is held for the last few statements of the transaction, not for
/// all of them. A conditional pledge this one activates came first, so it takes a free
/// place before this one does.
fn file_pledge(
    conn: &mut DbConnection,
    mut row: PledgeRow,
    target: Target,
    opportunity: Option<&OpportunityRow>,
    now: NaiveDateTime,
) -> ApiResult<PledgeView> {
    let places = opportunity.filter(|_| row.status != CONDITIONAL && row.takes_place());
    if row.status != CONDITIONAL {
        row.status = places.map_or(PLEDGED, models::placed_status).to_owned();
    }
    match models::insert_pledge(conn, &row) {
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => {
            return Err(ApiError::conflict(
                "already_pledged",
                "You already have a live pledge for this opportunity; change or withdraw it.",
            ));
        }
        other => other?,
    }
    if places.is_none() {
        // Its status is settled: `pledge.made` comes before what the conditions raise.
        models::raise_made(conn, &row)?;
    }
    models::settle_conditions(conn, &target, now)?;
    let issue = match (&row.issue_id, opportunity) {
        (Some(issue), _) => Some(issue),
        (None, Some(opportunity)) => opportunity.issue_id.as_ref(),
        (None, None) => None,
    };
    if let Some(issue) = issue {
        models::note_pledge_on_issue(conn, issue, now)?;
    }
    if let Some(opportunity) = places {
        models::take_place_or_wait(conn, &mut row, opportunity)?;
        models::raise_made(conn, &row)?;
    }
    if row.status == CONDITIONAL {
        // Settling the conditions may have activated it.
        return reload(conn, &row.id);
    }
    view(conn, row)
}

fn reload(conn: &mut DbConnection, id: &str) -> ApiResult<PledgeView> {
    let row = models::find_pledge(conn, id)?;
    view(conn, row)
}

/// A pledge as `GET /pledges/{id}` shows it (conditions settled by the caller).
pub(crate) fn view(conn: &mut DbConnection, row: PledgeRow) -> ApiResult<PledgeView> {
    let target = target_of(&row);
    let pledgers = if row.min_pledgers.is_some() {
        models::live_pledgers(conn, &target)?
    } else {
        0
    };
    Ok(PledgeView::new(row, pledgers))
}

pub(crate) fn target_of(row: &PledgeRow) -> Target {
    match (&row.opportunity_id, &row.issue_id) {
        (Some(opportunity), _) => Target::Opportunity(opportunity.clone()),
        (None, Some(issue)) => Target::Issue(issue.clone()),
        (None, None) => Target::Issue(String::new()),
    }
}

/// Pledge to an opportunity (verified citizens). Time and skill pledges take a place;
/// when none is free they join the waitlist, and a withdrawal promotes the oldest. An
/// opportunity moderators hid takes no pledges (`404`).
#[utoipa::path(
    tag = "Pledges",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Opportunity id")),
    request_body = CreatePledgeRequest,
    responses(
        (status = 201, description = "Pledged (see `status`: confirmed, pledged, waitlisted or conditional)", body = PledgeView),
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
#[post("/opportunities/{id}/pledges")]
pub async fn create_opportunity_pledge(
    state: web::Data<AppState>,
    VerifiedCitizen(user): VerifiedCitizen,
    id: web::Path<String>,
    body: web::Json<CreatePledgeRequest>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let now = db::now();
    let mut row = pledge_row(&body, &user.account_id, now)?;
    let acknowledged = body.safety_acknowledged;
    let view = db::write(&state.pool, move |conn| {
        let opportunity = opportunity_models::find_opportunity(conn, &id)
            .ok()
            .filter(|o| o.status == PUBLISHED && o.hidden_at.is_none())
            .ok_or_else(|| ApiError::not_found("No such opportunity."))?;
        if opportunity.ends_at <= now {
            return Err(ApiError::conflict(
                "opportunity_over",
                "This opportunity has ended.",
            ));
        }
        if opportunity.safety_ack_required && !acknowledged {
            return Err(ApiError::invalid_field(
                "safety_acknowledged",
                "required",
                "Read the safety notes and acknowledge them.",
            ));
        }
        models::settle_conditions(conn, &Target::Opportunity(id.clone()), now)?;
        row.opportunity_id = Some(id.clone());
        file_pledge(conn, row, Target::Opportunity(id), Some(&opportunity), now)
    })
    .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/pledges/{}", view.id)))
        .json(view))
}

/// Pledge directly to an issue (verified citizens). A `reported` issue moves to
/// `community`; the timeline shows totals, never who pledged what. An issue moderators
/// hid is `404` (except to staff).
#[utoipa::path(
    tag = "Pledges",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Issue id")),
    request_body = CreatePledgeRequest,
    responses(
        (status = 201, description = "Pledged", body = PledgeView),
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
#[post("/issues/{id}/pledges")]
pub async fn create_issue_pledge(
    state: web::Data<AppState>,
    VerifiedCitizen(user): VerifiedCitizen,
    id: web::Path<String>,
    body: web::Json<CreatePledgeRequest>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let now = db::now();
    let mut row = pledge_row(&body, &user.account_id, now)?;
    let view = db::write(&state.pool, move |conn| {
        let issue = crate::issues::routes::visible_issue(conn, &id, Some(&user))?;
        let open = IssueStatus::parse(&issue.status).is_some_and(IssueStatus::is_open);
        if !open {
            return Err(ApiError::conflict("issue_closed", "This issue is closed."));
        }
        models::settle_conditions(conn, &Target::Issue(id.clone()), now)?;
        row.issue_id = Some(id.clone());
        file_pledge(conn, row, Target::Issue(id), None, now)
    })
    .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/pledges/{}", view.id)))
        .json(view))
}

/// Whether `user` manages `pledge`: organisers of the opportunity's group; for an issue
/// pledge, organisers of the adopting group, or staff.
fn manages(conn: &mut DbConnection, pledge: &PledgeRow, user: &AuthUser) -> ApiResult<bool> {
    if let Some(opportunity) = &pledge.opportunity_id {
        let opportunity = opportunity_models::find_opportunity(conn, opportunity)?;
        return Ok(match &opportunity.group_id {
            Some(group) => crate::groups::models::is_organiser(conn, group, &user.account_id)?,
            None => false,
        });
    }
    if user.role.is_staff() {
        return Ok(true);
    }
    let adopted_by: Option<String> = match &pledge.issue_id {
        Some(issue) => {
            use crate::db::schema::issues;
            use diesel::prelude::*;
            issues::table
                .find(issue)
                .select(issues::adopted_by_group_id)
                .first(conn)?
        }
        None => None,
    };
    Ok(match adopted_by {
        Some(group) => crate::groups::models::is_organiser(conn, &group, &user.account_id)?,
        None => false,
    })
}

/// The pledge and how `user` relates to it; 404 unless they pledged or manage it.
fn reachable(
    conn: &mut DbConnection,
    id: &str,
    user: &AuthUser,
) -> ApiResult<(PledgeRow, bool, bool)> {
    let missing = || ApiError::not_found("No such pledge.");
    let row = models::find_pledge(conn, id).map_err(|_| missing())?;
    models::settle_conditions(conn, &target_of(&row), db::now())?;
    let row = models::find_pledge(conn, id)?;
    let own = row.account_id.as_deref() == Some(user.account_id.as_str());
    let manager = manages(conn, &row, user)?;
    if !own && !manager {
        return Err(missing());
    }
    Ok((row, own, manager))
}

/// The pledges to an opportunity: its group's organisers, or the partner that published
/// it (with `pledges:read`). Anyone else gets 404.
#[utoipa::path(
    tag = "Pledges",
    security(("bearer" = []), ("partner" = ["pledges:read"])),
    params(("id" = String, Path, description = "Opportunity id"), PageQuery),
    responses(
        (status = 200, description = "A page of pledges, oldest first", body = Page<PledgeView>),
        (status = 400, response = crate::error::BadRequest),
        (status = 401, response = crate::error::Unauthorized),
        (status = 403, response = crate::error::Forbidden),
        (status = 404, response = crate::error::NotFound),
        (status = 422, response = crate::error::ValidationFailed),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[get("/opportunities/{id}/pledges")]
pub async fn list_opportunity_pledges(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    page: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<PledgeView>>> {
    if let Caller::Partner(client) = &caller {
        client.require(Scope::PledgesRead)?;
    }
    let id = id.into_inner();
    let limit = page.limit()?;
    let after: Option<String> = page.after()?;
    let page = db::write(&state.pool, move |conn| {
        let missing = || ApiError::not_found("No such opportunity.");
        let opportunity = opportunity_models::find_opportunity(conn, &id).map_err(|_| missing())?;
        if !crate::opportunities::routes::manages(conn, &opportunity, Some(&caller))? {
            return Err(missing());
        }
        models::settle_conditions(conn, &Target::Opportunity(id.clone()), db::now())?;
        let rows = models::pledges_to(conn, &id, after.as_deref(), limit + 1)?;
        let pledgers = models::live_pledgers(conn, &Target::Opportunity(id.clone()))?;
        Ok(Page::from_rows(
            rows,
            limit,
            |r| r.id.clone(),
            |r| PledgeView::new(r, pledgers),
        ))
    })
    .await?;
    Ok(web::Json(page))
}

/// The caller's pledges, newest first.
#[utoipa::path(
    tag = "Pledges",
    security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "A page of pledges", body = Page<PledgeView>),
        (status = 400, response = crate::error::BadRequest),
        (status = 401, response = crate::error::Unauthorized),
        (status = 422, response = crate::error::ValidationFailed),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[get("/me/pledges")]
pub async fn list_my_pledges(
    state: web::Data<AppState>,
    user: AuthUser,
    page: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<PledgeView>>> {
    let limit = page.limit()?;
    let before: Option<String> = page.after()?;
    let page = db::write(&state.pool, move |conn| {
        let rows = models::pledges_of(conn, &user.account_id, before.as_deref(), limit + 1)?;
        let mut settled = Vec::with_capacity(rows.len());
        for row in rows {
            models::settle_conditions(conn, &target_of(&row), db::now())?;
            settled.push(reload(conn, &row.id)?);
        }
        Ok(Page::from_rows(settled, limit, |v| v.id.clone(), |v| v))
    })
    .await?;
    Ok(web::Json(page))
}

/// One pledge (its pledger, or the organisers who manage it).
#[utoipa::path(
    tag = "Pledges",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Pledge id")),
    responses(
        (status = 200, description = "The pledge", body = PledgeView),
        (status = 401, response = crate::error::Unauthorized),
        (status = 404, response = crate::error::NotFound),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[get("/pledges/{id}")]
pub async fn get_pledge(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
) -> ApiResult<web::Json<PledgeView>> {
    let id = id.into_inner();
    let view = db::write(&state.pool, move |conn| {
        let (row, _, _) = reachable(conn, &id, &user)?;
        view(conn, row)
    })
    .await?;
    Ok(web::Json(view))
}

fn started(conn: &mut DbConnection, row: &PledgeRow, now: NaiveDateTime) -> ApiResult<bool> {
    Ok(match &row.opportunity_id {
        Some(id) => opportunity_models::find_opportunity(conn, id)?.starts_at <= now,
        None => false,
    })
}

fn ended(conn: &mut DbConnection, row: &PledgeRow, now: NaiveDateTime) -> ApiResult<bool> {
    Ok(match &row.opportunity_id {
        Some(id) => opportunity_models::find_opportunity(conn, id)?.ends_at <= now,
        None => true,
    })
}

/// Change a pledge: the pledger edits it; organisers confirm it or record a no-show.
#[utoipa::path(
    tag = "Pledges",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "Pledge id"),
        ("If-Match" = Option<String>, Header, description = "The `ETag` of the pledge as last read; `412` if it changed since"),
    ),
    request_body = UpdatePledgeRequest,
    responses(
        (status = 200, description = "The pledge", body = PledgeView),
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
#[patch("/pledges/{id}")]
pub async fn update_pledge(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
    req: HttpRequest,
    body: web::Json<UpdatePledgeRequest>,
) -> ApiResult<web::Json<PledgeView>> {
    user.ensure_may_post()?;
    let id = id.into_inner();
    let if_match = crate::conditional::if_match(&req);
    let body = body.into_inner();
    let statuses = [
        models::CONDITIONAL,
        models::PLEDGED,
        models::WAITLISTED,
        models::CONFIRMED,
        models::WITHDRAWN,
        models::FULFILLED,
        models::NO_SHOW,
        models::LAPSED,
    ];
    if body
        .status
        .as_deref()
        .is_some_and(|s| !statuses.contains(&s))
    {
        return Err(ApiError::invalid_field(
            "status",
            "unknown_status",
            "Organisers set `confirmed` or `no_show`.",
        ));
    }
    let view = db::write(&state.pool, move |conn| {
        use crate::db::schema::pledges;
        use diesel::prelude::*;
        let (row, own, manager) = reachable(conn, &id, &user)?;
        if if_match.is_some() {
            let current = view(conn, row.clone())?;
            crate::conditional::check_if_match(if_match.as_deref(), &current)?;
        }
        let now = db::now();
        let live = models::OPEN.contains(&row.status.as_str());
        let edits = body.note.is_some()
            || body.hours.is_some()
            || body.quantity.is_some()
            || body.amount_minor.is_some();
        if edits {
            if !own {
                return Err(ApiError::forbidden(
                    "not_pledger",
                    "Only the pledger may change what is pledged.",
                ));
            }
            if !live {
                return Err(ApiError::conflict(
                    "pledge_closed",
                    "This pledge can no longer change.",
                ));
            }
            let mut errors = Vec::new();
            let mut hours = row.hours;
            if body.hours.is_some() {
                if row.kind != "time" && row.kind != "skill" {
                    errors.push(FieldError::new(
                        "hours",
                        "not_for_kind",
                        "Only time and skill pledges have hours.",
                    ));
                }
                check_hours("hours", body.hours, &mut errors);
                hours = body.hours;
            }
            let mut quantity = row.quantity;
            if let Some(q) = body.quantity {
                if row.kind != "materials" || !(1..=1_000_000).contains(&q) {
                    errors.push(FieldError::new(
                        "quantity",
                        "invalid",
                        "Materials pledges only; 1 to 1000000.",
                    ));
                }
                quantity = Some(q);
            }
            let mut amount = row.amount_minor;
            if let Some(a) = body.amount_minor {
                if row.kind != "money" || !(1..=100_000_000).contains(&a) {
                    errors.push(FieldError::new(
                        "amount_minor",
                        "invalid",
                        "Money pledges only; 1 to 100000000.",
                    ));
                }
                amount = Some(a);
            }
            let mut note = row.note.clone();
            if let Some(text) = &body.note {
                note = match PledgeNote::parse("note", text) {
                    Ok(note) => Some(note.into_inner()),
                    Err(_) if text.trim().is_empty() => None,
                    Err(e) => {
                        errors.push(e);
                        None
                    }
                };
            }
            if !errors.is_empty() {
                return Err(ApiError::validation(errors));
            }
            diesel::update(pledges::table.find(&row.id))
                .set((
                    pledges::hours.eq(hours),
                    pledges::quantity.eq(quantity),
                    pledges::amount_minor.eq(amount),
                    pledges::note.eq(note),
                    pledges::updated_at.eq(now),
                ))
                .execute(conn)?;
            crate::sync::record(conn, crate::sync::Entity::Pledge, &row.id)?;
        }
        if let Some(status) = body.status.as_deref().filter(|s| *s != row.status) {
            if !manager {
                return Err(ApiError::forbidden(
                    "not_organiser",
                    "Only organisers confirm pledges or record no-shows.",
                ));
            }
            match (row.status.as_str(), status) {
                (PLEDGED, CONFIRMED) => models::set_status(conn, &row.id, CONFIRMED, now)?,
                (WAITLISTED, CONFIRMED) => {
                    let opportunity = row.opportunity_id.clone().unwrap_or_default();
                    if !opportunity_models::take_place(conn, &opportunity)? {
                        return Err(ApiError::conflict("capacity_full", "No place is free."));
                    }
                    opportunity_models::bump_waitlist(conn, &opportunity, -1)?;
                    models::set_status(conn, &row.id, CONFIRMED, now)?;
                }
                (PLEDGED | CONFIRMED, NO_SHOW) => {
                    if !ended(conn, &row, now)? {
                        return Err(ApiError::conflict(
                            "not_over",
                            "A no-show is recorded after the end.",
                        ));
                    }
                    models::release(conn, &row, NO_SHOW, now)?;
                }
                (from, to) => {
                    return Err(ApiError::conflict(
                        "invalid_transition",
                        format!("A pledge cannot go from `{from}` to `{to}` here."),
                    ));
                }
            }
        }
        reload(conn, &row.id)
    })
    .await?;
    Ok(web::Json(view))
}

/// Withdraw a pledge (the pledger, before the opportunity starts). Its place goes to the
/// oldest waitlisted pledge.
#[utoipa::path(
    tag = "Pledges",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Pledge id")),
    responses(
        (status = 204, description = "Withdrawn"),
        (status = 401, response = crate::error::Unauthorized),
        (status = 403, response = crate::error::Forbidden),
        (status = 404, response = crate::error::NotFound),
        (status = 409, response = crate::error::Conflict),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[delete("/pledges/{id}")]
pub async fn withdraw_pledge(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    db::write(&state.pool, move |conn| {
        let (row, own, _) = reachable(conn, &id, &user)?;
        if !own {
            return Err(ApiError::forbidden(
                "not_pledger",
                "Only the pledger may withdraw a pledge.",
            ));
        }
        let now = db::now();
        if row.status == WITHDRAWN {
            return Ok(());
        }
        if !models::OPEN.contains(&row.status.as_str()) {
            return Err(ApiError::conflict(
                "pledge_closed",
                "This pledge can no longer be withdrawn.",
            ));
        }
        if started(conn, &row, now)? {
            return Err(ApiError::conflict(
                "already_started",
                "The opportunity has started; tell the organisers instead.",
            ));
        }
        models::release(conn, &row, WITHDRAWN, now)?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Claim the hours done (the pledger, once the opportunity has started). An organiser
/// then verifies the claim.
#[utoipa::path(
    tag = "Pledges",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Pledge id")),
    request_body = ClaimRequest,
    responses(
        (status = 200, description = "Claimed; awaiting verification", body = PledgeView),
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
#[post("/pledges/{id}/fulfilment")]
pub async fn claim_fulfilment(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
    body: web::Json<ClaimRequest>,
) -> ApiResult<web::Json<PledgeView>> {
    user.ensure_may_post()?;
    let id = id.into_inner();
    let hours = body.hours;
    let mut errors = Vec::new();
    check_hours("hours", Some(hours), &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let view = db::write(&state.pool, move |conn| {
        use crate::db::schema::pledges;
        use diesel::prelude::*;
        let (row, own, _) = reachable(conn, &id, &user)?;
        if !own {
            return Err(ApiError::forbidden(
                "not_pledger",
                "Only the pledger claims hours.",
            ));
        }
        if row.kind != "time" && row.kind != "skill" {
            return Err(ApiError::conflict(
                "no_hours",
                "Only time and skill pledges have hours to claim.",
            ));
        }
        if row.status != PLEDGED && row.status != CONFIRMED {
            return Err(ApiError::conflict(
                "not_claimable",
                "Only a pledged or confirmed pledge can be claimed.",
            ));
        }
        let now = db::now();
        if row.opportunity_id.is_some() && !started(conn, &row, now)? {
            return Err(ApiError::conflict(
                "not_started",
                "Claim hours once the opportunity has started.",
            ));
        }
        diesel::update(pledges::table.find(&row.id))
            .set((
                pledges::claimed_hours.eq(hours),
                pledges::claimed_at.eq(now),
                pledges::rejection_reason.eq(None::<String>),
                pledges::updated_at.eq(now),
            ))
            .execute(conn)?;
        let details = serde_json::json!({
            "status": row.status, "hours": hours, "actor_id": user.account_id,
        });
        models::raise(conn, "pledge.claimed", &row.id, details, now)?;
        reload(conn, &row.id)
    })
    .await?;
    Ok(web::Json(view))
}

/// Verify or reject a claim (organisers who manage the pledge). Accepting makes the
/// pledge `fulfilled`; rejecting needs a reason and clears the claim.
#[utoipa::path(
    tag = "Pledges",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Pledge id")),
    request_body = VerificationRequest,
    responses(
        (status = 200, description = "Verified or rejected", body = PledgeView),
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
#[post("/pledges/{id}/verification")]
pub async fn verify_fulfilment(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
    body: web::Json<VerificationRequest>,
) -> ApiResult<web::Json<PledgeView>> {
    let id = id.into_inner();
    let body = body.into_inner();
    let view = db::write(&state.pool, move |conn| {
        use crate::db::schema::pledges;
        use diesel::prelude::*;
        let (row, _, manager) = reachable(conn, &id, &user)?;
        if !manager {
            return Err(ApiError::forbidden(
                "not_organiser",
                "Only organisers verify claims.",
            ));
        }
        let Some(claimed) = row.claimed_hours.filter(|_| row.status != FULFILLED) else {
            return Err(ApiError::conflict(
                "no_claim",
                "There is no claim to verify.",
            ));
        };
        let now = db::now();
        if body.accepted {
            let hours = body.hours.unwrap_or(claimed);
            if !(hours.is_finite() && hours > 0.0 && hours <= claimed) {
                return Err(ApiError::invalid_field(
                    "hours",
                    "out_of_range",
                    "More than 0 and at most the hours claimed.",
                ));
            }
            diesel::update(pledges::table.find(&row.id))
                .set((
                    pledges::status.eq(FULFILLED),
                    pledges::verified_hours.eq(hours),
                    pledges::verified_at.eq(now),
                    pledges::verified_by.eq(&user.account_id),
                    pledges::updated_at.eq(now),
                ))
                .execute(conn)?;
            let details = serde_json::json!({
                "status": FULFILLED, "hours": hours, "actor_id": user.account_id,
            });
            models::raise(conn, "pledge.verified", &row.id, details, now)?;
        } else {
            let reason = body
                .reason
                .as_deref()
                .map(|r| crate::domain::Note::parse("reason", r))
                .transpose()
                .map_err(|e| ApiError::validation(vec![e]))?
                .ok_or_else(|| {
                    ApiError::invalid_field("reason", "required", "Say why the claim is rejected.")
                })?;
            diesel::update(pledges::table.find(&row.id))
                .set((
                    pledges::claimed_hours.eq(None::<f64>),
                    pledges::claimed_at.eq(None::<NaiveDateTime>),
                    pledges::rejection_reason.eq(reason.as_str()),
                    pledges::updated_at.eq(now),
                ))
                .execute(conn)?;
            let details = serde_json::json!({
                "status": row.status, "reason": reason.as_str(), "actor_id": user.account_id,
            });
            models::raise(conn, "pledge.claim_rejected", &row.id, details, now)?;
        }
        reload(conn, &row.id)
    })
    .await?;
    Ok(web::Json(view))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openapi::bounds::{assert_range, property};
    use serde_json::json;

    fn accepts(body: serde_json::Value) -> bool {
        let body: CreatePledgeRequest = serde_json::from_value(body).unwrap();
        pledge_row(&body, "account", db::now()).is_ok()
    }

    fn hours_pass(hours: f64) -> bool {
        let mut errors = Vec::new();
        check_hours("hours", Some(hours), &mut errors);
        errors.is_empty()
    }

    #[test]
    fn documented_ranges_are_the_enforced_ones() {
        assert_range(&property::<CreatePledgeRequest>("hours"), 0.01, |hours| {
            accepts(json!({"kind": "time", "hours": hours}))
        });
        assert_range(&property::<UpdatePledgeRequest>("hours"), 0.01, hours_pass);
        assert_range(&property::<ClaimRequest>("hours"), 0.01, hours_pass);
        assert_range(&property::<CreatePledgeRequest>("quantity"), 1.0, |q| {
            accepts(json!({"kind": "materials", "materials": "Bags", "quantity": q as i64}))
        });
        assert_range(&property::<CreatePledgeRequest>("amount_minor"), 1.0, |a| {
            accepts(json!({"kind": "money", "amount_minor": a as i64, "currency": "GBP"}))
        });
        let deadline = chrono::Utc::now() + chrono::TimeDelta::days(1);
        assert_range(&property::<CreatePledgeRequest>("min_pledgers"), 1.0, |m| {
            accepts(json!({"kind": "time", "hours": 1, "min_pledgers": m as i64,
                           "condition_deadline": deadline}))
        });
    }

    #[test]
    fn fields_of_another_kind_are_refused() {
        assert!(accepts(
            json!({"kind": "money", "amount_minor": 100, "currency": "GBP"})
        ));
        assert!(!accepts(
            json!({"kind": "money", "amount_minor": 100, "currency": "GBP", "hours": 2})
        ));
        assert!(!accepts(
            json!({"kind": "time", "hours": 2, "materials": "x"})
        ));
        assert!(accepts(
            json!({"kind": "skill", "hours": 2, "skill": "first-aid"})
        ));
    }
}
