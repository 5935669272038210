//! Erasure: `DELETE /me` takes everything that identifies a person out of Civitas, in one
//! transaction, while what they contributed in public stays, by "deleted user".
//!
//! The `accounts` row stays (issues, comments and photos keep an author) with its email,
//! name and password replaced. What only concerned the person goes: sessions, mail
//! tokens, the sign-in throttle for their address, push devices, their notifications,
//! consents, stored idempotent answers, follows and group memberships, and their rows of
//! the sync log. Pledges lose their link to the person and their private details, but
//! keep kind, hours and statuses for the statistics; open pledges for opportunities that
//! have not started are withdrawn first (their places go to the waitlist). A group they
//! were the last owner of passes to its longest-standing organiser, or is archived.
//!
//! Copies of the name or address made before are rewritten: in outbox events and webhook
//! deliveries (JSON snapshots), in other people's notifications about what the person
//! did, and in issues' Open311 contact details; stored idempotent answers that carry
//! them are dropped.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{Binary, Nullable, Text};

use crate::db::DbConnection;
use crate::db::schema::{
    accounts, email_tokens, group_members, groups, idempotency_keys, issue_events, issue_follows,
    issue_photos, issues, login_throttle, notifications, outbox_events, pledges, push_devices,
    sessions, spent_refresh_tokens, sync_changes, webhook_deliveries,
};
use crate::domain::{MemberRole, MemberStatus};
use crate::groups::models::{self as group_models, MemberRow};
use crate::issues::models::{self as issue_models, Bond, like_pattern};
use crate::notifications::preferences::Preferences;
use crate::opportunities::models as opportunity_models;
use crate::pledges::models::{self as pledge_models, PledgeRow};
use crate::sync::{self, Entity};

/// The name an erased account shows.
pub const DELETED_NAME: &str = "deleted user";
/// A password hash no password verifies against (it is not a hash at all).
const UNUSABLE_PASSWORD_HASH: &str = "!deleted";
/// How many ids go in one `IN (…)` list.
const CHUNK: usize = 500;

diesel::define_sql_function! {
    /// SQL `replace`, the same on both backends.
    fn replace(x: Text, from: Text, to: Text) -> Text;
}

diesel::define_sql_function! {
    /// SQL `replace` over a nullable column.
    #[sql_name = "replace"]
    fn replace_nullable(x: Nullable<Text>, from: Text, to: Text) -> Nullable<Text>;
}

/// The address an erased account keeps: unique, and never deliverable (`.invalid`).
pub fn deleted_email(account_id: &str) -> String {
    format!("deleted-{account_id}@deleted.invalid")
}

/// Who is being erased, as the account holds them now.
#[derive(Debug, Clone)]
struct Identity {
    id: String,
    email: String,
    display_name: String,
}

/// `value` as it appears inside a JSON string (without the quotes).
fn json_inner(value: &str) -> String {
    let quoted = serde_json::Value::from(value).to_string();
    quoted[1..quoted.len() - 1].to_owned()
}

/// Erases the account (see the module documentation), as it stands when the account
/// row is locked; `false` if it was erased already. Call it inside a write transaction.
pub fn erase_account(
    conn: &mut DbConnection,
    account_id: &str,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    // A no-op write takes the row lock on PostgreSQL (SQLite's write transactions are
    // serial already): a rename or a second erasure waits for this one.
    diesel::update(accounts::table.find(account_id))
        .set(accounts::updated_at.eq(accounts::updated_at))
        .execute(conn)?;
    let (email, display_name, deleted_at): (String, String, Option<NaiveDateTime>) =
        accounts::table
            .find(account_id)
            .select((
                accounts::email,
                accounts::display_name,
                accounts::deleted_at,
            ))
            .first(conn)?;
    if deleted_at.is_some() {
        return Ok(false);
    }
    let who = Identity {
        id: account_id.to_owned(),
        email,
        display_name,
    };
    erase(conn, &who, now)?;
    Ok(true)
}

/// Erases `who`. Call it inside a write transaction.
fn erase(conn: &mut DbConnection, who: &Identity, now: NaiveDateTime) -> QueryResult<()> {
    let id = who.id.as_str();
    withdraw_open_pledges(conn, id, now)?;
    detach_pledges(conn, id, now)?;
    leave_groups(conn, id, now)?;
    unfollow_all(conn, id)?;
    refresh_public_traces(conn, id)?;
    rewrite_copies(conn, who)?;
    forget_private_rows(conn, who)?;
    diesel::update(accounts::table.find(id))
        .set((
            accounts::email.eq(deleted_email(id)),
            accounts::display_name.eq(DELETED_NAME),
            accounts::password_hash.eq(UNUSABLE_PASSWORD_HASH),
            accounts::role.eq("citizen"),
            accounts::email_verified_at.eq(None::<NaiveDateTime>),
            // Everything off: an erased account is told nothing.
            accounts::notification_preferences.eq(silent_preferences()),
            accounts::suspended_until.eq(None::<NaiveDateTime>),
            accounts::banned_at.eq(None::<NaiveDateTime>),
            accounts::deleted_at.eq(now),
            accounts::updated_at.eq(now),
        ))
        .execute(conn)?;
    // Last: the steps above log changes for the account's own feed too.
    diesel::delete(sync_changes::table.filter(sync_changes::account_id.eq(id))).execute(conn)?;
    Ok(())
}

fn silent_preferences() -> String {
    Preferences {
        status_changes: false,
        comments: false,
        adoptions: false,
        pledges: false,
        opportunities: false,
        groups: false,
    }
    .to_stored()
}

/// Withdraws the open pledges the person could still withdraw themselves (as
/// `DELETE /pledges/{id}` does: those for issues, and for opportunities not started),
/// freeing their places for the waitlist.
fn withdraw_open_pledges(conn: &mut DbConnection, id: &str, now: NaiveDateTime) -> QueryResult<()> {
    let open: Vec<PledgeRow> = pledges::table
        .filter(pledges::account_id.eq(id))
        .filter(pledges::status.eq_any(pledge_models::OPEN))
        .order(pledges::id.asc())
        .select(PledgeRow::as_select())
        .load(conn)?;
    for pledge in open {
        let started = match &pledge.opportunity_id {
            Some(opportunity) => opportunity_models::find_opportunity(conn, opportunity)
                .optional()?
                .is_some_and(|o| o.starts_at <= now),
            None => false,
        };
        if !started {
            pledge_models::release(conn, &pledge, pledge_models::WITHDRAWN, now)?;
        }
    }
    Ok(())
}

/// Unlinks the person's pledges and drops their private details; kind, hours, quantity
/// and statuses stay, anonymous, for the statistics.
fn detach_pledges(conn: &mut DbConnection, id: &str, now: NaiveDateTime) -> QueryResult<()> {
    let ids: Vec<String> = pledges::table
        .filter(pledges::account_id.eq(id))
        .select(pledges::id)
        .load(conn)?;
    diesel::update(pledges::table.filter(pledges::account_id.eq(id)))
        .set((
            pledges::account_id.eq(None::<String>),
            pledges::note.eq(None::<String>),
            pledges::skill.eq(None::<String>),
            pledges::materials.eq(None::<String>),
            pledges::amount_minor.eq(None::<i64>),
            pledges::currency.eq(None::<String>),
            pledges::rejection_reason.eq(None::<String>),
            pledges::updated_at.eq(now),
        ))
        .execute(conn)?;
    for pledge in ids {
        sync::record(conn, Entity::Pledge, &pledge)?;
    }
    Ok(())
}

/// Leaves every group (as `DELETE /groups/{id}/membership` does, keeping `member_count`
/// exact). Where the person was the last active owner, the longest-standing active
/// organiser becomes owner; with none, the group is archived.
fn leave_groups(conn: &mut DbConnection, id: &str, now: NaiveDateTime) -> QueryResult<()> {
    let rows: Vec<MemberRow> = group_members::table
        .filter(group_members::account_id.eq(id))
        .order(group_members::group_id.asc())
        .select(MemberRow::as_select())
        .load(conn)?;
    for row in rows {
        // Archived groups cannot be locked; their rows simply go.
        let live = match group_models::lock_group(conn, &row.group_id) {
            Ok(_) => true,
            Err(diesel::result::Error::NotFound) => false,
            Err(error) => return Err(error),
        };
        let last_owner = live
            && row.status() == MemberStatus::Active
            && row.role() == MemberRole::Owner
            && group_models::active_owner_count(conn, &row.group_id)? <= 1;
        if last_owner {
            match successor(conn, &row.group_id, id)? {
                Some(next) => group_models::set_member(
                    conn,
                    &next,
                    MemberRole::Owner,
                    MemberStatus::Active,
                    now,
                )?,
                None => archive_group(conn, &row.group_id, now)?,
            }
        }
        group_models::delete_member(conn, &row.group_id, id)?;
        group_models::recount_members(conn, &row.group_id)?;
    }
    Ok(())
}

/// The group's longest-standing active organiser other than `leaving`.
fn successor(
    conn: &mut DbConnection,
    group_id: &str,
    leaving: &str,
) -> QueryResult<Option<MemberRow>> {
    group_members::table
        .filter(group_members::group_id.eq(group_id))
        .filter(group_members::account_id.ne(leaving))
        .filter(group_members::status.eq(MemberStatus::Active.as_str()))
        .filter(group_members::role.eq(MemberRole::Organiser.as_str()))
        .order((
            group_members::created_at.asc(),
            group_members::account_id.asc(),
        ))
        .select(MemberRow::as_select())
        .first(conn)
        .optional()
}

fn archive_group(conn: &mut DbConnection, group_id: &str, now: NaiveDateTime) -> QueryResult<()> {
    diesel::update(groups::table.find(group_id))
        .set((groups::archived_at.eq(now), groups::updated_at.eq(now)))
        .execute(conn)?;
    sync::record(conn, Entity::Group, group_id)
}

/// Unfollows every issue (as `DELETE /issues/{id}/follow` does, keeping
/// `follower_count` exact). Supports stay: they are anonymous counts.
fn unfollow_all(conn: &mut DbConnection, id: &str) -> QueryResult<()> {
    let followed: Vec<String> = issue_follows::table
        .filter(issue_follows::account_id.eq(id))
        .select(issue_follows::issue_id)
        .load(conn)?;
    for issue in followed {
        issue_models::remove_bond(conn, Bond::Follow, &issue, id)?;
    }
    Ok(())
}

/// Tells everyone's apps to refresh what shows the person's name (their reports and the
/// issues they commented on), and unlinks the photos they uploaded.
fn refresh_public_traces(conn: &mut DbConnection, id: &str) -> QueryResult<()> {
    let mut touched: Vec<String> = issues::table
        .filter(issues::reporter_id.eq(id))
        .select(issues::id)
        .load(conn)?;
    touched.extend(
        issue_events::table
            .filter(issue_events::actor_id.eq(id))
            .select(issue_events::issue_id)
            .distinct()
            .load::<String>(conn)?,
    );
    touched.sort();
    touched.dedup();
    for issue in touched {
        sync::record(conn, Entity::Issue, &issue)?;
    }
    diesel::update(issue_photos::table.filter(issue_photos::uploader_id.eq(id)))
        .set(issue_photos::uploader_id.eq(None::<String>))
        .execute(conn)?;
    Ok(())
}

/// Rewrites the copies of the name and address other rows took.
fn rewrite_copies(conn: &mut DbConnection, who: &Identity) -> QueryResult<()> {
    let name_field = format!(
        "\"display_name\":{}",
        serde_json::Value::from(who.display_name.as_str())
    );
    let deleted_field = format!("\"display_name\":\"{DELETED_NAME}\"");
    let email = json_inner(&who.email);
    let replacement_email = deleted_email(&who.id);
    for (from, to) in [
        (name_field.as_str(), deleted_field.as_str()),
        (email.as_str(), replacement_email.as_str()),
    ] {
        let pattern = like_pattern(from);
        diesel::update(
            outbox_events::table.filter(outbox_events::data.like(&pattern).escape('\\')),
        )
        .set(outbox_events::data.eq(replace(outbox_events::data, from, to)))
        .execute(conn)?;
        diesel::update(
            webhook_deliveries::table
                .filter(webhook_deliveries::payload.like(&pattern).escape('\\')),
        )
        .set(webhook_deliveries::payload.eq(replace(webhook_deliveries::payload, from, to)))
        .execute(conn)?;
    }

    // Open311 contact details a partner sent for this person (by their Civitas account id
    // or their address): staff lose them with the account.
    let by_account = like_pattern(&format!("\"account_id\":\"{}\"", json_inner(&who.id)));
    let by_email = like_pattern(&format!("\"{email}\""));
    diesel::update(
        issues::table.filter(
            issues::reporter_contact
                .like(&by_account)
                .escape('\\')
                .or(crate::db::lower(issues::reporter_contact.assume_not_null())
                    .like(by_email.to_lowercase())
                    .escape('\\')),
        ),
    )
    .set(issues::reporter_contact.eq(None::<String>))
    .execute(conn)?;

    // Other people's notifications about what the person did ("Ada commented on …").
    let caused: Vec<String> = outbox_events::table
        .filter(
            outbox_events::data
                .like(like_pattern(&format!(
                    "\"actor_id\":\"{}\"",
                    json_inner(&who.id)
                )))
                .escape('\\'),
        )
        .select(outbox_events::id)
        .load(conn)?;
    let name = who.display_name.as_str();
    let name_pattern = like_pattern(name);
    for chunk in caused.chunks(CHUNK) {
        diesel::update(
            notifications::table
                .filter(notifications::event_id.eq_any(chunk))
                .filter(notifications::title.like(&name_pattern).escape('\\')),
        )
        .set(notifications::title.eq(replace(notifications::title, name, DELETED_NAME)))
        .execute(conn)?;
        diesel::update(
            notifications::table
                .filter(notifications::event_id.eq_any(chunk))
                .filter(notifications::body.like(&name_pattern).escape('\\')),
        )
        .set(notifications::body.eq(replace_nullable(notifications::body, name, DELETED_NAME)))
        .execute(conn)?;
    }

    // Answers kept for retries (of anyone) that name the person or carry their address:
    // dropped, so a retry acts again rather than replaying them.
    for needle in [name_field.as_str(), who.email.as_str()] {
        let needle = needle.as_bytes().to_vec();
        match conn {
            DbConnection::Sqlite(c) => {
                diesel::sql_query("DELETE FROM idempotency_keys WHERE instr(body, ?) > 0")
                    .bind::<Binary, _>(needle)
                    .execute(c)?
            }
            DbConnection::Postgresql(c) => {
                diesel::sql_query("DELETE FROM idempotency_keys WHERE position($1 in body) > 0")
                    .bind::<Binary, _>(needle)
                    .execute(c)?
            }
        };
    }
    Ok(())
}

/// Deletes the rows that only concern the person.
fn forget_private_rows(conn: &mut DbConnection, who: &Identity) -> QueryResult<()> {
    let id = who.id.as_str();
    diesel::delete(notifications::table.filter(notifications::account_id.eq(id))).execute(conn)?;
    diesel::delete(push_devices::table.filter(push_devices::account_id.eq(id))).execute(conn)?;
    super::consents::erase(conn, id)?;
    diesel::delete(email_tokens::table.filter(email_tokens::account_id.eq(id))).execute(conn)?;
    let session_ids: Vec<String> = sessions::table
        .filter(sessions::account_id.eq(id))
        .select(sessions::id)
        .load(conn)?;
    for chunk in session_ids.chunks(CHUNK) {
        diesel::delete(
            spent_refresh_tokens::table.filter(spent_refresh_tokens::session_id.eq_any(chunk)),
        )
        .execute(conn)?;
    }
    diesel::delete(sessions::table.filter(sessions::account_id.eq(id))).execute(conn)?;
    diesel::delete(login_throttle::table.find(&who.email)).execute(conn)?;
    diesel::delete(
        idempotency_keys::table.filter(idempotency_keys::scope.eq(format!("account:{id}"))),
    )
    .execute(conn)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_inner_escapes_as_a_json_string_does() {
        assert_eq!(json_inner("Ada"), "Ada");
        assert_eq!(json_inner("Ada \"A\" \\ B"), "Ada \\\"A\\\" \\\\ B");
        assert_eq!(json_inner("Zoë"), "Zoë");
    }

    #[test]
    fn erased_addresses_are_unique_and_undeliverable() {
        assert_eq!(deleted_email("abc"), "deleted-abc@deleted.invalid");
        assert_ne!(deleted_email("a"), deleted_email("b"));
    }
}
