//! `canary serve`: its flags and the endpoints its help lists.

use super::query::{SourceArgs, parse_size, parse_time};
use crate::model::Duration;
use clap::Args;
use std::path::PathBuf;

pub(super) const SERVE_HELP: &str = "\
Endpoints (docs/serve.md):
  POST /flagger/HOOK  Flagger webhook; HOOK: rollout, confirm-traffic-increase,
                      confirm-promotion (200 on a pass only) or rollback (200 on a fail only);
                      metadata.analysis names the analysis, other metadata keys are variables
  POST /argo          Argo Rollouts web metric, body {\"analysis\": NAME, \"variables\": {..}};
                      200 with {\"verdict\": \"pass\"|\"fail\"|\"inconclusive\", ...}
  GET /healthz, GET /metrics (Prometheus text format), without authentication

Exit codes: 0 stopped by SIGTERM or SIGINT; 2 cannot start (bad analysis, no secret, address in use).";

/// `canary serve`: the analyses, the listening address, the callers' secret and the bounds.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Directory of analysis files (*.yaml, *.yml), each served under its `name`; all are checked
    /// at start (one bad file stops the start) and reloaded on SIGHUP (a bad reload keeps the old set).
    #[arg(long, value_name = "DIR")]
    pub analyses: PathBuf,
    /// Address and port to listen on; loopback unless told otherwise.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
    /// Environment variable holding the callers' secret (a bearer token, or the password of HTTP
    /// basic auth).
    #[arg(long, value_name = "NAME", default_value = "CANARY_SERVE_TOKEN")]
    pub secret_env: String,
    /// File holding the callers' secret (a mounted Kubernetes Secret); wins over --secret-env.
    #[arg(long, value_name = "PATH", env = "CANARY_SERVE_TOKEN_FILE")]
    pub secret_file: Option<PathBuf>,
    /// Serve without authenticating callers: only on a loopback address.
    #[arg(long)]
    pub insecure_no_auth: bool,
    /// Judgments running at once; a request over the bound is answered 503 at once.
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub max_judgments: u16,
    /// Connections open at once; over it no connection is accepted until one closes. A client has
    /// 10 s to send a request's headers (idle keep-alive connections included), then it is closed.
    #[arg(long, value_name = "N", default_value_t = 256, value_parser = clap::value_parser!(u16).range(1..=16384))]
    pub max_connections: u16,
    /// Time limit of one judgment, fetching included; past it the answer is 504 (keep it under the
    /// caller's own timeout: Flagger's webhook `timeout`, Argo's `timeoutSeconds`).
    #[arg(long, value_name = "DURATION", default_value = "50s")]
    pub deadline: Duration,
    /// The largest request body accepted (B, KiB, MiB).
    #[arg(long, value_name = "SIZE", default_value = "64KiB", value_parser = parse_size)]
    pub max_body_size: u64,
    /// Fix the clock (RFC 3339): every judged window ends a minute before this time (for
    /// backfilled data, demos and tests).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub now: Option<i64>,
    #[command(flatten)]
    pub source: SourceArgs,
}
