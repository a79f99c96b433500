//! What every command that queries a live backend shares: opening the source from the analysis
//! and the flags (credentials from files or the environment only), the live window, and fetching
//! every query of an analysis for both sides at once.

use crate::cli::{SourceArgs, WindowArgs};
use crate::config::template::{ResolvedSides, Side, render_metric};
use crate::config::window::Window;
use crate::config::{Analysis, Duration, QueryRole, SourceConfig, SourceKind};
use crate::error::CanaryError;
use crate::source::datadog;
use crate::source::http::Secret;
use crate::source::prometheus::{Auth, PrometheusSettings, PrometheusSource};
use crate::source::{MetricSource, QueryRequest, Series, SourceError, points};
use std::collections::BTreeMap;

/// The newest minute is left out of live windows: its samples may not all have been scraped yet
/// (and VictoriaMetrics hides the last 30 s by default).
pub const SETTLE_SECONDS: i64 = 60;

/// The environment variable that can hold the bearer token itself.
pub const TOKEN_VARIABLE: &str = "CANARY_SOURCE_TOKEN";

/// Opens the analysis's live source, with the flags' overrides.
pub fn open_source(analysis: &Analysis, flags: &SourceArgs) -> Result<Box<dyn MetricSource>, CanaryError> {
    // Credentials never come from flag values (they would sit in shell history and `ps`).
    if let Some((name, _)) = flags.headers.iter().find(|(name, _)| crate::source::http::is_credential_header(name)) {
        return Err(CanaryError::Usage(format!(
            "--header {name}: credentials are never taken from flags; use the token or key settings (environment variables or files)"
        )));
    }
    let config = analysis.source.as_ref();
    let kind = config.map_or(SourceKind::Prometheus, |c| c.kind);
    if kind == SourceKind::Datadog {
        return open_datadog(config, flags);
    }
    let url = flags.source_url.clone().or_else(|| config.and_then(|c| c.url.clone())).ok_or_else(|| {
        CanaryError::Usage(
            "no source URL: set `source.url` in the analysis, pass --source-url, or set CANARY_SOURCE_URL".into(),
        )
    })?;
    let mut headers = config.map(|c| c.headers.clone()).unwrap_or_default();
    headers.extend(flags.headers.iter().cloned());
    let settings = PrometheusSettings {
        url,
        headers,
        auth: auth(analysis, flags)?,
        ca_file: flags.ca_file.clone().or_else(|| config.and_then(|c| c.ca_file.clone()).map(Into::into)),
        request_timeout: std::time::Duration::from_secs(flags.query_timeout.as_secs().max(1)),
        total_timeout: std::time::Duration::from_secs(flags.timeout.as_secs().max(1)),
        retries: flags.retries,
        concurrency: usize::from(flags.concurrency),
        max_response_bytes: flags.max_response_size,
        max_series: flags.max_series,
    };
    Ok(Box::new(PrometheusSource::new(settings)?))
}

/// The environment variables Datadog's own tools read: the site and the two keys.
pub const DD_SITE: &str = "DD_SITE";
pub const DD_API_KEY: &str = "DD_API_KEY";
pub const DD_APP_KEY: &str = "DD_APP_KEY";

/// Opens a Datadog source. The API host: `--source-url` (or `CANARY_SOURCE_URL`), the analysis's
/// `url`, else `https://api.<site>` with the site from `DD_SITE`, the analysis's `site`, or
/// datadoghq.com. Each key from the analysis's `*_key_env` or `*_key_file`, else `DD_API_KEY`
/// and `DD_APP_KEY`.
fn open_datadog(config: Option<&SourceConfig>, flags: &SourceArgs) -> Result<Box<dyn MetricSource>, CanaryError> {
    let usage = CanaryError::Usage;
    if flags.token_file.is_some() {
        return Err(usage(
            "--token-file applies to Prometheus; Datadog keys come from DD_API_KEY and DD_APP_KEY or the analysis's api_key_env/api_key_file and app_key_env/app_key_file".into(),
        ));
    }
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let url = match flags.source_url.clone().or_else(|| config.and_then(|c| c.url.clone())) {
        Some(url) => url,
        None => {
            let (site, origin) = match (env(DD_SITE), config.and_then(|c| c.site.clone())) {
                (Some(site), analysis) => {
                    if let Some(other) = analysis.filter(|a| a.trim() != site.trim()) {
                        eprintln!("canary: warning: ${DD_SITE} ({site}) overrides source.site ({other})");
                    }
                    (site, format!("${DD_SITE}"))
                }
                (None, Some(site)) => (site, "source.site".to_string()),
                (None, None) => (datadog::DEFAULT_SITE.to_string(), String::new()),
            };
            datadog::site_url(&site).map_err(|e| usage(format!("{origin}: {e}")))?
        }
    };
    let key = |named_env: Option<&String>, file: Option<&String>, default_env: &str, what: &str| {
        if let Some(name) = named_env {
            let value = env(name).ok_or_else(|| {
                usage(format!("the analysis reads the Datadog {what} from ${name}, but it is not set"))
            })?;
            return Ok(datadog::Key::new(value, format!("${name}")));
        }
        if let Some(path) = file {
            let value = read_credential_file(std::path::Path::new(path))
                .map_err(|e| usage(format!("cannot read the Datadog {what} file {path}: {e}")))?;
            return Ok(datadog::Key::new(value, format!("the file {path}")));
        }
        env(default_env).map(|value| datadog::Key::new(value, format!("${default_env}"))).ok_or_else(|| {
            usage(format!("no Datadog {what}: set ${default_env}, or name a variable or file in the analysis's source"))
        })
    };
    let api_key = key(
        config.and_then(|c| c.api_key_env.as_ref()),
        config.and_then(|c| c.api_key_file.as_ref()),
        DD_API_KEY,
        "API key",
    )?;
    let app_key = key(
        config.and_then(|c| c.app_key_env.as_ref()),
        config.and_then(|c| c.app_key_file.as_ref()),
        DD_APP_KEY,
        "application key",
    )?;
    let mut headers = config.map(|c| c.headers.clone()).unwrap_or_default();
    headers.extend(flags.headers.iter().cloned());
    let settings = datadog::DatadogSettings {
        url,
        api: config.and_then(|c| c.api).unwrap_or_default(),
        api_key,
        app_key,
        headers,
        ca_file: flags.ca_file.clone(),
        request_timeout: std::time::Duration::from_secs(flags.query_timeout.as_secs().max(1)),
        total_timeout: std::time::Duration::from_secs(flags.timeout.as_secs().max(1)),
        retries: flags.retries,
        concurrency: usize::from(flags.concurrency),
        max_rate_limit_wait: datadog::MAX_RATE_LIMIT_WAIT,
        max_response_bytes: flags.max_response_size,
        max_series: flags.max_series,
    };
    Ok(Box::new(datadog::DatadogSource::new(settings)?))
}

/// The credential to send, from the first place that has one: `CANARY_SOURCE_TOKEN`,
/// `--token-file`, the analysis's `token_env`, `token_file`, then basic auth.
fn auth(analysis: &Analysis, flags: &SourceArgs) -> Result<Auth, CanaryError> {
    let usage = CanaryError::Usage;
    let from_env = |name: &str| {
        std::env::var(name)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| usage(format!("the analysis reads a credential from ${name}, but it is not set")))
    };
    let from_file = |path: &str| {
        read_credential_file(std::path::Path::new(path))
            .map(|text| text.trim().to_string())
            .map_err(|e| usage(format!("cannot read the credential file {path}: {e}")))
    };
    if let Some(token) = std::env::var(TOKEN_VARIABLE).ok().filter(|v| !v.trim().is_empty()) {
        return Ok(Auth::Bearer { token: Secret::new(token), origin: format!("${TOKEN_VARIABLE}") });
    }
    if let Some(path) = &flags.token_file {
        let path = path.display().to_string();
        return Ok(Auth::Bearer { token: Secret::new(from_file(&path)?), origin: format!("the file {path}") });
    }
    let Some(config) = &analysis.source else { return Ok(Auth::None) };
    if let Some(name) = &config.token_env {
        return Ok(Auth::Bearer { token: Secret::new(from_env(name)?), origin: format!("${name}") });
    }
    if let Some(path) = &config.token_file {
        return Ok(Auth::Bearer { token: Secret::new(from_file(path)?), origin: format!("the file {path}") });
    }
    if let Some(user) = &config.basic_auth_user {
        let (password, origin) = match (&config.basic_auth_password_env, &config.basic_auth_password_file) {
            (Some(name), _) => (from_env(name)?, format!("${name}")),
            (None, Some(path)) => (from_file(path)?, format!("the file {path}")),
            (None, None) => unreachable!("validated: basic auth has a password source"),
        };
        return Ok(Auth::Basic { user: user.clone(), password: Secret::new(password), origin });
    }
    Ok(Auth::None)
}

/// Reads a file holding a credential, warning on stderr when group or others may read it (a
/// token readable by every local user is as good as published).
pub fn read_credential_file(path: &std::path::Path) -> std::io::Result<String> {
    let text = std::fs::read_to_string(path)?;
    if let Some(mode) = readable_by_others(path) {
        eprintln!(
            "canary: warning: the credential file {} is readable by group or others (mode {mode:o}): `chmod 600 {}`",
            path.display(),
            path.display()
        );
    }
    Ok(text)
}

/// The file's permission bits when group or others may read it.
#[cfg(unix)]
fn readable_by_others(path: &std::path::Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
    (mode & 0o044 != 0).then_some(mode)
}

#[cfg(not(unix))]
fn readable_by_others(_path: &std::path::Path) -> Option<u32> {
    None
}

/// The window of a live run: `--start`/`--end` aligned inward to the step, or the last
/// `--last` (or the analysis's `window.last`) ending a minute before `now`.
pub fn live_window(analysis: &Analysis, flags: &WindowArgs, now: i64) -> Result<Window, CanaryError> {
    let step = flags.step.unwrap_or(analysis.window.step);
    let warmup = flags.warmup.unwrap_or(analysis.window.warmup);
    let step_s = step.as_secs() as i64;
    if step_s == 0 {
        return Err(CanaryError::Usage("--step must be longer than 0s".into()));
    }
    let window = match (flags.start, flags.end) {
        (Some(start), Some(end)) => {
            let aligned_start =
                start.div_euclid(step_s) * step_s + if start.rem_euclid(step_s) == 0 { 0 } else { step_s };
            Window::between(aligned_start, end.div_euclid(step_s) * step_s, step, warmup)
        }
        _ => Window::last(now - SETTLE_SECONDS, flags.last.unwrap_or(analysis.window.last), step, warmup),
    };
    window.map_err(CanaryError::Usage)
}

/// One query's answer.
pub struct Fetched {
    pub metric: usize,
    pub side: Side,
    pub role: QueryRole,
    pub query: String,
    pub series: Vec<Series>,
}

/// Renders and runs every query of every metric for both sides. The baseline of a before/after
/// analysis is queried `offset` earlier and its points are moved onto the canary's timeline.
pub fn fetch_everything(
    analysis: &Analysis,
    source: &dyn MetricSource,
    window: Window,
    sides: &ResolvedSides,
    overrides: &BTreeMap<String, String>,
) -> Result<Vec<Fetched>, CanaryError> {
    let step = Duration::from_secs(window.step_seconds);
    let offset = analysis.baseline.offset.map_or(0, |o| o.as_secs() as i64);
    let mut planned = Vec::new();
    for (index, metric) in analysis.metrics.iter().enumerate() {
        for side in Side::BOTH {
            for (role, query) in render_metric(analysis, metric, side, sides, overrides, step)? {
                planned.push((index, side, role, query));
            }
        }
    }
    let shift_of = |side: Side| if side == Side::Baseline { offset } else { 0 };
    let requests: Vec<QueryRequest<'_>> = planned
        .iter()
        .map(|(index, side, role, query)| QueryRequest {
            metric: analysis.metrics[*index].name(),
            side: *side,
            role: *role,
            query,
            window: Window { start: window.start - shift_of(*side), end: window.end - shift_of(*side), ..window },
        })
        .collect();
    let answers = source.fetch_all(&requests);
    let mut fetched = Vec::with_capacity(planned.len());
    for (((metric, side, role, query), answer), request) in planned.iter().cloned().zip(answers).zip(&requests) {
        let mut series = answer?;
        // The same checks for every source, live or recorded, before judging or recording.
        let what = format!("metric `{}`, {} {}", request.metric, side.name(), role.name());
        points::check_series(&series, role, &request.window, &what)?;
        for s in &mut series {
            for point in &mut s.points {
                point.time += shift_of(side);
            }
        }
        fetched.push(Fetched { metric, side, role, query, series });
    }
    Ok(fetched)
}

/// Runs `work` (fetching and judging) on a worker thread and waits for it at most `deadline`
/// (`--timeout`), so that the deadline covers the whole run, judgment included: past it, the run
/// ends "could not judge" (exit 4) and the worker is abandoned (the process exits without
/// waiting for it). For `judge` and `watch` (one call per look) alike.
pub fn within_deadline<T: Send + 'static>(
    deadline: std::time::Duration,
    work: impl FnOnce() -> Result<T, CanaryError> + Send + 'static,
) -> Result<T, CanaryError> {
    let (sender, receiver) = std::sync::mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name("canary-judgment".into())
        .spawn(move || {
            let _ = sender.send(work());
        })
        .map_err(|e| CanaryError::Source(SourceError::Unavailable(format!("cannot start the judgment: {e}"))))?;
    match receiver.recv_timeout(deadline) {
        Ok(result) => result,
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Err(CanaryError::Source(SourceError::Unavailable(format!(
            "timed out: the run did not finish within the overall timeout of {} (--timeout); nothing was judged",
            Duration::from_secs(deadline.as_secs())
        )))),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Err(CanaryError::Source(SourceError::Unavailable(
            "the judgment stopped without a result (an internal error); nothing was judged".into(),
        ))),
    }
}

/// The current time in Unix seconds.
pub fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deadline_covers_work_that_never_ends() {
        let error = within_deadline(std::time::Duration::from_millis(200), || -> Result<(), CanaryError> {
            loop {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        })
        .unwrap_err();
        assert_eq!(error.exit_code(), crate::error::exit_code::COULD_NOT_JUDGE);
        assert!(error.to_string().starts_with("timed out"), "{error}");
        assert_eq!(within_deadline(std::time::Duration::from_secs(60), || Ok(7)).unwrap(), 7);
        let usage = within_deadline(std::time::Duration::from_secs(60), || -> Result<(), CanaryError> {
            Err(CanaryError::Usage("bad".into()))
        });
        assert_eq!(usage.unwrap_err().exit_code(), crate::error::exit_code::USAGE);
    }
}
