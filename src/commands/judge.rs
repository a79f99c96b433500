//! `canary judge ANALYSIS`: resolve the analysis and window, fetch every metric's series from the
//! source (recorded data with `--replay`), judge, and write the report in the requested formats.

use super::judging::{call_rollback_webhook, check_recorded_offsets, judge_source, warn_about_changed_queries};
use crate::actions::features;
use crate::actions::watchdog::sequence::Looks;
use crate::actions::watchdog::{self, Watchdog};
use crate::cli::{JudgeArgs, JudgeFormat};
use crate::error::CanaryError;
use crate::judge::report::JudgmentReport;
use crate::model::{Verdict, clock};
use crate::report::{Page, junit, markdown, table};
use crate::settings::analysis::ResolvedAnalysis;
use crate::settings::{self, deadline, rollback, source::open_source, window};
use crate::source::MetricSource;
use crate::source::recorded::{RecordedSource, Recording};
use std::io::Write;
use std::path::Path;

pub fn run(args: &JudgeArgs) -> Result<Verdict, CanaryError> {
    // Several analyses, or a fleet file: one run for all of them.
    let [analysis_path] = args.services.analysis.as_slice() else { return super::fleet::run(args) };
    if args.services.fleet.is_some() {
        return super::fleet::run(args);
    }
    let ResolvedAnalysis { analysis, overrides, sides } =
        ResolvedAnalysis::load(analysis_path, &args.services.vars, args.judge)?;
    let feature_actions = settings::features::prepare(&analysis, &sides, &overrides, args.rollback.dry_run)?;
    // Resolved before any query, so that a missing secret stops the run before anything acts.
    let rollback = rollback::resolve(&analysis, &args.rollback)?;
    // With --state-dir: the lock (held until this function returns) and the signal thread.
    let watchdog = args.watchdog.state_dir.as_deref().map(|dir| Watchdog::start(dir, &analysis.name)).transpose()?;
    // The watchdog's last run may have left sustained-breach stretches running, and the points
    // (and with --looks sequential the always-valid sequence) it continues from.
    let watchdog::LastRun { trailing: carries, carried } =
        watchdog.as_ref().map(|w| w.carried(&sides.canary, clock::now())).transpose()?.unwrap_or_default();
    let looks = args.watchdog.looks.map_or(Looks::Window, Looks::from);
    let sequential = looks == Looks::Sequential;
    if sequential && analysis.judgment.judge != crate::config::JudgeChoice::Default {
        return Err(CanaryError::Usage(
            "--looks sequential judges with the always-valid tests of the default judge; it cannot be combined with the Kayenta-compatible judge (--judge or judgment.judge)".into(),
        ));
    }
    // A replay is read whole anyway: its windows are judged as without state, and only a
    // sequential watchdog carries its sequence (the recording growing from run to run).
    let continuing =
        watchdog.as_ref().filter(|_| sequential || args.replay.is_none()).map(|_| super::watchdog::Continuing {
            looks,
            explicit_start: args.replay.is_some() || args.window.start.is_some(),
            carried,
            reuse_points: args.replay.is_none(),
        });
    // The deadline covers the whole run, fetching and judging: a judgment that runs away ends
    // "could not judge" (exit 4) at --timeout.
    let deadline = deadline::run_deadline(&args.source);
    let (replay, analysis_path, window_flags, source_flags) =
        (args.replay.clone(), analysis_path.clone(), args.window.clone(), args.source.clone());
    let (judged_analysis, judged_sides, judged_overrides) = (analysis.clone(), sides.clone(), overrides.clone());
    let (report, kept) = deadline::within_deadline(deadline, move || {
        let (analysis, sides, overrides) = (judged_analysis, judged_sides, judged_overrides);
        let (source, window): (Box<dyn MetricSource>, _) = match &replay {
            Some(replay) => {
                let source = RecordedSource::new(Recording::load(replay)?, replay);
                let window = window::replay_window(&analysis, source.recording(), &window_flags)?;
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
                (Box::new(source), window)
            }
            None => {
                (open_source(&analysis, &source_flags)?, window::live_window(&analysis, &window_flags, clock::now())?)
            }
        };
        match continuing {
            Some(continuing) => {
                let (report, kept) = super::watchdog::judge_run(
                    &analysis,
                    source.as_ref(),
                    window,
                    &sides,
                    &overrides,
                    &carries,
                    continuing,
                )?;
                Ok((report, Some(kept)))
            }
            None => {
                let alpha = analysis.judgment.alpha;
                Ok((judge_source(&analysis, source.as_ref(), window, &sides, &overrides, alpha, &carries)?, None))
            }
        }
    })?;
    if let (Some(watchdog), Some(kept)) = (&watchdog, kept) {
        watchdog.keep(kept);
    }
    let mut report = report;
    // A sequential watchdog judges since the sequence's start, not the last `--last`.
    if args.replay.is_none() && args.window.start.is_none() && !sequential {
        report.last_seconds = Some(args.window.last.unwrap_or(analysis.window.last).as_secs());
    }
    // Failed features are turned off first; an action not delivered turns the verdict into fail.
    features::act(&mut report, &feature_actions, clock::now());
    let on_inconclusive = rollback.as_ref().is_some_and(|rollback| rollback.on_inconclusive);
    let deliver = |report: &JudgmentReport| rollback.as_ref().map(|r| call_rollback_webhook(report, &r.webhook));
    match &watchdog {
        // The watchdog calls the webhook on the transition to fail only, and records the verdict.
        Some(watchdog) => watchdog.act(&mut report, on_inconclusive, args.rollback.dry_run, clock::now(), deliver)?,
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

fn write_reports(report: &JudgmentReport, args: &JudgeArgs) -> Result<(), CanaryError> {
    let page = settings::output::get().page();
    let mut out = std::io::stdout().lock();
    // --quiet: nothing on stdout for a pass (cron mails whatever a job prints).
    if !(args.watchdog.quiet && report.verdict == Verdict::Pass) {
        CanaryError::stdout(render(report, args.format, &mut out, page).and_then(|()| out.flush()))?;
    }
    // Files are laid out the same on every machine: plain, at the default width.
    for (format, path) in &args.outputs {
        write_file(path, |file| render(report, *format, file, Page::plain(settings::output::DEFAULT_WIDTH)))?;
    }
    append_step_summary(|file| markdown::write_markdown(report, file))
}

/// Appends Markdown to the file named by `GITHUB_STEP_SUMMARY`, when it is set.
pub(crate) fn append_step_summary(
    write: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) -> Result<(), CanaryError> {
    if let Some(summary) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|s| !s.is_empty()) {
        let path = Path::new(&summary);
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|source| CanaryError::Unwritable { path: path.to_path_buf(), source })?;
        write(&mut file).map_err(CanaryError::Output)?;
    }
    Ok(())
}

pub(crate) fn write_file(
    path: &Path,
    write: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> std::io::Result<()>,
) -> Result<(), CanaryError> {
    let file =
        std::fs::File::create(path).map_err(|source| CanaryError::Unwritable { path: path.to_path_buf(), source })?;
    // Buffered: a renderer writes piece by piece, each an unbuffered write to the file otherwise.
    let mut file = std::io::BufWriter::new(file);
    write(&mut file).and_then(|()| file.flush()).map_err(CanaryError::Output)
}

/// Writes `report` in `format`.
pub fn render(report: &JudgmentReport, format: JudgeFormat, out: &mut impl Write, page: Page) -> std::io::Result<()> {
    match format {
        JudgeFormat::Table => table::write_table(report, out, page),
        JudgeFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, report)?;
            writeln!(out)
        }
        JudgeFormat::Markdown => markdown::write_markdown(report, out),
        JudgeFormat::Junit => junit::write_junit(report, out),
    }
}
