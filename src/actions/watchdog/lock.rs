//! The watchdog's lock file and its safe file opening: the private state directory (mode 0700,
//! refused when others can write to it or it belongs to another user), files opened only
//! without following symbolic links and without blocking (`O_NOFOLLOW | O_NONBLOCK`, checked
//! with `fstat`), and `<analysis>.lock`, created exclusively with mode 0600, holding the run's
//! PID, host and start time and an advisory lock (`File::try_lock`). A lock file whose advisory
//! lock is free was left by a dead run and is taken over with a warning; without advisory locks
//! the PID is checked instead. See the parent module for the whole story.

use crate::error::CanaryError;
use crate::model::{clock::now, window::format_timestamp};
use serde::{Deserialize, Serialize};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{DirBuilderExt, FileExt, FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Creates the state directory (mode 0700) if needed, and refuses one that is not a directory or
/// that other users can write to.
pub(crate) fn prepare_dir(dir: &Path) -> Result<(), CanaryError> {
    let refuse = |why: String| CanaryError::Watchdog(format!("the state directory {} {why}", dir.display()));
    if fs::symlink_metadata(dir).is_err() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| refuse(format!("cannot be created: {e}")))?;
    }
    let metadata = fs::metadata(dir).map_err(|e| refuse(format!("cannot be used: {e}")))?;
    if !metadata.is_dir() {
        return Err(refuse("is not a directory".into()));
    }
    // Our effective user owns /proc/self; without procfs the owner cannot be checked.
    let me = fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m)).ok();
    let owner = std::os::unix::fs::MetadataExt::uid(&metadata);
    if let Some(me) = me
        && owner != me
        && owner != 0
    {
        return Err(refuse(format!(
            "belongs to another user (uid {owner}, this run is uid {me}): its owner could forge the state (and \
             suppress a rollback). Use a directory of your own"
        )));
    }
    let mode = metadata.permissions().mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(refuse(format!(
            "is writable by other users (mode {mode:o}): whoever can write there can forge the state (and suppress \
             a rollback) or replace the lock. Use a private directory (`chmod 700 {}`)",
            dir.display()
        )));
    }
    Ok(())
}

/// Opens `path` if it exists and is a regular file: never through a symbolic link, never blocking
/// on a FIFO, never a device. `Ok(None)` when there is no such file; exit 4 naming the path when
/// it is something else.
pub(crate) fn open_regular(path: &Path, what: &str, write: bool) -> Result<Option<File>, CanaryError> {
    let cannot = |e: io::Error| CanaryError::Watchdog(format!("cannot use the {what} {}: {e}", path.display()));
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(cannot(e)),
        Ok(metadata) => check_regular(path, what, &metadata)?,
    }
    let file =
        match OpenOptions::new().read(true).write(write).custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK).open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
                return Err(odd_file(path, what, "a symbolic link"));
            }
            Err(e) => return Err(cannot(e)),
        };
    check_regular(path, what, &file.metadata().map_err(cannot)?)?;
    Ok(Some(file))
}

fn check_regular(path: &Path, what: &str, metadata: &fs::Metadata) -> Result<(), CanaryError> {
    let kind = metadata.file_type();
    let odd = if kind.is_symlink() {
        "a symbolic link"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_block_device() || kind.is_char_device() {
        "a device"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_dir() {
        "a directory"
    } else {
        return Ok(());
    };
    Err(odd_file(path, what, odd))
}

fn odd_file(path: &Path, what: &str, kind: &str) -> CanaryError {
    CanaryError::Watchdog(format!(
        "refusing the {what} {}: it is {kind}, not a regular file (canary only uses files it created there); remove \
         it if it is not yours",
        path.display()
    ))
}

/// What the lock file holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LockInfo {
    pub pid: u32,
    #[serde(default)]
    pub host: String,
    /// When the run started (RFC 3339).
    #[serde(default)]
    pub started: String,
}

/// The lock file this process created, identified by its inode so that only ours is removed.
#[derive(Debug)]
pub(crate) struct OwnedLock {
    pub(crate) path: PathBuf,
    identity: FileIdentity,
}

impl OwnedLock {
    /// Removes the lock file if it is still ours.
    pub(crate) fn remove(&self) {
        if FileIdentity::of_path(&self.path).is_some_and(|id| id == self.identity) {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// The lock file, held until dropped.
#[derive(Debug)]
pub(crate) struct Lock {
    pub(crate) owned: Arc<OwnedLock>,
    // Keeps the advisory lock; closing the file releases it.
    _file: File,
}

impl Drop for Lock {
    fn drop(&mut self) {
        self.owned.remove();
    }
}

impl Lock {
    pub(crate) fn acquire(path: &Path) -> Result<Lock, CanaryError> {
        let cannot = |e: io::Error| CanaryError::Watchdog(format!("cannot use the lock file {}: {e}", path.display()));
        let info = LockInfo { pid: std::process::id(), host: hostname(), started: format_timestamp(now()) };
        // A few rounds: the file may come and go between our steps while another run ends.
        for _ in 0..5 {
            // Exclusive creation never follows a symbolic link; an existing path is opened only
            // when it is a regular file.
            let created = OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW)
                .open(path);
            let file = match created {
                Ok(file) => file,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => match open_regular(path, "lock file", true)? {
                    Some(file) => file,
                    None => continue,
                },
                Err(e) => return Err(cannot(e)),
            };
            let leftover = read_capped(&file).map_err(cannot)?;
            let holder: Option<LockInfo> = serde_json::from_str(&leftover).ok();
            let held = match file.try_lock() {
                Ok(()) => false,
                Err(fs::TryLockError::WouldBlock) => true,
                // No advisory locks on this file system: judge by the PID.
                Err(fs::TryLockError::Error(_)) => {
                    holder.as_ref().is_some_and(|holder| holder.pid != info.pid && process_alive(holder))
                }
            };
            if held {
                return Err(CanaryError::Watchdog(held_message(path, holder)));
            }
            // The path must still name the file we locked (the holder may have removed it).
            let identity = FileIdentity::of_file(&file).map_err(cannot)?;
            if FileIdentity::of_path(path) != Some(identity) {
                continue;
            }
            if !leftover.trim().is_empty() {
                eprintln!("canary: warning: {}", stale_message(path, holder));
            }
            let content = format!("{}\n", serde_json::to_string(&info).expect("plain data"));
            file.set_len(0)
                .and_then(|()| file.write_all_at(content.as_bytes(), 0))
                .and_then(|()| file.sync_all())
                .map_err(cannot)?;
            return Ok(Lock { owned: Arc::new(OwnedLock { path: path.to_path_buf(), identity }), _file: file });
        }
        Err(CanaryError::Watchdog(format!(
            "cannot take the lock file {}: other runs keep creating and removing it",
            path.display()
        )))
    }
}

/// The start of a lock file (its owner fits in far less than 4 KiB).
fn read_capped(file: &File) -> io::Result<String> {
    let mut bytes = Vec::new();
    file.take(4096).read_to_end(&mut bytes)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn held_message(path: &Path, holder: Option<LockInfo>) -> String {
    let who = match holder {
        Some(h) => format!("PID {} on {}, started {}", h.pid, h.host, h.started),
        None => "a run that is just starting".into(),
    };
    format!(
        "another run of this analysis is in progress: the lock file {} is held ({who}); this run stops without \
         judging. If no such run exists, delete the file.",
        path.display()
    )
}

fn stale_message(path: &Path, holder: Option<LockInfo>) -> String {
    match holder {
        Some(h) => {
            let gone = if h.host == hostname() && !process_alive(&h) { ", which no longer exists" } else { "" };
            format!(
                "taking over the stale lock file {}: it was left by PID {} on {}{gone} (started {}), which ended \
                 without removing it",
                path.display(),
                h.pid,
                h.host,
                h.started
            )
        }
        None => format!("taking over the stale lock file {}: it holds no readable owner", path.display()),
    }
}

/// Whether the process that wrote a lock may still be running: on this host, `/proc/<pid>`
/// exists and is not this process; a lock from another host is assumed alive.
fn process_alive(holder: &LockInfo) -> bool {
    if holder.host != hostname() {
        return true;
    }
    if holder.pid == std::process::id() {
        return false;
    }
    let proc = Path::new("/proc");
    if !proc.join("self").exists() {
        return true; // No procfs: cannot tell, so assume the worst.
    }
    proc.join(holder.pid.to_string()).exists()
}

fn hostname() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown-host".into())
}

/// Device and inode of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileIdentity(u64, u64);

impl FileIdentity {
    fn of_file(file: &File) -> io::Result<FileIdentity> {
        file.metadata().map(|m| FileIdentity::of(&m))
    }

    fn of_path(path: &Path) -> Option<FileIdentity> {
        fs::symlink_metadata(path).ok().map(|m| FileIdentity::of(&m))
    }

    fn of(metadata: &fs::Metadata) -> FileIdentity {
        use std::os::unix::fs::MetadataExt;
        FileIdentity(metadata.dev(), metadata.ino())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::exit_code;

    fn read_info(path: &Path) -> Option<LockInfo> {
        serde_json::from_str(&fs::read_to_string(path).ok()?).ok()
    }

    #[test]
    fn odd_files_are_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("checkout.lock");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let message = Lock::acquire(&fifo).unwrap_err().to_string();
        assert!(message.contains("is a FIFO") && message.contains(&fifo.display().to_string()), "{message}");
        let link = dir.path().join("link.lock");
        std::os::unix::fs::symlink("/etc/hostname", &link).unwrap();
        let message = Lock::acquire(&link).unwrap_err().to_string();
        assert!(message.contains("is a symbolic link"), "{message}");
        assert!(open_regular(&dir.path().join("absent"), "state file", false).unwrap().is_none());
        let message = open_regular(Path::new("/dev/null"), "state file", false).unwrap_err().to_string();
        assert!(message.contains("is a device"), "{message}");
    }

    #[test]
    fn a_lock_is_exclusive_and_removed_when_dropped() {
        let dir = std::env::temp_dir().join(format!("canary-watchdog-lock-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("checkout.lock");
        let lock = Lock::acquire(&path).unwrap();
        let info = read_info(&path).unwrap();
        assert_eq!(info.pid, std::process::id());
        let error = Lock::acquire(&path).unwrap_err();
        assert_eq!(error.exit_code(), exit_code::COULD_NOT_JUDGE);
        let message = error.to_string();
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(message.contains(&format!("PID {}", std::process::id())), "{message}");
        drop(lock);
        assert!(!path.exists());
        // A file left behind without its advisory lock is taken over.
        fs::write(&path, r#"{"pid": 4194303, "host": "elsewhere", "started": "2026-11-23T10:00:00Z"}"#).unwrap();
        let lock = Lock::acquire(&path).unwrap();
        assert_eq!(read_info(&path).unwrap().pid, std::process::id());
        drop(lock);
        fs::remove_dir_all(&dir).unwrap();
    }
}
