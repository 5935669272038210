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
    /// 3 to 80 characters once trimmed, on one line; unique whatever its case.
    #[schema(example = "Friends of Elm Park", min_length = 3, max_length = 80)]
    pub name: String,
    /// Plain text, at most 4000 characters once trimmed.
    #[serde(default)]
    #[schema(
        example = "We pick litter and plant bulbs in Elm Park.",
        max_length = 4000
    )]
    pub description: String,
    /// The centre of the group's area: WGS84 latitude, −90 to 90.
    #[schema(example = 51.5072, minimum = -90, maximum = 90)]
    pub lat: f64,
    /// The centre of the group's area: WGS84 longitude, −180 to 180.
    #[schema(example = -0.1276, minimum = -180, maximum = 180)]
    pub lon: f64,
    /// The radius of the group's area in metres, 50 to 50000.
    #[schema(example = 1500.0, minimum = 50, maximum = 50000)]
    pub radius_m: f64,
    /// At most 20 tags, each 1 to 30 characters of `a-z`, `0-9` and `-` once trimmed and
    /// lower-cased; repeats are dropped.
    #[serde(default)]
    #[schema(example = json!(["litter", "gardening"]), max_items = 20, min_length = 1, max_length = 30)]
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
    /// 3 to 80 characters once trimmed, on one line.
    #[schema(min_length = 3, max_length = 80)]
    pub name: Option<String>,
    /// At most 4000 characters once trimmed.
    #[schema(max_length = 4000)]
    pub description: Option<String>,
    /// Give `lat` and `lon` together: −90 to 90.
    #[schema(minimum = -90, maximum = 90)]
    pub lat: Option<f64>,
    /// −180 to 180.
    #[schema(minimum = -180, maximum = 180)]
    pub lon: Option<f64>,
    /// 50 to 50000 metres.
    #[schema(minimum = 50, maximum = 50000)]
    pub radius_m: Option<f64>,
    /// Replaces every tag: at most 20, each 1 to 30 characters of `a-z`, `0-9` and `-`
    /// once trimmed and lower-cased.
    #[schema(max_items = 20, min_length = 1, max_length = 30)]
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
    /// Metres around `near`: above 0, at most 50000; default 1000.
    #[param(exclusive_minimum = 0, maximum = 50000)]
    pub radius: Option<f64>,
    /// Text to find in the name or description: at most 100 characters once trimmed
    /// (blank is the same as none).
    #[param(max_length = 100)]
    pub q: Option<String>,
    /// How many groups to return: 1 to 100, default 20.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    #[param(max_length = 512)]
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
    /// How many members to return: 1 to 100, default 20.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    #[param(max_length = 512)]
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
    /// Staff only: whether moderators took the group out of public view (then it is in
    /// no list, `404` for everyone else, and takes no changes). Absent for everyone else.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hidden: Option<bool>,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Coordinates, Description, GroupName, Radius};
    use crate::issues::routes::MAX_RADIUS_M;
    use crate::openapi::bounds::{assert_items, assert_lengths, assert_range, param, property};

    #[test]
    fn documented_bounds_are_the_enforced_ones() {
        for name in [
            property::<CreateGroupRequest>("name"),
            property::<UpdateGroupRequest>("name"),
        ] {
            assert_lengths(&name, 'é', |n| GroupName::parse("n", n).is_ok());
        }
        for description in [
            property::<CreateGroupRequest>("description"),
            property::<UpdateGroupRequest>("description"),
        ] {
            assert_lengths(&description, 'é', |d| Description::parse("d", d).is_ok());
        }
        for request in [
            serde_json::to_value(<CreateGroupRequest as utoipa::PartialSchema>::schema()),
            serde_json::to_value(<UpdateGroupRequest as utoipa::PartialSchema>::schema()),
        ] {
            let properties = &request.unwrap()["properties"];
            assert_range(&properties["lat"], 0.001, |lat| {
                Coordinates::new("lat", lat, "lon", 0.0).is_ok()
            });
            assert_range(&properties["lon"], 0.001, |lon| {
                Coordinates::new("lat", 0.0, "lon", lon).is_ok()
            });
            assert_range(&properties["radius_m"], 0.001, |r| {
                Radius::parse("radius_m", r).is_ok()
            });
            let tags = &properties["tags"];
            assert_lengths(&tags["items"], 'a', |tag| {
                Tags::parse("tags", &[tag.to_owned()]).is_ok()
            });
            assert_items(tags, |n| {
                let many: Vec<String> = (0..n).map(|i| format!("t{i}")).collect();
                Tags::parse("tags", &many).is_ok()
            });
        }
        let radius = param::<ListGroupsQuery>("radius");
        assert_eq!(radius["maximum"], MAX_RADIUS_M);
        assert_eq!(radius["exclusiveMinimum"], 0.0);
    }
}
