//! Product images: staff upload, reorder and delete them; everyone sees those of the products
//! they may see. The bytes go to the blob store ([`ImageFiles`]) before the record is written, so
//! a record never points at missing bytes; the media worker adds the smaller variants later.

use std::{collections::HashMap, sync::Arc};

use sha2::{Digest as _, Sha256};

use super::{Actor, AppError, AppResult, FieldErrors, Shop};
use crate::{
    adapters::images::{DECODE_SLOTS, ImageRejection, inspect},
    domain::{
        DomainEvent, ImageId, ImageLimits, ImageVariant, ProductId, ProductImage,
        image::product_images_prefix,
    },
    ports::{AddedImage, ImageFiles, ProductDeletion},
};

/// The bytes of one image variant as the API sends them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageDownload {
    /// `None` when the client holds these bytes already (its tag matched).
    pub bytes: Option<Vec<u8>>,
    pub content_type: &'static str,
    /// A strong validator: the original's hash and the variant actually sent.
    pub etag: String,
    /// `false` when the variant asked for is not made yet and the original stands in: such an
    /// answer must not be cached for long, the real variant will follow.
    pub is_final: bool,
    /// Whether the product is on sale (its images may be kept by shared caches); staff also
    /// fetch the images of deactivated products.
    pub public: bool,
}

/// The blob store and the limits of uploads, set by [`Shop::with_images`].
#[derive(Debug, Clone)]
pub(super) struct Images {
    pub(super) files: Arc<dyn ImageFiles>,
    pub(super) limits: ImageLimits,
}

fn unavailable(error: crate::ports::BlobError) -> AppError {
    AppError::Internal(error)
}

impl Shop {
    /// Keeps product images in `files`, refusing uploads beyond `limits`.
    #[must_use]
    pub fn with_images(mut self, files: Arc<dyn ImageFiles>, limits: ImageLimits) -> Self {
        self.images = Some(Images { files, limits });
        self
    }

    /// The limits uploads are held to, or the error saying that this process keeps no images
    /// (so an upload can be refused before its body is read).
    pub fn image_limits(&self) -> AppResult<ImageLimits> {
        self.images().map(|images| images.limits)
    }

    fn images(&self) -> AppResult<&Images> {
        self.images.as_ref().ok_or_else(|| {
            AppError::Rule(
                "product images need a writable SHOP_INVOICE_DIR or a SHOP_INVOICE_BUCKET \
                 (spec.invoices.storage on Kubernetes)"
                    .to_owned(),
            )
        })
    }

    /// Adds an image after the product's last one. The picture is judged by decoding it (off
    /// the async threads: decoding is CPU work), never by its name or declared type, and is
    /// stored without its EXIF, upright.
    pub async fn add_product_image(
        &self,
        actor: &Actor,
        product_id: ProductId,
        bytes: Vec<u8>,
    ) -> AppResult<ProductImage> {
        actor.require_staff()?;
        let images = self.images()?.clone();
        let limits = images.limits;
        if bytes.len() > limits.max_bytes {
            return Err(ImageRejection::TooLarge {
                size: bytes.len(),
                max: limits.max_bytes,
            }
            .into());
        }
        let inspected = {
            let _slot = DECODE_SLOTS
                .acquire()
                .await
                .map_err(|error| AppError::Internal(Box::new(error)))?;
            tokio::task::spawn_blocking(move || inspect(&bytes, &limits))
                .await
                .map_err(|error| AppError::Internal(Box::new(error)))??
        };
        let now = self.clock.now();
        let image = ProductImage {
            id: ImageId::new(),
            product_id,
            position: 0,
            format: inspected.format,
            width: inspected.width,
            height: inspected.height,
            byte_size: i64::try_from(inspected.bytes.len()).unwrap_or(i64::MAX),
            sha256: hex::encode(Sha256::digest(&inspected.bytes)),
            variants_ready: false,
            created_at: now,
        };
        let event = DomainEvent::ProductImageAdded {
            product_id,
            image_id: image.id,
            format: image.format.as_str().to_owned(),
        }
        .into_outbox(now);
        // Bytes, record and (on refusal) clean-up run to the end in a task of their own: a
        // client that goes away, or the request timeout, must not leave bytes without a record.
        let shop = self.clone();
        let stored = tokio::spawn(async move {
            images
                .files
                .put(&image.key(ImageVariant::Original), inspected.bytes)
                .await
                .map_err(unavailable)?;
            let added = shop
                .store
                .add_product_image(&image, limits.max_per_product, &event)
                .await;
            let refused = match added {
                Ok(AddedImage::Added(stored)) => {
                    shop.catalog_changed().await;
                    return Ok(stored);
                }
                Ok(AddedImage::ProductNotFound) => AppError::NotFound("product"),
                Ok(AddedImage::Full) => AppError::Rule(format!(
                    "a product has at most {} images; delete one first",
                    limits.max_per_product
                )),
                Err(error) => error.into(),
            };
            // Nothing refers to the bytes just stored: take them back.
            shop.delete_image_files(&image_folder(product_id, image.id))
                .await;
            Err(refused)
        });
        stored
            .await
            .map_err(|error| AppError::Internal(Box::new(error)))?
    }

    /// The images of `products`, each product's in order. Callers pass only products the asker
    /// may see (the catalog queries filter them).
    pub async fn images_of(
        &self,
        products: &[ProductId],
    ) -> AppResult<HashMap<ProductId, Vec<ProductImage>>> {
        let mut by_product: HashMap<ProductId, Vec<ProductImage>> = HashMap::new();
        for image in self.store.product_images(products).await? {
            by_product.entry(image.product_id).or_default().push(image);
        }
        Ok(by_product)
    }

    /// One variant of one image of a product the asker may see. A resized variant not made
    /// yet is answered with the original, marked as not final. When `cached` (the client's
    /// `If-None-Match` tags) holds the answer's tag, no bytes are read: `bytes` is `None`.
    pub async fn image_download(
        &self,
        actor: &Actor,
        product_id: ProductId,
        image_id: ImageId,
        variant: ImageVariant,
        cached: &[String],
    ) -> AppResult<ImageDownload> {
        // Deactivated products' images are as hidden as the products.
        let product = self.get_product(actor, &product_id.to_string()).await?;
        let image = self
            .store
            .product_image(product_id, image_id)
            .await?
            .ok_or(AppError::NotFound("image"))?;
        let files = &self
            .images
            .as_ref()
            .ok_or(AppError::NotFound("image"))?
            .files;
        let mut sent = if image.variants_ready {
            variant
        } else {
            ImageVariant::Original
        };
        let etag = |sent: ImageVariant| format!("\"{}-{}\"", &image.sha256[..32], sent.as_str());
        let answer = |sent: ImageVariant, bytes| ImageDownload {
            bytes,
            content_type: image.format.content_type(),
            etag: etag(sent),
            is_final: sent == variant,
            public: product.active,
        };
        if cached.iter().any(|tag| tag == "*" || *tag == etag(sent)) {
            return Ok(answer(sent, None));
        }
        let mut bytes = files.get(&image.key(sent)).await.map_err(unavailable)?;
        if bytes.is_none() && sent != ImageVariant::Original {
            sent = ImageVariant::Original;
            bytes = files.get(&image.key(sent)).await.map_err(unavailable)?;
        }
        match bytes {
            Some(bytes) => Ok(answer(sent, Some(bytes))),
            // A record without bytes: a restored database whose image files were not restored
            // (they are not in `Backup`, like invoices), or a folder emptied by hand.
            None => {
                tracing::warn!(image = %image_id, "the bytes of an image are missing");
                Err(AppError::NotFound("image"))
            }
        }
    }

    /// Puts the product's images in the order of `image_ids`, which must name each exactly once.
    pub async fn reorder_product_images(
        &self,
        actor: &Actor,
        product_id: ProductId,
        image_ids: &[String],
    ) -> AppResult<Vec<ProductImage>> {
        actor.require_staff()?;
        self.get_product(actor, &product_id.to_string()).await?;
        let mut errors = FieldErrors::default();
        let order: Vec<ImageId> = image_ids
            .iter()
            .enumerate()
            .filter_map(|(index, raw)| {
                errors.check(&format!("image_ids[{index}]"), ImageId::parse(raw))
            })
            .collect();
        if !errors.is_empty() {
            return Err(errors.into_error());
        }
        if !self
            .store
            .reorder_product_images(product_id, &order)
            .await?
        {
            return Err(AppError::validation(
                "image_ids",
                "must list each of the product's images exactly once",
            ));
        }
        self.catalog_changed().await;
        Ok(self
            .images_of(&[product_id])
            .await?
            .remove(&product_id)
            .unwrap_or_default())
    }

    /// Deletes one image, its record first (so it is never listed without bytes), then its files.
    pub async fn delete_product_image(
        &self,
        actor: &Actor,
        product_id: ProductId,
        image_id: ImageId,
    ) -> AppResult<()> {
        actor.require_staff()?;
        self.store
            .delete_product_image(product_id, image_id)
            .await?
            .ok_or(AppError::NotFound("image"))?;
        self.catalog_changed().await;
        self.delete_image_files(&image_folder(product_id, image_id))
            .await;
        Ok(())
    }

    /// Deletes a product that was never ordered, with every image of it. Ordered products can
    /// only be deactivated: their orders point at them.
    pub async fn delete_product_permanently(
        &self,
        actor: &Actor,
        product_id: ProductId,
    ) -> AppResult<()> {
        actor.require_staff()?;
        match self.store.delete_product(product_id).await? {
            ProductDeletion::Deleted => {}
            ProductDeletion::NotFound => return Err(AppError::NotFound("product")),
            ProductDeletion::HasOrders => {
                return Err(AppError::Rule(
                    "the product has been ordered; deactivate it instead".to_owned(),
                ));
            }
        }
        self.catalog_changed().await;
        self.delete_image_files(&product_images_prefix(product_id))
            .await;
        Ok(())
    }

    /// Deletes files no record refers to any more. A failure is logged, not returned: the
    /// records are gone, so the files are unreachable whatever happens to them.
    async fn delete_image_files(&self, prefix: &str) {
        let Some(images) = &self.images else { return };
        if let Err(error) = images.files.delete_prefix(prefix).await {
            tracing::warn!(%prefix, error = %error, "could not delete image files");
        }
    }
}

/// The folder of one image's variants.
fn image_folder(product_id: ProductId, image_id: ImageId) -> String {
    format!("{}/{image_id}", product_images_prefix(product_id))
}
