//! Request and response bodies of the notification and push-device routes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::models::{DeviceRow, NotificationRow};
use crate::db::utc;
use crate::error::FieldError;

/// The most notification ids one `POST /me/notifications/read` may name.
pub const MAX_READ_IDS: usize = 100;
/// The longest push token accepted, in characters.
pub const MAX_TOKEN_LEN: usize = 4096;

/// Filters of the feed.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FeedFilter {
    /// `true`: only notifications not yet read.
    pub unread: Option<bool>,
}

/// One notification in the feed.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationView {
    pub id: String,
    /// The event it tells about: `issue.status_changed`, `issue.marked_duplicate`,
    /// `issue.commented`, `issue.adopted`, `issue.adoption_released`, `pledge.confirmed`,
    /// `pledge.pledged` (promoted from the waitlist or a condition met),
    /// `pledge.verified`, `pledge.claim_rejected`, `opportunity.cancelled`,
    /// `group.member_approved`.
    #[schema(example = "issue.status_changed")]
    pub kind: String,
    #[schema(example = "Pothole on Mill Lane is now in progress")]
    pub title: String,
    /// More detail (a comment's or note's first words, a reason), when there is any.
    pub body: Option<String>,
    /// Ids to open the right screen with: `issue_id`, `pledge_id`, `opportunity_id`,
    /// `group_id` (whichever apply), and for status changes the new `status`.
    #[schema(value_type = Object, example = json!({"issue_id": "0193a5c0-7f1e-7cc2-9d3e-4b1f0c2a9e11", "status": "in_progress"}))]
    pub data: serde_json::Value,
    /// Whether it has been marked read.
    pub read: bool,
    /// When the event happened.
    pub created_at: DateTime<Utc>,
}

impl From<NotificationRow> for NotificationView {
    fn from(row: NotificationRow) -> Self {
        Self {
            data: serde_json::from_str(&row.data).unwrap_or_else(|_| serde_json::json!({})),
            id: row.id,
            kind: row.kind,
            title: row.title,
            body: row.body,
            read: row.read_at.is_some(),
            created_at: utc(row.created_at),
        }
    }
}

/// A page of the feed, newest first, with the number of unread notifications.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationPage {
    pub items: Vec<NotificationView>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
    /// How many of the caller's notifications are unread (all of them, not just this
    /// page's), for a badge.
    pub unread_count: i64,
}

/// Which notifications to mark read: `ids` (at most 100; ids that are not the caller's
/// are ignored) or `all: true`, not both.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MarkReadRequest {
    /// 1 to 100 notification ids.
    #[schema(min_items = 1, max_items = 100)]
    pub ids: Option<Vec<String>>,
    pub all: Option<bool>,
}

/// A parsed `MarkReadRequest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarkRead {
    Ids(Vec<String>),
    All,
}

impl TryFrom<MarkReadRequest> for MarkRead {
    type Error = Vec<FieldError>;

    fn try_from(request: MarkReadRequest) -> Result<Self, Self::Error> {
        match (request.ids, request.all) {
            (Some(ids), None | Some(false)) => {
                if ids.is_empty() {
                    Err(vec![FieldError::new(
                        "ids",
                        "empty",
                        "Name at least one notification, or send `all: true`.",
                    )])
                } else if ids.len() > MAX_READ_IDS {
                    Err(vec![FieldError::new(
                        "ids",
                        "too_many",
                        format!("At most {MAX_READ_IDS} ids at once; or send `all: true`."),
                    )])
                } else {
                    Ok(Self::Ids(ids))
                }
            }
            (None, Some(true)) => Ok(Self::All),
            (Some(_), Some(true)) => Err(vec![FieldError::new(
                "all",
                "conflict",
                "Send either `ids` or `all: true`, not both.",
            )]),
            (None, _) => Err(vec![FieldError::new(
                "ids",
                "required",
                "Send `ids` (the notifications to mark read) or `all: true`.",
            )]),
        }
    }
}

/// The number of unread notifications left.
#[derive(Debug, Serialize, ToSchema)]
pub struct UnreadCount {
    pub unread_count: i64,
}

/// A push service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    /// Firebase Cloud Messaging (Android, and iOS through Firebase).
    Fcm,
    /// Apple Push Notification service.
    Apns,
    /// Web Push (the subscription endpoint, or what your relay expects).
    Webpush,
}

impl Platform {
    pub const ALL: [Platform; 3] = [Self::Fcm, Self::Apns, Self::Webpush];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fcm => "fcm",
            Self::Apns => "apns",
            Self::Webpush => "webpush",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == raw)
    }
}

/// A push token to register, with its platform.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterDeviceRequest {
    #[schema(value_type = Platform)]
    pub platform: String,
}

/// A push token as given in the path: 1 to 4096 printable ASCII characters (FCM and APNs
/// tokens, Web Push endpoints percent-encoded into the path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushToken(String);

impl PushToken {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        if raw.is_empty() || raw.len() > MAX_TOKEN_LEN {
            return Err(FieldError::new(
                "token",
                "invalid_length",
                format!("1 to {MAX_TOKEN_LEN} characters."),
            ));
        }
        if !raw.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(FieldError::new(
                "token",
                "invalid_format",
                "Printable ASCII without spaces.",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A registered push device. The token is shown only in part.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceView {
    /// The first and last characters of the token, to tell devices apart.
    #[schema(example = "dGhpc2…Kx9z")]
    pub token_hint: String,
    pub platform: Platform,
    /// When this account registered it.
    pub created_at: DateTime<Utc>,
    /// When it was last registered again.
    pub updated_at: DateTime<Utc>,
}

impl From<DeviceRow> for DeviceView {
    fn from(row: DeviceRow) -> Self {
        Self {
            token_hint: mask(&row.token),
            platform: Platform::parse(&row.platform).unwrap_or(Platform::Fcm),
            created_at: utc(row.created_at),
            updated_at: utc(row.updated_at),
        }
    }
}

/// The caller's push devices (at most 20, so one page).
#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceList {
    pub items: Vec<DeviceView>,
    /// Always `null`: an account has at most 20 devices.
    pub next_cursor: Option<String>,
}

/// Shows the start and end of a token: six and four characters of long ones, only the
/// last two of short ones.
fn mask(token: &str) -> String {
    let chars: Vec<char> = token.chars().collect();
    if chars.len() > 16 {
        let head: String = chars[..6].iter().collect();
        let tail: String = chars[chars.len() - 4..].iter().collect();
        format!("{head}…{tail}")
    } else {
        let tail: String = chars[chars.len().saturating_sub(2)..].iter().collect();
        format!("…{tail}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(ids: Option<usize>, all: Option<bool>) -> MarkReadRequest {
        MarkReadRequest {
            ids: ids.map(|n| (0..n).map(|i| i.to_string()).collect()),
            all,
        }
    }

    #[test]
    fn mark_read_takes_ids_or_all_but_not_both_nor_neither() {
        assert_eq!(
            MarkRead::try_from(request(Some(2), None)),
            Ok(MarkRead::Ids(vec!["0".into(), "1".into()]))
        );
        assert_eq!(
            MarkRead::try_from(request(None, Some(true))),
            Ok(MarkRead::All)
        );
        for (ids, all) in [
            (None, None),
            (None, Some(false)),
            (Some(0), None),
            (Some(101), None),
            (Some(1), Some(true)),
        ] {
            assert!(
                MarkRead::try_from(request(ids, all)).is_err(),
                "{ids:?} {all:?}"
            );
        }
    }

    #[test]
    fn documented_bounds_are_the_enforced_ones() {
        use crate::openapi::bounds::{assert_items, property};
        assert_items(&property::<MarkReadRequest>("ids"), |n| {
            MarkRead::try_from(request(Some(n), None)).is_ok()
        });
    }

    #[test]
    fn tokens_are_printable_ascii_of_bounded_length() {
        assert!(PushToken::parse("fcm:APA91b-x_y").is_ok());
        assert!(PushToken::parse(&"a".repeat(MAX_TOKEN_LEN)).is_ok());
        assert!(PushToken::parse(&"a".repeat(MAX_TOKEN_LEN + 1)).is_err());
        assert!(PushToken::parse("").is_err());
        assert!(PushToken::parse("has space").is_err());
        assert!(PushToken::parse("tök").is_err());
    }

    #[test]
    fn masks_show_only_the_ends_of_a_token() {
        assert_eq!(mask("abcdefghijklmnopqrstuvwxyz"), "abcdef…wxyz");
        assert_eq!(mask("short-token"), "…en");
        assert_eq!(mask("x"), "…x");
    }
}
