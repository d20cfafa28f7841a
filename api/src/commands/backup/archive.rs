use std::{
    fs::File,
    io::{self, Read, Write},
    path::Path,
};

use anyhow::Context as _;
use sha2::{Digest as _, Sha256};

use super::target::sync_dir;

pub(super) const ZSTD_LEVEL: i32 = 3;

/// A writer that hashes and counts what passes through it.
pub(super) struct Hashing<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.hasher.update(&buf[..written]);
        self.bytes += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Streams `source` through zstd into `temporary` (removed again on failure). Returns the
/// stored size and SHA-256.
pub(super) fn compress_into(
    temporary: &Path,
    source: &mut dyn Read,
) -> anyhow::Result<(u64, String)> {
    let result = (|| -> anyhow::Result<(u64, String)> {
        let file = File::create(temporary)
            .with_context(|| format!("cannot create {}", temporary.display()))?;
        let hashing = Hashing {
            inner: io::BufWriter::new(file),
            hasher: Sha256::new(),
            bytes: 0,
        };
        let mut encoder = zstd::Encoder::new(hashing, ZSTD_LEVEL)?;
        io::copy(source, &mut encoder)?;
        let mut hashing = encoder.finish()?;
        hashing.inner.flush()?;
        let file = hashing
            .inner
            .into_inner()
            .map_err(io::IntoInnerError::into_error)?;
        file.sync_all()?;
        Ok((hashing.bytes, format!("{:x}", hashing.hasher.finalize())))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(temporary);
    }
    result
}

/// Renames a finished temporary file into place, durably.
pub(super) fn commit(temporary: &Path, path: &Path) -> anyhow::Result<()> {
    std::fs::rename(temporary, path)
        .and_then(|()| sync_dir(path))
        .with_context(|| format!("cannot write {}", path.display()))
}

pub(super) fn sha256_of(path: &Path) -> anyhow::Result<String> {
    let mut file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut hasher = Sha256::new();
    io::copy(&mut file, &mut hasher).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(format!("{:x}", hasher.finalize()))
}
