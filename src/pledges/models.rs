//! Pledge rows, capacity and waitlist handling, conditions, and the issue side effects.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::{opportunities, pledges};
use crate::issues::lifecycle::Status as IssueStatus;
use crate::issues::models as issue_models;
use crate::issues::timeline::{self, Actor, EventKind, NewEvent};
use crate::opportunities::models::{self as opportunity_models, OpportunityRow};
use crate::sync::{self, Entity};

pub const CONDITIONAL: &str = "conditional";
pub const PLEDGED: &str = "pledged";
pub const WAITLISTED: &str = "waitlisted";
pub const CONFIRMED: &str = "confirmed";
pub const WITHDRAWN: &str = "withdrawn";
pub const FULFILLED: &str = "fulfilled";
pub const NO_SHOW: &str = "no_show";
pub const LAPSED: &str = "lapsed";

/// Statuses of a pledge that can still change: edited, withdrawn, confirmed.
pub const OPEN: [&str; 4] = [CONDITIONAL, PLEDGED, WAITLISTED, CONFIRMED];

/// Statuses of a pledge that still counts.
pub const LIVE: [&str; 5] = [CONDITIONAL, PLEDGED, WAITLISTED, CONFIRMED, FULFILLED];

/// A pledge row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = pledges)]
pub struct PledgeRow {
    pub id: String,
    pub account_id: Option<String>,
    pub opportunity_id: Option<String>,
    pub issue_id: Option<String>,
    pub kind: String,
    pub hours: Option<f64>,
    pub skill: Option<String>,
    pub materials: Option<String>,
    pub quantity: Option<i32>,
    pub amount_minor: Option<i64>,
    pub currency: Option<String>,
    pub note: Option<String>,
    pub min_pledgers: Option<i32>,
    pub condition_deadline: Option<NaiveDateTime>,
    pub status: String,
    pub claimed_hours: Option<f64>,
    pub claimed_at: Option<NaiveDateTime>,
    pub verified_hours: Option<f64>,
    pub verified_at: Option<NaiveDateTime>,
    pub verified_by: Option<String>,
    pub rejection_reason: Option<String>,
    pub safety_acknowledged: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl PledgeRow {
    /// Time and skill pledges are people turning up: they take places.
    pub fn takes_place(&self) -> bool {
        matches!(self.kind.as_str(), "time" | "skill")
    }
}

/// What a pledge is for.
#[derive(Debug, Clone)]
pub enum Target {
    Opportunity(String),
    Issue(String),
}

pub fn insert_pledge(conn: &mut DbConnection, row: &PledgeRow) -> QueryResult<()> {
    diesel::insert_into(pledges::table)
        .values(row)
        .execute(conn)?;
    if let (Some(opportunity), Some(account)) = (&row.opportunity_id, &row.account_id) {
        // The pledger now relates to the opportunity (their app caches it from now on).
        sync::record_for(conn, Entity::Opportunity, opportunity, account)?;
    }
    Ok(())
}

/// Raises `pledge.made` for a new pledge, with the status it ends its first write in.
pub fn raise_made(conn: &mut DbConnection, row: &PledgeRow) -> QueryResult<()> {
    let details = serde_json::json!({ "status": row.status, "actor_id": row.account_id });
    raise(conn, "pledge.made", &row.id, details, row.created_at)
}

/// Raises a pledge event (`pledge.made`, `pledge.confirmed`, `pledge.verified`…) in the
/// outbox and logs the change for the sync feed, in the caller's transaction. `details`
/// says what the dispatcher needs that the pledge may no longer show by then: the new
/// status, who acted (`actor_id`, never notified of their own act), a rejection's
/// `reason`.
pub fn raise(
    conn: &mut DbConnection,
    event_type: &str,
    pledge_id: &str,
    details: serde_json::Value,
    now: NaiveDateTime,
) -> QueryResult<()> {
    crate::db::outbox::record(conn, event_type, ("pledge", pledge_id), details, now)?;
    sync::record(conn, Entity::Pledge, pledge_id)
}

pub fn find_pledge(conn: &mut DbConnection, id: &str) -> QueryResult<PledgeRow> {
    pledges::table
        .find(id)
        .select(PledgeRow::as_select())
        .first(conn)
}

pub fn set_status(
    conn: &mut DbConnection,
    id: &str,
    status: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(pledges::table.find(id))
        .set((pledges::status.eq(status), pledges::updated_at.eq(now)))
        .execute(conn)?;
    let details = serde_json::json!({ "status": status });
    raise(conn, &format!("pledge.{status}"), id, details, now)
}

/// The status a pledge that got a place starts in.
pub fn placed_status(opportunity: &OpportunityRow) -> &'static str {
    if opportunity.auto_confirm {
        CONFIRMED
    } else {
        PLEDGED
    }
}

/// Places a new (or newly active) pledge: a place if one is free, else the waitlist.
/// Pledges that take no place are simply `pledged`.
pub fn place(
    conn: &mut DbConnection,
    pledge: &PledgeRow,
    opportunity: Option<&OpportunityRow>,
) -> QueryResult<&'static str> {
    match opportunity {
        Some(opportunity) if pledge.takes_place() => {
            if opportunity_models::take_place(conn, &opportunity.id)? {
                Ok(placed_status(opportunity))
            } else {
                opportunity_models::bump_waitlist(conn, &opportunity.id, 1)?;
                Ok(WAITLISTED)
            }
        }
        _ => Ok(PLEDGED),
    }
}

/// Takes a place for a new pledge stored as having one ([`placed_status`]), or puts it on
/// the waitlist when none is free. The place is taken through the opportunity's row, which
/// stays locked until the write commits, so a new pledge does this last.
pub fn take_place_or_wait(
    conn: &mut DbConnection,
    pledge: &mut PledgeRow,
    opportunity: &OpportunityRow,
) -> QueryResult<()> {
    let status = place(conn, pledge, Some(opportunity))?;
    if status != pledge.status {
        diesel::update(pledges::table.find(&pledge.id))
            .set(pledges::status.eq(status))
            .execute(conn)?;
        pledge.status = status.to_owned();
    }
    Ok(())
}

/// Gives a freed place to the oldest waitlisted pledges while places are free.
pub fn promote_waitlist(
    conn: &mut DbConnection,
    opportunity_id: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    let opportunity = opportunity_models::find_opportunity(conn, opportunity_id)?;
    let waiting: Vec<String> = pledges::table
        .filter(pledges::opportunity_id.eq(opportunity_id))
        .filter(pledges::status.eq(WAITLISTED))
        .order((pledges::created_at.asc(), pledges::id.asc()))
        .select(pledges::id)
        .load(conn)?;
    let mut promoted = 0;
    for id in waiting {
        if !opportunity_models::take_place(conn, opportunity_id)? {
            break;
        }
        opportunity_models::bump_waitlist(conn, opportunity_id, -1)?;
        set_status(conn, &id, placed_status(&opportunity), now)?;
        promoted += 1;
    }
    Ok(promoted)
}

/// Ends a pledge (withdrawn, no-show, lapsed): frees its place or its waitlist slot, and
/// promotes the waitlist.
pub fn release(
    conn: &mut DbConnection,
    pledge: &PledgeRow,
    to: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    set_status(conn, &pledge.id, to, now)?;
    if let Some(opportunity_id) = &pledge.opportunity_id {
        match pledge.status.as_str() {
            PLEDGED | CONFIRMED if pledge.takes_place() => {
                opportunity_models::free_place(conn, opportunity_id)?;
                promote_waitlist(conn, opportunity_id, now)?;
            }
            WAITLISTED => opportunity_models::bump_waitlist(conn, opportunity_id, -1)?,
            _ => {}
        }
    }
    Ok(())
}

fn target_filter(
    target: &Target,
) -> pledges::BoxedQuery<'static, <DbConnection as diesel::Connection>::Backend> {
    match target {
        Target::Opportunity(id) => pledges::table
            .filter(pledges::opportunity_id.eq(id.clone()))
            .into_boxed(),
        Target::Issue(id) => pledges::table
            .filter(pledges::issue_id.eq(id.clone()))
            .into_boxed(),
    }
}

/// How many people have a live pledge for the target.
pub fn live_pledgers(conn: &mut DbConnection, target: &Target) -> QueryResult<i64> {
    target_filter(target)
        .filter(pledges::status.eq_any(LIVE))
        .select(diesel::dsl::count(pledges::id))
        .first(conn)
}

/// Settles conditional pledges on a target: those whose threshold is met become active
/// (taking a place or joining the waitlist); those past their deadline lapse. Run before
/// every read or write of the target's pledges, so conditions settle without a timer.
pub fn settle_conditions(
    conn: &mut DbConnection,
    target: &Target,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let conditional: Vec<PledgeRow> = target_filter(target)
        .filter(pledges::status.eq(CONDITIONAL))
        .select(PledgeRow::as_select())
        .order((pledges::created_at.asc(), pledges::id.asc()))
        .load(conn)?;
    if conditional.is_empty() {
        return Ok(());
    }
    let opportunity = match target {
        Target::Opportunity(id) => Some(opportunity_models::find_opportunity(conn, id)?),
        Target::Issue(_) => None,
    };
    let pledgers = live_pledgers(conn, target)?;
    for pledge in conditional {
        let needed = i64::from(pledge.min_pledgers.unwrap_or(0));
        if pledgers >= needed {
            let status = place(conn, &pledge, opportunity.as_ref())?;
            set_status(conn, &pledge.id, status, now)?;
        } else if pledge
            .condition_deadline
            .is_some_and(|deadline| deadline <= now)
        {
            set_status(conn, &pledge.id, LAPSED, now)?;
        }
    }
    Ok(())
}

/// After a pledge to an issue (or to an opportunity for it): a `reported` issue moves to
/// `community`, and the timeline gets the new totals, never who pledged what.
pub fn note_pledge_on_issue(
    conn: &mut DbConnection,
    issue_id: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let issue = issue_models::find_issue(conn, issue_id)?;
    if issue.status == IssueStatus::Reported.as_str()
        && issue_models::set_status(
            conn,
            issue_id,
            IssueStatus::Reported,
            IssueStatus::Community,
            now,
        )?
    {
        timeline::record(
            conn,
            issue_id,
            NewEvent {
                kind: EventKind::StatusChanged,
                actor: Actor::System,
                from_status: Some(IssueStatus::Reported.as_str()),
                to_status: Some(IssueStatus::Community.as_str()),
                body: Some("Residents pledged help: the community is on it."),
                data: None,
            },
            now,
        )?;
    }
    let opportunity_ids: Vec<String> = opportunities::table
        .filter(opportunities::issue_id.eq(issue_id))
        .select(opportunities::id)
        .load(conn)?;
    let live: Vec<(Option<String>, String, Option<f64>)> = pledges::table
        .filter(
            pledges::issue_id
                .eq(issue_id)
                .or(pledges::opportunity_id.eq_any(opportunity_ids)),
        )
        .filter(pledges::status.eq_any([PLEDGED, WAITLISTED, CONFIRMED, FULFILLED]))
        .select((pledges::account_id, pledges::kind, pledges::hours))
        .load(conn)?;
    let mut people: Vec<&str> = live.iter().filter_map(|(a, _, _)| a.as_deref()).collect();
    people.sort_unstable();
    people.dedup();
    let hours: f64 = live
        .iter()
        .filter(|(_, kind, _)| kind == "time" || kind == "skill")
        .filter_map(|(_, _, h)| *h)
        .sum();
    let text = format!(
        "{} {} pledged help, {} hours in all.",
        people.len(),
        if people.len() == 1 {
            "person has"
        } else {
            "people have"
        },
        (hours * 10.0).round() / 10.0
    );
    timeline::record(
        conn,
        issue_id,
        NewEvent {
            kind: EventKind::Pledged,
            actor: Actor::System,
            from_status: None,
            to_status: None,
            body: Some(&text),
            data: Some(serde_json::json!({ "pledgers": people.len(), "hours": hours })),
        },
        now,
    )?;
    Ok(())
}

/// A citizen's pledges, newest first, after `before`.
pub fn pledges_of(
    conn: &mut DbConnection,
    account_id: &str,
    before: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<PledgeRow>> {
    let mut query = pledges::table
        .filter(pledges::account_id.eq(account_id))
        .select(PledgeRow::as_select())
        .order(pledges::id.desc())
        .limit(limit)
        .into_boxed();
    if let Some(before) = before {
        query = query.filter(pledges::id.lt(before));
    }
    query.load(conn)
}

/// The pledges to an opportunity, oldest first, after `after`.
pub fn pledges_to(
    conn: &mut DbConnection,
    opportunity_id: &str,
    after: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<PledgeRow>> {
    let mut query = pledges::table
        .filter(pledges::opportunity_id.eq(opportunity_id))
        .select(PledgeRow::as_select())
        .order(pledges::id.asc())
        .limit(limit)
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(pledges::id.gt(after));
    }
    query.load(conn)
}

/// Every live pledge to an opportunity (to withdraw them when it is cancelled).
pub fn live_pledges_to(
    conn: &mut DbConnection,
    opportunity_id: &str,
) -> QueryResult<Vec<PledgeRow>> {
    pledges::table
        .filter(pledges::opportunity_id.eq(opportunity_id))
        .filter(pledges::status.eq_any(OPEN))
        .select(PledgeRow::as_select())
        .load(conn)
}
