//! Wire types of the sync feed, and the tombstones that collections taking
//! `updated_since` answer when asked.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::Entity;
use crate::accounts::views::MeView;
use crate::groups::views::GroupDetail;
use crate::issues::views::{IssueDetail, IssueView};
use crate::notifications::views::NotificationView;
use crate::opportunities::views::OpportunityView;
use crate::pledges::views::PledgeView;

/// The parameters of `GET /sync`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SyncQuery {
    /// The `next_cursor` of the previous answer. Leave it out on the first sync: the feed
    /// then starts with a snapshot of everything that concerns you.
    pub since: Option<String>,
    /// How many items to return: 1 to 100, default 50.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
}

/// One entry of the feed: the current state of something that concerns you (`deleted:
/// false`, with `data` exactly as the resource's own `GET` answers you), or a tombstone
/// (`deleted: true`, no `data`): it was deleted, you lost access to it, or it no longer
/// concerns you (unfollowed, left the group…). Drop tombstoned things from your cache.
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SyncItem {
    /// Your own profile, as `GET /me` shows it.
    Account {
        id: String,
        deleted: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        data: Option<Box<MeView>>,
    },
    /// A group you belong to, asked to join or are invited to, as `GET /groups/{id}`
    /// shows it.
    Group {
        id: String,
        deleted: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        data: Option<Box<GroupDetail>>,
    },
    /// An issue you reported, support or follow, as `GET /issues/{id}` shows it.
    Issue {
        id: String,
        deleted: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        data: Option<Box<IssueDetail>>,
    },
    /// An opportunity you pledged to, as `GET /opportunities/{id}` shows it.
    Opportunity {
        id: String,
        deleted: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        data: Option<Box<OpportunityView>>,
    },
    /// One of your pledges, as `GET /pledges/{id}` shows it.
    Pledge {
        id: String,
        deleted: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        data: Option<Box<PledgeView>>,
    },
    /// One of your notifications, as `GET /me/notifications` lists it.
    Notification {
        id: String,
        deleted: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        data: Option<Box<NotificationView>>,
    },
}

impl SyncItem {
    /// The tombstone of `id`.
    pub fn tombstone(entity: Entity, id: String) -> Self {
        let deleted = true;
        match entity {
            Entity::Account => Self::Account {
                id,
                deleted,
                data: None,
            },
            Entity::Group => Self::Group {
                id,
                deleted,
                data: None,
            },
            Entity::Issue => Self::Issue {
                id,
                deleted,
                data: None,
            },
            Entity::Opportunity => Self::Opportunity {
                id,
                deleted,
                data: None,
            },
            Entity::Pledge => Self::Pledge {
                id,
                deleted,
                data: None,
            },
            Entity::Notification => Self::Notification {
                id,
                deleted,
                data: None,
            },
        }
    }

    pub fn is_tombstone(&self) -> bool {
        match self {
            Self::Account { deleted, .. }
            | Self::Group { deleted, .. }
            | Self::Issue { deleted, .. }
            | Self::Opportunity { deleted, .. }
            | Self::Pledge { deleted, .. }
            | Self::Notification { deleted, .. } => *deleted,
        }
    }
}

/// One answer of the feed.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncPage {
    /// What changed, each thing at most once, ordered by its latest change.
    pub items: Vec<SyncItem>,
    /// Pass as `since` next time. It never goes backwards; with nothing new it is the
    /// cursor you sent.
    pub next_cursor: String,
    /// `true`: there is more right now, call again at once with `next_cursor`. `false`:
    /// you are up to date.
    pub has_more: bool,
}

/// Asks a collection that takes `updated_since` for tombstones too.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct IncludeDeletedQuery {
    /// With `updated_since`: also list, as tombstones `{id, deleted: true}`, the things
    /// that changed since then and are no longer in the list at all (deleted or hidden),
    /// so a cached copy can drop them. Default `false`.
    pub include_deleted: Option<bool>,
}

/// Something that left a list: drop it from your copy.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Tombstone {
    pub id: String,
    /// Always `true`.
    pub deleted: bool,
}

impl Tombstone {
    pub fn new(id: String) -> Self {
        Self { id, deleted: true }
    }
}

/// An entry of `GET /issues`: an issue, or (only with `include_deleted=true`) the
/// tombstone of one that left the list.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum IssueListItem {
    Issue(Box<IssueView>),
    Deleted(Tombstone),
}
