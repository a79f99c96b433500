//! `canary watch a.yaml b.yaml …` and `canary watch --fleet fleet.yaml`: several services watched
//! in one process, with one client and the fleet file of `judge --fleet` (`settings::fleet`).
//! Every round of looks fetches the still-running services' new points together, queries of one
//! shape grouped as the fleet judge groups them (`commands::fleet_plan`, [`super::fetching`]), so
//! that backend requests per look grow with distinct query shapes, not with services. Each
//! service is watched as alone: its own looks, its own stop at its first fail (its webhook once),
//! its promotion or its last look; a service whose look cannot be judged ends "could not judge"
//! and never ends another's watch. The run ends when every service has; the exit code is the
//! worst outcome, in `report::fleet`'s order.

use super::events::Events;
use super::fetching::{ByStep, Grouping};
use super::plan;
use super::rounds::{self, Rounds};
use super::service::{Ended, Shared, Watched};
use super::stopping::{Snapshot, Stopping};
use crate::cli::WatchArgs;
use crate::commands::fleet_plan::{ShapeCache, plan_service, recogniser, varying_variables};
use crate::error::CanaryError;
use crate::model::{Verdict, clock, window::format_timestamp};
use crate::report::fleet::{outcome_word, severity};
use crate::report::watch::{WatchRound, WatchSummary, WatchedService};
use crate::settings::fleet::{FleetMember, ServiceFiles, resolve_services};
use crate::settings::source::open_source;
use crate::source::grouping::GroupableShape;
use std::collections::{BTreeSet, HashMap};

pub(super) fn run(args: &WatchArgs) -> Result<Verdict, CanaryError> {
    let files = ServiceFiles::new(&args.services, None);
    let members = resolve_services(&files)?;
    let simulated = args.now.is_some();
    let start = args.now.unwrap_or_else(clock::now);
    // Every service's plan, features and webhook resolved before any query, as for one analysis.
    let mut services = Vec::with_capacity(members.len());
    for member in &members {
        let named = |error: CanaryError| CanaryError::Usage(format!("service `{}`: {error}", member.name));
        let resolved = member.resolved.clone();
        let plan = plan(start, args, &resolved.analysis, None).map_err(named)?;
        let (features, rollback) = member.actions(&args.rollback)?;
        let file = member.path.display().to_string();
        let mut service =
            Watched::new(Some(member.name.clone()), file, resolved, features, (plan.looks, plan.cut_at_data_end));
        service.rollback = rollback;
        services.push(service);
    }
    let source = open_source(&members[0].resolved.analysis, &args.source)?;
    let grouping = Grouping::new(source.as_ref(), shapes(&members, &services), args.source.max_series);
    let incremental = ByStep::new(&grouping);
    let names: Vec<&str> = members.iter().map(|m| m.name.as_str()).collect();
    let mut out = Events::new(args.format, Some(&names));
    for service in &services {
        out.start(&service.resolved.analysis, start, &service.looks, args.looks, service.name.as_deref())?;
    }
    out.header()?;
    let shared = Shared { promote_early: args.promote_early, lifetime: args.lifetime, start };
    let stopping = Stopping::watch_signals();
    let how = Rounds { args, shared: &shared, simulated, grouping: Some(&grouping), stopping: &stopping };
    let done = rounds::watch(&mut services, &incremental, &how, &mut out)?;
    // Held to the end: a signal now prints no other summary.
    let mut stop = stopping.lock();
    *stop = None;
    let summary = summary(&services, done, start, None);
    out.summary(&summary)?;
    let worst = services.into_iter().filter_map(|service| service.ended).max_by_key(|ended| severity(exit_code(ended)));
    match worst {
        Some(Ended::Judged(report)) => Ok(report.verdict),
        Some(Ended::Failed(error)) => Err(error),
        None => Err(CanaryError::Usage("no service to watch".into())),
    }
}

fn exit_code(ended: &Ended) -> u8 {
    match ended {
        Ended::Judged(report) => report.verdict.exit_code(),
        Ended::Failed(error) => error.exit_code(),
    }
}

/// Each groupable query's shape and its service's value, by query text: from each service's
/// queries over its first look's window (a query's text does not depend on the window).
fn shapes(members: &[FleetMember], services: &[Watched]) -> HashMap<String, (GroupableShape, String)> {
    let Some(recognise) = recogniser(members[0].resolved.analysis.source.as_ref()) else { return HashMap::new() };
    let varying: BTreeSet<String> = varying_variables(members);
    let cache = ShapeCache::default();
    let mut shapes = HashMap::new();
    for (member, service) in members.iter().zip(services) {
        let Some(first) = service.looks.first() else { continue };
        // A service whose queries cannot be rendered is refused at its first look, as alone.
        let Ok(plan) = plan_service(member, first.window, (&varying, recognise), &cache) else { continue };
        for (query, shape) in plan.planned.into_iter().zip(plan.shapes) {
            if let Some(shape) = shape {
                shapes.entry(query.query).or_insert(shape);
            }
        }
    }
    shapes
}

/// What a signal prints between or during rounds: every service still watched ends "could not
/// judge" at its next look ([`super::stopping`]).
pub(super) fn interrupted(services: &[Watched], done: &[WatchRound], start: i64, out: &Events) -> Snapshot {
    let running: Vec<usize> = (0..services.len()).filter(|&i| services[i].ended.is_none()).collect();
    stopped(services, &running, done, start, out, super::stopping::INTERRUPTED)
}

/// What a stop prints (a signal, or a round past its deadline): the services of `ended` (still
/// watched) end "could not judge" at their next look, for `why` (an error event each), the others
/// keep their outcome; then the summary of the rounds `done`, whose exit code is the worst outcome.
/// Prepared by the main thread, printed by the one that ends the run.
pub(super) fn stopped(
    services: &[Watched],
    ended: &[usize],
    done: &[WatchRound],
    start: i64,
    out: &Events,
    why: &str,
) -> Snapshot {
    let running = ended.iter().map(|&i| (services[i].name.clone().unwrap_or_default(), services[i].next + 1)).collect();
    Snapshot { running, summary: summary(services, done.to_vec(), start, Some((ended, why))), out: out.again() }
}

/// Each service's outcome: the look that decided it and its verdict or error; `timed_out`: the
/// services due at a round that passed its deadline, and the deadline's error.
fn summary(
    services: &[Watched],
    rounds: Vec<WatchRound>,
    start: i64,
    timed_out: Option<(&[usize], &str)>,
) -> WatchSummary {
    let mut watched = Vec::with_capacity(services.len());
    for (index, service) in services.iter().enumerate() {
        let (code, failing, error) = match (&service.ended, timed_out) {
            (Some(Ended::Judged(report)), _) => {
                let failing = report.metrics.iter().filter(|m| m.classification.is_fail()).map(|m| m.name.clone());
                (report.verdict.exit_code(), failing.collect(), None)
            }
            (Some(Ended::Failed(error)), _) => (error.exit_code(), Vec::new(), Some(error.to_string())),
            (None, Some((due, error))) if due.contains(&index) => {
                (crate::error::exit_code::COULD_NOT_JUDGE, Vec::new(), Some(error.to_string()))
            }
            (None, Some((_, error))) => (
                crate::error::exit_code::COULD_NOT_JUDGE,
                Vec::new(),
                Some(format!("not judged: the run ended, {error}")),
            ),
            (None, None) => (crate::error::exit_code::COULD_NOT_JUDGE, Vec::new(), Some("not judged".into())),
        };
        // A service that timed out is decided at the look it was due for.
        let look = if service.ended.is_none() && timed_out.is_some() { service.next + 1 } else { service.next.max(1) };
        let decided = service.looks.get(look - 1).map_or(start, |l| l.window.end);
        watched.push(WatchedService {
            name: service.name.clone().unwrap_or_default(),
            analysis_file: service.analysis_file.clone(),
            outcome: outcome_word(code),
            exit_code: code,
            look,
            looks: service.looks.len(),
            decided_at: format_timestamp(decided),
            minute: (decided - start) / 60,
            failing_metrics: failing,
            error,
        });
    }
    let worst = watched.iter().map(|s| s.exit_code).max_by_key(|code| severity(*code)).unwrap_or(0);
    WatchSummary {
        outcome: outcome_word(worst),
        exit_code: worst,
        backend_queries: rounds.iter().map(|r| r.backend_queries).sum(),
        rounds,
        services: watched,
    }
}
