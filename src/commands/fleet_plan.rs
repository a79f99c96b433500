//! The plan of a many-analysis run, shared by `canary judge` (`commands::fleet`) and `canary
//! watch` (`commands::watch`) with several analyses: each service's queries over a window, and
//! for each the groupable shape (`source::grouping`) it has when the variable that differs
//! between the services is left out, so that the services' queries of one shape are fetched as
//! one grouped query; and the parallel map both judge their services with.

use super::judging::{PlannedQuery, plan_queries};
use crate::config::template::resolve_sides;
use crate::config::{DatadogApi, SourceKind};
use crate::error::CanaryError;
use crate::settings::fleet::FleetMember;
use crate::source::grouping::{GroupableShape, groupable, groupable_datadog};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Stands for a grouping variable's value while a query's shape is rendered: letters and digits
/// (a valid `--var` value) that no real query contains by chance.
pub(crate) const PLACEHOLDER: &str = "canaryFleetGroupValue7d3f1e";

/// One service's planned queries, with each query's groupable shape and value where it has one.
pub(crate) struct ServicePlan {
    pub(crate) window: crate::model::Window,
    pub(crate) planned: Vec<PlannedQuery>,
    pub(crate) shapes: Vec<Option<(GroupableShape, String)>>,
}

/// Recognises a query shape that can be fetched grouped (see `source::grouping`).
pub(crate) type Recogniser = fn(&str, &str) -> Option<GroupableShape>;

/// The recogniser of the run's query language: PromQL on Prometheus-compatible sources, Datadog's
/// on its v2 API (whose combined request carries the grouped queries); none on v1.
pub(crate) fn recogniser(source: Option<&crate::config::SourceConfig>) -> Option<Recogniser> {
    match source {
        None => Some(groupable),
        Some(source) => match source.kind {
            SourceKind::Prometheus => Some(groupable),
            SourceKind::Datadog if source.api != Some(DatadogApi::V1) => Some(groupable_datadog),
            SourceKind::Datadog => None,
        },
    }
}

/// The variables whose values differ between the services (or that only some set): the only
/// ones a grouped query can be built on.
pub(crate) fn varying_variables(members: &[FleetMember]) -> BTreeSet<String> {
    let names: BTreeSet<&String> = members.iter().flat_map(|m| m.vars.keys()).collect();
    let mut values: BTreeMap<&str, BTreeSet<Option<&str>>> = BTreeMap::new();
    for member in members {
        for name in &names {
            values.entry(name.as_str()).or_default().insert(member.vars.get(*name).map(String::as_str));
        }
    }
    values.into_iter().filter(|(_, seen)| seen.len() > 1).map(|(name, _)| name.to_string()).collect()
}

/// The queries of one analysis with one variable set to [`PLACEHOLDER`] (the others as a service
/// sets them), each with its groupable shape: rendered and recognised once for every service that
/// shares them (`None`: the analysis does not render so).
type Shaped = Option<Arc<Vec<(String, Option<GroupableShape>)>>>;

/// [`Shaped`] by analysis file and variables (the placeholder marking the grouping variable).
pub(crate) type ShapeCache = Mutex<HashMap<(PathBuf, BTreeMap<String, String>), Shaped>>;

/// Renders a service's queries over `window`, and for each the shape it has when one of the service's own
/// variables is set to [`PLACEHOLDER`]: a shape is kept only when it is groupable and putting the
/// value back in gives exactly the query (so templates that branch on the value never group).
pub(crate) fn plan_service(
    member: &FleetMember,
    window: crate::model::Window,
    grouping: (&BTreeSet<String>, Recogniser),
    cache: &ShapeCache,
) -> Result<ServicePlan, CanaryError> {
    let (varying, recognise) = grouping;
    let resolved = &member.resolved;
    let analysis = &resolved.analysis;
    let planned = plan_queries(analysis, window, &resolved.sides, &resolved.overrides)?;
    let mut shapes: Vec<Option<(GroupableShape, String)>> = planned.iter().map(|_| None).collect();
    let candidates =
        member.vars.iter().filter(|(name, _)| varying.contains(*name) && !analysis.fragment_variables.contains(*name));
    for (name, value) in candidates {
        let mut overrides = resolved.overrides.clone();
        overrides.insert(name.clone(), PLACEHOLDER.into());
        let key = (member.path.clone(), overrides);
        let cached = cache.lock().ok().and_then(|cache| cache.get(&key).cloned());
        let shaped = cached.unwrap_or_else(|| {
            let shaped = shaped_queries(analysis, window, &key.1, recognise);
            if let Ok(mut cache) = cache.lock() {
                cache.insert(key, shaped.clone());
            }
            shaped
        });
        let Some(shaped) = shaped.filter(|shaped| shaped.len() == planned.len()) else { continue };
        for ((query, (shape_query, shape)), slot) in planned.iter().zip(shaped.iter()).zip(shapes.iter_mut()) {
            if slot.is_none()
                && let Some(shape) = shape
                && shape_query.replace(PLACEHOLDER, value) == query.query
            {
                *slot = Some((shape.clone(), value.clone()));
            }
        }
    }
    Ok(ServicePlan { window, planned, shapes })
}

/// The analysis's queries rendered with `overrides` (one of them [`PLACEHOLDER`]) and recognised.
fn shaped_queries(
    analysis: &crate::config::Analysis,
    window: crate::model::Window,
    overrides: &BTreeMap<String, String>,
    recognise: Recogniser,
) -> Shaped {
    let sides = resolve_sides(analysis, overrides).ok()?;
    let shaped = plan_queries(analysis, window, &sides, overrides).ok()?;
    let recognised = shaped.into_iter().map(|query| {
        let shape = recognise(&query.query, PLACEHOLDER);
        (query.query, shape)
    });
    Some(Arc::new(recognised.collect()))
}

/// `work` applied to every item, on as many threads as there are cores, results in order.
pub(crate) fn in_parallel<T: Send, R: Send>(items: Vec<T>, work: impl Fn(T) -> R + Sync) -> Vec<R> {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, items.len().max(1));
    let per_worker = items.len().div_ceil(workers).max(1);
    let mut chunks: Vec<Vec<T>> = Vec::with_capacity(workers);
    let mut items = items.into_iter();
    loop {
        let chunk: Vec<T> = items.by_ref().take(per_worker).collect();
        if chunk.is_empty() {
            break;
        }
        chunks.push(chunk);
    }
    let work = &work;
    std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| scope.spawn(move || chunk.into_iter().map(work).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|handle| handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
            .collect()
    })
}
