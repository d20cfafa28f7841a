//! Product images: which formats the shop accepts, the sizes it serves, and the limits an upload
//! must keep. The bytes themselves are checked by decoding them (`adapters::images::codec`); this
//! module only names what is allowed.

use chrono::{DateTime, Utc};

use super::{ImageId, InvalidValue, ProductId};

/// The formats an upload may be in, decided from the decoded bytes, never from the file name or
/// the `Content-Type` the client sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImageFormat {
    Jpeg,
    Png,
    Webp,
}

impl ImageFormat {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Jpeg => "jpeg",
            Self::Png => "png",
            Self::Webp => "webp",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        match raw {
            "jpeg" => Ok(Self::Jpeg),
            "png" => Ok(Self::Png),
            "webp" => Ok(Self::Webp),
            _ => Err(InvalidValue::new("must be jpeg, png or webp")),
        }
    }

    pub const fn content_type(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Webp => "image/webp",
        }
    }

    pub const fn extension(self) -> &'static str {
        match self {
            Self::Jpeg => "jpg",
            Self::Png => "png",
            Self::Webp => "webp",
        }
    }
}

/// The sizes an image is served in: the upload as it came, and two smaller copies the media
/// worker makes (never larger than the original: a small upload's variants are copies of it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImageVariant {
    Original,
    /// At most 800 px on its longer side: product pages.
    Medium,
    /// At most 200 px on its longer side: lists and carts.
    Thumbnail,
}

impl ImageVariant {
    /// The variants the media worker makes from an original.
    pub const RESIZED: [Self; 2] = [Self::Medium, Self::Thumbnail];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Original => "original",
            Self::Medium => "medium",
            Self::Thumbnail => "thumbnail",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        match raw {
            "original" => Ok(Self::Original),
            "medium" => Ok(Self::Medium),
            "thumbnail" => Ok(Self::Thumbnail),
            _ => Err(InvalidValue::new("must be original, medium or thumbnail")),
        }
    }

    /// The longest side of this variant in pixels; `None` for the original.
    pub const fn max_side(self) -> Option<u32> {
        match self {
            Self::Original => None,
            Self::Medium => Some(800),
            Self::Thumbnail => Some(200),
        }
    }

    /// The size `width`×`height` takes in this variant: scaled down to fit, aspect kept, never
    /// scaled up, never below one pixel.
    pub fn fit(self, width: u32, height: u32) -> (u32, u32) {
        let Some(max) = self.max_side() else {
            return (width, height);
        };
        let longest = width.max(height);
        if longest <= max {
            return (width, height);
        }
        let scale = |side: u32| {
            let scaled = u64::from(side) * u64::from(max) / u64::from(longest);
            u32::try_from(scaled).unwrap_or(max).max(1)
        };
        (scale(width), scale(height))
    }
}

/// What an upload may be. Defaults suit product photos from a phone or a camera.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageLimits {
    /// Largest upload in bytes (`SHOP_IMAGE_MAX_BYTES`).
    pub max_bytes: usize,
    /// Largest width × height (`SHOP_IMAGE_MAX_PIXELS`): decoding costs memory by pixels, not
    /// bytes, so a small file of a huge blank picture is refused before it is decoded.
    pub max_pixels: u64,
    /// Images one product may have.
    pub max_per_product: usize,
}

impl ImageLimits {
    pub const DEFAULT_MAX_BYTES: usize = 10 * 1024 * 1024;
    pub const DEFAULT_MAX_PIXELS: u64 = 25_000_000;
    pub const MAX_PER_PRODUCT: usize = 20;
}

impl Default for ImageLimits {
    fn default() -> Self {
        Self {
            max_bytes: Self::DEFAULT_MAX_BYTES,
            max_pixels: Self::DEFAULT_MAX_PIXELS,
            max_per_product: Self::MAX_PER_PRODUCT,
        }
    }
}

/// One image of a product, as stored. `position` orders a product's images (0 first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductImage {
    pub id: ImageId,
    pub product_id: ProductId,
    pub position: i64,
    pub format: ImageFormat,
    pub width: u32,
    pub height: u32,
    pub byte_size: i64,
    /// Hex SHA-256 of the original's bytes: its ETag, and a variant's with the variant's name.
    pub sha256: String,
    /// Whether the media worker has stored the medium and thumbnail variants yet.
    pub variants_ready: bool,
    pub created_at: DateTime<Utc>,
}

impl ProductImage {
    /// Where `variant` of this image is kept in the blob store. The image id is in the key, so a
    /// key's bytes never change and can be cached for good.
    pub fn key(&self, variant: ImageVariant) -> String {
        image_key(self.product_id, self.id, variant, self.format)
    }
}

/// `images/<product>/<image>/<variant>.<ext>`.
pub fn image_key(
    product_id: ProductId,
    image_id: ImageId,
    variant: ImageVariant,
    format: ImageFormat,
) -> String {
    format!(
        "{}/{image_id}/{}.{}",
        product_images_prefix(product_id),
        variant.as_str(),
        format.extension()
    )
}

/// The folder of every image of a product: deleting it deletes them all.
pub fn product_images_prefix(product_id: ProductId) -> String {
    format!("images/{product_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variants_fit_inside_their_box_keeping_the_aspect_and_never_grow() {
        assert_eq!(ImageVariant::Thumbnail.fit(4000, 3000), (200, 150));
        assert_eq!(ImageVariant::Medium.fit(3000, 4000), (600, 800));
        assert_eq!(ImageVariant::Medium.fit(640, 480), (640, 480));
        assert_eq!(ImageVariant::Thumbnail.fit(10_000, 1), (200, 1));
        assert_eq!(ImageVariant::Original.fit(4000, 3000), (4000, 3000));
    }

    #[test]
    fn names_round_trip_and_unknown_ones_are_refused() {
        for format in [ImageFormat::Jpeg, ImageFormat::Png, ImageFormat::Webp] {
            assert_eq!(ImageFormat::parse(format.as_str()), Ok(format));
        }
        for variant in [
            ImageVariant::Original,
            ImageVariant::Medium,
            ImageVariant::Thumbnail,
        ] {
            assert_eq!(ImageVariant::parse(variant.as_str()), Ok(variant));
        }
        assert!(ImageFormat::parse("gif").is_err());
        assert!(ImageVariant::parse("huge").is_err());
    }
}
