//! Local issues: reporting, finding (near a point, in a box, by text), duplicates, detail,
//! editing, the community-first lifecycle, the public timeline, comments, support and
//! follow.

pub mod lifecycle;
pub mod models;
pub mod routes;
pub mod timeline;
pub mod views;
