//! Secrets: where one is read from ([`SecretRef`]: an environment variable or a file) and the one
//! way it is read into a [`Secret`] (its value and where it came from). Source credentials and
//! signing secrets keep the rules and the wording each has always had ([`Kind`]); the messages
//! name the variable or the file, never the value.

pub(crate) use crate::source::http::Secret;
use std::path::{Path, PathBuf};

/// Where a secret is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SecretRef {
    /// An environment variable, by name.
    Env(String),
    /// A file (a container's secret mount).
    File(PathBuf),
}

impl SecretRef {
    /// A file named in the analysis or on the command line.
    pub(crate) fn file(path: impl Into<PathBuf>) -> SecretRef {
        SecretRef::File(path.into())
    }

    /// The variable or file an analysis names for a secret (`*_env`, `*_file`); the variable
    /// when both are given.
    pub(crate) fn named(env: &Option<String>, file: &Option<String>) -> Option<SecretRef> {
        match (env, file) {
            (Some(name), _) => Some(SecretRef::Env(name.clone())),
            (None, Some(path)) => Some(SecretRef::file(path)),
            (None, None) => None,
        }
    }

    /// `$NAME` or `the file PATH`, as messages name it.
    pub(crate) fn origin(&self) -> String {
        match self {
            SecretRef::Env(name) => format!("${name}"),
            SecretRef::File(path) => format!("the file {}", path.display()),
        }
    }

    /// Reads the secret: `Ok(None)` when the variable is unset (each caller says what that
    /// means); for a file that cannot be read, the reason in `kind`'s wording.
    pub(crate) fn read(&self, kind: Kind) -> Result<Option<Secret>, String> {
        let value = match self {
            SecretRef::Env(name) => match env_value(name, kind) {
                Some(value) => value,
                None => return Ok(None),
            },
            SecretRef::File(path) => read_file(path, kind)?,
        };
        Ok(Some(Secret::from_origin(value, self.origin())))
    }
}

/// Which rules a secret is read by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A source credential (a token, a password, a Datadog key): trimmed; a variable holding only
    /// blanks counts as unset; a file's error is the system's reason alone (the caller names the
    /// file), and a file that group or others may read draws a warning.
    Credential,
    /// A signing secret or an action's secret header: a variable is taken as it is (only an
    /// empty one counts as unset); a file must be a regular file of at most 64 KiB of UTF-8
    /// text, trimmed, and `what` names it in messages (`the rollback secret file`).
    Signing { what: &'static str },
}

/// The largest signing-secret file read.
const MAX_SIGNING_FILE_BYTES: usize = 64 * 1024;

fn env_value(name: &str, kind: Kind) -> Option<String> {
    let value = std::env::var(name).ok()?;
    match kind {
        Kind::Credential => Some(value.trim().to_string()).filter(|v| !v.is_empty()),
        Kind::Signing { .. } => Some(value).filter(|v| !v.is_empty()),
    }
}

/// Reads a file holding a secret, trimmed, warning on stderr when group or others may read it (a
/// token readable by every local user is as good as published).
fn read_file(path: &Path, kind: Kind) -> Result<String, String> {
    match kind {
        Kind::Credential => {
            let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
            if let Some(mode) = std::fs::metadata(path).ok().and_then(|m| readable_by_others(&m)) {
                eprintln!(
                    "canary: warning: the credential file {} is readable by group or others (mode {mode:o}): `chmod 600 {}`",
                    path.display(),
                    path.display()
                );
            }
            Ok(text.trim().to_string())
        }
        Kind::Signing { what } => read_signing_file(path, what),
    }
}

fn read_signing_file(path: &Path, what: &str) -> Result<String, String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read {what} {}: {e}", path.display()))?;
    let metadata = file.metadata().map_err(|e| format!("cannot read {what} {}: {e}", path.display()))?;
    if !metadata.is_file() {
        return Err(format!("{what} {} is not a regular file", path.display()));
    }
    if let Some(mode) = readable_by_others(&metadata) {
        eprintln!(
            "canary: warning: {what} {} can be read by other users (mode {mode:o}); make it private (`chmod 600`)",
            path.display()
        );
    }
    let mut bytes = Vec::new();
    file.take(MAX_SIGNING_FILE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {what} {}: {e}", path.display()))?;
    if bytes.len() > MAX_SIGNING_FILE_BYTES {
        return Err(format!("{what} {} is larger than 64 KiB: is it the right file?", path.display()));
    }
    let text = String::from_utf8(bytes).map_err(|_| format!("{what} {} is not UTF-8 text", path.display()))?;
    Ok(text.trim().to_string())
}

/// The file's permission bits when group or others may read it.
#[cfg(unix)]
fn readable_by_others(metadata: &std::fs::Metadata) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    let mode = metadata.permissions().mode() & 0o777;
    (mode & 0o044 != 0).then_some(mode)
}

#[cfg(not(unix))]
fn readable_by_others(_metadata: &std::fs::Metadata) -> Option<u32> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signing_file_is_capped_and_trimmed() {
        let dir = std::env::temp_dir().join(format!("canary-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let small = dir.join("small");
        std::fs::write(&small, "  s3cret\n").unwrap();
        let kind = Kind::Signing { what: "the rollback secret file" };
        let secret = SecretRef::file(&small).read(kind).unwrap().unwrap();
        assert_eq!(secret.expose(), "s3cret");
        assert_eq!(secret.origin(), format!("the file {}", small.display()));
        let large = dir.join("large");
        std::fs::write(&large, vec![b'x'; MAX_SIGNING_FILE_BYTES + 1]).unwrap();
        let error = SecretRef::file(&large).read(kind).unwrap_err();
        assert!(error.ends_with("is larger than 64 KiB: is it the right file?") && !error.contains("xxx"), "{error}");
        let error = SecretRef::file(&dir).read(kind).unwrap_err();
        assert!(error.ends_with("is not a regular file"), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_unset_variable_is_no_secret() {
        let name = "CANARY_TEST_SURELY_UNSET_VARIABLE";
        assert!(SecretRef::Env(name.into()).read(Kind::Credential).unwrap().is_none());
        assert_eq!(SecretRef::Env(name.into()).origin(), format!("${name}"));
    }
}
