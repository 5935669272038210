//! What the feed says about one thing for one caller: its current state exactly as its
//! own `GET` answers them, when it still concerns them and they may see it; otherwise a
//! tombstone. Things moderators hid (issues, groups, opportunities) are tombstones for
//! everyone, staff included: the feed carries what a citizen's app may keep.

use diesel::prelude::*;

use super::Entity;
use super::models::GROUP_TIES;
use super::views::SyncItem;
use crate::auth::AuthUser;
use crate::db::DbConnection;
use crate::db::schema::{notifications, pledges};
use crate::error::{ApiError, ApiResult};
use crate::notifications::models::NotificationRow;
use crate::partners::Caller;

/// The item for `(entity, id)` as `user` should see it now.
pub(crate) fn item(
    conn: &mut DbConnection,
    user: &AuthUser,
    entity: Entity,
    id: String,
) -> ApiResult<SyncItem> {
    let me = user.account_id.as_str();
    let found = match entity {
        Entity::Account => {
            if id != me {
                None
            } else {
                crate::accounts::models::find_account(conn, me)
                    .optional()?
                    .map(|account| SyncItem::Account {
                        id: id.clone(),
                        deleted: false,
                        data: Some(Box::new(account.into())),
                    })
            }
        }
        Entity::Group => {
            let tied = crate::groups::models::find_member(conn, &id, me)?
                .is_some_and(|member| GROUP_TIES.contains(&member.status()));
            match crate::groups::models::find_group(conn, &id).optional()? {
                Some(row) if tied && row.hidden_at.is_none() => Some(SyncItem::Group {
                    id: id.clone(),
                    deleted: false,
                    data: Some(Box::new(crate::groups::routes::group_detail(
                        conn,
                        row,
                        Some(user),
                    )?)),
                }),
                _ => None,
            }
        }
        Entity::Issue => match crate::issues::models::find_shown_issue(conn, &id).optional()? {
            Some(row) => {
                let reported = row.reporter_id.as_deref() == Some(me);
                let (supports, follows) = crate::issues::models::bonds_of(conn, &id, me)?;
                if reported || supports || follows {
                    let detail = crate::issues::routes::detail_of(conn, row, Some(user))?;
                    Some(SyncItem::Issue {
                        id: id.clone(),
                        deleted: false,
                        data: Some(Box::new(detail)),
                    })
                } else {
                    None
                }
            }
            None => None,
        },
        Entity::Opportunity => {
            let pledged: bool = diesel::select(diesel::dsl::exists(
                pledges::table
                    .filter(pledges::account_id.eq(me))
                    .filter(pledges::opportunity_id.eq(&id)),
            ))
            .get_result(conn)?;
            let caller = Caller::Citizen(user.clone());
            match crate::opportunities::routes::visible(conn, &id, Some(&caller)) {
                Ok((row, _)) if pledged && row.hidden_at.is_none() => Some(SyncItem::Opportunity {
                    id: id.clone(),
                    deleted: false,
                    data: Some(Box::new(row.into())),
                }),
                Ok(_) => None,
                Err(error) if error.status().as_u16() == 404 => None,
                Err(error) => return Err(error),
            }
        }
        Entity::Pledge => match crate::pledges::models::find_pledge(conn, &id).optional()? {
            Some(row) if row.account_id.as_deref() == Some(me) => Some(SyncItem::Pledge {
                id: id.clone(),
                deleted: false,
                data: Some(Box::new(crate::pledges::routes::view(conn, row)?)),
            }),
            _ => None,
        },
        Entity::Notification => notifications::table
            .find(&id)
            .filter(notifications::account_id.eq(me))
            .select(NotificationRow::as_select())
            .first(conn)
            .optional()?
            .map(|row| SyncItem::Notification {
                id: id.clone(),
                deleted: false,
                data: Some(Box::new(row.into())),
            }),
    };
    Ok(found.unwrap_or_else(|| SyncItem::tombstone(entity, id)))
}

/// Settles the caller's conditional pledges, as `GET /pledges/{id}` would before
/// answering, so the feed shows them as their own `GET` does (and the changes settling
/// makes are logged like any other). Cheap when they have none.
pub(crate) fn settle_pledges_of(conn: &mut DbConnection, account_id: &str) -> ApiResult<()> {
    use crate::pledges::models::{CONDITIONAL, PledgeRow, settle_conditions};
    let conditional: Vec<PledgeRow> = pledges::table
        .filter(pledges::account_id.eq(account_id))
        .filter(pledges::status.eq(CONDITIONAL))
        .select(PledgeRow::as_select())
        .load(conn)?;
    let now = crate::db::now();
    for row in &conditional {
        settle_conditions(conn, &crate::pledges::routes::target_of(row), now)?;
    }
    Ok(())
}

/// Whether the caller has conditional pledges that may need settling.
pub(crate) fn has_conditional_pledges(
    conn: &mut DbConnection,
    account_id: &str,
) -> Result<bool, ApiError> {
    Ok(diesel::select(diesel::dsl::exists(
        pledges::table
            .filter(pledges::account_id.eq(account_id))
            .filter(pledges::status.eq(crate::pledges::models::CONDITIONAL)),
    ))
    .get_result(conn)?)
}
