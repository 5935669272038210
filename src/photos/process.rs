//! Turning an uploaded file into the photos Civitas serves: decode (JPEG, PNG or WebP,
//! within limits that refuse decompression bombs), turn upright, flatten onto white,
//! shrink, and re-encode as baseline JPEG. Re-encoding is what drops EXIF, GPS, XMP,
//! ICC and every other piece of metadata: only pixels survive.
//!
//! CPU-bound: call it on the blocking pool.

use image::codecs::jpeg::JpegEncoder;
use image::imageops::FilterType;
use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader, Limits, RgbImage};
use std::io::Cursor;

/// The largest width or height accepted, in pixels.
pub const MAX_DIMENSION: u32 = 10_000;
/// The most memory decoding one upload may take, in bytes.
pub const MAX_DECODE_ALLOC: u64 = 256 * 1024 * 1024;
/// The longest side of a served photo, in pixels.
pub const FULL_SIDE: u32 = 2048;
/// The longest side of a thumbnail, in pixels.
pub const THUMB_SIDE: u32 = 320;
/// JPEG quality of what is served (1–100).
const JPEG_QUALITY: u8 = 85;

/// Why an upload is not a photo Civitas can take.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// Not a JPEG, PNG or WebP, or corrupt or truncated.
    #[error("not a JPEG, PNG or WebP image Civitas can read: {0}")]
    Unsupported(String),
    /// Larger than the limits (dimensions or decoded size).
    #[error("the image is too large: {0}")]
    TooLarge(String),
    /// Encoding failed (a bug or out of memory, not the client's fault).
    #[error("could not encode the photo: {0}")]
    Encode(#[source] ImageError),
}

/// One rendition, encoded.
#[derive(Debug)]
pub struct Encoded {
    pub jpeg: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

/// The photo and its thumbnail.
#[derive(Debug)]
pub struct Processed {
    pub full: Encoded,
    pub thumb: Encoded,
}

/// Decodes an upload and produces the full-size photo and the thumbnail.
pub fn process(bytes: &[u8]) -> Result<Processed, ProcessError> {
    let image = decode(bytes)?;
    let full = shrink(image, FULL_SIDE);
    let thumb = shrink(DynamicImage::ImageRgb8(full.clone()), THUMB_SIDE);
    Ok(Processed {
        full: encode(&full)?,
        thumb: encode(&thumb)?,
    })
}

fn limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_DIMENSION);
    limits.max_image_height = Some(MAX_DIMENSION);
    limits.max_alloc = Some(MAX_DECODE_ALLOC);
    limits
}

fn classify(error: ImageError) -> ProcessError {
    match error {
        ImageError::Limits(error) => ProcessError::TooLarge(error.to_string()),
        other => ProcessError::Unsupported(other.to_string()),
    }
}

/// Decodes by content (never by name or declared type) and turns the image upright.
fn decode(bytes: &[u8]) -> Result<DynamicImage, ProcessError> {
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|error| ProcessError::Unsupported(error.to_string()))?;
    match reader.format() {
        Some(ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP) => {}
        Some(other) => {
            return Err(ProcessError::Unsupported(format!(
                "{other:?} images are not accepted"
            )));
        }
        None => {
            return Err(ProcessError::Unsupported(
                "the file is not a recognised image".into(),
            ));
        }
    }
    if reader.format() == Some(ImageFormat::Jpeg) && !jpeg_is_complete(bytes) {
        return Err(ProcessError::Unsupported("the JPEG is truncated".into()));
    }
    let mut limits = limits();
    reader.limits(limits.clone());
    let mut decoder = reader.into_decoder().map_err(classify)?;
    // What `ImageReader::decode` does, which `into_decoder` leaves to the caller: count
    // the output buffer against the allocation limit before allocating it.
    limits.reserve(decoder.total_bytes()).map_err(classify)?;
    // The orientation lives in the EXIF that re-encoding drops: apply it to the pixels.
    let orientation = decoder.orientation().map_err(classify)?;
    let mut image = DynamicImage::from_decoder(decoder).map_err(classify)?;
    image.apply_orientation(orientation);
    Ok(image)
}

/// Whether a JPEG's markers and scans run to its end-of-image marker. The JPEG decoder is
/// lenient and paints what is missing of a truncated file grey; Civitas refuses such a
/// file instead, so nobody's photo is silently half grey.
fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let segment_length = |at: usize| -> Option<usize> {
        Some(usize::from(u16::from_be_bytes([
            *bytes.get(at)?,
            *bytes.get(at + 1)?,
        ])))
    };
    let mut at = 2; // past the start-of-image marker
    loop {
        // Find the next marker, tolerating stray bytes and 0xFF fill before it.
        while bytes.get(at).is_some_and(|&b| b != 0xFF) {
            at += 1;
        }
        while bytes.get(at) == Some(&0xFF) {
            at += 1;
        }
        let Some(&marker) = bytes.get(at) else {
            return false;
        };
        at += 1;
        match marker {
            0xD9 => return true,                   // end of image
            0x00 | 0x01 | 0xD0..=0xD7 => continue, // no length: stray, TEM, restarts
            _ => {}
        }
        let Some(length) = segment_length(at).filter(|&length| length >= 2) else {
            return false;
        };
        at += length;
        if at > bytes.len() {
            return false;
        }
        if marker == 0xDA {
            // A scan's entropy-coded data runs to the next marker that is neither a
            // stuffed 0xFF00 nor a restart.
            loop {
                match bytes.get(at..at + 2) {
                    None => return false,
                    Some([0xFF, 0x00 | 0xD0..=0xD7]) => at += 2,
                    Some([0xFF, _]) => break,
                    Some(_) => at += 1,
                }
            }
        }
    }
}

/// Flattens transparency onto white and shrinks so the longest side is at most `side`
/// (never enlarging), keeping the aspect ratio.
fn shrink(image: DynamicImage, side: u32) -> RgbImage {
    let image = if image.width() > side || image.height() > side {
        image.resize(side, side, FilterType::Lanczos3)
    } else {
        image
    };
    flatten(image)
}

fn flatten(image: DynamicImage) -> RgbImage {
    if !image.color().has_alpha() {
        return image.into_rgb8();
    }
    let rgba = image.into_rgba8();
    RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let [r, g, b, a] = rgba.get_pixel(x, y).0;
        let a = u16::from(a);
        let blend = |c: u8| -> u8 {
            // c·a + 255·(255 − a), divided by 255 with rounding: at most 255.
            let value = (u16::from(c) * a + 255 * (255 - a) + 127) / 255;
            u8::try_from(value).unwrap_or(u8::MAX)
        };
        image::Rgb([blend(r), blend(g), blend(b)])
    })
}

fn encode(image: &RgbImage) -> Result<Encoded, ProcessError> {
    let mut jpeg = Vec::new();
    JpegEncoder::new_with_quality(&mut jpeg, JPEG_QUALITY)
        .encode_image(image)
        .map_err(ProcessError::Encode)?;
    Ok(Encoded {
        jpeg,
        width: image.width(),
        height: image.height(),
    })
}

#[cfg(test)]
mod tests {

    use super::*;
    use image::{ImageEncoder, Rgba, RgbaImage};

    fn png(image: &DynamicImage) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, ImageFormat::Png).unwrap();
        out.into_inner()
    }

    fn dimensions(jpeg: &[u8]) -> (u32, u32) {
        let reader = ImageReader::new(Cursor::new(jpeg))
            .with_guessed_format()
            .unwrap();
        assert_eq!(reader.format(), Some(ImageFormat::Jpeg));
        reader.into_dimensions().unwrap()
    }

    #[test]
    fn a_wide_photo_is_shrunk_to_2048_and_320_keeping_its_aspect() {
        let wide =
            DynamicImage::ImageRgb8(RgbImage::from_pixel(3000, 1000, image::Rgb([9, 99, 199])));
        let out = process(&png(&wide)).unwrap();
        assert_eq!((out.full.width, out.full.height), (2048, 683));
        assert_eq!(dimensions(&out.full.jpeg), (2048, 683));
        assert_eq!((out.thumb.width, out.thumb.height), (320, 107));
        assert_eq!(dimensions(&out.thumb.jpeg), (320, 107));
    }

    #[test]
    fn a_small_photo_is_not_enlarged() {
        let small = DynamicImage::ImageRgb8(RgbImage::new(200, 100));
        let out = process(&png(&small)).unwrap();
        assert_eq!((out.full.width, out.full.height), (200, 100));
        assert_eq!((out.thumb.width, out.thumb.height), (200, 100));
    }

    #[test]
    fn transparency_becomes_white() {
        let clear = DynamicImage::ImageRgba8(RgbaImage::from_pixel(16, 16, Rgba([0, 0, 0, 0])));
        let out = process(&png(&clear)).unwrap();
        let decoded = image::load_from_memory(&out.full.jpeg).unwrap().into_rgb8();
        let pixel = decoded.get_pixel(8, 8).0;
        assert!(pixel.iter().all(|&c| c > 245), "{pixel:?}");
    }

    #[test]
    fn a_jpeg_cut_anywhere_is_unsupported() {
        let photo = DynamicImage::ImageRgb8(RgbImage::from_fn(400, 300, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 7])
        }));
        let mut whole = Cursor::new(Vec::new());
        photo.write_to(&mut whole, ImageFormat::Jpeg).unwrap();
        let whole = whole.into_inner();
        assert!(jpeg_is_complete(&whole));
        assert!(process(&whole).is_ok());
        for cut in [10, 600, whole.len() / 4, whole.len() / 2, whole.len() - 2] {
            assert!(!jpeg_is_complete(&whole[..cut]), "cut at {cut}");
            assert!(
                matches!(process(&whole[..cut]), Err(ProcessError::Unsupported(_))),
                "cut at {cut}"
            );
        }
        // Bytes after the end-of-image marker (some cameras add them) are harmless.
        let mut trailing = whole.clone();
        trailing.extend(b"trailing camera data");
        assert!(process(&trailing).is_ok());
    }

    #[test]
    fn text_and_truncated_images_are_unsupported() {
        assert!(matches!(
            process(b"hello, world"),
            Err(ProcessError::Unsupported(_))
        ));
        let image = png(&DynamicImage::ImageRgb8(RgbImage::new(64, 64)));
        assert!(matches!(
            process(&image[..image.len() / 2]),
            Err(ProcessError::Unsupported(_))
        ));
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

    /// A valid one-pixel PNG whose header claims `width` × `height`.
    fn png_claiming(width: u32, height: u32, color: image::ExtendedColorType) -> Vec<u8> {
        let mut bytes = Vec::new();
        let pixel = vec![0; color.bits_per_pixel() as usize / 8];
        image::codecs::png::PngEncoder::new(&mut bytes)
            .write_image(&pixel, 1, 1, color)
            .unwrap();
        bytes[16..20].copy_from_slice(&width.to_be_bytes());
        bytes[20..24].copy_from_slice(&height.to_be_bytes());
        let crc = crc32(&bytes[12..29]);
        bytes[29..33].copy_from_slice(&crc.to_be_bytes());
        bytes
    }

    #[test]
    fn a_header_claiming_huge_dimensions_is_refused_before_decoding() {
        // A decoder that trusted this header would try to allocate 30 GB.
        let bomb = png_claiming(100_000, 100_000, image::ExtendedColorType::Rgb8);
        assert!(matches!(process(&bomb), Err(ProcessError::TooLarge(_))));
    }

    #[test]
    fn an_image_within_the_dimensions_but_too_big_to_hold_is_refused() {
        // 9000 × 9000 RGBA is 324 MB decoded: over the allocation limit.
        let bomb = png_claiming(9000, 9000, image::ExtendedColorType::Rgba8);
        assert!(matches!(process(&bomb), Err(ProcessError::TooLarge(_))));
    }
}
