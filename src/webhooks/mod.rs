//! Webhooks for partner clients: subscriptions (`routes`, `models`, `views`), the fan-out
//! of domain events into signed deliveries (`payload`), and the sender that delivers them
//! with retries (`sender`), guarded against requests to internal addresses (`guard`) and
//! signed in the Standard Webhooks format (`signature`).

pub mod guard;
pub mod models;
pub mod payload;
pub mod routes;
pub mod sender;
pub mod signature;
pub mod views;

pub use payload::fanout;
