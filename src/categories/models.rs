//! Category rows and queries.
