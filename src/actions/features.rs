//! Feature actions: for each feature-scoped group that failed, the group's `action` (the flag
//! service's "turn this flag off" call) is sent through the rollback webhook's delivery
//! ([`webhook::deliver_request`]): the same `Idempotency-Key` (one per judgment and feature,
//! [`webhook::feature_key`]), timestamp and HMAC signature headers, the same bounded retries.
//!
//! The actions are rendered and their secrets read before judging, by the settings layer
//! (`settings::features`). When an action is not delivered, the verdict becomes fail, so the
//! deployment-level rollback fires as it would without feature groups.

use super::webhook::{self, Request, WebhookSettings};
use crate::judge::report::JudgmentReport;
use crate::model::Verdict;

/// One feature's action, rendered and ready to send.
#[derive(Debug, Clone)]
pub struct FeatureAction {
    pub feature: String,
    /// The request; its idempotency key is set per judgment when it is sent.
    pub request: Request,
    pub settings: WebhookSettings,
}

/// Calls the action of every failed feature and records the outcomes in the report. When one is
/// not delivered (a dry run counts as delivered for this), the verdict becomes fail, so that the
/// deployment-level rollback fires.
pub fn act(report: &mut JudgmentReport, actions: &[FeatureAction], now: i64) {
    let mut undelivered = Vec::new();
    for index in 0..report.features.len() {
        if !report.features[index].failed {
            continue;
        }
        let feature = report.features[index].feature.clone();
        let Some(action) = actions.iter().find(|a| a.feature == feature) else { continue };
        let mut request = action.request.clone();
        request.idempotency_key = webhook::feature_key(report, &feature);
        let outcome = webhook::deliver_request(&request, &action.settings, now);
        if !outcome.delivered && !outcome.dry_run {
            let error = outcome.error.clone().unwrap_or_else(|| "unknown error".into());
            eprintln!(
                "canary: ERROR: the action turning off feature `{feature}` ({}) was NOT delivered: {error}",
                outcome.url
            );
            undelivered.push(format!("{feature}: {error}"));
        }
        report.features[index].action = Some(outcome);
    }
    if !undelivered.is_empty() {
        report.reason = format!(
            "turning off feature(s) failed ({}), so the deployment is rolled back; {}",
            undelivered.join("; "),
            report.reason
        );
        report.verdict = Verdict::Fail;
    }
}
