//! Recorded data (`canary record`, `canary judge --replay`): a versioned JSON document holding,
//! per metric and side, the resolved queries and the series they returned, with the window and
//! step. Documented in `docs/recorded-data.md`; its JSON Schema is part of `canary schema`.

use super::{MetricSource, Point, PointTime, QueryRequest, Series, SourceDescription, SourceError};
use crate::config::QueryRole;
use crate::config::template::Side;
use crate::config::window::{format_timestamp, parse_timestamp};
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
                        "point at {time}: `{other}` is not a number, \"NaN\", \"+Inf\" or \"-Inf\""
                    ))
                })?,
            },
            serde_json::Value::Null => continue,
            other => return Err(D::Error::custom(format!("point at {time}: {other} is not a value"))),
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
        let window = &recording.window;
        for (field, text) in [("window.start", &window.start), ("window.end", &window.end)] {
            parse_timestamp(text).map_err(|e| RecordingError(format!("{}: {field}: {e}", path.display())))?;
        }
        if window.step_seconds == 0 {
            return Err(RecordingError(format!("{}: window.step_seconds must be positive", path.display())));
        }
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
        }
        Ok(recording)
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
}
