//! One watched service across its looks: its plan, the features already turned off, its rollback
//! webhook, and what a look's report does to it (feature actions, early promotion, the end of
//! recorded data, the webhook at its first fail), exactly as for one analysis watched alone. A
//! watch of several analyses keeps one of these per service.

use super::events::Events;
use super::{Look, refuse_a_pass_without_evidence};
use crate::actions::features::{self, FeatureAction};
use crate::commands::judging::call_rollback_webhook;
use crate::error::CanaryError;
use crate::judge::report::{JudgmentReport, WebhookOutcome};
use crate::judge::sequential::{self, SequenceResult};
use crate::model::{Verdict, clock, window::format_timestamp};
use crate::settings::analysis::ResolvedAnalysis;
use crate::settings::rollback::Rollback;
use std::collections::BTreeMap;

/// How a service's watch ended.
pub(super) enum Ended {
    /// With this look's report (its verdict is the service's).
    Judged(Box<JudgmentReport>),
    /// Its look could not be judged (several analyses only: one analysis ends the run with it).
    Failed(CanaryError),
}

/// What every service's looks share: the flags of the run.
pub(super) struct Shared {
    pub(super) promote_early: bool,
    pub(super) lifetime: crate::model::Duration,
    /// The canary's start.
    pub(super) start: i64,
}

pub(super) struct Watched {
    /// Its name in the output of a watch of several analyses (`None`: one analysis).
    pub(super) name: Option<String>,
    pub(super) analysis_file: String,
    pub(super) resolved: ResolvedAnalysis,
    pub(super) feature_actions: Vec<FeatureAction>,
    /// Features turned off at an earlier look: their actions are not called again.
    turned_off: BTreeMap<String, WebhookOutcome>,
    pub(super) rollback: Option<Rollback>,
    pub(super) looks: Vec<Look>,
    /// The end of recorded data before the lifetime's (see `Plan`).
    pub(super) cut_at_data_end: Option<i64>,
    /// The index of the next look.
    pub(super) next: usize,
    pub(super) ended: Option<Ended>,
}

impl Watched {
    pub(super) fn new(
        name: Option<String>,
        analysis_file: String,
        resolved: ResolvedAnalysis,
        feature_actions: Vec<FeatureAction>,
        (looks, cut_at_data_end): (Vec<Look>, Option<i64>),
    ) -> Watched {
        Watched {
            name,
            analysis_file,
            resolved,
            feature_actions,
            turned_off: BTreeMap::new(),
            rollback: None,
            looks,
            cut_at_data_end,
            next: 0,
            ended: None,
        }
    }

    /// Its next look, while its watch goes on.
    pub(super) fn next_look(&self) -> Option<&Look> {
        if self.ended.is_some() { None } else { self.looks.get(self.next) }
    }

    /// Its watch ends: its look `next` could not be judged.
    pub(super) fn fail(&mut self, error: CanaryError, out: &mut Events) -> Result<(), CanaryError> {
        out.error(self.name.as_deref().unwrap_or(""), self.next + 1, &error)?;
        self.next += 1;
        self.ended = Some(Ended::Failed(error));
        Ok(())
    }

    /// Acts on the report of its look `next` as a watch of this analysis alone does, prints the
    /// look, and ends the service's watch at a fail, a promotion or its last look.
    pub(super) fn conclude(
        &mut self,
        mut report: JudgmentReport,
        sequences: Option<Vec<SequenceResult>>,
        points_fetched: usize,
        run: &Shared,
        out: &mut Events,
    ) -> Result<(), CanaryError> {
        let (index, look) = (self.next, self.looks[self.next]);
        refuse_a_pass_without_evidence(&mut report, look.alpha);
        let pending: Vec<FeatureAction> =
            self.feature_actions.iter().filter(|a| !self.turned_off.contains_key(&a.feature)).cloned().collect();
        features::act(&mut report, &pending, clock::now());
        for feature in &mut report.features {
            match (&feature.action, self.turned_off.get(&feature.feature)) {
                (None, Some(earlier)) if feature.failed => feature.action = Some(earlier.clone()),
                (Some(outcome), None) if outcome.delivered || outcome.dry_run => {
                    self.turned_off.insert(feature.feature.clone(), outcome.clone());
                }
                _ => {}
            }
        }
        if report.verdict == Verdict::Pass && !self.turned_off.is_empty() {
            let names: Vec<&str> = self.turned_off.keys().map(String::as_str).collect();
            report.verdict = Verdict::FeatureOff;
            report.reason =
                format!("{}; feature(s) turned off at an earlier look: {}", report.reason, names.join(", "));
        }
        let last_look = index + 1 == self.looks.len();
        // An early promotion is a decision of its own: the rest of the lifetime is not needed.
        // It needs every metric's sequence to rule out a regression beyond its margin, not only
        // the look's pass (which a sequence still reaching the "too little data" bar may give).
        let promoted = run.promote_early && sequential::promotable(&report, sequences.as_deref().unwrap_or_default());
        if let Some(data_end) = self.cut_at_data_end
            && last_look
            && !promoted
            && report.verdict == Verdict::Pass
        {
            report.verdict = Verdict::Inconclusive;
            report.reason = format!(
                "the recording ends at {}, before the end of the lifetime ({} from {}): the rest of the lifetime was never judged; {}",
                format_timestamp(data_end),
                run.lifetime,
                format_timestamp(run.start),
                report.reason
            );
        }
        let stop = report.verdict == Verdict::Fail;
        let inconclusive_end = last_look && report.verdict == Verdict::Inconclusive;
        if let Some(rollback) = &self.rollback
            && (stop || (inconclusive_end && rollback.on_inconclusive))
        {
            report.rollback = Some(call_rollback_webhook(&report, &rollback.webhook));
        }
        let name = self.name.as_deref();
        out.look((index + 1, self.looks.len()), &look, &report, points_fetched, sequences.as_deref(), name)?;
        if promoted && !last_look {
            out.promote(index + 1, &look, &report, name)?;
        }
        self.next += 1;
        if stop || promoted || last_look {
            out.finish(&report, name)?;
            self.ended = Some(Ended::Judged(Box::new(report)));
        }
        Ok(())
    }
}
