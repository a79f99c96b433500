//! The series budget of grouped queries: a grouped query may hold its services' `--max-series`
//! together (within the hard cap), and after the split each service's own share is held to its own
//! `--max-series`, so that exactly the services that would fail alone fail in a fleet.

use super::*;
use crate::model::{PointTime, QueryRole, Side, SourceDescription};
use crate::source::fetch::{Budget, GROUP_MAX_RESPONSE_BYTES, GROUP_MAX_SERIES};
use proptest::prelude::*;
use std::cell::RefCell;

const PLACEHOLDER: &str = "budgetPlaceholder1";
const SHAPE: &str = r#"sum by (instance) (rate(requests_total{deployment="PH"}[5m]))"#;

/// A source that answers `deployment="v"` or `deployment=~"a|b"` queries with each selected
/// value's series and refuses an answer of more series than the request's budget, as the HTTP
/// sources do; it records how many services each request answered for.
struct Budgeted {
    series_per_value: BTreeMap<String, usize>,
    max_series: usize,
    members_seen: RefCell<Vec<usize>>,
}

impl Budgeted {
    fn answer(&self, query: &str, members: usize) -> Result<Vec<Series>, SourceError> {
        let selected: Vec<&String> = self
            .series_per_value
            .keys()
            .filter(|value| {
                query.contains(&format!("\"{value}\"")) || query.contains(&format!("|{value}|")) || {
                    let list = query.split("=~\"").nth(1).and_then(|rest| rest.split('"').next()).unwrap_or("");
                    list.split('|').any(|v| v == value.as_str())
                }
            })
            .collect();
        let mut out = Vec::new();
        for value in selected {
            for instance in 0..self.series_per_value[value] {
                let mut labels = BTreeMap::from([("instance".to_string(), format!("i{instance}"))]);
                if query.contains("=~") {
                    labels.insert("deployment".into(), value.clone());
                }
                out.push(Series { labels, points: vec![crate::model::Point { time: 0, value: instance as f64 }] });
            }
        }
        let budget = Budget::for_members(self.max_series, u64::MAX, members);
        if out.len() > budget.max_series {
            return Err(SourceError::OverBudget(format!(
                "the query returned more than {} series, {}",
                budget.max_series,
                budget.series_limit()
            )));
        }
        Ok(out)
    }
}

impl MetricSource for Budgeted {
    fn description(&self) -> SourceDescription {
        SourceDescription { kind: "prometheus".into(), url: None, replay: None }
    }
    fn point_time(&self) -> PointTime {
        PointTime::IntervalEnd
    }
    fn fetch(&self, request: &QueryRequest<'_>) -> Result<Vec<Series>, SourceError> {
        self.answer(request.query, 1)
    }
    fn fetch_all_for(&self, requests: &[QueryRequest<'_>], members: &[usize]) -> Vec<Result<Vec<Series>, SourceError>> {
        self.members_seen.borrow_mut().extend_from_slice(members);
        requests.iter().zip(members).map(|(request, members)| self.answer(request.query, *members)).collect()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn a_group_budget_is_the_members_sum_within_the_hard_cap(
        max_series in 1usize..=10_000_000,
        max_bytes in 1u64..=(1 << 40),
        members in 1usize..=1_000,
    ) {
        let one = Budget::for_members(max_series, max_bytes, 1);
        prop_assert_eq!((one.max_series, one.max_response_bytes), (max_series, max_bytes));
        let group = Budget::for_members(max_series, max_bytes, members);
        // Never less than one service's own budget, never more than the sum.
        prop_assert!(group.max_series >= max_series && group.max_response_bytes >= max_bytes);
        prop_assert!(group.max_series as u128 <= max_series as u128 * members as u128);
        prop_assert!(group.max_response_bytes as u128 <= max_bytes as u128 * members as u128);
        // Bounded: above the hard cap only when one service alone is allowed more.
        prop_assert!(group.max_series <= GROUP_MAX_SERIES.max(max_series));
        prop_assert!(group.max_response_bytes <= GROUP_MAX_RESPONSE_BYTES.max(max_bytes));
        // The whole sum where it fits under the cap.
        if max_series * members <= GROUP_MAX_SERIES {
            prop_assert_eq!(group.max_series, max_series * members);
        }
        if (max_bytes as u128) * (members as u128) <= GROUP_MAX_RESPONSE_BYTES as u128 {
            prop_assert_eq!(group.max_response_bytes, max_bytes * members as u64);
        }
    }

    #[test]
    fn only_a_service_over_its_own_max_series_fails_in_a_group(
        counts in proptest::collection::vec(0usize..6, 2..60),
        max_series in 1usize..6,
    ) {
        let window = Window { start: 0, end: 600, step_seconds: 60, warmup_seconds: 0 };
        let values: Vec<String> = (0..counts.len()).map(|i| format!("svc-{i:03}")).collect();
        let source = Budgeted {
            series_per_value: values.iter().cloned().zip(counts.iter().copied()).collect(),
            max_series,
            members_seen: RefCell::new(Vec::new()),
        };
        let shape = groupable(&SHAPE.replace("PH", PLACEHOLDER), PLACEHOLDER).expect("groupable");
        let queries: Vec<String> = values.iter().map(|value| SHAPE.replace("PH", value)).collect();
        let wanted: Vec<Wanted<'_>> = values
            .iter()
            .zip(&queries)
            .map(|(value, query)| Wanted {
                request: QueryRequest { metric: "m", side: Side::Canary, role: QueryRole::Value, query, window },
                group: Some((&shape, value.as_str())),
            })
            .collect();
        let answers = fetch_grouped_within(&source, &wanted, max_series);
        // One grouped query with the services' budgets together; only when its answer is larger
        // than that does each service ask alone.
        let total: usize = counts.iter().sum();
        let asked_alone = if total > max_series * counts.len() { counts.len() } else { 0 };
        prop_assert_eq!(answers.backend_queries, 1 + asked_alone);
        let mut seen = vec![counts.len()];
        seen.extend(std::iter::repeat_n(1, asked_alone));
        prop_assert_eq!(source.members_seen.borrow().clone(), seen);
        for ((want, answer), count) in wanted.iter().zip(&answers.answers).zip(&counts) {
            let alone = source.fetch(&want.request);
            match (answer, alone) {
                (Ok(grouped), Ok(own)) => prop_assert_eq!(grouped, &own),
                (Err(grouped), Err(_)) => {
                    let message = grouped.to_string();
                    prop_assert!(*count > max_series);
                    prop_assert!(message.starts_with("metric `m`, canary value: the query returned"), "{}", message);
                    prop_assert!(message.contains("--max-series"), "{}", message);
                    if asked_alone == 0 {
                        prop_assert!(message.contains(&format!("more than --max-series {max_series}")), "{}", message);
                        prop_assert!(message.contains(want.request.query), "{}", message);
                    }
                }
                (grouped, alone) => prop_assert!(false, "grouped {:?}, alone {:?}", grouped, alone),
            }
        }
    }
}
