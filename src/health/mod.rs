//! Health checks of real servers (and `vrrp_script` trackers), keepalived-compatible.
//!
//! - [`state`]: the pure bookkeeping of one checker and of one real server — keepalived's
//!   `retry` / `delay_before_retry` / `alpha` / `warmup` rules (and rise / fall for tracking
//!   scripts); time is a parameter, nothing here does I/O.
//! - [`core`]: the pure scheduler — every target's checks in one `BinaryHeap` of due times; it
//!   hands out jobs and folds their results into [`HealthEvent`]s.
//! - [`runner`]: the thin tokio shell around [`core`]: ONE task that sleeps until the next due
//!   time, runs the due checks concurrently (bounded), and accepts targets at run time through a
//!   [`HealthHandle`].
//! - The checks themselves: [`tcp`], [`http`] (HTTP and HTTPS, response parsing in
//!   [`http_parse`], TLS in [`tls`]) and [`misc`] (scripts); [`spec`] turns a configured
//!   [`Check`](crate::config::model::Check) into a ready-to-run probe.
//! - [`target`]: [`CheckTarget`] — what the engine hands in for each real server.
//!
//! Use (inside a tokio runtime):
//!
//! ```text
//! let (health, mut events) = health::spawn(RunnerConfig::default());
//! for rs in &vs.real_server {
//!     health.upsert(&CheckTarget::for_real_server(service_key.to_string(), vs, rs))?;
//! }
//! health.upsert(&CheckTarget::for_vrrp_script(&config, "chk_web", &script))?;
//! // on reload: health.sync(&all_targets) — unchanged checks keep their state
//! while let Some(ev) = events.recv().await {
//!     for change in &ev.changes { /* Up / Down / Weight: apply to IPVS or the VRRP tracker */ }
//!     // ev.result: the latest check result (message, latency) for the console
//! }
//! ```

pub mod core;
pub mod dns;
pub mod file;
pub mod http;
pub mod http_parse;
pub mod misc;
pub mod ping;
pub mod runner;
pub mod smtp;
pub mod spec;
pub mod state;
pub mod target;
pub mod tcp;
pub mod tls;
pub mod udp;

#[cfg(test)]
mod tests;

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

pub use runner::{HealthHandle, RunnerConfig, RunnerStats, spawn};
pub use spec::HttpVersion;
pub use state::{Outcome, Policy, Timing};
pub use target::{CheckTarget, Compiled, TargetError};

/// What a target is: the service it belongs to (as `ipvsadm -Ln` names it, e.g.
/// `TCP 192.0.2.100:80`, or `vrrp_script NAME`) and the real server's address and port (port 0
/// when it has none: fwmark services; `0.0.0.0:0` for tracking scripts).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TargetId {
    pub service: Arc<str>,
    pub real: SocketAddr,
}

impl TargetId {
    pub fn new(service: impl Into<Arc<str>>, real: SocketAddr) -> Self {
        Self {
            service: service.into(),
            real,
        }
    }
}

impl fmt::Display for TargetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} -> {}", self.service, self.real)
    }
}

/// The result of one attempt of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    pub ok: bool,
    /// Short and human: "connected", "HTTP 503", "digest mismatch", "timeout after 3s",
    /// "connection refused", "exit 1".
    pub message: String,
    /// From the start of the attempt to its result.
    pub latency: Duration,
    /// What the attempt does to the weight: a `misc_dynamic` script's (exit code - 2), a
    /// FILE_CHECK's value × weight; None otherwise.
    pub weight: Option<state::WeightSet>,
    /// When the attempt ended (wall clock, for display).
    pub at: SystemTime,
    /// No attempt was made (`ok` is false): see [`Outcome::NotRun`].
    pub not_run: bool,
}

impl CheckResult {
    pub fn ok(message: impl Into<String>, latency: Duration) -> Self {
        Self {
            ok: true,
            message: message.into(),
            latency,
            weight: None,
            at: SystemTime::now(),
            not_run: false,
        }
    }

    pub fn fail(message: impl Into<String>, latency: Duration) -> Self {
        Self {
            ok: false,
            message: message.into(),
            latency,
            weight: None,
            at: SystemTime::now(),
            not_run: false,
        }
    }

    /// No attempt could be made (its source address cannot be bound): nothing changes.
    pub fn not_run(message: impl Into<String>, latency: Duration) -> Self {
        Self {
            not_run: true,
            ..Self::fail(message, latency)
        }
    }

    /// The outcome the bookkeeping counts.
    pub fn outcome(&self) -> Outcome {
        if self.not_run {
            Outcome::NotRun
        } else if self.ok {
            Outcome::Up {
                weight: self.weight,
            }
        } else {
            Outcome::Down
        }
    }
}

/// The health of one target as the checks see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerState {
    /// None only for rise / fall targets (tracking scripts) before their first result.
    pub up: Option<bool>,
    /// The configured weight, or what `misc_dynamic` scripts set (keepalived's sum rule).
    pub weight: i32,
}

/// A change worth acting on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The target went up; the reason names the check and what it saw.
    Up { reason: String },
    /// The target went down; the reason names the failing check and what it saw.
    Down { reason: String },
    /// A `misc_dynamic` script moved the weight.
    Weight { from: i32, to: i32 },
}

/// What the runner reports: one per check result (when the runner is set to report every
/// result) and always one per change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthEvent {
    pub id: TargetId,
    /// Index of the check in [`CheckTarget::checks`]; None when a command (an update that
    /// dropped a failing check) caused the event.
    pub check: Option<usize>,
    /// The check's label, e.g. `HTTP 192.0.2.11:80 /health` (empty with `check: None`).
    pub label: Arc<str>,
    pub result: Option<CheckResult>,
    /// The target's state after this event.
    pub state: ServerState,
    /// Up / down / weight changes this event brought (empty for a plain result).
    pub changes: Vec<Change>,
}

/// Durations the way the config writes them: "3s", "500ms", "1500ms".
pub(crate) fn fmt_dur(d: Duration) -> String {
    crate::config::model::Dur(d).to_string()
}
