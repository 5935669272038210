//! Authentication: password hashing, access-token signing and verification, and the
//! extractors handlers use to require a signed-in account, a verified one, or a role.

pub mod extractors;
pub mod keys;
pub mod password;
pub mod routes;
pub mod tokens;

pub use extractors::{
    AdminOnly, AuthUser, CitizenToCheck, MaybeUser, Moderators, Officers, RoleGuard, RoleSet,
    SessionToCheck, Staff, VerifiedCitizen, Viewer,
};
