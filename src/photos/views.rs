//! Request and response bodies of the photo routes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::models::PhotoRow;
use crate::db::utc;

/// The multipart/form-data body of an upload.
#[derive(Debug, ToSchema)]
pub struct UploadPhoto {
    /// The photo: JPEG, PNG or WebP, at most 10 MiB (with the rest of the form) and
    /// 10 000 px a side. It is re-encoded as JPEG (longest side at most 2048 px) without
    /// any metadata: EXIF, GPS position, camera details and comments are all removed.
    #[schema(value_type = String, format = Binary)]
    pub photo: Vec<u8>,
}

/// A photo of an issue.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PhotoView {
    #[schema(example = "01936f0e-7c4a-7d2e-9f3b-5a1c2d3e4f50")]
    pub id: String,
    /// The issue it shows.
    pub issue_id: String,
    /// The photo (JPEG), relative to this service.
    #[schema(example = "/api/v1/photos/01936f0e-7c4a-7d2e-9f3b-5a1c2d3e4f50")]
    pub url: String,
    /// The thumbnail (JPEG, longest side at most 320 px), relative to this service.
    #[schema(example = "/api/v1/photos/01936f0e-7c4a-7d2e-9f3b-5a1c2d3e4f50?size=thumb")]
    pub thumbnail_url: String,
    /// Of the photo at `url`, in pixels.
    #[schema(example = 2048)]
    pub width: i32,
    #[schema(example = 1536)]
    pub height: i32,
    pub created_at: DateTime<Utc>,
    /// `true` on a photo moderators took out of public view (only staff see those);
    /// absent otherwise.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub hidden: bool,
}

impl From<PhotoRow> for PhotoView {
    fn from(row: PhotoRow) -> Self {
        let url = format!("/api/v1/photos/{}", row.id);
        Self {
            thumbnail_url: format!("{url}?size=thumb"),
            url,
            id: row.id,
            issue_id: row.issue_id,
            width: row.width,
            height: row.height,
            created_at: utc(row.created_at),
            hidden: row.hidden_at.is_some(),
        }
    }
}

/// Which rendition of a photo to fetch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PhotoSize {
    /// The photo, longest side at most 2048 px.
    #[default]
    Full,
    /// The thumbnail, longest side at most 320 px.
    Thumb,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PhotoQuery {
    /// `thumb` for the thumbnail; the full photo by default.
    #[param(inline)]
    pub size: Option<PhotoSize>,
}
