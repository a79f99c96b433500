//! The looks of a watch, one round at a time: a round is every service with a look at that time
//! (one analysis: its one look). The round's queries are fetched together, in one `fetch_all` of
//! the incremental source (one per step, [`super::fetching::ByStep`]), under one deadline; each
//! service is then judged on its own answers exactly as alone ([`super::service`]) and goes on,
//! or ends, on its own.

use super::events::Events;
use super::fetching::{ByStep, Grouping, Served};
use super::service::{Shared, Watched};
use super::several;
use super::stopping::Stopping;
use crate::cli::{WatchArgs, WatchLooks};
use crate::commands::fleet_plan::in_parallel;
use crate::commands::judging::{LookInput, PlannedQuery, judge_source, plan_queries, sequential_look};
use crate::error::CanaryError;
use crate::judge::report::JudgmentReport;
use crate::judge::sequential::SequenceResult;
use crate::model::window::format_timestamp;
use crate::report::watch::WatchRound;
use crate::settings::analysis::ResolvedAnalysis;
use crate::settings::deadline;
use crate::source::{MetricSource, QueryRequest};
use std::collections::BTreeMap;

/// How the rounds run.
pub(super) struct Rounds<'a> {
    pub(super) args: &'a WatchArgs,
    pub(super) shared: &'a Shared,
    /// A fixed clock (or recorded data): the looks run back to back.
    pub(super) simulated: bool,
    /// Several analyses: below the incremental source, the grouping that counts backend queries.
    pub(super) grouping: Option<&'a Grouping<'a>>,
    /// What a signal or a round past its deadline prints: kept up to date after every round.
    pub(super) stopping: &'a Stopping,
}

/// Runs every service's looks until each service's watch has ended. With one analysis, an error
/// at a look ends the run with it, as it always has; with several, it ends that service's watch
/// only. Returns each round's backend queries (several analyses).
pub(super) fn watch(
    services: &mut [Watched],
    incremental: &ByStep<'_>,
    rounds: &Rounds<'_>,
    out: &mut Events,
) -> Result<Vec<WatchRound>, CanaryError> {
    let Rounds { args, shared, simulated, grouping, stopping } = *rounds;
    let several = grouping.is_some();
    let sequential = args.looks == WatchLooks::Sequential;
    let mut done = Vec::new();
    if several {
        *stopping.lock() = Some(several::interrupted(services, &done, shared.start, out));
    }
    while let Some(at) = services.iter().filter_map(Watched::next_look).map(|look| look.at).min() {
        if !simulated {
            wait_until(at + args.settle.as_secs() as i64);
        }
        let due: Vec<usize> =
            (0..services.len()).filter(|&i| services[i].next_look().is_some_and(|look| look.at == at)).collect();
        let what = if several {
            format!("the looks at {}", format_timestamp(at))
        } else {
            format!("look {}", services[0].next + 1)
        };
        let before = grouping.map_or(0, Grouping::backend_queries);
        // `--timeout` bounds each round, fetching and judging, as it bounds a whole `judge` run.
        // Past it, the services due at this round end "could not judge" (as one alone would);
        // those already ended keep their outcome.
        let limit = deadline::run_deadline(&args.source);
        let round_deadline = if several {
            let error = deadline::timed_out(&what, limit, "the services due at it could not be judged");
            let timed_out = several::stopped(services, &due, &done, shared.start, out, &error.to_string());
            let stopping = stopping.clone();
            let on_timeout = move || {
                // Held until the process ends: a signal now prints nothing more.
                let _stop = stopping.lock();
                let code = timed_out.print(&error);
                deadline::report_timeout(error);
                code
            };
            deadline::exit_unless_done_within(limit, on_timeout)
        } else {
            let error = deadline::timed_out(&what, limit, "nothing was judged");
            let stopping = stopping.clone();
            deadline::exit_unless_done_within(limit, move || {
                // As for several: a timeout and a signal never both print or both set the code.
                let _stop = stopping.lock();
                deadline::report_timeout(error)
            })
        };
        let results = judge_due(services, &due, incremental, sequential);
        drop(round_deadline);
        for revision in incremental.take_revisions() {
            eprintln!("canary: note: {what}: {revision}");
        }
        // A signal waits for the round's conclusion (its webhook deliveries) to finish.
        let mut stop = stopping.lock();
        for (&index, result) in due.iter().zip(results) {
            let service = &mut services[index];
            match result {
                Ok((report, sequences)) => {
                    service.conclude(report, sequences, incremental.points_fetched(), shared, out)?;
                }
                Err(error) if several => service.fail(error, out)?,
                Err(error) => return Err(error),
            }
        }
        let backend_queries = grouping.map_or(0, Grouping::backend_queries) - before;
        done.push(WatchRound { at: format_timestamp(at), services: due.len(), backend_queries });
        if several {
            *stop = Some(several::interrupted(services, &done, shared.start, out));
        }
    }
    Ok(done)
}

type LookResult = Result<(JudgmentReport, Option<Vec<SequenceResult>>), CanaryError>;

/// Fetches the next look of every service in `due` together, then judges each on its answers.
fn judge_due(services: &[Watched], due: &[usize], incremental: &ByStep<'_>, sequential: bool) -> Vec<LookResult> {
    let plans: Vec<Result<Vec<PlannedQuery>, CanaryError>> = due
        .iter()
        .map(|&index| {
            let service = &services[index];
            let ResolvedAnalysis { analysis, overrides, sides } = &service.resolved;
            plan_queries(analysis, service.looks[service.next].window, sides, overrides)
        })
        .collect();
    let mut requests: Vec<QueryRequest<'_>> = Vec::new();
    for (&index, plan) in due.iter().zip(&plans) {
        if let Ok(plan) = plan {
            requests.extend(plan.iter().map(|query| query.request(&services[index].resolved.analysis)));
        }
    }
    let answers = incremental.fetch_all(&requests);
    let served = Served::new(incremental.inner(), &requests, answers);
    // Judging is pure and the services independent: they are judged on every core.
    let jobs: Vec<(usize, Result<Vec<PlannedQuery>, CanaryError>)> = due.iter().copied().zip(plans).collect();
    in_parallel(jobs, |(index, plan)| {
        plan?;
        judge_one(&services[index], &served, sequential)
    })
}

/// Judges a service's next look on `source`, as a watch of its analysis alone does.
fn judge_one(service: &Watched, source: &dyn MetricSource, sequential: bool) -> LookResult {
    let look = &service.looks[service.next];
    let ResolvedAnalysis { analysis, overrides, sides } = &service.resolved;
    if sequential {
        let input = LookInput { analysis, source, window: look.window, sides, overrides, alpha: look.alpha };
        let (report, sequences) = sequential_look(&input)?;
        Ok((report, Some(sequences)))
    } else {
        Ok((judge_source(analysis, source, look.window, sides, overrides, look.alpha, &BTreeMap::new())?, None))
    }
}

fn wait_until(time: i64) {
    let now = crate::model::clock::now();
    if time > now {
        std::thread::sleep(std::time::Duration::from_secs((time - now) as u64));
    }
}
