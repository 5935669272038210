//! Pledges: a citizen's commitment of time, a skill, materials or money to an
//! opportunity or an issue; conditional pledges; capacity and the waitlist; claiming and
//! verifying hours; and the participation record built from them.

pub mod models;
pub mod participation;
pub mod routes;
pub mod views;
