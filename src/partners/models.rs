//! Partner client rows.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::Scope;
use crate::auth::tokens::{hash_token, random_token};
use crate::db::DbConnection;
use crate::db::schema::partner_clients;

/// What every client secret starts with, so a leaked one is easy to recognise (and to
/// find with secret scanners).
pub const SECRET_PREFIX: &str = "cvs_";

/// A partner client. The secret is kept only as its SHA-256.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = partner_clients)]
pub struct ClientRow {
    pub id: String,
    pub name: String,
    pub secret_hash: String,
    /// Granted scopes, space-separated.
    pub scopes: String,
    pub created_at: NaiveDateTime,
    pub secret_rotated_at: NaiveDateTime,
    pub disabled_at: Option<NaiveDateTime>,
}

impl ClientRow {
    /// The granted scopes (a scope no longer known is dropped).
    pub fn scopes(&self) -> Vec<Scope> {
        self.scopes.split(' ').filter_map(Scope::parse).collect()
    }

    pub fn has_scope(&self, scope: Scope) -> bool {
        self.scopes().contains(&scope)
    }

    pub fn is_active(&self) -> bool {
        self.disabled_at.is_none()
    }
}

/// A fresh client secret: the prefix and 256 random bits.
pub fn new_secret() -> String {
    format!("{SECRET_PREFIX}{}", random_token())
}

/// A new client with a fresh secret; returns the row to insert and the secret, which is
/// shown once and never stored.
pub fn new_client(name: String, scopes: &[Scope], now: NaiveDateTime) -> (ClientRow, String) {
    let secret = new_secret();
    let row = ClientRow {
        id: uuid::Uuid::now_v7().to_string(),
        name,
        secret_hash: hash_token(&secret),
        scopes: Scope::join(scopes),
        created_at: now,
        secret_rotated_at: now,
        disabled_at: None,
    };
    (row, secret)
}

pub fn insert_client(conn: &mut DbConnection, client: &ClientRow) -> QueryResult<()> {
    diesel::insert_into(partner_clients::table)
        .values(client)
        .execute(conn)
        .map(|_| ())
}

/// One client; `NotFound` (404) if there is none.
pub fn find_client(conn: &mut DbConnection, id: &str) -> QueryResult<ClientRow> {
    partner_clients::table
        .find(id)
        .select(ClientRow::as_select())
        .first(conn)
}

/// The client a secret belongs to, active or not. Secrets carry 256 bits, so looking one
/// up by its hash reveals nothing to a guesser.
pub fn find_by_secret(conn: &mut DbConnection, secret: &str) -> QueryResult<Option<ClientRow>> {
    if !secret.starts_with(SECRET_PREFIX) || secret.len() > 200 {
        return Ok(None);
    }
    partner_clients::table
        .filter(partner_clients::secret_hash.eq(hash_token(secret)))
        .select(ClientRow::as_select())
        .first(conn)
        .optional()
}

/// Clients in id order (oldest first), after `after`.
pub fn list_clients(
    conn: &mut DbConnection,
    after: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<ClientRow>> {
    let mut query = partner_clients::table
        .select(ClientRow::as_select())
        .order(partner_clients::id.asc())
        .limit(limit)
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(partner_clients::id.gt(after.to_owned()));
    }
    query.load(conn)
}

/// Replaces a client's secret; returns the new one. The old secret stops working at once.
pub fn rotate_secret(conn: &mut DbConnection, id: &str, now: NaiveDateTime) -> QueryResult<String> {
    let secret = new_secret();
    let changed = diesel::update(partner_clients::table.find(id))
        .set((
            partner_clients::secret_hash.eq(hash_token(&secret)),
            partner_clients::secret_rotated_at.eq(now),
        ))
        .execute(conn)?;
    if changed == 0 {
        return Err(diesel::result::Error::NotFound);
    }
    Ok(secret)
}

/// What an admin may change about a client.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = partner_clients)]
pub struct ClientChanges {
    pub name: Option<String>,
    pub scopes: Option<String>,
    pub disabled_at: Option<Option<NaiveDateTime>>,
}

pub fn update_client(
    conn: &mut DbConnection,
    id: &str,
    changes: &ClientChanges,
) -> QueryResult<()> {
    if changes.name.is_none() && changes.scopes.is_none() && changes.disabled_at.is_none() {
        return find_client(conn, id).map(|_| ());
    }
    let changed = diesel::update(partner_clients::table.find(id))
        .set(changes)
        .execute(conn)?;
    if changed == 0 {
        return Err(diesel::result::Error::NotFound);
    }
    Ok(())
}

/// The names of the clients `ids`, by id.
pub fn client_names(
    conn: &mut DbConnection,
    ids: &[String],
) -> QueryResult<std::collections::HashMap<String, String>> {
    Ok(crate::db::names_by_id!(
        conn,
        partner_clients::table,
        partner_clients::id,
        partner_clients::name,
        ids
    ))
}
