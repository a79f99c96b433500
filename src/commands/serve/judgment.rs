//! One judgment on request, with the engine of `canary judge` (`commands::judging::judge_source`):
//! the analysis from the catalogue, the request's variables checked as `--var` values are, the
//! live window of the analysis, within the bounds: a slot among `--max-judgments` (none free: 503
//! at once) and the deadline `--deadline` (overrun: 504). The slot is held by the worker thread
//! until its work really ends, so an abandoned judgment still counts against the bound.

use super::requests::JudgeRequest;
use crate::cli::WindowArgs;
use crate::commands::judging::judge_source;
use crate::config::template::resolve_sides;
use crate::error::{CanaryError, exit_code};
use crate::judge::report::JudgmentReport;
use crate::model::clock;
use crate::settings::serve::{Catalog, ServedAnalysis};
use crate::settings::window::live_window;
use axum::http::StatusCode;
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::Semaphore;

/// Why a request got no judgment: the status to answer and the message (never a secret: source
/// errors are scrubbed where they are made, and URLs redacted).
#[derive(Debug)]
pub(crate) struct Refusal {
    pub(crate) status: StatusCode,
    pub(crate) message: String,
    /// The source failed or the deadline passed (counted as a backend error).
    pub(crate) backend: bool,
}

impl Refusal {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Refusal {
        Refusal { status, message: message.into(), backend: false }
    }

    fn backend(status: StatusCode, message: impl Into<String>) -> Refusal {
        Refusal { status, message: message.into(), backend: true }
    }
}

/// What a judgment needs besides the request.
pub(crate) struct Bounds<'a> {
    pub(crate) slots: &'a Arc<Semaphore>,
    pub(crate) max_judgments: usize,
    pub(crate) deadline: std::time::Duration,
    pub(crate) now: Option<i64>,
}

/// Judges `request` against the catalogue.
pub(crate) async fn judge(
    catalog: &Catalog,
    request: &JudgeRequest,
    bounds: &Bounds<'_>,
) -> Result<JudgmentReport, Refusal> {
    let served = catalog.get(&request.analysis).cloned().ok_or_else(|| {
        let names: Vec<&str> = catalog.keys().map(String::as_str).collect();
        Refusal::new(
            StatusCode::NOT_FOUND,
            format!(
                "no analysis named `{}` is served (served: {})",
                crate::input::excerpt(&request.analysis),
                names.join(", ")
            ),
        )
    })?;
    // The `--var` check: every name used by a template, every value safe to put in a query.
    let sides = resolve_sides(&served.analysis, &request.variables)
        .map_err(|e| Refusal::new(StatusCode::BAD_REQUEST, e.to_string()))?;
    let permit = bounds.slots.clone().try_acquire_owned().map_err(|_| {
        Refusal::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{} judgments are running (--max-judgments); retry later", bounds.max_judgments),
        )
    })?;
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let (variables, now) = (request.variables.clone(), bounds.now);
    std::thread::Builder::new()
        .name("canary-serve-judgment".into())
        .spawn(move || {
            let _slot = permit;
            let now = now.unwrap_or_else(clock::now);
            let _ = sender.send(judge_now(&served, &sides, &variables, now));
        })
        .map_err(|e| Refusal::backend(StatusCode::SERVICE_UNAVAILABLE, format!("cannot start the judgment: {e}")))?;
    match tokio::time::timeout(bounds.deadline, receiver).await {
        Err(_) => Err(Refusal::backend(
            StatusCode::GATEWAY_TIMEOUT,
            format!(
                "timed out: the judgment did not finish within {} (--deadline); nothing was judged",
                crate::model::Duration::from_secs(bounds.deadline.as_secs())
            ),
        )),
        Ok(Err(_)) => Err(Refusal::backend(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the judgment stopped without a result (an internal error); nothing was judged",
        )),
        Ok(Ok(result)) => result.map_err(refusal_of),
    }
}

fn judge_now(
    served: &ServedAnalysis,
    sides: &crate::config::template::ResolvedSides,
    variables: &BTreeMap<String, String>,
    now: i64,
) -> Result<JudgmentReport, CanaryError> {
    let analysis = &served.analysis;
    let window = live_window(analysis, &WindowArgs::default(), now)?;
    let source = served.source.clone().open()?;
    judge_source(analysis, source.as_ref(), window, sides, variables, analysis.judgment.alpha, &BTreeMap::new())
}

/// A failed judgment's answer: the source unreachable is 502; an analysis the source refuses as
/// written (a query error) is the server's configuration, 500.
fn refusal_of(error: CanaryError) -> Refusal {
    let message = error.to_string();
    match error.exit_code() {
        exit_code::COULD_NOT_JUDGE => Refusal::backend(StatusCode::BAD_GATEWAY, message),
        _ => Refusal::backend(StatusCode::INTERNAL_SERVER_ERROR, message),
    }
}
