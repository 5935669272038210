//! The account routes: signing up and in (`auth`) and the caller's own account (`me`).

mod auth;
mod me;

use utoipa_actix_web::service_config::ServiceConfig;

pub use auth::*;
pub use me::*;

/// Registers the account routes (under `/api/v1`).
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(register_account)
        .service(verify_email)
        .service(login)
        .service(refresh_session)
        .service(logout)
        .service(request_password_reset)
        .service(confirm_password_reset)
        .service(get_me)
        .service(update_me)
        .service(change_password)
        .service(resend_verification_email)
        .service(list_sessions)
        .service(delete_session);
}

/// The longest opaque token accepted; anything longer is not one of ours.
const MAX_TOKEN_LEN: usize = 256;

fn plausible_token(token: &str) -> bool {
    !token.is_empty() && token.len() <= MAX_TOKEN_LEN
}
