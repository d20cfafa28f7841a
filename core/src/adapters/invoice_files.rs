//! Where invoice PDFs are kept: a local folder or an S3-compatible bucket, through `object_store`.
//! Keys are `invoices/<invoice number>.pdf`; a location is the URL of one stored PDF
//! (`file:///abs/dir/invoices/INV-2026-000001.pdf` or `s3://bucket/invoices/INV-2026-000001.pdf`).

use std::{path::Path, sync::Arc};

use anyhow::{Context as _, anyhow};
use object_store::{
    ObjectStore, PutPayload, aws::AmazonS3Builder, local::LocalFileSystem, path::Path as ObjectPath,
};

use crate::{config::InvoiceSettings, ports::InvoiceFiles};

use super::writable::ensure_writable_dir;

/// The folder invoices go to when no bucket is configured.
pub const DEFAULT_DIR: &str = crate::config::DEFAULT_INVOICE_DIR;
/// Variables of [`InvoiceSettings`], named in errors.
pub const DIR_VAR: &str = "SHOP_INVOICE_DIR";
pub const BUCKET_VAR: &str = "SHOP_INVOICE_BUCKET";
pub const ENDPOINT_VAR: &str = "SHOP_INVOICE_S3_ENDPOINT";
/// The folder of the PDFs inside the store.
const KEY_PREFIX: &str = "invoices";

/// The invoices' blob store. Other workers (the email worker attaching the PDF) read a stored
/// invoice back with [`InvoiceReader`] given the `location` of `dev.shop.invoice.created.v1`.
#[derive(Debug, Clone)]
pub struct InvoiceStore {
    store: Arc<dyn ObjectStore>,
    /// `file:///abs/dir` or `s3://bucket`, without a trailing slash.
    base: String,
}

impl InvoiceStore {
    /// A local folder, created when missing and checked to be writable now (where the PDFs
    /// go, `<dir>/invoices`, too), so that a read-only one fails the start, not every invoice.
    pub fn local(dir: impl AsRef<Path>) -> anyhow::Result<Self> {
        let dir = dir.as_ref();
        ensure_writable_dir(dir)?;
        // `object_store` stages each upload next to its key (`<key>#<n>`, renamed into place).
        ensure_writable_dir(&dir.join(KEY_PREFIX))?;
        let dir = dir
            .canonicalize()
            .with_context(|| format!("cannot resolve the invoice folder {}", dir.display()))?;
        let store = LocalFileSystem::new_with_prefix(&dir)
            .with_context(|| format!("cannot open the invoice folder {}", dir.display()))?;
        let path = dir.to_string_lossy();
        let base = format!("file://{}", path.trim_end_matches('/'));
        Ok(Self {
            store: Arc::new(store),
            base,
        })
    }

    /// An S3-compatible bucket; credentials and region from `AWS_*`, `endpoint` for MinIO & co.
    pub fn s3(bucket: &str, endpoint: Option<&str>) -> anyhow::Result<Self> {
        let store =
            s3_bucket(bucket, endpoint).with_context(|| format!("invoice bucket {bucket}"))?;
        Ok(Self {
            store: Arc::new(store),
            base: format!("s3://{bucket}"),
        })
    }

    /// `SHOP_INVOICE_BUCKET` (with `SHOP_INVOICE_S3_ENDPOINT`) when set, else the folder
    /// `SHOP_INVOICE_DIR` (default `./var/invoices`). Errors name the variable.
    pub fn from_settings(settings: &InvoiceSettings) -> anyhow::Result<Self> {
        if let Some(bucket) = &settings.bucket {
            return Self::s3(bucket, settings.s3_endpoint.as_deref())
                .with_context(|| format!("{BUCKET_VAR}: invalid value {bucket:?}"));
        }
        Self::local(&settings.dir).map_err(|error| {
            anyhow!("{DIR_VAR}: {error:#}; point it at a writable volume or set {BUCKET_VAR}")
        })
    }

    /// The key of invoice `number`: `invoices/<number>.pdf`.
    pub fn key(number: &str) -> ObjectPath {
        ObjectPath::from_iter([KEY_PREFIX.to_owned(), format!("{number}.pdf")])
    }

    /// The location (URL) the PDF of invoice `number` has in this store.
    pub fn location(&self, number: &str) -> String {
        format!("{}/{}", self.base, Self::key(number))
    }

    /// Stores the PDF of invoice `number` and returns its location. Storing the same key again
    /// replaces it, so a retried event is harmless.
    pub async fn put(&self, number: &str, pdf: Vec<u8>) -> anyhow::Result<String> {
        let key = Self::key(number);
        self.store
            .put(&key, PutPayload::from(pdf))
            .await
            .with_context(|| format!("cannot store {}", self.location(number)))?;
        Ok(self.location(number))
    }

    /// The bytes stored at `location`, which must be in this store.
    pub async fn fetch(&self, location: &str) -> anyhow::Result<Vec<u8>> {
        let key = location
            .strip_prefix(&self.base)
            .and_then(|rest| rest.strip_prefix('/'))
            .ok_or_else(|| anyhow!("{location} is not in the invoice store {}", self.base))?;
        let key = ObjectPath::parse(key).with_context(|| format!("invoice location {location}"))?;
        let bytes = self
            .store
            .get(&key)
            .await
            .with_context(|| format!("cannot read {location}"))?
            .bytes()
            .await
            .with_context(|| format!("cannot read {location}"))?;
        Ok(bytes.to_vec())
    }

    /// Opens the store `location` lives in, a folder or a bucket at `endpoint` (the typed
    /// `SHOP_INVOICE_S3_ENDPOINT`, or `None` for AWS), and reads it.
    pub async fn fetch_with(location: &str, endpoint: Option<&str>) -> anyhow::Result<Vec<u8>> {
        if let Some(path) = location.strip_prefix("file://") {
            return tokio::fs::read(path)
                .await
                .with_context(|| format!("cannot read {location}"));
        }
        let bucket = location
            .strip_prefix("s3://")
            .and_then(|rest| rest.split_once('/'))
            .map(|(bucket, _)| bucket)
            .ok_or_else(|| anyhow!("unsupported invoice location {location}"))?;
        Self::s3(bucket, endpoint)?.fetch(location).await
    }
}

/// An S3-compatible bucket (the invoices' and the product images'): credentials and region
/// from `AWS_*`, `endpoint` for MinIO & co (plain `http://` allowed for in-cluster stores).
pub(crate) fn s3_bucket(
    bucket: &str,
    endpoint: Option<&str>,
) -> object_store::Result<object_store::aws::AmazonS3> {
    let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
    if let Some(endpoint) = endpoint {
        builder = builder
            .with_endpoint(endpoint)
            .with_allow_http(endpoint.starts_with("http://"));
    }
    builder.build()
}

/// Reads stored invoices by their location (`file://…` or `s3://…`), buckets at the configured
/// endpoint: for readers that do not hold the invoice worker's store, such as the email worker
/// attaching the PDF and the API's download route. It opens a store only to read, so it needs
/// no writable folder.
#[derive(Debug, Clone, Default)]
pub struct InvoiceReader {
    /// `SHOP_INVOICE_S3_ENDPOINT`; `None` for AWS.
    s3_endpoint: Option<String>,
}

impl InvoiceReader {
    pub fn from_settings(settings: &InvoiceSettings) -> Self {
        Self {
            s3_endpoint: settings.s3_endpoint.clone(),
        }
    }
}

#[async_trait::async_trait]
impl InvoiceFiles for InvoiceReader {
    async fn fetch(
        &self,
        location: &str,
    ) -> Result<Vec<u8>, Box<dyn std::error::Error + Send + Sync>> {
        Ok(InvoiceStore::fetch_with(location, self.s3_endpoint.as_deref()).await?)
    }
}
