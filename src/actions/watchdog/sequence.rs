//! What the cron watchdog keeps between runs to fetch only new points, and in `--looks
//! sequential` mode to continue one always-valid sequence across runs: per canary, the points
//! each query has fetched (from the sequence's start, or from the last window's start), the
//! sequence's start and the last interval consumed, the step, and a fingerprint of the analysis.
//!
//! The sequence functions of [`crate::stats::confidence_sequence`] take every paired interval
//! since the start (the drift estimate is not a running sum), so the state keeps the points the
//! intervals are made of: each run adds the new points and makes the same decision a `canary
//! watch --looks sequential` look at that time would make on the same data.
//!
//! Everything read here is hostile: [`parse`] checks the format and the version of canary that
//! wrote it, the counts (at most [`MAX_QUERIES`] queries, [`MAX_SERIES`] series each,
//! [`MAX_POINTS`] points in all, [`MAX_INTERVALS`] steps per sequence), the times (on the step's
//! grid, increasing, not in the future, inside the sequence) and the values (finite, counts at
//! least 0). Anything else is refused with the reason, and the caller starts afresh: a run never
//! passes on data it cannot trust.

use crate::config::Analysis;
use crate::model::{Point, QueryRole, Side, SourceDescription, window::format_timestamp};
use crate::source::incremental::KnownQuery;
use crate::source::points::MAX_COUNT;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};

/// Version of this part of the state file.
pub const SEQUENCE_FORMAT: u32 = 1;
/// Steps one sequence may hold (48 hours at a one-minute step); a longer one starts afresh.
pub const MAX_INTERVALS: i64 = 2880;
/// Queries kept per canary.
pub const MAX_QUERIES: usize = 256;
/// Series kept per query.
pub const MAX_SERIES: usize = 64;
/// Points kept per canary, in all (about 40 bytes each in the file).
pub const MAX_POINTS: usize = 300_000;
/// Runs one sequence may count (a run every second for 48 hours is about 173,000).
pub const MAX_RUNS: u64 = 1_000_000;
/// Clock skew allowed between the run that wrote the state and this one.
const SKEW_SECONDS: i64 = 300;

/// How the watchdog judges: the last window (`--looks window`, the default) or one always-valid
/// sequence carried across runs (`--looks sequential`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Looks {
    Window,
    Sequential,
}

/// What one canary's entry carries from run to run (validated).
#[derive(Debug, Clone, PartialEq)]
pub struct Carried {
    pub looks: Looks,
    pub fingerprint: String,
    pub step_seconds: u64,
    /// The sequence's start (sequential), or the last judged window's start.
    pub start: i64,
    /// The end of the last interval consumed.
    pub end: i64,
    /// Runs that added to this sequence (or window cache).
    pub runs: u64,
    pub known: Vec<KnownQuery>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Stored {
    format: u32,
    written_by: String,
    looks: Looks,
    fingerprint: String,
    step_seconds: u64,
    start: i64,
    end: i64,
    runs: u64,
    queries: Vec<StoredQuery>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredQuery {
    metric: String,
    side: Side,
    role: QueryRole,
    query: String,
    start: i64,
    end: i64,
    series: Vec<StoredSeries>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredSeries {
    #[serde(default)]
    labels: BTreeMap<String, String>,
    /// `[unix seconds, value]`; a value that is not finite is kept as null (read back as NaN).
    points: Vec<(i64, Option<f64>)>,
}

/// A fingerprint of what decides a judgment: the analysis's name, judgment settings, metrics
/// (queries, kinds, tests, margins, directions, thresholds), the baseline's offset, the rendered
/// queries of both sides, the source, the step and the mode. Any change starts a new sequence.
pub fn fingerprint(
    analysis: &Analysis,
    source: &SourceDescription,
    queries: impl Iterator<Item = (String, Side, QueryRole, String)>,
    step_seconds: u64,
    looks: Looks,
) -> String {
    let mut hasher = Sha256::new();
    hasher.update(format!("canary-watchdog-{SEQUENCE_FORMAT}\n{}\n{looks:?}\n{step_seconds}\n", analysis.name));
    // The source (its redacted URL, or the recording): points of another source are not reused.
    hasher.update(format!("{}\n{:?}\n{:?}\n", source.kind, source.url, source.replay));
    hasher.update(format!("{:?}\n{:?}\n{:?}\n", analysis.judgment, analysis.baseline.offset, analysis.metrics));
    for (metric, side, role, query) in queries {
        hasher.update(format!("{metric}\u{1f}{side:?}\u{1f}{role:?}\u{1f}{query}\n"));
    }
    hasher.finalize().iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// The stored form of `carried`, or why it is too large to keep (the next run then fetches
/// everything again).
pub fn to_value(carried: &Carried) -> Result<serde_json::Value, String> {
    let points: usize = carried.known.iter().flat_map(|q| &q.series).map(|(_, p)| p.len()).sum();
    let series = carried.known.iter().map(|q| q.series.len()).max().unwrap_or(0);
    if carried.known.len() > MAX_QUERIES || series > MAX_SERIES || points > MAX_POINTS {
        return Err(format!(
            "{} queries, up to {series} series each and {points} points exceed what the state keeps ({MAX_QUERIES} \
             queries, {MAX_SERIES} series each, {MAX_POINTS} points)",
            carried.known.len()
        ));
    }
    let steps = (carried.end - carried.start) / carried.step_seconds.max(1) as i64;
    if steps > MAX_INTERVALS {
        return Err(format!("{steps} steps exceed the {MAX_INTERVALS} steps the state keeps"));
    }
    let stored = Stored {
        format: SEQUENCE_FORMAT,
        written_by: env!("CARGO_PKG_VERSION").to_string(),
        looks: carried.looks,
        fingerprint: carried.fingerprint.clone(),
        step_seconds: carried.step_seconds,
        start: carried.start,
        end: carried.end,
        runs: carried.runs,
        queries: carried
            .known
            .iter()
            .map(|q| StoredQuery {
                metric: q.metric.clone(),
                side: q.side,
                role: q.role,
                query: q.query.clone(),
                start: q.start,
                end: q.end,
                series: q
                    .series
                    .iter()
                    .map(|(labels, points)| StoredSeries {
                        labels: labels.clone(),
                        points: points.iter().map(|p| (p.time, p.value.is_finite().then_some(p.value))).collect(),
                    })
                    .collect(),
            })
            .collect(),
    };
    serde_json::to_value(stored).map_err(|e| e.to_string())
}

/// The carried state in `value`, validated against `now` (Unix seconds), or why it cannot be used.
pub fn parse(value: &serde_json::Value, now: i64) -> Result<Carried, String> {
    let format = value.get("format").and_then(serde_json::Value::as_u64);
    if format != Some(u64::from(SEQUENCE_FORMAT)) {
        return Err(format!(
            "it has format {}, expected {SEQUENCE_FORMAT}",
            format.map_or("?".into(), |f| f.to_string())
        ));
    }
    let stored = Stored::deserialize(value).map_err(|e| format!("it is not valid ({e})"))?;
    let this = env!("CARGO_PKG_VERSION");
    if stored.written_by != this {
        return Err(format!("it was written by canary {}, this is {this}", printable(&stored.written_by)));
    }
    let step = stored.step_seconds as i64;
    if !(1..=86_400).contains(&step) {
        return Err(format!("its step {}s is not between 1s and 24h", stored.step_seconds));
    }
    let (start, end) = (stored.start, stored.end);
    let time = |t: i64| format_timestamp(t);
    if start < 0 || end < start || end > now + SKEW_SECONDS {
        return Err(format!("its times are out of order or in the future (start {}, end {})", time(start), time(end)));
    }
    if (end - start) / step > MAX_INTERVALS {
        return Err(format!("it spans more than {MAX_INTERVALS} steps"));
    }
    if stored.runs > MAX_RUNS {
        return Err(format!("it counts {} runs, more than {MAX_RUNS}", stored.runs));
    }
    if stored.queries.len() > MAX_QUERIES {
        return Err(format!("it holds {} queries, more than {MAX_QUERIES}", stored.queries.len()));
    }
    let mut seen = BTreeSet::new();
    let mut total = 0usize;
    let mut known = Vec::with_capacity(stored.queries.len());
    for query in stored.queries {
        let what =
            format!("the {} {} query of metric `{}`", query.side.name(), query.role.name(), printable(&query.metric));
        if !seen.insert((query.metric.clone(), query.side, query.role, query.query.clone())) {
            return Err(format!("{what} is held twice"));
        }
        // A baseline queried `offset` earlier lies before the sequence: only its own span is checked.
        let span_ok = query.start >= 0
            && query.end <= now + SKEW_SECONDS
            && query.start <= query.end + step
            && (query.end - query.start).rem_euclid(step) == 0
            && (query.end - query.start) / step <= MAX_INTERVALS;
        if !span_ok {
            return Err(format!("{what} has an unusable span ({} to {})", time(query.start), time(query.end)));
        }
        if query.series.len() > MAX_SERIES {
            return Err(format!("{what} holds {} series, more than {MAX_SERIES}", query.series.len()));
        }
        let mut series = Vec::with_capacity(query.series.len());
        let mut labels_seen = BTreeSet::new();
        for one in query.series {
            total += one.points.len();
            if total > MAX_POINTS {
                return Err(format!("it holds more than {MAX_POINTS} points"));
            }
            if !labels_seen.insert(one.labels.clone()) {
                return Err(format!("{what} holds one series twice"));
            }
            let mut points = Vec::with_capacity(one.points.len());
            let mut last = i64::MIN;
            for (at, value) in one.points {
                if at <= last || at < query.start || at >= query.end + step {
                    return Err(format!("{what} has a point at {} out of order or outside its span", time(at)));
                }
                // One grid per series (a backend's buckets may be aligned to the epoch, not to the
                // query's start): a point between two steps is not what any fetch returns.
                if last != i64::MIN && (at - last).rem_euclid(step) != 0 {
                    return Err(format!("{what} has a point at {} off the step's grid", time(at)));
                }
                last = at;
                let value = match value {
                    Some(v) if !v.is_finite() => return Err(format!("{what} has a value that is not finite")),
                    Some(v)
                        if matches!(query.role, QueryRole::Numerator | QueryRole::Denominator)
                            && !(0.0..=MAX_COUNT).contains(&v) =>
                    {
                        return Err(format!(
                            "{what} has the count {v} at {}: counts lie between 0 and {MAX_COUNT:e}",
                            time(at)
                        ));
                    }
                    Some(v) => v,
                    None => f64::NAN,
                };
                points.push(Point { time: at, value });
            }
            series.push((one.labels, points));
        }
        known.push(KnownQuery {
            metric: query.metric,
            side: query.side,
            role: query.role,
            query: query.query,
            start: query.start,
            end: query.end,
            series,
        });
    }
    Ok(Carried {
        looks: stored.looks,
        fingerprint: stored.fingerprint,
        step_seconds: stored.step_seconds,
        start,
        end,
        runs: stored.runs,
        known,
    })
}

/// At most 80 characters of `text`, control characters replaced: for messages about a hostile file.
fn printable(text: &str) -> String {
    text.chars().take(80).map(|c| if c.is_control() { '?' } else { c }).collect()
}

/// What this run does with what the last one left.
#[derive(Debug, Clone, PartialEq)]
pub struct Continuation {
    /// The start of the sequence this run judges (sequential), or of its window.
    pub start: i64,
    /// Runs of this sequence before this one.
    pub runs: u64,
    pub known: Vec<KnownQuery>,
    /// Why a sequence that was carried was not continued (`None`: continued, or a first run).
    pub restart: Option<String>,
}

/// This run's wanted judgment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Wanted<'a> {
    pub looks: Looks,
    pub fingerprint: &'a str,
    pub step_seconds: u64,
    /// The start of this run's window, and whether the user set it (`--start`): a different
    /// explicit start is a new deployment.
    pub window_start: i64,
    pub explicit_start: bool,
    pub window_end: i64,
}

/// Runs may be apart by up to this long: a missed range is fetched in full (the sequence sees
/// the same intervals a run every minute would have seen). Longer apart, a new sequence starts.
pub fn gap_bound(step_seconds: u64) -> i64 {
    (30 * 60).max(30 * step_seconds as i64)
}

/// Whether `carried` (what the last run left, or why it could not be read) continues into this
/// run, and from where.
pub fn continuation(carried: Option<Result<Carried, String>>, wanted: &Wanted<'_>) -> Continuation {
    let fresh =
        |restart: Option<String>| Continuation { start: wanted.window_start, runs: 0, known: Vec::new(), restart };
    let carried = match carried {
        None => return fresh(None),
        Some(Err(why)) => return fresh(Some(format!("the stored state cannot be used: {why}"))),
        Some(Ok(carried)) => carried,
    };
    let time = |t: i64| format_timestamp(t);
    let sequential = wanted.looks == Looks::Sequential;
    let problem = if carried.looks != wanted.looks {
        Some(format!("the last run judged with --looks {:?}", carried.looks).to_lowercase())
    } else if carried.fingerprint != wanted.fingerprint || carried.step_seconds != wanted.step_seconds {
        Some("the analysis changed (its metrics, queries, margins, alpha or step)".to_string())
    } else if sequential && wanted.explicit_start && wanted.window_start != carried.start {
        Some(format!("the window's start changed from {} to {}", time(carried.start), time(wanted.window_start)))
    } else if wanted.window_end < carried.end {
        Some(format!(
            "the window ends at {}, before the last interval consumed ({})",
            time(wanted.window_end),
            time(carried.end)
        ))
    } else if !sequential && wanted.window_start > carried.end + wanted.step_seconds as i64 {
        Some(format!("the last run's window ended at {}, before this one starts", time(carried.end)))
    } else if sequential && wanted.window_end - carried.end > gap_bound(wanted.step_seconds) {
        Some(format!(
            "no run for {} since {} (longer than the bound of {})",
            crate::model::Duration::from_secs((wanted.window_end - carried.end) as u64),
            time(carried.end),
            crate::model::Duration::from_secs(gap_bound(wanted.step_seconds) as u64)
        ))
    } else if sequential && (wanted.window_end - carried.start) / wanted.step_seconds as i64 > MAX_INTERVALS {
        Some(format!("the sequence since {} reached its bound of {MAX_INTERVALS} steps", time(carried.start)))
    } else {
        None
    };
    match problem {
        Some(why) => fresh(Some(why)),
        None if sequential => {
            Continuation { start: carried.start, runs: carried.runs, known: carried.known, restart: None }
        }
        // The last window's points: the window moves on, so its start is this run's.
        None => Continuation { start: wanted.window_start, runs: carried.runs, known: carried.known, restart: None },
    }
}

#[cfg(test)]
#[path = "sequence_tests.rs"]
mod tests;
