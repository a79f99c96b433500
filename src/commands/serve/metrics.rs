//! The counters `canary serve` keeps (the only state between requests besides the analyses), and
//! `/metrics` in Prometheus's text exposition format: answers by endpoint and status, judgments by
//! endpoint and verdict, a judgment-latency histogram, backend errors, the analyses loaded and the
//! reloads.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 10] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
struct Counters {
    answers: BTreeMap<(&'static str, u16), u64>,
    judgments: BTreeMap<(&'static str, &'static str), u64>,
    latency: BTreeMap<&'static str, Histogram>,
    backend_errors: u64,
    analyses: usize,
    reloads: BTreeMap<&'static str, u64>,
}

/// The server's counters.
#[derive(Default)]
pub(crate) struct Metrics {
    counters: Mutex<Counters>,
}

impl Metrics {
    fn with(&self, change: impl FnOnce(&mut Counters)) {
        // A poisoned lock (a panic elsewhere) still counts: the counters stay consistent.
        let mut counters = self.counters.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        change(&mut counters);
    }

    /// An answer of `endpoint` with `status`.
    pub(crate) fn answered(&self, endpoint: &'static str, status: u16) {
        self.with(|c| *c.answers.entry((endpoint, status)).or_default() += 1);
    }

    /// A finished judgment and how long it took.
    pub(crate) fn judged(&self, endpoint: &'static str, verdict: &'static str, seconds: f64) {
        self.with(|c| {
            *c.judgments.entry((endpoint, verdict)).or_default() += 1;
            let histogram = c.latency.entry(endpoint).or_default();
            for (bound, count) in BUCKETS.iter().zip(histogram.counts.iter_mut()) {
                if seconds <= *bound {
                    *count += 1;
                }
            }
            histogram.count += 1;
            histogram.sum += seconds;
        });
    }

    /// A judgment that could not be made: the source failed or the deadline passed.
    pub(crate) fn backend_error(&self) {
        self.with(|c| c.backend_errors += 1);
    }

    pub(crate) fn loaded(&self, analyses: usize, reload: Option<bool>) {
        self.with(|c| {
            if reload != Some(false) {
                c.analyses = analyses;
            }
            if let Some(ok) = reload {
                *c.reloads.entry(if ok { "success" } else { "failure" }).or_default() += 1;
            }
        });
    }

    /// The exposition text.
    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        self.with(|c| {
            let w = &mut out;
            header(w, "canary_serve_answers_total", "counter", "HTTP answers by endpoint and status code.");
            for ((endpoint, status), n) in &c.answers {
                let _ = writeln!(w, "canary_serve_answers_total{{endpoint=\"{endpoint}\",status=\"{status}\"}} {n}");
            }
            header(w, "canary_serve_judgments_total", "counter", "Judgments made, by endpoint and verdict.");
            for ((endpoint, verdict), n) in &c.judgments {
                let _ =
                    writeln!(w, "canary_serve_judgments_total{{endpoint=\"{endpoint}\",verdict=\"{verdict}\"}} {n}");
            }
            let name = "canary_serve_judgment_duration_seconds";
            header(w, name, "histogram", "Time to fetch and judge, by endpoint.");
            for (endpoint, histogram) in &c.latency {
                for (bound, count) in BUCKETS.iter().zip(histogram.counts) {
                    let _ = writeln!(w, "{name}_bucket{{endpoint=\"{endpoint}\",le=\"{bound}\"}} {count}");
                }
                let _ = writeln!(w, "{name}_bucket{{endpoint=\"{endpoint}\",le=\"+Inf\"}} {}", histogram.count);
                let _ = writeln!(w, "{name}_sum{{endpoint=\"{endpoint}\"}} {}", histogram.sum);
                let _ = writeln!(w, "{name}_count{{endpoint=\"{endpoint}\"}} {}", histogram.count);
            }
            let name = "canary_serve_backend_errors_total";
            header(w, name, "counter", "Judgments that could not be made: source errors and overrun deadlines.");
            let _ = writeln!(w, "{name} {}", c.backend_errors);
            header(w, "canary_serve_analyses", "gauge", "Analyses being served.");
            let _ = writeln!(w, "canary_serve_analyses {}", c.analyses);
            header(w, "canary_serve_reloads_total", "counter", "Reloads on SIGHUP, by result.");
            for result in ["success", "failure"] {
                let n = c.reloads.get(result).copied().unwrap_or(0);
                let _ = writeln!(w, "canary_serve_reloads_total{{result=\"{result}\"}} {n}");
            }
        });
        out
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_histogram_is_cumulative() {
        let metrics = Metrics::default();
        metrics.judged("argo", "pass", 0.3);
        metrics.judged("argo", "fail", 20.0);
        metrics.answered("argo", 200);
        let text = metrics.render();
        assert!(text.contains("canary_serve_judgment_duration_seconds_bucket{endpoint=\"argo\",le=\"0.25\"} 0\n"));
        assert!(text.contains("canary_serve_judgment_duration_seconds_bucket{endpoint=\"argo\",le=\"0.5\"} 1\n"));
        assert!(text.contains("canary_serve_judgment_duration_seconds_bucket{endpoint=\"argo\",le=\"+Inf\"} 2\n"));
        assert!(text.contains("canary_serve_judgments_total{endpoint=\"argo\",verdict=\"fail\"} 1\n"));
        assert!(text.contains("canary_serve_answers_total{endpoint=\"argo\",status=\"200\"} 1\n"));
    }
}
