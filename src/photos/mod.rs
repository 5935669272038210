//! Issue photos: upload (multipart), decoding with limits, re-encoding without metadata,
//! thumbnails, storage through `object_store`, and serving.

pub mod models;
pub mod routes;
pub mod storage;
