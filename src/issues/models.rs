//! Issue rows and the queries over them.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::{issue_supports, issues};

/// An issue row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = issues)]
pub struct IssueRow {
    pub id: String,
    pub category_code: String,
    pub title: String,
    pub description: String,
    pub lat: f64,
    pub lon: f64,
    pub address: Option<String>,
    /// The answers to the category's questions, a JSON object keyed by question code.
    pub answers: String,
    pub status: String,
    pub reporter_id: Option<String>,
    pub anonymous: bool,
    pub duplicate_of: Option<String>,
    pub support_count: i32,
    pub follower_count: i32,
    pub photo_count: i32,
    pub closed_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// One issue; `NotFound` (404) if there is none.
pub fn find_issue(conn: &mut DbConnection, id: &str) -> QueryResult<IssueRow> {
    issues::table
        .find(id)
        .select(IssueRow::as_select())
        .first(conn)
}

/// Whether an account says "me too" to an issue.
pub fn is_supporter(conn: &mut DbConnection, issue_id: &str, account_id: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        issue_supports::table
            .filter(issue_supports::issue_id.eq(issue_id))
            .filter(issue_supports::account_id.eq(account_id)),
    ))
    .get_result(conn)
}
