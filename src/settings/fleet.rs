//! The services of a many-analysis run (`canary judge a.yaml b.yaml`, `canary judge --fleet
//! fleet.yaml`), resolved once: each service's name, analysis, variables (checked exactly as
//! `--var` is) and sides. All services share one source, so the run uses one client.

use super::analysis::ResolvedAnalysis;
use crate::cli::{JudgeArgs, JudgeFormat, WatchArgs};
use crate::config::fleet::{self, FleetFile};
use crate::config::template::resolve_sides;
use crate::config::{Analysis, JudgeChoice};
use crate::error::CanaryError;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// One service of the run.
#[derive(Debug, Clone)]
pub(crate) struct FleetMember {
    /// Its name in the summary: the fleet file's `name`, or the analysis's name.
    pub(crate) name: String,
    pub(crate) path: PathBuf,
    pub(crate) resolved: ResolvedAnalysis,
    /// The variables set for this service (`--var`, then the fleet file's `vars`): the ones
    /// whose values may differ between services, and so the candidates for grouped queries.
    pub(crate) vars: BTreeMap<String, String>,
}

impl FleetMember {
    /// Its feature actions and rollback webhook, resolved before any query: a missing secret
    /// stops the run first, as it would for the analysis alone.
    pub(crate) fn actions(
        &self,
        flags: &crate::cli::RollbackArgs,
    ) -> Result<(Vec<crate::actions::features::FeatureAction>, Option<super::rollback::Rollback>), CanaryError> {
        let resolved = &self.resolved;
        let features =
            super::features::prepare(&resolved.analysis, &resolved.sides, &resolved.overrides, flags.dry_run)?;
        Ok((features, super::rollback::resolve(&resolved.analysis, flags)?))
    }
}

/// Refuses the flags a many-analysis run does not support, before reading anything.
pub(crate) fn check_flags(args: &JudgeArgs) -> Result<(), CanaryError> {
    let refuse = |what: &str| {
        Err(CanaryError::Usage(format!(
            "{what} is not supported when several analyses are judged in one run (--fleet or more than one ANALYSIS); run them one by one"
        )))
    };
    if args.services.fleet.is_some() && !args.services.analysis.is_empty() {
        return Err(CanaryError::Usage("give either ANALYSIS files or --fleet FILE, not both".into()));
    }
    if args.replay.is_some() {
        return refuse("--replay");
    }
    if args.watchdog.state_dir.is_some() {
        return refuse("--state-dir");
    }
    if args.format == JudgeFormat::Junit || args.outputs.iter().any(|(format, _)| *format == JudgeFormat::Junit) {
        return refuse("the junit format");
    }
    if args.services.analysis.len() > fleet::MAX_SERVICES {
        return Err(CanaryError::Usage(format!(
            "{} analyses given; at most {} are judged in one run",
            args.services.analysis.len(),
            fleet::MAX_SERVICES
        )));
    }
    Ok(())
}

/// What names the services of a run, as `judge` and `watch` take it: ANALYSIS files or a fleet
/// file, the `--var` values every service starts from, and `--judge`.
pub(crate) struct ServiceFiles<'a> {
    pub(crate) analysis: &'a [PathBuf],
    pub(crate) fleet: Option<&'a Path>,
    pub(crate) vars: &'a [(String, String)],
    pub(crate) judge: Option<JudgeChoice>,
}

impl<'a> ServiceFiles<'a> {
    /// The services named on the command line (ANALYSIS…, --fleet, --var), judged by `judge`.
    pub(crate) fn new(services: &'a crate::cli::ServicesArgs, judge: Option<JudgeChoice>) -> ServiceFiles<'a> {
        ServiceFiles { analysis: &services.analysis, fleet: services.fleet.as_deref(), vars: &services.vars, judge }
    }
}

/// Refuses the flags `watch` with several analyses does not support, before reading anything;
/// `Ok(true)` when the run watches several analyses (or a fleet file), `Ok(false)` for one.
pub(crate) fn check_watch_flags(args: &WatchArgs) -> Result<bool, CanaryError> {
    if args.services.fleet.is_some() && !args.services.analysis.is_empty() {
        return Err(CanaryError::Usage("give either ANALYSIS files or --fleet FILE, not both".into()));
    }
    let several = args.services.fleet.is_some() || args.services.analysis.len() > 1;
    if several && args.replay.is_some() {
        return Err(CanaryError::Usage(
            "--replay watches one recording of one analysis; with --fleet or more than one ANALYSIS, run one `canary watch ANALYSIS --replay FILE` per recording".into(),
        ));
    }
    if args.services.analysis.len() > fleet::MAX_SERVICES {
        return Err(CanaryError::Usage(format!(
            "{} analyses given; at most {} are watched in one run",
            args.services.analysis.len(),
            fleet::MAX_SERVICES
        )));
    }
    Ok(several)
}

/// Resolves every service of the run: the fleet file's, or one per ANALYSIS (named by the
/// analysis's `name`, each with the `--var` values).
pub(crate) fn resolve(args: &JudgeArgs) -> Result<Vec<FleetMember>, CanaryError> {
    resolve_services(&ServiceFiles::new(&args.services, args.judge))
}

/// [`resolve`] for any command that names its services with [`ServiceFiles`].
pub(crate) fn resolve_services(args: &ServiceFiles<'_>) -> Result<Vec<FleetMember>, CanaryError> {
    let globals: BTreeMap<String, String> = args.vars.iter().cloned().collect();
    // Each analysis file is read and checked once, however many services use it.
    let mut loaded = BTreeMap::new();
    let members = match args.fleet {
        Some(path) => {
            let file = FleetFile::load(path)?;
            let dir = path.parent().unwrap_or(Path::new("."));
            file.services
                .iter()
                .map(|service| {
                    let mut vars = globals.clone();
                    vars.extend(service.vars.clone());
                    let analysis = service.analysis_path(dir);
                    member(service.name.clone(), &analysis, vars, args.judge, &mut loaded).map_err(|error| {
                        CanaryError::Usage(format!("{}: service `{}`: {error}", path.display(), service.name))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?
        }
        None => {
            let mut names = BTreeSet::new();
            let mut members = Vec::new();
            for path in args.analysis {
                let member = member(String::new(), path, globals.clone(), args.judge, &mut loaded)?;
                let name = member.resolved.analysis.name.clone();
                if !names.insert(name.clone()) {
                    return Err(CanaryError::Usage(format!(
                        "{}: another analysis of this run is also named `{name}`; give each service its own name with --fleet",
                        path.display()
                    )));
                }
                members.push(FleetMember { name, ..member });
            }
            members
        }
    };
    check_one_source(&members)?;
    Ok(members)
}

fn member(
    name: String,
    path: &Path,
    vars: BTreeMap<String, String>,
    judge: Option<JudgeChoice>,
    loaded: &mut BTreeMap<PathBuf, Analysis>,
) -> Result<FleetMember, CanaryError> {
    let analysis = match loaded.get(path) {
        Some(analysis) => analysis.clone(),
        None => {
            let mut analysis = Analysis::load(path)?;
            if let Some(judge) = judge {
                analysis.judgment.judge = judge;
            }
            loaded.insert(path.to_path_buf(), analysis.clone());
            analysis
        }
    };
    // The variables checked exactly as `--var` values are.
    let sides = resolve_sides(&analysis, &vars)?;
    let resolved = ResolvedAnalysis { analysis, overrides: vars.clone(), sides };
    Ok(FleetMember { name, path: path.to_path_buf(), resolved, vars })
}

/// One run, one client: every analysis must name the same source.
fn check_one_source(members: &[FleetMember]) -> Result<(), CanaryError> {
    let Some(first) = members.first() else {
        return Err(CanaryError::Usage("no analysis to judge".into()));
    };
    for other in &members[1..] {
        if other.resolved.analysis.source != first.resolved.analysis.source {
            return Err(CanaryError::Usage(format!(
                "{}: its `source` differs from that of {}; the analyses of one run share one source (judge them in separate runs)",
                other.path.display(),
                first.path.display()
            )));
        }
    }
    Ok(())
}
