//! Photo rows and queries.
