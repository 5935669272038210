//! The issue routes: reporting and finding (`report`), the lifecycle (`status`), and
//! what neighbours do with an issue (`community`: support, follow, comments, timeline).

mod community;
mod report;

pub(crate) use report::{detail_of, record_report};
mod status;

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use utoipa_actix_web::service_config::ServiceConfig;

pub use community::*;
pub use report::*;
pub use status::*;

use super::lifecycle::{self, Asker, Status};
use super::models::{self, IssueRow};
use super::views::{GroupRef, IssueView, PartnerRef, PersonRef};
use crate::auth::AuthUser;
use crate::db::DbConnection;
use crate::db::schema::categories;
use crate::error::{ApiError, ApiResult};

/// Registers the issue routes (under `/api/v1`). The fixed path `/issues/duplicates` is
/// registered before `/issues/{id}` so it is not taken for an id.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create_issue)
        .service(list_issues)
        .service(list_duplicate_candidates)
        .service(get_issue)
        .service(update_issue)
        .service(change_issue_status)
        .service(list_timeline)
        .service(create_comment)
        .service(delete_comment)
        .service(support_issue)
        .service(unsupport_issue)
        .service(follow_issue)
        .service(unfollow_issue);
}

/// Whether `viewer` may see (and act on) an issue moderators hid: staff only.
pub(crate) fn sees_hidden(viewer: Option<&AuthUser>) -> bool {
    viewer.is_some_and(|v| v.role.is_staff())
}

/// The issue if `viewer` may know it exists: a hidden one is missing (404) for everyone
/// but staff, for reading and for every change alike.
pub(crate) fn visible_issue(
    conn: &mut DbConnection,
    id: &str,
    viewer: Option<&AuthUser>,
) -> ApiResult<IssueRow> {
    visible_to(models::find_issue(conn, id), |row| row, viewer)
}

/// `found` (an issue, or an issue with more) if `viewer` may know the issue exists, as
/// [`visible_issue`].
fn visible_to<T>(
    found: QueryResult<T>,
    row: impl Fn(&T) -> &IssueRow,
    viewer: Option<&AuthUser>,
) -> ApiResult<T> {
    let missing = || ApiError::not_found("No such issue.");
    let found = found.map_err(|error| match error {
        diesel::result::Error::NotFound => missing(),
        other => other.into(),
    })?;
    if row(&found).is_hidden() && !sees_hidden(viewer) {
        return Err(missing());
    }
    Ok(found)
}

/// The lifecycle's view of the caller: an active owner or organiser of the group that
/// adopted the issue counts as its organiser.
fn asker(conn: &mut DbConnection, issue: &IssueRow, user: &AuthUser) -> QueryResult<Asker> {
    let is_organiser = match &issue.adopted_by_group_id {
        Some(group_id) => crate::groups::models::is_organiser(conn, group_id, &user.account_id)?,
        None => false,
    };
    Ok(Asker {
        role: user.role,
        is_reporter: issue.reporter_id.as_deref() == Some(user.account_id.as_str()),
        is_organiser,
    })
}

/// The statuses `user` may move `issue` to now.
fn allowed_for(
    conn: &mut DbConnection,
    issue: &IssueRow,
    user: Option<&AuthUser>,
    now: NaiveDateTime,
) -> QueryResult<Vec<Status>> {
    let (Some(user), Some(from)) = (user, Status::parse(&issue.status)) else {
        return Ok(Vec::new());
    };
    let asker = asker(conn, issue, user)?;
    Ok(lifecycle::allowed_next(from, &asker, issue.closed_at, now))
}

/// Whether `viewer` may see who reported `issue`: always unless the report is
/// anonymous; then only the reporter and staff.
fn may_see_reporter(issue: &IssueRow, viewer: Option<&AuthUser>) -> bool {
    !issue.anonymous
        || viewer.is_some_and(|v| {
            v.role.is_staff() || issue.reporter_id.as_deref() == Some(v.account_id.as_str())
        })
}

/// Each value once, sorted.
fn distinct(values: impl Iterator<Item = String>) -> Vec<String> {
    let mut values: Vec<String> = values.collect();
    values.sort_unstable();
    values.dedup();
    values
}

/// Builds the views of `rows` as `viewer` may see them: category names, reporters and
/// adopting groups in one query each, not one per issue.
fn issue_views(
    conn: &mut DbConnection,
    rows: Vec<IssueRow>,
    viewer: Option<&AuthUser>,
) -> QueryResult<Vec<IssueView>> {
    let names = Names::of(conn, &rows, viewer)?;
    Ok(rows
        .into_iter()
        .map(|row| names.view(row, viewer))
        .collect())
}

/// The names issue views show beside the ids of their rows: categories by code, the
/// reporters `viewer` may see, adopting groups and reporting partners, by id.
#[derive(Default)]
struct Names {
    categories: HashMap<String, String>,
    people: HashMap<String, String>,
    groups: HashMap<String, String>,
    partners: HashMap<String, String>,
}

impl Names {
    /// Looks up the names `rows` show, one query per kind of name. Each list binds every
    /// distinct value once (a page is often one category, and several issues of one
    /// reporter).
    fn of(
        conn: &mut DbConnection,
        rows: &[IssueRow],
        viewer: Option<&AuthUser>,
    ) -> QueryResult<Self> {
        let codes = distinct(rows.iter().map(|r| r.category_code.clone()));
        let reporter_ids = distinct(
            rows.iter()
                .filter(|r| may_see_reporter(r, viewer))
                .filter_map(|r| r.reporter_id.clone()),
        );
        Ok(Self {
            categories: crate::db::names_by_id!(
                conn,
                categories::table,
                categories::code,
                categories::name,
                &codes
            ),
            people: models::display_names(conn, &reporter_ids)?,
            ..Self::of_groups_and_partners(conn, rows)?
        })
    }

    /// The names of the groups that adopted `rows` and the partners that reported them
    /// (no query when there are none).
    fn of_groups_and_partners(conn: &mut DbConnection, rows: &[IssueRow]) -> QueryResult<Self> {
        let group_ids = distinct(rows.iter().filter_map(|r| r.adopted_by_group_id.clone()));
        let partner_ids = distinct(rows.iter().filter_map(|r| r.partner_client_id.clone()));
        Ok(Self {
            groups: crate::groups::models::group_names(conn, &group_ids)?,
            partners: crate::partners::models::client_names(conn, &partner_ids)?,
            ..Self::default()
        })
    }

    /// The view of `row` with the names looked up.
    fn view(&self, row: IssueRow, viewer: Option<&AuthUser>) -> IssueView {
        let reporter = row
            .reporter_id
            .as_ref()
            .filter(|_| may_see_reporter(&row, viewer))
            .and_then(|id| {
                self.people.get(id).map(|name| PersonRef {
                    id: id.clone(),
                    display_name: name.clone(),
                })
            });
        let adopted_by = row.adopted_by_group_id.as_ref().and_then(|id| {
            self.groups.get(id).map(|name| GroupRef {
                id: id.clone(),
                name: name.clone(),
            })
        });
        let reported_via = row.partner_client_id.as_ref().and_then(|id| {
            self.partners.get(id).map(|name| PartnerRef {
                id: id.clone(),
                name: name.clone(),
            })
        });
        let name = self
            .categories
            .get(&row.category_code)
            .cloned()
            .unwrap_or_default();
        let mut view = IssueView::new(row, name, reporter);
        view.adopted_by = adopted_by;
        view.reported_via = reported_via;
        view
    }
}
