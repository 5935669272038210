//! Community groups: membership with roles and join policies, and adopting issues.

pub mod models;
pub mod routes;
pub mod views;
