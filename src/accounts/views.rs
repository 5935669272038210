//! Request and response bodies of the account routes.

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::models::{Account, Session};
use crate::db::utc;
use crate::domain::Role;
use crate::notifications::preferences::{NotificationPreferencesPatch, Preferences};

/// A new account. A `role` (or any other unknown field) is refused: roles are granted.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// Used to sign in; compared case-insensitively. At most 254 bytes once trimmed.
    #[schema(example = "ada@example.org", max_length = 254)]
    pub email: String,
    /// 10 to 128 characters (not trimmed), not a well-known password.
    #[schema(value_type = String, format = Password, min_length = 10, max_length = 128)]
    pub password: SecretString,
    /// Shown next to what the citizen posts. 1 to 50 characters once trimmed, no control
    /// characters.
    #[schema(example = "Ada", min_length = 1, max_length = 50)]
    pub display_name: String,
}

/// The answer to a registration, the same whether or not the email was already taken.
#[derive(Debug, Serialize, ToSchema)]
pub struct RegistrationAccepted {
    #[schema(example = "Check your inbox: we sent a link to verify your email address.")]
    pub message: String,
}

/// A single-use token from a mail.
#[derive(Debug, Deserialize, ToSchema)]
pub struct MailTokenRequest {
    /// At most 256 bytes; anything longer is not a token (`400`).
    #[schema(min_length = 1, max_length = 256)]
    pub token: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    /// At most 254 bytes once trimmed; anything else cannot sign in (`401`).
    #[schema(example = "ada@example.org", max_length = 254)]
    pub email: String,
    /// At most 1024 bytes; anything longer cannot sign in (`401`).
    #[schema(value_type = String, format = Password, max_length = 1024)]
    pub password: SecretString,
    /// A name for this device, shown in the list of sessions. At most 100 characters once
    /// trimmed, no control characters; blank is the same as none.
    #[schema(example = "Ada's phone", max_length = 100)]
    pub device_name: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RefreshRequest {
    /// At most 256 bytes; anything longer is not a refresh token (`401`).
    #[schema(min_length = 1, max_length = 256)]
    pub refresh_token: String,
}

/// An access token and the refresh token that renews it.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenPair {
    /// A JWT (EdDSA) to send as `Authorization: Bearer …`.
    pub access_token: String,
    /// Single use: each refresh returns a new one. Presenting a spent one ends the session.
    pub refresh_token: String,
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    #[schema(example = 900)]
    pub expires_in: i64,
    /// The session these tokens belong to (see `GET /me/sessions`).
    pub session_id: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordResetRequest {
    /// At most 254 bytes once trimmed.
    #[schema(example = "ada@example.org", max_length = 254)]
    pub email: String,
}

/// The answer to a reset request, the same whether or not the account exists.
#[derive(Debug, Serialize, ToSchema)]
pub struct PasswordResetAccepted {
    pub message: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordResetConfirm {
    /// The token from the reset mail (at most 256 bytes; anything longer is not one: `400`).
    #[schema(min_length = 1, max_length = 256)]
    pub token: String,
    /// 10 to 128 characters (not trimmed), not a well-known password.
    #[schema(value_type = String, format = Password, min_length = 10, max_length = 128)]
    pub new_password: SecretString,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ChangePasswordRequest {
    /// At most 1024 bytes; anything longer is not the current password (`422`).
    #[schema(value_type = String, format = Password, max_length = 1024)]
    pub current_password: SecretString,
    /// 10 to 128 characters (not trimmed), not a well-known password.
    #[schema(value_type = String, format = Password, min_length = 10, max_length = 128)]
    pub new_password: SecretString,
}

/// Changes to the caller's profile. Fields left out stay as they are; a `role` (or any
/// other unknown field) is refused.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMeRequest {
    /// 1 to 50 characters once trimmed, no control characters.
    #[schema(example = "Ada L.", min_length = 1, max_length = 50)]
    pub display_name: Option<String>,
    /// Kinds of notification to switch on (`true`) or off (`false`); kinds left out stay
    /// as they are, unknown kinds are refused.
    #[schema(value_type = Option<NotificationPreferencesPatch>, example = json!({"comments": false}))]
    pub notification_preferences: Option<serde_json::Map<String, serde_json::Value>>,
}

/// The caller's own profile.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeView {
    pub id: String,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub email_verified: bool,
    /// Which kinds of notification the caller gets (all on until switched off).
    pub notification_preferences: Preferences,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Account> for MeView {
    fn from(account: Account) -> Self {
        Self {
            notification_preferences: Preferences::from_stored(&account.notification_preferences),
            id: account.id,
            email: account.email,
            display_name: account.display_name,
            role: Role::parse(&account.role).unwrap_or(Role::Citizen),
            email_verified: account.email_verified_at.is_some(),
            created_at: utc(account.created_at),
            updated_at: utc(account.updated_at),
        }
    }
}

/// A device signed in to the caller's account.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    pub id: String,
    pub device_name: Option<String>,
    pub created_at: DateTime<Utc>,
    /// When its tokens were last refreshed.
    pub last_used_at: DateTime<Utc>,
    /// It ends this long after its last refresh unless refreshed again.
    pub expires_at: DateTime<Utc>,
    /// Whether this is the session making the request.
    pub current: bool,
}

impl SessionView {
    pub fn new(session: Session, current_session: &str) -> Self {
        Self {
            current: session.id == current_session,
            id: session.id,
            device_name: session.device_name,
            created_at: utc(session.created_at),
            last_used_at: utc(session.last_used_at),
            expires_at: utc(session.expires_at),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{DisplayName, Email, NewPassword};
    use crate::openapi::bounds::{assert_lengths, property};

    #[test]
    fn documented_lengths_are_the_enforced_ones() {
        for password in [
            property::<RegisterRequest>("password"),
            property::<PasswordResetConfirm>("new_password"),
            property::<ChangePasswordRequest>("new_password"),
        ] {
            assert_lengths(&password, 'é', |p| NewPassword::parse("p", p).is_ok());
        }
        for name in [
            property::<RegisterRequest>("display_name"),
            property::<UpdateMeRequest>("display_name"),
        ] {
            assert_lengths(&name, 'é', |n| DisplayName::parse("n", n).is_ok());
        }
        for email in [
            property::<RegisterRequest>("email"),
            property::<LoginRequest>("email"),
            property::<PasswordResetRequest>("email"),
        ] {
            assert_eq!(email["maxLength"], Email::MAX_LEN);
        }
    }
}
