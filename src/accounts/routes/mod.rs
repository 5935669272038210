//! The account routes: signing up and in (`auth`) and the caller's own account (`me`).

mod auth;
mod me;
mod roles;

use utoipa_actix_web::service_config::ServiceConfig;

pub use auth::*;
pub use me::*;
pub use roles::*;

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
        .service(delete_session)
        .service(set_account_role);
}

/// The longest opaque token accepted; anything longer is not one of ours.
const MAX_TOKEN_LEN: usize = 256;
/// The longest password checked against a stored hash, in bytes; anything longer cannot
/// be right (new passwords have at most 128 characters).
pub(crate) const MAX_PASSWORD_BYTES: usize = 1024;

fn plausible_token(token: &str) -> bool {
    !token.is_empty() && token.len() <= MAX_TOKEN_LEN
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::views::{
        ChangePasswordRequest, LoginRequest, MailTokenRequest, PasswordResetConfirm, RefreshRequest,
    };
    use crate::openapi::bounds::{assert_lengths, property};

    #[test]
    fn documented_token_and_password_lengths_are_the_enforced_ones() {
        for token in [
            property::<MailTokenRequest>("token"),
            property::<PasswordResetConfirm>("token"),
            property::<RefreshRequest>("refresh_token"),
        ] {
            assert_lengths(&token, 'a', plausible_token);
        }
        for password in [
            property::<LoginRequest>("password"),
            property::<ChangePasswordRequest>("current_password"),
        ] {
            assert_eq!(password["maxLength"], MAX_PASSWORD_BYTES);
        }
        assert_eq!(
            property::<LoginRequest>("device_name")["maxLength"],
            auth::MAX_DEVICE_NAME_LEN
        );
    }
}
