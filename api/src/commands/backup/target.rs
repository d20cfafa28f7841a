use std::{
    fs::File,
    io::{self, Write},
    path::{Path, PathBuf},
};

use anyhow::{Context as _, anyhow};
use futures::TryStreamExt as _;
use object_store::{
    ObjectStore as _, WriteMultipart,
    aws::{AmazonS3, AmazonS3Builder},
    path::Path as ObjectPath,
};
use shop_core::config::{Config, validate_backup_target};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::{
    manifest::{Manifest, read_manifest},
    usage,
};
use crate::cli::TargetArg;

pub(super) const DEFAULT_TARGET: &str = "file://backups";

/// A storage target: a directory (`file://`) or an S3 bucket and prefix (`s3://`). Files are
/// produced and consumed in `dir`: the target directory itself, or for S3 a private local
/// staging directory from which they are uploaded and into which they are downloaded.
#[derive(Debug)]
pub(super) struct Target {
    pub(super) dir: PathBuf,
    pub(super) url: String,
    pub(super) remote: Option<Remote>,
}

#[derive(Debug)]
pub(super) struct Remote {
    store: AmazonS3,
    prefix: ObjectPath,
}

/// Upload part size; parts are sent two at a time.
pub(super) const PART_SIZE: usize = 8 * 1024 * 1024;

impl Drop for Target {
    fn drop(&mut self) {
        if self.remote.is_some() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

impl Target {
    pub(super) fn resolve(config: &Config, arg: &TargetArg) -> anyhow::Result<Self> {
        let raw = match &arg.target {
            Some(raw) => {
                validate_backup_target(raw).map_err(|e| usage(format!("--target: {e}")))?
            }
            None => config
                .backup_target
                .clone()
                .unwrap_or_else(|| DEFAULT_TARGET.to_owned()),
        };
        if let Some(location) = raw.strip_prefix("s3://") {
            let (bucket, prefix) = location.split_once('/').unwrap_or((location, ""));
            let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
            if let Some(endpoint) = &config.backup_s3_endpoint {
                builder = builder
                    .with_endpoint(endpoint)
                    .with_allow_http(endpoint.starts_with("http://"));
            }
            let store = builder
                .build()
                .map_err(|e| usage(format!("backup target {raw}: {e}")))?;
            let prefix = ObjectPath::parse(prefix.trim_matches('/'))
                .map_err(|e| usage(format!("backup target {raw}: {e}")))?;
            let dir =
                std::env::temp_dir().join(format!("shop-backup-{}", uuid::Uuid::new_v4().simple()));
            return Ok(Self {
                dir,
                url: raw.clone(),
                remote: Some(Remote { store, prefix }),
            });
        }
        let path = raw.strip_prefix("file://").unwrap_or(&raw);
        Ok(Self {
            dir: PathBuf::from(path),
            url: raw.clone(),
            remote: None,
        })
    }

    /// The local working directory, created if need be.
    pub(super) fn prepare(&self) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("cannot create the directory {}", self.dir.display()))
    }

    pub(super) fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    pub(super) fn manifest_path(&self, id: &str) -> PathBuf {
        self.path(&format!("{id}.json"))
    }

    fn key(remote: &Remote, name: &str) -> ObjectPath {
        remote.prefix.child(name)
    }

    /// Makes the finished data file `name` (in `dir`) part of the target: for S3, a multipart
    /// upload, which becomes visible only when complete.
    pub(super) async fn publish_data(&self, name: &str) -> anyhow::Result<()> {
        let Some(remote) = &self.remote else {
            return Ok(());
        };
        let local = self.path(name);
        let key = Self::key(remote, name);
        let result = async {
            let upload = remote.store.put_multipart(&key).await?;
            let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
            let mut file = tokio::fs::File::open(&local).await?;
            let mut buffer = vec![0; 1024 * 1024];
            loop {
                let read = file.read(&mut buffer).await?;
                if read == 0 {
                    break;
                }
                writer.wait_for_capacity(2).await?;
                writer.write(&buffer[..read]);
            }
            writer.finish().await?;
            anyhow::Ok(())
        }
        .await
        .with_context(|| format!("cannot upload {name} to {}", self.url));
        let _ = std::fs::remove_file(&local);
        result
    }

    /// Writes the manifest, the last step of a backup.
    pub(super) async fn put_manifest(&self, id: &str, json: Vec<u8>) -> anyhow::Result<()> {
        match &self.remote {
            None => write_atomically(&self.manifest_path(id), &json),
            Some(remote) => remote
                .store
                .put(&Self::key(remote, &format!("{id}.json")), json.into())
                .await
                .map(|_| ())
                .with_context(|| format!("cannot upload the manifest of {id} to {}", self.url)),
        }
    }

    /// Complete backups (those with a readable manifest and their data file), newest first.
    pub(super) async fn list(&self) -> anyhow::Result<Vec<Manifest>> {
        let mut manifests = match &self.remote {
            None => self.list_dir()?,
            Some(remote) => self.list_remote(remote).await?,
        };
        manifests.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        Ok(manifests)
    }

    async fn list_remote(&self, remote: &Remote) -> anyhow::Result<Vec<Manifest>> {
        let objects: Vec<_> = remote
            .store
            .list(Some(&remote.prefix))
            .try_collect()
            .await
            .with_context(|| format!("cannot list {}", self.url))?;
        let names: std::collections::HashSet<String> = objects
            .iter()
            .filter(|object| {
                object
                    .location
                    .prefix_match(&remote.prefix)
                    .is_some_and(|mut rest| rest.next().is_some() && rest.next().is_none())
            })
            .filter_map(|object| object.location.filename().map(str::to_owned))
            .collect();
        let mut manifests = Vec::new();
        for name in names
            .iter()
            .filter(|n| n.ends_with(".json") && !n.starts_with('.'))
        {
            let read = async {
                let bytes = remote
                    .store
                    .get(&Self::key(remote, name))
                    .await?
                    .bytes()
                    .await?;
                anyhow::Ok(serde_json::from_slice::<Manifest>(&bytes)?)
            }
            .await;
            match read {
                Ok(manifest) if names.contains(&manifest.file) => manifests.push(manifest),
                Ok(manifest) => {
                    tracing::warn!(id = %manifest.id, "backup manifest without its data file; ignored");
                }
                Err(error) => {
                    tracing::warn!(file = %name, error = %format!("{error:#}"), "unreadable backup manifest; ignored");
                }
            }
        }
        Ok(manifests)
    }

    fn list_dir(&self) -> anyhow::Result<Vec<Manifest>> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => {
                return Err(error).with_context(|| format!("cannot read {}", self.dir.display()));
            }
        };
        let mut manifests = Vec::new();
        for entry in entries {
            let entry = entry.with_context(|| format!("cannot read {}", self.dir.display()))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.starts_with('.') || !name.ends_with(".json") {
                continue;
            }
            match read_manifest(&entry.path()) {
                Ok(manifest) if self.path(&manifest.file).is_file() => manifests.push(manifest),
                Ok(manifest) => {
                    tracing::warn!(id = %manifest.id, "backup manifest without its data file; ignored");
                }
                Err(error) => {
                    tracing::warn!(file = name, error = %format!("{error:#}"), "unreadable backup manifest; ignored");
                }
            }
        }
        Ok(manifests)
    }

    pub(super) async fn find(&self, id: &str) -> anyhow::Result<Manifest> {
        if id.is_empty() || id.starts_with('.') || id.contains(['/', '\\']) {
            return Err(usage(format!("{id:?} is not a backup id")));
        }
        self.list()
            .await?
            .into_iter()
            .find(|manifest| manifest.id == id)
            .ok_or_else(|| anyhow!("backup {id}: not found in {}", self.url))
    }

    /// The backup's data file as a local file: for S3, downloaded into the staging directory.
    pub(super) async fn fetch(&self, manifest: &Manifest) -> anyhow::Result<PathBuf> {
        let Some(remote) = &self.remote else {
            return Ok(self.path(&manifest.file));
        };
        self.prepare()?;
        let local = self.path(&manifest.file);
        async {
            let mut stream = remote
                .store
                .get(&Self::key(remote, &manifest.file))
                .await?
                .into_stream();
            let mut file = tokio::fs::File::create(&local).await?;
            while let Some(chunk) = stream.try_next().await? {
                file.write_all(&chunk).await?;
            }
            file.flush().await?;
            anyhow::Ok(())
        }
        .await
        .with_context(|| format!("backup {}: cannot download {}", manifest.id, manifest.file))?;
        Ok(local)
    }

    /// Deletes the manifest first: from that moment the backup is no longer listed.
    pub(super) async fn delete(&self, manifest: &Manifest) -> anyhow::Result<()> {
        if let Some(remote) = &self.remote {
            for name in [format!("{}.json", manifest.id), manifest.file.clone()] {
                remote
                    .store
                    .delete(&Self::key(remote, &name))
                    .await
                    .with_context(|| format!("backup {}: cannot delete {name}", manifest.id))?;
            }
            return Ok(());
        }
        std::fs::remove_file(self.manifest_path(&manifest.id))
            .with_context(|| format!("backup {}: cannot delete its manifest", manifest.id))?;
        match std::fs::remove_file(self.path(&manifest.file)) {
            Ok(()) => Ok(()),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(error) => Err(error).with_context(|| {
                format!("backup {}: cannot delete {}", manifest.id, manifest.file)
            }),
        }
    }
}

/// Writes `bytes` to a hidden temporary file and renames it to `path`, with fsyncs so that a
/// crash leaves either the old state or the whole new file.
pub(super) fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let temporary = hidden_temporary(path);
    let result = (|| {
        let mut file = File::create(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)?;
        sync_dir(path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result.with_context(|| format!("cannot write {}", path.display()))
}

pub(super) fn hidden_temporary(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .and_then(|name| name.to_str())
        .unwrap_or("backup");
    path.with_file_name(format!(".{name}.partial"))
}

pub(super) fn sync_dir(path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => File::open(dir)?.sync_all(),
        _ => Ok(()),
    }
}
