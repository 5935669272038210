//! The photo routes: upload a photo of an issue, and fetch a photo or its thumbnail.

use actix_multipart::Multipart;
use actix_web::http::header::{self, CacheControl, CacheDirective, EntityTag};
use actix_web::{HttpMessage, HttpRequest, HttpResponse, get, mime, post, web};
use futures_util::TryStreamExt;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::models::{self, Added, PhotoRow};
use super::process::{self, ProcessError, Processed};
use super::storage::Size;
use super::views::{PhotoQuery, PhotoSize, PhotoView, UploadPhoto};
use crate::auth::{MaybeUser, VerifiedCitizen};
use crate::db;
use crate::error::{ApiError, ApiResult};
use crate::issues::routes::visible_issue;
use crate::startup::AppState;

/// The largest upload accepted: the photo and any other form fields together.
pub const MAX_UPLOAD_BYTES: usize = 10 * 1024 * 1024;
/// Room for multipart boundaries and part headers on top of `MAX_UPLOAD_BYTES`, when
/// judging a request by its `Content-Length` alone.
const MULTIPART_OVERHEAD: u64 = 16 * 1024;
/// Photos never change once stored, so caches may keep them for a year.
const CACHE_SECONDS: u32 = 365 * 24 * 60 * 60;

/// Registers the photo routes (under `/api/v1`).
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(upload_photo).service(get_photo);
}

/// The bytes of a JPEG.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct JpegBytes(
    #[expect(dead_code, reason = "only its schema is used, by the OpenAPI document")] Vec<u8>,
);

/// Add a photo to an issue. Its reporter, its supporters and staff may.
///
/// Send `multipart/form-data` with the file in the field `photo` (JPEG, PNG or WebP, at
/// most 10 000 px a side). Civitas keeps only the pixels: the photo is turned upright,
/// re-encoded as JPEG with its longest side at most 2048 px, and every piece of metadata
/// (EXIF, GPS position, camera, comments) is dropped. A thumbnail (longest side at most
/// 320 px) is made alongside.
///
/// Limits: the body (the photo and any other form fields together) may be at most 10 MiB
/// (10 485 760 bytes); a larger one answers `413` (a `Content-Length` above 10 MiB and
/// 16 KiB of multipart framing is refused before the body is read). An issue holds at
/// most `CIVITAS_MAX_PHOTOS_PER_ISSUE` photos (10 unless the deployment sets 1 to 100):
/// one more answers `409` `too_many_photos`.
///
/// Invalid uploads answer 422 with a field error on `photo`: `required`,
/// `unsupported_image` (not a JPEG, PNG or WebP, empty, or damaged) or `image_too_large`.
#[utoipa::path(
    tag = "Photos",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The issue's id")),
    request_body(content_type = "multipart/form-data", content = UploadPhoto),
    responses(
        (status = 201, description = "The photo was added", body = PhotoView,
            headers(("Location" = String, description = "The photo's URL"))),
        (status = 400, response = crate::error::BadRequest),
        (status = 401, response = crate::error::Unauthorized),
        (status = 403, response = crate::error::Forbidden),
        (status = 404, response = crate::error::NotFound),
        (status = 409, response = crate::error::Conflict),
        (status = 413, response = crate::error::PayloadTooLarge),
        (status = 415, response = crate::error::UnsupportedMediaType),
        (status = 422, response = crate::error::ValidationFailed),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[post("/issues/{id}/photos")]
pub async fn upload_photo(
    state: web::Data<AppState>,
    VerifiedCitizen(user): VerifiedCitizen,
    path: web::Path<String>,
    req: HttpRequest,
    payload: Multipart,
) -> ApiResult<HttpResponse> {
    require_multipart(&req)?;
    let issue_id = path.into_inner();
    let max = state.config.max_photos_per_issue;

    // Refuse what can be refused before reading the body.
    let (id, uploader) = (issue_id.clone(), user.clone());
    db::read(&state.pool, move |conn| {
        let issue = visible_issue(conn, &id, Some(&uploader))?;
        if !models::may_add_photo(conn, &issue, &uploader.account_id, uploader.role)? {
            return Err(ApiError::forbidden(
                "forbidden",
                "Only the issue's reporter, its supporters and staff may add photos.",
            ));
        }
        if issue.photo_count >= max {
            return Err(too_many_photos(max));
        }
        Ok(())
    })
    .await?;

    let upload = read_photo_field(payload).await?;
    let processed = {
        let _turn = state.photos.processing_turn().await?;
        web::block(move || process::process(&upload))
            .await?
            .map_err(process_error)?
    };

    // Store and commit in a task of its own, so a client hanging up half-way cannot
    // leave objects without a row.
    let row = new_photo_row(issue_id, Some(user.account_id), &processed)?;
    let task_state = state.clone();
    let row = db::spawn(store_and_commit(task_state, row, processed, user.role))
        .await
        .map_err(ApiError::internal)??;

    let view = PhotoView::from(row);
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, view.url.clone()))
        .json(view))
}

/// The row of a freshly processed photo of `issue_id`, uploaded by `uploader_id` (`None`
/// for a partner's upload, made by no account).
pub(crate) fn new_photo_row(
    issue_id: String,
    uploader_id: Option<String>,
    processed: &Processed,
) -> ApiResult<PhotoRow> {
    Ok(PhotoRow {
        id: uuid::Uuid::now_v7().to_string(),
        issue_id,
        uploader_id,
        width: dimension(processed.full.width)?,
        height: dimension(processed.full.height)?,
        byte_size: i64::try_from(processed.full.jpeg.len()).map_err(ApiError::internal)?,
        thumb_width: dimension(processed.thumb.width)?,
        thumb_height: dimension(processed.thumb.height)?,
        created_at: db::now(),
        hidden_at: None,
    })
}

/// Writes both renditions, then the row; removes the objects again if the row is not
/// committed. `role` is the uploader's, for the timeline (unused without an uploader).
pub(crate) async fn store_and_commit(
    state: web::Data<AppState>,
    row: PhotoRow,
    processed: Processed,
    role: crate::domain::Role,
) -> ApiResult<PhotoRow> {
    let store = &state.photos.store;
    let stored = async {
        store.put(&row.id, Size::Full, processed.full.jpeg).await?;
        store.put(&row.id, Size::Thumb, processed.thumb.jpeg).await
    }
    .await;
    if let Err(error) = stored {
        store.delete_quietly(&row.id).await;
        return Err(ApiError::internal(error));
    }
    let max = state.config.max_photos_per_issue;
    let insert = row.clone();
    let outcome = db::write(&state.pool, move |conn| {
        models::add_photo(conn, &insert, max, role).map_err(issue_not_found)
    })
    .await;
    match outcome {
        Ok(Added::Yes) => Ok(row),
        Ok(Added::LimitReached) => {
            store.delete_quietly(&row.id).await;
            Err(too_many_photos(max))
        }
        Err(error) => {
            store.delete_quietly(&row.id).await;
            Err(error)
        }
    }
}

/// Get a photo (JPEG), or with `?size=thumb` its thumbnail. Public.
///
/// Photos never change: responses carry an `ETag` and may be cached for a year;
/// `If-None-Match` answers 304. A photo moderators hid, or a photo of a hidden issue, is
/// `404` for everyone but staff (signed in with `Authorization`), to whom it is served
/// with `Cache-Control: private, no-store`.
#[utoipa::path(
    tag = "Photos",
    params(("id" = String, Path, description = "The photo's id"), PhotoQuery),
    responses(
        (status = 200, description = "The photo", content_type = "image/jpeg", body = JpegBytes,
            headers(
                ("ETag" = String, description = "The photo's id and size"),
                ("Cache-Control" = String, description = "`public, max-age=31536000, immutable`"),
            )),
        (status = 304, description = "Not modified: the `If-None-Match` tag matches"),
        (status = 400, response = crate::error::BadRequest),
        (status = 401, response = crate::error::Unauthorized),
        (status = 404, response = crate::error::NotFound),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[get("/photos/{id}")]
pub async fn get_photo(
    state: web::Data<AppState>,
    MaybeUser(viewer): MaybeUser,
    path: web::Path<String>,
    query: web::Query<PhotoQuery>,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    let size = match query.size.unwrap_or_default() {
        PhotoSize::Full => Size::Full,
        PhotoSize::Thumb => Size::Thumb,
    };
    let lookup = id.clone();
    let staff = viewer.is_some_and(|v| v.role.is_staff());
    let hidden = db::read(&state.pool, move |conn| {
        let missing = || ApiError::not_found("There is no such photo.");
        let photo = models::find_photo(conn, &lookup).map_err(|error| match error {
            diesel::result::Error::NotFound => missing(),
            other => other.into(),
        })?;
        let hidden = models::is_hidden(conn, &photo)?;
        if hidden && !staff {
            return Err(missing());
        }
        Ok(hidden)
    })
    .await?;

    let etag = EntityTag::new_strong(match size {
        Size::Full => id.clone(),
        Size::Thumb => format!("{id}-thumb"),
    });
    // What staff see of hidden content must not linger in shared caches.
    let cache = if hidden {
        CacheControl(vec![CacheDirective::Private, CacheDirective::NoStore])
    } else {
        CacheControl(vec![
            CacheDirective::Public,
            CacheDirective::MaxAge(CACHE_SECONDS),
            CacheDirective::Extension("immutable".into(), None),
        ])
    };
    let fresh = match req.get_header::<header::IfNoneMatch>() {
        Some(header::IfNoneMatch::Any) => true,
        Some(header::IfNoneMatch::Items(tags)) => tags.iter().any(|tag| tag.weak_eq(&etag)),
        None => false,
    };
    if fresh {
        return Ok(HttpResponse::NotModified()
            .insert_header(header::ETag(etag))
            .insert_header(cache)
            .finish());
    }

    let object = state
        .photos
        .store
        .get(&id, size)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| {
            ApiError::internal(anyhow::anyhow!(
                "photo {id} has a row but no {size:?} object"
            ))
        })?;
    Ok(HttpResponse::Ok()
        .content_type("image/jpeg")
        .insert_header(header::ETag(etag))
        .insert_header(cache)
        .insert_header(("X-Content-Type-Options", "nosniff"))
        // JPEG does not shrink: keep the compression middleware off it.
        .insert_header(header::ContentEncoding::Identity)
        .no_chunking(object.size)
        .streaming(object.body))
}

/// 415 unless the body is `multipart/form-data`.
fn require_multipart(req: &HttpRequest) -> ApiResult<()> {
    let refuse = || {
        ApiError::unsupported_media_type(
            "Send the photo as `multipart/form-data`, in a field named `photo`.",
        )
    };
    let mime = req.mime_type().map_err(|_| refuse())?.ok_or_else(refuse)?;
    if mime.type_() != mime::MULTIPART || mime.subtype() != mime::FORM_DATA {
        return Err(refuse());
    }
    if let Some(length) = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok())
    {
        if length > MAX_UPLOAD_BYTES as u64 + MULTIPART_OVERHEAD {
            return Err(too_large());
        }
    }
    Ok(())
}

/// Reads the form, keeping the first `photo` field and counting every byte: past
/// `MAX_UPLOAD_BYTES` it stops reading and answers 413.
async fn read_photo_field(mut form: Multipart) -> ApiResult<Vec<u8>> {
    let mut photo = None;
    let mut total = 0usize;
    while let Some(mut field) = form.try_next().await.map_err(malformed)? {
        let keep = photo.is_none() && field.name() == Some("photo");
        let mut bytes = Vec::new();
        while let Some(chunk) = field.try_next().await.map_err(malformed)? {
            total += chunk.len();
            if total > MAX_UPLOAD_BYTES {
                return Err(too_large());
            }
            if keep {
                bytes.extend_from_slice(&chunk);
            }
        }
        if keep {
            photo = Some(bytes);
        }
    }
    match photo {
        Some(bytes) if !bytes.is_empty() => Ok(bytes),
        Some(_) => Err(ApiError::invalid_field(
            "photo",
            "unsupported_image",
            "The photo is empty.",
        )),
        None => Err(ApiError::invalid_field(
            "photo",
            "required",
            "Send the photo in a form field named `photo`.",
        )),
    }
}

fn malformed(error: actix_multipart::MultipartError) -> ApiError {
    ApiError::bad_request(
        "malformed_multipart",
        format!("The multipart body could not be read: {error}"),
    )
}

fn too_large() -> ApiError {
    ApiError::payload_too_large(format!(
        "A photo upload may be at most {} MiB.",
        MAX_UPLOAD_BYTES / (1024 * 1024)
    ))
}

fn too_many_photos(max: i32) -> ApiError {
    ApiError::conflict(
        "too_many_photos",
        format!("This issue already has the most photos it may have ({max})."),
    )
}

fn issue_not_found(error: diesel::result::Error) -> ApiError {
    match error {
        diesel::result::Error::NotFound => ApiError::not_found("There is no such issue."),
        other => other.into(),
    }
}

fn process_error(error: ProcessError) -> ApiError {
    match error {
        ProcessError::Unsupported(_) => ApiError::invalid_field(
            "photo",
            "unsupported_image",
            "This is not a JPEG, PNG or WebP image, or it is damaged.",
        ),
        ProcessError::TooLarge(_) => ApiError::invalid_field(
            "photo",
            "image_too_large",
            format!(
                "The image is too large: at most {} pixels a side, and small enough to decode.",
                process::MAX_DIMENSION
            ),
        ),
        ProcessError::Encode(error) => ApiError::internal(error),
    }
}

fn dimension(pixels: u32) -> ApiResult<i32> {
    i32::try_from(pixels).map_err(ApiError::internal)
}
