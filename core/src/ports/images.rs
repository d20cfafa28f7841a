//! Product images: their records in the shop's database and their bytes in the blob store (the
//! invoices' folder or bucket, under `images/`).

use async_trait::async_trait;

use super::StoreResult;
use crate::domain::{ImageId, OutboxEvent, ProductId, ProductImage};

/// A blob store failure (an unreachable bucket, a full disk); callers report it as unavailable.
pub type BlobError = Box<dyn std::error::Error + Send + Sync>;

/// Where image bytes live, by key (`images/<product>/<image>/<variant>.<ext>`).
#[async_trait]
pub trait ImageFiles: std::fmt::Debug + Send + Sync + 'static {
    /// Stores `bytes` at `key`, replacing what was there (so a retried write is harmless).
    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), BlobError>;
    /// The bytes at `key`, or `None` when nothing is stored there.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BlobError>;
    /// Deletes everything stored under `prefix` (a product's or an image's folder).
    async fn delete_prefix(&self, prefix: &str) -> Result<(), BlobError>;
}

/// What adding an image came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddedImage {
    /// Stored at the end of the product's images, its event in the outbox.
    Added(ProductImage),
    ProductNotFound,
    /// The product already has the most images it may have.
    Full,
}

/// What deleting a product for good came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProductDeletion {
    /// The product and its image records are gone.
    Deleted,
    NotFound,
    /// Orders point at it: it can only be deactivated.
    HasOrders,
}

/// The records of product images.
#[async_trait]
pub trait ProductImageStore: Send + Sync {
    /// Records `image` after the product's last one (its `position` is set here) unless the
    /// product is missing or has `max` images, with `event` in the same transaction.
    async fn add_product_image(
        &self,
        image: &ProductImage,
        max: usize,
        event: &OutboxEvent,
    ) -> StoreResult<AddedImage>;
    /// The images of `products`, by product then position.
    async fn product_images(&self, products: &[ProductId]) -> StoreResult<Vec<ProductImage>>;
    /// One image, only if it belongs to `product_id`.
    async fn product_image(
        &self,
        product_id: ProductId,
        image_id: ImageId,
    ) -> StoreResult<Option<ProductImage>>;
    /// Gives the product's images the positions of `order`; `false` (and nothing changed)
    /// unless `order` names each of them exactly once.
    async fn reorder_product_images(
        &self,
        product_id: ProductId,
        order: &[ImageId],
    ) -> StoreResult<bool>;
    /// Deletes one image's record; the deleted record, or `None` if it was not there.
    async fn delete_product_image(
        &self,
        product_id: ProductId,
        image_id: ImageId,
    ) -> StoreResult<Option<ProductImage>>;
    /// Deletes every image record of a product; how many there were.
    async fn delete_product_images(&self, product_id: ProductId) -> StoreResult<u64>;
    /// Records that the variants of `image_id` are stored; `false` when the image is gone.
    async fn mark_image_variants_ready(&self, image_id: ImageId) -> StoreResult<bool>;
    /// Deletes a product that was never ordered, with its image records (and its stock
    /// history and cart lines).
    async fn delete_product(&self, product_id: ProductId) -> StoreResult<ProductDeletion>;
    /// One image by id alone (for the media worker, which learns only the id from its event).
    async fn image_by_id(&self, image_id: ImageId) -> StoreResult<Option<ProductImage>>;
}
