//! Access tokens (EdDSA-signed JWTs) and opaque tokens (refresh, email verification,
//! password reset), which are random and stored only as SHA-256 hashes.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, Header, Validation};
use rand::RngCore;
use rand::rngs::OsRng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::keys::{CheckedSignature, KeyStore};
use crate::db::DbConnection;
use crate::error::ApiError;

/// How long an access token lives, in seconds.
pub const ACCESS_TOKEN_TTL_SECS: i64 = 15 * 60;
/// The `typ` header of a citizen's access token (RFC 9068).
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";
/// The `typ` header of a partner client's access token: distinct, so a partner token is
/// never taken for a citizen's or the other way round.
pub const PARTNER_TOKEN_TYP: &str = "partner+jwt";
/// How long a partner client's access token lives, in seconds.
pub const PARTNER_TOKEN_TTL_SECS: i64 = 15 * 60;
/// The audience of every access token Civitas issues.
pub const AUDIENCE: &str = "civitas-api";
/// Clock skew tolerated on `exp` and `nbf`, in seconds.
const LEEWAY_SECS: u64 = 30;

/// A citizen's access token whose signature and claims were checked earlier in this
/// request (by the rate limiter), kept in the request's extensions so the handler's
/// authentication does not verify the signature a second time.
#[derive(Debug, Clone)]
pub(crate) struct VerifiedAccess {
    pub token: String,
    pub claims: AccessClaims,
}

/// What a citizen's access token says.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: String,
    /// The account id.
    pub sub: String,
    /// The session id: a revoked session's tokens stop working at once.
    pub sid: String,
    pub role: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: String,
}

/// What a partner client's access token says.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PartnerClaims {
    pub iss: String,
    pub aud: String,
    /// The client id.
    pub sub: String,
    pub client_id: String,
    /// The granted scopes, space-separated.
    pub scope: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: String,
}

/// Signs an access token for a session with the newest key.
pub fn issue_access_token(
    keys: &KeyStore,
    conn: &mut DbConnection,
    issuer: &str,
    account_id: &str,
    session_id: &str,
    role: &str,
) -> Result<String, ApiError> {
    let now = chrono::Utc::now().timestamp();
    let claims = AccessClaims {
        iss: issuer.to_owned(),
        aud: AUDIENCE.to_owned(),
        sub: account_id.to_owned(),
        sid: session_id.to_owned(),
        role: role.to_owned(),
        iat: now,
        nbf: now,
        exp: now + ACCESS_TOKEN_TTL_SECS,
        jti: uuid::Uuid::now_v7().to_string(),
    };
    sign(keys, conn, ACCESS_TOKEN_TYP, &claims)
}

/// Signs an access token for a partner client with the newest key.
pub fn issue_partner_token(
    keys: &KeyStore,
    conn: &mut DbConnection,
    issuer: &str,
    client_id: &str,
    scope: &str,
) -> Result<String, ApiError> {
    let now = chrono::Utc::now().timestamp();
    let claims = PartnerClaims {
        iss: issuer.to_owned(),
        aud: AUDIENCE.to_owned(),
        sub: client_id.to_owned(),
        client_id: client_id.to_owned(),
        scope: scope.to_owned(),
        iat: now,
        nbf: now,
        exp: now + PARTNER_TOKEN_TTL_SECS,
        jti: uuid::Uuid::now_v7().to_string(),
    };
    sign(keys, conn, PARTNER_TOKEN_TYP, &claims)
}

fn sign<C: Serialize>(
    keys: &KeyStore,
    conn: &mut DbConnection,
    typ: &str,
    claims: &C,
) -> Result<String, ApiError> {
    let (kid, key) = keys.signing_key(conn).map_err(ApiError::internal)?;
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(kid);
    header.typ = Some(typ.to_owned());
    jsonwebtoken::encode(&header, claims, &key).map_err(ApiError::internal)
}

/// The `typ` header of a token, without checking anything else; `None` when the token
/// cannot be decoded.
pub fn token_typ(token: &str) -> Option<String> {
    jsonwebtoken::decode_header(token).ok()?.typ
}

fn invalid_token() -> ApiError {
    ApiError::unauthorized(
        "invalid_token",
        "The access token is invalid or has expired.",
    )
}

/// Verifies an access token's signature and claims. The algorithm is pinned to EdDSA,
/// the `typ` must be an access token's, and `exp`, `nbf`, `iss` and `aud` are all checked.
pub fn verify_access_token(
    keys: &KeyStore,
    conn: &mut DbConnection,
    issuer: &str,
    token: &str,
) -> Result<AccessClaims, ApiError> {
    verify(keys, Some(conn), issuer, token, ACCESS_TOKEN_TYP)
}

/// Verifies a partner client's access token, as [`verify_access_token`] does a citizen's.
pub fn verify_partner_token(
    keys: &KeyStore,
    conn: &mut DbConnection,
    issuer: &str,
    token: &str,
) -> Result<PartnerClaims, ApiError> {
    verify(keys, Some(conn), issuer, token, PARTNER_TOKEN_TYP)
}

/// Verifies a citizen's access token with the keys this node holds, without touching the
/// database: a token signed by a key this node has not loaded yet fails. For cheap checks
/// in front of the handlers (rate limiting), never for authorisation.
pub fn verify_access_token_cached(
    keys: &KeyStore,
    issuer: &str,
    token: &str,
) -> Result<AccessClaims, ApiError> {
    verify(keys, None, issuer, token, ACCESS_TOKEN_TYP)
}

/// [`verify_access_token_cached`] for partner tokens.
pub fn verify_partner_token_cached(
    keys: &KeyStore,
    issuer: &str,
    token: &str,
) -> Result<PartnerClaims, ApiError> {
    verify(keys, None, issuer, token, PARTNER_TOKEN_TYP)
}

fn verify<C: serde::de::DeserializeOwned>(
    keys: &KeyStore,
    conn: Option<&mut DbConnection>,
    issuer: &str,
    token: &str,
    typ: &str,
) -> Result<C, ApiError> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| invalid_token())?;
    if header.alg != Algorithm::EdDSA || header.typ.as_deref() != Some(typ) {
        return Err(invalid_token());
    }
    let kid = header.kid.ok_or_else(invalid_token)?;
    let key = match conn {
        Some(conn) => keys.verifying_key(&kid, conn),
        None => keys.cached_verifying_key(&kid),
    }
    .map_err(ApiError::internal)?
    .ok_or_else(invalid_token)?;
    // A token this node verified before, signed by a key it still holds: only the time
    // can have changed. Everything else the validation below checks is in the signed
    // token itself, and it passed then.
    if let Some(checked) = keys
        .checked_signature(token)
        .filter(|checked| checked.kid == kid)
    {
        let now = jsonwebtoken::get_current_timestamp();
        if checked.expires.saturating_add(LEEWAY_SECS) < now
            || checked.not_before > now.saturating_add(LEEWAY_SECS)
        {
            return Err(invalid_token());
        }
        return jsonwebtoken::dangerous::insecure_decode::<C>(token)
            .map(|data| data.claims)
            .map_err(|_| invalid_token());
    }
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.algorithms = vec![Algorithm::EdDSA];
    validation.leeway = LEEWAY_SECS;
    validation.validate_nbf = true;
    validation.validate_exp = true;
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[AUDIENCE]);
    validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
    let claims = jsonwebtoken::decode::<C>(token, &key, &validation)
        .map(|data| data.claims)
        .map_err(|_| invalid_token())?;
    let times = jsonwebtoken::dangerous::insecure_decode::<TokenTimes>(token)
        .map_err(|_| invalid_token())?
        .claims;
    keys.remember_signature(
        token,
        CheckedSignature {
            kid,
            not_before: times.nbf,
            expires: times.exp,
        },
    );
    Ok(claims)
}

/// The validity window every access token carries (required by [`verify`]).
#[derive(Deserialize)]
struct TokenTimes {
    nbf: u64,
    exp: u64,
}

/// A fresh opaque token: 256 random bits, base64url.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The stored form of an opaque token. Tokens carry 256 bits of entropy, so a fast hash
/// is enough: there is nothing to brute-force.
pub fn hash_token(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    URL_SAFE_NO_PAD.encode(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_tokens_are_distinct_and_hash_stably() {
        let (a, b) = (random_token(), random_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(hash_token(&a), hash_token(&a));
        assert_ne!(hash_token(&a), hash_token(&b));
    }
}
