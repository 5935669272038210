//! Citizen accounts and sessions: registration, email verification, login, refresh-token
//! rotation, logout, password change and reset, profile, and devices signed in.

pub mod models;
pub mod routes;
pub mod throttle;
pub mod views;
