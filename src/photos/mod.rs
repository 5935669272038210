//! Issue photos: upload (multipart), decoding with limits, re-encoding without metadata,
//! thumbnails, storage through `object_store`, and serving.

pub mod models;
pub mod process;
pub mod routes;
pub mod storage;
pub mod views;

use std::time::Duration;
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::config::Config;
use crate::error::ApiError;
pub use models::{PhotoRow, list_photos};
pub use storage::PhotoStore;
pub use views::PhotoView;

/// How long an upload waits for a turn to be decoded before the server answers 503.
const PROCESSING_WAIT: Duration = Duration::from_secs(30);

/// The photo store, and the turns at decoding: each decode may hold a few hundred MB, so
/// only as many run at once as there are cores.
pub struct Photos {
    pub store: PhotoStore,
    processing: Semaphore,
}

impl Photos {
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        Ok(Self::new(PhotoStore::from_config(config)?))
    }

    pub fn new(store: PhotoStore) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        Self {
            store,
            processing: Semaphore::new(cores),
        }
    }

    /// Waits for a turn to decode an upload; 503 if the wait is too long.
    pub async fn processing_turn(&self) -> Result<SemaphorePermit<'_>, ApiError> {
        let busy = || ApiError::unavailable("Too many photos are being processed; try again.", 5);
        tokio::time::timeout(PROCESSING_WAIT, self.processing.acquire())
            .await
            .map_err(|_| busy())?
            .map_err(|_| busy())
    }
}
