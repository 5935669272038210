//! Request and response bodies of the group routes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::models::{GroupRow, MemberRow};
use crate::db::utc;
use crate::domain::{JoinPolicy, MemberRole, MemberStatus, Tags};

/// A new group.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateGroupRequest {
    /// 3 to 80 characters; unique whatever its case.
    #[schema(example = "Friends of Elm Park", min_length = 3, max_length = 80)]
    pub name: String,
    /// Plain text, at most 4000 characters.
    #[serde(default)]
    #[schema(
        example = "We pick litter and plant bulbs in Elm Park.",
        max_length = 4000
    )]
    pub description: String,
    /// The centre of the group's area: WGS84 latitude, −90 to 90.
    #[schema(example = 51.5072)]
    pub lat: f64,
    /// The centre of the group's area: WGS84 longitude, −180 to 180.
    #[schema(example = -0.1276)]
    pub lon: f64,
    /// The radius of the group's area in metres, 50 to 50000.
    #[schema(example = 1500.0, minimum = 50, maximum = 50000)]
    pub radius_m: f64,
    /// At most 20 tags, each 1 to 30 characters of `a-z`, `0-9` and `-` (lower-cased).
    #[serde(default)]
    #[schema(example = json!(["litter", "gardening"]))]
    pub tags: Vec<String>,
    /// `open` (default), `approval` or `invite`.
    #[schema(value_type = Option<JoinPolicy>)]
    pub join_policy: Option<String>,
}

/// Changes to a group. Organisers and owners edit everything but `verified`, which only
/// staff (moderators, officers, admins) set.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateGroupRequest {
    pub name: Option<String>,
    pub description: Option<String>,
    /// Give `lat` and `lon` together.
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub radius_m: Option<f64>,
    /// Replaces every tag.
    pub tags: Option<Vec<String>>,
    #[schema(value_type = Option<JoinPolicy>)]
    pub join_policy: Option<String>,
    /// Staff only.
    pub verified: Option<bool>,
}

/// The parameters of `GET /groups`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListGroupsQuery {
    /// `lat,lon`: groups whose centre is within `radius` of this point, nearest first.
    #[param(example = "51.5072,-0.1276")]
    pub near: Option<String>,
    /// Metres around `near`: default 1000, at most 50000.
    #[param(minimum = 1, maximum = 50000)]
    pub radius: Option<f64>,
    /// Text to find in the name or description (1 to 100 characters).
    pub q: Option<String>,
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// The parameters of `GET /groups/{id}/members`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListMembersQuery {
    /// Statuses, comma-separated (default `active`). Only organisers and owners may ask
    /// for others than `active` (`pending` requests, `invited`, `banned`, `removed`).
    #[param(example = "pending")]
    pub status: Option<String>,
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// An organiser's change to one member: approve (`status: active`), invite
/// (`status: invited`), remove, ban, or change the role. Give `status`, `role` or both.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMemberRequest {
    pub status: Option<MemberStatus>,
    pub role: Option<MemberRole>,
}

/// The body of `POST /groups/{id}/adoptions`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AdoptIssueRequest {
    /// The issue the group takes on.
    pub issue_id: String,
}

/// A community group, as anyone may see it: counts, never member lists.
#[derive(Debug, Serialize, ToSchema)]
pub struct GroupView {
    pub id: String,
    pub name: String,
    pub description: String,
    /// The centre of the group's area.
    pub lat: f64,
    pub lon: f64,
    /// The radius of the group's area, in metres.
    pub radius_m: f64,
    pub tags: Vec<String>,
    pub join_policy: JoinPolicy,
    /// Checked by staff.
    pub verified: bool,
    /// Active members.
    pub member_count: i32,
    /// Metres from the `near` point to the centre, on near searches.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distance_m: Option<f64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<GroupRow> for GroupView {
    fn from(row: GroupRow) -> Self {
        Self {
            tags: Tags::from_stored(&row.tags),
            join_policy: JoinPolicy::parse(&row.join_policy).unwrap_or(JoinPolicy::Invite),
            id: row.id,
            name: row.name,
            description: row.description,
            lat: row.lat,
            lon: row.lon,
            radius_m: row.radius_m,
            verified: row.verified,
            member_count: row.member_count,
            distance_m: None,
            created_at: utc(row.created_at),
            updated_at: utc(row.updated_at),
        }
    }
}

/// Where the caller stands with a group.
#[derive(Debug, Serialize, ToSchema)]
pub struct MyMembership {
    pub role: MemberRole,
    pub status: MemberStatus,
}

impl From<&MemberRow> for MyMembership {
    fn from(row: &MemberRow) -> Self {
        Self {
            role: row.role(),
            status: row.status(),
        }
    }
}

/// One group, as `GET /groups/{id}` shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct GroupDetail {
    #[serde(flatten)]
    pub group: GroupView,
    /// The caller's role and status here; `null` when not signed in or never involved.
    pub my_membership: Option<MyMembership>,
}

/// The caller's membership after joining or asking to.
#[derive(Debug, Serialize, ToSchema)]
pub struct MembershipState {
    pub group_id: String,
    pub role: MemberRole,
    /// `active` (joined) or `pending` (waiting for an organiser).
    pub status: MemberStatus,
    /// Active members, after this change.
    pub member_count: i32,
}

/// One member of a group, as members see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberView {
    pub account_id: String,
    pub display_name: String,
    pub role: MemberRole,
    pub status: MemberStatus,
    /// When this membership began (or the request or invitation was made).
    pub joined_at: DateTime<Utc>,
}

impl MemberView {
    pub fn new(row: &MemberRow, display_name: String) -> Self {
        Self {
            account_id: row.account_id.clone(),
            display_name,
            role: row.role(),
            status: row.status(),
            joined_at: utc(row.created_at),
        }
    }
}
