//! The API test suite: black-box over HTTP, one fresh database per test. Runs on SQLite,
//! or on PostgreSQL when `TEST_POSTGRES_URL` is set.
#![expect(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "a test should fail loudly at the first surprise"
)]

mod helpers;

mod access_matrix;
mod accounts;
mod audit;
mod categories;
mod errors;
mod faults;
mod groups;
mod idempotency;
mod insight;
mod issues;
mod logs;
mod moderation;
mod notifications;
mod open311;
mod operations;
mod outages;
mod partners;
mod photos;
mod pledges;
mod privacy;
mod ratelimit;
mod scaleout;
mod seed;
mod sessions;
mod storage;
mod sync;
mod tokens;
mod visibility;
mod webhooks;
