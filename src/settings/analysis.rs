//! The analysis, resolved: the file loaded and checked, the `--var` values, the judge chosen on
//! the command line, and both sides' variables.

use crate::config::template::{ResolvedSides, resolve_sides};
use crate::config::{Analysis, JudgeChoice};
use crate::error::CanaryError;
use std::collections::BTreeMap;
use std::path::Path;

/// An analysis with its variables resolved, ready to render queries.
#[derive(Debug, Clone)]
pub(crate) struct ResolvedAnalysis {
    pub(crate) analysis: Analysis,
    /// The `--var` values.
    pub(crate) overrides: BTreeMap<String, String>,
    pub(crate) sides: ResolvedSides,
}

impl ResolvedAnalysis {
    /// Loads the analysis at `path`, with `--judge` (when given) overriding `judgment.judge`,
    /// and resolves both sides' variables with the `--var` values.
    pub(crate) fn load(
        path: &Path,
        vars: &[(String, String)],
        judge: Option<JudgeChoice>,
    ) -> Result<ResolvedAnalysis, CanaryError> {
        let mut analysis = Analysis::load(path)?;
        if let Some(judge) = judge {
            analysis.judgment.judge = judge;
        }
        let overrides: BTreeMap<String, String> = vars.iter().cloned().collect();
        let sides = resolve_sides(&analysis, &overrides)?;
        Ok(ResolvedAnalysis { analysis, overrides, sides })
    }
}
