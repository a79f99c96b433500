//! `canary serve`, resolved: the listening address, the callers' secret (or the explicit choice
//! of no authentication, on loopback only), the bounds of a request, and the catalogue of
//! analyses loaded from a directory (each checked as `canary judge` checks it, its source
//! resolved, served under its `name`).

use super::secret::{Kind, Secret, SecretRef};
use super::source::SourceSettings;
use crate::cli::{ServeArgs, SourceArgs};
use crate::config::Analysis;
use crate::error::CanaryError;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The most analysis files a directory may hold.
pub(crate) const MAX_ANALYSES: usize = 1000;

/// The shortest secret accepted: a short one is guessed.
pub(crate) const MIN_SECRET_CHARS: usize = 16;

/// How the server runs.
pub(crate) struct ServeSettings {
    pub(crate) analyses_dir: PathBuf,
    pub(crate) listen: SocketAddr,
    /// `None` only with `--insecure-no-auth` on a loopback address.
    pub(crate) secret: Option<Secret>,
    pub(crate) max_judgments: usize,
    /// Connections open at once (`--max-connections`).
    pub(crate) max_connections: usize,
    pub(crate) max_body_bytes: usize,
    /// The deadline of one judgment (`--deadline`).
    pub(crate) deadline: std::time::Duration,
    /// A fixed clock (`--now`).
    pub(crate) now: Option<i64>,
    pub(crate) source_flags: SourceArgs,
}

impl ServeSettings {
    pub(crate) fn resolve(args: &ServeArgs) -> Result<ServeSettings, CanaryError> {
        let usage = CanaryError::Usage;
        let secret = if args.insecure_no_auth {
            if !args.listen.ip().is_loopback() {
                return Err(usage(format!(
                    "--insecure-no-auth is only allowed on a loopback address, not {}: set a secret in ${} or --secret-file",
                    args.listen, args.secret_env
                )));
            }
            None
        } else {
            let origin = match &args.secret_file {
                Some(path) => SecretRef::file(path),
                None => SecretRef::Env(args.secret_env.clone()),
            };
            let secret = origin
                .read(Kind::Signing { what: "the serve secret file" })
                .map_err(usage)?
                .ok_or_else(|| {
                    usage(format!(
                        "no secret for the callers: set {} (or pass --secret-file); --insecure-no-auth serves without one on loopback only",
                        origin.origin()
                    ))
                })?;
            // Trimmed as the file is: a variable filled from a file keeps its newline.
            let secret = Secret::from_origin(secret.expose().trim().to_string(), origin.origin());
            if secret.expose().chars().count() < MIN_SECRET_CHARS {
                return Err(usage(format!(
                    "the secret in {} is shorter than {MIN_SECRET_CHARS} characters: use a random one (`openssl rand -hex 32`)",
                    origin.origin()
                )));
            }
            Some(secret)
        };
        Ok(ServeSettings {
            analyses_dir: args.analyses.clone(),
            listen: args.listen,
            secret,
            max_judgments: usize::from(args.max_judgments),
            max_connections: usize::from(args.max_connections),
            max_body_bytes: usize::try_from(args.max_body_size).unwrap_or(usize::MAX).min(16 * 1024 * 1024),
            deadline: std::time::Duration::from_secs(args.deadline.as_secs().max(1)),
            now: args.now,
            source_flags: args.source.clone(),
        })
    }
}

/// One served analysis: checked, with its source resolved (credentials read once per load).
#[derive(Debug)]
pub(crate) struct ServedAnalysis {
    pub(crate) path: PathBuf,
    pub(crate) analysis: Analysis,
    pub(crate) source: SourceSettings,
}

/// The analyses served, by name.
pub(crate) type Catalog = BTreeMap<String, Arc<ServedAnalysis>>;

/// Loads every `*.yaml` and `*.yml` file of `dir` (not its subdirectories): each must parse and
/// validate, resolve its source, and have a name no other file has (its variables may wait for
/// the request: an analysis without defaults is refused only a request that leaves one out). The first
/// problem is the error, naming the file: nothing is served from a directory with a bad file.
pub(crate) fn load_catalog(dir: &Path, flags: &SourceArgs) -> Result<Catalog, CanaryError> {
    let unreadable = |source| CanaryError::Unreadable { path: dir.to_path_buf(), source };
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(unreadable)? {
        let path = entry.map_err(unreadable)?.path();
        let is_yaml = path.extension().is_some_and(|ext| ext == "yaml" || ext == "yml");
        if is_yaml && path.is_file() {
            paths.push(path);
            if paths.len() > MAX_ANALYSES {
                return Err(CanaryError::Usage(format!(
                    "{}: more than {MAX_ANALYSES} analysis files: serve fewer from one directory",
                    dir.display()
                )));
            }
        }
    }
    if paths.is_empty() {
        return Err(CanaryError::Usage(format!("{}: no analysis files (*.yaml, *.yml)", dir.display())));
    }
    paths.sort();
    let mut catalog = Catalog::new();
    for path in paths {
        let analysis = Analysis::load(&path)?;
        let in_file = |error: CanaryError| CanaryError::Usage(format!("{}: {error}", path.display()));
        let source = SourceSettings::resolve(&analysis, flags).map_err(in_file)?;
        if let Some(other) = catalog.get(&analysis.name) {
            return Err(CanaryError::Usage(format!(
                "{}: the analysis name `{}` is already served from {}; names must be unique",
                path.display(),
                analysis.name,
                other.path.display()
            )));
        }
        catalog.insert(analysis.name.clone(), Arc::new(ServedAnalysis { path, analysis, source }));
    }
    Ok(catalog)
}
