//! Moderation: citizens flag content (`POST /flags`); enough open flags from distinct
//! citizens (`CIVITAS_FLAG_THRESHOLD`) hide an item pending review; moderators work the
//! queue (`GET /moderation/flags`, oldest first) and act (`POST /moderation/actions`):
//! hide, restore, dismiss, redact personal data, suspend, ban, reinstate. Every action is
//! written to the audit log in the transaction that makes it.
//!
//! This module only sets `hidden_at`; what a hidden item means for each public route is
//! decided where that route lives. Suspensions are enforced by `auth::VerifiedCitizen`,
//! bans by revoking every session (and by login and refresh refusing the account).
//!
//! `views` holds the wire types, `models` the flag rows and queries, `targets` what
//! each kind of flaggable thing is in the database, `routes` the flag and queue routes
//! and `actions` the moderator's actions.

pub mod actions;
pub mod models;
pub mod routes;
pub mod targets;
pub mod views;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::FieldError;

/// What a flag or a moderation action is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TargetType {
    /// An issue report (its title and description).
    Issue,
    /// A comment on an issue's timeline.
    Comment,
    /// A photo of an issue.
    Photo,
    /// A community group (its name and description).
    Group,
    /// A volunteering opportunity (its title and description).
    Opportunity,
    /// A citizen's account: only for `suspend`, `ban` and `reinstate`; never flagged.
    Account,
}

impl TargetType {
    pub const ALL: [Self; 6] = [
        Self::Issue,
        Self::Comment,
        Self::Photo,
        Self::Group,
        Self::Opportunity,
        Self::Account,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Issue => "issue",
            Self::Comment => "comment",
            Self::Photo => "photo",
            Self::Group => "group",
            Self::Opportunity => "opportunity",
            Self::Account => "account",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == raw)
    }

    /// Content citizens publish (everything but accounts): what can be flagged, hidden,
    /// restored, dismissed and redacted.
    pub fn is_content(self) -> bool {
        self != Self::Account
    }

    /// Parses a request field naming content (not an account).
    pub fn parse_content(field: &str, raw: &str) -> Result<Self, FieldError> {
        Self::parse(raw).filter(|t| t.is_content()).ok_or_else(|| {
            FieldError::new(
                field,
                "unknown_target_type",
                "One of `issue`, `comment`, `photo`, `group`, `opportunity`.",
            )
        })
    }
}

/// Why a citizen flags something.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FlagReason {
    /// Advertising, repeated or off-topic posts.
    Spam,
    /// Insults, harassment, hate.
    Abuse,
    /// Someone's name, address, phone number, face or number plate.
    PersonalData,
    /// Something that puts people at risk.
    Dangerous,
    /// Anything else: say what in `details`.
    Other,
}

impl FlagReason {
    pub const ALL: [Self; 5] = [
        Self::Spam,
        Self::Abuse,
        Self::PersonalData,
        Self::Dangerous,
        Self::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Spam => "spam",
            Self::Abuse => "abuse",
            Self::PersonalData => "personal_data",
            Self::Dangerous => "dangerous",
            Self::Other => "other",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == raw)
    }

    /// Parses a request field.
    pub fn parse_field(field: &str, raw: &str) -> Result<Self, FieldError> {
        Self::parse(raw).ok_or_else(|| {
            FieldError::new(
                field,
                "unknown_reason",
                "One of `spam`, `abuse`, `personal_data`, `dangerous`, `other`.",
            )
        })
    }
}

/// Where a flag stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagStatus {
    /// Waiting for a moderator.
    Open,
    /// A moderator agreed: the item was hidden or redacted.
    Upheld,
    /// A moderator found nothing wrong.
    Dismissed,
}

impl FlagStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Upheld => "upheld",
            Self::Dismissed => "dismissed",
        }
    }
}

/// What a moderator does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Take the item out of public view; its open flags are upheld.
    Hide,
    /// Put a hidden item back; its open flags are dismissed.
    Restore,
    /// Find nothing wrong: the open flags are dismissed and an item hidden pending
    /// review is restored.
    Dismiss,
    /// Edit personal data out of the item's text (`fields`); the item stays (or becomes)
    /// visible and its open flags are upheld.
    Redact,
    /// Stop an account from posting until `until` (it can still sign in and read).
    Suspend,
    /// Stop an account for good: every session ends at once and it cannot sign in.
    Ban,
    /// Lift a suspension or ban.
    Reinstate,
}

impl Action {
    pub const ALL: [Self; 7] = [
        Self::Hide,
        Self::Restore,
        Self::Dismiss,
        Self::Redact,
        Self::Suspend,
        Self::Ban,
        Self::Reinstate,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hide => "hide",
            Self::Restore => "restore",
            Self::Dismiss => "dismiss",
            Self::Redact => "redact",
            Self::Suspend => "suspend",
            Self::Ban => "ban",
            Self::Reinstate => "reinstate",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == raw)
    }

    /// Whether the action is on an account (the others are on content).
    pub fn on_account(self) -> bool {
        matches!(self, Self::Suspend | Self::Ban | Self::Reinstate)
    }

    /// The audit-log action.
    pub fn audit_name(self) -> &'static str {
        match self {
            Self::Hide => "moderation.hide",
            Self::Restore => "moderation.restore",
            Self::Dismiss => "moderation.dismiss",
            Self::Redact => "moderation.redact",
            Self::Suspend => "moderation.suspend",
            Self::Ban => "moderation.ban",
            Self::Reinstate => "moderation.reinstate",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for kind in TargetType::ALL {
            assert_eq!(TargetType::parse(kind.as_str()), Some(kind));
        }
        for reason in FlagReason::ALL {
            assert_eq!(FlagReason::parse(reason.as_str()), Some(reason));
        }
        for action in Action::ALL {
            assert_eq!(Action::parse(action.as_str()), Some(action));
            assert_eq!(
                action.audit_name(),
                format!("moderation.{}", action.as_str())
            );
        }
    }

    #[test]
    fn accounts_are_not_content_and_cannot_be_flagged() {
        assert!(TargetType::parse_content("target_type", "account").is_err());
        assert!(TargetType::parse_content("target_type", "nonsense").is_err());
        assert_eq!(
            TargetType::parse_content("target_type", "photo").unwrap(),
            TargetType::Photo
        );
        assert!(Action::Ban.on_account() && !Action::Hide.on_account());
    }
}
