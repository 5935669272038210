//! The export: every row Civitas holds about one account, laid out as [`ExportDocument`].
//! Each table that refers to an account has its section here; secrets (the password
//! hash, token hashes, push tokens) never enter it.
//!
//! Not exported: `sync_changes` (ids telling the account's apps what to refresh),
//! `idempotency_keys` (answers already given, kept 24 hours for retries) and the staff
//! `audit_log` (kept for accountability, read by admins).

use diesel::prelude::*;

use super::consents::{self, Purpose};
use super::views::{
    ConsentChange, ConsentList, ConsentState, ExportActivity, ExportBond, ExportComment,
    ExportDocument, ExportFlag, ExportMailToken, ExportMembership, ExportOpportunity, ExportPhoto,
    ExportPledge, ExportProfile, ExportReport, ExportSession, ExportSignInFailures,
};
use crate::accounts::models::Session;
use crate::accounts::views::SessionView;
use crate::db::schema::{
    accounts, email_tokens, flags, group_members, groups, issue_events, issue_follows,
    issue_photos, issue_supports, issues, login_throttle, notifications, opportunities, pledges,
    sessions,
};
use crate::db::{DbConnection, utc};
use crate::domain::Role;
use crate::issues::models::IssueRow;
use crate::issues::timeline::{EventKind, EventRow};
use crate::notifications::models::{self as notification_models, NotificationRow};
use crate::notifications::preferences::Preferences;
use crate::notifications::views::{DeviceView, NotificationView};
use crate::photos::PhotoRow;
use crate::pledges::models::PledgeRow;

/// The layout version of the document.
pub const FORMAT_VERSION: u32 = 1;

/// The caller's consents: every purpose's state, and the answers (all of them, or the
/// newest `limit`).
pub fn consent_list(
    conn: &mut DbConnection,
    account_id: &str,
    limit: Option<i64>,
) -> QueryResult<ConsentList> {
    let mut states = Vec::new();
    for purpose in Purpose::ALL {
        let latest = consents::latest(conn, account_id, purpose)?;
        states.push(ConsentState::new(purpose, latest.as_ref()));
    }
    let history = consents::history(conn, account_id, limit)?
        .into_iter()
        .filter_map(ConsentChange::from_row)
        .collect();
    Ok(ConsentList {
        consents: states,
        history,
    })
}

type ProfileRow = (
    String,
    String,
    String,
    String,
    Option<chrono::NaiveDateTime>,
    String,
    chrono::NaiveDateTime,
    chrono::NaiveDateTime,
    Option<chrono::NaiveDateTime>,
    Option<chrono::NaiveDateTime>,
);

fn profile(conn: &mut DbConnection, id: &str) -> QueryResult<ExportProfile> {
    let (
        id,
        email,
        display_name,
        role,
        verified_at,
        preferences,
        created_at,
        updated_at,
        suspended_until,
        banned_at,
    ): ProfileRow = accounts::table
        .find(id)
        .select((
            accounts::id,
            accounts::email,
            accounts::display_name,
            accounts::role,
            accounts::email_verified_at,
            accounts::notification_preferences,
            accounts::created_at,
            accounts::updated_at,
            accounts::suspended_until,
            accounts::banned_at,
        ))
        .first(conn)?;
    Ok(ExportProfile {
        id,
        email,
        display_name,
        role: Role::parse(&role).unwrap_or(Role::Citizen),
        email_verified: verified_at.is_some(),
        email_verified_at: verified_at.map(utc),
        notification_preferences: Preferences::from_stored(&preferences),
        created_at: utc(created_at),
        updated_at: utc(updated_at),
        suspended_until: suspended_until.map(utc),
        banned_at: banned_at.map(utc),
    })
}

fn sessions_of(
    conn: &mut DbConnection,
    id: &str,
    current_session: &str,
) -> QueryResult<Vec<ExportSession>> {
    let rows: Vec<(Session, Option<chrono::NaiveDateTime>, Option<String>)> = sessions::table
        .filter(sessions::account_id.eq(id))
        .order(sessions::id.asc())
        .select((
            Session::as_select(),
            sessions::revoked_at,
            sessions::revoked_reason,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(session, revoked_at, revoked_reason)| ExportSession {
            session: SessionView::new(session, current_session),
            revoked_at: revoked_at.map(utc),
            revoked_reason,
        })
        .collect())
}

fn reports(conn: &mut DbConnection, id: &str) -> QueryResult<Vec<ExportReport>> {
    let rows: Vec<IssueRow> = issues::table
        .filter(issues::reporter_id.eq(id))
        .order(issues::id.asc())
        .select(IssueRow::as_select())
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|row| ExportReport {
            answers: serde_json::from_str(&row.answers).unwrap_or_else(|_| serde_json::json!({})),
            hidden: row.is_hidden(),
            id: row.id,
            category: row.category_code,
            title: row.title,
            description: row.description,
            lat: row.lat,
            lon: row.lon,
            address: row.address,
            status: row.status,
            anonymous: row.anonymous,
            support_count: row.support_count,
            follower_count: row.follower_count,
            photo_count: row.photo_count,
            duplicate_of: row.duplicate_of,
            adopted_by_group_id: row.adopted_by_group_id,
            created_at: utc(row.created_at),
            updated_at: utc(row.updated_at),
            closed_at: row.closed_at.map(utc),
        })
        .collect())
}

fn timeline(
    conn: &mut DbConnection,
    id: &str,
) -> QueryResult<(Vec<ExportComment>, Vec<ExportActivity>)> {
    let rows: Vec<EventRow> = issue_events::table
        .filter(issue_events::actor_id.eq(id))
        .order(issue_events::id.asc())
        .select(EventRow::as_select())
        .load(conn)?;
    let (mut comments, mut activity) = (Vec::new(), Vec::new());
    for row in rows {
        if row.kind == EventKind::Comment.as_str() {
            comments.push(ExportComment {
                id: row.id,
                issue_id: row.issue_id,
                text: row.body,
                created_at: utc(row.created_at),
                deleted_at: row.deleted_at.map(utc),
                removed_by_moderators: row.hidden_at.is_some(),
            });
        } else {
            activity.push(ExportActivity {
                id: row.id,
                issue_id: row.issue_id,
                kind: row.kind,
                role: row.actor_role,
                from_status: row.from_status,
                to_status: row.to_status,
                text: row.body,
                created_at: utc(row.created_at),
            });
        }
    }
    Ok((comments, activity))
}

fn bonds(conn: &mut DbConnection, id: &str) -> QueryResult<(Vec<ExportBond>, Vec<ExportBond>)> {
    let bond = |(issue_id, created_at): (String, chrono::NaiveDateTime)| ExportBond {
        issue_id,
        created_at: utc(created_at),
    };
    let supports: Vec<(String, chrono::NaiveDateTime)> = issue_supports::table
        .filter(issue_supports::account_id.eq(id))
        .order(issue_supports::created_at.asc())
        .select((issue_supports::issue_id, issue_supports::created_at))
        .load(conn)?;
    let follows: Vec<(String, chrono::NaiveDateTime)> = issue_follows::table
        .filter(issue_follows::account_id.eq(id))
        .order(issue_follows::created_at.asc())
        .select((issue_follows::issue_id, issue_follows::created_at))
        .load(conn)?;
    Ok((
        supports.into_iter().map(bond).collect(),
        follows.into_iter().map(bond).collect(),
    ))
}

type MembershipRow = (
    String,
    String,
    Option<String>,
    String,
    String,
    chrono::NaiveDateTime,
    chrono::NaiveDateTime,
);

fn memberships(conn: &mut DbConnection, id: &str) -> QueryResult<Vec<ExportMembership>> {
    let rows: Vec<MembershipRow> = group_members::table
        .inner_join(groups::table)
        .filter(group_members::account_id.eq(id))
        .order(groups::name.asc())
        .select((
            groups::id,
            groups::name,
            groups::created_by,
            group_members::role,
            group_members::status,
            group_members::created_at,
            group_members::updated_at,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(group_id, group_name, created_by, role, status, since, updated_at)| {
                ExportMembership {
                    group_id,
                    group_name,
                    role,
                    status,
                    created_it: created_by.as_deref() == Some(id),
                    since: utc(since),
                    updated_at: utc(updated_at),
                }
            },
        )
        .collect())
}

fn pledges_of(conn: &mut DbConnection, id: &str) -> QueryResult<Vec<ExportPledge>> {
    let rows: Vec<PledgeRow> = pledges::table
        .filter(pledges::account_id.eq(id))
        .order(pledges::id.asc())
        .select(PledgeRow::as_select())
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|row| ExportPledge {
            id: row.id,
            kind: row.kind,
            opportunity_id: row.opportunity_id,
            issue_id: row.issue_id,
            status: row.status,
            hours: row.hours,
            skill: row.skill,
            materials: row.materials,
            quantity: row.quantity,
            amount_minor: row.amount_minor,
            currency: row.currency,
            note: row.note,
            min_pledgers: row.min_pledgers,
            condition_deadline: row.condition_deadline.map(utc),
            claimed_hours: row.claimed_hours,
            claimed_at: row.claimed_at.map(utc),
            verified_hours: row.verified_hours,
            verified_at: row.verified_at.map(utc),
            rejection_reason: row.rejection_reason,
            safety_acknowledged: row.safety_acknowledged,
            created_at: utc(row.created_at),
            updated_at: utc(row.updated_at),
        })
        .collect())
}

type OpportunitySummary = (
    String,
    Option<String>,
    String,
    chrono::NaiveDateTime,
    String,
    chrono::NaiveDateTime,
);

fn opportunities_created(conn: &mut DbConnection, id: &str) -> QueryResult<Vec<ExportOpportunity>> {
    let rows: Vec<OpportunitySummary> = opportunities::table
        .filter(opportunities::created_by.eq(id))
        .order(opportunities::id.asc())
        .select((
            opportunities::id,
            opportunities::group_id,
            opportunities::title,
            opportunities::starts_at,
            opportunities::status,
            opportunities::created_at,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(id, group_id, title, starts_at, status, created_at)| ExportOpportunity {
                id,
                group_id,
                title,
                starts_at: utc(starts_at),
                status,
                created_at: utc(created_at),
            },
        )
        .collect())
}

fn notifications_of(conn: &mut DbConnection, id: &str) -> QueryResult<Vec<NotificationView>> {
    let rows: Vec<NotificationRow> = notifications::table
        .filter(notifications::account_id.eq(id))
        .order(notifications::id.asc())
        .select(NotificationRow::as_select())
        .load(conn)?;
    Ok(rows.into_iter().map(NotificationView::from).collect())
}

type FlagRow = (
    String,
    String,
    String,
    String,
    Option<String>,
    String,
    chrono::NaiveDateTime,
    Option<chrono::NaiveDateTime>,
);

fn flags_of(conn: &mut DbConnection, id: &str) -> QueryResult<Vec<ExportFlag>> {
    let rows: Vec<FlagRow> = flags::table
        .filter(flags::account_id.eq(id))
        .order(flags::id.asc())
        .select((
            flags::id,
            flags::target_type,
            flags::target_id,
            flags::reason,
            flags::details,
            flags::status,
            flags::created_at,
            flags::resolved_at,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(id, target_type, target_id, reason, details, status, created_at, resolved_at)| {
                ExportFlag {
                    id,
                    target_type,
                    target_id,
                    reason,
                    details,
                    status,
                    created_at: utc(created_at),
                    resolved_at: resolved_at.map(utc),
                }
            },
        )
        .collect())
}

fn photos_of(conn: &mut DbConnection, id: &str) -> QueryResult<Vec<ExportPhoto>> {
    let rows: Vec<PhotoRow> = issue_photos::table
        .filter(issue_photos::uploader_id.eq(id))
        .order(issue_photos::id.asc())
        .select(PhotoRow::as_select())
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let url = format!("/api/v1/photos/{}", row.id);
            ExportPhoto {
                thumbnail_url: format!("{url}?size=thumb"),
                url,
                id: row.id,
                issue_id: row.issue_id,
                created_at: utc(row.created_at),
                hidden: row.hidden_at.is_some(),
            }
        })
        .collect())
}

fn mail_tokens(conn: &mut DbConnection, id: &str) -> QueryResult<Vec<ExportMailToken>> {
    type Row = (
        String,
        chrono::NaiveDateTime,
        chrono::NaiveDateTime,
        Option<chrono::NaiveDateTime>,
    );
    let rows: Vec<Row> = email_tokens::table
        .filter(email_tokens::account_id.eq(id))
        .order(email_tokens::created_at.asc())
        .select((
            email_tokens::purpose,
            email_tokens::created_at,
            email_tokens::expires_at,
            email_tokens::used_at,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(purpose, created_at, expires_at, used_at)| ExportMailToken {
                purpose,
                created_at: utc(created_at),
                expires_at: utc(expires_at),
                used_at: used_at.map(utc),
            },
        )
        .collect())
}

fn sign_in_failures(
    conn: &mut DbConnection,
    email: &str,
) -> QueryResult<Option<ExportSignInFailures>> {
    type Row = (i32, chrono::NaiveDateTime, Option<chrono::NaiveDateTime>);
    let row: Option<Row> = login_throttle::table
        .find(email)
        .select((
            login_throttle::failures,
            login_throttle::last_failure_at,
            login_throttle::blocked_until,
        ))
        .first(conn)
        .optional()?;
    Ok(row.map(
        |(failures, last_failure_at, blocked_until)| ExportSignInFailures {
            failures,
            last_failure_at: utc(last_failure_at),
            blocked_until: blocked_until.map(utc),
        },
    ))
}

/// Everything about `account_id`, as of now. `current_session` marks the session asking.
pub fn export(
    conn: &mut DbConnection,
    account_id: &str,
    current_session: &str,
) -> QueryResult<ExportDocument> {
    let profile = profile(conn, account_id)?;
    let (comments, activity) = timeline(conn, account_id)?;
    let (supports, follows) = bonds(conn, account_id)?;
    let devices = notification_models::devices_of(conn, account_id)?
        .into_iter()
        .map(DeviceView::from)
        .collect();
    Ok(ExportDocument {
        exported_at: utc(crate::db::now()),
        format_version: FORMAT_VERSION,
        sessions: sessions_of(conn, account_id, current_session)?,
        reports: reports(conn, account_id)?,
        comments,
        activity,
        supports,
        follows,
        groups: memberships(conn, account_id)?,
        pledges: pledges_of(conn, account_id)?,
        participation: crate::pledges::participation::my_participation(conn, account_id)?,
        opportunities_created: opportunities_created(conn, account_id)?,
        notifications: notifications_of(conn, account_id)?,
        devices,
        consents: consent_list(conn, account_id, None)?,
        flags: flags_of(conn, account_id)?,
        photos: photos_of(conn, account_id)?,
        mail_tokens: mail_tokens(conn, account_id)?,
        sign_in_failures: sign_in_failures(conn, &profile.email)?,
        profile,
    })
}
