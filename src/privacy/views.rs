//! Request and response bodies of the privacy routes: consents, the erasure request, and
//! the export document with one section per kind of data.

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::consents::{ConsentRow, Purpose};
use crate::accounts::views::SessionView;
use crate::db::utc;
use crate::domain::Role;
use crate::notifications::preferences::Preferences;
use crate::notifications::views::{DeviceView, NotificationView};
use crate::pledges::views::MyParticipation;

/// The longest `version` accepted (longer is never the current one).
pub const MAX_VERSION_LEN: usize = 20;

/// Where a citizen stands on one purpose.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentState {
    pub purpose: Purpose,
    /// The wording now in force: what a client shows before asking.
    #[schema(example = "Show my name on my public participation record.")]
    pub text: &'static str,
    /// The version of `text`; `PUT` must name it.
    #[schema(example = "1")]
    pub current_version: &'static str,
    /// Whether the consent holds now: granted, for the current version. (A grant of an
    /// earlier wording no longer counts: ask again.)
    pub granted: bool,
    /// The version last answered, `null` if never.
    #[schema(example = "1")]
    pub version: Option<String>,
    /// When the citizen last answered, `null` if never.
    pub updated_at: Option<DateTime<Utc>>,
}

impl ConsentState {
    pub fn new(purpose: Purpose, latest: Option<&ConsentRow>) -> Self {
        Self {
            purpose,
            text: purpose.text(),
            current_version: purpose.version(),
            granted: latest.is_some_and(ConsentRow::holds),
            version: latest.map(|row| row.version.clone()),
            updated_at: latest.map(|row| utc(row.created_at)),
        }
    }
}

/// One answer in the history.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentChange {
    pub purpose: Purpose,
    pub granted: bool,
    /// The version of the wording answered.
    #[schema(example = "1")]
    pub version: String,
    pub created_at: DateTime<Utc>,
}

impl ConsentChange {
    /// `None` for a purpose Civitas no longer asks about.
    pub fn from_row(row: ConsentRow) -> Option<Self> {
        Some(Self {
            purpose: Purpose::parse(&row.purpose)?,
            granted: row.granted,
            version: row.version,
            created_at: utc(row.created_at),
        })
    }
}

/// The caller's consents: the state of every purpose, and the answers that led there.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentList {
    /// Every purpose Civitas asks about, answered or not.
    pub consents: Vec<ConsentState>,
    /// Answers, newest first (`GET /me/consents`: the latest 100; the export: all).
    pub history: Vec<ConsentChange>,
}

/// An answer to one purpose.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateConsentRequest {
    pub granted: bool,
    /// The version of the wording shown to the citizen: it must be the current one
    /// (`422 stale_version` otherwise: show the current text and ask again).
    #[schema(example = "1", max_length = 20)]
    pub version: String,
}

/// Erasing the caller's account needs their password.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteAccountRequest {
    /// The current password. At most 1024 bytes; anything longer is not it (`403`).
    #[schema(value_type = String, format = Password, max_length = 1024)]
    pub password: SecretString,
}

/// Everything Civitas holds about the caller, in one document. Secrets are never in it:
/// no password hash, no refresh or mail token, push tokens masked.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportDocument {
    pub exported_at: DateTime<Utc>,
    /// The layout of this document; it changes only when a field changes meaning or goes.
    #[schema(example = 1)]
    pub format_version: u32,
    pub profile: ExportProfile,
    /// Every session: signed-in devices, ended ones too.
    pub sessions: Vec<ExportSession>,
    /// Issues the caller reported, anonymous ones included.
    pub reports: Vec<ExportReport>,
    /// The caller's comments; deleted ones keep their metadata (their text is gone).
    pub comments: Vec<ExportComment>,
    /// Other timeline entries the caller made: edits, status changes, photos added…
    pub activity: Vec<ExportActivity>,
    /// Issues the caller supports.
    pub supports: Vec<ExportBond>,
    /// Issues the caller follows.
    pub follows: Vec<ExportBond>,
    /// Group memberships, requests, invitations and bans.
    pub groups: Vec<ExportMembership>,
    /// Every pledge, whatever its kind and status.
    pub pledges: Vec<ExportPledge>,
    /// The caller's participation record, as `GET /me/participation` shows it.
    pub participation: MyParticipation,
    /// Opportunities the caller created.
    pub opportunities_created: Vec<ExportOpportunity>,
    /// The notification feed.
    pub notifications: Vec<NotificationView>,
    /// Push devices, tokens masked as `GET /me/devices` shows them.
    pub devices: Vec<DeviceView>,
    /// Consents, with every answer given.
    pub consents: ConsentList,
    /// Content the caller flagged to moderators.
    pub flags: Vec<ExportFlag>,
    /// Photos the caller uploaded.
    pub photos: Vec<ExportPhoto>,
    /// Mail links sent to the caller (verification, password reset): when, and whether
    /// used. The links themselves are not kept.
    pub mail_tokens: Vec<ExportMailToken>,
    /// Recent failed sign-ins with the caller's email address, if any.
    pub sign_in_failures: Option<ExportSignInFailures>,
}

/// The account.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportProfile {
    pub id: String,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub email_verified: bool,
    pub email_verified_at: Option<DateTime<Utc>>,
    pub notification_preferences: Preferences,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Suspended by moderators until this time, if suspended now or before.
    pub suspended_until: Option<DateTime<Utc>>,
    /// When moderators banned the account, if it is banned.
    pub banned_at: Option<DateTime<Utc>>,
}

/// A session, live or ended.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportSession {
    #[serde(flatten)]
    pub session: SessionView,
    /// When it ended (signed out, revoked), if it has.
    pub revoked_at: Option<DateTime<Utc>>,
    #[schema(example = "signed_out")]
    pub revoked_reason: Option<String>,
}

/// A reported issue.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportReport {
    pub id: String,
    pub category: String,
    pub title: String,
    pub description: String,
    pub lat: f64,
    pub lon: f64,
    pub address: Option<String>,
    /// Answers to the category's questions, keyed by question code.
    #[schema(value_type = Object)]
    pub answers: serde_json::Value,
    #[schema(example = "reported")]
    pub status: String,
    /// Reported anonymously: the public never sees who reported it.
    pub anonymous: bool,
    pub support_count: i32,
    pub follower_count: i32,
    pub photo_count: i32,
    pub duplicate_of: Option<String>,
    pub adopted_by_group_id: Option<String>,
    /// Moderators took it out of public view.
    pub hidden: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
}

/// A comment.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportComment {
    pub id: String,
    pub issue_id: String,
    /// `null` once deleted.
    pub text: Option<String>,
    pub created_at: DateTime<Utc>,
    /// When the caller deleted it.
    pub deleted_at: Option<DateTime<Utc>>,
    /// Moderators took it out of public view.
    pub removed_by_moderators: bool,
}

/// A timeline entry other than a comment.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportActivity {
    pub id: String,
    pub issue_id: String,
    #[schema(example = "status_changed")]
    pub kind: String,
    /// The role the caller acted in.
    pub role: Option<String>,
    pub from_status: Option<String>,
    pub to_status: Option<String>,
    /// A note given with it.
    pub text: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A support or a follow.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportBond {
    pub issue_id: String,
    pub created_at: DateTime<Utc>,
}

/// The caller's standing with a group.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportMembership {
    pub group_id: String,
    pub group_name: String,
    #[schema(example = "organiser")]
    pub role: String,
    #[schema(example = "active")]
    pub status: String,
    /// Whether the caller created the group.
    pub created_it: bool,
    /// When the current membership (or request, or invitation) began.
    pub since: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A pledge, with its private details.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportPledge {
    pub id: String,
    #[schema(example = "time")]
    pub kind: String,
    pub opportunity_id: Option<String>,
    pub issue_id: Option<String>,
    #[schema(example = "confirmed")]
    pub status: String,
    pub hours: Option<f64>,
    pub skill: Option<String>,
    pub materials: Option<String>,
    pub quantity: Option<i32>,
    pub amount_minor: Option<i64>,
    pub currency: Option<String>,
    pub note: Option<String>,
    pub min_pledgers: Option<i32>,
    pub condition_deadline: Option<DateTime<Utc>>,
    pub claimed_hours: Option<f64>,
    pub claimed_at: Option<DateTime<Utc>>,
    pub verified_hours: Option<f64>,
    pub verified_at: Option<DateTime<Utc>>,
    pub rejection_reason: Option<String>,
    pub safety_acknowledged: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An opportunity the caller created.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportOpportunity {
    pub id: String,
    pub group_id: Option<String>,
    pub title: String,
    pub starts_at: DateTime<Utc>,
    pub status: String,
    pub created_at: DateTime<Utc>,
}

/// A flag the caller raised.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportFlag {
    pub id: String,
    #[schema(example = "issue")]
    pub target_type: String,
    pub target_id: String,
    #[schema(example = "spam")]
    pub reason: String,
    pub details: Option<String>,
    /// `open`, `upheld` or `dismissed`.
    #[schema(example = "open")]
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
}

/// A photo the caller uploaded.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportPhoto {
    pub id: String,
    pub issue_id: String,
    /// Relative to this service.
    pub url: String,
    pub thumbnail_url: String,
    pub created_at: DateTime<Utc>,
    /// Moderators took it out of public view.
    pub hidden: bool,
}

/// A mail link, without the link.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportMailToken {
    /// `verify_email` or `password_reset`.
    #[schema(example = "password_reset")]
    pub purpose: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// When it was used, or replaced by a newer one.
    pub used_at: Option<DateTime<Utc>>,
}

/// The sign-in throttle's count for the caller's email address.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportSignInFailures {
    pub failures: i32,
    pub last_failure_at: DateTime<Utc>,
    pub blocked_until: Option<DateTime<Utc>>,
}
