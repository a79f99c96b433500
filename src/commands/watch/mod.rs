//! `canary watch ANALYSIS --lifetime 1h --interval 5m`: judge a canary again and again over its
//! lifetime, stopping at the first fail (the rollback webhook fires once) and ending with the last
//! verdict otherwise.
//!
//! Repeated looks at growing data would give noise many chances to cross a fixed threshold. With
//! `--looks sequential` every look judges everything since the warm-up with always-valid
//! tests ([`crate::judge::sequential`]: confidence sequences whose level holds however often one
//! looks), so looks may be as frequent as the data; `--promote-early` stops with pass as soon as
//! every metric's sequence rules out a regression beyond its margin. With `--looks fixed` (the
//! default) each look gets a share of the analysis's `alpha` by O'Brien-Fleming-type alpha spending
//! ([`crate::stats::sequential`]); information time is the share of the judged lifetime seen so
//! far. Either way the chance of a false fail over the whole lifetime stays at most `alpha`. Each
//! look fetches only the points it has not seen before and the last few it has again, for late
//! samples, said on stderr when they changed ([`crate::source::incremental::IncrementalSource`],
//! one per step). What each look prints is in [`events`]; what a look's report does to its service
//! is in [`service`], the looks run round by round in [`rounds`]. Several analyses (or `--fleet`)
//! are watched in one run by [`several`].

mod events;
mod fetching;
mod rounds;
mod service;
mod several;
mod stopping;

use super::judging::check_recorded_offsets;
use crate::cli::{WatchArgs, WatchLooks};
use crate::config::{Analysis, JudgeChoice};
use crate::error::CanaryError;
use crate::judge::report::{Classification, JudgmentReport, TestOutcome};
use crate::model::{
    Verdict, clock,
    number::p_value,
    window::{Window, align_down, align_up, format_timestamp},
};
use crate::settings::analysis::ResolvedAnalysis;
use crate::settings::{self, rollback, source::open_source};
use crate::source::MetricSource;
use crate::source::recorded::{RecordedSource, Recording};
use crate::stats::sequential::look_level;
use events::Events;
use service::{Ended, Shared, Watched};

/// One planned look.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Look {
    /// When it is judged (end of its window).
    pub(super) at: i64,
    pub(super) window: Window,
    /// Its share of alpha.
    pub(super) alpha: f64,
}

/// The looks of a lifetime, and where they stop.
#[derive(Debug)]
struct Plan {
    looks: Vec<Look>,
    /// The end of the recorded data, when it comes before the end of the lifetime: no look
    /// reaches past it, and the run cannot pass (the rest of the lifetime was never seen).
    cut_at_data_end: Option<i64>,
}

/// The looks of a lifetime: every `interval` after the warm-up, and one at the end.
///
/// Every window starts and ends on the step's grid (multiples of the step since the Unix
/// epoch), whatever the start time: a real-time start is almost never on the grid, and a window
/// starting off it would put its first points on another grid than the later, incremental
/// fetches. With recorded data (`data_end`), no look reaches past the recording's end.
fn plan(start: i64, args: &WatchArgs, analysis: &Analysis, data_end: Option<i64>) -> Result<Plan, CanaryError> {
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
    if args.looks == WatchLooks::Sequential && args.lookback.is_some() {
        return Err(usage(
            "--lookback judges a sliding window, which the always-valid tests of --looks sequential do not: they count everything since the warm-up; use --looks fixed with --lookback".into(),
        ));
    }
    if args.looks == WatchLooks::Fixed && args.promote_early {
        return Err(usage("--promote-early needs --looks sequential".into()));
    }
    // The always-valid tests replace the default judge's tests: Kayenta's classifications and
    // score, the verdict such an analysis asks for, would silently be dropped.
    if args.looks == WatchLooks::Sequential && analysis.judgment.judge == JudgeChoice::Kayenta {
        return Err(usage(
            "the analysis is judged by Kayenta (`judgment.judge: kayenta`), which the always-valid tests of --looks sequential do not replace: watch it with --looks fixed".into(),
        ));
    }
    if let Some(lookback) = args.lookback
        && (lookback.as_secs() as i64) < step_s
    {
        return Err(usage(format!("--lookback {lookback} is shorter than the step {step}: no window to judge")));
    }
    let warm_from = start + warmup;
    let judged_from = align_up(warm_from, step_s);
    let lifetime_end = start + lifetime;
    let cut_at_data_end = data_end.filter(|&data_end| data_end < lifetime_end);
    let end = cut_at_data_end.unwrap_or(lifetime_end);
    if align_down(end, step_s) < judged_from + step_s {
        return Err(usage(match cut_at_data_end {
            Some(data_end) => format!(
                "the recording ends at {}, leaving nothing to judge after the warm-up (judged from {})",
                format_timestamp(data_end),
                format_timestamp(judged_from)
            ),
            None => format!("--lifetime {} leaves nothing to judge after the warm-up", args.lifetime),
        }));
    }
    let mut times: Vec<i64> = (1..).map(|k| warm_from + k * interval).take_while(|&t| t < end).collect();
    times.push(end);
    // Information time is measured against the whole lifetime, also when the data stops early:
    // a cut run spends less than its alpha (fewer false fails), never more.
    let span = (lifetime_end - warm_from) as f64;
    let mut looks: Vec<Look> = Vec::with_capacity(times.len());
    // Information time reached before each planned look (the first look starts from 0).
    let mut informations: Vec<f64> = Vec::with_capacity(times.len());
    for at in times {
        let window_end = align_down(at, step_s);
        let window_start = match args.lookback {
            Some(lookback) => align_up(window_end - lookback.as_secs() as i64, step_s).max(judged_from),
            None => judged_from,
        };
        if window_end <= window_start {
            // Not one whole step yet: the next look judges these points.
            continue;
        }
        if looks.last().is_some_and(|l| l.window.end == window_end) {
            // The same window again (the end is less than a step after the last look): this
            // look replaces that one and spends its share too.
            looks.pop();
            informations.pop();
        }
        let previous = informations.last().copied().unwrap_or(0.0);
        let information = ((at - warm_from) as f64 / span).min(1.0);
        let window =
            Window::between(window_start, window_end, step, crate::model::Duration::default()).map_err(usage)?;
        looks.push(Look { at, window, alpha: look_level(analysis.judgment.alpha, previous, information) });
        informations.push(information);
    }
    if looks.is_empty() {
        return Err(usage(format!(
            "--lifetime {} with --interval {} leaves no whole step of {step} to judge",
            args.lifetime, args.interval
        )));
    }
    if args.looks == WatchLooks::Sequential {
        // Always-valid tests: every look at the full alpha.
        for look in &mut looks {
            look.alpha = analysis.judgment.alpha;
        }
    }
    Ok(Plan { looks, cut_at_data_end })
}

pub fn run(args: &WatchArgs) -> Result<Verdict, CanaryError> {
    if settings::fleet::check_watch_flags(args)? {
        return several::run(args);
    }
    let path = &args.services.analysis[0];
    let resolved = ResolvedAnalysis::load(path, &args.services.vars, None)?;
    let feature_actions =
        settings::features::prepare(&resolved.analysis, &resolved.sides, &resolved.overrides, args.rollback.dry_run)?;
    let analysis = &resolved.analysis;
    let (source, recorded_bounds): (Box<dyn MetricSource>, Option<(i64, i64)>) = match &args.replay {
        Some(path) => {
            let recording = Recording::load(path)?;
            check_recorded_offsets(analysis, &recording, path)?;
            let bounds = recording.bounds();
            (Box::new(RecordedSource::new(recording, path)), Some(bounds))
        }
        None => (open_source(analysis, &args.source)?, None),
    };
    let recorded_start = recorded_bounds.map(|(start, _)| start);
    // A fixed clock (or recorded data) runs the looks back to back; otherwise each waits for its time.
    let simulated = args.now.is_some() || recorded_start.is_some();
    let start = args.now.or(recorded_start).unwrap_or_else(clock::now);
    let Plan { looks, cut_at_data_end } = plan(start, args, analysis, recorded_bounds.map(|(_, end)| end))?;
    if let Some(data_end) = cut_at_data_end {
        eprintln!(
            "canary: WARNING: the recording ends at {}, before the lifetime ({} from {}): looks stop there and the run cannot pass; pass --lifetime to watch the recorded time only",
            format_timestamp(data_end),
            args.lifetime,
            format_timestamp(start)
        );
    }
    // Resolved before any query, so that a missing secret stops the run before anything acts.
    let rollback = rollback::resolve(analysis, &args.rollback)?;
    let incremental = fetching::ByStep::new(source.as_ref());
    let mut out = Events::new(args.format, None);
    out.start(analysis, start, &looks, args.looks, None)?;
    let file = path.display().to_string();
    let mut service = Watched::new(None, file, resolved, feature_actions, (looks, cut_at_data_end));
    service.rollback = rollback;
    let mut services = [service];
    let shared = Shared { promote_early: args.promote_early, lifetime: args.lifetime, start };
    let stopping = stopping::Stopping::watch_signals();
    let how = rounds::Rounds { args, shared: &shared, simulated, grouping: None, stopping: &stopping };
    rounds::watch(&mut services, &incremental, &how, &mut out)?;
    let [service] = services;
    match service.ended {
        Some(Ended::Judged(report)) => Ok(report.verdict),
        Some(Ended::Failed(error)) => Err(error),
        None => unreachable!("a watch ends every service it starts"),
    }
}

/// An early look spends a tiny share of alpha, at which a test may not run at all. A metric that
/// passed without any test or threshold having run is no evidence: the look is inconclusive, not
/// a pass, and says which metrics were not judged (the judge's own rule, enforced here again
/// because a watch's early looks are where it is tested hardest).
pub(crate) fn refuse_a_pass_without_evidence(report: &mut JudgmentReport, alpha: f64) {
    if report.verdict != Verdict::Pass {
        return;
    }
    let unjudged: Vec<&str> = report
        .metrics
        .iter()
        .filter(|m| {
            m.classification == Classification::Pass && m.tests.iter().all(|t| t.outcome == TestOutcome::Skipped)
        })
        .map(|m| m.name.as_str())
        .collect();
    if unjudged.is_empty() {
        return;
    }
    report.verdict = Verdict::Inconclusive;
    report.reason = format!(
        "no test ran for {} at this look's alpha {}: a metric passes only when a test or threshold judged it; {}",
        unjudged.join(", "),
        p_value(alpha),
        report.reason
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn args(extra: &[&str]) -> WatchArgs {
        // The planned looks' alphas are those of the O'Brien-Fleming mode.
        let cli = crate::cli::Cli::try_parse_from(
            [&["canary", "watch", "analyses/checkout.yaml", "--looks", "fixed"], extra].concat(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        match cli.command {
            crate::cli::Command::Watch(args) => args,
            _ => unreachable!("a watch command"),
        }
    }

    fn checkout() -> Analysis {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("analyses/checkout.yaml");
        Analysis::load(&path).unwrap_or_else(|e| panic!("{e}"))
    }

    const ON_GRID: i64 = 1_795_168_800; // 2026-11-20T10:00:00Z

    /// A real-time start is off the step's grid: every window still starts and ends on it, so the
    /// first look's points and every later incremental fetch line up.
    #[test]
    fn windows_start_and_end_on_the_steps_grid_whatever_the_start() {
        let analysis = checkout();
        for lookback in [None, Some("7m")] {
            let mut flags = vec!["--lifetime", "30m", "--interval", "5m", "--warmup", "5m"];
            if let Some(lookback) = lookback {
                flags.extend(["--lookback", lookback]);
            }
            let start = ON_GRID + 37;
            let Plan { looks, cut_at_data_end } = plan(start, &args(&flags), &analysis, None).unwrap();
            assert_eq!(cut_at_data_end, None);
            assert_eq!(looks.len(), 5);
            for look in &looks {
                assert_eq!(look.window.start % 60, 0, "{look:?}");
                assert_eq!(look.window.end % 60, 0, "{look:?}");
                assert!(look.window.start >= start + 300, "judged during the warm-up: {look:?}");
                assert!(look.window.end <= look.at, "judged data from after the look: {look:?}");
            }
            assert_eq!(looks[0].window.start, ON_GRID + 360);
            assert_eq!(looks.last().unwrap().window.end, ON_GRID + 1800);
            let spent: f64 = looks.iter().map(|l| l.alpha).sum();
            assert!((spent - analysis.judgment.alpha).abs() < 1e-12, "{spent}");
        }
    }

    /// A last look less than a step after the one before judges the same window: it replaces that
    /// look instead of judging the same points twice, and the whole alpha is still spent.
    #[test]
    fn a_look_on_the_same_window_as_the_one_before_replaces_it() {
        let analysis = checkout();
        let flags = ["--lifetime", "30m", "--interval", "5m", "--warmup", "5m", "--step", "1m"];
        let Plan { looks, .. } = plan(ON_GRID - 290, &args(&flags), &analysis, None).unwrap();
        let ends: Vec<i64> = looks.iter().map(|l| l.window.end).collect();
        let mut unique = ends.clone();
        unique.dedup();
        assert_eq!(ends, unique, "{looks:?}");
        let spent: f64 = looks.iter().map(|l| l.alpha).sum();
        assert!((spent - analysis.judgment.alpha).abs() < 1e-12, "{spent}");
    }

    /// Recorded data that ends before the lifetime: no look reaches past it.
    #[test]
    fn looks_stop_at_the_end_of_the_recorded_data() {
        let analysis = checkout();
        let flags = ["--lifetime", "1h", "--interval", "5m"];
        let data_end = ON_GRID + 1800;
        let Plan { looks, cut_at_data_end } = plan(ON_GRID, &args(&flags), &analysis, Some(data_end)).unwrap();
        assert_eq!(cut_at_data_end, Some(data_end));
        assert!(looks.iter().all(|l| l.window.end <= data_end), "{looks:?}");
        assert_eq!(looks.last().unwrap().window.end, data_end);
        // A recording as long as the lifetime is not cut.
        let Plan { cut_at_data_end, .. } =
            plan(ON_GRID, &args(&["--lifetime", "30m"]), &analysis, Some(data_end)).unwrap();
        assert_eq!(cut_at_data_end, None);
        // One that ends within the warm-up leaves nothing to judge.
        let error = plan(ON_GRID, &args(&flags), &analysis, Some(ON_GRID + 300)).unwrap_err();
        assert!(error.to_string().contains("the recording ends at"), "{error}");
    }

    proptest::proptest! {
        /// Whatever the start, step, interval, lifetime, warm-up, lookback and end of the data:
        /// every window lies on the step's grid, after the warm-up and before its look, the data's
        /// end and the lifetime's end; windows move forward; at most alpha is spent, all of it when
        /// the data covers the lifetime.
        #[test]
        fn every_window_is_on_the_grid_inside_the_judged_time(
            offset in 0i64..3600,
            step in proptest::sample::select(vec![1u64, 10, 15, 60, 300]),
            interval_steps in 1u64..20,
            lifetime in 60u64..20_000,
            warmup in 0u64..1200,
            lookback in proptest::option::of(1u64..5000),
            data_length in proptest::option::of(0i64..20_000),
        ) {
            let analysis = checkout();
            let (interval, lifetime_text, warmup_text) =
                (format!("{}s", interval_steps * step), format!("{lifetime}s"), format!("{warmup}s"));
            let step_text = format!("{step}s");
            let lookback_text = lookback.map(|l| format!("{l}s"));
            let mut flags = vec!["--step", &step_text, "--interval", &interval, "--lifetime", &lifetime_text];
            flags.extend(["--warmup", &warmup_text]);
            if let Some(lookback) = &lookback_text {
                flags.extend(["--lookback", lookback]);
            }
            let start = ON_GRID + offset;
            let data_end = data_length.map(|length| start + length);
            let Ok(Plan { looks, cut_at_data_end }) = plan(start, &args(&flags), &analysis, data_end) else {
                return Ok(());
            };
            let step = step as i64;
            let end = start + lifetime as i64;
            proptest::prop_assert!(!looks.is_empty());
            for look in &looks {
                let window = look.window;
                proptest::prop_assert!(window.start % step == 0 && window.end % step == 0, "{look:?}");
                proptest::prop_assert!(window.start >= start + warmup as i64, "{look:?}");
                proptest::prop_assert!(window.end <= look.at && window.end <= end, "{look:?}");
                proptest::prop_assert!(data_end.is_none_or(|data_end| window.end <= data_end), "{look:?}");
                proptest::prop_assert!(window.start < window.end, "{look:?}");
            }
            proptest::prop_assert!(looks.windows(2).all(|w| w[0].window.end < w[1].window.end), "{looks:?}");
            let spent: f64 = looks.iter().map(|l| l.alpha).sum();
            let alpha = analysis.judgment.alpha;
            proptest::prop_assert!(spent <= alpha * (1.0 + 1e-9), "{spent}");
            if cut_at_data_end.is_none() {
                proptest::prop_assert!((spent - alpha).abs() < 1e-9 * alpha + 1e-15, "{spent}");
            }
        }
    }
}
