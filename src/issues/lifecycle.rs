//! The lifecycle.
