//! Fleet files (`canary judge --fleet fleet.yaml`): the services judged together in one run, each
//! an analysis file and the variables that select it. Parsed strictly (unknown keys and wrong
//! types are errors naming file, line and column) and bounded: at most [`MAX_SERVICES`] services
//! with unique names of at most [`MAX_NAME_CHARS`] characters, at most [`MAX_VARS`] variables
//! each; each variable's value is checked later, against its analysis, exactly as `--var` is.
//!
//! ```yaml
//! version: 1
//! services:
//!   - name: checkout
//!     analysis: analyses/http.yaml   # relative to the fleet file
//!     vars: {deployment: checkout}
//! ```

use super::ConfigError;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The most services one fleet file may list.
pub const MAX_SERVICES: usize = 1000;
/// The longest service name.
pub const MAX_NAME_CHARS: usize = 64;
/// The most variables one service may set.
pub const MAX_VARS: usize = 32;
/// The largest fleet file read.
pub const MAX_FLEET_BYTES: u64 = 1 << 20;
/// The longest analysis path.
const MAX_PATH_CHARS: usize = 4096;

/// A fleet file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetFile {
    /// Format version: 1.
    pub version: u32,
    pub services: Vec<FleetService>,
}

/// One service of a fleet.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetService {
    /// Unique name, shown in the summary: letters, digits and `_ . -`.
    pub name: String,
    /// The analysis file, relative to the fleet file's directory (or absolute).
    pub analysis: String,
    /// Template variables for this service, as `--var` would set them.
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
}

impl FleetFile {
    /// Reads and checks the fleet file at `path`.
    pub fn load(path: &Path) -> Result<FleetFile, ConfigError> {
        use crate::input::{ReadLimitError, read_text_limited};
        let text = read_text_limited(path, MAX_FLEET_BYTES).map_err(|error| match error {
            ReadLimitError::Io(source) => ConfigError::Unreadable { path: path.to_path_buf(), source },
            other => ConfigError::Invalid { path: path.to_path_buf(), message: format!("not a fleet file: {other}") },
        })?;
        FleetFile::parse(&text, path)
    }

    /// Parses and checks fleet text; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<FleetFile, ConfigError> {
        let fleet: FleetFile =
            serde_saphyr::from_str(text).map_err(|error| ConfigError::from_yaml(&error, text, path))?;
        let invalid = |message: String| ConfigError::Invalid { path: path.to_path_buf(), message };
        if fleet.version != 1 {
            return Err(invalid(format!("version: {} is not supported (expected 1)", fleet.version)));
        }
        if fleet.services.is_empty() || fleet.services.len() > MAX_SERVICES {
            return Err(invalid(format!(
                "services: {} listed; a fleet lists 1 to {MAX_SERVICES} services",
                fleet.services.len()
            )));
        }
        let mut names = BTreeSet::new();
        for (index, service) in fleet.services.iter().enumerate() {
            let place = format!("services[{index}]");
            let shown = crate::input::excerpt_of(&service.name, MAX_NAME_CHARS);
            if !is_service_name(&service.name) {
                return Err(invalid(format!(
                    "{place}.name: `{shown}` is not a service name (1 to {MAX_NAME_CHARS} letters, digits, `_`, `.` or `-`)"
                )));
            }
            if !names.insert(service.name.as_str()) {
                return Err(invalid(format!("{place}.name: `{shown}` is listed twice (service names are unique)")));
            }
            if service.analysis.is_empty()
                || service.analysis.chars().count() > MAX_PATH_CHARS
                || service.analysis.chars().any(char::is_control)
            {
                return Err(invalid(format!(
                    "{place}.analysis (service `{shown}`): expected the path of an analysis file, at most {MAX_PATH_CHARS} characters"
                )));
            }
            if service.vars.len() > MAX_VARS {
                return Err(invalid(format!(
                    "{place}.vars (service `{shown}`): {} variables; at most {MAX_VARS}",
                    service.vars.len()
                )));
            }
        }
        Ok(fleet)
    }
}

impl FleetService {
    /// The analysis file's path: relative paths are taken from `fleet_dir`.
    pub fn analysis_path(&self, fleet_dir: &Path) -> PathBuf {
        fleet_dir.join(&self.analysis)
    }
}

/// Whether `name` is a service name: 1 to [`MAX_NAME_CHARS`] of letters, digits, `_ . -`.
pub fn is_service_name(name: &str) -> bool {
    (1..=MAX_NAME_CHARS).contains(&name.chars().count())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<FleetFile, String> {
        FleetFile::parse(text, Path::new("fleet.yaml")).map_err(|e| e.to_string())
    }

    #[test]
    fn parses_services_with_their_variables() {
        let fleet = parse(
            "version: 1\nservices:\n  - name: checkout\n    analysis: a.yaml\n    vars: {deployment: checkout}\n  - name: cart\n    analysis: /x/a.yaml\n",
        )
        .unwrap();
        assert_eq!(fleet.services.len(), 2);
        assert_eq!(fleet.services[0].vars["deployment"], "checkout");
        assert_eq!(fleet.services[0].analysis_path(Path::new("/fleets")), Path::new("/fleets/a.yaml"));
        assert_eq!(fleet.services[1].analysis_path(Path::new("/fleets")), Path::new("/x/a.yaml"));
    }

    #[test]
    fn refuses_unknown_keys_duplicates_bad_names_and_empty_fleets() {
        let cases = [
            ("version: 1\nservices:\n  - name: a\n    analysis: a.yaml\n    var: {}\n", "fleet.yaml:5"),
            (
                "version: 1\nservices:\n  - {name: a, analysis: a.yaml}\n  - {name: a, analysis: b.yaml}\n",
                "listed twice",
            ),
            ("version: 1\nservices:\n  - {name: 'a b', analysis: a.yaml}\n", "not a service name"),
            ("version: 1\nservices: []\n", "1 to 1000 services"),
            ("version: 2\nservices: []\n", "not supported"),
            ("version: 1\nservices:\n  - {name: a, analysis: ''}\n", "services[0].analysis"),
        ];
        for (text, expected) in cases {
            let error = parse(text).unwrap_err();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }
}
