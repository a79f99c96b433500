//! Unit tests and proptests of the long-run dispersion, drift and serial-dependence estimates.

use super::*;

fn reference() -> serde_json::Value {
    serde_json::from_str(include_str!("../../../tests/data/dependence_reference.json")).unwrap()
}

/// `[[events, exposure], ...]` of a reference case.
fn intervals_of(pairs: &serde_json::Value) -> Vec<IntervalCount> {
    let pair =
        |p: &serde_json::Value| IntervalCount { events: p[0].as_f64().unwrap(), exposure: p[1].as_f64().unwrap() };
    pairs.as_array().unwrap().iter().map(pair).collect()
}

fn close(actual: f64, expected: f64, tolerance: f64, what: &str) {
    assert!((actual - expected).abs() <= tolerance * expected.abs().max(1e-300), "{what}: {actual} vs {expected}");
}

#[test]
fn student_t_tails_and_quantiles_match_scipy() {
    let data = reference();
    for case in data["student_t"].as_array().unwrap() {
        let (t, df, sf, p, isf) = (
            case["t"].as_f64().unwrap(),
            case["df"].as_f64().unwrap(),
            case["sf"].as_f64().unwrap(),
            case["p"].as_f64().unwrap(),
            case["isf"].as_f64().unwrap(),
        );
        close(student_t_upper_tail(t, Some(df)), sf, 1e-6, &format!("t.sf({t}, {df})"));
        close(student_t_upper_quantile(p, Some(df)), isf, 1e-6, &format!("t.isf({p}, {df})"));
    }
}

#[test]
fn calibration_and_its_inverse_match_scipy() {
    for case in reference()["calibration"].as_array().unwrap() {
        let (p, df) = (case["p"].as_f64().unwrap(), case["df"].as_f64().unwrap());
        let calibrated = t_calibrated(p, Some(df));
        close(calibrated, case["calibrated"].as_f64().unwrap(), 1e-6, &format!("calibrated {p} {df}"));
        close(normal_tail_for(calibrated, Some(df)), p, 1e-6, &format!("inverse {p} {df}"));
    }
    assert_eq!(t_calibrated(0.003, None), 0.003);
}

#[test]
fn batch_dispersion_matches_a_brute_force_computation() {
    for case in reference()["batch_dispersion"].as_array().unwrap() {
        let side = |key: &str| intervals_of(&case[key]);
        let (canary, baseline) = (side("canary"), side("baseline"));
        let batches = case["batches"].as_u64().unwrap() as usize;
        let got = batch_dispersion(&canary, &baseline, case["fitted"].as_f64().unwrap(), batches);
        close(got.dispersion, case["dispersion"].as_f64().unwrap(), 1e-9, "dispersion");
        match case["df"].as_f64() {
            Some(df) => close(got.degrees_of_freedom.unwrap(), df, 1e-9, "df"),
            None => assert_eq!(got.degrees_of_freedom, None),
        }
    }
}

#[test]
fn the_drift_interval_matches_a_dense_matrix_computation() {
    for case in reference()["drift_interval"].as_array().unwrap() {
        let side = |key: &str| intervals_of(&case[key]);
        let (confidence, phi) = (case["confidence"].as_f64().unwrap(), case["phi"].as_f64().unwrap());
        let batches = case["batches"].as_u64().unwrap() as usize;
        let got =
            drift_rate_interval(&side("canary"), &side("baseline"), confidence, batches, phi, DriftSize::FromBatches);
        match (got, case["drift"].as_f64()) {
            (Some(found), Some(drift)) => {
                close(found.drift, drift, 1e-9, "drift");
                close(found.ci_low, case["ci_low"].as_f64().unwrap(), 1e-6, "ci_low");
                close(found.ci_high, case["ci_high"].as_f64().unwrap(), 1e-6, "ci_high");
            }
            (None, None) => {}
            (got, expected) => panic!("{got:?} against {expected:?}"),
        }
    }
}

#[test]
fn autocorrelation_inflation_matches_a_brute_force_computation() {
    for case in reference()["inflation"].as_array().unwrap() {
        let series: Vec<f64> = case["series"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        let lags = case["lags"].as_u64().unwrap() as usize;
        let known = case["known"].as_u64().unwrap() as usize;
        let expected = case["inflation"].as_f64().unwrap();
        close(autocorrelation_inflation(&series, lags, known), expected, 1e-9, "inflation");
    }
    assert_eq!(autocorrelation_inflation(&[1.0, 1.0, 1.0, 1.0, 1.0], 2, 1), 1.0);
    assert_eq!(autocorrelation_inflation(&[1.0, 2.0], 1, 0), 1.0);
}

#[test]
fn no_dispersion_keeps_the_exact_law() {
    assert_eq!(satterthwaite_df(1.0, 4), None);
    assert_eq!(satterthwaite_df(3.0, 4), Some(4.0 * 2.25));
    let flat = vec![IntervalCount { events: 10.0, exposure: 100.0 }; 10];
    assert_eq!(batch_dispersion(&flat, &flat, 1.0, 5).degrees_of_freedom, None);
}

/// Counts around `level` a minute with a deterministic scatter of about binomial size.
fn scattered(level: f64, seed: usize, wander: impl Fn(usize) -> f64) -> Vec<IntervalCount> {
    let jitter = |i: usize| ((i as f64 * 2.399_963 + seed as f64).sin() + (i as f64 * 0.7 + seed as f64).cos()) / 2.0;
    (0..30)
        .map(|i| {
            let mean = level * wander(i);
            IntervalCount { events: (mean + 1.7 * mean.sqrt() * jitter(i)).round().max(0.0), exposure: 1500.0 }
        })
        .collect()
}

#[test]
fn the_drift_interval_fires_on_a_slow_wander_and_not_on_binomial_noise() {
    let phi = crate::stats::confidence_sequence::drift_correlation(60.0);
    let baseline = scattered(120.0, 0, |_| 1.0);
    let steady = scattered(110.0, 5, |_| 1.0);
    assert_eq!(drift_rate_interval(&steady, &baseline, 0.98, LONG_RUN_BATCHES, phi, DriftSize::FromBatches), None);
    // ±20% over the window, one slow swing: the batches see it, the interval allows for it.
    let swing = |i: usize| 1.0 + 0.2 * (std::f64::consts::TAU * i as f64 / 30.0).sin();
    let wandering = scattered(110.0, 5, swing);
    let found =
        drift_rate_interval(&wandering, &baseline, 0.98, LONG_RUN_BATCHES, phi, DriftSize::FromBatches).expect("drift");
    assert!(found.drift >= DRIFT_FLOOR && found.drift <= DRIFT_CEILING, "{found:?}");
    assert!(found.inflation > 1.0, "{found:?}");
    let ratio = wandering.iter().map(|c| c.events).sum::<f64>() / baseline.iter().map(|c| c.events).sum::<f64>();
    assert!(found.ci_low < ratio && ratio < found.ci_high, "{found:?} around {ratio}");
    // Wider than the batch-means interval at the same level: it counts drift across batches.
    let fitted = ratio;
    let batch_means = crate::stats::dispersed_rate_test(
        &wandering,
        &baseline,
        fitted,
        crate::stats::Alternative::TwoSided,
        0.98,
        LONG_RUN_BATCHES,
    )
    .unwrap();
    assert!(found.ci_low < batch_means.ci_low && found.ci_high > batch_means.ci_high, "{found:?} vs {batch_means:?}");
}

#[test]
fn a_declared_drift_is_taken_as_given_and_widens_the_interval() {
    let phi = crate::stats::confidence_sequence::drift_correlation(60.0);
    let baseline = scattered(120.0, 0, |_| 1.0);
    let steady = scattered(110.0, 5, |_| 1.0);
    let interval =
        |canary: &[IntervalCount], size| drift_rate_interval(canary, &baseline, 0.98, LONG_RUN_BATCHES, phi, size);
    // No drift in the batches: declared, the interval exists anyway, at the declared σ (below
    // the floor and above the ceiling alike: neither estimated nor clamped).
    for sigma in [0.01, 0.08, 0.3] {
        let found = interval(&steady, DriftSize::Declared(sigma)).expect("declared");
        assert_eq!(found.drift, sigma);
    }
    let (narrow, wide) =
        (interval(&steady, DriftSize::Declared(0.01)).unwrap(), interval(&steady, DriftSize::Declared(0.08)).unwrap());
    assert!(wide.ci_low < narrow.ci_low && wide.ci_high > narrow.ci_high, "{wide:?} vs {narrow:?}");
    // Batches that show drift: a declaration at least that large is at least as wide.
    let swing = |i: usize| 1.0 + 0.2 * (std::f64::consts::TAU * i as f64 / 30.0).sin();
    let wandering = scattered(110.0, 5, swing);
    let seen = interval(&wandering, DriftSize::FromBatches).expect("drift");
    assert_eq!(interval(&wandering, DriftSize::Declared(seen.drift)), Some(seen));
    let declared = interval(&wandering, DriftSize::Declared(seen.drift + 0.05)).unwrap();
    assert!(declared.ci_low < seen.ci_low && declared.ci_high > seen.ci_high, "{declared:?} vs {seen:?}");
    // Wider than the exact binomial interval (no drift) at the same level.
    let total = |side: &[IntervalCount]| {
        (side.iter().map(|c| c.events).sum::<f64>(), side.iter().map(|c| c.exposure).sum::<f64>())
    };
    let ((x1, n1), (x2, n2)) = (total(&steady), total(&baseline));
    let exact =
        crate::stats::compare_rates(x1 as u64, n1, x2 as u64, n2, crate::stats::Alternative::TwoSided, 0.98, 1.0)
            .unwrap();
    assert!(wide.ci_low < exact.ci_low && wide.ci_high > exact.ci_high, "{wide:?} vs {exact:?}");
    // A declaration that is no drift at all gives no interval.
    for bad in [0.0, -0.1, f64::NAN, f64::INFINITY] {
        assert_eq!(interval(&steady, DriftSize::Declared(bad)), None);
    }
}

#[test]
fn the_drift_estimate_is_bounded_and_needs_a_visible_excess() {
    let phi = crate::stats::confidence_sequence::drift_correlation(60.0);
    let flat = vec![IntervalCount { events: 100.0, exposure: 1500.0 }; 30];
    assert_eq!(batch_drift(&flat, &flat, 1.0, LONG_RUN_BATCHES, phi), None);
    // Half the window at twice the rate: far more than the ceiling credits.
    let jump: Vec<IntervalCount> =
        (0..30).map(|i| IntervalCount { events: if i < 15 { 200.0 } else { 100.0 }, exposure: 1500.0 }).collect();
    assert_eq!(batch_drift(&jump, &flat, 1.5, LONG_RUN_BATCHES, phi), Some(DRIFT_CEILING));
    // Two batches only: nothing to estimate.
    assert_eq!(batch_drift(&jump[..2], &flat[..2], 1.5, LONG_RUN_BATCHES, phi), None);
}

proptest::proptest! {
    /// The calibrated p-value is never smaller than the normal one (few degrees of freedom only
    /// ever cost evidence), and the inverse tail undoes it.
    #[test]
    fn calibration_only_ever_weakens_evidence(p in 1e-12f64..0.5, df in 1.0f64..1e6) {
        let calibrated = t_calibrated(p, Some(df));
        proptest::prop_assert!(calibrated >= p * (1.0 - 1e-7), "{p} {df}: {calibrated}");
        proptest::prop_assert!(normal_tail_for(0.01, Some(df)) <= 0.01 * (1.0 + 1e-9));
    }

    /// The inflation stays within [1, n] for any finite series.
    #[test]
    fn inflation_is_bounded(
        series in proptest::collection::vec(-1e6f64..1e6, 0..60),
        lags in 0usize..20,
        known in 0usize..3,
    ) {
        let f = autocorrelation_inflation(&series, lags, known);
        proptest::prop_assert!(f >= 1.0 && f <= series.len().max(1) as f64, "{f}");
    }

    /// A larger declared drift never narrows the interval (the score's variance only grows).
    #[test]
    fn a_larger_declared_drift_never_narrows_the_interval(
        counts in proptest::collection::vec((0.0f64..1e5, 1.0f64..1e6, 0.0f64..1e5, 1.0f64..1e6), 3..40),
        small in 0.01f64..0.5,
        more in 0.0f64..0.5,
    ) {
        let (canary, baseline): (Vec<IntervalCount>, Vec<IntervalCount>) = counts
            .iter()
            .map(|&(x1, n1, x2, n2)| {
                (IntervalCount { events: x1.min(n1).floor(), exposure: n1 }, IntervalCount { events: x2.min(n2).floor(), exposure: n2 })
            })
            .unzip();
        let phi = crate::stats::confidence_sequence::drift_correlation(60.0);
        let at = |sigma| drift_rate_interval(&canary, &baseline, 0.98, LONG_RUN_BATCHES, phi, DriftSize::Declared(sigma));
        if let (Some(narrow), Some(wide)) = (at(small), at(small + more)) {
            proptest::prop_assert!(wide.ci_low <= narrow.ci_low * (1.0 + 1e-6), "{wide:?} vs {narrow:?}");
            proptest::prop_assert!(wide.ci_high >= narrow.ci_high * (1.0 - 1e-6), "{wide:?} vs {narrow:?}");
        }
    }

    /// Whatever the counts (zero-event intervals, one huge batch, counts up to the rate test's
    /// bound), a drift interval is finite, positive and ordered, its inflation at least 1, and
    /// its drift lies within the floor and ceiling: nothing non-finite reaches the JSON.
    #[test]
    fn the_drift_interval_is_always_finite_and_ordered(
        counts in proptest::collection::vec((0.0f64..1e9, 1.0f64..1e10, 0.0f64..1e9, 1.0f64..1e10), 3..60),
        zeros in proptest::collection::vec(proptest::bool::ANY, 60),
        confidence in 0.5f64..0.99999,
    ) {
        let (canary, baseline): (Vec<IntervalCount>, Vec<IntervalCount>) = counts
            .iter()
            .zip(&zeros)
            .map(|(&(x1, n1, x2, n2), &zero)| {
                let x1 = if zero { 0.0 } else { x1.min(n1).floor() };
                (IntervalCount { events: x1, exposure: n1 }, IntervalCount { events: x2.min(n2).floor(), exposure: n2 })
            })
            .unzip();
        let phi = crate::stats::confidence_sequence::drift_correlation(60.0);
        if let Some(found) = drift_rate_interval(&canary, &baseline, confidence, LONG_RUN_BATCHES, phi, DriftSize::FromBatches) {
            proptest::prop_assert!(found.ci_low.is_finite() && found.ci_high.is_finite(), "{found:?}");
            proptest::prop_assert!(0.0 < found.ci_low && found.ci_low <= found.ci_high, "{found:?}");
            proptest::prop_assert!((DRIFT_FLOOR..=DRIFT_CEILING).contains(&found.drift), "{found:?}");
            proptest::prop_assert!(found.inflation.is_finite() && found.inflation >= 1.0, "{found:?}");
        }
    }
}
