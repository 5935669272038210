//! Trust and insight for everyone: aggregate figures (`GET /stats`) and the open-data
//! exports of public issues (`GET /open-data/issues.csv`, `.geojson`).
//!
//! Both read only issues in the public list (see [`models::LISTED_SQL`]), so whatever
//! later hides an issue from `GET /issues` hides it here too, in one place.

pub mod models;
pub mod open_data;
pub mod routes;
pub mod views;
