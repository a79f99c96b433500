//! `canary judge ANALYSIS`: resolve the analysis and window, fetch every metric's series from the
//! source (recorded data with `--replay`), judge, and write the report in the requested formats.

use super::live;
use crate::actions::features;
use crate::actions::watchdog::{self, Watchdog};
use crate::actions::webhook;
use crate::cli::{JudgeArgs, JudgeFormat, RollbackArgs, WindowArgs};
use crate::config::template::{ResolvedSides, Side, render_metric, resolve_sides};
use crate::config::window::Window;
use crate::config::{Analysis, Duration};
use crate::error::{CanaryError, Verdict};
use crate::judge::report::{JudgmentReport, WebhookOutcome};
use crate::judge::sustained::Carry;
use crate::judge::{Context, MetricInput};
use crate::kayenta::judge;
use crate::report::{junit, markdown, table};
use crate::source::MetricSource;
use crate::source::http::Secret;
use crate::source::recorded::{RecordedSource, Recording};
use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::Path;

pub fn run(args: &JudgeArgs) -> Result<Verdict, CanaryError> {
    let mut analysis = Analysis::load(&args.analysis)?;
    if let Some(judge) = args.judge {
        analysis.judgment.judge = judge;
    }
    let overrides: BTreeMap<String, String> = args.vars.iter().cloned().collect();
    let sides = resolve_sides(&analysis, &overrides)?;
    let feature_actions = features::prepare(&analysis, &sides, &overrides, args.rollback.dry_run)?;
    // Resolved before any query, so that a missing secret stops the run before anything acts.
    let settings = rollback_settings(&analysis, &args.rollback)?;
    // With --state-dir: the lock (held until this function returns) and the signal thread.
    let watchdog = args.watchdog.state_dir.as_deref().map(|dir| Watchdog::start(dir, &analysis.name)).transpose()?;
    // The watchdog's last run may have left sustained-breach stretches running.
    let carries = watchdog.as_ref().map(|w| w.carries(&sides.canary)).transpose()?.unwrap_or_default();
    // The deadline covers the whole run, fetching and judging: a judgment that runs away ends
    // "could not judge" (exit 4) at --timeout.
    let deadline = std::time::Duration::from_secs(args.source.timeout.as_secs().max(1));
    let (replay, analysis_path, window_flags, source_flags) =
        (args.replay.clone(), args.analysis.clone(), args.window.clone(), args.source.clone());
    let (judged_analysis, judged_sides, judged_overrides) = (analysis.clone(), sides.clone(), overrides.clone());
    let report = live::within_deadline(deadline, move || {
        let (analysis, sides, overrides) = (judged_analysis, judged_sides, judged_overrides);
        match &replay {
            Some(replay) => {
                let source = RecordedSource::new(Recording::load(replay)?, replay);
                let window = replay_window(&analysis, source.recording(), &window_flags)?;
                check_recorded_offsets(&analysis, source.recording(), replay)?;
                if source.recording().analysis != analysis.name {
                    eprintln!(
                        "canary: warning: {} was recorded for analysis `{}`, not `{}`; judging it with {}",
                        replay.display(),
                        source.recording().analysis,
                        analysis.name,
                        analysis_path.display()
                    );
                }
                warn_about_changed_queries(&analysis, &source, &sides, &overrides, window.step_seconds);
                judge_source(&analysis, &source, window, &sides, &overrides, analysis.judgment.alpha, &carries)
            }
            None => {
                let source = live::open_source(&analysis, &source_flags)?;
                let window = live::live_window(&analysis, &window_flags, live::now())?;
                judge_source(&analysis, source.as_ref(), window, &sides, &overrides, analysis.judgment.alpha, &carries)
            }
        }
    })?;
    let mut report = report;
    // Failed features are turned off first; an action not delivered turns the verdict into fail.
    features::act(&mut report, &feature_actions, live::now());
    let on_inconclusive = settings.as_ref().is_some_and(|(_, on_inconclusive)| *on_inconclusive);
    let deliver = |report: &JudgmentReport| settings.as_ref().map(|(settings, _)| call_webhook(report, settings));
    match &watchdog {
        // The watchdog calls the webhook on the transition to fail only, and records the verdict.
        Some(watchdog) => watchdog.act(&mut report, on_inconclusive, args.rollback.dry_run, live::now(), deliver)?,
        None if watchdog::calls_webhook(report.verdict.into(), on_inconclusive) => report.rollback = deliver(&report),
        None => {}
    }
    write_reports(&report, args)?;
    if let Some(url) = &args.watchdog.ping_url
        && let Err(error) = watchdog::ping(url)
    {
        eprintln!("canary: warning: the heartbeat ping to {} failed: {error}", crate::source::http::redact_url(url));
    }
    Ok(report.verdict)
}

/// Sends the report to the rollback webhook; a failed delivery is loud on stderr.
fn call_webhook(report: &JudgmentReport, settings: &webhook::WebhookSettings) -> WebhookOutcome {
    let outcome = webhook::deliver(report, settings, live::now());
    if !outcome.delivered && !outcome.dry_run {
        eprintln!(
            "canary: ERROR: the rollback webhook {} was NOT delivered: {}",
            outcome.url,
            outcome.error.as_deref().unwrap_or("unknown error")
        );
    }
    outcome
}

/// The webhook to call, if any, and whether it also fires on inconclusive.
pub(crate) fn rollback_settings(
    analysis: &Analysis,
    flags: &RollbackArgs,
) -> Result<Option<(webhook::WebhookSettings, bool)>, CanaryError> {
    let config = analysis.rollback.as_ref();
    let Some(url) = flags.rollback_webhook.clone().or_else(|| config.map(|c| c.url.clone())) else {
        return Ok(None);
    };
    let usage = CanaryError::Usage;
    let secret = if let Some(secret) = std::env::var(webhook::SECRET_VARIABLE).ok().filter(|s| !s.is_empty()) {
        Some(secret)
    } else if let Some(path) = &flags.rollback_secret_file {
        Some(read_secret_file(&path.display().to_string())?)
    } else if let Some(name) = config.and_then(|c| c.secret_env.as_ref()) {
        match std::env::var(name).ok().filter(|s| !s.is_empty()) {
            Some(secret) => Some(secret),
            None if flags.dry_run => {
                eprintln!("canary: dry run: ${name} is not set, so the printed rollback request carries no signature");
                None
            }
            None => {
                return Err(usage(format!("the analysis reads the rollback secret from ${name}, but it is not set")));
            }
        }
    } else if let Some(path) = config.and_then(|c| c.secret_file.as_ref()) {
        Some(read_secret_file(path)?)
    } else {
        None
    };
    let settings = webhook::WebhookSettings {
        url,
        secret: secret.map(Secret::new),
        timeout: std::time::Duration::from_secs(config.map_or(10, |c| c.timeout.as_secs()).max(1)),
        retries: config.map_or(3, |c| c.retries),
        dry_run: flags.dry_run,
    };
    Ok(Some((settings, flags.rollback_on_inconclusive || config.is_some_and(|c| c.on_inconclusive))))
}

fn read_secret_file(path: &str) -> Result<String, CanaryError> {
    webhook::read_secret_file(Path::new(path), "the rollback secret file").map_err(CanaryError::Usage)
}

/// The window of a replay: the recording's, optionally narrowed by `--start`/`--end`, with the
/// warm-up from the flags or the analysis.
fn replay_window(analysis: &Analysis, recording: &Recording, flags: &WindowArgs) -> Result<Window, CanaryError> {
    let usage = CanaryError::Usage;
    if flags.last.is_some() {
        return Err(usage("--last cannot be combined with --replay: the window comes from the recording".into()));
    }
    let step = Duration::from_secs(recording.window.step_seconds);
    if let Some(requested) = flags.step
        && requested != step
    {
        return Err(usage(format!("--step {requested} differs from the recording's step {step}")));
    }
    let (recorded_start, recorded_end) = recording.bounds();
    let (start, end) = match (flags.start, flags.end) {
        (Some(start), Some(end)) if start >= recorded_start && end <= recorded_end => (start, end),
        (Some(_), Some(_)) => {
            return Err(usage(format!(
                "--start/--end must lie within the recorded window {} to {}",
                recording.window.start, recording.window.end
            )));
        }
        _ => (recorded_start, recorded_end),
    };
    let warmup = flags.warmup.unwrap_or(analysis.window.warmup);
    Window::between(start, end, step, warmup).map_err(usage)
}

/// A before/after baseline must have been recorded with the analysis's offset, or its points
/// would fall outside the window.
pub(crate) fn check_recorded_offsets(
    analysis: &Analysis,
    recording: &Recording,
    path: &Path,
) -> Result<(), CanaryError> {
    let wanted = analysis.baseline.offset.map(|o| o.as_secs());
    for (name, metric) in &recording.metrics {
        let recorded = metric.baseline.offset_seconds.filter(|&o| o > 0);
        if recorded != wanted.filter(|&o| o > 0) && analysis.metrics.iter().any(|m| m.name() == name) {
            let show = |o: Option<u64>| o.map_or("none".to_string(), |s| Duration::from_secs(s).to_string());
            return Err(CanaryError::Usage(format!(
                "{}: metric `{name}` was recorded with baseline offset {}, but the analysis asks for {}",
                path.display(),
                show(recorded),
                show(wanted)
            )));
        }
    }
    Ok(())
}

/// Tells the user when the analysis's queries no longer match what was recorded.
fn warn_about_changed_queries(
    analysis: &Analysis,
    source: &RecordedSource,
    sides: &ResolvedSides,
    overrides: &BTreeMap<String, String>,
    step_seconds: u64,
) {
    for metric in &analysis.metrics {
        for side in Side::BOTH {
            let Ok(queries) =
                render_metric(analysis, metric, side, sides, overrides, Duration::from_secs(step_seconds))
            else {
                continue;
            };
            for (role, query) in queries {
                if let Some(recorded) = source.recorded_query(metric.name(), side, role)
                    && recorded != query
                {
                    eprintln!(
                        "canary: warning: metric `{}`: the {} {} query differs from the recorded one; judging the recorded data\n  analysis: {query}\n  recorded: {recorded}",
                        metric.name(),
                        side.name(),
                        role.name()
                    );
                }
            }
        }
    }
}

/// Fetches every query of every metric for both sides and judges them at family-wise level
/// `alpha`, continuing the sustained-breach stretches in `carries` (from the watchdog's last run).
pub fn judge_source(
    analysis: &Analysis,
    source: &dyn MetricSource,
    window: Window,
    sides: &ResolvedSides,
    overrides: &BTreeMap<String, String>,
    alpha: f64,
    carries: &BTreeMap<String, Carry>,
) -> Result<JudgmentReport, CanaryError> {
    let fetched = live::fetch_everything(analysis, source, window, sides, overrides)?;
    let mut inputs: Vec<MetricInput<'_>> = analysis
        .metrics
        .iter()
        .map(|config| MetricInput { carries: carries.clone(), ..MetricInput::new(config) })
        .collect();
    for answer in fetched {
        let input = &mut inputs[answer.metric];
        input.queries.entry(answer.side).or_default().insert(answer.role, answer.query);
        match answer.side {
            Side::Baseline => input.baseline.insert(answer.role, answer.series),
            Side::Canary => input.canary.insert(answer.role, answer.series),
        };
    }
    let context = Context { window, point_time: source.point_time(), alpha };
    Ok(judge(analysis, inputs, &context, sides, source.description()))
}

fn write_reports(report: &JudgmentReport, args: &JudgeArgs) -> Result<(), CanaryError> {
    let stdout = std::io::stdout();
    let styled = stdout.is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let mut out = stdout.lock();
    // --quiet: nothing on stdout for a pass (cron mails whatever a job prints).
    if !(args.watchdog.quiet && report.verdict == Verdict::Pass) {
        CanaryError::stdout(render(report, args.format, &mut out, styled).and_then(|()| out.flush()))?;
    }
    for (format, path) in &args.outputs {
        write_file(path, |file| render(report, *format, file, false))?;
    }
    if let Some(summary) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|s| !s.is_empty()) {
        let path = Path::new(&summary);
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|source| CanaryError::Unwritable { path: path.to_path_buf(), source })?;
        markdown::write_markdown(report, &mut file).map_err(CanaryError::Output)?;
    }
    Ok(())
}

fn write_file(path: &Path, write: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>) -> Result<(), CanaryError> {
    let mut file =
        std::fs::File::create(path).map_err(|source| CanaryError::Unwritable { path: path.to_path_buf(), source })?;
    write(&mut file).and_then(|()| file.flush()).map_err(CanaryError::Output)
}

/// Writes `report` in `format`.
pub fn render(report: &JudgmentReport, format: JudgeFormat, out: &mut impl Write, styled: bool) -> std::io::Result<()> {
    match format {
        JudgeFormat::Table => table::write_table(report, out, styled),
        JudgeFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, report)?;
            writeln!(out)
        }
        JudgeFormat::Markdown => markdown::write_markdown(report, out),
        JudgeFormat::Junit => junit::write_junit(report, out),
    }
}
