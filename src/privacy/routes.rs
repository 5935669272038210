use utoipa_actix_web::service_config::ServiceConfig;

/// Registers the routes (under `/api/v1`).
pub fn configure(_cfg: &mut ServiceConfig) {}
