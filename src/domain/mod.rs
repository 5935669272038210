//! Validated domain values. No diesel or actix here: a value of these types has been
//! checked once, at the edge, and can be trusted everywhere after.

mod account;

pub use account::{DisplayName, Email, NewPassword, Role};
