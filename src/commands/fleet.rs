//! `canary judge a.yaml b.yaml` and `canary judge --fleet fleet.yaml`: many analyses judged in one
//! process with one client, one concurrency bound (one `fetch_all` for every service) and one
//! deadline. Queries of one shape that differ only in a service's label value are fetched once,
//! grouped (`source::grouping`); every service gets one report, the run a summary, and the exit
//! code is the worst outcome (`report::fleet`). Each service's rollback webhook and feature
//! actions act as they would if the service were judged alone.

use super::fleet_plan::{ServicePlan, ShapeCache, in_parallel, plan_service, recogniser, varying_variables};
use super::judge::{append_step_summary, write_file};
use super::judging::{call_rollback_webhook, check_answers, judge_fetched};
use crate::actions::{features, watchdog};
use crate::cli::{JudgeArgs, JudgeFormat, SourceArgs, WindowArgs};
use crate::error::CanaryError;
use crate::judge::Context;
use crate::judge::report::JudgmentReport;
use crate::model::{PointTime, SourceDescription, Verdict, clock};
use crate::report::Page;
use crate::report::fleet::{self, FleetReport, ServiceOutcome};
use crate::settings::fleet::{FleetMember, check_flags, resolve};
use crate::settings::{self, deadline, source::open_source, window};
use crate::source::SourceError;
use crate::source::grouping::{Wanted, fetch_grouped_within, groupable};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::sync::Arc;

pub fn run(args: &JudgeArgs) -> Result<Verdict, CanaryError> {
    check_flags(args)?;
    // Shared with the judgment's thread, not copied: a hundred analyses are a hundred clones.
    let members = Arc::new(resolve(args)?);
    // Resolved before any query, as for one analysis: a missing secret stops the run first.
    let mut actions = Vec::with_capacity(members.len());
    for member in members.iter() {
        actions.push(member.actions(&args.rollback)?);
    }
    let deadline = deadline::run_deadline(&args.source);
    let (window_flags, source_flags, judged_members) = (args.window.clone(), args.source.clone(), Arc::clone(&members));
    let (results, backend_queries) =
        deadline::within_deadline(deadline, move || judge_all(&judged_members, &source_flags, &window_flags))?;
    let mut services = Vec::with_capacity(members.len());
    for ((member, result), (feature_actions, rollback)) in members.iter().zip(results).zip(&actions) {
        let outcome = match result {
            Ok(mut report) => {
                features::act(&mut report, feature_actions, clock::now());
                let on_inconclusive = rollback.as_ref().is_some_and(|r| r.on_inconclusive);
                if let Some(rollback) = rollback
                    && watchdog::calls_webhook(report.verdict.into(), on_inconclusive)
                {
                    report.rollback = Some(call_rollback_webhook(&report, &rollback.webhook));
                }
                let failing = report.metrics.iter().filter(|m| m.classification.is_fail()).map(|m| m.name.clone());
                let code = report.verdict.exit_code();
                ServiceOutcome {
                    name: member.name.clone(),
                    analysis_file: member.path.display().to_string(),
                    outcome: fleet::outcome_word(code).into(),
                    exit_code: code,
                    failing_metrics: failing.collect(),
                    error: None,
                    report: Some(report),
                }
            }
            Err(error) => ServiceOutcome {
                name: member.name.clone(),
                analysis_file: member.path.display().to_string(),
                outcome: fleet::outcome_word(error.exit_code()).into(),
                exit_code: error.exit_code(),
                failing_metrics: Vec::new(),
                error: Some(error.to_string()),
                report: None,
            },
        };
        services.push(outcome);
    }
    let worst = services.iter().map(|s| s.exit_code).max_by_key(|code| fleet::severity(*code)).unwrap_or(0);
    let report = FleetReport {
        schema_version: 1,
        outcome: fleet::outcome_word(worst).into(),
        exit_code: worst,
        backend_queries,
        services,
    };
    write_reports(&report, args)?;
    if let Some(url) = &args.watchdog.ping_url
        && let Err(error) = watchdog::ping(url)
    {
        eprintln!("canary: warning: the heartbeat ping to {} failed: {error}", crate::source::http::redact_url(url));
    }
    outcome(&report)
}

/// The run's result: the worst verdict, or the worst service's error (with its exit code).
fn outcome(report: &FleetReport) -> Result<Verdict, CanaryError> {
    let worst = report.services.iter().find(|s| s.exit_code == report.exit_code);
    let why = |s: &ServiceOutcome| format!("service `{}`: {}", s.name, s.error.as_deref().unwrap_or(""));
    match (report.exit_code, worst) {
        (0, _) => Ok(Verdict::Pass),
        (1, _) => Ok(Verdict::Fail),
        (5, _) => Ok(Verdict::FeatureOff),
        (3, Some(service)) if service.error.is_none() => Ok(Verdict::Inconclusive),
        (3, Some(service)) => Err(CanaryError::NotEnoughData(why(service))),
        (2, Some(service)) => Err(CanaryError::Usage(why(service))),
        (_, Some(service)) => Err(CanaryError::Source(SourceError::Unavailable(why(service)))),
        (_, None) => Ok(Verdict::Inconclusive),
    }
}

/// Fetches every service's queries together and judges each service; returns the results in
/// service order and the number of queries sent to the backend.
fn judge_all(
    members: &[FleetMember],
    source_flags: &SourceArgs,
    window_flags: &WindowArgs,
) -> Result<(Vec<Result<JudgmentReport, CanaryError>>, usize), CanaryError> {
    let first = &members[0].resolved.analysis;
    let source = open_source(first, source_flags)?;
    let recognise = recogniser(first.source.as_ref());
    let now = clock::now();
    let varying = if recognise.is_some() { varying_variables(members) } else { BTreeSet::new() };
    let cache = ShapeCache::default();
    let plans: Vec<Result<ServicePlan, CanaryError>> = in_parallel(members.iter().collect(), |member| {
        let window = window::live_window(&member.resolved.analysis, window_flags, now)?;
        plan_service(member, window, (&varying, recognise.unwrap_or(groupable)), &cache)
    });
    let mut wanted = Vec::new();
    for (member, plan) in members.iter().zip(&plans) {
        if let Ok(plan) = plan {
            for (query, shape) in plan.planned.iter().zip(&plan.shapes) {
                let group = shape.as_ref().map(|(shape, value)| (shape, value.as_str()));
                wanted.push(Wanted { request: query.request(&member.resolved.analysis), group });
            }
        }
    }
    let fetched = fetch_grouped_within(source.as_ref(), &wanted, source_flags.max_series);
    drop(wanted);
    let mut answers = fetched.answers.into_iter();
    let jobs: Vec<(&FleetMember, Result<ServicePlan, CanaryError>, Vec<Answer>)> = members
        .iter()
        .zip(plans)
        .map(|(member, plan)| {
            let count = plan.as_ref().map_or(0, |plan| plan.planned.len());
            (member, plan, answers.by_ref().take(count).collect())
        })
        .collect();
    let (point_time, description) = (source.point_time(), source.description());
    // Judging is pure and the services independent: they are judged on every core.
    let results = in_parallel(jobs, |(member, plan, answers)| {
        judge_service(member, plan?, answers, point_time, description.clone())
    });
    Ok((results, fetched.backend_queries))
}

type Answer = Result<Vec<crate::model::Series>, SourceError>;

fn judge_service(
    member: &FleetMember,
    plan: ServicePlan,
    answers: Vec<Answer>,
    point_time: PointTime,
    description: SourceDescription,
) -> Result<JudgmentReport, CanaryError> {
    let analysis = &member.resolved.analysis;
    let fetched = check_answers(analysis, plan.planned, answers)?;
    let context = Context {
        window: plan.window,
        point_time,
        alpha: analysis.judgment.alpha,
        declared_drift: analysis.judgment.drift_fraction(),
    };
    Ok(judge_fetched(analysis, fetched, &context, &member.resolved.sides, description, &BTreeMap::new()))
}

fn write_reports(report: &FleetReport, args: &JudgeArgs) -> Result<(), CanaryError> {
    let page = settings::output::get().page();
    // Buffered: a hundred reports are tens of thousands of lines, each a write to a line-buffered
    // stdout otherwise.
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    if !(args.watchdog.quiet && report.exit_code == 0) {
        CanaryError::stdout(render(report, args.format, &mut out, page).and_then(|()| out.flush()))?;
    }
    for (format, path) in &args.outputs {
        write_file(path, |file| render(report, *format, file, Page::plain(settings::output::DEFAULT_WIDTH)))?;
    }
    append_step_summary(|file| fleet::write_markdown(report, file))
}

fn render(report: &FleetReport, format: JudgeFormat, out: &mut impl Write, page: Page) -> std::io::Result<()> {
    match format {
        JudgeFormat::Table => fleet::write_table(report, out, page),
        JudgeFormat::Json => fleet::write_json(report, out),
        JudgeFormat::Markdown => fleet::write_markdown(report, out),
        // Refused by `check_flags` before anything runs.
        JudgeFormat::Junit => Err(std::io::Error::other("the junit format is not supported for several analyses")),
    }
}
