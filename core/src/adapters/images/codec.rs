//! Deciding what an upload is by decoding it, and making the smaller variants.
//!
//! The format comes from the bytes' signature and the picture must then decode completely: a
//! renamed PDF, a truncated JPEG or a PNG with a forged header is refused, whatever the file's
//! name or the `Content-Type` the client claimed. Dimensions are read from the header first, so a
//! small file declaring a gigantic picture is refused before anything is allocated for it. What
//! is stored carries no EXIF (a phone photo's GPS position stays with the merchant) and is
//! upright (the camera's rotation is applied, since it was recorded in the EXIF).

use std::io::Cursor;

use image::{
    DynamicImage, ImageDecoder as _, ImageFormat as DecodedFormat, ImageReader, Limits,
    codecs::jpeg::JpegEncoder, imageops::FilterType, metadata::Orientation,
};
use img_parts::{Bytes, DynImage, ImageEXIF as _};

use crate::domain::{ImageFormat, ImageLimits, ImageVariant};

/// Quality of resized JPEGs: visually lossless for photos at a fraction of the size.
const JPEG_QUALITY: u8 = 85;
/// Quality of an original re-encoded to turn it upright: close to the upload.
const UPRIGHT_JPEG_QUALITY: u8 = 92;

/// Pictures decoded at once in this process. Decoding takes memory by pixels (up to about
/// 8 bytes each), so parallel uploads or a busy media worker are held to a few at a time rather
/// than multiplying that; callers take a permit around [`inspect`] and [`render_variants`].
pub static DECODE_SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// An accepted upload: what it is, and the bytes to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspected {
    pub format: ImageFormat,
    /// As shown: after the camera's orientation is applied.
    pub width: u32,
    pub height: u32,
    /// The upload without its EXIF block (camera, time, GPS position); re-encoded upright when
    /// the camera had recorded a rotation, since that record goes with the EXIF.
    pub bytes: Vec<u8>,
}

/// Why an upload is refused; each message is fit for the uploader.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageRejection {
    #[error("the image is {size} bytes; at most {max} are accepted")]
    TooLarge { size: usize, max: usize },
    #[error("the file is not a JPEG, PNG or WebP image")]
    UnsupportedFormat,
    #[error("the image is {width}×{height} pixels; at most {max} pixels are accepted")]
    TooManyPixels { width: u32, height: u32, max: u64 },
    #[error("the image cannot be decoded: {0}")]
    Undecodable(String),
}

fn undecodable(error: impl std::fmt::Display) -> ImageRejection {
    ImageRejection::Undecodable(error.to_string())
}

fn decoded_format(format: ImageFormat) -> DecodedFormat {
    match format {
        ImageFormat::Jpeg => DecodedFormat::Jpeg,
        ImageFormat::Png => DecodedFormat::Png,
        ImageFormat::Webp => DecodedFormat::WebP,
    }
}

/// The format of `bytes` judged by their content, if it is one the shop takes.
fn sniff(bytes: &[u8]) -> Result<ImageFormat, ImageRejection> {
    match image::guess_format(bytes) {
        Ok(DecodedFormat::Jpeg) => Ok(ImageFormat::Jpeg),
        Ok(DecodedFormat::Png) => Ok(ImageFormat::Png),
        Ok(DecodedFormat::WebP) => Ok(ImageFormat::Webp),
        _ => Err(ImageRejection::UnsupportedFormat),
    }
}

fn dimensions(bytes: &[u8], format: ImageFormat) -> Result<(u32, u32), ImageRejection> {
    ImageReader::with_format(Cursor::new(bytes), decoded_format(format))
        .into_dimensions()
        .map_err(undecodable)
}

/// Decodes `bytes` as `format` with the decoder held to `width`×`height` and the memory that
/// takes, so a file lying about its size cannot make the decoder allocate more; also returns
/// the rotation the camera recorded.
fn decode(
    bytes: &[u8],
    format: ImageFormat,
    width: u32,
    height: u32,
) -> Result<(DynamicImage, Orientation), ImageRejection> {
    let mut limits = Limits::default();
    limits.max_image_width = Some(width);
    limits.max_image_height = Some(height);
    // Eight bytes per pixel covers 16-bit RGBA; the decoders need a little working room.
    limits.max_alloc = Some(u64::from(width) * u64::from(height) * 8 + 16 * 1024 * 1024);
    let mut reader = ImageReader::with_format(Cursor::new(bytes), decoded_format(format));
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(undecodable)?;
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let picture = DynamicImage::from_decoder(decoder).map_err(undecodable)?;
    Ok((picture, orientation))
}

/// `picture` encoded as `format`.
fn encode(
    picture: &DynamicImage,
    format: ImageFormat,
    quality: u8,
) -> Result<Vec<u8>, ImageRejection> {
    let mut out = Cursor::new(Vec::new());
    let written = match format {
        // JPEG has no alpha channel.
        ImageFormat::Jpeg => JpegEncoder::new_with_quality(&mut out, quality)
            .encode_image(&DynamicImage::ImageRgb8(picture.to_rgb8())),
        // The WebP encoder is lossless and takes 8-bit RGBA; PNG keeps what the picture has.
        ImageFormat::Webp => {
            DynamicImage::ImageRgba8(picture.to_rgba8()).write_to(&mut out, DecodedFormat::WebP)
        }
        ImageFormat::Png => picture.write_to(&mut out, DecodedFormat::Png),
    };
    written.map_err(undecodable)?;
    Ok(out.into_inner())
}

/// `bytes` without their EXIF block, otherwise untouched.
fn without_exif(bytes: &[u8]) -> Result<Vec<u8>, ImageRejection> {
    let mut parts = DynImage::from_bytes(Bytes::copy_from_slice(bytes))
        .map_err(undecodable)?
        .ok_or(ImageRejection::UnsupportedFormat)?;
    parts.set_exif(None);
    Ok(parts.encoder().bytes().to_vec())
}

/// Checks an upload (size, format by content, pixel count, complete decoding) and returns the
/// bytes to store: without EXIF, upright.
pub fn inspect(bytes: &[u8], limits: &ImageLimits) -> Result<Inspected, ImageRejection> {
    if bytes.len() > limits.max_bytes {
        return Err(ImageRejection::TooLarge {
            size: bytes.len(),
            max: limits.max_bytes,
        });
    }
    let format = sniff(bytes)?;
    let (width, height) = dimensions(bytes, format)?;
    if width == 0 || height == 0 {
        return Err(undecodable("the image has no pixels"));
    }
    if u64::from(width) * u64::from(height) > limits.max_pixels {
        return Err(ImageRejection::TooManyPixels {
            width,
            height,
            max: limits.max_pixels,
        });
    }
    let (mut picture, orientation) = decode(bytes, format, width, height)?;
    if orientation == Orientation::NoTransforms {
        return Ok(Inspected {
            format,
            width,
            height,
            bytes: without_exif(bytes)?,
        });
    }
    picture.apply_orientation(orientation);
    Ok(Inspected {
        format,
        width: picture.width(),
        height: picture.height(),
        bytes: encode(&picture, format, UPRIGHT_JPEG_QUALITY)?,
    })
}

/// The `variants` of an original (as stored by [`inspect`]), in the original's format, decoded
/// once and each made from the previous one (largest first). A variant whose box the original
/// already fits in is the original's bytes: variants never grow.
pub fn render_variants(
    original: &[u8],
    variants: &[ImageVariant],
) -> Result<Vec<(ImageVariant, Vec<u8>)>, ImageRejection> {
    let format = sniff(original)?;
    let (width, height) = dimensions(original, format)?;
    let mut ordered = variants.to_vec();
    ordered.sort_by_key(|variant| std::cmp::Reverse(variant.max_side().unwrap_or(u32::MAX)));
    let mut source: Option<DynamicImage> = None;
    let mut made = Vec::with_capacity(ordered.len());
    for variant in ordered {
        let (target_width, target_height) = variant.fit(width, height);
        if (target_width, target_height) == (width, height) {
            made.push((variant, original.to_vec()));
            continue;
        }
        let from = match source.take() {
            Some(picture) => picture,
            None => decode(original, format, width, height)?.0,
        };
        let resized = from.resize_exact(target_width, target_height, FilterType::CatmullRom);
        made.push((variant, encode(&resized, format, JPEG_QUALITY)?));
        source = Some(resized);
    }
    Ok(made)
}

#[cfg(test)]
mod tests {
    use image::{Rgb, RgbImage};

    use super::*;

    fn encoded(width: u32, height: u32, format: DecodedFormat) -> Vec<u8> {
        let picture = DynamicImage::ImageRgb8(RgbImage::from_fn(width, height, |x, y| {
            Rgb([(x % 256) as u8, (y % 256) as u8, 128])
        }));
        let picture = if format == DecodedFormat::WebP {
            DynamicImage::ImageRgba8(picture.to_rgba8())
        } else {
            picture
        };
        let mut out = Cursor::new(Vec::new());
        picture.write_to(&mut out, format).expect("encodes");
        out.into_inner()
    }

    #[test]
    fn the_three_formats_are_recognised_by_their_bytes() {
        for (format, expected) in [
            (DecodedFormat::Jpeg, ImageFormat::Jpeg),
            (DecodedFormat::Png, ImageFormat::Png),
            (DecodedFormat::WebP, ImageFormat::Webp),
        ] {
            let inspected =
                inspect(&encoded(30, 20, format), &ImageLimits::default()).expect("a valid image");
            assert_eq!(
                (inspected.format, inspected.width, inspected.height),
                (expected, 30, 20)
            );
            assert_eq!(sniff(&inspected.bytes), Ok(expected));
        }
    }

    /// A TIFF-encoded EXIF block holding only an Orientation tag.
    fn exif_orientation(value: u16) -> Vec<u8> {
        let mut tiff = b"II*\0\x08\0\0\0".to_vec();
        tiff.extend_from_slice(&1_u16.to_le_bytes()); // one entry
        tiff.extend_from_slice(&0x0112_u16.to_le_bytes()); // Orientation
        tiff.extend_from_slice(&3_u16.to_le_bytes()); // SHORT
        tiff.extend_from_slice(&1_u32.to_le_bytes()); // one value
        tiff.extend_from_slice(&u32::from(value).to_le_bytes());
        tiff.extend_from_slice(&0_u32.to_le_bytes()); // no next IFD
        tiff
    }

    fn with_exif(jpeg: &[u8], exif: Vec<u8>) -> Vec<u8> {
        let mut parts = DynImage::from_bytes(Bytes::copy_from_slice(jpeg))
            .expect("parts")
            .expect("a JPEG");
        parts.set_exif(Some(Bytes::from(exif)));
        parts.encoder().bytes().to_vec()
    }

    fn has_exif(bytes: &[u8]) -> bool {
        bytes.windows(6).any(|window| window == b"Exif\0\0")
    }

    #[test]
    fn what_is_stored_has_no_exif_and_stands_upright() {
        let photo = with_exif(&encoded(40, 20, DecodedFormat::Jpeg), exif_orientation(1));
        assert!(has_exif(&photo));
        let kept = inspect(&photo, &ImageLimits::default()).expect("valid");
        assert!(!has_exif(&kept.bytes));
        assert_eq!((kept.width, kept.height), (40, 20));

        // Taken with the phone turned: the camera recorded "rotate 90° clockwise".
        let turned = with_exif(&encoded(40, 20, DecodedFormat::Jpeg), exif_orientation(6));
        let upright = inspect(&turned, &ImageLimits::default()).expect("valid");
        assert!(!has_exif(&upright.bytes));
        assert_eq!((upright.width, upright.height), (20, 40));
        let stored = inspect(&upright.bytes, &ImageLimits::default()).expect("valid");
        assert_eq!((stored.width, stored.height), (20, 40));
    }

    #[test]
    fn other_files_and_damaged_images_are_refused() {
        let limits = ImageLimits::default();
        let gif = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;".to_vec();
        assert_eq!(
            inspect(&gif, &limits),
            Err(ImageRejection::UnsupportedFormat)
        );
        assert_eq!(
            inspect(b"%PDF-1.7 not a picture", &limits),
            Err(ImageRejection::UnsupportedFormat)
        );
        let mut truncated = encoded(64, 64, DecodedFormat::Png);
        truncated.truncate(truncated.len() / 2);
        assert!(matches!(
            inspect(&truncated, &limits),
            Err(ImageRejection::Undecodable(_))
        ));
    }

    #[test]
    fn limits_on_bytes_and_pixels_hold() {
        let png = encoded(100, 100, DecodedFormat::Png);
        let small = ImageLimits {
            max_bytes: png.len() - 1,
            ..ImageLimits::default()
        };
        assert!(matches!(
            inspect(&png, &small),
            Err(ImageRejection::TooLarge { .. })
        ));
        let few_pixels = ImageLimits {
            max_pixels: 9_999,
            ..ImageLimits::default()
        };
        assert_eq!(
            inspect(&png, &few_pixels),
            Err(ImageRejection::TooManyPixels {
                width: 100,
                height: 100,
                max: 9_999
            })
        );
    }

    #[test]
    fn variants_are_smaller_copies_in_the_same_format() {
        let sizes = [ImageVariant::Thumbnail, ImageVariant::Medium];
        for format in [DecodedFormat::Jpeg, DecodedFormat::Png, DecodedFormat::WebP] {
            let original = encoded(1000, 500, format);
            let made = render_variants(&original, &sizes).expect("resized");
            let dimensions: Vec<_> = made
                .iter()
                .map(|(variant, bytes)| {
                    assert_eq!(image::guess_format(bytes).ok(), Some(format));
                    let inspected = inspect(bytes, &ImageLimits::default()).expect("valid");
                    (*variant, inspected.width, inspected.height)
                })
                .collect();
            assert_eq!(
                dimensions,
                [
                    (ImageVariant::Medium, 800, 400),
                    (ImageVariant::Thumbnail, 200, 100)
                ],
                "{format:?}"
            );
        }
        let small = encoded(120, 80, DecodedFormat::Png);
        assert_eq!(
            render_variants(&small, &[ImageVariant::Medium]).expect("copied"),
            [(ImageVariant::Medium, small)]
        );
    }
}
