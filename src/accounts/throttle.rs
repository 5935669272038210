//! The login throttle: repeated bad passwords for one email get an increasing delay
//! (429 with `Retry-After`), capped so the real owner is never locked out for long.
//!
//! Keyed by the normalised email whether or not an account has it, so the throttle
//! itself reveals nothing about which accounts exist. Stored in the database, so every
//! node sees the same counts.

use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::login_throttle;

/// Failures allowed before any delay.
pub const FREE_FAILURES: i32 = 5;
/// The longest delay, however many failures.
pub const MAX_DELAY: TimeDelta = TimeDelta::minutes(15);
/// Failures older than this are forgotten.
const WINDOW: TimeDelta = TimeDelta::hours(1);

/// The delay after `failures` consecutive failures: none up to `FREE_FAILURES`, then
/// 1 s, 2 s, 4 s… up to `MAX_DELAY`.
pub fn delay_after(failures: i32) -> Option<TimeDelta> {
    let over = failures - FREE_FAILURES;
    if over < 0 {
        return None;
    }
    let seconds = 1_i64.checked_shl(over.min(20) as u32).unwrap_or(i64::MAX);
    Some(TimeDelta::seconds(seconds).min(MAX_DELAY))
}

/// Seconds to wait before this email may try again, if it must wait.
pub fn blocked_for(
    conn: &mut DbConnection,
    email: &str,
    now: NaiveDateTime,
) -> QueryResult<Option<u64>> {
    let until: Option<Option<NaiveDateTime>> = login_throttle::table
        .find(email)
        .select(login_throttle::blocked_until)
        .first(conn)
        .optional()?;
    Ok(until
        .flatten()
        .filter(|until| *until > now)
        // Round up: a client that waits exactly `Retry-After` must not be refused again.
        .map(|until| {
            ((until - now).num_milliseconds() + 999)
                .div_euclid(1000)
                .max(1) as u64
        }))
}

/// Counts a failed attempt.
pub fn record_failure(conn: &mut DbConnection, email: &str, now: NaiveDateTime) -> QueryResult<()> {
    let previous: Option<(i32, NaiveDateTime)> = login_throttle::table
        .find(email)
        .select((login_throttle::failures, login_throttle::last_failure_at))
        .first(conn)
        .optional()?;
    let failures = match previous {
        Some((failures, last)) if now - last < WINDOW => failures.saturating_add(1),
        _ => 1,
    };
    let blocked_until = delay_after(failures).map(|delay| now + delay);
    if previous.is_some() {
        diesel::update(login_throttle::table.find(email))
            .set((
                login_throttle::failures.eq(failures),
                login_throttle::last_failure_at.eq(now),
                login_throttle::blocked_until.eq(blocked_until),
            ))
            .execute(conn)?;
    } else {
        let inserted = diesel::insert_into(login_throttle::table)
            .values((
                login_throttle::email.eq(email),
                login_throttle::failures.eq(failures),
                login_throttle::last_failure_at.eq(now),
                login_throttle::blocked_until.eq(blocked_until),
            ))
            .execute(conn);
        match inserted {
            // Another node counted a failure for this email at the same instant; one
            // uncounted failure is harmless.
            Err(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            )) => {}
            other => {
                other?;
            }
        }
    }
    Ok(())
}

/// Forgets the failures of an email after a successful login.
pub fn clear(conn: &mut DbConnection, email: &str) -> QueryResult<()> {
    diesel::delete(login_throttle::table.find(email))
        .execute(conn)
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delay_starts_after_the_free_failures_and_doubles_up_to_the_cap() {
        assert_eq!(delay_after(4), None);
        assert_eq!(delay_after(5), Some(TimeDelta::seconds(1)));
        assert_eq!(delay_after(6), Some(TimeDelta::seconds(2)));
        assert_eq!(delay_after(9), Some(TimeDelta::seconds(16)));
        assert_eq!(delay_after(40), Some(MAX_DELAY));
        assert_eq!(delay_after(i32::MAX), Some(MAX_DELAY));
    }
}
