//! Values that make up an account: email address, password, display name and role.

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::fmt;
use utoipa::ToSchema;

use crate::error::FieldError;

/// A normalised email address: trimmed and lower-cased, so uniqueness is case-insensitive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub const MAX_LEN: usize = 254;

    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        let email = raw.trim().to_lowercase();
        let invalid = || FieldError::new(field, "invalid_email", "Not a valid email address.");
        if email.len() > Self::MAX_LEN {
            return Err(FieldError::new(
                field,
                "too_long",
                format!("At most {} characters.", Self::MAX_LEN),
            ));
        }
        let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
        let well_formed = !local.is_empty()
            && local.len() <= 64
            && !domain.is_empty()
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && !domain.contains('@')
            && domain
                .chars()
                .all(|c| c.is_alphanumeric() || c == '.' || c == '-')
            && local
                .chars()
                .all(|c| !c.is_whitespace() && !c.is_control() && !"<>()[]\\,;:\"".contains(c));
        if well_formed {
            Ok(Self(email))
        } else {
            Err(invalid())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// The most common passwords of at least ten characters (the minimum length), from public
/// breach corpora. Compared case-insensitively.
const COMMON_PASSWORDS: &[&str] = &[
    "1234567890",
    "12345678910",
    "123456789a",
    "0123456789",
    "0987654321",
    "1111111111",
    "1q2w3e4r5t",
    "1qaz2wsx3edc",
    "qwertyuiop",
    "qwerty1234",
    "qwerty12345",
    "qwerty123456",
    "asdfghjkl1",
    "password12",
    "password123",
    "password1234",
    "passw0rd123",
    "iloveyou12",
    "iloveyou123",
    "abcdefghij",
    "abc1234567",
    "abcd123456",
    "football123",
    "baseball123",
    "sunshine123",
    "princess123",
    "welcome123",
    "letmein123",
    "changeme123",
    "administrator",
    "monkey12345",
    "dragon12345",
    "superman123",
    "trustno1234",
    "starwars123",
    "zaq12wsxcde",
    "q1w2e3r4t5",
    "a1b2c3d4e5",
    "11223344556",
    "1122334455",
    "9876543210",
    "aaaaaaaaaa",
    "passwordpassword",
    "civitas123",
    "civitas1234",
];

/// A new password that meets the rules: 10–128 characters, not a well-known password.
pub struct NewPassword(SecretString);

impl NewPassword {
    pub const MIN_LEN: usize = 10;
    pub const MAX_LEN: usize = 128;

    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        let length = raw.chars().count();
        if length < Self::MIN_LEN {
            return Err(FieldError::new(
                field,
                "too_short",
                format!("At least {} characters.", Self::MIN_LEN),
            ));
        }
        if length > Self::MAX_LEN {
            return Err(FieldError::new(
                field,
                "too_long",
                format!("At most {} characters.", Self::MAX_LEN),
            ));
        }
        let lowered = raw.to_lowercase();
        if COMMON_PASSWORDS.contains(&lowered.as_str()) {
            return Err(FieldError::new(
                field,
                "common_password",
                "This password is too common; choose another.",
            ));
        }
        Ok(Self(SecretString::from(raw.to_owned())))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewPassword(…)")
    }
}

/// A display name: 1–50 characters after trimming, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    pub const MAX_LEN: usize = 50;

    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        let name = raw.trim();
        if name.is_empty() {
            return Err(FieldError::new(field, "required", "Must not be empty."));
        }
        if name.chars().count() > Self::MAX_LEN {
            return Err(FieldError::new(
                field,
                "too_long",
                format!("At most {} characters.", Self::MAX_LEN),
            ));
        }
        if name.chars().any(char::is_control) {
            return Err(FieldError::new(
                field,
                "invalid_characters",
                "Must not contain control characters.",
            ));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// What an account may do. Granted by admins (or the `civitas user create` command), never
/// chosen by the account itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Citizen,
    Moderator,
    Officer,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Citizen => "citizen",
            Self::Moderator => "moderator",
            Self::Officer => "officer",
            Self::Admin => "admin",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "citizen" => Some(Self::Citizen),
            "moderator" => Some(Self::Moderator),
            "officer" => Some(Self::Officer),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }

    /// Moderators, officers and admins.
    pub fn is_staff(self) -> bool {
        !matches!(self, Self::Citizen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_lower_cased() {
        let email = Email::parse("email", "  Ada.Lovelace@Example.ORG ").unwrap();
        assert_eq!(email.as_str(), "ada.lovelace@example.org");
    }

    #[test]
    fn malformed_emails_are_refused() {
        for raw in [
            "",
            "no-at-sign",
            "@example.org",
            "ada@",
            "ada@localhost",
            "ada@example..org",
            "a da@example.org",
            "ada@exa mple.org",
            "ada@@example.org",
        ] {
            assert!(Email::parse("email", raw).is_err(), "{raw:?} was accepted");
        }
    }

    #[test]
    fn passwords_need_ten_to_128_characters() {
        assert_eq!(
            NewPassword::parse("p", "short").unwrap_err().code,
            "too_short"
        );
        assert_eq!(
            NewPassword::parse("p", &"x".repeat(129)).unwrap_err().code,
            "too_long"
        );
        assert!(NewPassword::parse("p", "correct horse battery").is_ok());
    }

    #[test]
    fn common_passwords_are_refused_whatever_their_case() {
        assert_eq!(
            NewPassword::parse("p", "Password123").unwrap_err().code,
            "common_password"
        );
    }

    #[test]
    fn display_names_are_trimmed_and_bounded() {
        assert_eq!(
            DisplayName::parse("n", "  Ada ").unwrap().into_inner(),
            "Ada"
        );
        assert!(DisplayName::parse("n", "   ").is_err());
        assert!(DisplayName::parse("n", &"a".repeat(51)).is_err());
        assert!(DisplayName::parse("n", "Ada\u{0}").is_err());
    }
}
