//! `lvsdeck doctor`: the set-up checks an LVS operator does by hand, done by probing from the
//! director. Each check is a pure judgement over what was probed (sysctls read, a firewall
//! ruleset, adverts heard, ARP and TCP answers captured), kept apart from the thin shells
//! that probe, so the judgements are unit-tested and the probes are tested in namespaces.
//!
//! A finding names the host it is about, what was probed, what was seen, why it matters and
//! the exact fix. Probes that could not run are listed as skipped with the reason: a doctor
//! that says nothing about what it did not look at would read as a clean bill of health.

pub mod clock;
pub mod director;
pub mod firewall;
pub mod host;
pub mod probe;
pub mod realserver;
pub mod render;
pub mod segment;
pub mod wire;

use serde::{Deserialize, Serialize};

use crate::config::model::Config;

/// One thing wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable name of the check (`rs-arp-leak`, `vrrp-firewall`, ...), for scripts.
    pub check: String,
    /// The host it is about: `this director`, `real server 10.0.0.2`, `10.0.0.3 (02:..)`.
    pub host: String,
    pub probed: String,
    pub seen: String,
    pub why: String,
    pub fix: String,
}

/// A doctor run: what is wrong, what was checked and found fine, what could not be checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Report {
    pub taken_at_ms: u64,
    pub findings: Vec<Finding>,
    /// Checks that ran and found nothing wrong, one line each.
    pub passed: Vec<String>,
    /// Checks that could not run here, with the reason.
    pub skipped: Vec<String>,
}

impl Report {
    pub fn pass(&mut self, line: impl Into<String>) {
        self.passed.push(line.into());
    }

    pub fn skip(&mut self, line: impl Into<String>) {
        self.skipped.push(line.into());
    }

    pub fn find(&mut self, finding: Finding) {
        self.findings.push(finding);
    }
}

/// What the director's own engines say, when a daemon runs: the state of each VRRP instance.
/// Without it the doctor judges from the wire alone.
#[derive(Debug, Clone, Default)]
pub struct LocalState {
    /// Each instance's state, by name.
    pub vrrp: Vec<(String, crate::snapshot::VrrpState)>,
    /// Clock jumps the daemon saw: (when, ms wall time; size in ms, signed).
    pub clock_jumps: Vec<(u64, i64)>,
}

/// The article's advice to synchronise clocks, answered (`doctor --explain time`).
pub const TIME_SYNC_NOTE: &str = "VRRP does not need synchronised clocks: an advert carries a \
priority and an interval, never a timestamp, and every timer runs on the director's own \
monotonic clock. Time sync matters for reading logs of two directors side by side; a clock \
that jumps (seen by the daemon, and reported here) makes those logs disagree.";

/// Run every check for `config` on this host (blocking: a few seconds of listening).
pub fn run(config: &Config, local: &LocalState) -> Report {
    let mut report = Report {
        taken_at_ms: now_ms(),
        ..Report::default()
    };
    director::check(config, &director::ProcSysctl, &mut report);
    firewall::check(config, &mut report);
    segment::check(config, local, &mut report);
    for &(at, size) in &local.clock_jumps {
        report.find(Finding {
            check: "clock-jump".into(),
            host: "this director".into(),
            probed: "the daemon's wall clock against its monotonic clock, every second".into(),
            seen: format!("the wall clock jumped by {size} ms at {}", render::wall(at)),
            why: "VRRP timers run on the monotonic clock and are not affected, but log lines \
                  and event times before and after the jump do not line up"
                .into(),
            fix: "run one time daemon (chrony or systemd-timesyncd) that slews instead of \
                  stepping: `chronyc makestep` only at boot"
                .into(),
        });
    }
    report
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
