//! Partner client requests and answers.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Scope;
use super::models::ClientRow;
use crate::db::utc;
use crate::error::{FieldError, FieldErrors};

/// The longest client name, in characters.
pub const MAX_NAME_CHARS: usize = 100;

/// A client's name, trimmed: 1 to 100 characters.
pub fn client_name(raw: &str) -> Result<String, String> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(format!("expected 1 to {MAX_NAME_CHARS} characters"));
    }
    Ok(name.to_owned())
}

/// Checks a list of scope names: at least one, all known.
pub fn checked_scopes(field: &str, raw: &[String]) -> Result<Vec<Scope>, FieldError> {
    if raw.is_empty() || raw.len() > Scope::ALL.len() * 2 {
        return Err(FieldError::new(
            field,
            "invalid_scopes",
            "Give at least one scope (and no more than the scopes there are).",
        ));
    }
    // Each entry is one scope exactly (an empty or space-separated entry is not).
    let scopes = raw
        .iter()
        .map(|entry| {
            Scope::parse(entry).ok_or_else(|| {
                FieldError::new(field, "unknown_scope", format!("No scope {entry:?}."))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(crate::partners::normalise(scopes))
}

/// A new partner client.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateClientRequest {
    /// The partner organisation's name (1–100 characters once trimmed), shown on what it
    /// publishes.
    #[schema(example = "Riverside Food Bank", min_length = 1, max_length = 100)]
    pub name: String,
    /// Scopes to grant: at least one, at most 14 entries (repeats are dropped).
    #[schema(
        value_type = Vec<Scope>,
        example = json!(["issues:read", "open311:submit"]),
        min_items = 1,
        max_items = 14
    )]
    pub scopes: Vec<String>,
}

/// Changes to a partner client; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateClientRequest {
    /// 1 to 100 characters once trimmed.
    #[schema(min_length = 1, max_length = 100)]
    pub name: Option<String>,
    /// The scopes granted from now on (replacing the old list): at least one, at most 14
    /// entries. Tokens already issued lose a scope taken away at once.
    #[schema(value_type = Option<Vec<Scope>>, min_items = 1, max_items = 14)]
    pub scopes: Option<Vec<String>>,
    /// `true` disables the client: its secret and tokens stop working at once. `false`
    /// enables it again.
    pub disabled: Option<bool>,
}

impl UpdateClientRequest {
    /// The validated name and scopes.
    pub fn checked(&self) -> Result<(Option<String>, Option<Vec<Scope>>), FieldErrors> {
        let mut errors = FieldErrors::new();
        let name = errors.optional(self.name.as_deref(), |raw| {
            client_name(raw).map_err(|message| FieldError::new("name", "invalid_length", message))
        });
        let scopes = errors.optional(self.scopes.as_deref(), |raw| checked_scopes("scopes", raw));
        if errors.is_empty() {
            Ok((name, scopes))
        } else {
            Err(errors)
        }
    }
}

/// A partner client (never its secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientView {
    /// The `client_id` of `POST /oauth/token`.
    pub id: String,
    pub name: String,
    pub scopes: Vec<Scope>,
    /// Whether the client is disabled (its secret and tokens refused).
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
    /// When the current secret was issued.
    pub secret_rotated_at: DateTime<Utc>,
    pub disabled_at: Option<DateTime<Utc>>,
}

impl From<ClientRow> for ClientView {
    fn from(row: ClientRow) -> Self {
        Self {
            scopes: row.scopes(),
            disabled: row.disabled_at.is_some(),
            id: row.id,
            name: row.name,
            created_at: utc(row.created_at),
            secret_rotated_at: utc(row.secret_rotated_at),
            disabled_at: row.disabled_at.map(utc),
        }
    }
}

/// A client with its secret: shown once, when the client is created or the secret
/// rotated. Civitas keeps only a hash.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientWithSecret {
    #[serde(flatten)]
    pub client: ClientView,
    /// The client secret (`cvs_…`): the `client_secret` of `POST /oauth/token`, and the
    /// Open311 `api_key` of a client with the `open311:submit` scope.
    pub client_secret: String,
}

/// A token request (RFC 6749 §4.4.2), as a form or JSON. The client authenticates with
/// HTTP Basic (`client_id:client_secret`) or with `client_id` and `client_secret` here.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct TokenRequest {
    /// Must be `client_credentials`.
    #[schema(example = "client_credentials")]
    pub grant_type: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    /// Space-separated scopes wanted; default all the client's scopes.
    pub scope: Option<String>,
}

/// An access token for a partner client (RFC 6749 §5.1).
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// An EdDSA JWT with `typ` `partner+jwt`, verifiable with the JWKS.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the token expires.
    pub expires_in: i64,
    /// The scopes granted, space-separated.
    pub scope: String,
}

/// An OAuth 2 error (RFC 6749 §5.2).
#[derive(Debug, Serialize, ToSchema)]
pub struct OAuthError {
    /// `invalid_request`, `invalid_client`, `unsupported_grant_type` or `invalid_scope`.
    pub error: &'static str,
    pub error_description: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openapi::bounds::{assert_items, assert_lengths, property};

    #[test]
    fn documented_bounds_are_the_enforced_ones() {
        for request in [
            serde_json::to_value(<CreateClientRequest as utoipa::PartialSchema>::schema()),
            serde_json::to_value(<UpdateClientRequest as utoipa::PartialSchema>::schema()),
        ] {
            let properties = &request.unwrap()["properties"];
            assert_lengths(&properties["name"], 'é', |n| client_name(n).is_ok());
            assert_items(&properties["scopes"], |n| {
                checked_scopes("scopes", &vec!["issues:read".to_owned(); n]).is_ok()
            });
        }
        assert_eq!(
            property::<CreateClientRequest>("name")["maxLength"],
            MAX_NAME_CHARS
        );
    }
}
