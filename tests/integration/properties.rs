//! Property tests (proptest) of rules that must never break (issue 11, "Fail closed"):
//!
//! - a recording written the way `canary record` writes it reads back to the same series, point
//!   for point and bit for bit, whatever the values (NaN, infinities, subnormals, -0.0), times
//!   and label text;
//! - judging a recording in memory and judging it after the write and the read give the same
//!   report: what `--replay` judges is what was recorded;
//! - every renderer (table, JSON, Markdown, JUnit) returns for any judged report, whatever text its
//!   names, labels, variables, queries and reasons hold (control characters, escapes, markup,
//!   long lines); the JSON and JUnit reports carry no raw control character, and the JSON report
//!   parses back to the same document;
//! - `canary compare`'s files of numbers and CSV columns read back every finite value written, bit
//!   for bit, whatever the separators, comments, quoting and buffer cuts.
//!
//! Case counts are modest (64) so that the suite stays fast.

use canary::{
    Analysis, JudgeFormat, JudgmentReport, RecordedMetric, RecordedQuery, RecordedSeries, RecordedSide, RecordedSource,
    Recording, judge_source,
    model::{Duration, Point, QueryRole, SourceDescription, window::Window},
    render_judgment as render, resolve_sides,
};
use proptest::prelude::*;
use proptest::test_runner::Config;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

/// The analysis the generated recordings are judged with: a count, a gauge and a business count.
static ANALYSIS: LazyLock<Analysis> = LazyLock::new(|| {
    Analysis::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("analyses/checkout.yaml")).expect("a valid analysis")
});

/// 2026-11-23T10:00:00Z, the start of the fixtures' window.
const START: i64 = 1_795_428_000;
const STEP: u64 = 60;
/// Points per series over the 30-minute window, both ends included.
const POINTS: usize = 31;

fn config() -> Config {
    Config { cases: 64, failure_persistence: None, ..Config::default() }
}

/// Text that renderers and serialisers must carry safely: any Unicode, control characters, ANSI
/// and OSC escapes, Markdown and XML markup, quotes, and long lines.
fn odd_text() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::collection::vec(any::<char>(), 0..40).prop_map(String::from_iter),
        proptest::collection::vec(
            prop_oneof![
                Just("\u{0}"),
                Just("\u{7}"),
                Just("\u{1b}[31m"),
                Just("\u{1b}]8;;http://x\u{7}"),
                Just("\r\n"),
                Just("\t"),
                Just("|"),
                Just("`"),
                Just("<![CDATA[]]>"),
                Just("</testcase>"),
                Just("&amp;"),
                Just("\""),
                Just("\\"),
                Just("{{ x }}"),
                Just("\u{202e}"),
                Just("\u{fffd}"),
                Just("漢字"),
                Just("e\u{301}"),
                Just("\u{ffff}"),
            ],
            0..24,
        )
        .prop_map(|parts| parts.concat()),
        (1usize..70_000).prop_map(|length| "wide|<&>\u{1b}".chars().cycle().take(length).collect()),
    ]
}

fn odd_labels() -> impl Strategy<Value = BTreeMap<String, String>> {
    proptest::collection::btree_map(prop_oneof!["[a-z_]{1,12}".boxed(), odd_text().boxed()], odd_text(), 0..3)
}

/// Any `f64`, with the special values drawn often: they are the ones a format can lose.
fn any_value() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => any::<f64>(),
        1 => prop::sample::select(vec![
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            -0.0,
            0.0,
            f64::MIN_POSITIVE,
            -f64::MIN_POSITIVE / 4.0,
            5e-324,
            f64::MAX,
            f64::MIN,
            0.1 + 0.2,
            9_007_199_254_740_993.0,
        ]),
    ]
}

/// Any points the recording reader accepts: strictly increasing times on the window's grid, two
/// of them a step apart (the reader refuses points off the declared step, outside the window, or
/// all spaced more widely than the step), any `f64` value.
fn any_points() -> impl Strategy<Value = Vec<Point>> {
    proptest::collection::vec((any::<bool>(), any_value()), POINTS).prop_map(|slots| {
        slots
            .into_iter()
            .enumerate()
            // The first two are always there: the reader refuses a series whose points are all
            // spaced more widely than the declared step (a recording with the wrong step).
            .filter(|(i, (present, _))| *present || *i < 2)
            .map(|(i, (_, value))| Point { time: START + (i as u64 * STEP) as i64, value })
            .collect()
    })
}

/// One side's series of a query, from a strategy of points.
fn series_of<P: Strategy<Value = Vec<Point>>>(points: P) -> impl Strategy<Value = Vec<RecordedSeries>> {
    proptest::collection::vec(
        (odd_labels(), points).prop_map(|(labels, points)| RecordedSeries { labels, points }),
        0..3,
    )
}

/// A recording of every query of the checkout analysis, the series of each drawn from `series`.
fn recording_with<S: Strategy<Value = Vec<RecordedSeries>> + 'static>(
    series: impl Fn(QueryRole) -> S,
) -> impl Strategy<Value = Recording> {
    let mut parts = Vec::new();
    for metric in &ANALYSIS.metrics {
        for side in ["baseline", "canary"] {
            for (role, _) in metric.queries() {
                let name = metric.name().to_string();
                parts.push(series(role).prop_map(move |s| (name.clone(), side, role, s)).boxed());
            }
        }
    }
    parts.prop_map(|parts| {
        let source = SourceDescription { kind: "synthetic".into(), url: None, replay: None };
        let mut recording = Recording::new(&ANALYSIS.name, source, START, START + 1800, STEP);
        for (name, side, role, series) in parts {
            let metric = recording.metrics.entry(name.clone()).or_insert_with(|| RecordedMetric {
                baseline: RecordedSide::new(None),
                canary: RecordedSide::new(None),
            });
            let side = if side == "baseline" { &mut metric.baseline } else { &mut metric.canary };
            let query = format!("{name} {} {}", role.name(), "{{ odd }}");
            side.queries.insert(role, RecordedQuery { query, series });
        }
        recording
    })
}

/// Realistic series on the window's grid: counts are whole numbers of events (numerators at most
/// a fifth of the traffic), gauges are latencies in seconds; a few points are missing or NaN.
fn grid_points(role: QueryRole) -> impl Strategy<Value = Vec<Point>> {
    let value = match role {
        QueryRole::Value => prop_oneof![20 => 0.01f64..2.0, 1 => Just(f64::NAN)].boxed(),
        QueryRole::Numerator => (0u32..400).prop_map(f64::from).boxed(),
        QueryRole::Denominator => (0u32..5000).prop_map(|n| f64::from(n) + 2000.0).boxed(),
    };
    proptest::collection::vec(prop_oneof![12 => value.prop_map(Some), 1 => Just(None)], POINTS).prop_map(|values| {
        values
            .into_iter()
            .enumerate()
            .filter_map(|(i, value)| value.map(|value| Point { time: START + (i as u64 * STEP) as i64, value }))
            .collect()
    })
}

/// Writes `recording` as `canary record` does (pretty JSON and a newline) and loads it back.
fn write_and_load(recording: &Recording) -> (Recording, PathBuf) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("recording.json");
    let text = serde_json::to_string_pretty(recording).expect("recordings serialise");
    std::fs::write(&path, format!("{text}\n")).expect("the recording is written");
    let loaded = Recording::load(&path).unwrap_or_else(|e| panic!("a written recording must load: {e}\n{text}"));
    (loaded, path)
}

/// Every series of `a` and `b`, in order.
fn all_series(recording: &Recording) -> Vec<(String, &RecordedSeries)> {
    let mut all = Vec::new();
    for (name, metric) in &recording.metrics {
        for (side, data) in [("baseline", &metric.baseline), ("canary", &metric.canary)] {
            for (role, query) in &data.queries {
                for series in &query.series {
                    all.push((format!("{name} {side} {}", role.name()), series));
                }
            }
        }
    }
    all
}

fn assert_same_series(written: &Recording, loaded: &Recording) {
    let (written, loaded) = (all_series(written), all_series(loaded));
    assert_eq!(written.len(), loaded.len(), "series count");
    for ((place, a), (_, b)) in written.iter().zip(&loaded) {
        assert_eq!(a.labels, b.labels, "{place}: labels");
        assert_eq!(a.points.len(), b.points.len(), "{place}: point count");
        for (p, q) in a.points.iter().zip(&b.points) {
            assert_eq!(p.time, q.time, "{place}: time");
            let same = p.value.to_bits() == q.value.to_bits() || (p.value.is_nan() && q.value.is_nan());
            assert!(same, "{place} at {}: wrote {:e} ({:#x}), read {:e}", p.time, p.value, p.value.to_bits(), q.value);
        }
    }
}

/// Judges `recording` (served from memory, under the name `path`) with the checkout analysis over
/// the recorded window.
fn judge(recording: Recording, path: &Path) -> JudgmentReport {
    let analysis = &*ANALYSIS;
    let (start, end) = recording.bounds();
    let window =
        Window::between(start, end, Duration::from_secs(STEP), analysis.window.warmup).expect("a valid window");
    let overrides = BTreeMap::new();
    let sides = resolve_sides(analysis, &overrides).expect("the analysis resolves");
    let source = RecordedSource::new(recording, path);
    judge_source(analysis, &source, window, &sides, &overrides, analysis.judgment.alpha, &BTreeMap::new())
        .expect("a recording of every query can be judged")
}

/// Puts `text` into every free-text field of a report that renderers print.
fn scribble(report: &mut JudgmentReport, text: &[String]) {
    let mut words = text.iter().cycle();
    let mut next = || words.next().cloned().unwrap_or_default();
    report.analysis = next();
    report.reason = next();
    report.baseline.variables.insert(next(), next());
    report.canary.variables.insert("selector".into(), next());
    for group in &mut report.groups {
        group.name = next();
    }
    for metric in &mut report.metrics {
        metric.name = next();
        metric.group = next();
        metric.reason = next();
        for queries in metric.queries.values_mut() {
            for query in queries.values_mut() {
                *query = next();
            }
        }
        for test in &mut metric.tests {
            test.reason = next();
        }
        for finding in &mut metric.findings {
            finding.message = next();
        }
    }
}

fn render_everything(report: &JudgmentReport) {
    for format in [JudgeFormat::Table, JudgeFormat::Json, JudgeFormat::Markdown, JudgeFormat::Junit] {
        for styled in [false, true] {
            let mut out = Vec::new();
            render(report, format, &mut out, canary::Page { styled, width: 100 })
                .unwrap_or_else(|e| panic!("{format:?} rendering failed: {e}"));
            assert!(!out.is_empty(), "{format:?} printed nothing");
            if !styled || matches!(format, JudgeFormat::Json | JudgeFormat::Junit) {
                // Machine-read formats carry text escaped: a raw C0 control character breaks XML
                // 1.0 parsers (the CI server's JUnit reader) and is never valid unescaped in JSON.
                // Plain tables and Markdown (job summaries) carry none either: no terminal escape
                // from a label or reason reaches a terminal.
                let text = String::from_utf8(out.clone()).expect("reports are UTF-8");
                let raw = text.chars().find(|c| *c < ' ' && !matches!(c, '\n' | '\t' | '\r'));
                let line = text.lines().find(|line| line.chars().any(|c| Some(c) == raw)).unwrap_or_default();
                assert!(raw.is_none(), "{format:?} printed a raw {raw:?} in {line:?}");
            }
            if format == JudgeFormat::Json {
                let parsed: serde_json::Value = serde_json::from_slice(&out).expect("the JSON report parses");
                assert_eq!(parsed, serde_json::to_value(report).unwrap(), "the JSON report reads back");
            }
        }
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_recording_reads_back_point_for_point(recording in recording_with(|_| series_of(any_points()))) {
        let (loaded, _) = write_and_load(&recording);
        assert_same_series(&recording, &loaded);
        // And the rest of the document (queries, window, source) unchanged: NaN compares by text.
        assert_eq!(serde_json::to_string(&recording).unwrap(), serde_json::to_string(&loaded).unwrap());
    }

    #[test]
    fn a_replayed_recording_gets_the_judgment_of_the_recorded_data(
        recording in recording_with(|role| series_of(grid_points(role)))
    ) {
        let (loaded, path) = write_and_load(&recording);
        assert_same_series(&recording, &loaded);
        let live = judge(recording, &path);
        let replayed = judge(loaded, &path);
        assert_eq!(serde_json::to_value(&live).unwrap(), serde_json::to_value(&replayed).unwrap());
    }

    #[test]
    fn every_renderer_returns_for_any_report_text(
        recording in recording_with(|role| series_of(grid_points(role))),
        text in proptest::collection::vec(odd_text(), 1..12),
    ) {
        let mut report = judge(recording, Path::new("generated.json"));
        render_everything(&report);
        scribble(&mut report, &text);
        render_everything(&report);
    }
}

/// `canary compare`'s sample files read back every finite value written, bit for bit (`-0.0`
/// included), whatever the separators, comments and CSV quoting, and wherever the read buffer cuts
/// a token.
mod compare_samples {
    use canary::{Selector, parse_csv_column, parse_numbers};
    use proptest::prelude::*;
    use std::io::Read;
    use std::path::Path;

    /// Hands out its bytes `chunk` at a time.
    struct Chunked(Vec<u8>, usize, usize);

    impl Read for Chunked {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            let n = self.2.min(out.len()).min(self.0.len() - self.1);
            out[..n].copy_from_slice(&self.0[self.1..self.1 + n]);
            self.1 += n;
            Ok(n)
        }
    }

    fn finite() -> impl Strategy<Value = f64> {
        prop_oneof![any::<f64>().prop_filter("finite", |v| v.is_finite()), Just(-0.0), Just(0.0), -1e6..1e6f64]
    }

    fn bits(values: &[f64]) -> Vec<u64> {
        values.iter().map(|v| v.to_bits()).collect()
    }

    proptest! {
        #![proptest_config(super::config())]

        #[test]
        fn numbers_read_back_whatever_the_separators_and_buffer_cuts(
            values in prop::collection::vec((finite(), prop::sample::select(vec![" ", "\n", "\t", "\r\n", "  # note 1 2\n"])), 0..200),
            chunk in 1usize..64,
        ) {
            let text: String = values.iter().map(|(v, sep)| format!("{v:?}{sep}")).collect();
            let expected: Vec<f64> = values.iter().map(|(v, _)| *v).collect();
            let read = parse_numbers(Chunked(text.into_bytes(), 0, chunk), Path::new("p.txt")).unwrap();
            prop_assert_eq!(bits(&read), bits(&expected));
        }

        #[test]
        fn a_csv_column_reads_back_by_name_and_position(
            rows in prop::collection::vec((finite(), any::<bool>(), "[a-z ,\"\n]{0,8}"), 1..100),
            chunk in 1usize..64,
        ) {
            let quote = |text: &str| format!("\"{}\"", text.replace('"', "\"\""));
            let mut text = String::from("note,\"the value\"\n");
            for (value, quoted, note) in &rows {
                let value = if *quoted { quote(&format!("{value:?}")) } else { format!("{value:?}") };
                text.push_str(&format!("{},{value}\n", quote(note)));
            }
            let expected: Vec<f64> = rows.iter().map(|(v, _, _)| *v).collect();
            for selector in [Selector::Name("the value".into()), Selector::Position(2)] {
                let read = parse_csv_column(Chunked(text.clone().into_bytes(), 0, chunk), Path::new("p.csv"), &selector).unwrap();
                prop_assert_eq!(bits(&read), bits(&expected));
            }
        }
    }
}
