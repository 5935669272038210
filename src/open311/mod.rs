//! Open311 GeoReport v2 under `/open311/v2`, over the same categories (services) and issues
//! (service requests) as the REST API, in XML and JSON.
//!
//! `routes` takes the requests, `params` reads their raw parameters, `queries` finds the
//! issues, `views` are the answers, `format` writes them as XML or JSON, and `error` is the
//! Open311 error list.

pub mod error;
pub mod format;
pub mod params;
pub mod queries;
pub mod routes;
pub mod views;

/// When this Open311 API last changed (the discovery `changeset`).
pub const CHANGESET: &str = "2026-11-23T00:00:00Z";
/// The specification the endpoint follows.
pub const SPECIFICATION: &str = "http://wiki.open311.org/GeoReport_v2";
