//! The IPVS side of the director, on a thread of its own: netlink calls block, and a large
//! table must never delay a VRRP advert. It keeps the kernel's table in step with the desired
//! table (minimal changes, never a flush), and reports each dump with its stats. It also keeps
//! the kernel-wide settings (timeouts, sync daemons) as the configuration and VRRP ask.

use std::collections::BTreeSet;
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tracing::{error, info, warn};

use crate::ipvs::settings::{self, SettingOp, Settings};
use crate::ipvs::table::{Drift, Table, reconcile};
use crate::ipvs::{IpvsBackend, IpvsError, Op, ServiceDump, SyncState};

/// What the worker tells the engine after each pass.
#[derive(Debug)]
pub struct IpvsReport {
    pub at: Instant,
    /// The kernel's table, or why there is none; `None` when this pass only applied changes
    /// (the previous dump still stands).
    pub dump: Option<Result<Vec<ServiceDump>, String>>,
    /// Operations applied in this pass (empty when the table already matched).
    pub applied: Vec<Op>,
    pub failed: Vec<(Op, String)>,
    /// Changes made behind our back (ipvsadm) that this pass repaired.
    pub drift: Vec<Drift>,
    /// Settings changed in this pass, and those that failed (each failure reported once
    /// while it lasts).
    pub settings_applied: Vec<SettingOp>,
    pub settings_failed: Vec<(SettingOp, String)>,
    /// Things worth the operator's attention about the kernel's IPVS.
    pub notes: Vec<String>,
    /// How long applying this pass's changes took, when there were any.
    pub apply_time: Option<Duration>,
    /// After a full dump: how long until the next one (the interval, or more on a table
    /// whose dump is slow), so a view can tell old data from data not yet due again.
    pub dump_every: Option<Duration>,
}

impl IpvsReport {
    /// A report of `dump` (or of no dump) and nothing else yet.
    pub(crate) fn new(at: Instant, dump: Option<Result<Vec<ServiceDump>, String>>) -> IpvsReport {
        IpvsReport {
            at,
            dump,
            applied: Vec::new(),
            failed: Vec::new(),
            drift: Vec::new(),
            apply_time: None,
            settings_applied: Vec::new(),
            settings_failed: Vec::new(),
            notes: Vec::new(),
            dump_every: None,
        }
    }

    fn failed(error: String) -> IpvsReport {
        IpvsReport::new(Instant::now(), Some(Err(error)))
    }

    fn is_empty(&self) -> bool {
        self.applied.is_empty()
            && self.dump.is_none()
            && self.failed.is_empty()
            && self.settings_applied.is_empty()
            && self.settings_failed.is_empty()
            && self.notes.is_empty()
    }
}

/// What the engine sends the worker.
enum ToWorker {
    Desired(Table),
    Settings(Settings),
}

/// Handle to the worker: send the desired table; reports arrive on the receiver.
pub struct IpvsWorker {
    desired_tx: std_mpsc::Sender<ToWorker>,
}

impl IpvsWorker {
    /// Start the worker on the kernel's IPVS; it polls every `interval` and at once when the
    /// desired table changes.
    pub fn start(interval: Duration) -> (IpvsWorker, mpsc::Receiver<IpvsReport>) {
        Self::start_on(crate::ipvs::Netlink::open, interval)
    }

    /// Start the worker on the backend `open` gives (opened on the worker's thread, and
    /// opened again after it reported IPVS gone).
    pub fn start_on<B, F>(open: F, interval: Duration) -> (IpvsWorker, mpsc::Receiver<IpvsReport>)
    where
        B: IpvsBackend + 'static,
        F: FnMut() -> Result<B, IpvsError> + Send + 'static,
    {
        let (desired_tx, desired_rx) = std_mpsc::channel::<ToWorker>();
        let (report_tx, report_rx) = mpsc::channel(16);
        std::thread::Builder::new()
            .name("ipvs".into())
            .spawn(move || worker(open, desired_rx, report_tx, interval))
            .expect("spawn the IPVS thread");
        (IpvsWorker { desired_tx }, report_rx)
    }

    pub fn set_desired(&self, table: Table) {
        let _ = self.desired_tx.send(ToWorker::Desired(table));
    }

    /// The kernel-wide settings wanted now; applied at once, then kept on every full pass.
    pub fn set_settings(&self, settings: Settings) {
        let _ = self.desired_tx.send(ToWorker::Settings(settings));
    }
}

fn worker<B: IpvsBackend>(
    mut open: impl FnMut() -> Result<B, IpvsError>,
    desired_rx: std_mpsc::Receiver<ToWorker>,
    report_tx: mpsc::Sender<IpvsReport>,
    interval: Duration,
) {
    let mut backend: Option<B> = None;
    let mut unavailable: Option<(Instant, String)> = None;
    let mut desired: Option<Table> = None;
    let mut last_applied: Option<Table> = None;
    // The kernel's table as last dumped, with our own changes since folded in: a new desired
    // table is applied against it at once, without waiting for a full dump (which takes
    // seconds on a table of tens of thousands of entries).
    let mut cached: Option<Table> = None;
    let mut next_full = Instant::now();
    let mut dump_cost = Duration::ZERO;
    let mut wanted_settings: Option<Settings> = None;
    let mut settings_changed = false;
    let mut sync_started: BTreeSet<SyncState> = BTreeSet::new();
    let mut settings_failing: Vec<(SettingOp, String)> = Vec::new();
    loop {
        let wait = next_full.saturating_duration_since(Instant::now());
        let mut changed = false;
        match desired_rx.recv_timeout(wait) {
            Ok(first) => {
                // Coalesce a burst of updates: only the newest of each kind matters.
                let mut take = |m: ToWorker| match m {
                    ToWorker::Desired(t) => {
                        desired = Some(t);
                        changed = true;
                    }
                    ToWorker::Settings(s) => {
                        settings_changed |= wanted_settings.as_ref() != Some(&s);
                        wanted_settings = Some(s);
                    }
                };
                take(first);
                while let Ok(newer) = desired_rx.try_recv() {
                    take(newer);
                }
            }
            Err(std_mpsc::RecvTimeoutError::Timeout) => {}
            Err(std_mpsc::RecvTimeoutError::Disconnected) => return,
        }
        if backend.is_none() {
            // Retry opening now and then (ip_vs may be loaded after we started); in between,
            // report the same error each interval so the Snapshot shows it is current.
            next_full = Instant::now() + interval;
            let retry = unavailable
                .as_ref()
                .is_none_or(|(t, _)| t.elapsed() >= Duration::from_secs(10));
            if retry {
                match open() {
                    Ok(mut nl) => {
                        info!("IPVS available");
                        let notes = nl.notes();
                        if !notes.is_empty() {
                            for note in &notes {
                                warn!("{note}");
                            }
                            let report = IpvsReport {
                                notes,
                                ..IpvsReport::new(Instant::now(), None)
                            };
                            if report_tx.blocking_send(report).is_err() {
                                return;
                            }
                        }
                        backend = Some(nl);
                        unavailable = None;
                        next_full = Instant::now();
                    }
                    Err(e) => {
                        if unavailable.is_none() {
                            warn!("{e}");
                        }
                        unavailable = Some((Instant::now(), e.to_string()));
                    }
                }
            }
            if let Some((_, error)) = &unavailable {
                if report_tx
                    .blocking_send(IpvsReport::failed(error.clone()))
                    .is_err()
                {
                    return;
                }
                continue;
            }
        }
        let nl = backend.as_mut().expect("opened above");
        let mut report = match (&desired, cached.as_mut()) {
            (Some(want), Some(table)) if changed && Instant::now() < next_full => {
                let report = fast_apply(nl, want, last_applied.as_ref(), table);
                // Dump again soon, so the Snapshot shows the change (and its cost stays bounded).
                next_full =
                    next_full.min(Instant::now() + (dump_cost * 4).max(Duration::from_millis(100)));
                report
            }
            _ => {
                let started = Instant::now();
                let report = pass(nl, Instant::now(), desired.as_ref(), &mut last_applied);
                cached = report
                    .dump
                    .as_ref()
                    .and_then(|d| d.as_ref().ok())
                    .map(|d| Table::from_dump(d));
                // Space full dumps by their cost, so a large table does not keep the thread busy.
                dump_cost = started.elapsed();
                let every = interval.max(dump_cost * 4);
                next_full = Instant::now() + every;
                IpvsReport {
                    dump_every: Some(every),
                    ..report
                }
            }
        };
        // Settings: at once when they change, and on every full pass (a sync daemon stopped
        // by hand is restarted, as drift in the table is repaired).
        if let Some(want) = &wanted_settings
            && (settings_changed || report.dump.is_some())
        {
            settings_changed = false;
            let (applied, failed) = apply_settings(nl, want, &mut sync_started);
            report.settings_applied = applied;
            // A failure that persists is reported when it starts, not on every pass.
            report.settings_failed = failed
                .iter()
                .filter(|f| !settings_failing.contains(f))
                .cloned()
                .collect();
            settings_failing = failed;
        }
        if report.is_empty() {
            continue;
        }
        if changed {
            last_applied = desired.clone();
        }
        if let Some(Err(e)) = &report.dump
            && e.contains("not available")
        {
            backend = None;
            cached = None;
        }
        if report_tx.blocking_send(report).is_err() {
            return;
        }
    }
}

/// Reads the kernel's timeouts and sync daemons (only what the settings concern) and makes the
/// changes; what was done and what failed.
pub(crate) fn apply_settings(
    nl: &mut impl IpvsBackend,
    want: &Settings,
    started: &mut BTreeSet<SyncState>,
) -> (Vec<SettingOp>, Vec<(SettingOp, String)>) {
    let mut failed = Vec::new();
    let timeouts = match want.timeouts {
        Some(t) => match nl.timeouts() {
            Ok(have) => Some(have),
            Err(e) => {
                failed.push((SettingOp::SetTimeouts(t), format!("reading them: {e}")));
                return (Vec::new(), failed);
            }
        },
        None => None,
    };
    let daemons = if want.manage_sync || !started.is_empty() {
        match nl.daemons() {
            Ok(d) => d,
            Err(e) => {
                let op = match want.sync.first() {
                    Some(d) => SettingOp::StartDaemon(d.clone()),
                    None => SettingOp::StopDaemon(SyncState::Master),
                };
                failed.push((op, format!("listing the sync daemons: {e}")));
                return (Vec::new(), failed);
            }
        }
    } else {
        Vec::new()
    };
    let mut applied = Vec::new();
    let mut ops = settings::changes(want, timeouts, &daemons, started);
    if want.sloppy && !nl.sloppy() {
        ops.push(SettingOp::SetSloppy);
    }
    for op in ops {
        let result = match &op {
            SettingOp::SetTimeouts(t) => nl.set_timeouts(t),
            SettingOp::StartDaemon(d) => nl.new_daemon(d).map(|()| {
                started.insert(d.state);
            }),
            SettingOp::StopDaemon(state) => nl.del_daemon(*state).map(|()| {
                started.remove(state);
            }),
            SettingOp::SetSloppy => nl.set_sloppy(),
        };
        match result {
            Ok(()) => {
                info!("ipvs: {op}");
                applied.push(op);
            }
            Err(e) => {
                error!("ipvs: FAILED {op}: {e}");
                failed.push((op, e.to_string()));
            }
        }
    }
    (applied, failed)
}

/// Apply a new desired table against the cached view of the kernel, without a dump.
fn fast_apply(
    nl: &mut impl IpvsBackend,
    desired: &Table,
    last_applied: Option<&Table>,
    cached: &mut Table,
) -> IpvsReport {
    let at = Instant::now();
    let plan = reconcile(desired, last_applied, cached);
    let started = Instant::now();
    let result = nl.apply_all(&plan.ops);
    let apply_time = Some(started.elapsed());
    let mut applied = Vec::new();
    for op in plan.ops {
        if result.failed.iter().any(|(f, _)| *f == op) {
            continue;
        }
        info!("ipvs: {op}");
        let _ = cached.apply(&op);
        applied.push(op);
    }
    for (op, e) in &result.failed {
        error!("ipvs: {op}: {e}");
    }
    IpvsReport {
        applied,
        failed: result
            .failed
            .iter()
            .map(|(op, e)| (op.clone(), e.to_string()))
            .collect(),
        apply_time,
        ..IpvsReport::new(at, None)
    }
}

/// One pass: dump, reconcile against the desired table if there is one, dump again if changed.
pub fn pass(
    nl: &mut impl IpvsBackend,
    at: Instant,
    desired: Option<&Table>,
    last_applied: &mut Option<Table>,
) -> IpvsReport {
    let dump = match nl.dump() {
        Ok(d) => d,
        Err(e) => return failed_dump(at, e),
    };
    let Some(desired) = desired else {
        return IpvsReport::new(at, Some(Ok(dump)));
    };
    let actual = Table::from_dump(&dump);
    let plan = reconcile(desired, last_applied.as_ref(), &actual);
    if plan.ops.is_empty() {
        *last_applied = Some(desired.clone());
        return IpvsReport {
            drift: plan.drift,
            ..IpvsReport::new(at, Some(Ok(dump)))
        };
    }
    for d in &plan.drift {
        warn!("IPVS drift (changed outside lvsdeck), repairing: {d:?}");
    }
    let started = Instant::now();
    let result = nl.apply_all(&plan.ops);
    let apply_time = Some(started.elapsed());
    for op in plan
        .ops
        .iter()
        .filter(|op| !result.failed.iter().any(|(f, _)| f == *op))
    {
        info!("ipvs: {op}");
    }
    for (op, e) in &result.failed {
        error!("ipvs: {op}: {e}");
    }
    *last_applied = Some(desired.clone());
    let failed: Vec<(Op, String)> = result
        .failed
        .iter()
        .map(|(op, e)| (op.clone(), e.to_string()))
        .collect();
    let applied = plan
        .ops
        .into_iter()
        .filter(|op| !failed.iter().any(|(f, _)| f == op))
        .collect();
    let dump = nl.dump().map_err(|e| e.to_string());
    IpvsReport {
        applied,
        failed,
        drift: plan.drift,
        apply_time,
        ..IpvsReport::new(at, Some(dump))
    }
}

fn failed_dump(at: Instant, e: IpvsError) -> IpvsReport {
    IpvsReport::new(at, Some(Err(e.to_string())))
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::ipvs::mem::MemBackend;
    use crate::ipvs::{Dest, Fwd, Protocol, Service, ServiceKey, SyncDaemon, Timeouts};

    /// The worker owns its backend; the test keeps a second handle on the same table.
    struct Shared(Arc<Mutex<MemBackend>>);

    impl IpvsBackend for Shared {
        fn apply(&mut self, op: &Op) -> Result<(), IpvsError> {
            self.0.lock().unwrap().apply(op)
        }
        fn dump(&mut self) -> Result<Vec<ServiceDump>, IpvsError> {
            self.0.lock().unwrap().dump()
        }
        fn timeouts(&mut self) -> Result<Timeouts, IpvsError> {
            self.0.lock().unwrap().timeouts()
        }
        fn set_timeouts(&mut self, t: &Timeouts) -> Result<(), IpvsError> {
            self.0.lock().unwrap().set_timeouts(t)
        }
        fn daemons(&mut self) -> Result<Vec<SyncDaemon>, IpvsError> {
            self.0.lock().unwrap().daemons()
        }
        fn new_daemon(&mut self, d: &SyncDaemon) -> Result<(), IpvsError> {
            self.0.lock().unwrap().new_daemon(d)
        }
        fn del_daemon(&mut self, state: SyncState) -> Result<(), IpvsError> {
            self.0.lock().unwrap().del_daemon(state)
        }
        fn sloppy(&mut self) -> bool {
            self.0.lock().unwrap().sloppy()
        }
        fn set_sloppy(&mut self) -> Result<(), IpvsError> {
            self.0.lock().unwrap().set_sloppy()
        }
    }

    fn table(weight: u32) -> Table {
        let key = ServiceKey::Addr {
            proto: Protocol::Tcp,
            addr: "192.0.2.1".parse().unwrap(),
            port: 80,
        };
        let mut t = Table::default();
        let ts = t.insert_service(Service::new(key, "rr"));
        let d = Dest::new("192.0.2.11".parse().unwrap(), 80, Fwd::Route, weight);
        ts.dests.insert(d.key(), d);
        t
    }

    #[tokio::test]
    async fn the_worker_keeps_a_memory_table_in_step_and_puts_back_what_others_change() {
        let kernel = Arc::new(Mutex::new(MemBackend::new()));
        let handle = kernel.clone();
        let (worker, mut reports) = IpvsWorker::start_on(
            move || Ok(Shared(handle.clone())),
            Duration::from_millis(50),
        );
        worker.set_desired(table(7));
        worker.set_settings(Settings {
            timeouts: Some(Timeouts {
                tcp: 900,
                tcp_fin: 120,
                udp: 300,
            }),
            ..Settings::default()
        });
        let mut applied = Vec::new();
        while applied.len() < 2 {
            let r = reports.recv().await.unwrap();
            applied.extend(r.applied);
        }
        assert_eq!(kernel.lock().unwrap().table, table(7));
        // ipvsadm behind our back: the next full pass repairs it and says so.
        let key = *table(7).services.keys().next().unwrap();
        kernel.lock().unwrap().apply(&Op::DelService(key)).unwrap();
        let drift = loop {
            let r = reports.recv().await.unwrap();
            if !r.drift.is_empty() {
                break r.drift;
            }
        };
        assert_eq!(drift.len(), 1);
        assert_eq!(kernel.lock().unwrap().table, table(7));
        assert_eq!(kernel.lock().unwrap().timeouts.tcp, 900);
    }
}
