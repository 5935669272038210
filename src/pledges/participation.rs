//! Participation records: what a citizen has given and achieved, in full for themselves
//! and as a privacy-respecting summary for everyone else.

use actix_web::{get, web};
use diesel::dsl::{count, sum};
use diesel::prelude::*;

use super::models::{CONFIRMED, FULFILLED, PLEDGED};
use super::views::{GroupMembership, MoneyTotal, MyParticipation, PublicParticipation};
use crate::auth::AuthUser;
use crate::db::schema::{accounts, group_members, groups, issues, pledges};
use crate::db::{self, DbConnection};
use crate::error::{ApiError, ApiResult};
use crate::issues::lifecycle::Status;
use crate::privacy::consents::{self, Purpose};
use crate::startup::AppState;

fn hours(conn: &mut DbConnection, account_id: &str, statuses: &[&str]) -> QueryResult<f64> {
    let total: Option<f64> = pledges::table
        .filter(pledges::account_id.eq(account_id))
        .filter(pledges::kind.eq_any(["time", "skill"]))
        .filter(pledges::status.eq_any(statuses.to_vec()))
        .select(sum(pledges::hours))
        .first(conn)?;
    Ok(total.unwrap_or(0.0))
}

fn verified_hours(conn: &mut DbConnection, account_id: &str) -> QueryResult<f64> {
    let total: Option<f64> = pledges::table
        .filter(pledges::account_id.eq(account_id))
        .filter(pledges::status.eq(FULFILLED))
        .select(sum(pledges::verified_hours))
        .first(conn)?;
    Ok(total.unwrap_or(0.0))
}

/// (reported, resolved by the community), optionally counting anonymous reports.
fn issue_counts(
    conn: &mut DbConnection,
    account_id: &str,
    with_anonymous: bool,
) -> QueryResult<(i64, i64)> {
    let mut reported = issues::table
        .filter(issues::reporter_id.eq(account_id))
        .select(count(issues::id))
        .into_boxed();
    let mut resolved = issues::table
        .filter(issues::reporter_id.eq(account_id))
        .filter(issues::status.eq(Status::Resolved.as_str()))
        .select(count(issues::id))
        .into_boxed();
    if !with_anonymous {
        reported = reported.filter(issues::anonymous.eq(false));
        resolved = resolved.filter(issues::anonymous.eq(false));
    }
    Ok((reported.first(conn)?, resolved.first(conn)?))
}

/// An account's full participation record, as the account itself sees it.
pub fn my_participation(conn: &mut DbConnection, id: &str) -> QueryResult<MyParticipation> {
    let (issues_reported, issues_resolved) = issue_counts(conn, id, true)?;
    let pending_claims: i64 = pledges::table
        .filter(pledges::account_id.eq(id))
        .filter(pledges::claimed_hours.is_not_null())
        .filter(pledges::status.ne(FULFILLED))
        .select(count(pledges::id))
        .first(conn)?;
    let money: Vec<(Option<String>, Option<i64>)> = pledges::table
        .filter(pledges::account_id.eq(id))
        .filter(pledges::kind.eq("money"))
        .filter(pledges::status.eq_any([PLEDGED, CONFIRMED, FULFILLED]))
        .select((pledges::currency, pledges::amount_minor))
        .load(conn)?;
    let mut money_pledged: Vec<MoneyTotal> = Vec::new();
    for (currency, amount) in money {
        let (Some(currency), Some(amount)) = (currency, amount) else {
            continue;
        };
        match money_pledged.iter_mut().find(|t| t.currency == currency) {
            Some(total) => total.amount_minor += amount,
            None => money_pledged.push(MoneyTotal {
                currency,
                amount_minor: amount,
            }),
        }
    }
    let groups: Vec<(String, String, String)> = group_members::table
        .inner_join(groups::table)
        .filter(group_members::account_id.eq(id))
        .filter(group_members::status.eq("active"))
        .select((groups::id, groups::name, group_members::role))
        .order(groups::name.asc())
        .load(conn)?;
    Ok(MyParticipation {
        hours_pledged: hours(conn, id, &[PLEDGED, CONFIRMED, FULFILLED])?,
        hours_verified: verified_hours(conn, id)?,
        pending_claims,
        issues_reported,
        issues_resolved,
        money_pledged,
        groups: groups
            .into_iter()
            .map(|(id, name, role)| GroupMembership { id, name, role })
            .collect(),
    })
}

/// The caller's participation: hours pledged and verified, pending claims, issues
/// reported and resolved, money promised, and groups.
#[utoipa::path(
    tag = "Pledges",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's record", body = MyParticipation),
        (status = 401, response = crate::error::Unauthorized),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[get("/me/participation")]
pub async fn get_my_participation(
    state: web::Data<AppState>,
    user: AuthUser,
) -> ApiResult<web::Json<MyParticipation>> {
    let record = db::read(&state.pool, move |conn| {
        Ok(my_participation(conn, &user.account_id)?)
    })
    .await?;
    Ok(web::Json(record))
}

/// Anyone's public participation summary: verified hours, issues reported and resolved
/// (not anonymous ones), and how many groups. No money, no pending claims. The name is
/// shown only with the citizen's `public_name` consent. An erased account has no record
/// (`404`).
#[utoipa::path(
    tag = "Pledges",
    params(("id" = String, Path, description = "Account id")),
    responses(
        (status = 200, description = "The public record", body = PublicParticipation),
        (status = 404, response = crate::error::NotFound),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[get("/accounts/{id}/participation")]
pub async fn get_participation(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<web::Json<PublicParticipation>> {
    let id = id.into_inner();
    let record = db::read(&state.pool, move |conn| {
        let display_name: String = accounts::table
            .find(&id)
            .filter(accounts::deleted_at.is_null())
            .select(accounts::display_name)
            .first(conn)
            .map_err(|_| ApiError::not_found("No such account."))?;
        let display_name =
            consents::granted(conn, &id, Purpose::PublicName)?.then_some(display_name);
        let (issues_reported, issues_resolved) = issue_counts(conn, &id, false)?;
        let groups: i64 = group_members::table
            .filter(group_members::account_id.eq(&id))
            .filter(group_members::status.eq("active"))
            .select(count(group_members::group_id))
            .first(conn)?;
        Ok(PublicParticipation {
            hours_verified: verified_hours(conn, &id)?,
            account_id: id,
            display_name,
            issues_reported,
            issues_resolved,
            groups,
        })
    })
    .await?;
    Ok(web::Json(record))
}
