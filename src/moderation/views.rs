//! What the moderation routes take and answer, and the checks that turn a request into
//! validated values.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDateTime, SubsecRound, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

use super::models::FlagRow;
use super::{Action, FlagReason, TargetType};
use crate::db::utc;
use crate::domain::{Description, GroupName, Note, Title};
use crate::error::{FieldError, FieldErrors};

/// The longest id a request may name.
pub const MAX_ID_LEN: usize = 64;
/// The longest `details` of a flag, in characters.
pub const MAX_DETAILS_LEN: usize = 1000;
/// The longest `reason` of a moderation action, in characters.
pub const MAX_REASON_LEN: usize = 1000;
/// How far ahead a suspension may end.
pub const MAX_SUSPENSION_DAYS: i64 = 365;

/// Trims free text (a `\r\n` counts as one newline) and bounds it: `min..=max`
/// characters, no control characters but newlines.
fn free_text(field: &str, raw: &str, min: usize, max: usize) -> Result<String, FieldError> {
    let text = raw.replace("\r\n", "\n");
    let text = text.trim();
    let length = text.chars().count();
    if length < min {
        return Err(FieldError::new(field, "required", "Must not be empty."));
    }
    if length > max {
        return Err(FieldError::new(
            field,
            "too_long",
            format!("At most {max} characters."),
        ));
    }
    if text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(FieldError::new(
            field,
            "invalid_characters",
            "Must not contain control characters other than newlines.",
        ));
    }
    Ok(text.to_owned())
}

/// An id named in a request: 1 to 64 characters.
fn target_id(field: &str, raw: &str) -> Result<String, FieldError> {
    let id = raw.trim();
    if id.is_empty() || id.chars().count() > MAX_ID_LEN || id.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            "invalid_id",
            format!("An id of 1 to {MAX_ID_LEN} characters."),
        ));
    }
    Ok(id.to_owned())
}

/// A flag on something a citizen finds wrong.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateFlagRequest {
    /// What is flagged: `issue`, `comment`, `photo`, `group` or `opportunity`.
    #[schema(value_type = TargetType, example = "comment")]
    pub target_type: String,
    /// Its id (a comment's id is its timeline entry's id).
    #[schema(max_length = 64, min_length = 1)]
    pub target_id: String,
    #[schema(value_type = FlagReason, example = "personal_data")]
    pub reason: String,
    /// What is wrong, in a few words: required for `other`; at most 1000 characters, no
    /// control characters but newlines.
    #[schema(max_length = 1000, example = "It gives my neighbour's phone number.")]
    pub details: Option<String>,
}

/// A checked [`CreateFlagRequest`].
#[derive(Debug, Clone)]
pub struct NewFlag {
    pub target: TargetType,
    pub target_id: String,
    pub reason: FlagReason,
    pub details: Option<String>,
}

impl CreateFlagRequest {
    pub fn checked(&self) -> Result<NewFlag, FieldErrors> {
        let mut errors = FieldErrors::new();
        let target = errors.check(TargetType::parse_content("target_type", &self.target_type));
        let id = errors.check(target_id("target_id", &self.target_id));
        let reason = errors.check(FlagReason::parse_field("reason", &self.reason));
        let details = self
            .details
            .as_deref()
            .filter(|d| !d.trim().is_empty())
            .and_then(|d| errors.check(free_text("details", d, 1, MAX_DETAILS_LEN)));
        if reason == Some(FlagReason::Other) && details.is_none() && self.details_blank() {
            errors.push(FieldError::new(
                "details",
                "required",
                "Say what is wrong when the reason is `other`.",
            ));
        }
        match (target, id, reason) {
            (Some(target), Some(target_id), Some(reason)) if errors.is_empty() => Ok(NewFlag {
                target,
                target_id,
                reason,
                details,
            }),
            _ => Err(errors),
        }
    }

    fn details_blank(&self) -> bool {
        self.details.as_deref().is_none_or(|d| d.trim().is_empty())
    }
}

/// A flag as its author sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct FlagView {
    pub id: String,
    pub target_type: TargetType,
    pub target_id: String,
    pub reason: FlagReason,
    pub details: Option<String>,
    /// `open` until a moderator upholds or dismisses it.
    #[schema(example = "open")]
    pub status: String,
    pub created_at: DateTime<Utc>,
}

impl From<FlagRow> for FlagView {
    fn from(row: FlagRow) -> Self {
        Self {
            target_type: TargetType::parse(&row.target_type).unwrap_or(TargetType::Issue),
            reason: FlagReason::parse(&row.reason).unwrap_or(FlagReason::Other),
            id: row.id,
            target_id: row.target_id,
            details: row.details,
            status: row.status,
            created_at: utc(row.created_at),
        }
    }
}

/// Filters and paging of the moderation queue.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QueueQuery {
    /// Only items of this kind: `issue`, `comment`, `photo`, `group`, `opportunity`.
    #[param(value_type = Option<TargetType>)]
    pub target_type: Option<String>,
    /// Only items with at least one open flag for this reason (their other open flags
    /// are still listed).
    #[param(value_type = Option<FlagReason>)]
    pub reason: Option<String>,
    /// How many items to return: 1 to 100, default 20.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page (at most 512 characters).
    #[param(max_length = 512)]
    pub cursor: Option<String>,
}

/// One open flag in the queue.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueuedFlag {
    pub id: String,
    /// Who flagged it.
    pub account_id: String,
    pub reason: FlagReason,
    pub details: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<FlagRow> for QueuedFlag {
    fn from(row: FlagRow) -> Self {
        Self {
            reason: FlagReason::parse(&row.reason).unwrap_or(FlagReason::Other),
            id: row.id,
            account_id: row.account_id,
            details: row.details,
            created_at: utc(row.created_at),
        }
    }
}

/// What was flagged, as the moderator needs to judge it (hidden or not).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(untagged)]
pub enum FlaggedContent {
    /// An issue: its title and description.
    #[schema(title = "FlaggedIssue")]
    Issue {
        issue_id: String,
        title: String,
        description: String,
    },
    /// A comment: its text and author.
    #[schema(title = "FlaggedComment")]
    Comment {
        issue_id: String,
        /// `null` once its author deleted it.
        body: Option<String>,
        author_id: Option<String>,
    },
    /// A photo: where staff fetch it.
    #[schema(title = "FlaggedPhoto")]
    Photo {
        issue_id: String,
        /// The photo, relative to this service (staff may fetch hidden ones).
        #[schema(example = "/api/v1/photos/01936f0e-7c4a-7d2e-9f3b-5a1c2d3e4f50")]
        url: String,
    },
    /// A group: its name and description.
    #[schema(title = "FlaggedGroup")]
    Group { name: String, description: String },
    /// An opportunity: its title and description.
    #[schema(title = "FlaggedOpportunity")]
    Opportunity { title: String, description: String },
}

/// One item with open flags, with every open flag on it.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueItem {
    pub target_type: TargetType,
    pub target_id: String,
    /// Whether it is out of public view (by enough flags, or a moderator).
    pub hidden: bool,
    pub hidden_at: Option<DateTime<Utc>>,
    /// How many open flags it has (one per citizen).
    pub flag_count: i64,
    /// The open flags by reason, e.g. `{"spam": 2, "abuse": 1}`.
    #[schema(value_type = Object, example = json!({"spam": 2, "abuse": 1}))]
    pub reasons: BTreeMap<String, i64>,
    /// Its oldest open flag: the queue runs oldest first by this.
    pub first_flagged_at: DateTime<Utc>,
    pub last_flagged_at: DateTime<Utc>,
    /// What was flagged; `null` if it no longer exists.
    pub content: Option<FlaggedContent>,
    /// Its open flags, oldest first.
    pub flags: Vec<QueuedFlag>,
}

/// The new text of a redaction; which fields a kind takes is listed with each. At least
/// one; the text is checked as when it was written.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RedactFields {
    /// Issue (3–120 characters) or opportunity (3–120).
    pub title: Option<String>,
    /// Issue, group or opportunity: at most 4000 characters.
    pub description: Option<String>,
    /// Comment: 1–2000 characters.
    pub body: Option<String>,
    /// Group: 3–80 characters on one line, unique ignoring case.
    pub name: Option<String>,
}

/// A moderator's action.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionRequest {
    /// `hide`, `restore`, `dismiss` and `redact` act on content; `suspend`, `ban` and
    /// `reinstate` on an account.
    #[schema(value_type = Action, example = "hide")]
    pub action: String,
    /// `issue`, `comment`, `photo`, `group`, `opportunity` or `account`.
    #[schema(value_type = TargetType, example = "comment")]
    pub target_type: String,
    #[schema(max_length = 64, min_length = 1)]
    pub target_id: String,
    /// Why: kept in the audit log. 1 to 1000 characters.
    #[schema(min_length = 1, max_length = 1000, example = "Names a private person.")]
    pub reason: String,
    /// `redact` only: the replacement text.
    #[schema(value_type = Option<RedactFields>)]
    pub fields: Option<Map<String, Value>>,
    /// `suspend` only: when the suspension ends (RFC 3339), in the future and at most 365
    /// days ahead.
    #[schema(example = "2026-12-31T00:00:00Z")]
    pub until: Option<String>,
}

/// The text fields a redaction replaces, checked for the kind of item.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Redaction {
    pub title: Option<String>,
    pub description: Option<String>,
    pub body: Option<String>,
    pub name: Option<String>,
}

/// What an action changes besides flags and visibility.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    None,
    Redact(Redaction),
    Suspend(NaiveDateTime),
}

/// A checked [`ActionRequest`].
#[derive(Debug, Clone)]
pub struct CheckedAction {
    pub action: Action,
    pub target: TargetType,
    pub target_id: String,
    pub reason: String,
    pub change: Change,
}

/// The fields each kind of content may have redacted.
fn redactable(target: TargetType) -> &'static [&'static str] {
    match target {
        TargetType::Issue | TargetType::Opportunity => &["title", "description"],
        TargetType::Comment => &["body"],
        TargetType::Group => &["name", "description"],
        TargetType::Photo | TargetType::Account => &[],
    }
}

fn redaction(
    target: TargetType,
    fields: Option<&Map<String, Value>>,
    errors: &mut FieldErrors,
) -> Redaction {
    let mut out = Redaction::default();
    let allowed = redactable(target);
    if allowed.is_empty() {
        errors.push(FieldError::new(
            "action",
            "not_for_target_type",
            format!("A {} cannot be redacted; hide it instead.", target.as_str()),
        ));
        return out;
    }
    let Some(fields) = fields.filter(|f| !f.is_empty()) else {
        errors.push(FieldError::new(
            "fields",
            "required",
            format!(
                "Give the new text of at least one of: {}.",
                allowed.join(", ")
            ),
        ));
        return out;
    };
    for (key, value) in fields {
        let field = format!("fields.{key}");
        if !allowed.contains(&key.as_str()) {
            errors.push(FieldError::new(
                &field,
                "unknown_field",
                format!("A {} has only {}.", target.as_str(), allowed.join(", ")),
            ));
            continue;
        }
        let Some(text) = value.as_str() else {
            errors.push(FieldError::new(&field, "invalid_type", "Must be a string."));
            continue;
        };
        let checked = match (target, key.as_str()) {
            (TargetType::Comment, _) => Note::parse(&field, text).map(|n| n.as_str().to_owned()),
            (TargetType::Group, "name") => {
                GroupName::parse(&field, text).map(GroupName::into_inner)
            }
            (_, "title") => Title::parse(&field, text).map(Title::into_inner),
            _ => Description::parse(&field, text).map(Description::into_inner),
        };
        let Some(text) = errors.check(checked) else {
            continue;
        };
        match key.as_str() {
            "title" => out.title = Some(text),
            "description" => out.description = Some(text),
            "body" => out.body = Some(text),
            _ => out.name = Some(text),
        }
    }
    out
}

fn suspension_end(raw: Option<&str>, now: NaiveDateTime) -> Result<NaiveDateTime, FieldError> {
    let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else {
        return Err(FieldError::new(
            "until",
            "required",
            "Say when the suspension ends (RFC 3339).",
        ));
    };
    let until = DateTime::parse_from_rfc3339(raw)
        .map_err(|_| FieldError::new("until", "invalid_format", "Expected an RFC 3339 time."))?
        .with_timezone(&Utc)
        .naive_utc();
    if until <= now {
        return Err(FieldError::new(
            "until",
            "in_the_past",
            "Must be in the future.",
        ));
    }
    if until > now + TimeDelta::days(MAX_SUSPENSION_DAYS) {
        return Err(FieldError::new(
            "until",
            "too_far",
            format!("At most {MAX_SUSPENSION_DAYS} days ahead; ban the account instead."),
        ));
    }
    // Stored to the microsecond, as PostgreSQL keeps it.
    Ok(until.trunc_subsecs(6))
}

impl ActionRequest {
    /// The checked action, as of `now`; every invalid field is named.
    pub fn checked(&self, now: NaiveDateTime) -> Result<CheckedAction, FieldErrors> {
        let mut errors = FieldErrors::new();
        let action = Action::parse(&self.action);
        if action.is_none() {
            errors.push(FieldError::new(
                "action",
                "unknown_action",
                "One of `hide`, `restore`, `dismiss`, `redact`, `suspend`, `ban`, `reinstate`.",
            ));
        }
        let target = TargetType::parse(&self.target_type);
        if target.is_none() {
            errors.push(FieldError::new(
                "target_type",
                "unknown_target_type",
                "One of `issue`, `comment`, `photo`, `group`, `opportunity`, `account`.",
            ));
        }
        let target_id = errors.check(target_id("target_id", &self.target_id));
        let reason = errors.check(free_text("reason", &self.reason, 1, MAX_REASON_LEN));
        let mut change = Change::None;
        if let Some(action) = action {
            if self.fields.is_some() && action != Action::Redact {
                errors.push(FieldError::new(
                    "fields",
                    "not_for_action",
                    "Only `redact` takes `fields`.",
                ));
            }
            if self.until.is_some() && action != Action::Suspend {
                errors.push(FieldError::new(
                    "until",
                    "not_for_action",
                    "Only `suspend` takes `until`.",
                ));
            }
            if let Some(target) = target {
                if action.on_account() != (target == TargetType::Account) {
                    errors.push(FieldError::new(
                        "action",
                        "not_for_target_type",
                        if action.on_account() {
                            format!("`{}` acts on an `account`.", action.as_str())
                        } else {
                            format!("`{}` acts on content, not an account.", action.as_str())
                        },
                    ));
                } else if action == Action::Redact {
                    change = Change::Redact(redaction(target, self.fields.as_ref(), &mut errors));
                } else if action == Action::Suspend {
                    if let Some(until) = errors.check(suspension_end(self.until.as_deref(), now)) {
                        change = Change::Suspend(until);
                    }
                }
            }
        }
        match (action, target, target_id, reason) {
            (Some(action), Some(target), Some(target_id), Some(reason)) if errors.is_empty() => {
                Ok(CheckedAction {
                    action,
                    target,
                    target_id,
                    reason,
                    change,
                })
            }
            _ => Err(errors),
        }
    }
}

/// What an action did.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActionResult {
    pub action: Action,
    pub target_type: TargetType,
    pub target_id: String,
    /// Content only: whether the item is now out of public view.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hidden: Option<bool>,
    /// Accounts only: when the account's suspension ends; absent when it is not
    /// suspended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suspended_until: Option<DateTime<Utc>>,
    /// Accounts only: whether the account is banned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub banned: Option<bool>,
    /// How many open flags the action upheld or dismissed.
    pub flags_resolved: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openapi::bounds;
    use serde_json::json;

    fn flag(body: Value) -> Result<NewFlag, Vec<String>> {
        serde_json::from_value::<CreateFlagRequest>(body)
            .unwrap()
            .checked()
            .map_err(|errors| errors.iter().map(|e| e.field.clone()).collect())
    }

    fn action(body: Value) -> Result<CheckedAction, Vec<String>> {
        serde_json::from_value::<ActionRequest>(body)
            .unwrap()
            .checked(crate::db::now())
            .map_err(|errors| {
                errors
                    .iter()
                    .map(|e| format!("{}:{}", e.field, e.code))
                    .collect()
            })
    }

    #[test]
    fn a_flag_names_known_content_and_reason_and_other_needs_details() {
        let ok = flag(json!({"target_type": "issue", "target_id": "abc", "reason": "spam"}));
        assert_eq!(ok.unwrap().reason, FlagReason::Spam);
        let bad = flag(json!({"target_type": "account", "target_id": "", "reason": "rude"}));
        assert_eq!(bad.unwrap_err(), ["target_type", "target_id", "reason"]);
        let other = flag(
            json!({"target_type": "photo", "target_id": "p", "reason": "other",
            "details": "  "}),
        );
        assert_eq!(other.unwrap_err(), ["details"]);
        let bell = flag(
            json!({"target_type": "photo", "target_id": "p", "reason": "other",
            "details": "ding\u{7}"}),
        );
        assert_eq!(bell.unwrap_err(), ["details"]);
        let lines = flag(
            json!({"target_type": "photo", "target_id": "p", "reason": "other",
            "details": "line one\r\nline two"}),
        );
        assert_eq!(
            lines.unwrap().details.as_deref(),
            Some("line one\nline two")
        );
    }

    #[test]
    fn the_documented_lengths_are_the_enforced_ones() {
        bounds::assert_lengths(
            &bounds::property::<CreateFlagRequest>("details"),
            'x',
            |d| {
                flag(
                    json!({"target_type": "issue", "target_id": "i", "reason": "spam",
                "details": d}),
                )
                .is_ok()
            },
        );
        bounds::assert_lengths(&bounds::property::<ActionRequest>("reason"), 'x', |r| {
            action(
                json!({"action": "hide", "target_type": "issue", "target_id": "i",
                "reason": r}),
            )
            .is_ok()
        });
        bounds::assert_lengths(&bounds::property::<ActionRequest>("target_id"), 'x', |id| {
            action(
                json!({"action": "hide", "target_type": "issue", "target_id": id,
                "reason": "r"}),
            )
            .is_ok()
        });
    }

    #[test]
    fn actions_fit_their_target_and_take_only_their_own_fields() {
        let wrong = action(
            json!({"action": "ban", "target_type": "issue", "target_id": "i",
            "reason": "r"}),
        );
        assert_eq!(wrong.unwrap_err(), ["action:not_for_target_type"]);
        let photo = action(json!({"action": "redact", "target_type": "photo",
            "target_id": "p", "reason": "r", "fields": {"title": "x"}}));
        assert_eq!(photo.unwrap_err(), ["action:not_for_target_type"]);
        let stray = action(
            json!({"action": "hide", "target_type": "issue", "target_id": "i",
            "reason": "r", "until": "2030-01-01T00:00:00Z", "fields": {}}),
        );
        assert_eq!(
            stray.unwrap_err(),
            ["fields:not_for_action", "until:not_for_action"]
        );
        let unknown = action(json!({"action": "redact", "target_type": "comment",
            "target_id": "c", "reason": "r", "fields": {"title": "Hello there"}}));
        assert_eq!(unknown.unwrap_err(), ["fields.title:unknown_field"]);
        let empty = action(json!({"action": "redact", "target_type": "group",
            "target_id": "g", "reason": "r", "fields": {}}));
        assert_eq!(empty.unwrap_err(), ["fields:required"]);
        let short = action(json!({"action": "redact", "target_type": "issue",
            "target_id": "i", "reason": "r", "fields": {"title": "ab", "description": 3}}));
        assert_eq!(
            short.unwrap_err(),
            ["fields.description:invalid_type", "fields.title:too_short"]
        );
        let ok = action(
            json!({"action": "redact", "target_type": "group", "target_id": "g",
            "reason": "r", "fields": {"name": " Elm Park Friends "}}),
        )
        .unwrap();
        assert_eq!(
            ok.change,
            Change::Redact(Redaction {
                name: Some("Elm Park Friends".into()),
                ..Redaction::default()
            })
        );
    }

    #[test]
    fn a_suspension_ends_in_the_future_within_a_year() {
        let at = |until: String| {
            action(
                json!({"action": "suspend", "target_type": "account", "target_id": "a",
                "reason": "r", "until": until}),
            )
        };
        let later = |days: i64| {
            (Utc::now() + TimeDelta::days(days)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        };
        assert!(matches!(at(later(30)).unwrap().change, Change::Suspend(_)));
        assert_eq!(at(later(-1)).unwrap_err(), ["until:in_the_past"]);
        assert_eq!(at(later(366)).unwrap_err(), ["until:too_far"]);
        assert_eq!(at("soon".into()).unwrap_err(), ["until:invalid_format"]);
        let missing = action(json!({"action": "suspend", "target_type": "account",
            "target_id": "a", "reason": "r"}));
        assert_eq!(missing.unwrap_err(), ["until:required"]);
    }
}
