//! The public signing keys, for partners verifying citizens' tokens.

use actix_web::{HttpResponse, get, web};

use super::keys::JwkSet;
use crate::db;
use crate::error::{ApiError, ApiResult};
use crate::startup::AppState;

/// The public keys that verify Civitas's access tokens (RFC 7517 JWK Set; Ed25519 keys,
/// RFC 8037). Pick the key by the token's `kid`; keys rotate, so refetch on an unknown one.
#[utoipa::path(
    tag = "Accounts",
    responses(
        (status = 200, description = "The JWK Set", body = JwkSet),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[get("/.well-known/jwks.json")]
pub async fn get_jwks(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let app = state.clone();
    let jwks = db::read(&state.pool, move |conn| {
        app.keys.jwks(conn).map_err(ApiError::internal)
    })
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "public, max-age=300"))
        .json(jwks))
}
