//! The category routes.

use utoipa_actix_web::service_config::ServiceConfig;

/// Registers the category routes (under `/api/v1`).
pub fn configure(_cfg: &mut ServiceConfig) {}
