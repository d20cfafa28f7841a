//! The media worker: on `dev.shop.product.image_added.v1` it makes the image's medium and
//! thumbnail variants, stores them beside the original, and marks the image's variants ready.
//!
//! Storing a variant replaces what was at its key, so a redelivered event only does the work
//! again; no processed-message record is needed. An image deleted meanwhile is skipped, and
//! variants written for an image deleted while they were made are removed again.

use std::sync::Arc;

use async_trait::async_trait;
use serde::Deserialize;
use shop_core::{
    adapters::images::{BlobImageFiles, DECODE_SLOTS, render_variants},
    app::WorkerData,
    config::InvoiceSettings,
    domain::{ImageId, ImageVariant, ProductId},
    messaging::{CloudEvent, WorkerKind},
    ports::ImageFiles,
};

use crate::handler::{Handler, HandlerError, payload};

/// The event that asks for variants.
pub const IMAGE_ADDED: &str = "dev.shop.product.image_added.v1";

/// The media worker's handler.
#[derive(Debug, Clone)]
pub struct Media {
    data: WorkerData,
    files: Arc<dyn ImageFiles>,
}

impl Media {
    pub fn new(data: WorkerData, files: Arc<dyn ImageFiles>) -> Self {
        Self { data, files }
    }

    /// The images are kept where the invoices are (`SHOP_INVOICE_DIR` or `SHOP_INVOICE_BUCKET`).
    pub fn from_settings(data: WorkerData, settings: &InvoiceSettings) -> anyhow::Result<Self> {
        Ok(Self::new(
            data,
            Arc::new(BlobImageFiles::from_settings(settings)?),
        ))
    }
}

#[derive(Debug, Deserialize)]
struct ImageAdded {
    product_id: ProductId,
    image_id: ImageId,
}

fn retry(
    context: &'static str,
) -> impl FnOnce(Box<dyn std::error::Error + Send + Sync>) -> HandlerError {
    move |error| HandlerError::Retry(anyhow::anyhow!("{context}: {error}"))
}

#[async_trait]
impl Handler for Media {
    fn kind(&self) -> WorkerKind {
        WorkerKind::Media
    }

    async fn handle(&self, event: &CloudEvent) -> Result<(), HandlerError> {
        if event.event_type != IMAGE_ADDED {
            return Ok(());
        }
        let added: ImageAdded = payload(event)?;
        let image = self
            .data
            .product_image(added.image_id)
            .await
            .map_err(|error| HandlerError::database(WorkerKind::Media, error))?;
        let folder = format!("images/{}/{}", added.product_id, added.image_id);
        let Some(image) = image.filter(|image| image.product_id == added.product_id) else {
            // Deleted: its files may outlive it if an earlier try was cut short, and removing
            // nothing is harmless.
            tracing::info!(image = %added.image_id, "media: the image was deleted; nothing to make");
            return self
                .files
                .delete_prefix(&folder)
                .await
                .map_err(retry("image store"));
        };
        if image.variants_ready {
            return Ok(());
        }
        let Some(original) = self
            .files
            .get(&image.key(ImageVariant::Original))
            .await
            .map_err(retry("image store"))?
        else {
            // The record is written after the bytes and deleted before them: no bytes means the
            // image is being deleted.
            tracing::info!(image = %image.id, "media: the original is gone; nothing to do");
            return Ok(());
        };
        let made = {
            // Decoding takes memory by pixels: a few at a time per process.
            let _slot = DECODE_SLOTS
                .acquire()
                .await
                .map_err(|error| HandlerError::Retry(anyhow::Error::new(error)))?;
            tokio::task::spawn_blocking(move || render_variants(&original, &ImageVariant::RESIZED))
                .await
                .map_err(|error| HandlerError::Retry(anyhow::Error::new(error)))?
                // The upload decoded when it was accepted; one that no longer does never will.
                .map_err(|error| HandlerError::Reject(anyhow::Error::new(error)))?
        };
        for (variant, bytes) in made {
            self.files
                .put(&image.key(variant), bytes)
                .await
                .map_err(retry("image store"))?;
        }
        let marked = self
            .data
            .mark_image_variants_ready(image.id)
            .await
            .map_err(|error| HandlerError::database(WorkerKind::Media, error))?;
        if !marked {
            self.files
                .delete_prefix(&folder)
                .await
                .map_err(retry("image store"))?;
        }
        tracing::info!(image = %image.id, "media: variants stored");
        Ok(())
    }
}
