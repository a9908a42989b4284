//! The daemon runs the doctor's checks (`crate::doctor`) in the background: ten seconds after
//! start, then every `doctor_interval` (default 5 min), and when an operator asks. The last
//! report goes into the Snapshot (the console's doctor view and header badge); findings
//! that appear or clear are events. Wall-clock jumps are watched here every second.

use std::collections::BTreeSet;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::mpsc;

use super::Director;
use crate::doctor::clock::ClockWatch;
use crate::doctor::{self, LocalState, Report};
use crate::engine::snapshot::{EventKind, now_ms};

const FIRST_RUN: Duration = Duration::from_secs(10);
const DEFAULT_EVERY: Duration = Duration::from_secs(300);
/// Clock jumps kept for the report.
const JUMPS_KEPT: usize = 5;

pub(super) struct DoctorRuns {
    pub last: Option<Report>,
    next_at: Option<Instant>,
    running: bool,
    tx: mpsc::Sender<Report>,
    pub rx: mpsc::Receiver<Report>,
    clock: ClockWatch,
    jumps: Vec<(u64, i64)>,
}

impl DoctorRuns {
    pub fn new(now: Instant) -> DoctorRuns {
        let (tx, rx) = mpsc::channel(1);
        DoctorRuns {
            last: None,
            next_at: Some(now + FIRST_RUN),
            running: false,
            tx,
            rx,
            clock: ClockWatch::default(),
            jumps: Vec::new(),
        }
    }
}

/// What tells two findings apart: the check, the host, and what was probed (one check on
/// one host can find something on several instances or interfaces).
type FindingKey = (String, String, String);

fn key(f: &crate::doctor::Finding) -> FindingKey {
    (f.check.clone(), f.host.clone(), f.probed.clone())
}

fn finding_keys(r: Option<&Report>) -> BTreeSet<FindingKey> {
    r.into_iter().flat_map(|r| &r.findings).map(key).collect()
}

impl Director {
    fn doctor_every(&self) -> Option<Duration> {
        match self.core.config().global.doctor_interval {
            Some(d) if d.0.is_zero() => None,
            Some(d) => Some(d.0),
            None => Some(DEFAULT_EVERY),
        }
    }

    /// Every second: the clocks, and a run when one is due.
    pub(super) fn doctor_tick(&mut self) {
        let now = Instant::now();
        if let Some(jump) = self.doctor.clock.observe(now, SystemTime::now()) {
            self.log(
                EventKind::Daemon,
                "clock",
                format!("the wall clock jumped by {jump} ms (VRRP timers are not affected)"),
            );
            let runs = &mut self.doctor;
            runs.jumps.push((now_ms(), jump));
            if runs.jumps.len() > JUMPS_KEPT {
                runs.jumps.remove(0);
            }
            // Look again at once, unless the operator turned the doctor's runs off.
            if self
                .core
                .config()
                .global
                .doctor_interval
                .is_none_or(|d| !d.0.is_zero())
            {
                self.doctor.next_at = Some(now);
            }
        }
        if self.doctor.running || self.doctor.next_at.is_none_or(|at| now < at) {
            return;
        }
        self.doctor.running = true;
        self.doctor.next_at = self.doctor_every().map(|every| now + every);
        let config = self.core.config().clone();
        let local = LocalState {
            vrrp: self
                .vrrp
                .views()
                .into_iter()
                .map(|v| (v.name, v.state))
                .collect(),
            clock_jumps: self.doctor.jumps.clone(),
        };
        let tx = self.doctor.tx.clone();
        // A thread of its own at the lowest CPU priority (nft and the probes it starts
        // inherit it): diagnostics must never take the CPU from VRRP, IPVS or the console's
        // snapshots. Seen in the stressed lab VM: a doctor run at normal priority (three nft
        // processes under TCG) left the consoles with 2 s old views.
        let spawned = std::thread::Builder::new()
            .name("doctor".into())
            .spawn(move || {
                // SAFETY: setpriority on this thread's own id (Linux: a tid is a valid
                // PRIO_PROCESS target and changes that thread only).
                unsafe { libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as u32, 19) };
                let _ = tx.blocking_send(doctor::run(&config, &local));
            });
        if let Err(e) = spawned {
            self.doctor.running = false;
            tracing::warn!("doctor: cannot start its thread: {e}");
        }
    }

    /// Run the checks now (an operator asked); a run under way is not doubled.
    pub(super) fn doctor_now(&mut self) -> Result<String, String> {
        if self.doctor.running {
            return Ok("the doctor is running; its findings come with the next snapshot".into());
        }
        self.doctor.next_at = Some(Instant::now());
        self.doctor_tick();
        Ok("the doctor runs now (a few seconds of listening and probing)".into())
    }

    pub(super) fn on_doctor(&mut self, report: Report) {
        self.doctor.running = false;
        let before = finding_keys(self.doctor.last.as_ref());
        let after = finding_keys(Some(&report));
        for f in &report.findings {
            if !before.contains(&key(f)) {
                self.log(
                    EventKind::Doctor,
                    &f.check,
                    format!("{}: {} — fix: {}", f.host, f.seen, f.fix),
                );
            }
        }
        for (check, host, _) in before.difference(&after) {
            self.log(EventKind::Doctor, check, format!("{host}: no longer found"));
        }
        if self.doctor.last.is_none() && report.findings.is_empty() {
            self.log(
                EventKind::Doctor,
                "checks",
                format!("no finding ({} checks passed)", report.passed.len()),
            );
        }
        self.doctor.last = Some(report);
    }
}
