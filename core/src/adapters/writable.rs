//! Local folders the workers write to at runtime (invoice PDFs, `.eml` files), checked when a
//! handler is built.
//!
//! A container with a read-only root filesystem (Kubernetes' `readOnlyRootFilesystem`, where only
//! mounted volumes such as `/tmp` are writable) refuses the default `./var/...` folders. Found at
//! the first message, that is a crash loop or a message retried until it is dead-lettered; found
//! at start, it is one clear error naming the setting. The check is real, not guessed from the
//! path: the folder is created, a probe file written into it and removed again, so a read-only
//! mount, a missing permission, a full disk or a file in the way are all caught.

use std::{
    fmt,
    fs::OpenOptions,
    io::{self, Write as _},
    path::{Path, PathBuf},
};

/// Why a folder cannot be written to. Its message names the folder and the OS error, e.g.
/// `cannot create ./var/invoices: Read-only file system (os error 30)`; the caller adds which
/// setting names the folder.
#[derive(Debug)]
pub struct NotWritable {
    step: Step,
    path: PathBuf,
    error: io::Error,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Create,
    Write,
}

impl NotWritable {
    /// The folder that was refused.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl fmt::Display for NotWritable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The OS error is part of the message rather than a `source`, so `{:#}` chains do not
        // print it twice.
        let verb = match self.step {
            Step::Create => "cannot create",
            Step::Write => "cannot write in",
        };
        write!(f, "{verb} {}: {}", self.path.display(), self.error)
    }
}

impl std::error::Error for NotWritable {}

/// Creates `dir` (and its parents) when missing and proves that files can be created in it: a
/// probe file is written and removed.
pub fn ensure_writable_dir(dir: &Path) -> Result<(), NotWritable> {
    std::fs::create_dir_all(dir).map_err(|error| NotWritable {
        step: Step::Create,
        path: dir.to_owned(),
        error,
    })?;
    // Unique per process and call: the API and the workers may probe a shared volume at once,
    // and in containers every process may be PID 1.
    let probe = dir.join(format!(
        ".shop-write-probe-{}",
        uuid::Uuid::new_v4().simple()
    ));
    let written = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .and_then(|mut file| file.write_all(b"probe\n"));
    let removed = std::fs::remove_file(&probe);
    if let Err(error) = written {
        return Err(NotWritable {
            step: Step::Write,
            path: dir.to_owned(),
            error,
        });
    }
    if let Err(error) = removed {
        // Writing works, which is what the worker needs; a leftover probe is only untidy.
        tracing::warn!(probe = %probe.display(), %error, "cannot remove the write probe");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_missing_folders_and_leaves_nothing_behind() {
        let root = tempfile::tempdir().expect("a temporary folder");
        let dir = root.path().join("var").join("mail");
        ensure_writable_dir(&dir).expect("writable");
        assert!(dir.is_dir());
        let left: Vec<_> = std::fs::read_dir(&dir).expect("list").collect();
        assert!(left.is_empty(), "the probe is removed: {left:?}");
    }

    #[test]
    fn a_file_in_the_way_is_reported_with_its_path() {
        let root = tempfile::tempdir().expect("a temporary folder");
        let file = root.path().join("var");
        std::fs::write(&file, b"not a folder").expect("write");
        let error = ensure_writable_dir(&file.join("invoices")).expect_err("not a folder");
        let message = error.to_string();
        assert!(
            message.starts_with(&format!(
                "cannot create {}: ",
                file.join("invoices").display()
            )),
            "{message}"
        );
        assert_eq!(error.path(), file.join("invoices"));
    }
}
