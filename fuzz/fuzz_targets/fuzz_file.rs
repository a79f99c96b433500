//! Shared by the targets whose parser reads a path: the input written to a per-process scratch
//! file, so the real reading code (size limits included) is what gets fuzzed.

use std::path::PathBuf;

/// Writes `data` to this process's scratch file named after `what` and returns its path.
pub fn scratch_file(what: &str, data: &[u8]) -> PathBuf {
    let path = std::env::temp_dir().join(format!("canary-fuzz-{what}-{}.json", std::process::id()));
    std::fs::write(&path, data).expect("the scratch file is writable");
    path
}
