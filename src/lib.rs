//! Civitas: the backend for citizen-participation apps. Residents report local problems,
//! rally neighbours and community groups to fix them, pledge time, skills, materials or
//! money, and escalate to the council only when the community cannot solve them.
//!
//! Requests enter in `startup` (the app) and `<feature>/routes`, are checked by the
//! extractors in `auth` and the domain types in `domain`, and are stored through
//! `<feature>/models` over `db`.

pub mod accounts;
pub mod audit;
pub mod auth;
pub mod categories;
pub mod cli;
pub mod conditional;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod events;
pub mod fallback;
pub mod groups;
pub mod health;
pub mod idempotency;
pub mod insight;
pub mod issues;
pub mod json_body;
pub mod mail;
pub mod metrics;
pub mod moderation;
pub mod notifications;
pub mod open311;
pub mod openapi;
pub mod opportunities;
pub mod pagination;
pub mod partners;
pub mod photos;
pub mod pledges;
pub mod privacy;
pub mod ratelimit;
pub mod seed;
pub mod startup;
pub mod sync;
pub mod telemetry;
pub mod webhooks;
