//! Private scratch directories: ingest staging and query spill files, which hold names and ID
//! numbers while they exist. Each is created owner-only (0700; the files in it inherit the
//! process umask, which `main` sets to 077), is removed when its [`ScratchDir`] is dropped, and
//! is listed in a process-wide registry so that [`remove_all`] can remove what is left when the
//! process ends early (Ctrl-C, SIGTERM) or at exit, whatever state the work was in.
//!
//! A process that is killed outright (SIGKILL, the out-of-memory killer, a power cut) cleans
//! nothing. So each directory holds a lock file its process keeps locked while it lives, and
//! every new scratch directory first removes the `povcensus-*` directories beside it whose lock
//! nobody holds: what a killed process left is gone with the next povcensus command.

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

/// The name of every scratch directory starts with this (then its kind: `ingest-`, `spill-`, …).
const NAME_PREFIX: &str = "povcensus-";

/// The name a scratch directory has until its lock is held (the sweep passes it over).
const PENDING_PREFIX: &str = ".povcensus-new-";

/// The file in each scratch directory that its process holds locked while it lives.
const LOCK_FILE: &str = ".owner.lock";

/// A private directory, removed on drop (and by [`remove_all`]).
#[derive(Debug)]
pub struct ScratchDir {
    path: Option<PathBuf>,
    /// Locked for as long as the directory is in use; the operating system releases it when
    /// the process ends, however it ends.
    _lock: std::fs::File,
}

impl ScratchDir {
    /// Creates `PARENT/<prefix>XXXXXX` with mode 0700; `parent` defaults to the system
    /// temporary directory and is created when missing. First removes the scratch directories
    /// in `parent` that ended processes left (see the module's header).
    pub fn new(parent: Option<&Path>, prefix: &str) -> std::io::Result<ScratchDir> {
        let parent = match parent {
            Some(p) => {
                std::fs::create_dir_all(p)?;
                p.to_path_buf()
            }
            None => std::env::temp_dir(),
        };
        let swept = sweep_stale(&parent);
        if swept > 0 {
            tracing::info!(
                "removed {swept} scratch director{} left in {} by povcensus processes that were killed",
                if swept == 1 { "y" } else { "ies" },
                parent.display()
            );
        }
        // Made and locked under a name the sweep passes over, then renamed: a directory under
        // a swept name is always locked while its process lives.
        let mut builder = tempfile::Builder::new();
        builder.prefix(PENDING_PREFIX);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            builder.permissions(std::fs::Permissions::from_mode(0o700));
        }
        let pending = builder.tempdir_in(&parent)?;
        let lock = std::fs::File::create(pending.path().join(LOCK_FILE))?;
        lock.try_lock().map_err(std::io::Error::other)?;
        let suffix = pending
            .path()
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix(PENDING_PREFIX))
            .unwrap_or_default()
            .to_string();
        let path = parent.join(format!("{prefix}{suffix}"));
        if path.exists() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                format!("{} exists", path.display()),
            ));
        }
        std::fs::rename(pending.path(), &path)?;
        // Renamed away: nothing is left for `pending` to remove.
        let _ = pending.keep();
        registry().insert(path.clone());
        Ok(ScratchDir {
            path: Some(path),
            _lock: lock,
        })
    }

    pub fn path(&self) -> &Path {
        match &self.path {
            Some(p) => p,
            // `path` is only taken in `drop`.
            None => Path::new(""),
        }
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            match std::fs::remove_dir_all(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    // Left in the registry, so that `remove_all` at exit tries again.
                    tracing::warn!(
                        "cannot remove the scratch directory {}: {e}",
                        path.display()
                    );
                    return;
                }
            }
            registry().remove(&path);
        }
    }
}

/// Removes the `povcensus-*` directories in `parent` that hold a lock file nobody holds: their
/// process ended without removing them. Directories of live processes, of other users and
/// anything else are left alone; errors only mean a directory stays. Returns how many went.
fn sweep_stale(parent: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return 0;
    };
    let mut swept = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().starts_with(NAME_PREFIX) {
            continue;
        }
        if !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let dir = entry.path();
        let Ok(lock) = std::fs::File::open(dir.join(LOCK_FILE)) else {
            continue;
        };
        if lock.try_lock().is_ok() && std::fs::remove_dir_all(&dir).is_ok() {
            swept += 1;
        }
    }
    swept
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

    #[test]
    fn directories_left_by_killed_processes_are_removed_by_the_next_one() {
        let parent = tempfile::tempdir().unwrap();
        // As a killed process leaves it: a lock file nobody holds, staged data beside it.
        let stale = parent.path().join("povcensus-ingest-dead01");
        std::fs::create_dir(&stale).unwrap();
        std::fs::write(stale.join(LOCK_FILE), b"").unwrap();
        std::fs::write(stale.join("s0000.persons.parquet"), b"names").unwrap();
        // Not povcensus's, or not a scratch directory: left alone.
        let other = parent.path().join("someone-else");
        std::fs::create_dir(&other).unwrap();
        std::fs::write(other.join(LOCK_FILE), b"").unwrap();
        let unlocked = parent.path().join("povcensus-report.html");
        std::fs::write(&unlocked, b"x").unwrap();
        let live = ScratchDir::new(Some(parent.path()), "povcensus-spill-").unwrap();
        assert!(!stale.exists(), "the killed process's directory is removed");
        assert!(other.exists() && unlocked.exists());
        assert!(live.path().join(LOCK_FILE).exists());
        // A live process's directory stays while it lives.
        let next = ScratchDir::new(Some(parent.path()), "povcensus-ingest-").unwrap();
        assert!(live.path().exists());
        let live_path = live.path().to_path_buf();
        drop(live);
        drop(next);
        assert!(!live_path.exists());
        assert_eq!(
            std::fs::read_dir(parent.path()).unwrap().count(),
            2,
            "only the two that are not povcensus's scratch remain"
        );
    }

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
