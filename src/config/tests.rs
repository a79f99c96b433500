//! Parsing and validation of analysis files.

use super::*;
use crate::model::{Duration, Margin, Side};
use std::collections::BTreeMap;
use std::path::Path;

const MINIMAL: &str = r#"
name: checkout
canary:
  variables:
    selector: 'deployment="{{ canary }}"'
baseline:
  variables:
    selector: 'deployment="checkout-stable"'
groups:
  - name: errors
    weight: 2
  - name: latency
metrics:
  - name: error_rate
    group: errors
    numerator: 'sum(increase(http_requests_total{ {{ selector }}, code=~"5.." }[{{ step }}]))'
    denominator: 'sum(increase(http_requests_total{ {{ selector }} }[{{ step }}]))'
    direction: increase
    margin: 20%
    critical: true
  - name: p99
    group: latency
    query: 'histogram_quantile(0.99, sum by (le) (rate(x_bucket{ {{ selector }} }[{{ range }}])))'
    range: 2m
    direction: increase
    margin: 5%
    thresholds:
      - statistic: p99
        max: 0.5
"#;

fn parse(text: &str) -> Result<Analysis, ConfigError> {
    Analysis::parse(text, Path::new("analyses/x.yaml"))
}

#[test]
fn a_complete_analysis_parses_with_defaults() {
    let analysis = parse(MINIMAL).unwrap();
    assert_eq!(analysis.name, "checkout");
    assert_eq!(analysis.window.step, Duration::from_secs(60));
    assert_eq!(analysis.judgment.alpha, 0.01);
    let errors = &analysis.metrics[0];
    assert_eq!(errors.kind(), MetricKind::Count);
    assert_eq!(errors.tests(), vec![TestKind::Rate]);
    assert_eq!(errors.margin, Some(Margin::Percent(20.0)));
    assert_eq!(analysis.metrics[1].kind(), MetricKind::Gauge);
    assert_eq!(analysis.group_weight("errors"), 2.0);
    assert_eq!(analysis.group_weight("latency"), 1.0);
}

#[test]
fn an_unknown_key_names_line_column_and_the_near_miss() {
    let text = MINIMAL.replace("    direction: increase\n    margin: 5%", "    directon: increase\n    margin: 5%");
    let err = parse(&text).unwrap_err().to_string();
    assert!(err.starts_with("analyses/x.yaml:25:5: unknown field `directon`, did you mean `direction`?"), "{err}");
    assert!(err.contains("25 |     directon: increase"), "{err}");
}

#[test]
fn a_wrong_type_or_bad_duration_names_the_field() {
    let err = parse(&MINIMAL.replace("range: 2m", "range: two minutes")).unwrap_err().to_string();
    assert!(
        err.contains("analyses/x.yaml:24:12:") && err.contains("field `range`") && err.contains("not a duration"),
        "{err}"
    );
    let err = parse(&MINIMAL.replace("weight: 2", "weight: heavy")).unwrap_err().to_string();
    assert!(err.contains(":11:13:") && err.contains("field `weight`"), "{err}");
    let err = parse(&MINIMAL.replace("direction: increase\n    margin: 20%", "direction: upward\n    margin: 20%"))
        .unwrap_err();
    let err = err.to_string();
    assert!(err.contains("field `direction`: unknown value `upward`"), "{err}");
}

#[test]
fn cross_field_rules_point_at_the_metric() {
    let err = parse(&MINIMAL.replace("    group: latency\n", "    group: latncy\n")).unwrap_err().to_string();
    assert!(
        err.contains("metric `p99`: group `latncy` is not declared under `groups`, did you mean `latency`?"),
        "{err}"
    );
    assert!(err.starts_with("analyses/x.yaml:21:11:"), "{err}");
    let err = parse(&MINIMAL.replace("margin: 20%", "margin: 0.01")).unwrap_err().to_string();
    assert!(err.contains("count metrics take a relative margin"), "{err}");
    let err = parse(&MINIMAL.replace("statistic: p99", "statistic: rate")).unwrap_err().to_string();
    assert!(err.contains("threshold on `rate` does not apply to a gauge metric"), "{err}");
}

#[test]
fn credentials_are_only_referenced() {
    let text = format!("{MINIMAL}source:\n  kind: prometheus\n  token: abc\n");
    let err = parse(&text).unwrap_err().to_string();
    assert!(err.contains("unknown field `token`") && err.contains("token_env"), "{err}");
    let text = format!("{MINIMAL}source:\n  kind: prometheus\n  headers:\n    Authorization: Bearer abc\n");
    let err = parse(&text).unwrap_err().to_string();
    assert!(err.contains("credentials must not be written") && !err.contains("Bearer abc"), "{err}");
}

#[test]
fn templates_resolve_per_side_and_offset_baselines_reuse_the_canary() {
    let analysis = parse(MINIMAL).unwrap();
    let overrides: BTreeMap<String, String> = [("canary".to_string(), "checkout-7f9c".to_string())].into();
    let sides = template::resolve_sides(&analysis, &overrides).unwrap();
    assert_eq!(sides.canary["selector"], "deployment=\"checkout-7f9c\"");
    assert_eq!(sides.baseline["selector"], "deployment=\"checkout-stable\"");
    let queries = template::render_metric(
        &analysis,
        &analysis.metrics[1],
        Side::Canary,
        &sides,
        &overrides,
        Duration::from_secs(60),
    )
    .unwrap();
    assert_eq!(
        queries[0].1,
        "histogram_quantile(0.99, sum by (le) (rate(x_bucket{ deployment=\"checkout-7f9c\" }[2m])))"
    );
    let missing = template::resolve_sides(&analysis, &BTreeMap::new()).unwrap_err();
    assert!(missing.to_string().contains("undefined variable `canary`"), "{missing}");

    let shifted = MINIMAL
        .replace("baseline:\n  variables:\n    selector: 'deployment=\"checkout-stable\"'", "baseline:\n  offset: 1h");
    let analysis = parse(&shifted).unwrap();
    let sides = template::resolve_sides(&analysis, &overrides).unwrap();
    assert_eq!(sides.baseline, sides.canary);
}

#[test]
fn feature_groups_need_a_well_formed_action() {
    let with_group = |group: &str| MINIMAL.replace("  - name: latency\n", &format!("  - name: latency\n{group}"));
    let action = "    feature: organic-search\n    action:\n      url: 'http://flags/api/{{ feature }}/off'\n";
    assert!(parse(&with_group(action)).is_ok(), "{:?}", parse(&with_group(action)).err());
    let cases = [
        ("    feature: organic-search\n", "`feature` needs an `action`"),
        ("    action:\n      url: 'http://flags/off'\n", "`action` needs a `feature`"),
        (
            "    feature: organic-search\n    action:\n      url: 'http://flags/off'\n      headers:\n        Authorization: Bearer x\n",
            "credentials must not be written",
        ),
        (
            "    feature: organic-search\n    action:\n      url: 'http://flags/off'\n      secret_env: A\n      secret_file: b\n",
            "secret_env or secret_file, not both",
        ),
    ];
    for (group, message) in cases {
        let err = parse(&with_group(group)).unwrap_err().to_string();
        assert!(err.contains(message), "{group:?}: {err}");
        assert!(!err.contains("Bearer x"), "{err}");
    }
}

#[test]
fn a_var_that_no_template_uses_is_an_error_naming_the_near_miss() {
    let analysis = parse(MINIMAL).unwrap();
    let overrides: BTreeMap<String, String> = [("canry".to_string(), "checkout-7f9c".to_string())].into();
    let err = template::resolve_sides(&analysis, &overrides).unwrap_err().to_string();
    assert!(err.starts_with("--var canry: no template of the analysis uses `canry`, did you mean `canary`?"), "{err}");
}

#[test]
fn var_values_that_could_close_a_string_or_selector_are_refused_unless_declared_fragments() {
    let analysis = parse(MINIMAL).unwrap();
    let injection = r#"checkout-errors"}[1m]) * 0 or 0.9 * increase(http_requests_total{deployment="checkout-baseline"#;
    let overrides: BTreeMap<String, String> = [("canary".to_string(), injection.to_string())].into();
    let err = template::resolve_sides(&analysis, &overrides).unwrap_err().to_string();
    assert!(err.starts_with("--var canary: `checkout-errors"), "{err}");
    assert!(err.contains("fragment_variables"), "{err}");
    for good in ["checkout-7f9c", "1.4.2", "us-east-1", "a_b:c/d"] {
        let overrides: BTreeMap<String, String> = [("canary".to_string(), good.to_string())].into();
        assert!(template::resolve_sides(&analysis, &overrides).is_ok(), "{good}");
    }
    let empty: BTreeMap<String, String> = [("canary".to_string(), String::new())].into();
    assert!(template::resolve_sides(&analysis, &empty).unwrap_err().to_string().contains("empty"));

    let fragments = MINIMAL.replace("name: checkout\n", "name: checkout\nfragment_variables: [canary]\n");
    let analysis = parse(&fragments).unwrap();
    assert!(template::resolve_sides(&analysis, &overrides).is_ok());
}

proptest::proptest! {
    /// No accepted value can end the PromQL string or the Datadog tag filter it is pasted into:
    /// lexing the rendered selector gives back exactly one string (or tag) equal to the value.
    #[test]
    fn no_accepted_value_closes_its_string_or_selector(value in proptest::prop_oneof![
        "[a-z0-9_.:/-]{0,10}[\"'`\\\\{}(),=~!| \n\t\\[\\]*+@#$\u{0}\u{1b}\u{7f}\u{85}\u{a0}\u{2028}]?[a-zA-Z0-9_.:/-]{0,10}",
        proptest::prelude::any::<String>(),
    ]) {
        if template::check_value("v", &value, false).is_ok() {
            let context: BTreeMap<String, String> = [("v".to_string(), value.clone())].into();
            let promql = template::render(r#"up{a="{{ v }}",b="x"}"#, &context, "q").unwrap();
            let inside = promql.strip_prefix("up{a=\"").unwrap();
            let end = inside.find(['"', '\\']).unwrap();
            proptest::prop_assert_eq!(&inside[..end], value.as_str());
            proptest::prop_assert_eq!(&inside[end..], r#"",b="x"}"#);
            let datadog = template::render("avg:m{service:{{ v }},env:prod}", &context, "q").unwrap();
            let tag = datadog.strip_prefix("avg:m{service:").unwrap();
            let end = tag.find([',', '}', ' ', '(', ')']).unwrap();
            proptest::prop_assert_eq!(&tag[..end], value.as_str());
            proptest::prop_assert_eq!(&tag[end..], ",env:prod}");
        }
    }
}

#[test]
fn validate_refuses_the_windows_judge_refuses() {
    let long_warmup = MINIMAL.replace("name: checkout\n", "name: checkout\nwindow:\n  last: 30m\n  warmup: 45m\n");
    let err = parse(&long_warmup).unwrap_err().to_string();
    assert!(err.contains("window: the warm-up (45m) is as long as the window (30m)"), "{err}");
    let huge_step = MINIMAL.replace("name: checkout\n", "name: checkout\nwindow:\n  step: 25h\n");
    let err = parse(&huge_step).unwrap_err().to_string();
    assert!(err.contains("between 1s and 24h"), "{err}");
    let long = MINIMAL.replace("name: checkout\n", "name: checkout\nwindow:\n  last: 1000h\n");
    assert!(parse(&long).unwrap_err().to_string().contains("longer than the limit of 744h"));
}

#[test]
fn a_source_field_of_the_other_kind_is_named_first_in_declaration_order() {
    let with = |source: &str| parse(&format!("source:\n{source}{MINIMAL}")).unwrap_err().to_string();
    let err = with("  kind: prometheus\n  api: v1\n  app_key_env: K\n");
    assert!(err.contains("source.app_key_env does not apply to a prometheus source"), "{err}");
    let err = with("  kind: datadog\n  ca_file: ca.pem\n  token_file: t\n");
    assert!(err.contains("source.token_file does not apply to a datadog source"), "{err}");
}

#[test]
fn the_too_little_data_bar_defaults_to_the_judgment_and_metrics_may_set_their_own() {
    let analysis = parse(MINIMAL).unwrap();
    assert_eq!(analysis.judgment.too_little_data_bar, 2.25);
    let bar = analysis.metrics[0].too_little_data(analysis.judgment.too_little_data_bar);
    assert_eq!(bar, TooLittleDataBar { limit: BarLimit::Ratio(2.25), setting: "judgment.too_little_data_bar" });

    let text = format!("{MINIMAL}judgment:\n  too_little_data_bar: 3\n")
        .replace("    critical: true\n", "    critical: true\n    too_little_data_bar: 1.5\n")
        .replace("    margin: 5%\n", "    margin: 5%\n    too_little_data_shift: 0.05\n");
    let analysis = parse(&text).unwrap();
    assert_eq!(analysis.judgment.too_little_data_bar, 3.0);
    let judgment = analysis.judgment.too_little_data_bar;
    assert_eq!(
        analysis.metrics[0].too_little_data(judgment),
        TooLittleDataBar { limit: BarLimit::Ratio(1.5), setting: "too_little_data_bar" }
    );
    assert_eq!(
        analysis.metrics[1].too_little_data(judgment),
        TooLittleDataBar { limit: BarLimit::Shift(0.05), setting: "too_little_data_shift" }
    );
}

#[test]
fn a_too_little_data_bar_out_of_range_is_an_error_naming_the_field() {
    let judgment = |bar: &str| parse(&format!("{MINIMAL}judgment:\n  too_little_data_bar: {bar}\n")).unwrap_err();
    for bar in ["1", "0.5", "-2", "1001", ".nan", ".inf"] {
        let err = judgment(bar).to_string();
        assert!(err.contains("judgment.too_little_data_bar must be a ratio above 1 and at most 1000"), "{bar}: {err}");
    }
    let metric = |field: &str| {
        parse(&MINIMAL.replace("    critical: true\n", &format!("    critical: true\n    {field}\n")))
            .unwrap_err()
            .to_string()
    };
    let err = metric("too_little_data_bar: 1");
    assert!(err.contains("metric `error_rate`: too_little_data_bar must be a ratio above 1"), "{err}");
    let err = metric("too_little_data_shift: 5");
    assert!(err.contains("metric `error_rate`: too_little_data_shift applies to gauges only"), "{err}");
    let gauge = |field: &str| {
        parse(&MINIMAL.replace("    margin: 5%\n", &format!("    margin: 5%\n    {field}\n"))).unwrap_err().to_string()
    };
    for shift in ["0", "-1", ".inf"] {
        let err = gauge(&format!("too_little_data_shift: {shift}"));
        assert!(err.contains("metric `p99`: too_little_data_shift must be a finite shift above 0"), "{shift}: {err}");
    }
    let err = gauge("too_little_data_shift: 0.1\n    too_little_data_bar: 2");
    assert!(err.contains("set one of too_little_data_bar (a ratio) and too_little_data_shift"), "{err}");
}

#[test]
fn the_drift_is_a_bounded_percentage_unset_by_default() {
    assert_eq!(parse(MINIMAL).unwrap().judgment.drift_fraction(), None);
    for (text, fraction) in [("3%", 0.03), ("'1%'", 0.01), ("50%", 0.5), ("12.5%", 0.125)] {
        let analysis = parse(&format!("{MINIMAL}judgment:\n  drift: {text}\n")).unwrap();
        let found = analysis.judgment.drift_fraction().unwrap();
        assert!((found - fraction).abs() < 1e-12, "{text}: {found}");
    }
    // Out of range, not a percentage, not a number: the field, the range and the value are named.
    for (text, shown) in [("0.5%", "0.5%"), ("51%", "51%"), ("0%", "0%"), ("3", "3"), ("0.03", "0.03")] {
        let err = parse(&format!("{MINIMAL}judgment:\n  drift: {text}\n")).unwrap_err().to_string();
        assert!(
            err.contains("judgment.drift must be a percentage from 1% to 50%") && err.contains(shown),
            "{text}: {err}"
        );
    }
    for text in ["-3%", "fast", ".nan"] {
        let err = parse(&format!("{MINIMAL}judgment:\n  drift: {text}\n")).unwrap_err().to_string();
        assert!(
            err.contains("judgment.drift") || err.contains("field `drift`") || err.contains("margin"),
            "{text}: {err}"
        );
    }
}
