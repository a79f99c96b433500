//! The endpoints of `canary serve` and what each answer means (docs/serve.md has the table):
//!
//! - `POST /flagger/{hook}`: Flagger's webhook payload. Gate hooks (`rollout`,
//!   `confirm-traffic-increase`, `confirm-promotion`) answer 200 only on a pass; `rollback`
//!   answers 200 only on a fail (Flagger rolls back on a 2xx). A judged "no" is 412.
//! - `POST /argo`: Argo Rollouts' `web` metric; any judged verdict is 200 with `verdict` at the
//!   top of the JSON (`successCondition: result.verdict == "pass"`).
//! - `GET /healthz`, `GET /metrics` (Prometheus text format): without authentication.
//!
//! Every answer is JSON but `/metrics`; nothing is judged before the caller is authenticated and
//! the body is read within its bound.

use super::Server;
use super::auth::authorized;
use super::judgment::{Bounds, Refusal, judge};
use super::requests::{JudgeRequest, parse_argo_request, parse_flagger_request};
use crate::judge::report::JudgmentReport;
use crate::model::Verdict;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Instant;

/// How long a caller may take to send its body (a slow sender holds no judgment slot, but a
/// connection).
const BODY_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// What a Flagger hook's 2xx means.
#[derive(Clone, Copy)]
enum Hook {
    /// Go ahead (the check passed, the traffic may increase, the canary may be promoted).
    Gate,
    /// Roll back now.
    Rollback,
}

/// The Flagger hooks that judge, with their endpoint label.
fn flagger_hook(name: &str) -> Option<(Hook, &'static str)> {
    Some(match name {
        "rollout" => (Hook::Gate, "flagger_rollout"),
        "confirm-traffic-increase" => (Hook::Gate, "flagger_confirm_traffic_increase"),
        "confirm-promotion" => (Hook::Gate, "flagger_confirm_promotion"),
        "rollback" => (Hook::Rollback, "flagger_rollback"),
        _ => return None,
    })
}

pub(crate) fn router(server: Arc<Server>) -> axum::Router {
    axum::Router::new()
        .route("/flagger/{hook}", post(flagger))
        .route("/argo", post(argo))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(server)
}

async fn flagger(
    State(server): State<Arc<Server>>,
    Path(hook_name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some((hook, endpoint)) = flagger_hook(&hook_name) else {
        let message = format!(
            "`{}` is not a hook canary judges: use rollout, confirm-traffic-increase, confirm-promotion or rollback",
            crate::input::excerpt(&hook_name)
        );
        return server.refuse("flagger_other", &Refusal::new(StatusCode::NOT_FOUND, message));
    };
    let started = Instant::now();
    let outcome = match server.read_request(&headers, body, parse_flagger_request).await {
        Ok(request) => server.judge(&request).await.map(|report| (request, report)),
        Err(refusal) => Err(refusal),
    };
    match outcome {
        Ok((request, report)) => {
            let verdict = verdict_name(report.verdict);
            let yes = match hook {
                Hook::Gate => report.verdict == Verdict::Pass,
                Hook::Rollback => report.verdict == Verdict::Fail,
            };
            let decision = match (hook, yes) {
                (Hook::Gate, true) => "proceed",
                (Hook::Gate, false) => "hold",
                (Hook::Rollback, true) => "roll_back",
                (Hook::Rollback, false) => "keep",
            };
            let status = if yes { StatusCode::OK } else { StatusCode::PRECONDITION_FAILED };
            server.metrics.judged(endpoint, verdict, started.elapsed().as_secs_f64());
            let body = json!({
                "verdict": verdict,
                "decision": decision,
                "hook": hook_name,
                "analysis": request.analysis,
                "reason": report.reason,
                "report": report_value(&report),
            });
            server.log(endpoint, &request, status, &format!("verdict={verdict} decision={decision}"), started);
            server.answer(endpoint, status, &body)
        }
        Err(refusal) => server.refuse(endpoint, &refusal),
    }
}

async fn argo(State(server): State<Arc<Server>>, headers: HeaderMap, body: Body) -> Response {
    let endpoint = "argo";
    let started = Instant::now();
    let request = match server.read_request(&headers, body, parse_argo_request).await {
        Ok(request) => request,
        Err(refusal) => return server.refuse(endpoint, &refusal),
    };
    match server.judge(&request).await {
        Ok(report) => {
            let verdict = verdict_name(report.verdict);
            server.metrics.judged(endpoint, verdict, started.elapsed().as_secs_f64());
            server.log(endpoint, &request, StatusCode::OK, &format!("verdict={verdict}"), started);
            let body = json!({
                "verdict": verdict,
                "analysis": request.analysis,
                "reason": report.reason,
                "report": report_value(&report),
            });
            server.answer(endpoint, StatusCode::OK, &body)
        }
        Err(refusal) => server.refuse(endpoint, &refusal),
    }
}

async fn healthz(State(server): State<Arc<Server>>) -> Response {
    let analyses = server.catalog().len();
    server.answer("healthz", StatusCode::OK, &json!({"status": "ok", "analyses": analyses}))
}

async fn metrics(State(server): State<Arc<Server>>) -> Response {
    server.metrics.answered("metrics", 200);
    let mut response = Response::new(Body::from(server.metrics.render()));
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4"));
    response
}

async fn not_found(State(server): State<Arc<Server>>) -> Response {
    let message = "no such endpoint: POST /flagger/{hook}, POST /argo, GET /healthz, GET /metrics";
    server.refuse("other", &Refusal::new(StatusCode::NOT_FOUND, message))
}

async fn method_not_allowed(State(server): State<Arc<Server>>) -> Response {
    let message = "method not allowed: judgments are POST, /healthz and /metrics are GET";
    server.refuse("other", &Refusal::new(StatusCode::METHOD_NOT_ALLOWED, message))
}

impl Server {
    /// Authenticates the caller, reads the body within its bound and parses it.
    async fn read_request(
        &self,
        headers: &HeaderMap,
        body: Body,
        parse: fn(&[u8]) -> Result<JudgeRequest, String>,
    ) -> Result<JudgeRequest, Refusal> {
        if let Some(secret) = &self.settings.secret
            && !authorized(headers.get(header::AUTHORIZATION).map(HeaderValue::as_bytes), secret.expose())
        {
            return Err(Refusal::new(
                StatusCode::UNAUTHORIZED,
                "missing or wrong credentials: send `Authorization: Bearer SECRET` or basic auth with the secret as password",
            ));
        }
        let max = self.settings.max_body_bytes;
        let too_large =
            || Refusal::new(StatusCode::PAYLOAD_TOO_LARGE, format!("the request body is larger than {max} bytes"));
        let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if declared.is_some_and(|length| length > max as u64) {
            return Err(too_large());
        }
        let read = tokio::time::timeout(BODY_READ_TIMEOUT, axum::body::to_bytes(body, max)).await.map_err(|_| {
            let seconds = BODY_READ_TIMEOUT.as_secs();
            Refusal::new(StatusCode::REQUEST_TIMEOUT, format!("the request body did not arrive within {seconds}s"))
        })?;
        let bytes: Bytes = read.map_err(|_| too_large())?;
        parse(&bytes).map_err(|message| Refusal::new(StatusCode::BAD_REQUEST, message))
    }

    async fn judge(&self, request: &JudgeRequest) -> Result<JudgmentReport, Refusal> {
        let bounds = Bounds {
            slots: &self.slots,
            max_judgments: self.settings.max_judgments,
            deadline: self.settings.deadline,
            now: self.settings.now,
        };
        let catalog = self.catalog();
        judge(&catalog, request, &bounds).await
    }

    fn refuse(&self, endpoint: &'static str, refusal: &Refusal) -> Response {
        if refusal.backend {
            self.metrics.backend_error();
        }
        eprintln!(
            "canary serve: {endpoint}: {} {}",
            refusal.status.as_u16(),
            crate::input::terminal_safe(&refusal.message)
        );
        let mut response = self.answer(endpoint, refusal.status, &json!({"error": refusal.message}));
        let headers = response.headers_mut();
        if refusal.status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"canary\", Bearer"));
        }
        if refusal.status == StatusCode::SERVICE_UNAVAILABLE {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        response
    }

    fn answer(&self, endpoint: &'static str, status: StatusCode, body: &Value) -> Response {
        self.metrics.answered(endpoint, status.as_u16());
        let mut response = Response::new(Body::from(body.to_string()));
        *response.status_mut() = status;
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        response
    }

    fn log(&self, endpoint: &str, request: &JudgeRequest, status: StatusCode, what: &str, started: Instant) {
        let caller = if request.caller.is_empty() { String::new() } else { format!(" {}", request.caller) };
        eprintln!(
            "canary serve: {endpoint}{caller}: analysis={} {what} -> {} in {:.2}s",
            crate::input::excerpt(&request.analysis),
            status.as_u16(),
            started.elapsed().as_secs_f64()
        );
    }
}

fn report_value(report: &JudgmentReport) -> Value {
    serde_json::to_value(report).unwrap_or(Value::Null)
}

/// The verdict as the JSON report names it.
fn verdict_name(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Pass => "pass",
        Verdict::Fail => "fail",
        Verdict::Inconclusive => "inconclusive",
        Verdict::FeatureOff => "feature_off",
    }
}
