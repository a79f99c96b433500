//! The judged window, resolved from the flags and the analysis: a live run's (`--last` or
//! `--start`/`--end`, a settled minute before now) or a replay's (the recording's, optionally
//! narrowed).

use crate::cli::WindowArgs;
use crate::config::Analysis;
use crate::error::CanaryError;
use crate::model::{Duration, window::Window};
use crate::source::recorded::Recording;

/// The newest minute is left out of live windows: its samples may not all have been scraped yet
/// (and VictoriaMetrics hides the last 30 s by default).
pub(crate) const SETTLE_SECONDS: i64 = 60;

/// The window of a live run: `--start`/`--end` aligned inward to the step, or the last
/// `--last` (or the analysis's `window.last`) ending a minute before `now`.
pub(crate) fn live_window(analysis: &Analysis, flags: &WindowArgs, now: i64) -> Result<Window, CanaryError> {
    let step = flags.step.unwrap_or(analysis.window.step);
    let warmup = flags.warmup.unwrap_or(analysis.window.warmup);
    let step_s = step.as_secs() as i64;
    if step_s == 0 {
        return Err(CanaryError::Usage("--step must be longer than 0s".into()));
    }
    let window = match (flags.start, flags.end) {
        (Some(start), Some(end)) => {
            let aligned_start =
                start.div_euclid(step_s) * step_s + if start.rem_euclid(step_s) == 0 { 0 } else { step_s };
            Window::between(aligned_start, end.div_euclid(step_s) * step_s, step, warmup)
        }
        _ => Window::last(now - SETTLE_SECONDS, flags.last.unwrap_or(analysis.window.last), step, warmup),
    };
    window.map_err(CanaryError::Usage)
}

/// The window of a replay: the recording's, optionally narrowed by `--start`/`--end`, with the
/// warm-up from the flags or the analysis.
pub(crate) fn replay_window(
    analysis: &Analysis,
    recording: &Recording,
    flags: &WindowArgs,
) -> Result<Window, CanaryError> {
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
