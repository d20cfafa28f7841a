//! Image bytes in the invoices' blob store: the same folder (`SHOP_INVOICE_DIR`) or bucket
//! (`SHOP_INVOICE_BUCKET`), under `images/`, so a shop has one place for files to back up and
//! one set of credentials.

use std::{path::Path, sync::Arc};

use anyhow::{Context as _, anyhow};
use async_trait::async_trait;
use futures::TryStreamExt as _;
use object_store::{ObjectStore, PutPayload, local::LocalFileSystem, path::Path as ObjectPath};

use crate::{
    adapters::{
        invoice_files::{BUCKET_VAR, DIR_VAR, s3_bucket},
        writable::ensure_writable_dir,
    },
    config::InvoiceSettings,
    ports::{BlobError, ImageFiles},
};

/// The folder of the images inside the store.
const KEY_PREFIX: &str = "images";

/// [`ImageFiles`] on a folder or an S3-compatible bucket.
#[derive(Debug, Clone)]
pub struct BlobImageFiles {
    store: Arc<dyn ObjectStore>,
}

impl BlobImageFiles {
    /// A local folder whose `images/` subfolder is created when missing and checked to be
    /// writable now, so that a read-only one fails the start, not every upload. Only that
    /// subfolder needs to be writable: on Kubernetes the API and media Worker mount the
    /// invoice volume read-only and its `images/` read-write, so they cannot touch invoices.
    pub fn local(dir: impl AsRef<Path>) -> anyhow::Result<Self> {
        let dir = dir.as_ref();
        if !dir.join(KEY_PREFIX).is_dir() {
            ensure_writable_dir(dir)?;
        }
        ensure_writable_dir(&dir.join(KEY_PREFIX))?;
        let dir = dir
            .canonicalize()
            .with_context(|| format!("cannot resolve the folder {}", dir.display()))?;
        // Deleting an image's last file removes its emptied folders too.
        let store = LocalFileSystem::new_with_prefix(&dir)
            .with_context(|| format!("cannot open the folder {}", dir.display()))?
            .with_automatic_cleanup(true);
        Ok(Self {
            store: Arc::new(store),
        })
    }

    /// An S3-compatible bucket; credentials and region from `AWS_*`, `endpoint` for MinIO & co.
    pub fn s3(bucket: &str, endpoint: Option<&str>) -> anyhow::Result<Self> {
        let store =
            s3_bucket(bucket, endpoint).with_context(|| format!("image bucket {bucket}"))?;
        Ok(Self {
            store: Arc::new(store),
        })
    }

    /// The bucket when `SHOP_INVOICE_BUCKET` is set, else the folder `SHOP_INVOICE_DIR`.
    /// Errors name the variable.
    pub fn from_settings(settings: &InvoiceSettings) -> anyhow::Result<Self> {
        if let Some(bucket) = &settings.bucket {
            return Self::s3(bucket, settings.s3_endpoint.as_deref())
                .with_context(|| format!("{BUCKET_VAR}: invalid value {bucket:?}"));
        }
        Self::local(&settings.dir).map_err(|error| {
            anyhow!(
                "{DIR_VAR} (where product images are kept too): {error:#}; point it at a \
                 writable volume or set {BUCKET_VAR}"
            )
        })
    }

    fn path(key: &str) -> Result<ObjectPath, BlobError> {
        if !key.starts_with(KEY_PREFIX) {
            return Err(format!("{key} is not an image key").into());
        }
        Ok(ObjectPath::parse(key)?)
    }
}

#[async_trait]
impl ImageFiles for BlobImageFiles {
    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), BlobError> {
        self.store
            .put(&Self::path(key)?, PutPayload::from(bytes))
            .await?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BlobError> {
        match self.store.get(&Self::path(key)?).await {
            Ok(found) => Ok(Some(found.bytes().await?.to_vec())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    async fn delete_prefix(&self, prefix: &str) -> Result<(), BlobError> {
        let prefix = Self::path(prefix)?;
        let keys: Vec<ObjectPath> = self
            .store
            .list(Some(&prefix))
            .map_ok(|meta| meta.location)
            .try_collect()
            .await?;
        for key in keys {
            match self.store.delete(&key).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(error) => return Err(error.into()),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bytes_are_kept_by_key_and_a_prefix_deletes_a_folder() {
        let dir = tempfile::tempdir().expect("a folder");
        let files = BlobImageFiles::local(dir.path()).expect("a writable folder");
        files
            .put("images/p1/i1/original.png", b"one".to_vec())
            .await
            .expect("stored");
        files
            .put("images/p1/i2/original.png", b"two".to_vec())
            .await
            .expect("stored");
        files
            .put("images/p2/i3/original.png", b"three".to_vec())
            .await
            .expect("stored");
        assert_eq!(
            files.get("images/p1/i1/original.png").await.expect("read"),
            Some(b"one".to_vec())
        );
        files.delete_prefix("images/p1").await.expect("deleted");
        assert_eq!(
            files.get("images/p1/i2/original.png").await.expect("read"),
            None
        );
        assert_eq!(
            files.get("images/p2/i3/original.png").await.expect("read"),
            Some(b"three".to_vec())
        );
        // Keys outside the images' folder (the invoices beside them) are never touched.
        assert!(files.get("invoices/INV-2026-000001.pdf").await.is_err());
    }
}
