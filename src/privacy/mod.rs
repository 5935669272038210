//! Data rights (UK GDPR / GDPR) for citizens: the export of everything Civitas holds
//! about them (`GET /me/export`), the erasure of their account (`DELETE /me`), and
//! consents with their history (`/me/consents`).
//!
//! Consents live in `consents`: other features ask [`consents::granted`] before using
//! what a consent covers, and [`consents::council_contact`] for a reporter's contact
//! details. Erasure (`erase`) keeps public contributions, by "deleted user", and takes
//! everything that identifies the person out of every table in one transaction.

pub mod consents;
pub mod erase;
pub mod export;
pub mod routes;
pub mod views;
