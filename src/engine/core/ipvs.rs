//! What the IPVS worker reports: changes applied and failed, drift repaired, the kernel's
//! settings, and each dump with the rates it gives.

use std::collections::VecDeque;
use std::time::Instant;

use super::{Core, Now};
use crate::engine::ipvs_worker::IpvsReport;
use crate::engine::snapshot::EventKind;
use crate::ipvs::{RateTracker, Stats};

/// Applied IPVS changes logged as an event each; a larger batch is one event.
const OPS_LOGGED_ONE_BY_ONE: usize = 100;
/// CPS samples kept per real server for the sparkline.
const CPS_HISTORY: usize = 60;

/// Rates of one service or real server from successive dumps, and their recent history.
#[derive(Default)]
pub(super) struct StatsTrack {
    tracker: RateTracker,
    sampled: bool,
    pub(super) cps: f64,
    pub(super) in_bps: f64,
    pub(super) out_bps: f64,
    pub(super) in_pps: f64,
    pub(super) out_pps: f64,
    pub(super) history: VecDeque<f64>,
}

impl StatsTrack {
    fn update(&mut self, at: Instant, stats: Stats) {
        let first = !std::mem::replace(&mut self.sampled, true);
        let r = self.tracker.update(at, stats);
        (
            self.cps,
            self.in_bps,
            self.out_bps,
            self.in_pps,
            self.out_pps,
        ) = (r.cps, r.inbps * 8.0, r.outbps * 8.0, r.inpps, r.outpps);
        if first {
            return; // nothing to compare the first sample with
        }
        self.history.push_back(r.cps);
        if self.history.len() > CPS_HISTORY {
            self.history.pop_front();
        }
    }
}

impl Core {
    pub(super) fn on_ipvs(&mut self, now: Now, report: IpvsReport) {
        if report.applied.len() > OPS_LOGGED_ONE_BY_ONE {
            // A table loaded or reloaded whole: one event, each change at debug level. One
            // record per change (6,000 for 2,000 services) kept the director's thread, which
            // also sends the adverts, from its timers for seconds under load.
            for op in &report.applied {
                tracing::debug!(target: "lvsdeck::event", kind = "ipvs", "{op}");
            }
            let (first, last) = (
                &report.applied[0],
                &report.applied[report.applied.len() - 1],
            );
            self.log(
                now,
                EventKind::Ipvs,
                "table",
                format!(
                    "applied {} changes to the kernel's table, from `{first}` to `{last}` (each at debug level)",
                    report.applied.len()
                ),
            );
        } else {
            for op in &report.applied {
                self.log(
                    now,
                    EventKind::Ipvs,
                    &op.service_key().to_string(),
                    op.to_string(),
                );
            }
        }
        for (op, e) in &report.failed {
            self.log(
                now,
                EventKind::Ipvs,
                &op.service_key().to_string(),
                format!("FAILED {op}: {e}"),
            );
        }
        for op in &report.settings_applied {
            self.log(now, EventKind::Ipvs, "kernel", op.to_string());
        }
        for (op, e) in &report.settings_failed {
            self.log(now, EventKind::Ipvs, "kernel", format!("FAILED {op}: {e}"));
        }
        // Advice, not a change to the kernel: the "ipvs" kind is kept for what was applied.
        for note in &report.notes {
            self.log(now, EventKind::Daemon, "ipvs", note.clone());
        }
        self.drift_repairs += report.drift.len() as u64;
        if let Some(took) = report.apply_time {
            self.apply_latency.observe(took.as_secs_f64());
        }
        for d in &report.drift {
            self.log(
                now,
                EventKind::Ipvs,
                "table",
                format!("changed outside lvsdeck, repaired: {d:?}"),
            );
        }
        // A pass that only applied changes carries no dump: the previous one stands.
        let Some(dump) = report.dump else { return };
        if let Ok(dump) = &dump {
            for s in dump {
                self.stats
                    .entry((s.entry.service.key, None))
                    .or_default()
                    .update(report.at, s.entry.stats);
                for d in &s.dests {
                    self.stats
                        .entry((s.entry.service.key, Some(d.dest.key())))
                        .or_default()
                        .update(report.at, d.stats);
                }
            }
        }
        if let (Err(e), Some(Ok(_)) | None) = (&dump, self.last_dump.as_ref().map(|(_, d)| d)) {
            self.log(now, EventKind::Ipvs, "kernel", e.clone());
        }
        self.last_dump = Some((report.at, dump));
        if let Some(every) = report.dump_every {
            self.dump_every = every;
        }
    }
}
