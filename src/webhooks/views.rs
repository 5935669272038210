//! Webhook requests and answers.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::guard::WebhookUrl;
use super::models::{DeliveryRow, PENDING, SubscriptionRow};
use crate::db::utc;
use crate::error::{FieldError, FieldErrors};

/// The most event patterns one subscription may list.
pub const MAX_EVENTS: usize = 50;
/// The longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 200;

/// A new webhook subscription.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookRequest {
    /// Where to POST deliveries: `https://` (at most 2048 bytes once trimmed, no user name
    /// or password), resolving only to public internet addresses.
    #[schema(
        example = "https://partner.example.org/civitas/webhooks",
        max_length = 2048
    )]
    pub url: String,
    /// 1 to 50 event types (listed under `POST /webhooks`) or patterns: `issue.*` for a
    /// family, `*` for everything the partner may see.
    #[schema(example = json!(["issue.*", "opportunity.published"]), min_items = 1, max_items = 50)]
    pub events: Vec<String>,
    /// A note for the partner's own records (at most 200 characters once trimmed).
    #[schema(max_length = 200)]
    pub description: Option<String>,
}

/// A subscription request that passed the checks that need no network.
#[derive(Debug)]
pub struct CheckedWebhook {
    pub url: WebhookUrl,
    /// Known types and patterns, without repeats, in the order given.
    pub events: Vec<String>,
    pub description: Option<String>,
}

impl CreateWebhookRequest {
    /// Checks every field; the 422 names each invalid one.
    pub fn checked(self, allow_http: bool) -> Result<CheckedWebhook, FieldErrors> {
        let mut errors = FieldErrors::new();
        let url = errors.check(WebhookUrl::parse(&self.url, allow_http));
        let events = errors.check(checked_events(&self.events));
        let description = errors.check(checked_description(self.description));
        match (url, events, description) {
            (Some(url), Some(events), Some(description)) if errors.is_empty() => {
                Ok(CheckedWebhook {
                    url,
                    events,
                    description,
                })
            }
            _ => Err(errors),
        }
    }
}

fn checked_events(raw: &[String]) -> Result<Vec<String>, FieldError> {
    if raw.is_empty() || raw.len() > MAX_EVENTS {
        return Err(FieldError::new(
            "events",
            "invalid_length",
            format!("List 1 to {MAX_EVENTS} event types or patterns."),
        ));
    }
    let mut events: Vec<String> = Vec::with_capacity(raw.len());
    for pattern in raw {
        let pattern = pattern.trim();
        if !crate::events::is_valid_pattern(pattern) {
            return Err(FieldError::new(
                "events",
                "unknown_event",
                format!(
                    "{:?} is not an event type, a family pattern such as `issue.*`, or `*`.",
                    pattern.chars().take(60).collect::<String>()
                ),
            ));
        }
        if !events.iter().any(|known| known == pattern) {
            events.push(pattern.to_owned());
        }
    }
    Ok(events)
}

fn checked_description(raw: Option<String>) -> Result<Option<String>, FieldError> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let trimmed = raw.trim();
    if trimmed.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(FieldError::new(
            "description",
            "too_long",
            format!("At most {MAX_DESCRIPTION_CHARS} characters."),
        ));
    }
    Ok(Some(trimmed.to_owned()).filter(|d| !d.is_empty()))
}

/// A webhook subscription.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookView {
    pub id: String,
    pub url: String,
    /// The event types and patterns it receives.
    #[schema(example = json!(["issue.*"]))]
    pub events: Vec<String>,
    pub description: Option<String>,
    /// `active`, or `disabled` (after a 410 answer or repeated failures; see
    /// `disabled_reason`). A disabled subscription receives nothing: register the
    /// endpoint again once it is fixed.
    #[schema(example = "active")]
    pub status: &'static str,
    pub disabled_at: Option<DateTime<Utc>>,
    pub disabled_reason: Option<String>,
    /// Deliveries that failed after every retry since the last success; at 5 the
    /// subscription is disabled.
    pub consecutive_failures: i32,
    pub created_at: DateTime<Utc>,
}

impl From<SubscriptionRow> for WebhookView {
    fn from(row: SubscriptionRow) -> Self {
        Self {
            events: row.patterns().map(str::to_owned).collect(),
            id: row.id,
            url: row.url,
            description: row.description,
            status: if row.disabled_at.is_some() {
                "disabled"
            } else {
                "active"
            },
            disabled_at: row.disabled_at.map(utc),
            disabled_reason: row.disabled_reason,
            consecutive_failures: row.consecutive_failures,
            created_at: utc(row.created_at),
        }
    }
}

/// A new subscription with its signing secret, which is shown only in this answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookWithSecret {
    #[serde(flatten)]
    pub webhook: WebhookView,
    /// The signing secret (`whsec_` and base64 of 32 bytes). Verify each delivery's
    /// `webhook-signature`: `v1,` and base64 of HMAC-SHA256, keyed with the base64-decoded
    /// part after `whsec_`, over `{webhook-id}.{webhook-timestamp}.{body}`. Store it now:
    /// it is never shown again.
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    pub secret: String,
}

/// One event's delivery to a subscription, with its last attempt.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryView {
    /// The delivery id: the `webhook-id` header, the same on every attempt.
    pub id: String,
    #[schema(example = "issue.status_changed")]
    pub event_type: String,
    pub event_id: String,
    /// `pending` (queued or waiting to retry), `delivered` or `failed` (gave up).
    #[schema(example = "delivered")]
    pub status: String,
    /// Attempts made so far.
    pub attempts: i32,
    /// The HTTP status of the last answer; `null` when none came (network error).
    pub last_status_code: Option<i32>,
    /// How long the last attempt took, in milliseconds.
    pub last_latency_ms: Option<i32>,
    /// What went wrong with the last attempt.
    pub last_error: Option<String>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// When the next attempt is due; `null` unless `pending`.
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

impl From<DeliveryRow> for DeliveryView {
    fn from(row: DeliveryRow) -> Self {
        Self {
            next_attempt_at: Some(utc(row.next_attempt_at)).filter(|_| row.status == PENDING),
            id: row.id,
            event_type: row.event_type,
            event_id: row.event_id,
            status: row.status,
            attempts: row.attempts,
            last_status_code: row.last_status_code,
            last_latency_ms: row.last_latency_ms,
            last_error: row.last_error,
            last_attempt_at: row.last_attempt_at.map(utc),
            created_at: utc(row.created_at),
            delivered_at: row.delivered_at.map(utc),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(url: &str, events: &[&str], description: Option<&str>) -> CreateWebhookRequest {
        CreateWebhookRequest {
            url: url.into(),
            events: events.iter().map(|e| (*e).to_owned()).collect(),
            description: description.map(str::to_owned),
        }
    }

    #[test]
    fn documented_bounds_are_the_enforced_ones() {
        use crate::openapi::bounds::{assert_items, assert_lengths, property};
        assert_items(&property::<CreateWebhookRequest>("events"), |n| {
            checked_events(&vec!["*".to_owned(); n]).is_ok()
        });
        assert_lengths(
            &property::<CreateWebhookRequest>("description"),
            'é',
            |d| checked_description(Some(d.to_owned())).is_ok(),
        );
        let url = property::<CreateWebhookRequest>("url");
        assert_eq!(url["maxLength"], crate::webhooks::guard::MAX_URL_LEN);
    }

    #[test]
    fn a_valid_request_is_normalised() {
        let checked = request(
            "https://example.org/hook",
            &["issue.*", " issue.* ", "*", "pledge.made"],
            Some("  ours  "),
        )
        .checked(false)
        .unwrap();
        assert_eq!(checked.events, ["issue.*", "*", "pledge.made"]);
        assert_eq!(checked.description.as_deref(), Some("ours"));
        assert_eq!(checked.url.as_str(), "https://example.org/hook");
    }

    #[test]
    fn every_invalid_field_is_named() {
        let long = "x".repeat(MAX_DESCRIPTION_CHARS + 1);
        let errors = request("http://example.org/", &["issue.deleted"], Some(&long))
            .checked(false)
            .unwrap_err();
        let fields: Vec<(&str, &str)> = errors
            .iter()
            .map(|e| (e.field.as_str(), e.code.as_str()))
            .collect();
        assert_eq!(
            fields,
            [
                ("url", "https_required"),
                ("events", "unknown_event"),
                ("description", "too_long")
            ]
        );
        let many: Vec<String> = (0..=MAX_EVENTS).map(|_| "*".to_owned()).collect();
        let refs: Vec<&str> = many.iter().map(String::as_str).collect();
        assert_eq!(
            request("https://example.org/", &refs, None)
                .checked(false)
                .unwrap_err()[0]
                .code,
            "invalid_length"
        );
        assert_eq!(
            request("https://example.org/", &[], None)
                .checked(false)
                .unwrap_err()[0]
                .code,
            "invalid_length"
        );
    }
}
