//! The issue routes.

use utoipa_actix_web::service_config::ServiceConfig;

/// Registers the issue routes (under `/api/v1`).
pub fn configure(_cfg: &mut ServiceConfig) {}
