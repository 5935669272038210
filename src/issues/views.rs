//! Request and response bodies of the issue routes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::lifecycle::Status;
use super::models::IssueRow;
use crate::db::utc;

/// A new report.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateIssueRequest {
    /// A category code from `GET /categories` (an active one; at most 50 characters).
    #[schema(example = "pothole", max_length = 50)]
    pub category: String,
    /// 3 to 120 characters once trimmed; no control characters but tabs and line breaks.
    #[schema(
        example = "Deep pothole outside the school",
        min_length = 3,
        max_length = 120
    )]
    pub title: String,
    /// Plain text, at most 4000 characters once trimmed.
    #[schema(
        example = "About a metre wide; cyclists swerve into traffic.",
        max_length = 4000
    )]
    #[serde(default)]
    pub description: String,
    /// WGS84 latitude, −90 to 90.
    #[schema(example = 51.5072, minimum = -90, maximum = 90)]
    pub lat: f64,
    /// WGS84 longitude, −180 to 180.
    #[schema(example = -0.1276, minimum = -180, maximum = 180)]
    pub lon: f64,
    /// A human-readable address, at most 300 characters once trimmed; blank is the same as
    /// none.
    #[schema(example = "12 High Street", max_length = 300)]
    pub address: Option<String>,
    /// Answers to the category's questions, keyed by question code (a category asks at
    /// most 30). A `string` answer takes at most 500 characters, a `text` one 4000.
    #[schema(value_type = Object, example = json!({"size": "medium"}))]
    #[serde(default)]
    pub answers: serde_json::Map<String, serde_json::Value>,
    /// Hide the reporter from the public (staff still see who reported it).
    #[serde(default)]
    pub anonymous: bool,
}

/// Changes to an issue. The reporter may edit while the issue is `reported`; staff at any
/// time (and only staff may change the category).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateIssueRequest {
    /// 3 to 120 characters once trimmed.
    #[schema(min_length = 3, max_length = 120)]
    pub title: Option<String>,
    /// At most 4000 characters once trimmed.
    #[schema(max_length = 4000)]
    pub description: Option<String>,
    /// At most 300 characters once trimmed; `null` or blank clears it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, max_length = 300)]
    pub address: Option<Option<String>>,
    /// Replaces every answer; validated against the (possibly new) category, as on
    /// creation.
    #[schema(value_type = Option<Object>)]
    pub answers: Option<serde_json::Map<String, serde_json::Value>>,
    /// Staff only: an active category's code (at most 50 characters).
    #[schema(max_length = 50)]
    pub category: Option<String>,
}

fn double_option<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// A move through the lifecycle.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ChangeStatusRequest {
    pub status: Status,
    /// Why: required, 1 to 2000 characters once trimmed (for `declined`, the council's
    /// reason).
    #[schema(min_length = 1, max_length = 2000)]
    pub note: String,
    /// With `status: duplicate`, the issue this one duplicates.
    pub duplicate_of: Option<String>,
}

/// A comment.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateCommentRequest {
    /// 1 to 2000 characters of plain text, once trimmed.
    #[schema(min_length = 1, max_length = 2000)]
    pub body: String,
}

/// The search parameters of `GET /issues`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListIssuesQuery {
    /// `lat,lon`: issues within `radius` of this point, nearest first.
    #[param(example = "51.5072,-0.1276")]
    pub near: Option<String>,
    /// Metres around `near`: above 0, at most 50000; default 1000.
    #[param(exclusive_minimum = 0, maximum = 50000)]
    pub radius: Option<f64>,
    /// `min_lon,min_lat,max_lon,max_lat`: issues inside the box, newest first. At most 10
    /// degrees across in each direction.
    #[param(example = "-0.2,51.4,-0.0,51.6")]
    pub bbox: Option<String>,
    /// Category codes, comma-separated (at most 20).
    pub category: Option<String>,
    /// Statuses, comma-separated (at most 20).
    pub status: Option<String>,
    /// Text to find in the title or description: at most 100 characters once trimmed
    /// (blank is the same as none).
    #[param(max_length = 100)]
    pub q: Option<String>,
    /// `me`: only issues the caller reported (needs a token).
    pub reported_by: Option<String>,
    /// Only issues changed at or after this time (RFC 3339).
    pub updated_since: Option<String>,
    /// How many issues to return: 1 to 100, default 20.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    #[param(max_length = 512)]
    pub cursor: Option<String>,
}

/// The parameters of `GET /issues/duplicates`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DuplicatesQuery {
    /// WGS84 latitude, −90 to 90.
    #[param(minimum = -90, maximum = 90)]
    pub lat: f64,
    /// WGS84 longitude, −180 to 180.
    #[param(minimum = -180, maximum = 180)]
    pub lon: f64,
    /// A category code (1 to 50 bytes).
    #[param(min_length = 1, max_length = 50)]
    pub category: String,
}

/// The category of an issue, in brief.
#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryRef {
    pub code: String,
    pub name: String,
}

/// Who reported an issue (hidden from the public when the report is anonymous).
#[derive(Debug, Serialize, ToSchema)]
pub struct PersonRef {
    pub id: String,
    pub display_name: String,
}

/// The community group that adopted an issue, in brief.
#[derive(Debug, Serialize, ToSchema)]
pub struct GroupRef {
    pub id: String,
    pub name: String,
}

/// The partner client (a charity, the council's systems) that made a report for a
/// resident, through Open311 or the REST API.
#[derive(Debug, Serialize, ToSchema)]
pub struct PartnerRef {
    pub id: String,
    pub name: String,
}

/// An issue.
#[derive(Debug, Serialize, ToSchema)]
pub struct IssueView {
    pub id: String,
    pub category: CategoryRef,
    pub title: String,
    pub description: String,
    pub lat: f64,
    pub lon: f64,
    pub address: Option<String>,
    #[schema(value_type = Object)]
    pub answers: serde_json::Value,
    pub status: Status,
    /// `true` when the reporter asked to stay anonymous.
    pub anonymous: bool,
    /// The reporter; `null` to the public (and other citizens) on anonymous reports.
    pub reporter: Option<PersonRef>,
    /// The partner that made the report for a resident; `null` for residents' own reports.
    pub reported_via: Option<PartnerRef>,
    /// For `duplicate` issues: the canonical one.
    pub duplicate_of: Option<String>,
    /// The community group that took the issue on; `null` when none has.
    pub adopted_by: Option<GroupRef>,
    pub support_count: i32,
    pub follower_count: i32,
    pub photo_count: i32,
    /// Metres from the `near` point, on near searches.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distance_m: Option<f64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When it was resolved, fixed, declined or marked duplicate.
    pub closed_at: Option<DateTime<Utc>>,
}

impl IssueView {
    /// Builds the view; `reporter` is `None` when the viewer may not see who reported.
    pub fn new(row: IssueRow, category_name: String, reporter: Option<PersonRef>) -> Self {
        Self {
            category: CategoryRef {
                code: row.category_code,
                name: category_name,
            },
            id: row.id,
            title: row.title,
            description: row.description,
            lat: row.lat,
            lon: row.lon,
            address: row.address,
            answers: serde_json::from_str(&row.answers).unwrap_or_default(),
            status: Status::parse(&row.status).unwrap_or(Status::Reported),
            anonymous: row.anonymous,
            reporter,
            reported_via: None,
            duplicate_of: row.duplicate_of,
            adopted_by: None,
            support_count: row.support_count,
            follower_count: row.follower_count,
            photo_count: row.photo_count,
            distance_m: None,
            created_at: utc(row.created_at),
            updated_at: utc(row.updated_at),
            closed_at: row.closed_at.map(utc),
        }
    }
}

/// One issue in full, as `GET /issues/{id}` shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct IssueDetail {
    #[serde(flatten)]
    pub issue: IssueView,
    /// The photos, oldest first.
    pub photos: Vec<crate::photos::PhotoView>,
    /// Whether the caller says "me too" (`null` when not signed in).
    pub supported_by_me: Option<bool>,
    /// Whether the caller follows it (`null` when not signed in).
    pub followed_by_me: Option<bool>,
    /// The statuses the caller may move it to now (see the lifecycle table).
    pub allowed_transitions: Vec<Status>,
    /// Staff only. On reports made through Open311 with contact details: what the
    /// client sent about the resident (`email`, `first_name`, `last_name`, `phone`,
    /// `device_id`, `account_id`). On a resident's report that is with the council
    /// (escalated and after), for officers and admins, while the reporter consents to
    /// `contact_council`: `account_id`, `display_name`, `email`. Absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub reporter_contact: Option<serde_json::Value>,
    /// Staff only: whether moderators took the issue out of public view (then it is in
    /// no list, and `404` for everyone else). Absent for everyone else.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hidden: Option<bool>,
}

/// The answer to a report: the new issue, and open issues close by in the same category
/// that may be the same problem.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportedIssue {
    #[serde(flatten)]
    pub issue: IssueView,
    pub possible_duplicates: Vec<IssueView>,
}

/// Support ("me too") or follow state after a change.
#[derive(Debug, Serialize, ToSchema)]
pub struct SupportState {
    pub supported: bool,
    pub support_count: i32,
    /// The status after this support (it may have escalated the issue).
    pub status: Status,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FollowState {
    pub followed: bool,
    pub follower_count: i32,
}

/// Who did something on the timeline.
#[derive(Debug, Serialize, ToSchema)]
pub struct TimelineActor {
    /// The account (or partner client), when it may be shown (not for anonymous
    /// reporters, staff or Civitas).
    pub id: Option<String>,
    /// A display name, `anonymous`, a staff role title, or `Civitas` for automatic changes.
    pub display_name: String,
    /// `citizen`, `moderator`, `officer`, `admin`, `partner` (a partner client, with its
    /// id and name) or `system`.
    pub role: String,
}

/// One entry of an issue's public history.
#[derive(Debug, Serialize, ToSchema)]
pub struct TimelineEntry {
    pub id: String,
    /// `reported`, `comment`, `status_changed`, `edited`, `photo_added`,
    /// `marked_duplicate`, `duplicate_merged`, `adopted`, `adoption_released` (with
    /// `data.group_id` and `data.group_name`).
    pub kind: String,
    pub actor: TimelineActor,
    pub from_status: Option<Status>,
    pub to_status: Option<Status>,
    /// The comment or note; `null` for comments their author deleted, and for comments
    /// removed by moderators (except to staff).
    pub text: Option<String>,
    /// Extra detail (changed fields, photo id, canonical issue…).
    #[schema(value_type = Option<Object>)]
    pub data: Option<serde_json::Value>,
    /// `true` for a comment its author deleted.
    pub deleted: bool,
    /// `true` for a comment moderators removed from public view: show it as "removed by
    /// moderators". Its `text` is `null`, except to staff.
    pub removed_by_moderators: bool,
    pub created_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Address, Coordinates, Description, Note, Title};
    use crate::issues::routes::MAX_RADIUS_M;
    use crate::openapi::bounds::{assert_lengths, assert_range, param, property};

    #[test]
    fn documented_bounds_are_the_enforced_ones() {
        for title in [
            property::<CreateIssueRequest>("title"),
            property::<UpdateIssueRequest>("title"),
        ] {
            assert_lengths(&title, 'é', |t| Title::parse("t", t).is_ok());
        }
        for description in [
            property::<CreateIssueRequest>("description"),
            property::<UpdateIssueRequest>("description"),
        ] {
            assert_lengths(&description, 'é', |d| Description::parse("d", d).is_ok());
        }
        // A blank address is no address.
        for address in [
            property::<CreateIssueRequest>("address"),
            property::<UpdateIssueRequest>("address"),
        ] {
            assert_lengths(&address, 'é', |a| {
                a.trim().is_empty() || Address::parse("a", a).is_ok()
            });
        }
        for note in [
            property::<ChangeStatusRequest>("note"),
            property::<CreateCommentRequest>("body"),
        ] {
            assert_lengths(&note, 'é', |n| Note::parse("n", n).is_ok());
        }
        let lat = |lat| Coordinates::new("lat", lat, "lon", 0.0).is_ok();
        let lon = |lon| Coordinates::new("lat", 0.0, "lon", lon).is_ok();
        assert_range(&property::<CreateIssueRequest>("lat"), 0.001, lat);
        assert_range(&property::<CreateIssueRequest>("lon"), 0.001, lon);
        assert_range(&param::<DuplicatesQuery>("lat"), 0.001, lat);
        assert_range(&param::<DuplicatesQuery>("lon"), 0.001, lon);
        let radius = param::<ListIssuesQuery>("radius");
        assert_eq!(radius["maximum"], MAX_RADIUS_M);
        assert_eq!(radius["exclusiveMinimum"], 0.0);
    }
}
