//! Category wire types.
