//! The queries behind `GET /stats` and the open-data exports: counts grouped in SQL and
//! medians read by offset, so memory stays bounded whatever the number of rows.

use chrono::NaiveDateTime;
use diesel::dsl::{count_star, sql, sum};
use diesel::prelude::*;
use diesel::sql_types::{Bool, Double, Nullable, Text};

use crate::db::DbConnection;
use crate::db::schema::{categories, group_members, groups, issues, opportunities, pledges};
use crate::domain::MemberStatus;
use crate::issues::lifecycle::Status;
use crate::pledges::models as pledge;

/// SQL that holds for an issue row in the public list of `GET /issues`: every issue but
/// those moderators hid. The same condition, seen from the change log, is
/// `issues::models::NOT_LISTED_SQL`; whatever else ever takes issues out of the list
/// changes both.
pub const LISTED_SQL: &str = "issues.hidden_at IS NULL";

/// The area and period the figures cover: `[from, to)`, and a box when given.
#[derive(Debug, Clone, Copy)]
pub struct Scope {
    pub from: NaiveDateTime,
    pub to: NaiveDateTime,
    /// `[min_lon, min_lat, max_lon, max_lat]`.
    pub bbox: Option<[f64; 4]>,
}

/// A month (`YYYY-MM`, UTC) of a timestamp column, in the connection's dialect.
fn month_of(conn: &DbConnection, column: &str) -> String {
    match conn {
        DbConnection::Sqlite(_) => format!("strftime('%Y-%m', {column})"),
        DbConnection::Postgresql(_) => format!("to_char({column}, 'YYYY-MM')"),
    }
}

/// Whole seconds from an issue's report to its closing, in the connection's dialect.
fn seconds_to_close(conn: &DbConnection) -> &'static str {
    match conn {
        DbConnection::Sqlite(_) => {
            "ROUND((julianday(issues.closed_at) - julianday(issues.created_at)) * 86400.0)"
        }
        DbConnection::Postgresql(_) => {
            "ROUND(CAST(EXTRACT(EPOCH FROM (issues.closed_at - issues.created_at)) AS DOUBLE PRECISION))"
        }
    }
}

type Backend = <DbConnection as diesel::Connection>::Backend;
type IssuePredicate = Box<dyn BoxableExpression<issues::table, Backend, SqlType = Nullable<Bool>>>;
type PledgePredicate =
    Box<dyn BoxableExpression<pledges::table, Backend, SqlType = Nullable<Bool>>>;

/// Listed issues in the scope's box (any time).
fn listed_in_area(scope: &Scope) -> IssuePredicate {
    let listed = sql::<Nullable<Bool>>(LISTED_SQL);
    match scope.bbox {
        Some([min_lon, min_lat, max_lon, max_lat]) => Box::new(
            listed
                .and(issues::lat.between(min_lat, max_lat))
                .and(issues::lon.between(min_lon, max_lon)),
        ),
        None => Box::new(listed),
    }
}

/// Listed issues in the box reported in the period.
fn reported_in_period(scope: &Scope) -> IssuePredicate {
    Box::new(
        listed_in_area(scope)
            .and(issues::created_at.ge(scope.from))
            .and(issues::created_at.lt(scope.to)),
    )
}

/// Issues reported in the period, by status.
pub fn by_status(conn: &mut DbConnection, scope: &Scope) -> QueryResult<Vec<(String, i64)>> {
    issues::table
        .filter(reported_in_period(scope))
        .group_by(issues::status)
        .select((issues::status, count_star()))
        .order(issues::status.asc())
        .load(conn)
}

/// Issues reported in the period, by category: `(code, name, count)`.
pub fn by_category(
    conn: &mut DbConnection,
    scope: &Scope,
) -> QueryResult<Vec<(String, String, i64)>> {
    let counts: Vec<(String, i64)> = issues::table
        .filter(reported_in_period(scope))
        .group_by(issues::category_code)
        .select((issues::category_code, count_star()))
        .order(issues::category_code.asc())
        .load(conn)?;
    let names: Vec<(String, String)> = categories::table
        .select((categories::code, categories::name))
        .load(conn)?;
    Ok(counts
        .into_iter()
        .map(|(code, count)| {
            let name = names
                .iter()
                .find(|(c, _)| *c == code)
                .map(|(_, name)| name.clone())
                .unwrap_or_else(|| code.clone());
            (code, name, count)
        })
        .collect())
}

/// Issues reported per month of the period.
pub fn reported_per_month(
    conn: &mut DbConnection,
    scope: &Scope,
) -> QueryResult<Vec<(String, i64)>> {
    let month = month_of(conn, "issues.created_at");
    issues::table
        .filter(reported_in_period(scope))
        .group_by(sql::<Text>(&month))
        .select((sql::<Text>(&month), count_star()))
        .load(conn)
}

/// Issues now in `status` (resolved or fixed) that closed in the period, per month of
/// closing.
pub fn closed_per_month(
    conn: &mut DbConnection,
    scope: &Scope,
    status: Status,
) -> QueryResult<Vec<(String, i64)>> {
    let month = month_of(conn, "issues.closed_at");
    issues::table
        .filter(closed_in_period(scope, status))
        .group_by(sql::<Text>(&month))
        .select((sql::<Text>(&month), count_star()))
        .load(conn)
}

fn closed_in_period(scope: &Scope, status: Status) -> IssuePredicate {
    Box::new(
        listed_in_area(scope)
            .and(issues::status.eq(status.as_str()))
            .and(issues::closed_at.ge(scope.from))
            .and(issues::closed_at.lt(scope.to)),
    )
}

/// How many issues now in `status` closed in the period, and the median time from report
/// to closing in whole seconds. The median is read by offset from the ordered durations,
/// so no more than two rows are loaded.
pub fn median_to_close(
    conn: &mut DbConnection,
    scope: &Scope,
    status: Status,
) -> QueryResult<(i64, Option<f64>)> {
    let count: i64 = issues::table
        .filter(closed_in_period(scope, status))
        .select(count_star())
        .first(conn)?;
    if count == 0 {
        return Ok((0, None));
    }
    let seconds = seconds_to_close(conn);
    let (offset, take) = if count % 2 == 1 {
        (count / 2, 1)
    } else {
        (count / 2 - 1, 2)
    };
    let middle: Vec<f64> = issues::table
        .filter(closed_in_period(scope, status))
        .select(sql::<Double>(seconds))
        .order((sql::<Double>(seconds).asc(), issues::id.asc()))
        .offset(offset)
        .limit(take)
        .load(conn)?;
    let median = (!middle.is_empty()).then(|| middle.iter().sum::<f64>() / middle.len() as f64);
    Ok((count, median))
}

/// Pledges made from within the scope's box: for an issue in it, or an opportunity held
/// in it (online ones have no place and count only without a box).
fn pledges_in_area(scope: &Scope) -> PledgePredicate {
    let Some([min_lon, min_lat, max_lon, max_lat]) = scope.bbox else {
        return Box::new(sql::<Nullable<Bool>>("1 = 1"));
    };
    let issue_ids = issues::table
        .filter(sql::<Bool>(LISTED_SQL))
        .filter(issues::lat.between(min_lat, max_lat))
        .filter(issues::lon.between(min_lon, max_lon))
        .select(issues::id.nullable());
    let opportunity_ids = opportunities::table
        .filter(opportunities::lat.between(min_lat, max_lat))
        .filter(opportunities::lon.between(min_lon, max_lon))
        .select(opportunities::id.nullable());
    Box::new(
        pledges::issue_id
            .eq_any(issue_ids)
            .or(pledges::opportunity_id.eq_any(opportunity_ids)),
    )
}

/// Hours pledged per month of pledging: the `hours` of time pledges made in the period
/// that still stand (not withdrawn, lapsed or no-show).
pub fn hours_pledged_per_month(
    conn: &mut DbConnection,
    scope: &Scope,
) -> QueryResult<Vec<(String, Option<f64>)>> {
    let month = month_of(conn, "pledges.created_at");
    pledges::table
        .filter(pledges_in_area(scope))
        .filter(pledges::hours.is_not_null())
        .filter(pledges::status.eq_any(pledge::LIVE))
        .filter(pledges::created_at.ge(scope.from))
        .filter(pledges::created_at.lt(scope.to))
        .group_by(sql::<Text>(&month))
        .select((sql::<Text>(&month), sum(pledges::hours)))
        .load(conn)
}

/// Hours verified per month of verification (`verified_hours` by `verified_at`).
pub fn hours_verified_per_month(
    conn: &mut DbConnection,
    scope: &Scope,
) -> QueryResult<Vec<(String, Option<f64>)>> {
    let month = month_of(conn, "pledges.verified_at");
    pledges::table
        .filter(pledges_in_area(scope))
        .filter(pledges::verified_hours.is_not_null())
        .filter(pledges::verified_at.ge(scope.from))
        .filter(pledges::verified_at.lt(scope.to))
        .group_by(sql::<Text>(&month))
        .select((sql::<Text>(&month), sum(pledges::verified_hours)))
        .load(conn)
}

/// Groups active in the period: neither archived nor hidden by moderators, centred in the
/// box, and within the period gained an active member or held an opportunity (one
/// starting in the period).
pub fn active_groups(conn: &mut DbConnection, scope: &Scope) -> QueryResult<i64> {
    let joined = group_members::table
        .filter(group_members::status.eq(MemberStatus::Active.as_str()))
        .filter(group_members::created_at.ge(scope.from))
        .filter(group_members::created_at.lt(scope.to))
        .select(group_members::group_id);
    let held = opportunities::table
        .filter(opportunities::starts_at.ge(scope.from))
        .filter(opportunities::starts_at.lt(scope.to))
        .select(opportunities::group_id);
    let mut query = groups::table
        .filter(groups::archived_at.is_null())
        .filter(groups::hidden_at.is_null())
        .filter(
            groups::id
                .eq_any(joined)
                .or(groups::id.nullable().eq_any(held)),
        )
        .into_boxed();
    if let Some([min_lon, min_lat, max_lon, max_lat]) = scope.bbox {
        query = query
            .filter(groups::lat.between(min_lat, max_lat))
            .filter(groups::lon.between(min_lon, max_lon));
    }
    query.select(count_star()).first(conn)
}

/// One public issue of the open-data exports: no reporter, no free text.
#[derive(Debug, Queryable)]
pub struct OpenIssueRow {
    pub id: String,
    pub category_code: String,
    pub category_name: String,
    pub status: String,
    pub lat: f64,
    pub lon: f64,
    pub support_count: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub closed_at: Option<NaiveDateTime>,
}

/// Filters of the open-data exports.
#[derive(Debug, Clone, Default)]
pub struct OpenDataFilter {
    /// `[min_lon, min_lat, max_lon, max_lat]`.
    pub bbox: Option<[f64; 4]>,
    pub from: Option<NaiveDateTime>,
    pub to: Option<NaiveDateTime>,
    pub categories: Vec<String>,
}

/// The next `limit` listed issues after `after`, by id (keyset paging for streaming).
pub fn open_issues_page(
    conn: &mut DbConnection,
    filter: &OpenDataFilter,
    after: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<OpenIssueRow>> {
    let mut query = issues::table
        .inner_join(categories::table)
        .filter(sql::<Bool>(LISTED_SQL))
        .select((
            issues::id,
            issues::category_code,
            categories::name,
            issues::status,
            issues::lat,
            issues::lon,
            issues::support_count,
            issues::created_at,
            issues::updated_at,
            issues::closed_at,
        ))
        .into_boxed();
    if let Some([min_lon, min_lat, max_lon, max_lat]) = filter.bbox {
        query = query
            .filter(issues::lat.between(min_lat, max_lat))
            .filter(issues::lon.between(min_lon, max_lon));
    }
    if let Some(from) = filter.from {
        query = query.filter(issues::created_at.ge(from));
    }
    if let Some(to) = filter.to {
        query = query.filter(issues::created_at.lt(to));
    }
    if !filter.categories.is_empty() {
        query = query.filter(issues::category_code.eq_any(filter.categories.clone()));
    }
    if let Some(after) = after {
        query = query.filter(issues::id.gt(after.to_owned()));
    }
    query.order(issues::id.asc()).limit(limit).load(conn)
}
