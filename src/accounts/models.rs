//! Account, session and mail-token rows, and the queries over them.

use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;

use crate::auth::tokens::{hash_token, random_token};
use crate::db::DbConnection;
use crate::db::schema::{accounts, email_tokens, sessions, spent_refresh_tokens};

/// How long a session lives after its last refresh.
pub const SESSION_TTL: TimeDelta = TimeDelta::days(30);
/// How long an email-verification link stays valid.
pub const VERIFY_EMAIL_TTL: TimeDelta = TimeDelta::hours(48);
/// How long a password-reset link stays valid.
pub const PASSWORD_RESET_TTL: TimeDelta = TimeDelta::hours(1);

/// An account row. Holds the password hash, so it is never serialised: views are built
/// from it.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = accounts)]
pub struct Account {
    pub id: String,
    pub email: String,
    pub display_name: String,
    pub password_hash: String,
    pub role: String,
    pub email_verified_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// Which kinds of notification the citizen wants, as stored (JSON); read it with
    /// `notifications::preferences::Preferences::from_stored`.
    pub notification_preferences: String,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = accounts)]
pub struct NewAccount {
    pub id: String,
    pub email: String,
    pub display_name: String,
    pub password_hash: String,
    pub role: String,
    pub email_verified_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

pub fn insert_account(conn: &mut DbConnection, account: &NewAccount) -> QueryResult<()> {
    diesel::insert_into(accounts::table)
        .values(account)
        .execute(conn)
        .map(|_| ())
}

pub fn find_account(conn: &mut DbConnection, id: &str) -> QueryResult<Account> {
    accounts::table
        .find(id)
        .select(Account::as_select())
        .first(conn)
}

pub fn find_account_by_email(conn: &mut DbConnection, email: &str) -> QueryResult<Option<Account>> {
    accounts::table
        .filter(accounts::email.eq(email))
        .select(Account::as_select())
        .first(conn)
        .optional()
}

pub fn set_display_name(
    conn: &mut DbConnection,
    id: &str,
    name: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(accounts::table.find(id))
        .set((
            accounts::display_name.eq(name),
            accounts::updated_at.eq(now),
        ))
        .execute(conn)?;
    profile_changed(conn, id)
}

pub fn set_password_hash(
    conn: &mut DbConnection,
    id: &str,
    hash: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(accounts::table.find(id))
        .set((
            accounts::password_hash.eq(hash),
            accounts::updated_at.eq(now),
        ))
        .execute(conn)?;
    profile_changed(conn, id)
}

pub fn mark_email_verified(
    conn: &mut DbConnection,
    id: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(
        accounts::table
            .find(id)
            .filter(accounts::email_verified_at.is_null()),
    )
    .set((
        accounts::email_verified_at.eq(now),
        accounts::updated_at.eq(now),
    ))
    .execute(conn)?;
    profile_changed(conn, id)
}

/// Logs a change to the account's own profile (`GET /me`) for its sync feed.
fn profile_changed(conn: &mut DbConnection, id: &str) -> QueryResult<()> {
    crate::sync::record_for(conn, crate::sync::Entity::Account, id, id)
}

/// A session row: one signed-in device.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = sessions)]
pub struct Session {
    pub id: String,
    pub account_id: String,
    pub device_name: Option<String>,
    pub created_at: NaiveDateTime,
    pub last_used_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = sessions)]
struct NewSession<'a> {
    id: &'a str,
    account_id: &'a str,
    device_name: Option<&'a str>,
    refresh_token_hash: &'a str,
    created_at: NaiveDateTime,
    last_used_at: NaiveDateTime,
    expires_at: NaiveDateTime,
}

/// Opens a session; returns its id and its first refresh token (shown once).
pub fn create_session(
    conn: &mut DbConnection,
    account_id: &str,
    device_name: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<(String, String)> {
    let id = uuid::Uuid::now_v7().to_string();
    let refresh_token = random_token();
    diesel::insert_into(sessions::table)
        .values(NewSession {
            id: &id,
            account_id,
            device_name,
            refresh_token_hash: &hash_token(&refresh_token),
            created_at: now,
            last_used_at: now,
            expires_at: now + SESSION_TTL,
        })
        .execute(conn)?;
    Ok((id, refresh_token))
}

/// What presenting a refresh token led to.
pub enum Refresh {
    /// Rotated: the session, its account's role, and the new refresh token.
    Rotated {
        session_id: String,
        account_id: String,
        role: String,
        refresh_token: String,
    },
    /// The token had already been spent: the session is now revoked.
    Reused,
    /// Not a refresh token of any live session.
    Invalid,
}

/// Spends a refresh token and issues its successor. Presenting a spent token again
/// revokes the whole session (someone else may hold a copy).
pub fn rotate_refresh_token(
    conn: &mut DbConnection,
    presented: &str,
    now: NaiveDateTime,
) -> QueryResult<Refresh> {
    let presented_hash = hash_token(presented);
    let live: Option<(String, String, String)> = sessions::table
        .inner_join(accounts::table)
        .filter(sessions::refresh_token_hash.eq(&presented_hash))
        .filter(sessions::revoked_at.is_null())
        .filter(sessions::expires_at.gt(now))
        .select((sessions::id, sessions::account_id, accounts::role))
        .first(conn)
        .optional()?;
    if let Some((session_id, account_id, role)) = live {
        let refresh_token = random_token();
        // Conditional on the presented hash: of two refreshes racing with one token, only
        // one rotates; the other sees a spent token.
        let rotated = diesel::update(
            sessions::table
                .find(&session_id)
                .filter(sessions::refresh_token_hash.eq(&presented_hash)),
        )
        .set((
            sessions::refresh_token_hash.eq(hash_token(&refresh_token)),
            sessions::last_used_at.eq(now),
            sessions::expires_at.eq(now + SESSION_TTL),
        ))
        .execute(conn)?;
        if rotated == 1 {
            diesel::insert_into(spent_refresh_tokens::table)
                .values((
                    spent_refresh_tokens::token_hash.eq(&presented_hash),
                    spent_refresh_tokens::session_id.eq(&session_id),
                    spent_refresh_tokens::spent_at.eq(now),
                ))
                .execute(conn)?;
            return Ok(Refresh::Rotated {
                session_id,
                account_id,
                role,
                refresh_token,
            });
        }
        revoke_session(conn, &session_id, "refresh_token_reuse", now)?;
        return Ok(Refresh::Reused);
    }
    let spent_in: Option<String> = spent_refresh_tokens::table
        .find(&presented_hash)
        .select(spent_refresh_tokens::session_id)
        .first(conn)
        .optional()?;
    match spent_in {
        Some(session_id) => {
            revoke_session(conn, &session_id, "refresh_token_reuse", now)?;
            Ok(Refresh::Reused)
        }
        None => Ok(Refresh::Invalid),
    }
}

/// Ends one session; its access tokens stop working at once.
pub fn revoke_session(
    conn: &mut DbConnection,
    session_id: &str,
    reason: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        sessions::table
            .find(session_id)
            .filter(sessions::revoked_at.is_null()),
    )
    .set((
        sessions::revoked_at.eq(now),
        sessions::revoked_reason.eq(reason),
    ))
    .execute(conn)
}

/// Ends every session of an account, except `keep` if given.
pub fn revoke_sessions_of(
    conn: &mut DbConnection,
    account_id: &str,
    keep: Option<&str>,
    reason: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    let query = sessions::table
        .filter(sessions::account_id.eq(account_id))
        .filter(sessions::revoked_at.is_null())
        .filter(sessions::id.ne(keep.unwrap_or("")));
    diesel::update(query)
        .set((
            sessions::revoked_at.eq(now),
            sessions::revoked_reason.eq(reason),
        ))
        .execute(conn)
}

/// The live sessions of an account, newest first, after the cursor `before`.
pub fn list_sessions(
    conn: &mut DbConnection,
    account_id: &str,
    before: Option<&str>,
    limit: i64,
    now: NaiveDateTime,
) -> QueryResult<Vec<Session>> {
    let mut query = sessions::table
        .filter(sessions::account_id.eq(account_id))
        .filter(sessions::revoked_at.is_null())
        .filter(sessions::expires_at.gt(now))
        .select(Session::as_select())
        .order(sessions::id.desc())
        .limit(limit)
        .into_boxed();
    if let Some(before) = before {
        query = query.filter(sessions::id.lt(before));
    }
    query.load(conn)
}

/// Ends a session of this account; `false` if it has no such live session.
pub fn revoke_own_session(
    conn: &mut DbConnection,
    account_id: &str,
    session_id: &str,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let ended = diesel::update(
        sessions::table
            .filter(sessions::id.eq(session_id))
            .filter(sessions::account_id.eq(account_id))
            .filter(sessions::revoked_at.is_null()),
    )
    .set((
        sessions::revoked_at.eq(now),
        sessions::revoked_reason.eq("signed_out_remotely"),
    ))
    .execute(conn)?;
    Ok(ended == 1)
}

/// What a mail token is for.
#[derive(Debug, Clone, Copy)]
pub enum TokenPurpose {
    VerifyEmail,
    PasswordReset,
}

impl TokenPurpose {
    fn as_str(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify_email",
            Self::PasswordReset => "password_reset",
        }
    }

    fn ttl(self) -> TimeDelta {
        match self {
            Self::VerifyEmail => VERIFY_EMAIL_TTL,
            Self::PasswordReset => PASSWORD_RESET_TTL,
        }
    }
}

/// Creates a single-use mail token; only its hash is stored. Earlier unused tokens of the
/// same purpose stop working.
pub fn create_email_token(
    conn: &mut DbConnection,
    account_id: &str,
    purpose: TokenPurpose,
    now: NaiveDateTime,
) -> QueryResult<String> {
    diesel::update(
        email_tokens::table
            .filter(email_tokens::account_id.eq(account_id))
            .filter(email_tokens::purpose.eq(purpose.as_str()))
            .filter(email_tokens::used_at.is_null()),
    )
    .set(email_tokens::used_at.eq(now))
    .execute(conn)?;
    let token = random_token();
    diesel::insert_into(email_tokens::table)
        .values((
            email_tokens::token_hash.eq(hash_token(&token)),
            email_tokens::account_id.eq(account_id),
            email_tokens::purpose.eq(purpose.as_str()),
            email_tokens::created_at.eq(now),
            email_tokens::expires_at.eq(now + purpose.ttl()),
        ))
        .execute(conn)?;
    Ok(token)
}

/// Spends a mail token; returns the account it belongs to, or `None` if it is unknown,
/// used, expired or for another purpose.
pub fn consume_email_token(
    conn: &mut DbConnection,
    token: &str,
    purpose: TokenPurpose,
    now: NaiveDateTime,
) -> QueryResult<Option<String>> {
    let hash = hash_token(token);
    let account_id: Option<String> = email_tokens::table
        .find(&hash)
        .filter(email_tokens::purpose.eq(purpose.as_str()))
        .filter(email_tokens::used_at.is_null())
        .filter(email_tokens::expires_at.gt(now))
        .select(email_tokens::account_id)
        .first(conn)
        .optional()?;
    if account_id.is_some() {
        let spent = diesel::update(
            email_tokens::table
                .find(&hash)
                .filter(email_tokens::used_at.is_null()),
        )
        .set(email_tokens::used_at.eq(now))
        .execute(conn)?;
        if spent != 1 {
            return Ok(None);
        }
    }
    Ok(account_id)
}
