//! Recorded data (`canary record`, `canary judge --replay`): a versioned JSON document holding,
//! per metric and side, the resolved queries and the series they returned, with the window and
//! step. Documented in `docs/recorded-data.md`; its JSON Schema is part of `canary schema`.

use super::{MetricSource, QueryRequest, SourceError};
use crate::model::{
    Point, PointTime, QueryRole, Series, Side, SourceDescription,
    window::{check_lengths, check_timestamp, format_timestamp, parse_timestamp},
};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The value of `format` in every recording.
pub const FORMAT: &str = "canary-recording";
/// The only version so far.
pub const VERSION: u32 = 1;

/// A recording.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Recording {
    /// Always `canary-recording`.
    pub format: String,
    /// Format version: 1.
    pub version: u32,
    /// Name of the analysis the data was recorded for.
    pub analysis: String,
    /// When it was recorded (RFC 3339), if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recorded_at: Option<String>,
    pub source: SourceDescription,
    pub window: RecordedWindow,
    /// What point timestamps mark (default `interval_end`, as Prometheus).
    #[serde(default)]
    pub point_time: PointTime,
    /// Per metric name.
    pub metrics: BTreeMap<String, RecordedMetric>,
}

/// The queried window (for an offset baseline, the canary's; its own is shifted back).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordedWindow {
    /// RFC 3339.
    pub start: String,
    /// RFC 3339.
    pub end: String,
    /// 1 to 86400 (24h).
    #[schemars(range(min = 1, max = 86400))]
    pub step_seconds: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordedMetric {
    pub baseline: RecordedSide,
    pub canary: RecordedSide,
}

/// One side of one metric: its queries by role (`value` for gauges; `numerator` and
/// `denominator` for counts).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordedSide {
    /// The baseline's shift back in time; its points carry the shifted (real) timestamps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset_seconds: Option<u64>,
    pub queries: BTreeMap<QueryRole, RecordedQuery>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordedQuery {
    /// The query as sent, variables resolved.
    pub query: String,
    pub series: Vec<RecordedSeries>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordedSeries {
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// `[unix_seconds, value]` pairs; value is a number, `"NaN"`, `"+Inf"`, `"-Inf"`, or null for a
    /// missing point.
    #[schemars(with = "Vec<(i64, RecordedValueSchema)>")]
    #[serde(serialize_with = "write_points", deserialize_with = "read_points")]
    pub points: Vec<Point>,
}

/// A recorded value, for the schema only.
#[derive(schemars::JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum RecordedValueSchema {
    Number(f64),
    /// `NaN`, `+Inf` or `-Inf`.
    Special(String),
    Missing(()),
}

fn write_points<S: Serializer>(points: &[Point], serializer: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    let mut seq = serializer.serialize_seq(Some(points.len()))?;
    for point in points {
        let value = if point.value.is_nan() {
            serde_json::Value::from("NaN")
        } else if point.value.is_infinite() {
            serde_json::Value::from(if point.value > 0.0 { "+Inf" } else { "-Inf" })
        } else {
            serde_json::Value::from(point.value)
        };
        seq.serialize_element(&(point.time, value))?;
    }
    seq.end()
}

fn read_points<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Point>, D::Error> {
    let raw: Vec<(i64, serde_json::Value)> = Vec::deserialize(deserializer)?;
    let mut points = Vec::with_capacity(raw.len());
    for (time, value) in raw {
        let value = match &value {
            serde_json::Value::Number(n) => n.as_f64().ok_or_else(|| D::Error::custom("value out of range"))?,
            serde_json::Value::String(s) => match s.as_str() {
                "NaN" => f64::NAN,
                "+Inf" | "Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                other => other.parse::<f64>().map_err(|_| {
                    D::Error::custom(format!(
                        "point at {time}: `{}` is not a number, \"NaN\", \"+Inf\" or \"-Inf\"",
                        crate::input::excerpt(other)
                    ))
                })?,
            },
            serde_json::Value::Null => continue,
            other => {
                let shown = crate::input::excerpt(&other.to_string());
                return Err(D::Error::custom(format!("point at {time}: {shown} is not a value")));
            }
        };
        points.push(Point { time, value });
    }
    Ok(points)
}

impl RecordedSide {
    pub fn new(offset_seconds: Option<u64>) -> RecordedSide {
        RecordedSide { offset_seconds, queries: BTreeMap::new() }
    }
}

impl RecordedSeries {
    pub fn from_series(series: &Series) -> RecordedSeries {
        RecordedSeries { labels: series.labels.clone(), points: series.points.clone() }
    }
}

impl Recording {
    /// Reads a recording, checking its format and version.
    pub fn load(path: &Path) -> Result<Recording, RecordingError> {
        use crate::input::{MAX_RECORDING_BYTES, ReadLimitError, read_text_limited};
        let text = read_text_limited(path, MAX_RECORDING_BYTES).map_err(|error| match error {
            ReadLimitError::Io(e) => RecordingError(format!("cannot read recording {}: {e}", path.display())),
            other => RecordingError(format!(
                "{}: not a usable recording: {other}; record a shorter window or fewer metrics (one recording per analysis run)",
                path.display()
            )),
        })?;
        let recording: Recording = serde_json::from_str(&text).map_err(|e| {
            RecordingError(format!("{}:{}:{}: not a canary recording: {e}", path.display(), e.line(), e.column()))
        })?;
        if recording.format != FORMAT || recording.version != VERSION {
            return Err(RecordingError(format!(
                "{}: format `{}` version {} is not supported (expected `{FORMAT}` version {VERSION})",
                path.display(),
                recording.format,
                recording.version
            )));
        }
        recording.check_window(path)?;
        for (name, metric) in &recording.metrics {
            for (side, data) in [("baseline", &metric.baseline), ("canary", &metric.canary)] {
                for (role, query) in &data.queries {
                    for series in &query.series {
                        if let Some(pair) = series.points.windows(2).find(|pair| pair[1].time <= pair[0].time) {
                            return Err(RecordingError(format!(
                                "{}: metric `{name}`, {side} {}: point times must increase, but {} follows {}",
                                path.display(),
                                role.name(),
                                pair[1].time,
                                pair[0].time
                            )));
                        }
                    }
                }
            }
            recording.check_grid(name, metric, path)?;
        }
        Ok(recording)
    }

    /// The window's timestamps are plausible and its step and length in range
    /// ([`check_lengths`], the same check as a judged window's).
    fn check_window(&self, path: &Path) -> Result<(), RecordingError> {
        let window = &self.window;
        let fail = |message: String| RecordingError(format!("{}: {message}", path.display()));
        let mut bounds = [0; 2];
        for (bound, (field, text)) in
            bounds.iter_mut().zip([("window.start", &window.start), ("window.end", &window.end)])
        {
            *bound = parse_timestamp(text)
                .and_then(|t| check_timestamp(t).map(|()| t))
                .map_err(|e| fail(format!("{field}: {e}")))?;
        }
        let [start, end] = bounds;
        if end <= start {
            return Err(fail(format!("window.end ({}) is not after window.start ({})", window.end, window.start)));
        }
        let step = crate::model::Duration::from_secs(window.step_seconds);
        check_lengths(end.abs_diff(start), step, crate::model::Duration::default())
            .map_err(|e| fail(format!("window (step_seconds {}): {e}", window.step_seconds)))
    }

    /// Every point of a metric (offset baselines shifted back into the window) lies within the
    /// window, give or take one step, and on one grid of the declared step: a `step_seconds` that
    /// does not match the points (120 or 30 with points every 60s), or a side whose points are
    /// off the other's grid, would otherwise leave no comparable pairs and judge nothing.
    fn check_grid(&self, name: &str, metric: &RecordedMetric, path: &Path) -> Result<(), RecordingError> {
        let (start, end) = self.bounds();
        let step = self.window.step_seconds as i64;
        let mut grid: Option<(i64, &str, i64)> = None;
        for (side, data) in [("baseline", &metric.baseline), ("canary", &metric.canary)] {
            let offset = data.offset_seconds.unwrap_or(0);
            let fail = |role: QueryRole, message: String| {
                RecordingError(format!("{}: metric `{name}`, {side} {}: {message}", path.display(), role.name()))
            };
            if offset > MAX_OFFSET_SECONDS {
                return Err(RecordingError(format!(
                    "{}: metric `{name}`, {side}: offset_seconds {offset} is more than a year",
                    path.display()
                )));
            }
            for (role, query) in &data.queries {
                for series in &query.series {
                    let spacing = series.points.windows(2).map(|p| p[1].time.abs_diff(p[0].time)).fold(0, gcd);
                    if series.points.len() >= 3 && spacing > step as u64 {
                        return Err(fail(
                            *role,
                            format!(
                                "the points are every {spacing}s but window.step_seconds is {step}: record again, or correct step_seconds"
                            ),
                        ));
                    }
                    for point in &series.points {
                        let time = point.time.saturating_add(offset as i64);
                        if time < start.saturating_sub(step) || time > end.saturating_add(step) {
                            return Err(fail(
                                *role,
                                format!(
                                    "the point at {} lies outside the recorded window {} to {}",
                                    format_timestamp(point.time),
                                    self.window.start,
                                    self.window.end
                                ),
                            ));
                        }
                        let phase = (time - start).rem_euclid(step);
                        match grid {
                            None => grid = Some((phase, side, point.time)),
                            Some((first, other_side, other_time)) if first != phase => {
                                return Err(fail(
                                    *role,
                                    format!(
                                        "the point at {} is off the {step}s grid of the {other_side}'s point at {}: \
                                         the step_seconds does not match the points, or the sides were sampled at different times",
                                        format_timestamp(point.time),
                                        format_timestamp(other_time),
                                    ),
                                ));
                            }
                            Some(_) => {}
                        }
                    }
                    let limit = end.abs_diff(start) / step as u64 + 3;
                    if series.points.len() as u64 > limit {
                        return Err(fail(
                            *role,
                            format!(
                                "{} points, more than the window holds at step_seconds {step} ({limit})",
                                series.points.len()
                            ),
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// The recorded window in Unix seconds (start, end).
    pub fn bounds(&self) -> (i64, i64) {
        let parse = |text: &str| parse_timestamp(text).unwrap_or_default();
        (parse(&self.window.start), parse(&self.window.end))
    }

    /// An empty recording of `analysis` over a window.
    pub fn new(analysis: &str, source: SourceDescription, start: i64, end: i64, step_seconds: u64) -> Recording {
        Recording {
            format: FORMAT.into(),
            version: VERSION,
            analysis: analysis.into(),
            recorded_at: None,
            source,
            window: RecordedWindow { start: format_timestamp(start), end: format_timestamp(end), step_seconds },
            point_time: PointTime::IntervalEnd,
            metrics: BTreeMap::new(),
        }
    }
}

/// Longest baseline offset in a recording: 366 days.
const MAX_OFFSET_SECONDS: u64 = 366 * 86_400;

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// A recording that cannot be used (exit 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct RecordingError(pub String);

/// Serves a recording's series as a [`MetricSource`].
pub struct RecordedSource {
    recording: Recording,
    path: PathBuf,
}

impl RecordedSource {
    pub fn new(recording: Recording, path: &Path) -> RecordedSource {
        RecordedSource { recording, path: path.to_path_buf() }
    }

    pub fn recording(&self) -> &Recording {
        &self.recording
    }

    /// The recorded query text of a metric's side and role, if recorded.
    pub fn recorded_query(&self, metric: &str, side: Side, role: QueryRole) -> Option<&str> {
        let metric = self.recording.metrics.get(metric)?;
        let side = match side {
            Side::Baseline => &metric.baseline,
            Side::Canary => &metric.canary,
        };
        side.queries.get(&role).map(|q| q.query.as_str())
    }
}

impl MetricSource for RecordedSource {
    fn description(&self) -> SourceDescription {
        SourceDescription { replay: Some(self.path.display().to_string()), ..self.recording.source.clone() }
    }

    fn point_time(&self) -> PointTime {
        self.recording.point_time
    }

    fn fetch(&self, request: &QueryRequest<'_>) -> Result<Vec<Series>, SourceError> {
        let missing =
            |what: String| SourceError::Request(format!("{}: the recording holds no {what}", self.path.display()));
        let metric = self
            .recording
            .metrics
            .get(request.metric)
            .ok_or_else(|| missing(format!("data for metric `{}`", request.metric)))?;
        let side = match request.side {
            Side::Baseline => &metric.baseline,
            Side::Canary => &metric.canary,
        };
        let query = side.queries.get(&request.role).ok_or_else(|| {
            missing(format!(
                "{} query for the {} of metric `{}`",
                request.role.name(),
                request.side.name(),
                request.metric
            ))
        })?;
        let (start, end) = (request.window.start, request.window.end);
        Ok(query
            .series
            .iter()
            .map(|s| Series {
                labels: s.labels.clone(),
                points: s.points.iter().copied().filter(|p| p.time >= start && p.time <= end).collect(),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_values_round_trip() {
        let series = RecordedSeries {
            labels: BTreeMap::new(),
            points: vec![
                Point { time: 60, value: 1.5 },
                Point { time: 120, value: f64::NAN },
                Point { time: 180, value: f64::INFINITY },
                Point { time: 240, value: f64::NEG_INFINITY },
            ],
        };
        let json = serde_json::to_string(&series).unwrap();
        assert_eq!(json, r#"{"labels":{},"points":[[60,1.5],[120,"NaN"],[180,"+Inf"],[240,"-Inf"]]}"#);
        let back: RecordedSeries =
            serde_json::from_str(&json.replace("[240,\"-Inf\"]", "[240,\"-Inf\"],[300,null]")).unwrap();
        assert_eq!(back.points.len(), 4);
        assert!(back.points[1].value.is_nan() && back.points[3].value == f64::NEG_INFINITY);
        let bad = serde_json::from_str::<RecordedSeries>(r#"{"points":[[60,"lots"]]}"#).unwrap_err();
        assert!(bad.to_string().contains("`lots` is not a number"), "{bad}");
    }

    proptest::proptest! {
        /// Recorded values come back bit for bit (serde_json's `float_roundtrip`): without it some
        /// 17-digit values were one ulp off, and a borderline Kayenta classification flipped.
        #[test]
        fn recorded_values_survive_parsing_exactly(bits in proptest::prelude::any::<u64>(), digits in 1usize..=17) {
            let value = f64::from_bits(bits);
            proptest::prop_assume!(value.is_finite());
            // Both the shortest text (as `canary record` writes) and a 17-significant-digit one
            // (as other tools write) must parse to the nearest double.
            let texts = [
                serde_json::to_string(&value).unwrap(),
                format!("{value:.16e}"),
                format!("{value:.prec$e}", prec = digits - 1),
            ];
            for text in texts {
                let json = format!(r#"{{"points":[[60,{text}]]}}"#);
                let series: RecordedSeries = serde_json::from_str(&json).unwrap();
                let expected: f64 = text.parse().unwrap();
                proptest::prop_assert_eq!(series.points[0].value.to_bits(), expected.to_bits(), "{}", text);
            }
        }
    }

    #[test]
    fn a_seventeen_digit_value_parses_to_the_nearest_double() {
        for text in [
            "0.30000000000000004",
            "9.2233720368547758e18",
            "1.7976931348623157e308",
            "2.2250738585072014e-308",
            "0.12345678901234567",
            // One ulp off without float_roundtrip (serde_json 1.0.154):
            "1.0715660391465826e-75",
            "-9.6439157120605518e-234",
        ] {
            let series: RecordedSeries = serde_json::from_str(&format!(r#"{{"points":[[60,{text}]]}}"#)).unwrap();
            assert_eq!(series.points[0].value.to_bits(), text.parse::<f64>().unwrap().to_bits(), "{text}");
        }
    }

    /// A recording of one gauge: `window` (start, end, step_seconds) and each side's point times.
    fn recording_text(window: (&str, &str, u64), baseline: &[i64], canary: &[i64]) -> String {
        let side = |times: &[i64]| {
            let points: Vec<serde_json::Value> = times.iter().map(|t| serde_json::json!([t, 1.5])).collect();
            serde_json::json!({"queries": {"value": {"query": "q", "series": [{"points": points}]}}})
        };
        serde_json::json!({
            "format": "canary-recording", "version": 1, "analysis": "a", "source": {"kind": "synthetic"},
            "window": {"start": window.0, "end": window.1, "step_seconds": window.2},
            "metrics": {"p99": {"baseline": side(baseline), "canary": side(canary)}},
        })
        .to_string()
    }

    fn load_text(text: &str) -> Result<Recording, RecordingError> {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), text).unwrap();
        Recording::load(file.path())
    }

    /// 2026-11-23T10:00:00Z.
    const T0: i64 = 1_795_428_000;
    const START: &str = "2026-11-23T10:00:00Z";
    const END: &str = "2026-11-23T10:30:00Z";

    fn every(seconds: i64) -> Vec<i64> {
        (0..=1800 / seconds).map(|i| T0 + i * seconds).collect()
    }

    #[test]
    fn a_well_formed_recording_loads() {
        assert!(load_text(&recording_text((START, END, 60), &every(60), &every(60))).is_ok());
        // Gaps are allowed, so is a step finer than the points when the gaps are irregular.
        let mut gappy = every(60);
        gappy.remove(5);
        assert!(load_text(&recording_text((START, END, 60), &gappy, &every(60))).is_ok());
    }

    #[test]
    fn implausible_steps_and_windows_are_refused() {
        let err = load_text(&recording_text((START, END, u64::MAX), &[], &[])).unwrap_err().to_string();
        assert!(err.contains("between 1s and 24h"), "{err}");
        let err = load_text(&recording_text(("0001-01-01T00:00:00Z", END, 60), &[], &[])).unwrap_err().to_string();
        assert!(err.contains("window.start") && err.contains("plausible range"), "{err}");
        let err = load_text(&recording_text(("2026-01-01T00:00:00Z", END, 60), &[], &[])).unwrap_err().to_string();
        assert!(err.contains("longer than the limit of 744h"), "{err}");
        let err = load_text(&recording_text((END, START, 60), &[], &[])).unwrap_err().to_string();
        assert!(err.contains("is not after window.start"), "{err}");
    }

    #[test]
    fn a_step_that_does_not_match_the_points_is_refused_naming_metric_and_side() {
        // step_seconds 120 with points every 60s: half the points are off the grid.
        let err = load_text(&recording_text((START, END, 120), &every(60), &every(60))).unwrap_err().to_string();
        assert!(err.contains("metric `p99`, baseline value:") && err.contains("off the 120s grid"), "{err}");
        // step_seconds 30 with points every 60s: every other step is empty, every time.
        let err = load_text(&recording_text((START, END, 30), &every(60), &every(60))).unwrap_err().to_string();
        assert!(
            err.contains("metric `p99`, baseline value: the points are every 60s but window.step_seconds is 30"),
            "{err}"
        );
        // points every 30s at a 60s step.
        let err = load_text(&recording_text((START, END, 60), &every(60), &every(30))).unwrap_err().to_string();
        assert!(err.contains("metric `p99`, canary value:"), "{err}");
        // canary timestamps 7s off the baseline's.
        let shifted: Vec<i64> = every(60).iter().map(|t| t + 7).collect();
        let err = load_text(&recording_text((START, END, 60), &every(60), &shifted)).unwrap_err().to_string();
        assert!(
            err.contains("metric `p99`, canary value: the point at 2026-11-23T10:00:07Z is off the 60s grid"),
            "{err}"
        );
    }

    #[test]
    fn points_outside_the_window_are_refused() {
        let far = vec![T0 - 86_400 * 365 * 2000];
        let err = load_text(&recording_text((START, END, 60), &far, &every(60))).unwrap_err().to_string();
        assert!(
            err.contains("metric `p99`, baseline value: the point at") && err.contains("outside the recorded window"),
            "{err}"
        );
    }
}
