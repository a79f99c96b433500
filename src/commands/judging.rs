//! What `judge` and `watch` (and, for fetching, `record` and `validate`) share: fetching every
//! query of an analysis for both sides over one window, judging that window, checking a
//! recording against the analysis, and calling the rollback webhook.

use crate::actions::webhook::{self, WebhookSettings};
use crate::config::Analysis;
use crate::config::template::{ResolvedSides, render_metric};
use crate::error::CanaryError;
use crate::judge::report::{Classification, Finding, JudgmentReport, WebhookOutcome};
use crate::judge::short_range::short_range_finding;
use crate::judge::sustained::Carry;
use crate::judge::{Context, Judgment, MetricInput};
use crate::kayenta::judge;
use crate::model::{Duration, QueryRole, Series, Side, SourceDescription, clock, window::Window};
use crate::source::recorded::{RecordedSource, Recording};
use crate::source::{MetricSource, QueryRequest, SourceError, points};
use std::collections::BTreeMap;
use std::path::Path;

/// One query's answer.
pub(crate) struct Fetched {
    pub(crate) metric: usize,
    pub(crate) side: Side,
    pub(crate) role: QueryRole,
    pub(crate) query: String,
    pub(crate) series: Vec<Series>,
}

/// One query of an analysis, rendered for one side over its (shifted) window.
pub(crate) struct PlannedQuery {
    pub(crate) metric: usize,
    pub(crate) side: Side,
    pub(crate) role: QueryRole,
    pub(crate) query: String,
    /// The window to query: the baseline of a before/after analysis `offset` earlier.
    pub(crate) window: Window,
}

impl PlannedQuery {
    /// The request for this query.
    pub(crate) fn request<'a>(&'a self, analysis: &'a Analysis) -> QueryRequest<'a> {
        QueryRequest {
            metric: analysis.metrics[self.metric].name(),
            side: self.side,
            role: self.role,
            query: &self.query,
            window: self.window,
        }
    }
}

fn offset_of(analysis: &Analysis, side: Side) -> i64 {
    if side == Side::Baseline { analysis.baseline.offset.map_or(0, |o| o.as_secs() as i64) } else { 0 }
}

/// Renders every query of every metric for both sides. The baseline of a before/after analysis
/// is queried `offset` earlier.
pub(crate) fn plan_queries(
    analysis: &Analysis,
    window: Window,
    sides: &ResolvedSides,
    overrides: &BTreeMap<String, String>,
) -> Result<Vec<PlannedQuery>, CanaryError> {
    let step = Duration::from_secs(window.step_seconds);
    let mut planned = Vec::new();
    for (index, metric) in analysis.metrics.iter().enumerate() {
        for side in Side::BOTH {
            let shift = offset_of(analysis, side);
            for (role, query) in render_metric(analysis, metric, side, sides, overrides, step)? {
                let window = Window { start: window.start - shift, end: window.end - shift, ..window };
                planned.push(PlannedQuery { metric: index, side, role, query, window });
            }
        }
    }
    Ok(planned)
}

/// Checks each planned query's answer (the same checks for every source, live or recorded) and
/// moves a before/after baseline's points onto the canary's timeline.
pub(crate) fn check_answers(
    analysis: &Analysis,
    planned: Vec<PlannedQuery>,
    answers: Vec<Result<Vec<Series>, SourceError>>,
) -> Result<Vec<Fetched>, CanaryError> {
    let mut fetched = Vec::with_capacity(planned.len());
    for (planned, answer) in planned.into_iter().zip(answers) {
        let mut series = answer?;
        let request = planned.request(analysis);
        points::check_series(&series, request.role, &request.window, &request.label())?;
        let PlannedQuery { metric, side, role, query, .. } = planned;
        for s in &mut series {
            for point in &mut s.points {
                point.time += offset_of(analysis, side);
            }
        }
        fetched.push(Fetched { metric, side, role, query, series });
    }
    Ok(fetched)
}

/// Renders and runs every query of every metric for both sides. The baseline of a before/after
/// analysis is queried `offset` earlier and its points are moved onto the canary's timeline.
pub(crate) fn fetch_everything(
    analysis: &Analysis,
    source: &dyn MetricSource,
    window: Window,
    sides: &ResolvedSides,
    overrides: &BTreeMap<String, String>,
) -> Result<Vec<Fetched>, CanaryError> {
    let planned = plan_queries(analysis, window, sides, overrides)?;
    let requests: Vec<QueryRequest<'_>> = planned.iter().map(|p| p.request(analysis)).collect();
    let answers = source.fetch_all(&requests);
    drop(requests);
    check_answers(analysis, planned, answers)
}

/// Judges one window: fetches every query of every metric for both sides and judges them at
/// family-wise level `alpha`, continuing the sustained-breach stretches in `carries` (from the
/// watchdog's last run).
pub fn judge_source(
    analysis: &Analysis,
    source: &dyn MetricSource,
    window: Window,
    sides: &ResolvedSides,
    overrides: &BTreeMap<String, String>,
    alpha: f64,
    carries: &BTreeMap<String, Carry>,
) -> Result<JudgmentReport, CanaryError> {
    let look = LookInput { analysis, source, window, sides, overrides, alpha };
    Ok(judge_look(&look, carries, false)?.0)
}

/// What one look judges: an analysis's window on a source, at family-wise level `alpha`.
pub(crate) struct LookInput<'a> {
    pub analysis: &'a Analysis,
    pub source: &'a dyn MetricSource,
    pub window: Window,
    pub sides: &'a ResolvedSides,
    pub overrides: &'a BTreeMap<String, String>,
    pub alpha: f64,
}

/// One look of continuous monitoring (`watch --looks sequential`, the sequential cron
/// watchdog): judges everything in the look's window and replaces its statistical tests by
/// always-valid ones ([`crate::judge::sequential`]). Returns the report and each tested metric's
/// sequence.
pub(crate) fn sequential_look(
    look: &LookInput<'_>,
) -> Result<(JudgmentReport, Vec<crate::judge::sequential::SequenceResult>), CanaryError> {
    judge_look(look, &BTreeMap::new(), true)
}

/// Fetches and judges one look; `sequential` replaces the statistical tests by always-valid ones
/// (the sequences are empty otherwise). A query that came back empty with a range shorter than
/// twice the scrape interval is explained on its no-data metric.
fn judge_look(
    look: &LookInput<'_>,
    carries: &BTreeMap<String, Carry>,
    sequential: bool,
) -> Result<(JudgmentReport, Vec<crate::judge::sequential::SequenceResult>), CanaryError> {
    let LookInput { analysis, source, window, sides, overrides, alpha } = *look;
    let fetched = fetch_everything(analysis, source, window, sides, overrides)?;
    // Sequences carry the declared drift themselves; a one-look judgment re-checks its fails.
    let declared_drift = if sequential { None } else { analysis.judgment.drift_fraction() };
    let context = Context { window, point_time: source.point_time(), alpha, declared_drift };
    let notes = short_range_notes(source, &fetched);
    let inputs = metric_inputs(analysis, fetched, carries);
    let sequential_inputs = sequential.then(|| inputs.clone());
    let mut report = judge(Judgment { analysis, inputs, context, sides, source: source.description() });
    let sequences = match sequential_inputs {
        Some(inputs) => crate::judge::sequential::apply(analysis, &mut report, inputs, source.point_time()),
        None => Vec::new(),
    };
    let mut noted = std::collections::BTreeSet::new();
    for (metric, finding) in notes {
        let name = analysis.metrics[metric].name();
        // Once per metric, and only to explain missing data: a verdict is never changed.
        if let Some(result) = report.metrics.iter_mut().find(|r| r.name == name)
            && result.classification == Classification::NoData
            && noted.insert(metric)
        {
            result.findings.insert(0, finding);
        }
    }
    Ok((report, sequences))
}

/// For each query that came back without a point and has a range shorter than twice the
/// source's scrape interval, its metric and the finding that says so. The scrape interval is
/// asked for (one request) only when some query came back empty; unknown, nothing is said.
pub(crate) fn short_range_notes(source: &dyn MetricSource, fetched: &[Fetched]) -> Vec<(usize, Finding)> {
    let empty: Vec<&Fetched> = fetched.iter().filter(|f| f.series.iter().all(|s| s.points.is_empty())).collect();
    if empty.is_empty() {
        return Vec::new();
    }
    let Some(scrape) = source.scrape_interval() else { return Vec::new() };
    empty
        .into_iter()
        .filter_map(|f| Some((f.metric, Finding { side: Some(f.side), ..short_range_finding(&f.query, scrape)? })))
        .collect()
}

/// Judges the fetched answers of one analysis.
pub(crate) fn judge_fetched(
    analysis: &Analysis,
    fetched: Vec<Fetched>,
    context: &Context,
    sides: &ResolvedSides,
    description: SourceDescription,
    carries: &BTreeMap<String, Carry>,
) -> JudgmentReport {
    let inputs = metric_inputs(analysis, fetched, carries);
    judge(Judgment { analysis, inputs, context: *context, sides, source: description })
}

/// The judge's inputs from the fetched answers: per metric its rendered queries and series.
pub(crate) fn metric_inputs<'a>(
    analysis: &'a Analysis,
    fetched: Vec<Fetched>,
    carries: &BTreeMap<String, Carry>,
) -> Vec<MetricInput<'a>> {
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
    inputs
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
pub(crate) fn warn_about_changed_queries(
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

/// Sends the report to the rollback webhook; a failed delivery is loud on stderr.
pub(crate) fn call_rollback_webhook(report: &JudgmentReport, settings: &WebhookSettings) -> WebhookOutcome {
    let outcome = webhook::deliver(report, settings, clock::now());
    if !outcome.delivered && !outcome.dry_run {
        eprintln!(
            "canary: ERROR: the rollback webhook {} was NOT delivered: {}",
            outcome.url,
            outcome.error.as_deref().unwrap_or("unknown error")
        );
    }
    outcome
}
