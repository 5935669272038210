//! Request and response bodies of the opportunity routes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::models::OpportunityRow;
use crate::db::utc;

/// A call for volunteers.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOpportunityRequest {
    /// 3 to 120 characters once trimmed.
    #[schema(example = "Litter pick on the green", min_length = 3, max_length = 120)]
    pub title: String,
    /// Plain text, at most 4000 characters once trimmed.
    #[serde(default)]
    #[schema(max_length = 4000)]
    pub description: String,
    /// The issue this is for, if any.
    pub issue_id: Option<String>,
    /// Where to meet (required unless `online`): WGS84 latitude, −90 to 90, with `lon`.
    #[schema(minimum = -90, maximum = 90)]
    pub lat: Option<f64>,
    /// WGS84 longitude, −180 to 180.
    #[schema(minimum = -180, maximum = 180)]
    pub lon: Option<f64>,
    /// At most 300 characters once trimmed; blank is the same as none.
    #[schema(max_length = 300)]
    pub address: Option<String>,
    #[serde(default)]
    pub online: bool,
    pub starts_at: DateTime<Utc>,
    /// After `starts_at`, at most 30 days later.
    pub ends_at: DateTime<Utc>,
    /// Places for volunteers (time and skill pledges), 1 to 10000; `null` for unlimited.
    #[schema(minimum = 1, maximum = 10000)]
    pub capacity: Option<i32>,
    /// Skill tags wanted: at most 20, each 1 to 30 characters of `a-z`, `0-9` and `-` once
    /// trimmed and lower-cased.
    #[serde(default)]
    #[schema(max_items = 20, min_length = 1, max_length = 30)]
    pub skills: Vec<String>,
    /// Plain text, at most 4000 characters once trimmed.
    #[serde(default)]
    #[schema(max_length = 4000)]
    pub safety_notes: String,
    /// Volunteers must acknowledge the safety notes when pledging.
    #[serde(default)]
    pub safety_ack_required: bool,
    /// Informational minimum age (0 to 120).
    #[schema(minimum = 0, maximum = 120)]
    pub min_age: Option<i32>,
    /// Confirm pledges that get a place at once (default `true`); otherwise organisers
    /// confirm them.
    #[serde(default = "yes")]
    pub auto_confirm: bool,
    /// `draft` (organisers only) or `published` (default).
    #[schema(example = "published", pattern = "^(draft|published)$")]
    #[serde(default = "published")]
    pub status: String,
}

fn yes() -> bool {
    true
}

fn published() -> String {
    "published".into()
}

/// Changes to an opportunity. `status` moves it: `draft` → `published` or `cancelled`;
/// `published` → `cancelled` (withdraws every pledge) or `completed`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOpportunityRequest {
    /// 3 to 120 characters once trimmed.
    #[schema(min_length = 3, max_length = 120)]
    pub title: Option<String>,
    /// At most 4000 characters once trimmed.
    #[schema(max_length = 4000)]
    pub description: Option<String>,
    /// 1 to 300 characters once trimmed.
    #[schema(min_length = 1, max_length = 300)]
    pub address: Option<String>,
    pub starts_at: Option<DateTime<Utc>>,
    /// After `starts_at`, at most 30 days later.
    pub ends_at: Option<DateTime<Utc>>,
    /// 1 to 10000, not below the places already taken; raising it promotes the waitlist.
    #[schema(minimum = 1, maximum = 10000)]
    pub capacity: Option<i32>,
    /// Replaces every skill: at most 20, each 1 to 30 characters of `a-z`, `0-9` and `-`
    /// once trimmed and lower-cased.
    #[schema(max_items = 20, min_length = 1, max_length = 30)]
    pub skills: Option<Vec<String>>,
    /// At most 4000 characters once trimmed.
    #[schema(max_length = 4000)]
    pub safety_notes: Option<String>,
    pub safety_ack_required: Option<bool>,
    /// 0 to 120.
    #[schema(minimum = 0, maximum = 120)]
    pub min_age: Option<i32>,
    pub auto_confirm: Option<bool>,
    /// `draft`, `published`, `cancelled` or `completed`, along the moves above.
    #[schema(pattern = "^(draft|published|cancelled|completed)$")]
    pub status: Option<String>,
}

/// The search of `GET /opportunities`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListOpportunitiesQuery {
    /// `lat,lon`: opportunities within `radius` metres of this point.
    #[param(example = "51.5072,-0.1276")]
    pub near: Option<String>,
    /// Metres around `near`: above 0, at most 50000; default 5000.
    #[param(exclusive_minimum = 0, maximum = 50000)]
    pub radius: Option<f64>,
    /// Only opportunities still running at or after this time (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Only opportunities starting at or before this time (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// A skill tag: 1 to 30 characters of `a-z`, `0-9` and `-` once trimmed and
    /// lower-cased.
    #[param(min_length = 1, max_length = 30)]
    pub skill: Option<String>,
    /// A group id.
    pub group: Option<String>,
    /// An issue id.
    pub issue: Option<String>,
    /// How many opportunities to return: 1 to 100, default 20.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    #[param(max_length = 512)]
    pub cursor: Option<String>,
}

/// An opportunity.
#[derive(Debug, Serialize, ToSchema)]
pub struct OpportunityView {
    pub id: String,
    /// The group calling for volunteers; `null` for a partner's own call.
    pub group_id: Option<String>,
    /// The partner client (a charity, the council) that published it, if a partner did.
    pub partner_id: Option<String>,
    pub issue_id: Option<String>,
    pub title: String,
    pub description: String,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub address: Option<String>,
    pub online: bool,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// `null`: unlimited.
    pub capacity: Option<i32>,
    /// Places taken by pledged or confirmed volunteers.
    pub places_taken: i32,
    /// `null` when unlimited.
    pub places_left: Option<i32>,
    pub waitlist_count: i32,
    pub skills: Vec<String>,
    pub safety_notes: String,
    pub safety_ack_required: bool,
    pub min_age: Option<i32>,
    pub auto_confirm: bool,
    /// `draft`, `published`, `cancelled` or `completed`.
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Staff only, on `GET /opportunities/{id}`: whether moderators took it out of public
    /// view (then it is in no list and `404` for everyone else). Absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hidden: Option<bool>,
}

/// Skills are stored as `,a,b,` so a LIKE on `,tag,` matches whole tags only.
pub fn skills_column(skills: &[String]) -> String {
    if skills.is_empty() {
        String::new()
    } else {
        format!(",{},", skills.join(","))
    }
}

impl From<OpportunityRow> for OpportunityView {
    fn from(row: OpportunityRow) -> Self {
        Self {
            places_left: row.capacity.map(|c| (c - row.confirmed_count).max(0)),
            skills: row
                .skills
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            id: row.id,
            group_id: row.group_id,
            partner_id: row.partner_client_id,
            issue_id: row.issue_id,
            title: row.title,
            description: row.description,
            lat: row.lat,
            lon: row.lon,
            address: row.address,
            online: row.online,
            starts_at: utc(row.starts_at),
            ends_at: utc(row.ends_at),
            capacity: row.capacity,
            places_taken: row.confirmed_count,
            waitlist_count: row.waitlist_count,
            safety_notes: row.safety_notes,
            safety_ack_required: row.safety_ack_required,
            min_age: row.min_age,
            auto_confirm: row.auto_confirm,
            status: row.status,
            created_at: utc(row.created_at),
            updated_at: utc(row.updated_at),
            hidden: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Address, Coordinates, Description, Title, tag_key};
    use crate::openapi::bounds::{assert_lengths, assert_range, param, property};

    #[test]
    fn documented_lengths_are_the_enforced_ones() {
        for title in [
            property::<CreateOpportunityRequest>("title"),
            property::<UpdateOpportunityRequest>("title"),
        ] {
            assert_lengths(&title, 'é', |t| Title::parse("t", t).is_ok());
        }
        for text in [
            property::<CreateOpportunityRequest>("description"),
            property::<CreateOpportunityRequest>("safety_notes"),
            property::<UpdateOpportunityRequest>("description"),
            property::<UpdateOpportunityRequest>("safety_notes"),
        ] {
            assert_lengths(&text, 'é', |d| Description::parse("d", d).is_ok());
        }
        // A blank address is none when creating; an edit must give one.
        assert_lengths(
            &property::<CreateOpportunityRequest>("address"),
            'é',
            |a| a.trim().is_empty() || Address::parse("a", a).is_ok(),
        );
        assert_lengths(
            &property::<UpdateOpportunityRequest>("address"),
            'é',
            |a| Address::parse("a", a).is_ok(),
        );
        for skills in [
            property::<CreateOpportunityRequest>("skills"),
            property::<UpdateOpportunityRequest>("skills"),
        ] {
            assert_lengths(&skills["items"], 'a', |s| tag_key(s).is_some());
        }
        assert_lengths(&param::<ListOpportunitiesQuery>("skill"), 'a', |s| {
            tag_key(s).is_some()
        });
        assert_range(&property::<CreateOpportunityRequest>("lat"), 0.001, |lat| {
            Coordinates::new("lat", lat, "lon", 0.0).is_ok()
        });
        assert_range(&property::<CreateOpportunityRequest>("lon"), 0.001, |lon| {
            Coordinates::new("lat", 0.0, "lon", lon).is_ok()
        });
    }
}
