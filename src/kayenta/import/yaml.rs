//! The imported analysis written out as YAML: the header comment, source, template variables per
//! side, the Kayenta judgment with its thresholds, the weighted groups and the metrics.

use super::query::Variables;
use std::fmt::Write as _;
use std::path::Path;

/// One imported metric, as written.
pub(super) struct Metric {
    pub name: String,
    pub group: String,
    pub query: String,
    pub breakdown: Vec<String>,
    pub direction: &'static str,
    pub critical: bool,
    /// The lines of its `kayenta:` block.
    pub kayenta: Vec<String>,
}

/// Everything the written analysis says.
pub(super) struct Analysis<'a> {
    pub file: &'a Path,
    pub name: &'a str,
    pub description: Option<&'a str>,
    pub source: &'static str,
    pub variables: &'a Variables,
    pub pass_score: f64,
    pub marginal_score: f64,
    /// (group, weight), the weights positive.
    pub groups: &'a [(String, f64)],
    pub metrics: &'a [Metric],
}

/// YAML scalar: a JSON string is a valid double-quoted YAML string.
pub(super) fn quote(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_default()
}

pub(super) fn number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 { format!("{}", value as i64) } else { format!("{value}") }
}

impl Analysis<'_> {
    pub fn to_yaml(&self) -> String {
        let mut y = String::new();
        self.write_header(&mut y);
        self.write_variables(&mut y);
        self.write_judgment(&mut y);
        self.write_metrics(&mut y);
        y
    }

    fn write_header(&self, y: &mut String) {
        let name = quote(self.name);
        let _ = writeln!(
            y,
            "# Imported by `canary import kayenta` from {} (Kayenta canary config {name}).",
            self.file.display()
        );
        let _ =
            writeln!(y, "# Kayenta's judge decides (`judgment.judge: kayenta`): the same classifications and score as");
        let _ = writeln!(
            y,
            "# Kayenta's NetflixACAJudge. Compare with this project's judge by `canary judge --judge both`,"
        );
        let _ = writeln!(y, "# then opt into it with `judge: default`. See docs/migrating-from-kayenta.md.");
        let _ = writeln!(y, "version: 1");
        let _ = writeln!(y, "name: {name}");
        if let Some(description) = self.description {
            let _ = writeln!(y, "description: {}", quote(description));
        }
        let _ = writeln!(y, "source:\n  kind: {}", self.source);
        if self.source == "prometheus" {
            let _ = writeln!(y, "  url: http://localhost:9090  # set to your Prometheus (or pass --source-url)");
        }
    }

    /// Shared variables, then Kayenta's scope and location per side.
    fn write_variables(&self, y: &mut String) {
        let side_names = ["scope", "location"];
        let shared: Vec<&String> = self.variables.names.iter().filter(|n| !side_names.contains(&n.as_str())).collect();
        if !shared.is_empty() {
            let _ =
                writeln!(y, "# Kayenta's extendedScopeParams and other template variables: set them (or pass --var).");
            let _ = writeln!(y, "variables:");
            for name in shared {
                let _ = writeln!(y, "  {name}: \"\"");
            }
        }
        let (scope, location) = (self.variables.uses("scope"), self.variables.uses("location"));
        for (side, kayenta_scope) in [("baseline", "controlScope"), ("canary", "experimentScope")] {
            if scope || location {
                let _ = writeln!(y, "{side}:\n  variables:");
                if scope {
                    let _ = writeln!(y, "    scope: {}  # Kayenta's {kayenta_scope}", quote(side));
                }
                if location {
                    let _ = writeln!(
                        y,
                        "    location: \"\"  # Kayenta's {}Location",
                        if side == "baseline" { "control" } else { "experiment" }
                    );
                }
            }
        }
    }

    /// The window, the judgment and the groups.
    fn write_judgment(&self, y: &mut String) {
        let _ = writeln!(y, "window:\n  step: 1m  # Kayenta's default step");
        let _ = writeln!(
            y,
            "judgment:\n  judge: kayenta\n  pass_score: {}\n  marginal_score: {}",
            number(self.pass_score),
            number(self.marginal_score)
        );
        if self.groups.is_empty() {
            return;
        }
        let total: f64 = self.groups.iter().map(|g| g.1).sum();
        if (total - 100.0).abs() > 1e-9 {
            let _ =
                writeln!(y, "# Kayenta's weights sum to {} here; the Kayenta judge scales them to 100.", number(total));
        }
        let _ = writeln!(y, "groups:");
        for (group, weight) in self.groups {
            let _ = writeln!(y, "  - name: {}\n    weight: {}", quote(group), number(*weight));
        }
    }

    fn write_metrics(&self, y: &mut String) {
        let _ = writeln!(y, "metrics:");
        for metric in self.metrics {
            let _ = writeln!(y, "  - name: {}", quote(&metric.name));
            if self.groups.iter().any(|g| g.0 == metric.group) {
                let _ = writeln!(y, "    group: {}", quote(&metric.group));
            } else if let Some((first, _)) = self.groups.first() {
                let _ = writeln!(y, "    group: {}", quote(first));
            }
            let _ = writeln!(y, "    query: {}", quote(&metric.query));
            let _ = writeln!(y, "    direction: {}", metric.direction);
            if metric.critical {
                let _ = writeln!(y, "    critical: true");
            }
            if !metric.breakdown.is_empty() {
                let labels: Vec<String> = metric.breakdown.iter().map(|l| quote(l)).collect();
                let _ = writeln!(y, "    breakdown: [{}]", labels.join(", "));
            }
            if metric.kayenta.is_empty() {
                let _ = writeln!(y, "    kayenta: {{}}");
            } else {
                let _ = writeln!(y, "    kayenta:");
                for line in &metric.kayenta {
                    let _ = writeln!(y, "      {line}");
                }
            }
        }
    }
}
