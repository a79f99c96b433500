//! `canary watch ANALYSIS --lifetime 1h --interval 5m`: judge a canary again and again over its
//! lifetime, stopping at the first fail (the rollback webhook fires once) and ending with the last
//! verdict otherwise.
//!
//! Repeated looks at growing data would give noise many chances to cross a fixed threshold, so each
//! look gets a share of the analysis's `alpha` by O'Brien-Fleming-type alpha spending
//! ([`crate::stats::sequential`]): over the whole lifetime the chance of a false fail stays at most
//! `alpha`. Information time is the share of the judged lifetime seen so far. Each look fetches
//! only the points it has not seen before ([`IncrementalSource`]).

use super::judge::{check_recorded_offsets, judge_source, rollback_settings};
use super::live;
use crate::actions::{features, webhook};
use crate::cli::{WatchArgs, WatchFormat};
use crate::config::Analysis;
use crate::config::template::resolve_sides;
use crate::config::window::{Window, format_timestamp};
use crate::error::{CanaryError, Verdict};
use crate::judge::report::{Classification, JudgmentReport};
use crate::report::number::{p_value, plain};
use crate::source::MetricSource;
use crate::source::incremental::IncrementalSource;
use crate::source::recorded::{RecordedSource, Recording};
use crate::stats::sequential::look_level;
use std::collections::BTreeMap;
use std::io::Write;

/// One planned look.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Look {
    /// When it is judged (end of its window).
    at: i64,
    window: Window,
    /// Its share of alpha.
    alpha: f64,
}

/// The looks of a lifetime: every `interval` after the warm-up, and one at the end.
fn plan(start: i64, args: &WatchArgs, analysis: &Analysis) -> Result<Vec<Look>, CanaryError> {
    let usage = CanaryError::Usage;
    let step = args.step.unwrap_or(analysis.window.step);
    let warmup = args.warmup.unwrap_or(analysis.window.warmup).as_secs() as i64;
    let (step_s, interval, lifetime) =
        (step.as_secs() as i64, args.interval.as_secs() as i64, args.lifetime.as_secs() as i64);
    if step_s == 0 || interval == 0 {
        return Err(usage("--step and --interval must be longer than 0s".into()));
    }
    if interval < step_s {
        return Err(usage(format!("--interval {} is shorter than the step {step}", args.interval)));
    }
    let judged_from = start + warmup;
    let end = start + lifetime;
    if end <= judged_from + step_s {
        return Err(usage(format!("--lifetime {} leaves nothing to judge after the warm-up", args.lifetime)));
    }
    let mut times: Vec<i64> = (1..).map(|k| judged_from + k * interval).take_while(|&t| t < end).collect();
    times.push(end);
    let span = (end - judged_from) as f64;
    let mut previous = 0.0;
    let mut looks = Vec::with_capacity(times.len());
    for at in times {
        let aligned = at.div_euclid(step_s) * step_s;
        let window_start = match args.lookback {
            Some(lookback) => (aligned - lookback.as_secs() as i64).max(judged_from),
            None => judged_from,
        };
        let information = (at - judged_from) as f64 / span;
        let window = Window::between(window_start, aligned, step, crate::config::Duration::default()).map_err(usage)?;
        looks.push(Look { at, window, alpha: look_level(analysis.judgment.alpha, previous, information) });
        previous = information;
    }
    Ok(looks)
}

pub fn run(args: &WatchArgs) -> Result<Verdict, CanaryError> {
    let analysis = Analysis::load(&args.analysis)?;
    let overrides: BTreeMap<String, String> = args.vars.iter().cloned().collect();
    let sides = resolve_sides(&analysis, &overrides)?;
    let feature_actions = features::prepare(&analysis, &sides, &overrides, args.rollback.dry_run)?;
    // Features turned off at an earlier look: their actions are not called again.
    let mut turned_off: BTreeMap<String, crate::judge::report::WebhookOutcome> = BTreeMap::new();
    let (source, recorded_start): (Box<dyn MetricSource>, Option<i64>) = match &args.replay {
        Some(path) => {
            let recording = Recording::load(path)?;
            check_recorded_offsets(&analysis, &recording, path)?;
            let start = recording.bounds().0;
            (Box::new(RecordedSource::new(recording, path)), Some(start))
        }
        None => (live::open_source(&analysis, &args.source)?, None),
    };
    // A fixed clock (or recorded data) runs the looks back to back; otherwise each waits for its time.
    let simulated = args.now.is_some() || recorded_start.is_some();
    let start = args.now.or(recorded_start).unwrap_or_else(live::now);
    let looks = plan(start, args, &analysis)?;
    // Resolved before any query, so that a missing secret stops the run before anything acts.
    let rollback = rollback_settings(&analysis, &args.rollback)?;
    let incremental = IncrementalSource::new(source.as_ref());
    let mut out = Events::new(args.format);
    out.start(&analysis, start, &looks)?;
    let mut last: Option<JudgmentReport> = None;
    for (index, look) in looks.iter().enumerate() {
        if !simulated {
            wait_until(look.at + live::SETTLE_SECONDS);
        }
        let mut report =
            judge_source(&analysis, &incremental, look.window, &sides, &overrides, look.alpha, &BTreeMap::new())?;
        let pending: Vec<features::FeatureAction> =
            feature_actions.iter().filter(|a| !turned_off.contains_key(&a.feature)).cloned().collect();
        features::act(&mut report, &pending, live::now());
        for feature in &mut report.features {
            match (&feature.action, turned_off.get(&feature.feature)) {
                (None, Some(earlier)) if feature.failed => feature.action = Some(earlier.clone()),
                (Some(outcome), None) if outcome.delivered || outcome.dry_run => {
                    turned_off.insert(feature.feature.clone(), outcome.clone());
                }
                _ => {}
            }
        }
        if report.verdict == Verdict::Pass && !turned_off.is_empty() {
            let names: Vec<&str> = turned_off.keys().map(String::as_str).collect();
            report.verdict = Verdict::FeatureOff;
            report.reason =
                format!("{}; feature(s) turned off at an earlier look: {}", report.reason, names.join(", "));
        }
        let stop = report.verdict == Verdict::Fail;
        let last_look = index + 1 == looks.len();
        let inconclusive_end = last_look && report.verdict == Verdict::Inconclusive;
        if let Some((settings, on_inconclusive)) = &rollback
            && (stop || (inconclusive_end && *on_inconclusive))
        {
            let outcome = webhook::deliver(&report, settings, live::now());
            if !outcome.delivered && !outcome.dry_run {
                eprintln!(
                    "canary: ERROR: the rollback webhook {} was NOT delivered: {}",
                    outcome.url,
                    outcome.error.as_deref().unwrap_or("unknown error")
                );
            }
            report.rollback = Some(outcome);
        }
        out.look(index + 1, looks.len(), look, &report, incremental.points_fetched())?;
        last = Some(report);
        if stop {
            break;
        }
    }
    let report = last.expect("a plan has at least one look");
    out.finish(&report)?;
    Ok(report.verdict)
}

fn wait_until(time: i64) {
    let now = live::now();
    if time > now {
        std::thread::sleep(std::time::Duration::from_secs((time - now) as u64));
    }
}

/// Progress output: a row per look, or one JSON event per line.
struct Events {
    format: WatchFormat,
    out: std::io::Stdout,
}

impl Events {
    fn new(format: WatchFormat) -> Events {
        Events { format, out: std::io::stdout() }
    }

    fn emit(&mut self, line: &str) -> Result<(), CanaryError> {
        let mut out = self.out.lock();
        CanaryError::stdout(writeln!(out, "{line}").and_then(|()| out.flush()))
    }

    fn start(&mut self, analysis: &Analysis, start: i64, looks: &[Look]) -> Result<(), CanaryError> {
        match self.format {
            WatchFormat::Json => {
                let event = serde_json::json!({
                    "event": "start",
                    "analysis": analysis.name,
                    "start": format_timestamp(start),
                    "looks": looks.iter().map(|l| serde_json::json!({
                        "at": format_timestamp(l.at), "alpha": l.alpha,
                    })).collect::<Vec<_>>(),
                    "alpha": analysis.judgment.alpha,
                });
                self.emit(&event.to_string())
            }
            WatchFormat::Table => {
                self.emit(&format!(
                    "watching `{}` from {} for {} looks (alpha {} spent O'Brien-Fleming style)\n",
                    analysis.name,
                    format_timestamp(start),
                    looks.len(),
                    plain(analysis.judgment.alpha)
                ))?;
                self.emit(&format!(
                    "{:>5}  {:<20}  {:<9}  {:>8}  {:<12}  {:>5}  failing / unjudged",
                    "look", "window end", "judged", "alpha", "verdict", "score"
                ))
            }
        }
    }

    fn look(
        &mut self,
        number: usize,
        total: usize,
        look: &Look,
        report: &JudgmentReport,
        fetched: usize,
    ) -> Result<(), CanaryError> {
        let failing: Vec<String> = report
            .metrics
            .iter()
            .filter(|m| m.classification != Classification::Pass)
            .map(|m| format!("{} ({})", m.name, m.classification.label()))
            .collect();
        match self.format {
            WatchFormat::Json => {
                let event = serde_json::json!({
                    "event": "look",
                    "look": number,
                    "looks": total,
                    "window": report.window,
                    "alpha": look.alpha,
                    "verdict": report.verdict,
                    "score": report.score,
                    "reason": report.reason,
                    "points_fetched": fetched,
                    "metrics": report.metrics.iter().map(|m| serde_json::json!({
                        "name": m.name, "classification": m.classification, "reason": m.reason,
                    })).collect::<Vec<_>>(),
                });
                self.emit(&event.to_string())
            }
            WatchFormat::Table => {
                let judged = crate::config::Duration::from_secs((look.window.end - look.window.start) as u64);
                let verdict = serde_json::to_value(report.verdict).unwrap_or_default();
                self.emit(&format!(
                    "{:>5}  {:<20}  {:<9}  {:>8}  {:<12}  {:>5}  {}",
                    format!("{number}/{total}"),
                    format_timestamp(look.window.end),
                    judged.to_string(),
                    p_value(look.alpha),
                    verdict.as_str().unwrap_or(""),
                    report.score.map_or("-".into(), plain),
                    failing.join(", ")
                ))
            }
        }
    }

    fn finish(&mut self, report: &JudgmentReport) -> Result<(), CanaryError> {
        match self.format {
            WatchFormat::Json => {
                let event = serde_json::json!({"event": "final", "verdict": report.verdict, "report": report});
                self.emit(&event.to_string())
            }
            WatchFormat::Table => {
                if let Some(line) = crate::report::table::rollback_text(report) {
                    self.emit(&format!("\n{line}"))?;
                }
                let verdict = serde_json::to_value(report.verdict).unwrap_or_default();
                self.emit(&format!(
                    "\nfinal verdict: {}: {}",
                    verdict.as_str().unwrap_or("").to_uppercase(),
                    report.reason
                ))
            }
        }
    }
}
