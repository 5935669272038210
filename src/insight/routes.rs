//! `GET /api/v1/stats`: aggregate figures for an area and period, for anyone.

use std::collections::BTreeMap;

use actix_web::{get, web};
use chrono::{NaiveDateTime, TimeDelta};
use utoipa_actix_web::service_config::ServiceConfig;

use super::models::{self, Scope};
use super::open_data;
use super::views::{
    CategoryCount, DEFAULT_PERIOD_DAYS, IssueCounts, MAX_BBOX_DEGREES, MAX_PERIOD_DAYS,
    MonthFigures, Period, ResolutionTime, ResolutionTimes, Stats, StatsQuery, months_between,
    parse_instant,
};
use crate::db::{self, DbConnection, utc};
use crate::domain::parse_bbox;
use crate::error::{ApiError, ApiResult, FieldError, FieldErrors};
use crate::issues::lifecycle::Status;
use crate::startup::AppState;

/// Registers the statistics and open-data routes (under `/api/v1`).
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(get_stats)
        .service(open_data::export_issues_csv)
        .service(open_data::export_issues_geojson);
}

/// Aggregate figures for an area and period: issues by status and category, per month
/// reported / resolved by the community / fixed by the council, the median time to
/// resolution along each path, volunteer hours pledged and verified per month, and
/// active groups. Anyone may ask; nothing personal is in it.
///
/// Definitions (all times UTC, the period half-open `[from, to)`, only issues in the
/// public list of `GET /issues`: none that moderators hid):
/// - **issues** (`by_status`, `by_category`, `reported`): issues reported (`created_at`)
///   in the period and the box, counted by the status they are in now.
/// - **resolved by the community**: issues now `resolved` (the community path:
///   `reported`/`community` → `resolved`), counted in the month they were closed
///   (`closed_at`). **Fixed by the council**: issues now `fixed` (the council path:
///   `escalated` → `acknowledged` → `in_progress` → `fixed`), likewise. Declined and
///   duplicate issues are neither.
/// - **time to resolution**: from `created_at` to `closed_at` (when the resolving status
///   was last set), for the issues above closed in the period; the median in seconds.
/// - **hours pledged**: `hours` of pledges made in the month that still stand (not
///   withdrawn, lapsed or no-show); **hours verified**: hours verified in the month.
///   With a box, pledges count by the place of their issue or opportunity.
/// - **active groups**: groups neither archived nor hidden, centred in the box, that in
///   the period gained an active member or held an opportunity (one starting in the
///   period).
#[utoipa::path(
    tag = "Insight",
    params(StatsQuery),
    responses(
        (status = 200, description = "The figures", body = Stats),
        (status = 400, response = crate::error::BadRequest),
        (status = 422, response = crate::error::ValidationFailed),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[get("/stats")]
pub async fn get_stats(
    state: web::Data<AppState>,
    query: web::Query<StatsQuery>,
) -> ApiResult<web::Json<Stats>> {
    let scope = parse_scope(&query, db::now())?;
    let stats = db::read(&state.pool, move |conn| Ok(compute(conn, &scope)?)).await?;
    Ok(web::Json(stats))
}

/// A box, or a 422 naming `bbox`.
pub fn parse_area(raw: Option<&str>, errors: &mut FieldErrors) -> Option<[f64; 4]> {
    errors.optional(raw.filter(|b| !b.trim().is_empty()), |raw| {
        parse_bbox("bbox", raw, MAX_BBOX_DEGREES)
    })
}

fn parse_scope(query: &StatsQuery, now: NaiveDateTime) -> ApiResult<Scope> {
    let mut errors = FieldErrors::new();
    let bbox = parse_area(query.bbox.as_deref(), &mut errors);
    let to = errors.optional(query.to.as_deref(), |raw| parse_instant("to", raw, true));
    let from = errors.optional(query.from.as_deref(), |raw| {
        parse_instant("from", raw, false)
    });
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let to = to.unwrap_or(now);
    let from = from.unwrap_or(to - TimeDelta::days(DEFAULT_PERIOD_DAYS));
    if from >= to {
        return Err(ApiError::validation(vec![FieldError::new(
            "from",
            "invalid_period",
            "`from` must come before `to`.",
        )]));
    }
    if to - from > TimeDelta::days(MAX_PERIOD_DAYS) {
        return Err(ApiError::validation(vec![FieldError::new(
            "from",
            "period_too_long",
            "At most five years between `from` and `to`.",
        )]));
    }
    Ok(Scope { from, to, bbox })
}

fn compute(conn: &mut DbConnection, scope: &Scope) -> diesel::QueryResult<Stats> {
    let mut by_status: BTreeMap<String, i64> = Status::ALL
        .into_iter()
        .map(|s| (s.as_str().to_owned(), 0))
        .collect();
    let mut total = 0;
    for (status, count) in models::by_status(conn, scope)? {
        total += count;
        *by_status.entry(status).or_default() += count;
    }
    let by_category = models::by_category(conn, scope)?
        .into_iter()
        .map(|(code, name, count)| CategoryCount { code, name, count })
        .collect();

    let mut months: BTreeMap<String, MonthFigures> = months_between(scope.from, scope.to)
        .into_iter()
        .map(|month| {
            let figures = MonthFigures {
                month: month.clone(),
                ..MonthFigures::default()
            };
            (month, figures)
        })
        .collect();
    for (key, count) in models::reported_per_month(conn, scope)? {
        month(&mut months, key).reported = count;
    }
    for (key, count) in models::closed_per_month(conn, scope, Status::Resolved)? {
        month(&mut months, key).resolved_by_community = count;
    }
    for (key, count) in models::closed_per_month(conn, scope, Status::Fixed)? {
        month(&mut months, key).fixed_by_council = count;
    }
    for (key, hours) in models::hours_pledged_per_month(conn, scope)? {
        month(&mut months, key).hours_pledged = hours.unwrap_or(0.0);
    }
    for (key, hours) in models::hours_verified_per_month(conn, scope)? {
        month(&mut months, key).hours_verified = hours.unwrap_or(0.0);
    }

    let (count, median) = models::median_to_close(conn, scope, Status::Resolved)?;
    let community = ResolutionTime {
        count,
        median_seconds: median,
    };
    let (count, median) = models::median_to_close(conn, scope, Status::Fixed)?;
    let council = ResolutionTime {
        count,
        median_seconds: median,
    };
    Ok(Stats {
        period: Period {
            from: utc(scope.from),
            to: utc(scope.to),
        },
        bbox: scope.bbox,
        issues: IssueCounts {
            total,
            by_status,
            by_category,
        },
        months: months.into_values().collect(),
        time_to_resolution: ResolutionTimes { community, council },
        active_groups: models::active_groups(conn, scope)?,
    })
}

/// The figures of a month; rows always fall in a month of the period, but a stray one is
/// kept visible rather than dropped.
fn month(months: &mut BTreeMap<String, MonthFigures>, key: String) -> &mut MonthFigures {
    months.entry(key.clone()).or_insert_with(|| MonthFigures {
        month: key,
        ..MonthFigures::default()
    })
}
