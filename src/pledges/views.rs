//! Request and response bodies of the pledge routes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::models::PledgeRow;
use crate::db::utc;

/// What is pledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PledgeKind {
    /// `hours` of time.
    Time,
    /// A `skill` (tag) for `hours`.
    Skill,
    /// `materials` (a description) and a `quantity`.
    Materials,
    /// `amount_minor` in `currency` (a promise: Civitas processes no payments).
    Money,
}

impl PledgeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Time => "time",
            Self::Skill => "skill",
            Self::Materials => "materials",
            Self::Money => "money",
        }
    }
}

/// A new pledge. The fields of another kind than `kind` are refused (`not_for_kind`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePledgeRequest {
    pub kind: PledgeKind,
    /// For `time` and `skill` (required): 0.25 to 1000.
    #[schema(minimum = 0.25, maximum = 1000)]
    pub hours: Option<f64>,
    /// For `skill` (required): a tag, 1 to 30 characters of `a-z`, `0-9` and `-` once
    /// trimmed and lower-cased.
    #[schema(min_length = 1, max_length = 30)]
    pub skill: Option<String>,
    /// For `materials` (required): what, 1 to 300 characters once trimmed.
    #[schema(min_length = 1, max_length = 300)]
    pub materials: Option<String>,
    /// For `materials` (required): how many, 1 to 1000000.
    #[schema(minimum = 1, maximum = 1000000)]
    pub quantity: Option<i32>,
    /// For `money` (required): the amount in minor units (pence, cents), 1 to 100000000.
    #[schema(minimum = 1, maximum = 100000000)]
    pub amount_minor: Option<i64>,
    /// For `money` (required): an ISO 4217 code such as `GBP`.
    #[schema(example = "GBP", pattern = "^[A-Z]{3}$")]
    pub currency: Option<String>,
    /// At most 1000 characters once trimmed; blank is the same as none.
    #[schema(max_length = 1000)]
    pub note: Option<String>,
    /// A condition: "only if at least this many people pledge" (2 to 10000)…
    #[schema(minimum = 2, maximum = 10000)]
    pub min_pledgers: Option<i32>,
    /// …"by this time". Both or neither; in the future.
    pub condition_deadline: Option<DateTime<Utc>>,
    /// Required `true` when the opportunity asks volunteers to acknowledge its safety notes.
    #[serde(default)]
    pub safety_acknowledged: bool,
}

/// Changes to a pledge. The pledger may change the `note` and the amount fields of their
/// kind while the pledge is live; organisers set `status` to `confirmed` (a pledged or
/// waitlisted pledge, if a place is free) or `no_show` (after the end).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdatePledgeRequest {
    /// At most 1000 characters once trimmed; blank clears it.
    #[schema(max_length = 1000)]
    pub note: Option<String>,
    /// Time and skill pledges: 0.25 to 1000.
    #[schema(minimum = 0.25, maximum = 1000)]
    pub hours: Option<f64>,
    /// Materials pledges: 1 to 1000000.
    #[schema(minimum = 1, maximum = 1000000)]
    pub quantity: Option<i32>,
    /// Money pledges: 1 to 100000000 minor units.
    #[schema(minimum = 1, maximum = 100000000)]
    pub amount_minor: Option<i64>,
    /// A pledge status; organisers move a pledge to `confirmed` or `no_show`.
    #[schema(
        example = "confirmed",
        pattern = "^(conditional|pledged|waitlisted|confirmed|withdrawn|fulfilled|no_show|lapsed)$"
    )]
    pub status: Option<String>,
}

/// The pledger's claim of hours done.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ClaimRequest {
    /// 0.25 to 1000.
    #[schema(minimum = 0.25, maximum = 1000)]
    pub hours: f64,
}

/// An organiser's verdict on a claim.
#[derive(Debug, Deserialize, ToSchema)]
pub struct VerificationRequest {
    pub accepted: bool,
    /// When accepting: hours verified, above 0 and at most those claimed (so at most
    /// 1000); defaults to the claim. Not read when rejecting.
    #[schema(exclusive_minimum = 0, maximum = 1000)]
    pub hours: Option<f64>,
    /// Required when rejecting: 1 to 2000 characters once trimmed. Not read when
    /// accepting.
    #[schema(min_length = 1, max_length = 2000)]
    pub reason: Option<String>,
}

/// Progress of a conditional pledge.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConditionView {
    pub min_pledgers: i32,
    pub deadline: DateTime<Utc>,
    /// People with a live pledge for the same opportunity or issue now.
    pub current_pledgers: i64,
    pub met: bool,
}

/// A pledge, as its pledger and the organisers see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PledgeView {
    pub id: String,
    pub account_id: Option<String>,
    pub opportunity_id: Option<String>,
    pub issue_id: Option<String>,
    pub kind: String,
    pub hours: Option<f64>,
    pub skill: Option<String>,
    pub materials: Option<String>,
    pub quantity: Option<i32>,
    pub amount_minor: Option<i64>,
    pub currency: Option<String>,
    pub note: Option<String>,
    /// `conditional`, `pledged`, `waitlisted`, `confirmed`, `withdrawn`, `fulfilled`,
    /// `no_show` or `lapsed`.
    pub status: String,
    pub condition: Option<ConditionView>,
    pub claimed_hours: Option<f64>,
    pub claimed_at: Option<DateTime<Utc>>,
    pub verified_hours: Option<f64>,
    pub verified_at: Option<DateTime<Utc>>,
    pub rejection_reason: Option<String>,
    pub safety_acknowledged: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl PledgeView {
    pub fn new(row: PledgeRow, current_pledgers: i64) -> Self {
        let condition = match (row.min_pledgers, row.condition_deadline) {
            (Some(min_pledgers), Some(deadline)) => Some(ConditionView {
                min_pledgers,
                deadline: utc(deadline),
                current_pledgers,
                met: current_pledgers >= i64::from(min_pledgers),
            }),
            _ => None,
        };
        Self {
            id: row.id,
            account_id: row.account_id,
            opportunity_id: row.opportunity_id,
            issue_id: row.issue_id,
            kind: row.kind,
            hours: row.hours,
            skill: row.skill,
            materials: row.materials,
            quantity: row.quantity,
            amount_minor: row.amount_minor,
            currency: row.currency,
            note: row.note,
            status: row.status,
            condition,
            claimed_hours: row.claimed_hours,
            claimed_at: row.claimed_at.map(utc),
            verified_hours: row.verified_hours,
            verified_at: row.verified_at.map(utc),
            rejection_reason: row.rejection_reason,
            safety_acknowledged: row.safety_acknowledged,
            created_at: utc(row.created_at),
            updated_at: utc(row.updated_at),
        }
    }
}

/// A citizen's own participation record.
#[derive(Debug, Serialize, ToSchema)]
pub struct MyParticipation {
    /// Hours in live time and skill pledges (pledged, confirmed, fulfilled).
    pub hours_pledged: f64,
    /// Hours organisers verified.
    pub hours_verified: f64,
    /// Claims awaiting an organiser.
    pub pending_claims: i64,
    pub issues_reported: i64,
    /// Issues they reported that the community resolved.
    pub issues_resolved: i64,
    /// Money promised, per currency, in minor units (only the citizen sees this).
    pub money_pledged: Vec<MoneyTotal>,
    pub groups: Vec<GroupMembership>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MoneyTotal {
    pub currency: String,
    pub amount_minor: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GroupMembership {
    pub id: String,
    pub name: String,
    pub role: String,
}

/// The public summary of a citizen's participation: no money, no pending claims, no
/// anonymous reports.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicParticipation {
    pub account_id: String,
    /// The citizen's name, only while they consent to `public_name` (see
    /// `PUT /me/consents/public_name`); `null` otherwise.
    pub display_name: Option<String>,
    pub hours_verified: f64,
    pub issues_reported: i64,
    pub issues_resolved: i64,
    pub groups: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Address, PledgeNote, tag_key};
    use crate::openapi::bounds::{assert_lengths, property};

    #[test]
    fn documented_lengths_are_the_enforced_ones() {
        // A blank note is no note.
        for note in [
            property::<CreatePledgeRequest>("note"),
            property::<UpdatePledgeRequest>("note"),
        ] {
            assert_lengths(&note, 'é', |n| {
                n.trim().is_empty() || PledgeNote::parse("note", n).is_ok()
            });
        }
        assert_lengths(&property::<CreatePledgeRequest>("materials"), 'é', |m| {
            Address::parse("materials", m).is_ok()
        });
        assert_lengths(&property::<CreatePledgeRequest>("skill"), 'a', |s| {
            tag_key(s).is_some()
        });
        assert_lengths(&property::<VerificationRequest>("reason"), 'é', |r| {
            crate::domain::Note::parse("reason", r).is_ok()
        });
    }
}
