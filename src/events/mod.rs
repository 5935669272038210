//! Domain events: recorded in the outbox by the transaction that makes a change
//! (`db::outbox::record`, `issues::timeline::record`), then dispatched by a background
//! task in every node to webhook subscriptions, the notification feed and push.

pub mod dispatcher;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::outbox_events;

/// Every event type Civitas raises, for documentation and for checking subscriptions.
pub const EVENT_TYPES: &[&str] = &[
    "issue.reported",
    "issue.commented",
    "issue.status_changed",
    "issue.edited",
    "issue.photo_added",
    "issue.marked_duplicate",
    "issue.duplicate_merged",
    "issue.adopted",
    "issue.adoption_released",
    "issue.pledged",
    "pledge.made",
    "pledge.pledged",
    "pledge.waitlisted",
    "pledge.confirmed",
    "pledge.withdrawn",
    "pledge.lapsed",
    "pledge.no_show",
    "pledge.claimed",
    "pledge.claim_rejected",
    "pledge.verified",
    "opportunity.published",
    "opportunity.updated",
    "opportunity.completed",
    "opportunity.cancelled",
    "group.member_approved",
    "webhook.disabled",
];

/// An event taken from the outbox for dispatch.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = outbox_events)]
pub struct Event {
    pub id: String,
    /// The event type, e.g. `issue.status_changed`.
    pub kind: String,
    /// `issue`, `pledge`, `opportunity`, `group` or `webhook`.
    pub subject_type: String,
    pub subject_id: String,
    /// Details as JSON (who acted, the new status, the pledgers withdrawn…).
    pub data: String,
    pub created_at: NaiveDateTime,
}

impl Event {
    /// The details as JSON (`{}` if they cannot be read).
    pub fn details(&self) -> serde_json::Value {
        serde_json::from_str(&self.data).unwrap_or_else(|_| serde_json::json!({}))
    }
}

/// Whether `event_type` matches a subscription pattern: the exact type, `*`, or a prefix
/// wildcard such as `issue.*`.
pub fn matches(pattern: &str, event_type: &str) -> bool {
    match pattern.strip_suffix('*') {
        None => pattern == event_type,
        Some(prefix) => event_type.starts_with(prefix),
    }
}

/// Whether a subscription pattern can match anything: `*`, `family.*` of a known family,
/// or a known type.
pub fn is_valid_pattern(pattern: &str) -> bool {
    pattern == "*"
        || EVENT_TYPES
            .iter()
            .any(|known| *known == pattern || (pattern.ends_with(".*") && matches(pattern, known)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_exact_types_families_and_everything() {
        assert!(matches("issue.reported", "issue.reported"));
        assert!(!matches("issue.reported", "issue.commented"));
        assert!(matches("issue.*", "issue.commented"));
        assert!(!matches("issue.*", "pledge.made"));
        assert!(matches("*", "pledge.made"));
        assert!(is_valid_pattern("pledge.*"));
        assert!(is_valid_pattern("issue.status_changed"));
        assert!(!is_valid_pattern("issue.deleted"));
        assert!(!is_valid_pattern("iss*"));
        assert!(!is_valid_pattern("nothing.*"));
    }
}
