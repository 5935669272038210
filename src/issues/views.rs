//! Issue wire types.
