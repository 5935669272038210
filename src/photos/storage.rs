//! Where photo bytes live.
