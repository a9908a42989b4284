//! The director's shell: one task that owns the VRRP instances, the IPVS worker, the health
//! runner, the BGP worker, the signals and the processes, and runs the decisions of
//! [`Core`] (`core.rs`) on them: what they report goes in, what the core asks is done, and
//! the Snapshot is published.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tracing::{info, warn};

use super::core::{
    Answer, Core, Delegated, Effect, In, Now, Reloaded, Request, ShellParts, Sources,
};
use super::ipvs_worker::{IpvsReport, IpvsWorker};
use super::snapshot::*;
use crate::bgp::worker::{BgpWorker, Report as BgpReport};
use crate::control::protocol::Command;
use crate::health::HealthEvent;
use crate::health::runner::{HealthHandle, RunnerConfig};
use crate::vrrp::runner::{RunError, Runner, Stopped};

mod doctor;
mod pacing;

/// The longest a quiet director goes without publishing a Snapshot.
const PUBLISH_EVERY: Duration = Duration::from_millis(500);

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

/// The BGP worker, started with the first plan (the first `[bgp]` seen).
struct BgpShell {
    worker: BgpWorker,
    rx: mpsc::Receiver<BgpReport>,
}

impl BgpShell {
    async fn recv(shell: &mut Option<BgpShell>) -> Option<BgpReport> {
        match shell {
            Some(s) => s.rx.recv().await,
            None => std::future::pending().await,
        }
    }
}

pub struct Director {
    core: Core,
    config_path: PathBuf,
    vrrp: Runner,
    ipvs: IpvsWorker,
    ipvs_rx: mpsc::Receiver<IpvsReport>,
    checks: HealthHandle,
    checks_rx: mpsc::Receiver<HealthEvent>,
    bgp: Option<BgpShell>,
    /// The operators waiting for the answers to their commands, in order.
    replies: VecDeque<oneshot::Sender<Result<String, String>>>,
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
}

impl Director {
    /// Start VRRP and the IPVS worker for `config`. `mode` is "daemon" or "embedded";
    /// `state_path`: where operators' overrides are kept (`operator_state::path_for`).
    pub async fn start(
        config: crate::config::model::Config,
        config_path: PathBuf,
        mode: &'static str,
        state_path: PathBuf,
    ) -> Result<Director, RunError> {
        // Operators' overrides from before a restart: priorities go in before the machines
        // start, drains and weights before the first IPVS apply (the core's `restore`).
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
        let sources = Sources {
            config: config_path.display().to_string(),
            state: state_path.display().to_string(),
        };
        let core = Core::new(
            Now::real(),
            config,
            vrrp.scripts(),
            sources,
            saved,
            vrrp.priority_overrides(),
        );
        let mut d = Director {
            core,
            config_path,
            vrrp,
            ipvs,
            ipvs_rx,
            checks,
            checks_rx,
            bgp: None,
            replies: VecDeque::new(),
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
        };
        d.do_effects().await;
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

    /// An event of the shell's own (signals, the doctor).
    fn log(&mut self, kind: EventKind, subject: &str, message: String) {
        self.core.log(Now::real(), kind, subject, message);
    }

    fn feed(&mut self, input: In) {
        self.core.handle(Now::real(), input);
    }

    /// Do what the core asks, feeding back the answers it waits for; whether something was
    /// done that the one who asked reads next (publish at once).
    async fn do_effects(&mut self) -> bool {
        let mut urgent = false;
        while let Some(effect) = self.core.poll_effect() {
            match effect {
                Effect::Event(e) => {
                    let _ = self.events_tx.send(e);
                }
                Effect::Desired(table) => self.ipvs.set_desired(table),
                Effect::Settings(settings) => self.ipvs.set_settings(settings),
                Effect::Checks(compiled) => self.checks.sync_compiled(compiled),
                Effect::Script { line, user } => run_script(&line, &[], user.as_deref()),
                Effect::Delegate(delegated) => {
                    let answer = self.delegated(delegated).await;
                    self.feed(answer);
                }
                Effect::SaveState(state) => {
                    let saved = state.save(&self.state_path).map_err(|e| e.to_string());
                    self.feed(In::Saved(saved));
                }
                Effect::Audit(line) => {
                    let path = self.state_path.with_extension("audit.log");
                    if let Err(e) = crate::engine::operator_state::audit(&path, &line) {
                        warn!("audit file {}: {e}", path.display());
                    }
                }
                Effect::Announce(plan) => {
                    let shell = self.bgp.get_or_insert_with(|| {
                        let (worker, rx) = BgpWorker::start();
                        BgpShell { worker, rx }
                    });
                    shell.worker.set_plan(plan);
                }
                Effect::ScriptState { name, up } => {
                    self.vrrp.script_changed(Instant::now(), &name, up)
                }
                Effect::Answer(result) => {
                    if let Some(reply) = self.replies.pop_front() {
                        let _ = reply.send(result);
                    }
                }
                Effect::Publish => urgent = true,
            }
        }
        urgent
    }

    /// What VRRP, the doctor or a reload answers a command with.
    async fn delegated(&mut self, delegated: Delegated) -> In {
        let now = Instant::now();
        let result = match delegated {
            Delegated::Priority {
                instance,
                priority,
                user,
            } => self.vrrp.set_priority(now, &instance, priority, &user),
            Delegated::Handover { instance } => self.vrrp.handover(now, &instance),
            Delegated::ClearPriorities => {
                let (p, h) = self.vrrp.clear_priority_overrides(now);
                Ok(format!("{p} priority override(s), {h} hand-over hold(s)"))
            }
            Delegated::Doctor => self.doctor_now(),
            Delegated::Reload => return In::Reloaded(self.reload().await),
        };
        let priorities = self.vrrp.priority_overrides();
        In::Answered(Answer { result, priorities })
    }

    /// Re-read the configuration and hand it to VRRP; a bad file changes nothing.
    async fn reload(&mut self) -> Result<Reloaded, String> {
        let loaded = crate::config::load_file(&self.config_path, &crate::config::validate::FsProbe)
            .map_err(|d| {
                format!(
                    "{} is invalid, the running configuration stays:\n{d}",
                    self.config_path.display()
                )
            })?;
        self.core.bgp_paths_kept(&loaded.config)?;
        let vrrp_changes = self
            .vrrp
            .reconfigure(&loaded.config)
            .await
            .map_err(|e| format!("VRRP: {e}"))?;
        Ok(Reloaded {
            config: Box::new(loaded.config),
            vrrp_changes,
            scripts: self.vrrp.scripts(),
        })
    }

    /// Run until SIGTERM (graceful hand-over, then stop) or SIGINT (immediate release).
    pub async fn run(mut self) -> Result<Stopped, RunError> {
        let stopped = self.run_until_stopped().await;
        if stopped.is_ok() {
            self.core.omega();
        }
        // Withdrawn already after a SIGTERM; at once after a SIGINT or an error.
        self.feed(In::Stopping);
        self.do_effects().await;
        // The last step of a stop: the addresses off `lo`, once BIRD took the withdrawal in
        // (the worker checks).
        if let Some(shell) = &self.bgp {
            shell.worker.release().await;
        }
        stopped
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
        self.feed(self.vrrp_states(Vec::new()));
        self.do_effects().await;
        super::systemd::notify(&format!(
            "READY=1\nSTATUS=running {} VRRP instance(s)",
            self.core.config().vrrp_instance.len()
        ));
        let mut stopping = false;
        loop {
            let deadline = self
                .vrrp
                .next_deadline()
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
            let deadline = match self.core.bgp_stop_at() {
                Some(at) => deadline.min(at),
                None => deadline,
            };
            let sleep = tokio::time::sleep_until(tokio::time::Instant::from_std(deadline));
            let publish_at = self.pacer.wake_at();
            let publish_due = tokio::time::sleep_until(tokio::time::Instant::from_std(
                publish_at.unwrap_or(deadline),
            ));
            let mut changed = true;
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
                        self.feed(In::Ipvs(report));
                    }
                }
                ev = self.checks_rx.recv() => {
                    if let Some(ev) = ev {
                        self.feed(In::Health(ev));
                    }
                }
                req = self.commands_rx.recv() => {
                    if let Some(req) = req {
                        self.replies.push_back(req.reply);
                        self.feed(In::Command(Request {
                            command: req.command,
                            user: req.user,
                            uid: req.uid,
                            admin: req.admin,
                        }));
                    }
                }
                _ = tick.tick() => {
                    self.refresh_host();
                    self.doctor_tick();
                }
                report = BgpShell::recv(&mut self.bgp) => {
                    if let Some(report) = report {
                        self.feed(In::Bgp(report));
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
                    self.feed(In::Hangup);
                    self.do_effects().await;
                    super::systemd::notify("READY=1");
                }
                _ = term.recv() => {
                    if stopping {
                        return Ok(self.vrrp.stop().await);
                    }
                    let n = self.vrrp.handover_all(Instant::now());
                    info!("SIGTERM: handing over {n} master instance(s) before stopping");
                    // BGP: withdraw first, stop once the routers had withdraw_wait.
                    self.feed(In::Stopping);
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
            // VRRP transitions are published at once: the one who asked reads them next.
            let mut urgent = !events.is_empty();
            if urgent {
                self.feed(self.vrrp_states(events));
            }
            urgent |= self.do_effects().await;
            if changed {
                self.pacer.changed();
            }
            if self.pacer.due(now, urgent) {
                self.publish();
            }
            if stopping
                && !self.vrrp.any_handing_over()
                && self.core.bgp_stop_at().is_none_or(|at| at <= now)
            {
                self.vrrp.stop().await;
                return Ok(Stopped::Graceful);
            }
        }
    }

    /// What VRRP says now, for the core: every instance's state and what happened.
    fn vrrp_states(&self, events: Vec<(String, String)>) -> In {
        let states = self
            .core
            .config()
            .vrrp_instance
            .keys()
            .filter_map(|name| Some((name.clone(), self.vrrp.state_of(name)?)))
            .collect();
        In::Vrrp { states, events }
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
            router_id: self.core.config().global.router_id.clone(),
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
        let parts = ShellParts {
            host: self.host.clone(),
            vrrp: self.vrrp.views(),
            vrrp_packets_dropped: self.vrrp.packet_drops(),
            vrrp_scripts: self.vrrp.script_views(),
            doctor: self.doctor.last.clone(),
            bfd: self.vrrp.bfd_views(),
            bfd_packets_dropped: self.vrrp.bfd_drops(),
        };
        self.core.snapshot(Now::real(), parts)
    }
}

/// Run a configured script line without waiting for it, as the global script user.
fn run_script(line: &str, args: &[String], user: Option<&str>) {
    let user = crate::vrrp::scripts::global_user(user);
    crate::vrrp::scripts::spawn_detached(line, args, user, "script");
}
