//! Consents: what a citizen agreed to, for which wording, and when. Each change is a new
//! row of `consents`; the newest row per purpose holds. No row means not granted.
//!
//! Other features ask [`granted`] before they use the data a consent covers, and build the
//! council's copy of a reporter's contact details with [`council_contact`], so a consent
//! withdrawn is withdrawn everywhere at once.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::db::DbConnection;
use crate::db::schema::{accounts, consents};

/// What a consent is for. Each purpose has a wording and a version: changing the wording
/// means a new version, and a consent given to an earlier version no longer counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = ConsentPurpose)]
pub enum Purpose {
    /// Sharing the reporter's name and email address with the council when an issue they
    /// reported is escalated to it.
    ContactCouncil,
    /// Showing the citizen's name on their public participation record.
    PublicName,
}

impl Purpose {
    pub const ALL: [Self; 2] = [Self::ContactCouncil, Self::PublicName];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ContactCouncil => "contact_council",
            Self::PublicName => "public_name",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == raw)
    }

    /// The wording the citizen agrees to, as clients must show it.
    pub fn text(self) -> &'static str {
        match self {
            Self::ContactCouncil => {
                "Share my name and email address with the council when an issue I reported \
                 is escalated to it."
            }
            Self::PublicName => "Show my name on my public participation record.",
        }
    }

    /// The version of [`text`](Self::text) now in force.
    pub fn version(self) -> &'static str {
        match self {
            Self::ContactCouncil | Self::PublicName => "1",
        }
    }
}

/// One change of a consent.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = consents)]
pub struct ConsentRow {
    pub id: String,
    pub account_id: String,
    pub purpose: String,
    pub granted: bool,
    /// The version of the wording the citizen answered.
    pub version: String,
    pub created_at: NaiveDateTime,
}

impl ConsentRow {
    /// Whether this answer grants the consent as worded now.
    pub fn holds(&self) -> bool {
        self.granted && Purpose::parse(&self.purpose).is_some_and(|p| p.version() == self.version)
    }
}

/// The answer in force for one purpose (the newest), if the citizen ever answered.
pub fn latest(
    conn: &mut DbConnection,
    account_id: &str,
    purpose: Purpose,
) -> QueryResult<Option<ConsentRow>> {
    consents::table
        .filter(consents::account_id.eq(account_id))
        .filter(consents::purpose.eq(purpose.as_str()))
        .order((consents::created_at.desc(), consents::id.desc()))
        .select(ConsentRow::as_select())
        .first(conn)
        .optional()
}

/// Whether the account has granted `purpose`, for the wording now in force. No answer,
/// a withdrawal, or consent to an earlier wording all mean no.
pub fn granted(conn: &mut DbConnection, account_id: &str, purpose: Purpose) -> QueryResult<bool> {
    Ok(latest(conn, account_id, purpose)?.is_some_and(|row| row.holds()))
}

/// The reporter's contact details for the council, only while they consent to
/// `contact_council` (and the account is not erased): `{"account_id", "display_name",
/// "email"}`. `None` means the council gets no contact details.
pub fn council_contact(conn: &mut DbConnection, reporter_id: &str) -> QueryResult<Option<Value>> {
    let account: Option<(String, String)> = accounts::table
        .find(reporter_id)
        .filter(accounts::deleted_at.is_null())
        .select((accounts::display_name, accounts::email))
        .first(conn)
        .optional()?;
    let Some((display_name, email)) = account else {
        return Ok(None);
    };
    if !granted(conn, reporter_id, Purpose::ContactCouncil)? {
        return Ok(None);
    }
    Ok(Some(json!({
        "account_id": reporter_id,
        "display_name": display_name,
        "email": email,
    })))
}

/// The account's answers, newest first; at most `limit` when given.
pub fn history(
    conn: &mut DbConnection,
    account_id: &str,
    limit: Option<i64>,
) -> QueryResult<Vec<ConsentRow>> {
    let mut query = consents::table
        .filter(consents::account_id.eq(account_id))
        .order((consents::created_at.desc(), consents::id.desc()))
        .select(ConsentRow::as_select())
        .into_boxed();
    if let Some(limit) = limit {
        query = query.limit(limit);
    }
    query.load(conn)
}

/// Records an answer for the current wording of `purpose`, unless it is the answer in
/// force already (so repeating a request adds nothing to the history); returns the row in
/// force afterwards.
pub fn record(
    conn: &mut DbConnection,
    account_id: &str,
    purpose: Purpose,
    granted: bool,
    now: NaiveDateTime,
) -> QueryResult<ConsentRow> {
    if let Some(current) = latest(conn, account_id, purpose)? {
        if current.granted == granted && current.version == purpose.version() {
            return Ok(current);
        }
    }
    let row = ConsentRow {
        id: uuid::Uuid::now_v7().to_string(),
        account_id: account_id.to_owned(),
        purpose: purpose.as_str().to_owned(),
        granted,
        version: purpose.version().to_owned(),
        created_at: now,
    };
    diesel::insert_into(consents::table)
        .values(&row)
        .execute(conn)?;
    Ok(row)
}

/// Forgets every answer of the account (on erasure).
pub fn erase(conn: &mut DbConnection, account_id: &str) -> QueryResult<usize> {
    diesel::delete(consents::table.filter(consents::account_id.eq(account_id))).execute(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purposes_round_trip_and_have_a_wording_and_version() {
        for purpose in Purpose::ALL {
            assert_eq!(Purpose::parse(purpose.as_str()), Some(purpose));
            assert!(!purpose.text().is_empty());
            assert!(!purpose.version().is_empty());
            let json = serde_json::to_value(purpose).unwrap_or_default();
            assert_eq!(json, purpose.as_str());
        }
        assert_eq!(Purpose::parse("marketing"), None);
    }

    #[test]
    fn only_a_grant_of_the_current_wording_holds() {
        let row = |granted: bool, version: &str| ConsentRow {
            id: "c".into(),
            account_id: "a".into(),
            purpose: "public_name".into(),
            granted,
            version: version.into(),
            created_at: NaiveDateTime::default(),
        };
        assert!(row(true, "1").holds());
        assert!(!row(false, "1").holds());
        assert!(!row(true, "0").holds());
    }
}
