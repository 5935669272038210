//! Opportunities: a group's call for volunteers, optionally for an issue, with a time
//! window, a place (or online), a capacity, skills wanted and safety notes.

pub mod models;
pub mod routes;
pub mod views;
