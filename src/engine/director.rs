//! The director: one task that owns the VRRP instances, the IPVS worker's view, health and the
//! operator's overrides; it applies commands, keeps the event log and publishes the Snapshot.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tracing::{info, warn};

use super::ipvs_worker::{IpvsReport, IpvsWorker};
use super::snapshot::*;
use crate::config::model::Config;
use crate::control::protocol::Command;
use crate::health::runner::{HealthHandle, RunnerConfig};
use crate::health::target::CheckTarget;
use crate::health::{Change, HealthEvent, TargetId};
use crate::ipvs::settings::{self, Settings};
use crate::ipvs::table::{self, Health, RealId, RealState, VsId};
use crate::ipvs::{DestKey, RateTracker, ServiceKey, Stats};
use crate::vrrp::runner::{RunError, Runner, Stopped};

mod bgp;
mod commands;
mod doctor;
mod pacing;
mod persist;
mod views;

/// Events kept for the Snapshot and new subscribers.
const EVENT_RING: usize = 1000;
/// Applied IPVS changes logged as an event each; a larger batch is one event.
const OPS_LOGGED_ONE_BY_ONE: usize = 100;
/// The longest a quiet director goes without publishing a Snapshot.
const PUBLISH_EVERY: Duration = Duration::from_millis(500);
/// CPS samples kept per real server for the sparkline.
const CPS_HISTORY: usize = 60;

/// A command from the control socket (or the embedded console), with who sent it.
pub struct CommandRequest {
    pub command: Command,
    pub user: String,
    pub uid: u32,
    /// Whether the caller may act (root or the admin group); others are refused and logged.
    pub admin: bool,
    pub reply: oneshot::Sender<Result<String, String>>,
}

/// What other tasks hold to watch and steer the director.
#[derive(Clone)]
pub struct Handles {
    pub snapshot: watch::Receiver<Arc<Snapshot>>,
    pub events: broadcast::Sender<EventView>,
    pub commands: mpsc::Sender<CommandRequest>,
    /// Consoles following the snapshots now (see [`Watching`]).
    pub watchers: Arc<AtomicUsize>,
}

/// Held by whoever follows the snapshots as they change (a console): while one does, a quiet
/// director still publishes every `PUBLISH_EVERY`, and not otherwise (a snapshot of 2,000
/// services is not free).
pub struct Watching(Arc<AtomicUsize>);

impl Watching {
    pub fn new(handles: &Handles) -> Watching {
        handles.watchers.fetch_add(1, Ordering::Relaxed);
        Watching(handles.watchers.clone())
    }
}

impl Drop for Watching {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Rates of one service or real server from successive dumps, and their recent history.
#[derive(Default)]
struct StatsTrack {
    tracker: RateTracker,
    sampled: bool,
    cps: f64,
    in_bps: f64,
    out_bps: f64,
    in_pps: f64,
    out_pps: f64,
    history: VecDeque<f64>,
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

pub struct Director {
    config: Config,
    config_path: PathBuf,
    vrrp: Runner,
    ipvs: IpvsWorker,
    ipvs_rx: mpsc::Receiver<IpvsReport>,
    health: Health,
    checks: HealthHandle,
    checks_rx: mpsc::Receiver<HealthEvent>,
    /// Which real server each health target is.
    targets: HashMap<TargetId, RealId>,
    /// Real servers whose checks cannot run: held down (fail closed) until a reload fixes them.
    unchecked: std::collections::HashSet<RealId>,
    last_check: HashMap<RealId, CheckResult>,
    /// When each real server's health last changed.
    health_changed_ms: HashMap<RealId, u64>,
    /// IPVS drift put back, and how long applying changes took (for the metrics).
    drift_repairs: u64,
    apply_latency: Histogram,
    drains: HashMap<RealId, Override<()>>,
    weights: HashMap<RealId, Override<u32>>,
    /// The last full dump of the kernel's table (or why there is none), and when.
    last_dump: Option<(Instant, Result<Vec<crate::ipvs::ServiceDump>, String>)>,
    /// The IPVS worker's current spacing of full dumps.
    dump_every: Duration,
    stats: HashMap<(ServiceKey, Option<DestKey>), StatsTrack>,
    /// The kernel-wide settings last sent to the IPVS worker.
    pushed_settings: Option<Settings>,
    events: VecDeque<EventView>,
    snapshot_tx: watch::Sender<Arc<Snapshot>>,
    pacer: pacing::Pacer,
    watchers: Arc<AtomicUsize>,
    events_tx: broadcast::Sender<EventView>,
    commands_rx: mpsc::Receiver<CommandRequest>,
    commands_tx: mpsc::Sender<CommandRequest>,
    started_ms: u64,
    mode: &'static str,
    /// Host figures; absent where sysinfo cannot read this system.
    system: Option<sysinfo::System>,
    networks: Option<sysinfo::Networks>,
    host: HostView,
    /// Where operators' overrides are kept across restarts (and, beside it, the audit).
    state_path: PathBuf,
    doctor: doctor::DoctorRuns,
    /// `[bgp]`: the worker that drives BIRD, started with the first `[bgp]` seen.
    bgp: Option<bgp::BgpShell>,
    /// The whole director drained (`ctl drain-director`): every address withdrawn.
    director_drain: Option<Override<()>>,
}

impl Director {
    /// Start VRRP and the IPVS worker for `config`. `mode` is "daemon" or "embedded";
    /// `state_path`: where operators' overrides are kept (`operator_state::path_for`).
    pub async fn start(
        config: Config,
        config_path: PathBuf,
        mode: &'static str,
        state_path: PathBuf,
    ) -> Result<Director, RunError> {
        // Operators' overrides from before a restart: priorities go in before the machines
        // start, drains and weights before the first IPVS apply (`persist`).
        let saved = crate::engine::operator_state::OperatorState::load(&state_path);
        let priorities: Vec<_> = saved
            .as_ref()
            .map(|s| {
                s.priorities
                    .iter()
                    .map(|p| (p.instance.clone(), p.set.clone()))
                    .collect()
            })
            .unwrap_or_default();
        let vrrp = Runner::start(&config, &priorities).await?;
        let (ipvs, ipvs_rx) = IpvsWorker::start(Duration::from_secs(1));
        let (snapshot_tx, _) = watch::channel(Arc::new(Snapshot::default()));
        let (events_tx, _) = broadcast::channel(256);
        let (commands_tx, commands_rx) = mpsc::channel(64);
        let (checks, checks_rx) = crate::health::runner::spawn(RunnerConfig::default());
        let mut d = Director {
            config,
            config_path,
            vrrp,
            ipvs,
            ipvs_rx,
            health: Health::default(),
            checks,
            checks_rx,
            targets: HashMap::new(),
            unchecked: Default::default(),
            last_check: HashMap::new(),
            health_changed_ms: HashMap::new(),
            drift_repairs: 0,
            apply_latency: Histogram::default(),
            drains: HashMap::new(),
            weights: HashMap::new(),
            last_dump: None,
            dump_every: Duration::ZERO,
            stats: HashMap::new(),
            pushed_settings: None,
            events: VecDeque::new(),
            snapshot_tx,
            pacer: pacing::Pacer::new(Instant::now()),
            watchers: Arc::new(AtomicUsize::new(0)),
            events_tx,
            commands_rx,
            commands_tx,
            started_ms: now_ms(),
            mode,
            system: sysinfo::System::new().ok(),
            networks: sysinfo::Networks::new_with_refreshed_list().ok(),
            host: HostView::default(),
            state_path,
            doctor: doctor::DoctorRuns::new(Instant::now()),
            bgp: None,
            director_drain: None,
        };
        d.log(
            "daemon",
            "lvsdeck",
            format!("started with {}", d.config_path.display()),
        );
        // Before the first IPVS apply: a drained server stays drained across a restart.
        d.restore_operator_state(saved);
        d.sync_checks();
        d.push_desired();
        d.refresh_host();
        d.publish();
        Ok(d)
    }

    pub fn handles(&self) -> Handles {
        Handles {
            snapshot: self.snapshot_tx.subscribe(),
            events: self.events_tx.clone(),
            commands: self.commands_tx.clone(),
            watchers: self.watchers.clone(),
        }
    }

    /// An event: to the console's log, and to the daemon's log as one structured record
    /// (journald fields KIND and SUBJECT under systemd).
    fn log(&mut self, kind: &str, subject: &str, message: String) {
        info!(target: "lvsdeck::event", kind, subject, "{message}");
        let e = EventView {
            at_ms: now_ms(),
            kind: kind.into(),
            subject: subject.into(),
            message,
        };
        if self.events.len() >= EVENT_RING {
            self.events.pop_front();
        }
        self.events.push_back(e.clone());
        let _ = self.events_tx.send(e);
    }

    /// The health table with the operator's overrides folded in, as the IPVS table wants it.
    fn effective_health(&self) -> Health {
        let mut h = self.health.clone();
        for id in self.drains.keys() {
            h.reals.entry(id.clone()).or_insert(RealState::UP).weight = Some(0);
        }
        for (id, w) in &self.weights {
            if !self.drains.contains_key(id) {
                h.reals.entry(id.clone()).or_insert(RealState::UP).weight = Some(w.value);
            }
        }
        h
    }

    /// Hand the health runner one target per checked real server (reload-safe: unchanged
    /// checks keep their state).
    fn sync_checks(&mut self) {
        let mut targets = Vec::new();
        self.targets.clear();
        for vs in &self.config.virtual_server {
            let service = VsId::of(vs).0;
            for rs in vs.real_server.iter().filter(|rs| !rs.check.is_empty()) {
                let t = CheckTarget::for_configured(&self.config, service.clone(), vs, rs);
                self.targets.insert(t.id.clone(), RealId::of(vs, rs));
                targets.push(t);
            }
        }
        let errors = self.checks.sync(&targets).err().unwrap_or_default();
        // Fail closed: a server whose checks cannot run is down, with the reason, not up
        // unchecked. Fixed by a reload, it starts over as a newly checked server.
        let was_unchecked = std::mem::take(&mut self.unchecked);
        for e in errors {
            let Some(id) = self
                .targets
                .iter()
                .find(|(t, _)| t.to_string() == e.id)
                .map(|(_, r)| r.clone())
            else {
                continue;
            };
            let message = format!(
                "check cannot run: {} check {}: {}",
                e.kind, e.index, e.message
            );
            let subject = format!("{} -> {}", id.vs, crate::ipvs::SockAddr(id.addr, id.port));
            self.log("health", &subject, format!("down: {message}"));
            self.last_check.insert(
                id.clone(),
                CheckResult {
                    ok: false,
                    at_ms: now_ms(),
                    latency_ms: 0.0,
                    message,
                },
            );
            self.health.reals.insert(id.clone(), RealState::DOWN);
            self.unchecked.insert(id);
        }
        for id in was_unchecked.difference(&self.unchecked) {
            self.health.reals.remove(id);
            self.last_check.remove(id);
        }
        // Real servers that are no longer checked count as up again.
        let checked: Vec<RealId> = self.targets.values().cloned().collect();
        self.health.reals.retain(|id, _| checked.contains(id));
    }

    fn on_health(&mut self, ev: HealthEvent) {
        let Some(id) = self.targets.get(&ev.id).cloned() else {
            tracing::debug!("health event for an unknown target {:?}", ev.id);
            return;
        };
        let mut first_answer = false;
        if let Some(r) = &ev.result {
            // A check that cannot run changes nothing (as in keepalived): said once, loudly.
            let said = self
                .last_check
                .get(&id)
                .is_some_and(|c| c.message == r.message);
            if r.not_run && !said {
                let subject = format!("{} -> {}", id.vs, crate::ipvs::SockAddr(id.addr, id.port));
                warn!("{subject}: {}", r.message);
                self.log(
                    "health",
                    &subject,
                    format!(
                        "{}: the server keeps its state until a check can run (as keepalived)",
                        r.message
                    ),
                );
            }
            first_answer = !self.last_check.contains_key(&id);
            self.last_check.insert(
                id.clone(),
                CheckResult {
                    ok: r.ok,
                    at_ms: r
                        .at
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_millis() as u64),
                    latency_ms: r.latency.as_secs_f64() * 1000.0,
                    message: r.message.clone(),
                },
            );
        }
        if ev.changes.is_empty() {
            // A first answer that changes nothing still ends a service's wait before it is
            // announced (`[bgp]`).
            if first_answer {
                self.push_bgp();
            }
            return;
        }
        let subject = format!("{} -> {}", id.vs, crate::ipvs::SockAddr(id.addr, id.port));
        let entry = self.health.reals.entry(id.clone()).or_insert(RealState::UP);
        let mut went = None;
        for change in &ev.changes {
            match change {
                Change::Up { .. } => {
                    entry.up = true;
                    went = Some(true);
                }
                Change::Down { .. } => {
                    entry.up = false;
                    went = Some(false);
                }
                Change::Weight { to, .. } => entry.weight = Some((*to).max(0) as u32),
            }
        }
        for change in &ev.changes {
            let text = match change {
                Change::Up { reason } => format!("up: {reason}"),
                Change::Down { reason } => format!("down: {reason}"),
                Change::Weight { from, to } => format!("weight {from} -> {to} (misc_dynamic)"),
            };
            self.log("health", &subject, text);
        }
        if let Some(up) = went {
            self.health_changed_ms.insert(id.clone(), now_ms());
            self.notify_real(&id, up);
        }
        self.push_desired();
    }

    /// keepalived's notify_up / notify_down of a real server.
    fn notify_real(&self, id: &RealId, up: bool) {
        for vs in &self.config.virtual_server {
            for rs in &vs.real_server {
                if RealId::of(vs, rs) != *id {
                    continue;
                }
                let script = if up { &rs.notify_up } else { &rs.notify_down };
                if let Some(line) = script {
                    run_script(line, &[], self.config.global.script_user.as_deref());
                }
            }
        }
    }

    /// Send the worker the kernel-wide settings (timeouts, sync daemon role) when they
    /// change: at start, on reload and when the sync daemon's VRRP instance changes state.
    fn push_settings(&mut self) {
        let want = settings::wanted(&self.config, |name| self.vrrp.state_of(name));
        if self.pushed_settings.as_ref() != Some(&want) {
            self.ipvs.set_settings(want.clone());
            self.pushed_settings = Some(want);
        }
    }

    fn push_desired(&mut self) {
        let desired = table::desired(&self.config, &self.effective_health());
        for p in &desired.problems {
            warn!("ipvs: {p}");
        }
        let mut flips = Vec::new();
        for (vs, q) in &desired.quorum {
            if self
                .health
                .quorum
                .insert(vs.clone(), q.up)
                .is_some_and(|before| before != q.up)
            {
                flips.push((vs.clone(), q.up, q.live_weight));
            }
        }
        for (vs, up, weight) in flips {
            self.log(
                "health",
                &vs.0,
                format!(
                    "quorum {} (live weight {weight})",
                    if up { "up" } else { "lost" }
                ),
            );
            if let Some(cfg) = self
                .config
                .virtual_server
                .iter()
                .find(|v| VsId::of(v) == vs)
            {
                let script = if up { &cfg.quorum_up } else { &cfg.quorum_down };
                if let Some(line) = script {
                    run_script(line, &[], self.config.global.script_user.as_deref());
                }
            }
        }
        self.ipvs.set_desired(desired.table);
        self.push_bgp();
    }

    /// Run until SIGTERM (graceful hand-over, then stop) or SIGINT (immediate release).
    pub async fn run(mut self) -> Result<Stopped, RunError> {
        let stopped = self.run_until_stopped().await;
        if stopped.is_ok() {
            self.omega();
        }
        // Withdrawn already after a SIGTERM; at once after a SIGINT or an error.
        self.bgp_begin_stop(Instant::now());
        self.bgp_release().await;
        stopped
    }

    /// keepalived's `omega`: a service's quorum_down script runs at stop too.
    fn omega(&self) {
        for vs in self.config.virtual_server.iter().filter(|vs| vs.omega) {
            if let Some(line) = &vs.quorum_down {
                info!("omega: running quorum_down of {}", VsId::of(vs).0);
                run_script(line, &[], self.config.global.script_user.as_deref());
            }
        }
    }

    async fn run_until_stopped(&mut self) -> Result<Stopped, RunError> {
        let signal_err = |e: std::io::Error| RunError::Rtnl(crate::vrrp::vip::VipError::Io(e));
        let mut term = signal(SignalKind::terminate()).map_err(signal_err)?;
        let mut int = signal(SignalKind::interrupt()).map_err(signal_err)?;
        let mut usr1 = signal(SignalKind::user_defined1()).map_err(signal_err)?;
        let mut hup = signal(SignalKind::hangup()).map_err(signal_err)?;
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        // A quiet director still publishes twice a second while a console follows, so what it
        // is sent is never more than half a second old when taken (a view over 2 s old is
        // shown as stale).
        let mut publish_tick = tokio::time::interval(PUBLISH_EVERY);
        // The watchdog is fed from this loop, so a stuck director is restarted by systemd.
        let mut watchdog = tokio::time::interval(
            super::systemd::watchdog_interval().unwrap_or(Duration::from_secs(3600)),
        );
        self.push_settings();
        super::systemd::notify(&format!(
            "READY=1\nSTATUS=running {} VRRP instance(s)",
            self.config.vrrp_instance.len()
        ));
        let mut stopping = false;
        loop {
            let deadline = self
                .vrrp
                .next_deadline()
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
            let deadline = match self.bgp_stop_at() {
                Some(at) => deadline.min(at),
                None => deadline,
            };
            let sleep = tokio::time::sleep_until(tokio::time::Instant::from_std(deadline));
            let publish_at = self.pacer.wake_at();
            let publish_due = tokio::time::sleep_until(tokio::time::Instant::from_std(
                publish_at.unwrap_or(deadline),
            ));
            let mut changed = true;
            // A command's result and a reload are published at once (VRRP transitions too,
            // below): the one who asked reads them next.
            let mut urgent = false;
            tokio::select! {
                input = self.vrrp.recv_input() => {
                    if let Some(input) = input {
                        self.vrrp.handle_input(Instant::now(), input);
                    }
                }
                _ = sleep => {}
                _ = publish_due, if publish_at.is_some() => changed = false,
                report = self.ipvs_rx.recv() => {
                    if let Some(report) = report {
                        self.on_ipvs(report);
                    }
                }
                ev = self.checks_rx.recv() => {
                    if let Some(ev) = ev {
                        self.on_health(ev);
                    }
                }
                req = self.commands_rx.recv() => {
                    if let Some(req) = req {
                        self.on_command(req).await;
                        urgent = true;
                    }
                }
                _ = tick.tick() => {
                    self.refresh_host();
                    self.doctor_tick();
                }
                report = bgp::BgpShell::recv(&mut self.bgp) => {
                    if let Some(report) = report {
                        self.on_bgp(report);
                    }
                }
                report = self.doctor.rx.recv() => {
                    if let Some(report) = report {
                        self.on_doctor(report);
                    }
                }
                _ = publish_tick.tick() => changed = self.watchers.load(Ordering::Relaxed) > 0,
                _ = watchdog.tick() => {
                    super::systemd::notify("WATCHDOG=1");
                    changed = false;
                }
                _ = hup.recv() => {
                    super::systemd::notify("RELOADING=1");
                    let result = self.reload().await;
                    match &result {
                        Ok(m) => self.log("daemon", "SIGHUP", m.clone()),
                        Err(m) => self.log("daemon", "SIGHUP", format!("reload refused: {m}")),
                    }
                    super::systemd::notify("READY=1");
                    urgent = true;
                }
                _ = term.recv() => {
                    if stopping {
                        return Ok(self.vrrp.stop().await);
                    }
                    let n = self.vrrp.handover_all(Instant::now());
                    info!("SIGTERM: handing over {n} master instance(s) before stopping");
                    // BGP: withdraw first, stop once the routers had withdraw_wait.
                    self.bgp_begin_stop(Instant::now());
                    super::systemd::notify("STOPPING=1");
                    stopping = true;
                }
                _ = int.recv() => return Ok(self.vrrp.stop().await),
                _ = usr1.recv() => {
                    let n = self.vrrp.handover_all(Instant::now());
                    info!("SIGUSR1: graceful hand-over of {n} master instance(s)");
                    changed = false;
                }
            }
            let now = Instant::now();
            self.vrrp.handle_due(now);
            self.vrrp.step(now).await;
            let events = self.vrrp.take_events();
            // The sync daemon's role follows VRRP: look again only when something happened.
            if !events.is_empty() {
                self.push_settings();
                urgent = true;
            }
            for (instance, what) in events {
                self.log("vrrp", &instance, what);
            }
            if changed {
                self.pacer.changed();
            }
            if self.pacer.due(now, urgent) {
                self.publish();
            }
            if stopping
                && !self.vrrp.any_handing_over()
                && self.bgp_stop_at().is_none_or(|at| at <= now)
            {
                self.vrrp.stop().await;
                return Ok(Stopped::Graceful);
            }
        }
    }

    fn on_ipvs(&mut self, report: IpvsReport) {
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
                "ipvs",
                "table",
                format!(
                    "applied {} changes to the kernel's table, from `{first}` to `{last}` (each at debug level)",
                    report.applied.len()
                ),
            );
        } else {
            for op in &report.applied {
                self.log("ipvs", &op.service_key().to_string(), op.to_string());
            }
        }
        for (op, e) in &report.failed {
            self.log(
                "ipvs",
                &op.service_key().to_string(),
                format!("FAILED {op}: {e}"),
            );
        }
        for op in &report.settings_applied {
            self.log("ipvs", "kernel", op.to_string());
        }
        for (op, e) in &report.settings_failed {
            self.log("ipvs", "kernel", format!("FAILED {op}: {e}"));
        }
        // Advice, not a change to the kernel: the "ipvs" kind is kept for what was applied.
        for note in &report.notes {
            self.log("daemon", "ipvs", note.clone());
        }
        self.drift_repairs += report.drift.len() as u64;
        if let Some(took) = report.apply_time {
            self.apply_latency.observe(took.as_secs_f64());
        }
        for d in &report.drift {
            self.log(
                "ipvs",
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
            self.log("ipvs", "kernel", e.clone());
        }
        self.last_dump = Some((report.at, dump));
        if let Some(every) = report.dump_every {
            self.dump_every = every;
        }
    }

    fn refresh_host(&mut self) {
        let (mut cpu, mut used, mut total) = (0.0, 0, 0);
        if let Some(sys) = &mut self.system {
            sys.refresh_cpu_usage();
            sys.refresh_memory();
            (cpu, used, total) = (
                sys.global_cpu_usage(),
                sys.used_memory(),
                sys.total_memory(),
            );
        }
        let (mut rx, mut tx) = (0, 0);
        if let Some(nets) = &mut self.networks {
            nets.refresh(true);
            (rx, tx) = nets.iter().fold((0, 0), |(r, t), (_, n)| {
                (r + n.received(), t + n.transmitted())
            });
        }
        self.host = HostView {
            hostname: sysinfo::System::host_name().unwrap_or_default(),
            router_id: self.config.global.router_id.clone(),
            config_path: self.config_path.display().to_string(),
            mode: self.mode.to_string(),
            started_at_ms: self.started_ms,
            cpu_percent: cpu,
            mem_used_bytes: used,
            mem_total_bytes: total,
            net_rx_bps: rx * 8,
            net_tx_bps: tx * 8,
            refreshed_at_ms: now_ms(),
        };
    }

    fn publish(&mut self) {
        let started = Instant::now();
        let snapshot = Arc::new(self.snapshot());
        self.snapshot_tx.send_replace(snapshot);
        self.pacer.published(started, started.elapsed());
    }

    /// The Snapshot of this moment.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            schema: SCHEMA,
            taken_at_ms: now_ms(),
            host: self.host.clone(),
            vrrp: self.vrrp.views(),
            ipvs: self.ipvs_view(),
            events: self.events.iter().cloned().collect(),
            vrrp_packets_dropped: self.vrrp.packet_drops(),
            vrrp_scripts: self.vrrp.script_views(),
            doctor: self.doctor.last.clone(),
            bfd: self.vrrp.bfd_views(),
            bfd_packets_dropped: self.vrrp.bfd_drops(),
            bgp: self.bgp_view(),
        }
    }
}

/// Run a configured script line without waiting for it, as the global script user.
fn run_script(line: &str, args: &[String], user: Option<&str>) {
    let user = crate::vrrp::scripts::global_user(user);
    crate::vrrp::scripts::spawn_detached(line, args, user, "script");
}
