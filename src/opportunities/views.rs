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
    /// 3 to 120 characters.
    #[schema(example = "Litter pick on the green")]
    pub title: String,
    /// Plain text, at most 4000 characters.
    #[serde(default)]
    pub description: String,
    /// The issue this is for, if any.
    pub issue_id: Option<String>,
    /// Where to meet (required unless `online`).
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub address: Option<String>,
    #[serde(default)]
    pub online: bool,
    pub starts_at: DateTime<Utc>,
    /// After `starts_at`, at most 30 days later.
    pub ends_at: DateTime<Utc>,
    /// Places for volunteers (time and skill pledges), 1 to 10000; `null` for unlimited.
    pub capacity: Option<i32>,
    /// Skill tags wanted (at most 20, each `[a-z0-9-]`, 1 to 30 characters).
    #[serde(default)]
    pub skills: Vec<String>,
    #[serde(default)]
    pub safety_notes: String,
    /// Volunteers must acknowledge the safety notes when pledging.
    #[serde(default)]
    pub safety_ack_required: bool,
    /// Informational minimum age (0 to 120).
    pub min_age: Option<i32>,
    /// Confirm pledges that get a place at once (default `true`); otherwise organisers
    /// confirm them.
    #[serde(default = "yes")]
    pub auto_confirm: bool,
    /// `draft` (organisers only) or `published` (default).
    #[schema(example = "published")]
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
    pub title: Option<String>,
    pub description: Option<String>,
    pub address: Option<String>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    /// Not below the places already taken; raising it promotes the waitlist.
    pub capacity: Option<i32>,
    pub skills: Option<Vec<String>>,
    pub safety_notes: Option<String>,
    pub safety_ack_required: Option<bool>,
    pub min_age: Option<i32>,
    pub auto_confirm: Option<bool>,
    pub status: Option<String>,
}

/// The search of `GET /opportunities`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListOpportunitiesQuery {
    /// `lat,lon`: opportunities within `radius` metres (default 5000, at most 50000).
    pub near: Option<String>,
    pub radius: Option<f64>,
    /// Only opportunities still running at or after this time (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Only opportunities starting at or before this time (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// A skill tag.
    pub skill: Option<String>,
    /// A group id.
    pub group: Option<String>,
    /// An issue id.
    pub issue: Option<String>,
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
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
        }
    }
}
