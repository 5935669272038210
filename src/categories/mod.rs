//! Categories (Open311 "services"): what can be reported, with the questions asked when
//! reporting and the validation of their answers.

pub mod answers;
pub mod models;
pub mod routes;
pub mod views;
