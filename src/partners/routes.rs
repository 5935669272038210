//! Partner routes: the OAuth 2 token endpoint and client management for admins.

use utoipa_actix_web::service_config::ServiceConfig;

/// Registers the partner routes (under `/api/v1`).
pub fn configure(_cfg: &mut ServiceConfig) {}
