//! Private scratch directories: ingest staging and query spill files, which hold names and ID
//! numbers while they exist. Each is created owner-only (0700; the files in it inherit the
//! process umask, which `main` sets to 077), is removed when its [`ScratchDir`] is dropped, and
//! is listed in a process-wide registry so that [`remove_all`] can remove what is left when the
//! process ends early (Ctrl-C, SIGTERM) or at exit, whatever state the work was in.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, OnceLock};

/// Paths of the scratch directories that exist now.
fn registry() -> MutexGuard<'static, BTreeSet<PathBuf>> {
    static REGISTRY: OnceLock<Mutex<BTreeSet<PathBuf>>> = OnceLock::new();
    REGISTRY
        .get_or_init(Default::default)
        .lock()
        // A panic while holding the lock leaves a set of paths that is still valid.
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A private directory, removed on drop (and by [`remove_all`]).
#[derive(Debug)]
pub struct ScratchDir {
    dir: Option<tempfile::TempDir>,
}

impl ScratchDir {
    /// Creates `PARENT/<prefix>XXXXXX` with mode 0700; `parent` defaults to the system
    /// temporary directory and is created when missing.
    pub fn new(parent: Option<&Path>, prefix: &str) -> std::io::Result<ScratchDir> {
        let mut builder = tempfile::Builder::new();
        builder.prefix(prefix);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            builder.permissions(std::fs::Permissions::from_mode(0o700));
        }
        let dir = match parent {
            Some(p) => {
                std::fs::create_dir_all(p)?;
                builder.tempdir_in(p)?
            }
            None => builder.tempdir()?,
        };
        registry().insert(dir.path().to_path_buf());
        Ok(ScratchDir { dir: Some(dir) })
    }

    pub fn path(&self) -> &Path {
        match &self.dir {
            Some(d) => d.path(),
            // `dir` is only taken in `drop`.
            None => Path::new(""),
        }
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        if let Some(dir) = self.dir.take() {
            let path = dir.path().to_path_buf();
            if let Err(e) = dir.close() {
                // Left in the registry, so that `remove_all` at exit tries again.
                tracing::warn!(
                    "cannot remove the scratch directory {}: {e}",
                    path.display()
                );
                return;
            }
            registry().remove(&path);
        }
    }
}

/// The process's directory for query spill files when none is configured: created on first
/// use in the system temporary directory, removed by [`remove_all`] (which `main` calls on
/// every exit).
pub fn spill_dir() -> std::io::Result<PathBuf> {
    static SPILL: OnceLock<Result<ScratchDir, String>> = OnceLock::new();
    match SPILL.get_or_init(|| ScratchDir::new(None, "povcensus-spill-").map_err(|e| e.to_string()))
    {
        Ok(d) => Ok(d.path().to_path_buf()),
        Err(e) => Err(std::io::Error::other(format!(
            "cannot create a spill directory: {e}"
        ))),
    }
}

/// Removes every scratch directory that still exists. Called by `main` on every exit and
/// after an interrupt, when workers may still be writing: a directory that is not empty yet
/// is tried again a few times. Returns the paths that could not be removed.
pub fn remove_all() -> Vec<PathBuf> {
    let paths: Vec<PathBuf> = registry().iter().cloned().collect();
    let mut left = Vec::new();
    for path in paths {
        let mut removed = false;
        for attempt in 0..5 {
            match std::fs::remove_dir_all(&path) {
                Ok(()) => {
                    removed = true;
                    break;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    removed = true;
                    break;
                }
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(20 << attempt)),
            }
        }
        if removed {
            registry().remove(&path);
        } else {
            left.push(path);
        }
    }
    left
}

#[cfg(test)]
mod tests {
    use super::*;

    // One test: `remove_all` acts on the whole process, so a second test would race with it.
    #[test]
    fn scratch_dirs_are_private_and_removed_on_drop_or_by_remove_all() {
        let parent = tempfile::tempdir().unwrap();
        let s = ScratchDir::new(Some(parent.path()), "t-").unwrap();
        let path = s.path().to_path_buf();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700);
        }
        std::fs::write(path.join("f"), b"x").unwrap();
        assert!(registry().contains(&path));
        drop(s);
        assert!(!path.exists());
        assert!(!registry().contains(&path));

        let s = ScratchDir::new(Some(parent.path()), "t-").unwrap();
        let path = s.path().to_path_buf();
        std::fs::create_dir(path.join("sub")).unwrap();
        std::fs::write(path.join("sub/f"), b"x").unwrap();
        // As after an interrupt: the owner is never dropped.
        std::mem::forget(s);
        assert!(remove_all().is_empty());
        assert!(!path.exists());
        assert!(!registry().contains(&path));
    }
}
