//! Photo rows and queries.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{issue_photos, issues};
use crate::db::{DbConnection, on_backend};
use crate::domain::Role;
use crate::issues::models::{IssueRow, is_supporter};
use crate::issues::timeline::{self, Actor, EventKind, NewEvent};

/// A photo of an issue. The bytes live in the photo store under the same id.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = issue_photos)]
pub struct PhotoRow {
    pub id: String,
    pub issue_id: String,
    /// Who uploaded it; `None` once their account is deleted.
    pub uploader_id: Option<String>,
    /// Of the served photo (not of the upload), in pixels.
    pub width: i32,
    pub height: i32,
    /// Of the served photo, in bytes.
    pub byte_size: i64,
    pub thumb_width: i32,
    pub thumb_height: i32,
    pub created_at: NaiveDateTime,
    /// When moderators took it out of public view; `None` while it is shown.
    pub hidden_at: Option<NaiveDateTime>,
}

/// One photo, hidden or not; `NotFound` (404) if there is none.
pub fn find_photo(conn: &mut DbConnection, id: &str) -> QueryResult<PhotoRow> {
    issue_photos::table
        .find(id)
        .select(PhotoRow::as_select())
        .first(conn)
}

/// The photos of an issue, oldest first; those moderators hid only `with_hidden`.
pub fn list_photos(
    conn: &mut DbConnection,
    issue_id: &str,
    with_hidden: bool,
) -> QueryResult<Vec<PhotoRow>> {
    on_backend!(conn, |c| {
        let photos = issue_photos::table
            .filter(issue_photos::issue_id.eq(issue_id))
            .order(issue_photos::id.asc())
            .select(PhotoRow::as_select());
        if with_hidden {
            photos.load(c)
        } else {
            photos.filter(issue_photos::hidden_at.is_null()).load(c)
        }
    })
}

/// Whether a photo, or the issue it shows, is hidden from the public.
pub fn is_hidden(conn: &mut DbConnection, photo: &PhotoRow) -> QueryResult<bool> {
    if photo.hidden_at.is_some() {
        return Ok(true);
    }
    issues::table
        .find(&photo.issue_id)
        .select(issues::hidden_at.is_not_null())
        .first(conn)
}

/// Whether an account may add photos to an issue: its reporter, its supporters, and staff.
pub fn may_add_photo(
    conn: &mut DbConnection,
    issue: &IssueRow,
    account_id: &str,
    role: Role,
) -> QueryResult<bool> {
    if role.is_staff() || issue.reporter_id.as_deref() == Some(account_id) {
        return Ok(true);
    }
    is_supporter(conn, &issue.id, account_id)
}

/// What adding a photo came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    Yes,
    /// The issue already has `max` photos.
    LimitReached,
}

/// Adds a photo to its issue, counting it against the issue's limit of `max`, and records
/// it on the timeline as done by its uploader acting as `role`. Run it in a write
/// transaction; `NotFound` if the issue is gone.
///
/// The count is taken and raised by one conditional `UPDATE`, so two uploads racing for
/// the last place cannot both win, on either backend (PostgreSQL re-checks the condition
/// on the locked row; SQLite writers are serialised).
pub fn add_photo(
    conn: &mut DbConnection,
    photo: &PhotoRow,
    max: i32,
    role: Role,
) -> QueryResult<Added> {
    let raised = diesel::update(
        issues::table
            .filter(issues::id.eq(&photo.issue_id))
            .filter(issues::photo_count.lt(max)),
    )
    .set((
        issues::photo_count.eq(issues::photo_count + 1),
        issues::updated_at.eq(photo.created_at),
    ))
    .execute(conn)?;
    if raised == 0 {
        // Either the issue is full or it is gone: tell them apart for the caller.
        issues::table
            .find(&photo.issue_id)
            .select(issues::id)
            .first::<String>(conn)?;
        return Ok(Added::LimitReached);
    }
    diesel::insert_into(issue_photos::table)
        .values(photo)
        .execute(conn)?;
    let actor = match &photo.uploader_id {
        Some(id) => Actor::Account {
            id: id.clone(),
            role: role.as_str().to_owned(),
        },
        None => Actor::System,
    };
    timeline::record(
        conn,
        &photo.issue_id,
        NewEvent {
            kind: EventKind::PhotoAdded,
            actor,
            from_status: None,
            to_status: None,
            body: None,
            data: Some(serde_json::json!({ "photo_id": photo.id })),
        },
        photo.created_at,
    )?;
    Ok(Added::Yes)
}
