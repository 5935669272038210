//! The group routes: the groups themselves (`groups`: create, find, read, edit), who
//! belongs to them (`members`: join, leave, the member list, organisers' changes) and the
//! issues they take on (`adoptions`).

mod adoptions;
mod groups;
mod members;

use utoipa_actix_web::service_config::ServiceConfig;

pub use adoptions::*;
pub use groups::*;
pub use members::*;

use super::models::{self, GroupRow, MemberRow};
use crate::auth::AuthUser;
use crate::db::DbConnection;
use crate::error::{ApiError, ApiResult};

/// Registers the group routes (under `/api/v1`).
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create_group)
        .service(list_groups)
        .service(get_group)
        .service(update_group)
        .service(join_group)
        .service(leave_group)
        .service(list_group_members)
        .service(update_group_member)
        .service(adopt_issue)
        .service(release_issue);
}

fn no_such_group(error: diesel::result::Error) -> ApiError {
    match error {
        diesel::result::Error::NotFound => ApiError::not_found("No such group."),
        other => other.into(),
    }
}

/// A live group, locked for the rest of the write transaction (see `models::lock_group`).
/// A group moderators hid is missing: nobody joins, leaves or edits it until restored.
fn locked_group(conn: &mut DbConnection, id: &str) -> ApiResult<GroupRow> {
    let row = models::lock_group(conn, id).map_err(no_such_group)?;
    if row.hidden_at.is_some() {
        return Err(no_such_group(diesel::result::Error::NotFound));
    }
    Ok(row)
}

/// A live group if `viewer` may see it: one moderators hid is missing (404) for everyone
/// but staff. `None` is the public, for changes nobody may make to a hidden group.
pub(crate) fn visible_group(
    conn: &mut DbConnection,
    id: &str,
    viewer: Option<&AuthUser>,
) -> ApiResult<GroupRow> {
    let row = models::find_group(conn, id).map_err(no_such_group)?;
    if row.hidden_at.is_some() && !viewer.is_some_and(|v| v.role.is_staff()) {
        return Err(no_such_group(diesel::result::Error::NotFound));
    }
    Ok(row)
}

/// The caller's row if they are an active owner or organiser of the group; 403 if not.
fn organiser(conn: &mut DbConnection, group_id: &str, user: &AuthUser) -> ApiResult<MemberRow> {
    models::find_member(conn, group_id, &user.account_id)?
        .filter(MemberRow::organises)
        .ok_or_else(|| {
            ApiError::forbidden(
                "not_organiser",
                "Only the group's organisers and owners may do this.",
            )
        })
}
