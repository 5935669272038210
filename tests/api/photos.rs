//! Issue photos: who may upload, what is refused (too big, not an image, decompression
//! bombs, over the per-issue limit) with nothing stored, metadata stripping, and serving
//! with caching.

use image::{DynamicImage, ImageEncoder, ImageFormat, Rgb, RgbImage, Rgba, RgbaImage};
use reqwest::multipart::{Form, Part};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use std::io::Cursor;
use std::path::PathBuf;

use crate::helpers::{Citizen, TestApp, problem};

/// Bytes that must never survive into a stored photo.
const SECRET: &[u8] = b"GPSLatitude 51.5074N CIVITAS-SECRET-MARKER";

async fn report(app: &TestApp, who: &Citizen) -> String {
    let body = json!({"category": "litter", "title": "Bags by the bench",
        "description": "Several bin bags", "lat": 51.5, "lon": -0.12});
    let response = app.post_json_as("/issues", &who.access_token, &body).await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    let body: Value = response.json().await.unwrap();
    body["id"].as_str().unwrap().to_owned()
}

fn form(field: &str, bytes: Vec<u8>, mime: &str) -> Form {
    let part = Part::bytes(bytes)
        .file_name("upload")
        .mime_str(mime)
        .unwrap();
    Form::new().part(field.to_owned(), part)
}

async fn upload_form(app: &TestApp, issue_id: &str, token: Option<&str>, form: Form) -> Response {
    let mut request = app
        .client
        .post(app.api(&format!("/issues/{issue_id}/photos")))
        .multipart(form);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

async fn upload(
    app: &TestApp,
    issue_id: &str,
    who: &Citizen,
    bytes: Vec<u8>,
    mime: &str,
) -> Response {
    upload_form(
        app,
        issue_id,
        Some(&who.access_token),
        form("photo", bytes, mime),
    )
    .await
}

async fn uploaded(
    app: &TestApp,
    issue_id: &str,
    who: &Citizen,
    bytes: Vec<u8>,
    mime: &str,
) -> Value {
    let response = upload(app, issue_id, who, bytes, mime).await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    response.json().await.unwrap()
}

fn encoded(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, format).unwrap();
    out.into_inner()
}

/// A picture with some structure (so a resize has something to do).
fn picture(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        Rgb([
            (x % 256) as u8,
            (y % 256) as u8,
            ((x / 7 + y / 5) % 256) as u8,
        ])
    })
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let image = RgbaImage::from_fn(width, height, |x, y| {
        Rgba([(x % 256) as u8, 80, (y % 256) as u8, 200])
    });
    encoded(&DynamicImage::ImageRgba8(image), ImageFormat::Png)
}

pub(crate) fn jpeg(width: u32, height: u32) -> Vec<u8> {
    encoded(
        &DynamicImage::ImageRgb8(picture(width, height)),
        ImageFormat::Jpeg,
    )
}

/// An APP1 Exif segment: IFD0 with an orientation and a GPS IFD (latitude 51°30'12.34" N),
/// followed by recognisable marker bytes.
fn exif_segment(orientation: u16) -> Vec<u8> {
    let mut tiff: Vec<u8> = b"MM\x00\x2a".to_vec();
    tiff.extend(8u32.to_be_bytes());
    // IFD0 at 8: two entries, then the offset of the next IFD (none).
    let gps_ifd: u32 = 8 + 2 + 2 * 12 + 4;
    tiff.extend(2u16.to_be_bytes());
    tiff.extend([0x01, 0x12, 0x00, 0x03, 0, 0, 0, 1]);
    tiff.extend(orientation.to_be_bytes());
    tiff.extend([0, 0]);
    tiff.extend([0x88, 0x25, 0x00, 0x04, 0, 0, 0, 1]);
    tiff.extend(gps_ifd.to_be_bytes());
    tiff.extend(0u32.to_be_bytes());
    // The GPS IFD: GPSLatitudeRef "N" and GPSLatitude (three rationals).
    let rationals: u32 = gps_ifd + 2 + 2 * 12 + 4;
    tiff.extend(2u16.to_be_bytes());
    tiff.extend([0x00, 0x01, 0x00, 0x02, 0, 0, 0, 2, b'N', 0, 0, 0]);
    tiff.extend([0x00, 0x02, 0x00, 0x05, 0, 0, 0, 3]);
    tiff.extend(rationals.to_be_bytes());
    tiff.extend(0u32.to_be_bytes());
    for (numerator, denominator) in [(51u32, 1u32), (30, 1), (1234, 100)] {
        tiff.extend(numerator.to_be_bytes());
        tiff.extend(denominator.to_be_bytes());
    }
    tiff.extend(SECRET);
    let mut segment = vec![0xFF, 0xE1];
    segment.extend(u16::try_from(2 + 6 + tiff.len()).unwrap().to_be_bytes());
    segment.extend(b"Exif\x00\x00");
    segment.extend(tiff);
    segment
}

/// A JPEG as a phone writes it: EXIF with GPS right after the start-of-image marker.
fn phone_jpeg(width: u32, height: u32, orientation: u16) -> Vec<u8> {
    let plain = jpeg(width, height);
    assert_eq!(&plain[..2], [0xFF, 0xD8]);
    let mut out = plain[..2].to_vec();
    out.extend(exif_segment(orientation));
    out.extend(&plain[2..]);
    out
}

/// CRC-32 as PNG chunks use it.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFF_u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}

/// A valid, tiny PNG whose header claims `width` × `height` pixels.
fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    let mut bytes = Vec::new();
    image::codecs::png::PngEncoder::new(&mut bytes)
        .write_image(&[0, 0, 0], 1, 1, image::ExtendedColorType::Rgb8)
        .unwrap();
    bytes[16..20].copy_from_slice(&width.to_be_bytes());
    bytes[20..24].copy_from_slice(&height.to_be_bytes());
    let crc = crc32(&bytes[12..29]);
    bytes[29..33].copy_from_slice(&crc.to_be_bytes());
    bytes
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// Every file under `<data dir>/photos`.
fn stored_files(app: &TestApp) -> Vec<PathBuf> {
    fn walk(dir: &std::path::Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(&app.data_dir.path().join("photos"), &mut files);
    files
}

async fn photo_events(app: &TestApp, issue_id: &str) -> Vec<Value> {
    let response = app
        .client
        .get(app.api(&format!("/issues/{issue_id}/timeline?limit=100")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let page: Value = response.json().await.unwrap();
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|event| event["kind"] == "photo_added")
        .cloned()
        .collect()
}

/// Downloads a photo, checking it is served as a JPEG, and decodes it.
async fn download(app: &TestApp, url: &str) -> (Vec<u8>, DynamicImage) {
    let response = app.client.get(app.url(url)).send().await.unwrap();
    assert_eq!(response.status(), 200, "GET {url}");
    assert_eq!(response.headers()["content-type"], "image/jpeg");
    let bytes = response.bytes().await.unwrap().to_vec();
    let image = image::load_from_memory_with_format(&bytes, ImageFormat::Jpeg).unwrap();
    (bytes, image)
}

fn field_error_code(body: &Value) -> &str {
    assert_eq!(body["errors"][0]["field"], "photo", "{body}");
    body["errors"][0]["code"].as_str().unwrap()
}

#[actix_web::test]
async fn the_reporter_adds_png_and_jpeg_photos_which_are_served_as_jpeg_with_thumbnails() {
    let app = TestApp::spawn().await;
    let ada = app.citizen("ada@example.org").await;
    let issue = report(&app, &ada).await;

    let response = upload(&app, &issue, &ada, png(640, 480), "image/png").await;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let first: Value = response.json().await.unwrap();
    let id = first["id"].as_str().unwrap();
    assert_eq!(location, format!("/api/v1/photos/{id}"));
    assert_eq!(first["issue_id"], issue.as_str());
    assert_eq!(first["url"], location.as_str());
    assert_eq!(first["thumbnail_url"], format!("{location}?size=thumb"));
    assert_eq!(
        (first["width"].as_i64(), first["height"].as_i64()),
        (Some(640), Some(480))
    );
    assert!(
        first["created_at"].as_str().unwrap().ends_with('Z'),
        "{first}"
    );

    let second = uploaded(&app, &issue, &ada, jpeg(800, 600), "image/jpeg").await;
    assert_ne!(second["id"], first["id"]);

    let (_, full) = download(&app, &location).await;
    assert_eq!((full.width(), full.height()), (640, 480));
    let (_, thumb) = download(&app, first["thumbnail_url"].as_str().unwrap()).await;
    assert_eq!((thumb.width(), thumb.height()), (320, 240));

    // Both uploads are on the timeline, with their photo ids.
    let events = photo_events(&app, &issue).await;
    let ids: Vec<&str> = events
        .iter()
        .map(|e| e["data"]["photo_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            first["id"].as_str().unwrap(),
            second["id"].as_str().unwrap()
        ]
    );
    assert_eq!(stored_files(&app).len(), 4, "two photos and two thumbnails");
}

#[actix_web::test]
async fn photos_are_cacheable_forever_and_revalidate_with_etags() {
    let app = TestApp::spawn().await;
    let ada = app.citizen("ada@example.org").await;
    let issue = report(&app, &ada).await;
    let photo = uploaded(&app, &issue, &ada, jpeg(64, 64), "image/jpeg").await;
    let url = photo["url"].as_str().unwrap();
    let thumb_url = photo["thumbnail_url"].as_str().unwrap();

    let response = app.client.get(app.url(url)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let length: usize = response.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(response.bytes().await.unwrap().len(), length);

    let thumb = app.client.get(app.url(thumb_url)).send().await.unwrap();
    let thumb_etag = thumb.headers()["etag"].to_str().unwrap().to_owned();
    assert_ne!(etag, thumb_etag, "each size has its own tag");

    for (url, tag) in [(url, &etag), (thumb_url, &thumb_etag)] {
        let response = app
            .client
            .get(app.url(url))
            .header("If-None-Match", tag.as_str())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED, "{url}");
        assert_eq!(response.headers()["etag"], tag.as_str());
        assert!(response.bytes().await.unwrap().is_empty());
    }
    // A list of tags, one of which matches, and a weak form of the tag, also match.
    let weak = format!("\"stale\", W/{etag}");
    let response = app
        .client
        .get(app.url(url))
        .header("If-None-Match", weak)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
    // Another size's tag does not.
    let response = app
        .client
        .get(app.url(url))
        .header("If-None-Match", thumb_etag.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[actix_web::test]
async fn exif_and_gps_are_gone_from_the_stored_photo_which_is_shrunk_to_2048() {
    let app = TestApp::spawn().await;
    let ada = app.citizen("ada@example.org").await;
    let issue = report(&app, &ada).await;
    let upload = phone_jpeg(3000, 1000, 1);
    assert!(contains(&upload, b"Exif\0\0") && contains(&upload, SECRET));

    let photo = uploaded(&app, &issue, &ada, upload, "image/jpeg").await;
    assert_eq!(
        (photo["width"].as_i64(), photo["height"].as_i64()),
        (Some(2048), Some(683))
    );

    let (bytes, full) = download(&app, photo["url"].as_str().unwrap()).await;
    assert_eq!((full.width(), full.height()), (2048, 683));
    let (thumb_bytes, thumb) = download(&app, photo["thumbnail_url"].as_str().unwrap()).await;
    assert_eq!((thumb.width(), thumb.height()), (320, 107));
    for served in [&bytes, &thumb_bytes] {
        assert!(!contains(served, b"Exif"), "an Exif segment survived");
        assert!(!contains(served, b"GPSLatitude"));
        assert!(!contains(served, b"CIVITAS-SECRET-MARKER"));
        assert!(
            !served.windows(2).any(|w| w == [0xFF, 0xE1]),
            "an APP1 segment survived"
        );
    }
    // And on disk too: nothing anywhere keeps the marker.
    for file in stored_files(&app) {
        assert!(
            !contains(&std::fs::read(&file).unwrap(), SECRET),
            "{file:?}"
        );
    }
}

#[actix_web::test]
async fn a_sideways_phone_photo_is_turned_upright_before_its_orientation_tag_is_dropped() {
    let app = TestApp::spawn().await;
    let ada = app.citizen("ada@example.org").await;
    let issue = report(&app, &ada).await;
    // Orientation 6: the camera was held sideways; viewers rotate it 90° clockwise.
    let photo = uploaded(&app, &issue, &ada, phone_jpeg(300, 100, 6), "image/jpeg").await;
    assert_eq!(
        (photo["width"].as_i64(), photo["height"].as_i64()),
        (Some(100), Some(300))
    );
    let (_, full) = download(&app, photo["url"].as_str().unwrap()).await;
    assert_eq!((full.width(), full.height()), (100, 300));
}

#[actix_web::test]
async fn uploads_over_10_mib_are_refused_with_nothing_stored() {
    let app = TestApp::spawn().await;
    let ada = app.citizen("ada@example.org").await;
    let issue = report(&app, &ada).await;
    let big = || {
        let mut bytes = jpeg(16, 16);
        bytes.resize(10 * 1024 * 1024 + 1, 0);
        bytes
    };

    // With a Content-Length, refused before the body is read.
    let response = upload(&app, &issue, &ada, big(), "image/jpeg").await;
    problem(response, 413, "payload_too_large").await;

    // Streamed without a length, refused once the running count passes the limit.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = big()
        .chunks(64 * 1024)
        .map(|chunk| Ok(chunk.to_vec()))
        .collect();
    let part = Part::stream(reqwest::Body::wrap_stream(futures_util::stream::iter(
        chunks,
    )))
    .file_name("big.jpg")
    .mime_str("image/jpeg")
    .unwrap();
    let response = upload_form(
        &app,
        &issue,
        Some(&ada.access_token),
        Form::new().part("photo", part),
    )
    .await;
    problem(response, 413, "payload_too_large").await;

    assert!(stored_files(&app).is_empty());
    assert!(photo_events(&app, &issue).await.is_empty());
    // The issue still takes a photo of the right size.
    uploaded(&app, &issue, &ada, jpeg(32, 32), "image/jpeg").await;
    assert_eq!(photo_events(&app, &issue).await.len(), 1);
}

#[actix_web::test]
async fn files_that_are_not_images_are_refused_with_nothing_stored() {
    let app = TestApp::spawn().await;
    let ada = app.citizen("ada@example.org").await;
    let issue = report(&app, &ada).await;
    let whole = jpeg(400, 300);
    let truncated = whole[..whole.len() / 2].to_vec();
    // A GIF: a real image, but not a format Civitas takes.
    let gif = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;".to_vec();
    // HEIC as phones write it: an ISO-BMFF `ftyp` box naming the `heic` brand.
    let mut heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic".to_vec();
    heic.extend([0u8; 256]);

    for (name, bytes, mime) in [
        ("text", b"This is not a photo.".to_vec(), "image/jpeg"),
        ("truncated", truncated, "image/jpeg"),
        ("gif", gif, "image/gif"),
        ("heic", heic, "image/heic"),
        ("empty", Vec::new(), "image/jpeg"),
    ] {
        let response = upload(&app, &issue, &ada, bytes, mime).await;
        let body = problem(response, 422, "validation_failed").await;
        assert_eq!(field_error_code(&body), "unsupported_image", "{name}");
    }
    assert!(stored_files(&app).is_empty());
    assert!(photo_events(&app, &issue).await.is_empty());
}

#[actix_web::test]
async fn decompression_bombs_are_refused_with_nothing_stored() {
    let app = TestApp::spawn().await;
    let ada = app.citizen("ada@example.org").await;
    let issue = report(&app, &ada).await;
    // A 60-byte PNG claiming 100 000 × 100 000 pixels (30 GB decoded).
    let claims_huge = png_claiming(100_000, 100_000);
    // A real image, tiny compressed, one pixel wider than the limit.
    let too_wide = encoded(
        &DynamicImage::ImageLuma8(image::GrayImage::new(10_001, 1)),
        ImageFormat::Png,
    );
    // Within the dimensions, but 9000 × 9000 RGBA would take 324 MB to decode.
    let mut too_heavy = png_claiming(9000, 9000);
    too_heavy[25] = 6; // colour type RGBA
    let crc = crc32(&too_heavy[12..29]);
    too_heavy[29..33].copy_from_slice(&crc.to_be_bytes());

    for (name, bytes) in [
        ("huge", claims_huge),
        ("wide", too_wide),
        ("heavy", too_heavy),
    ] {
        assert!(bytes.len() < 64 * 1024, "{name} is small on the wire");
        let response = upload(&app, &issue, &ada, bytes, "image/png").await;
        let body = problem(response, 422, "validation_failed").await;
        assert_eq!(field_error_code(&body), "image_too_large", "{name}");
    }
    assert!(stored_files(&app).is_empty());
    assert!(photo_events(&app, &issue).await.is_empty());
}

#[actix_web::test]
async fn only_the_reporter_supporters_and_staff_may_add_photos() {
    let app = TestApp::spawn().await;
    let ada = app.citizen("ada@example.org").await;
    let bob = app.citizen("bob@example.org").await;
    let issue = report(&app, &ada).await;

    let response = upload(&app, &issue, &bob, jpeg(16, 16), "image/jpeg").await;
    problem(response, 403, "forbidden").await;

    let response = upload_form(
        &app,
        &issue,
        None,
        form("photo", jpeg(16, 16), "image/jpeg"),
    )
    .await;
    problem(response, 401, "missing_token").await;

    let response = upload(&app, "no-such-issue", &ada, jpeg(16, 16), "image/jpeg").await;
    problem(response, 404, "not_found").await;
    assert!(stored_files(&app).is_empty());

    // Saying "me too" makes Bob a supporter, who may add photos.
    let response = app
        .client
        .put(app.api(&format!("/issues/{issue}/support")))
        .bearer_auth(&bob.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    uploaded(&app, &issue, &bob, jpeg(16, 16), "image/jpeg").await;

    for role in ["moderator", "officer", "admin"] {
        let member = app
            .staff(&format!("{role}@council.example.org"), role)
            .await;
        uploaded(&app, &issue, &member, jpeg(16, 16), "image/jpeg").await;
    }
    let events = photo_events(&app, &issue).await;
    assert_eq!(events.len(), 4);
}

#[actix_web::test]
async fn an_upload_must_be_multipart_with_a_photo_field() {
    let app = TestApp::spawn().await;
    let ada = app.citizen("ada@example.org").await;
    let issue = report(&app, &ada).await;
    let path = format!("/issues/{issue}/photos");

    let response = app
        .post_json_as(&path, &ada.access_token, &json!({"photo": "x"}))
        .await;
    problem(response, 415, "unsupported_media_type").await;

    let response = app
        .client
        .post(app.api(&path))
        .bearer_auth(&ada.access_token)
        .header("content-type", "image/jpeg")
        .body(jpeg(16, 16))
        .send()
        .await
        .unwrap();
    problem(response, 415, "unsupported_media_type").await;

    let response = upload_form(
        &app,
        &issue,
        Some(&ada.access_token),
        form("file", jpeg(16, 16), "image/jpeg"),
    )
    .await;
    let body = problem(response, 422, "validation_failed").await;
    assert_eq!(field_error_code(&body), "required");

    // Other fields are ignored; the first `photo` is taken.
    let form = Form::new().text("caption", "the bench").part(
        "photo",
        Part::bytes(jpeg(40, 20))
            .file_name("a.jpg")
            .mime_str("image/jpeg")
            .unwrap(),
    );
    let response = upload_form(&app, &issue, Some(&ada.access_token), form).await;
    assert_eq!(response.status(), 201);
    let photo: Value = response.json().await.unwrap();
    assert_eq!(photo["width"], 40);
}

#[actix_web::test]
async fn an_issue_holds_at_most_the_configured_number_of_photos() {
    let app = TestApp::spawn_with(|config| config.max_photos_per_issue = 2).await;
    let ada = app.citizen("ada@example.org").await;
    let issue = report(&app, &ada).await;
    uploaded(&app, &issue, &ada, jpeg(16, 16), "image/jpeg").await;
    uploaded(&app, &issue, &ada, png(16, 16), "image/png").await;

    let response = upload(&app, &issue, &ada, jpeg(16, 16), "image/jpeg").await;
    problem(response, 409, "too_many_photos").await;
    assert_eq!(stored_files(&app).len(), 4);
    assert_eq!(photo_events(&app, &issue).await.len(), 2);

    // Another issue has its own allowance.
    let other = report(&app, &ada).await;
    uploaded(&app, &other, &ada, jpeg(16, 16), "image/jpeg").await;
}

#[actix_web::test]
async fn racing_uploads_never_exceed_the_limit() {
    let app = TestApp::spawn_with(|config| config.max_photos_per_issue = 2).await;
    let ada = app.citizen("ada@example.org").await;
    let issue = report(&app, &ada).await;

    let uploads = (0..5).map(|_| upload(&app, &issue, &ada, jpeg(64, 48), "image/jpeg"));
    let statuses: Vec<u16> = futures_util::future::join_all(uploads)
        .await
        .iter()
        .map(|response| response.status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|&&s| s == 201).count(),
        2,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|&&s| s == 409).count(),
        3,
        "{statuses:?}"
    );
    // The losers' objects were removed again.
    assert_eq!(stored_files(&app).len(), 4);
    assert_eq!(photo_events(&app, &issue).await.len(), 2);
}

#[actix_web::test]
async fn unknown_photos_and_sizes_are_refused() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .get(app.api("/photos/no-such-photo"))
        .send()
        .await
        .unwrap();
    problem(response, 404, "not_found").await;

    let ada = app.citizen("ada@example.org").await;
    let issue = report(&app, &ada).await;
    let photo = uploaded(&app, &issue, &ada, jpeg(16, 16), "image/jpeg").await;
    let response = app
        .client
        .get(app.url(&format!("{}?size=huge", photo["url"].as_str().unwrap())))
        .send()
        .await
        .unwrap();
    problem(response, 400, "invalid_query").await;
}

#[actix_web::test]
async fn webp_photos_are_taken_and_served_as_jpeg() {
    let app = TestApp::spawn().await;
    let ada = app.citizen("ada@example.org").await;
    let issue = report(&app, &ada).await;
    let webp = encoded(
        &DynamicImage::ImageRgb8(picture(120, 90)),
        ImageFormat::WebP,
    );
    let photo = uploaded(&app, &issue, &ada, webp, "image/webp").await;
    let (_, served) = download(&app, photo["url"].as_str().unwrap()).await;
    assert_eq!((served.width(), served.height()), (120, 90));
}

#[actix_web::test]
async fn photos_can_live_in_another_object_store() {
    let app = TestApp::spawn_with(|config| {
        config.object_store_url = Some(secrecy::SecretString::from("memory://"));
    })
    .await;
    let ada = app.citizen("ada@example.org").await;
    let issue = report(&app, &ada).await;
    let photo = uploaded(&app, &issue, &ada, jpeg(50, 40), "image/jpeg").await;
    let (_, served) = download(&app, photo["url"].as_str().unwrap()).await;
    assert_eq!((served.width(), served.height()), (50, 40));
    let (_, thumb) = download(&app, photo["thumbnail_url"].as_str().unwrap()).await;
    assert_eq!((thumb.width(), thumb.height()), (50, 40));
    assert!(
        !app.data_dir.path().join("photos").exists(),
        "nothing on the local disk"
    );
}
