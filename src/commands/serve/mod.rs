//! `canary serve --analyses DIR`: a stateless judge service for Flagger's webhooks and Argo
//! Rollouts' `web` metric provider. The analyses are loaded and checked at start (a bad file stops
//! the start, naming itself) and reloaded on SIGHUP (all or nothing: a bad reload keeps the old
//! set and says why); SIGTERM or SIGINT stop it after the answers in flight. Between requests it
//! keeps only the analyses and the counters of `/metrics`.
//!
//! - [`requests`]: the request bodies, parsed and bounded;
//! - [`auth`]: the caller's secret, bearer or basic;
//! - [`judgment`]: one judgment with `canary judge`'s engine, within the concurrency bound and
//!   the deadline;
//! - [`router`]: the endpoints and the status of each answer;
//! - [`metrics`]: the counters and their exposition;
//! - [`connections`]: the accept loop, its header-read timeout and its connection cap.

mod auth;
mod connections;
mod judgment;
mod metrics;
pub mod requests;
mod router;

use crate::cli::ServeArgs;
use crate::error::CanaryError;
use crate::model::Verdict;
use crate::settings::serve::{Catalog, ServeSettings, load_catalog};
use crate::source::SourceError;
use std::sync::{Arc, RwLock};
use tokio::signal::unix::{SignalKind, signal};

/// The running server: its settings, the analyses served (swapped whole on reload), the slots of
/// the concurrency bound and the counters.
pub(crate) struct Server {
    settings: ServeSettings,
    catalog: RwLock<Arc<Catalog>>,
    slots: Arc<tokio::sync::Semaphore>,
    metrics: metrics::Metrics,
}

impl Server {
    fn catalog(&self) -> Arc<Catalog> {
        self.catalog.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }
}

pub fn run(args: &ServeArgs) -> Result<Verdict, CanaryError> {
    let settings = ServeSettings::resolve(args)?;
    let catalog = load_catalog(&settings.analyses_dir, &settings.source_flags)?;
    let unavailable = |what: String| CanaryError::Source(SourceError::Unavailable(what));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| unavailable(format!("cannot start the server's runtime: {e}")))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(settings.listen)
            .await
            .map_err(|e| CanaryError::Usage(format!("cannot listen on {}: {e}", settings.listen)))?;
        let address = listener.local_addr().map_err(|e| unavailable(format!("cannot listen: {e}")))?;
        // Registered before the server says it listens: a SIGHUP from then on reloads.
        let signal_error = |e: std::io::Error| unavailable(format!("cannot handle signals: {e}"));
        let hangups = signal(SignalKind::hangup()).map_err(signal_error)?;
        let terminate = signal(SignalKind::terminate()).map_err(signal_error)?;
        let interrupt = signal(SignalKind::interrupt()).map_err(signal_error)?;
        let auth = if settings.secret.is_some() { "callers authenticated" } else { "NO AUTHENTICATION (loopback)" };
        eprintln!(
            "canary serve: listening on http://{address} with {} analyses ({}); {auth}",
            catalog.len(),
            catalog.keys().map(String::as_str).collect::<Vec<_>>().join(", ")
        );
        let server = Arc::new(Server {
            slots: Arc::new(tokio::sync::Semaphore::new(settings.max_judgments)),
            settings,
            metrics: metrics::Metrics::default(),
            catalog: RwLock::new(Arc::new(catalog)),
        });
        server.metrics.loaded(server.catalog().len(), None);
        tokio::spawn(reload_on_hangup(server.clone(), hangups));
        let max_connections = server.settings.max_connections;
        connections::serve(listener, router::router(server), max_connections, stopped(terminate, interrupt)).await;
        Ok::<(), CanaryError>(())
    })?;
    eprintln!("canary serve: stopped");
    Ok(Verdict::Pass)
}

async fn stopped(mut terminate: tokio::signal::unix::Signal, mut interrupt: tokio::signal::unix::Signal) {
    tokio::select! {
        _ = terminate.recv() => {}
        _ = interrupt.recv() => {}
    }
    eprintln!("canary serve: stopping after the answers in flight");
}

/// Reloads the whole directory on each SIGHUP; the new set replaces the old only when every
/// file loads.
async fn reload_on_hangup(server: Arc<Server>, mut hangups: tokio::signal::unix::Signal) {
    while hangups.recv().await.is_some() {
        let loading = server.clone();
        let loaded = tokio::task::spawn_blocking(move || {
            load_catalog(&loading.settings.analyses_dir, &loading.settings.source_flags)
        })
        .await;
        match loaded {
            Ok(Ok(catalog)) => {
                let count = catalog.len();
                let names = catalog.keys().map(String::as_str).collect::<Vec<_>>().join(", ");
                *server.catalog.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(catalog);
                server.metrics.loaded(count, Some(true));
                eprintln!("canary serve: reloaded {count} analyses ({names})");
            }
            Ok(Err(error)) => {
                server.metrics.loaded(0, Some(false));
                eprintln!(
                    "canary serve: reload failed, still serving the {} analyses loaded before: {}",
                    server.catalog().len(),
                    crate::input::terminal_safe(&error.to_string())
                );
            }
            Err(error) => {
                server.metrics.loaded(0, Some(false));
                eprintln!("canary serve: reload failed ({error}), still serving the analyses loaded before");
            }
        }
    }
}
