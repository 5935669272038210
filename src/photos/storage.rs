//! Where photo bytes live: an `object_store` chosen by `CIVITAS_OBJECT_STORE_URL`
//! (`<data dir>/photos` on the local disk by default, another `file://` root, or `memory://`).
//!
//! Objects are keyed `photos/{id}.jpg` and `photos/{id}-thumb.jpg` under the store's root,
//! are written once and never change.

use bytes::Bytes;
use futures_util::stream::BoxStream;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use secrecy::ExposeSecret;
use std::sync::Arc;

use crate::config::Config;

/// The folder of photo objects under the store's root.
const PHOTOS_FOLDER: &str = "photos";

/// Which rendition of a photo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Size {
    /// The re-encoded photo, longest side at most 2048 px.
    Full,
    /// The thumbnail, longest side at most 320 px.
    Thumb,
}

/// A stored object, ready to stream.
pub struct StoredObject {
    pub size: u64,
    pub body: BoxStream<'static, object_store::Result<Bytes>>,
}

/// The photo store shared by every worker.
#[derive(Debug, Clone)]
pub struct PhotoStore {
    store: Arc<dyn ObjectStore>,
    root: Path,
}

impl PhotoStore {
    /// Opens the store the settings name; a bad URL stops start-up with one clear line.
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        match &config.object_store_url {
            None => Self::local(&config.data_dir),
            Some(url) => Self::from_url(url.expose_secret()),
        }
    }

    /// A store kept in memory (tests, demos): everything is lost when the process ends.
    pub fn in_memory() -> Self {
        Self {
            store: Arc::new(InMemory::new()),
            root: Path::default(),
        }
    }

    fn local(dir: &std::path::Path) -> anyhow::Result<Self> {
        let photos = dir.join(PHOTOS_FOLDER);
        std::fs::create_dir_all(&photos).map_err(|error| {
            anyhow::anyhow!("cannot create the photo directory {photos:?}: {error}")
        })?;
        let store = LocalFileSystem::new_with_prefix(dir).map_err(|error| {
            anyhow::anyhow!("cannot open the photo directory {photos:?}: {error}")
        })?;
        Ok(Self {
            store: Arc::new(store),
            root: Path::default(),
        })
    }

    fn from_url(raw: &str) -> anyhow::Result<Self> {
        const SETTING: &str = "CIVITAS_OBJECT_STORE_URL";
        let url = url::Url::parse(raw).map_err(|error| {
            anyhow::anyhow!("{SETTING}: not a URL ({error}); expected file:///path or memory://")
        })?;
        match url.scheme() {
            "file" => {
                let dir = url.to_file_path().map_err(|()| {
                    anyhow::anyhow!("{SETTING}: a file:// URL needs an absolute path")
                })?;
                Self::local(&dir)
            }
            "memory" => Ok(Self::in_memory()),
            _ => {
                // Cloud stores take their credentials from the usual variables
                // (`AWS_ACCESS_KEY_ID`, `AWS_REGION`, `AWS_ENDPOINT`…).
                let options = std::env::vars()
                    .filter(|(key, _)| key.starts_with("AWS_"))
                    .map(|(key, value)| (key.to_ascii_lowercase(), value));
                let (store, root) = object_store::parse_url_opts(&url, options).map_err(|error| {
                    anyhow::anyhow!(
                        "{SETTING}: cannot use {}:// ({error}); expected file:///path or memory://",
                        url.scheme()
                    )
                })?;
                Ok(Self {
                    store: Arc::from(store),
                    root,
                })
            }
        }
    }

    /// Where a rendition of a photo is kept.
    pub fn key(&self, photo_id: &str, size: Size) -> Path {
        let name = match size {
            Size::Full => format!("{photo_id}.jpg"),
            Size::Thumb => format!("{photo_id}-thumb.jpg"),
        };
        self.root.clone().join(PHOTOS_FOLDER).join(name)
    }

    /// Stores a rendition.
    pub async fn put(
        &self,
        photo_id: &str,
        size: Size,
        bytes: Vec<u8>,
    ) -> object_store::Result<()> {
        self.store
            .put(&self.key(photo_id, size), PutPayload::from(bytes))
            .await?;
        Ok(())
    }

    /// Removes both renditions of a photo, logging (not failing on) what cannot be removed:
    /// this runs when something else has already failed.
    pub async fn delete_quietly(&self, photo_id: &str) {
        for size in [Size::Full, Size::Thumb] {
            let key = self.key(photo_id, size);
            match self.store.delete(&key).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(error) => tracing::error!(%error, %key, "could not delete a photo object"),
            }
        }
    }

    /// Opens a rendition for streaming; `None` if it is not there.
    pub async fn get(
        &self,
        photo_id: &str,
        size: Size,
    ) -> object_store::Result<Option<StoredObject>> {
        match self.store.get(&self.key(photo_id, size)).await {
            Ok(result) => Ok(Some(StoredObject {
                size: result.meta.size,
                body: result.into_stream(),
            })),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }
}

#[cfg(test)]
mod tests {

    use super::*;
    use futures_util::TryStreamExt;

    #[test]
    fn keys_are_photos_id_jpg_under_the_root() {
        let store = PhotoStore::in_memory();
        assert_eq!(store.key("abc", Size::Full).as_ref(), "photos/abc.jpg");
        assert_eq!(
            store.key("abc", Size::Thumb).as_ref(),
            "photos/abc-thumb.jpg"
        );
        let prefixed = PhotoStore {
            root: Path::from("civitas/prod"),
            ..store
        };
        assert_eq!(
            prefixed.key("abc", Size::Full).as_ref(),
            "civitas/prod/photos/abc.jpg"
        );
    }

    #[test]
    fn unknown_and_malformed_urls_name_the_setting() {
        for url in ["not a url", "ftp://example.org/x", "s3://bucket/prefix"] {
            let error = PhotoStore::from_url(url).unwrap_err().to_string();
            assert!(
                error.starts_with("CIVITAS_OBJECT_STORE_URL"),
                "{url}: {error}"
            );
        }
    }

    #[tokio::test]
    async fn a_file_url_stores_under_its_photos_folder() {
        let dir = tempfile::tempdir().unwrap();
        let url = url::Url::from_directory_path(dir.path()).unwrap();
        let store = PhotoStore::from_url(url.as_str()).unwrap();
        store
            .put("p1", Size::Thumb, b"jpeg".to_vec())
            .await
            .unwrap();
        assert_eq!(
            std::fs::read(dir.path().join("photos/p1-thumb.jpg")).unwrap(),
            b"jpeg"
        );
        let object = store.get("p1", Size::Thumb).await.unwrap().unwrap();
        assert_eq!(object.size, 4);
        let chunks: Vec<Bytes> = object.body.try_collect().await.unwrap();
        assert_eq!(chunks.concat(), b"jpeg");
        assert!(store.get("p1", Size::Full).await.unwrap().is_none());
        store.delete_quietly("p1").await;
        assert!(store.get("p1", Size::Thumb).await.unwrap().is_none());
    }
}
