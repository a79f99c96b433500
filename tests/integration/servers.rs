//! Real Prometheus and VictoriaMetrics servers for the live tests, loaded with deterministic data.
//!
//! * [`Dataset`]: 40 minutes of a checkout service (2026-11-20 10:00 to 10:40 UTC, a sample every
//!   15 s) for five deployments: `checkout-baseline`, `checkout-healthy` (the same behaviour),
//!   `checkout-slow` (latency x1.5), `checkout-errors` (5xx x8) and `checkout-deploy` (latency
//!   x1.5 from 10:20 on, for a before/after comparison). Seeded, so every run has the same bytes.
//! * [`prometheus`]: `promtool tsdb create-blocks-from openmetrics`, then `prometheus` on a free
//!   loopback port over those blocks (long retention, no scrape targets).
//! * [`Server::prometheus_scraping`]: a Prometheus of its own for one test, scraping live targets
//!   (the real-time tests of `realtime.rs`).
//! * [`victoria_metrics`]: `victoria-metrics` on a free loopback port, the same data imported
//!   through `/api/v1/import/prometheus` and flushed.
//!
//! Each server starts once per test binary, on first use, and is shared by the tests (which run
//! in parallel threads). Statics are never dropped, so every server runs under a small `sh`
//! wrapper that holds a pipe to this process on its standard input: when the test binary exits
//! (normally, by a panic or by a signal) the pipe closes, and the wrapper kills the server and
//! removes its directory. A [`Server`] that is dropped does the same at once.
//!
//! The binaries come from Debian's `prometheus` and `victoria-metrics` packages (`.ci/run`
//! installs them). Only std: raw HTTP/1.1 over `TcpStream` for readiness, import and queries.

use serde_json::Value;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// Time layout

/// First sample: 2026-11-20T10:00:00Z (unix seconds). Every deployment starts here.
pub const DATA_START: i64 = 1_795_168_800;
/// Last sample: 2026-11-20T10:40:00Z.
pub const DATA_END: i64 = 1_795_171_200;
/// Scrape interval of the generated samples, in seconds.
pub const SCRAPE: i64 = 15;
/// When `checkout-deploy` becomes slow: 2026-11-20T10:20:00Z (samples after it are slow).
pub const DEPLOY_AT: i64 = DATA_START + 20 * 60;

/// The side-by-side window of the live tests (30 minutes, the analysis's `last: 30m`).
pub const WINDOW_START: &str = "2026-11-20T10:10:00Z";
pub const WINDOW_END: &str = "2026-11-20T10:40:00Z";
/// The before/after window: its baseline, 15 minutes earlier (10:07 to 10:20), lies wholly before
/// the deploy, and the canary's (10:22 to 10:35) wholly after it, `rate(...[2m])` included.
pub const AFTER_START: &str = "2026-11-20T10:22:00Z";
pub const AFTER_END: &str = "2026-11-20T10:35:00Z";

/// Upper bounds of the latency histogram's buckets (seconds), `+Inf` last.
pub const BUCKETS: [f64; 15] =
    [0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.75, 1.0, 1.5, 2.5, 5.0, f64::INFINITY];

/// The deployments in the data, and how each differs from the baseline.
pub const DEPLOYMENTS: [Deployment; 5] = [
    Deployment { name: "checkout-baseline", latency: 1.0, errors: 1.0, latency_from: None },
    Deployment { name: "checkout-healthy", latency: 1.0, errors: 1.0, latency_from: None },
    Deployment { name: "checkout-slow", latency: 1.5, errors: 1.0, latency_from: None },
    Deployment { name: "checkout-errors", latency: 1.0, errors: 8.0, latency_from: None },
    Deployment { name: "checkout-deploy", latency: 1.5, errors: 1.0, latency_from: Some(DEPLOY_AT) },
];

#[derive(Debug, Clone, Copy)]
pub struct Deployment {
    pub name: &'static str,
    /// Latency multiplier (of every request's duration).
    pub latency: f64,
    /// Error-probability multiplier.
    pub errors: f64,
    /// The latency multiplier applies to samples after this instant only (`None`: always).
    pub latency_from: Option<i64>,
}

// Baseline behaviour, per deployment.
const REQUESTS_PER_SCRAPE: f64 = 225.0; // 900 a minute
const SESSIONS_PER_SCRAPE: f64 = 25.0; // 100 a minute
const LATENCY_MEDIAN: f64 = 0.18; // seconds; lognormal, p99 ~0.58 s
const LATENCY_SIGMA: f64 = 0.5;
const ERROR_PROBABILITY: f64 = 0.02;
const CONVERSION: f64 = 0.3;
const SEED: u64 = 20_261_120;

// ---------------------------------------------------------------------------------------------
// Deterministic data

/// SplitMix64 (Steele, Lea and Flood 2014): tiny, seeded, good enough for test data.
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1).
    pub fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    /// Poisson (Knuth's product of uniforms; fine for the means used here, below ~500).
    pub fn poisson(&mut self, mean: f64) -> u64 {
        let limit = (-mean).exp();
        let (mut count, mut product) = (0, self.uniform());
        while product > limit {
            count += 1;
            product *= self.uniform();
        }
        count
    }

    /// Binomial, as `n` Bernoulli draws.
    pub fn binomial(&mut self, n: u64, p: f64) -> u64 {
        (0..n).filter(|_| self.uniform() < p).count() as u64
    }
}

/// A slow AR(1) drift around 1 (multiplicative), one value per scrape interval.
fn drift(rng: &mut SplitMix64, slots: usize, sd: f64, time_constant_slots: f64) -> Vec<f64> {
    let phi = (-1.0 / time_constant_slots).exp();
    let innovation = sd * (1.0 - phi * phi).sqrt();
    let mut x = sd * rng.normal();
    (0..slots)
        .map(|_| {
            x = phi * x + innovation * rng.normal();
            x.exp()
        })
        .collect()
}

/// One time series: a metric name, its labels and a value at every sample time.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub labels: Vec<(&'static str, String)>,
    pub values: Vec<f64>,
}

impl Series {
    fn new(name: &str, labels: Vec<(&'static str, String)>, slots: usize) -> Series {
        Series { name: name.to_string(), labels, values: vec![0.0; slots] }
    }

    fn label_text(&self) -> String {
        let mut text = String::new();
        for (i, (key, value)) in self.labels.iter().enumerate() {
            let _ = write!(text, "{}{key}=\"{value}\"", if i == 0 { "" } else { "," });
        }
        format!("{}{{{text}}}", self.name)
    }

    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels.iter().find(|(k, _)| *k == key).map(|(_, v)| v.as_str())
    }
}

/// The checkout service's metrics for every deployment.
pub struct Dataset {
    /// Sample times (unix seconds), `DATA_START` to `DATA_END` every `SCRAPE`.
    pub times: Vec<i64>,
    /// Per deployment (in `DEPLOYMENTS` order): the counters and the histogram.
    pub deployments: Vec<DeploymentSeries>,
}

pub struct DeploymentSeries {
    pub name: &'static str,
    /// `http_requests_total{deployment, code="200"}` and `{code="500"}`.
    pub requests: [Series; 2],
    /// `http_request_duration_seconds_bucket{deployment, le}`, one per `BUCKETS` entry.
    pub buckets: Vec<Series>,
    pub duration_sum: Series,
    pub duration_count: Series,
    pub sessions: Series,
    pub checkouts: Series,
}

impl DeploymentSeries {
    fn counters(&self) -> impl Iterator<Item = &Series> {
        self.requests.iter().chain([&self.sessions, &self.checkouts])
    }

    /// Every series of the histogram, in exposition order for one sample time.
    fn histogram(&self) -> impl Iterator<Item = &Series> {
        self.buckets.iter().chain([&self.duration_sum, &self.duration_count])
    }
}

/// The dataset every server holds (generated once).
pub fn dataset() -> &'static Dataset {
    static DATA: LazyLock<Dataset> = LazyLock::new(Dataset::generate);
    &DATA
}

fn le_text(bound: f64) -> String {
    if bound.is_infinite() { "+Inf".to_string() } else { format!("{bound}") }
}

impl Dataset {
    pub fn generate() -> Dataset {
        let times: Vec<i64> = (DATA_START..=DATA_END).step_by(SCRAPE as usize).collect();
        let slots = times.len();
        // Load shared by all deployments: a slow wave (+-15% over 30 minutes) and an AR(1)
        // wobble (sd 5%, time constant 5 minutes), as traffic moves together on all pods.
        let mut shared = SplitMix64::new(SEED);
        let wobble = drift(&mut shared, slots, 0.05, 20.0);
        let load: Vec<f64> = (0..slots)
            .map(|i| {
                let minutes = (times[i] - DATA_START) as f64 / 60.0;
                (1.0 + 0.15 * (std::f64::consts::TAU * minutes / 30.0).sin()) * wobble[i]
            })
            .collect();
        let deployments = DEPLOYMENTS
            .iter()
            .enumerate()
            .map(|(index, deployment)| generate_deployment(deployment, index as u64, &times, &load))
            .collect();
        Dataset { times, deployments }
    }

    pub fn deployment(&self, name: &str) -> &DeploymentSeries {
        self.deployments.iter().find(|d| d.name == name).unwrap_or_else(|| panic!("no deployment {name}"))
    }

    /// Index of the sample at `time` (which must be a sample time).
    pub fn slot(&self, time: i64) -> usize {
        self.times.binary_search(&time).unwrap_or_else(|_| panic!("{time} is not a sample time"))
    }

    fn all_series(&self) -> impl Iterator<Item = &Series> {
        self.deployments.iter().flat_map(|d| d.counters().chain(d.histogram()))
    }

    /// OpenMetrics text for `promtool tsdb create-blocks-from openmetrics`: timestamps in
    /// seconds, metric families with their `# TYPE`, each histogram point's lines together,
    /// `# EOF` at the end.
    pub fn openmetrics(&self) -> String {
        let mut text = String::with_capacity(4 << 20);
        let mut counter = |family: &str, pick: &dyn Fn(&DeploymentSeries) -> Vec<&Series>| {
            let _ = writeln!(text, "# TYPE {family} counter");
            for series in self.deployments.iter().flat_map(pick) {
                let name = series.label_text();
                for (time, value) in self.times.iter().zip(&series.values) {
                    let _ = writeln!(text, "{name} {value} {time}");
                }
            }
        };
        counter("http_requests", &|d| d.requests.iter().collect());
        counter("checkout_sessions", &|d| vec![&d.sessions]);
        counter("checkouts", &|d| vec![&d.checkouts]);
        let _ = writeln!(text, "# TYPE http_request_duration_seconds histogram");
        for deployment in &self.deployments {
            let names: Vec<String> = deployment.histogram().map(Series::label_text).collect();
            for (slot, time) in self.times.iter().enumerate() {
                for (name, series) in names.iter().zip(deployment.histogram()) {
                    let _ = writeln!(text, "{name} {} {time}", series.values[slot]);
                }
            }
        }
        text.push_str("# EOF\n");
        text
    }

    /// Prometheus text exposition with millisecond timestamps, for VictoriaMetrics'
    /// `/api/v1/import/prometheus`.
    pub fn prometheus_text(&self) -> String {
        let mut text = String::with_capacity(4 << 20);
        for series in self.all_series() {
            let name = series.label_text();
            for (time, value) in self.times.iter().zip(&series.values) {
                let _ = writeln!(text, "{name} {value} {}", time * 1000);
            }
        }
        text
    }

    /// Number of series and of samples.
    pub fn size(&self) -> (usize, usize) {
        let series = self.all_series().count();
        (series, series * self.times.len())
    }
}

fn generate_deployment(deployment: &Deployment, index: u64, times: &[i64], load: &[f64]) -> DeploymentSeries {
    let slots = times.len();
    let mut rng = SplitMix64::new(SEED ^ (index + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    // Per-deployment drift (uneven routing, a slower host, a different mix of users), time
    // constant 10 minutes: traffic sd 5%, latency sd 3%, errors sd 5%, conversion sd 2%.
    let traffic = drift(&mut rng, slots, 0.05, 40.0);
    let slowness = drift(&mut rng, slots, 0.03, 40.0);
    let error_drift = drift(&mut rng, slots, 0.05, 40.0);
    let conversion_drift = drift(&mut rng, slots, 0.02, 40.0);
    let labels = |extra: Option<(&'static str, String)>| {
        let mut labels = vec![("deployment", deployment.name.to_string())];
        labels.extend(extra);
        labels
    };
    let mut series = DeploymentSeries {
        name: deployment.name,
        requests: [
            Series::new("http_requests_total", labels(Some(("code", "200".into()))), slots),
            Series::new("http_requests_total", labels(Some(("code", "500".into()))), slots),
        ],
        buckets: BUCKETS
            .iter()
            .map(|&le| Series::new("http_request_duration_seconds_bucket", labels(Some(("le", le_text(le)))), slots))
            .collect(),
        duration_sum: Series::new("http_request_duration_seconds_sum", labels(None), slots),
        duration_count: Series::new("http_request_duration_seconds_count", labels(None), slots),
        sessions: Series::new("checkout_sessions_total", labels(None), slots),
        checkouts: Series::new("checkouts_total", labels(None), slots),
    };
    // Counters start at 0 with the deployment at DATA_START; slot i counts the events in
    // (times[i-1], times[i]].
    let mut bucket_counts = vec![0u64; BUCKETS.len()];
    let (mut ok, mut failed, mut sum, mut sessions, mut checkouts) = (0u64, 0u64, 0.0f64, 0u64, 0u64);
    for slot in 1..slots {
        let requests = rng.poisson(REQUESTS_PER_SCRAPE * load[slot] * traffic[slot]);
        let errors = rng.binomial(requests, (ERROR_PROBABILITY * deployment.errors * error_drift[slot]).min(1.0));
        ok += requests - errors;
        failed += errors;
        let slow = match deployment.latency_from {
            Some(from) if times[slot] <= from => 1.0,
            _ => deployment.latency,
        };
        // Latency grows a little with load (shared) and with the deployment's own drift.
        let median = LATENCY_MEDIAN * slow * load[slot].sqrt() * slowness[slot];
        for _ in 0..requests {
            let duration = median * (LATENCY_SIGMA * rng.normal()).exp();
            sum += duration;
            let first = BUCKETS.iter().position(|&le| duration <= le).unwrap_or(BUCKETS.len() - 1);
            for count in &mut bucket_counts[first..] {
                *count += 1;
            }
        }
        let started = rng.poisson(SESSIONS_PER_SCRAPE * load[slot] * traffic[slot]);
        sessions += started;
        checkouts += rng.binomial(started, CONVERSION * conversion_drift[slot]);
        series.requests[0].values[slot] = ok as f64;
        series.requests[1].values[slot] = failed as f64;
        for (bucket, &count) in series.buckets.iter_mut().zip(&bucket_counts) {
            bucket.values[slot] = count as f64;
        }
        // Rounded to microseconds so that the text form is short and exact.
        series.duration_sum.values[slot] = (sum * 1e6).round() / 1e6;
        series.duration_count.values[slot] = (ok + failed) as f64;
        series.sessions.values[slot] = sessions as f64;
        series.checkouts.values[slot] = checkouts as f64;
    }
    series
}

// ---------------------------------------------------------------------------------------------
// Minimal HTTP/1.1 client

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub body: String,
}

impl Response {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// One HTTP/1.1 request (`Connection: close`) to `base` (`http://host:port`) + `path`.
pub fn http(method: &str, base: &str, path: &str, body: Option<(&str, &[u8])>) -> std::io::Result<Response> {
    let host = base.strip_prefix("http://").unwrap_or(base).trim_end_matches('/');
    let mut stream = TcpStream::connect(host)?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    stream.set_write_timeout(Some(Duration::from_secs(60)))?;
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    if let Some((content_type, bytes)) = body {
        let _ = write!(request, "Content-Type: {content_type}\r\nContent-Length: {}\r\n", bytes.len());
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes())?;
    if let Some((_, bytes)) = body {
        stream.write_all(bytes)?;
    }
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    parse_response(&raw)
        .ok_or_else(|| std::io::Error::other(format!("bad HTTP response: {:?}", String::from_utf8_lossy(&raw))))
}

fn parse_response(raw: &[u8]) -> Option<Response> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..split]).ok()?;
    let mut body = raw[split + 4..].to_vec();
    let status = head.split(' ').nth(1)?.parse().ok()?;
    let chunked = head.lines().any(|line| {
        let lower = line.to_ascii_lowercase();
        lower.starts_with("transfer-encoding:") && lower.contains("chunked")
    });
    if chunked {
        body = dechunk(&body)?;
    }
    Some(Response { status, body: String::from_utf8_lossy(&body).into_owned() })
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

/// `application/x-www-form-urlencoded` (also good as a query string).
pub fn form(pairs: &[(&str, &str)]) -> String {
    let encode = |text: &str| {
        let mut out = String::new();
        for byte in text.bytes() {
            match byte {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(byte as char),
                _ => {
                    let _ = write!(out, "%{byte:02X}");
                }
            }
        }
        out
    };
    pairs.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&")
}

// ---------------------------------------------------------------------------------------------
// Servers

/// A server process under its `sh` wrapper. Dropping it (or closing this process) stops the
/// server and removes its directory.
pub struct Server {
    pub name: &'static str,
    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub url: String,
    /// The server's own process id (not the wrapper's).
    pub pid: u32,
    /// How long loading the data and starting took.
    pub startup: Duration,
    /// The server's directory (data and log), removed when the server stops.
    pub dir: PathBuf,
    wrapper: Child,
    stdin: Option<ChildStdin>,
}

impl Drop for Server {
    fn drop(&mut self) {
        drop(self.stdin.take()); // EOF: the wrapper kills the server, waits, removes the dir.
        let _ = self.wrapper.wait();
    }
}

/// Kills the server, waits for it and removes `$2` once standard input closes.
const WRAPPER: &str = r#"log="$1"; dir="$2"; shift 2
"$@" >"$log" 2>&1 </dev/null &
pid=$!
echo "$pid"
read -r _ || true
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
rm -rf "$dir""#;

static SERVER_COUNT: AtomicUsize = AtomicUsize::new(0);

/// A fresh directory, unique per server (and per test process).
fn server_dir(name: &str) -> PathBuf {
    let n = SERVER_COUNT.fetch_add(1, Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("canary-{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A loopback port that was free a moment ago (the caller retries if it is taken by then).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

enum Start {
    Ready(Server),
    PortTaken,
}

impl Server {
    /// Starts `program args` under the wrapper (logging to `dir/server.log`; the wrapper removes
    /// `dir` when it ends) and waits until `GET ready_path` answers 200.
    fn start(name: &'static str, dir: &Path, port: u16, program: &str, args: &[String], ready_path: &str) -> Start {
        let started = Instant::now();
        let log = dir.join("server.log");
        let mut wrapper = Command::new("sh")
            .arg("-c")
            .arg(WRAPPER)
            .arg("sh")
            .arg(&log)
            .arg(dir)
            .arg(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run sh to start {program}: {e}"));
        let stdin = wrapper.stdin.take();
        let mut line = String::new();
        BufReader::new(wrapper.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let pid: u32 = line.trim().parse().unwrap_or_else(|_| panic!("{name}: no pid from the wrapper: {line:?}"));
        let server = Server {
            name,
            url: format!("http://127.0.0.1:{port}"),
            pid,
            startup: Duration::ZERO,
            dir: dir.to_path_buf(),
            wrapper,
            stdin,
        };
        let log_text = || std::fs::read_to_string(&log).unwrap_or_default();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(response) = http("GET", &server.url, ready_path, None)
                && response.status == 200
            {
                let mut server = server;
                server.startup = started.elapsed();
                return Start::Ready(server);
            }
            if !process_alive(pid) {
                let text = log_text();
                if text.contains("address already in use") {
                    return Start::PortTaken;
                }
                panic!("{name} ({program}) exited during start-up; its log:\n{text}");
            }
            if Instant::now() > deadline {
                panic!("{name} was not ready on {} within 60 s; its log:\n{}", server.url, log_text());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `GET /api/v1/query_range`: the result's series as (labels, points).
    pub fn query_range(&self, query: &str, start: i64, end: i64, step: &str) -> Vec<(Value, Vec<(i64, f64)>)> {
        let (start, end) = (start.to_string(), end.to_string());
        let path = format!(
            "/api/v1/query_range?{}",
            form(&[("query", query), ("start", &start), ("end", &end), ("step", step)])
        );
        let response = http("GET", &self.url, &path, None).unwrap();
        assert_eq!(response.status, 200, "{}: {query}: {}", self.name, response.body);
        let json = response.json();
        assert_eq!(json["data"]["resultType"], "matrix", "{}", response.body);
        json["data"]["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|series| {
                let points = series["values"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| (p[0].as_f64().unwrap().round() as i64, p[1].as_str().unwrap().parse().unwrap()))
                    .collect();
                (series["metric"].clone(), points)
            })
            .collect()
    }

    /// Prometheus, loaded with `data` through `promtool tsdb create-blocks-from openmetrics`.
    pub fn prometheus(data: &Dataset) -> Server {
        Server::prometheus_from_openmetrics(&data.openmetrics())
    }

    /// Prometheus, loaded with the OpenMetrics `text` (timestamps in seconds, `# EOF` at the end)
    /// through `promtool tsdb create-blocks-from openmetrics`.
    pub fn prometheus_from_openmetrics(text: &str) -> Server {
        for _ in 0..5 {
            let started = Instant::now();
            let dir = server_dir("prometheus");
            let openmetrics = dir.join("data.om");
            std::fs::write(&openmetrics, text).unwrap();
            let tsdb = dir.join("tsdb");
            let output = Command::new("promtool")
                .args(["tsdb", "create-blocks-from", "openmetrics"])
                .arg(&openmetrics)
                .arg(&tsdb)
                .output()
                .unwrap_or_else(|e| panic!("cannot run promtool (install Debian's prometheus package): {e}"));
            assert!(
                output.status.success(),
                "promtool tsdb create-blocks-from openmetrics failed:\n{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
            let config = dir.join("prometheus.yml");
            std::fs::write(
                &config,
                "# No scrape targets: the data comes from blocks made by promtool.\nglobal:\n  scrape_interval: 15s\n",
            )
            .unwrap();
            let port = free_port();
            let args = [
                format!("--config.file={}", config.display()),
                format!("--storage.tsdb.path={}", tsdb.display()),
                format!("--web.listen-address=127.0.0.1:{port}"),
                "--storage.tsdb.retention.time=100y".to_string(),
                "--log.level=warn".to_string(),
            ];
            match Server::start("prometheus", &dir, port, "prometheus", &args, "/-/ready") {
                Start::Ready(mut server) => {
                    server.startup = started.elapsed();
                    return server;
                }
                Start::PortTaken => continue,
            }
        }
        panic!("prometheus: no free port after 5 attempts");
    }

    /// Prometheus scraping `targets` (`host:port`, serving `/metrics`) every `scrape_seconds`,
    /// with an empty database: the data is whatever it scrapes from now on.
    pub fn prometheus_scraping(targets: &[String], scrape_seconds: u64) -> Server {
        for _ in 0..5 {
            let started = Instant::now();
            let dir = server_dir("prometheus-scraping");
            let config = dir.join("prometheus.yml");
            let list = targets.iter().map(|t| format!("'{t}'")).collect::<Vec<_>>().join(", ");
            std::fs::write(
                &config,
                format!(
                    "global:\n  scrape_interval: {scrape_seconds}s\n  scrape_timeout: {scrape_seconds}s\n  evaluation_interval: {scrape_seconds}s\nscrape_configs:\n  - job_name: realtime\n    static_configs:\n      - targets: [{list}]\n"
                ),
            )
            .unwrap();
            let port = free_port();
            let args = [
                format!("--config.file={}", config.display()),
                format!("--storage.tsdb.path={}", dir.join("tsdb").display()),
                format!("--web.listen-address=127.0.0.1:{port}"),
                "--log.level=warn".to_string(),
            ];
            match Server::start("prometheus-scraping", &dir, port, "prometheus", &args, "/-/ready") {
                Start::Ready(mut server) => {
                    server.startup = started.elapsed();
                    return server;
                }
                Start::PortTaken => continue,
            }
        }
        panic!("prometheus: no free port after 5 attempts");
    }

    /// VictoriaMetrics, loaded with `data` through `/api/v1/import/prometheus` and flushed.
    pub fn victoria_metrics(data: &Dataset) -> Server {
        for _ in 0..5 {
            let dir = server_dir("victoria-metrics");
            let port = free_port();
            let args = [
                format!("-storageDataPath={}", dir.join("data").display()),
                format!("-httpListenAddr=127.0.0.1:{port}"),
                "-retentionPeriod=100y".to_string(),
                // The data is imported after start-up: never serve a cached empty answer.
                "-search.disableCache".to_string(),
                "-loggerLevel=WARN".to_string(),
            ];
            let started = Instant::now();
            let mut server = match Server::start("victoria-metrics", &dir, port, "victoria-metrics", &args, "/health") {
                Start::Ready(server) => server,
                Start::PortTaken => continue,
            };
            let text = data.prometheus_text();
            let response =
                http("POST", &server.url, "/api/v1/import/prometheus", Some(("text/plain", text.as_bytes())))
                    .expect("import into victoria-metrics");
            assert!(response.status == 204 || response.status == 200, "import: {} {}", response.status, response.body);
            let flush = http("GET", &server.url, "/internal/force_flush", None).expect("force_flush");
            assert_eq!(flush.status, 200, "force_flush: {}", flush.body);
            // Wait until every series is searchable.
            let (series, _) = data.size();
            let query = format!(
                "/api/v1/query?{}",
                form(&[("query", "count({deployment=~\"checkout-.*\"})"), ("time", &DATA_END.to_string())])
            );
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                let response = http("GET", &server.url, &query, None).unwrap();
                let json = response.json();
                let seen = json["data"]["result"][0]["value"][1].as_str().and_then(|v| v.parse::<usize>().ok());
                if seen == Some(series) {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "victoria-metrics shows {seen:?} of {series} series: {}",
                    response.body
                );
                std::thread::sleep(Duration::from_millis(100));
            }
            server.startup = started.elapsed();
            return server;
        }
        panic!("victoria-metrics: no free port after 5 attempts");
    }
}

/// Whether `pid` is running (Linux: present in /proc and not a zombie).
pub fn process_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name.
        Ok(stat) => stat.rsplit_once(')').is_some_and(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X'])),
        Err(_) => false,
    }
}

/// The shared Prometheus of this test binary (started on first use).
pub fn prometheus() -> &'static Server {
    static SERVER: LazyLock<Server> = LazyLock::new(|| Server::prometheus(dataset()));
    &SERVER
}

/// The shared VictoriaMetrics of this test binary (started on first use).
pub fn victoria_metrics() -> &'static Server {
    static SERVER: LazyLock<Server> = LazyLock::new(|| Server::victoria_metrics(dataset()));
    &SERVER
}

// ---------------------------------------------------------------------------------------------
// Tests of the harness itself (independent of canary's client)

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_data_is_deterministic_realistic_and_monotonic() {
        let (a, b) = (Dataset::generate(), Dataset::generate());
        let text = a.openmetrics();
        assert_eq!(text, b.openmetrics(), "same seed, same bytes");
        assert!(text.ends_with("# EOF\n"));
        assert_eq!(a.times.len(), 161);
        for series in a.all_series() {
            assert!(series.values.windows(2).all(|w| w[0] <= w[1]), "{} is not monotonic", series.label_text());
        }
        let per_minute = |d: &DeploymentSeries, i: usize| (d.requests[0].values[i] + d.requests[1].values[i]) / 40.0;
        for deployment in &a.deployments {
            let last = a.times.len() - 1;
            let rate = per_minute(deployment, last);
            assert!((700.0..1100.0).contains(&rate), "{}: {rate} requests a minute", deployment.name);
            let errors = deployment.requests[1].values[last]
                / (deployment.requests[0].values[last] + deployment.requests[1].values[last]);
            let count = deployment.duration_count.values[last];
            assert_eq!(deployment.buckets.last().unwrap().values[last], count);
            let sessions = deployment.sessions.values[last];
            let conversion = deployment.checkouts.values[last] / sessions;
            assert!((0.25..0.35).contains(&conversion), "{}: conversion {conversion}", deployment.name);
            let expected_errors = if deployment.name == "checkout-errors" { 0.16 } else { 0.02 };
            assert!(
                (expected_errors * 0.6..expected_errors * 1.5).contains(&errors),
                "{}: error rate {errors}",
                deployment.name
            );
        }
    }

    /// The sum of `increase(x[1m])` over 10:10..10:40 is the counter's rise from 10:09 to 10:40.
    fn expected_requests(deployment: &str) -> f64 {
        let data = dataset();
        let d = data.deployment(deployment);
        let total = |t: i64| d.requests.iter().map(|s| s.values[data.slot(t)]).sum::<f64>();
        total(DATA_END) - total(DATA_END - 31 * 60)
    }

    fn check_server_holds_the_data(server: &Server) {
        let start = DATA_END - 30 * 60;
        for deployment in ["checkout-baseline", "checkout-slow"] {
            let query = format!("sum(increase(http_requests_total{{deployment=\"{deployment}\"}}[1m]))");
            let result = server.query_range(&query, start, DATA_END, "1m");
            assert_eq!(result.len(), 1, "{}: {result:?}", server.name);
            let points = &result[0].1;
            assert_eq!(points.len(), 31, "{}: {points:?}", server.name);
            assert_eq!(points[0].0, start);
            let total: f64 = points.iter().map(|p| p.1).sum();
            let expected = expected_requests(deployment);
            assert!((total - expected).abs() < 1e-6, "{}: {deployment}: {total} != {expected}", server.name);
        }
        // The latency histogram answers histogram_quantile, and the slow deployment is slower.
        let p99 = |deployment: &str| {
            let query = format!(
                "histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{{deployment=\"{deployment}\"}}[2m])))"
            );
            let result = server.query_range(&query, start, DATA_END, "1m");
            let points = &result[0].1;
            points.iter().map(|p| p.1).sum::<f64>() / points.len() as f64
        };
        let (baseline, slow) = (p99("checkout-baseline"), p99("checkout-slow"));
        assert!((0.45..0.7).contains(&baseline), "{}: baseline p99 {baseline}", server.name);
        assert!((1.35..1.65).contains(&(slow / baseline)), "{}: slow/baseline p99 {slow} / {baseline}", server.name);
        // All five deployments are there, and nothing else.
        let deployments = server.query_range("count by (deployment) (checkouts_total)", DATA_END, DATA_END, "1m");
        let mut names: Vec<String> =
            deployments.iter().map(|(labels, _)| labels["deployment"].as_str().unwrap().to_string()).collect();
        names.sort();
        let mut expected: Vec<String> = DEPLOYMENTS.iter().map(|d| d.name.to_string()).collect();
        expected.sort();
        assert_eq!(names, expected, "{}", server.name);
    }

    #[test]
    fn prometheus_serves_the_generated_data() {
        let server = prometheus();
        eprintln!("prometheus ready at {} in {:.2?}", server.url, server.startup);
        check_server_holds_the_data(server);
    }

    #[test]
    fn victoria_metrics_serves_the_generated_data() {
        let server = victoria_metrics();
        eprintln!("victoria-metrics ready at {} in {:.2?}", server.url, server.startup);
        check_server_holds_the_data(server);
    }

    #[test]
    fn a_dropped_server_is_stopped_and_its_directory_removed() {
        let mut data = Dataset::generate();
        data.deployments.truncate(1);
        let server = Server::victoria_metrics(&data);
        let (pid, url, dir) = (server.pid, server.url.clone(), server.dir.clone());
        assert!(process_alive(pid) && dir.exists());
        drop(server);
        assert!(!process_alive(pid), "victoria-metrics {pid} still runs after drop");
        assert!(!dir.exists(), "{} is left behind", dir.display());
        assert!(http("GET", &url, "/health", None).is_err(), "{url} still answers");
    }
}
