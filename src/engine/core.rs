//! The director's decisions, with no I/O and no clock of its own (sans-IO, as the VRRP and BFD
//! machines): health results, IPVS reports, BGP reports and operator commands go in through
//! [`Core::handle`] with the time; what must be done comes out of [`Core::poll_effect`] in
//! order (the desired IPVS table, kernel settings, checks to run, scripts, what VRRP, a reload
//! or the doctor must answer, the operators' state to save, audit lines, events, answers).
//! [`Core::snapshot`] builds the view model. The shell (`director.rs`) owns the sockets, the
//! workers, the signals and the processes, and feeds their answers back in.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::time::Instant;

use tracing::{info, warn};

use super::ipvs_worker::IpvsReport;
use super::operator_state::OperatorState;
use super::snapshot::*;
use crate::bgp::worker::{Plan, Report as BgpReport};
use crate::config::model::{Config, VrrpScript};
use crate::control::protocol::Command;
use crate::health::target::{CheckTarget, Compiled};
use crate::health::{HealthEvent, TargetId};
use crate::ipvs::settings::{self, Settings};
use crate::ipvs::table::{self, Health, RealId, RealState, VsId};
use crate::ipvs::{DestKey, ServiceKey};

mod bgp;
mod checks;
mod commands;
mod ipvs;
mod state;
mod views;

#[cfg(test)]
mod tests;

pub use bgp::BgpState;
use ipvs::StatsTrack;

/// Events kept for the Snapshot and new subscribers.
const EVENT_RING: usize = 1000;

/// The time, as the shell read it (tests give a fake one): the monotonic instant for
/// intervals and rates, the wall clock in milliseconds for what the view shows.
#[derive(Debug, Clone, Copy)]
pub struct Now {
    pub at: Instant,
    pub wall_ms: u64,
}

impl Now {
    pub fn real() -> Now {
        Now {
            at: Instant::now(),
            wall_ms: now_ms(),
        }
    }
}

/// Where the configuration and the operators' state are read from, as events name them.
pub struct Sources {
    pub config: String,
    pub state: String,
}

/// An operator's command, with who sent it (the reply stays with the shell).
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub command: Command,
    pub user: String,
    pub uid: u32,
    /// Whether the caller may act (root or the admin group); others are refused and logged.
    pub admin: bool,
}

/// What the shell hands the core.
#[derive(Debug)]
pub enum In {
    Health(HealthEvent),
    Ipvs(IpvsReport),
    Bgp(BgpReport),
    /// VRRP changed state: every instance's state now ("MASTER", "BACKUP", ...), for the
    /// sync daemon's role, and what happened, for the event log.
    Vrrp {
        states: BTreeMap<String, String>,
        events: Vec<(String, String)>,
    },
    Command(Request),
    /// SIGHUP: reload, logged as the daemon's, not an operator's.
    Hangup,
    /// The answer to [`Effect::Delegate`], with the VRRP priority overrides in force after it.
    Answered(Answer),
    /// The answer to [`Effect::Delegate`]`(`[`Delegated::Reload`]`)`: the new configuration,
    /// read and taken by VRRP, or why it was refused.
    Reloaded(Result<Reloaded, String>),
    /// The answer to [`Effect::SaveState`].
    Saved(Result<(), String>),
    /// SIGTERM: withdraw every BGP route before the engines stop.
    Stopping,
}

/// A configuration VRRP took: what VRRP changed, and the tracked vrrp_scripts it can run
/// (the health runner runs them).
#[derive(Debug)]
pub struct Reloaded {
    pub config: Box<Config>,
    pub vrrp_changes: Vec<String>,
    pub scripts: Vec<(String, VrrpScript)>,
}

/// What the shell answers a delegated command with.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub result: Result<String, String>,
    pub priorities: Vec<(String, Override<u8>)>,
}

/// What only the shell can do for a command: the VRRP instances, the file and the doctor.
#[derive(Debug, Clone, PartialEq)]
pub enum Delegated {
    Priority {
        instance: String,
        priority: Option<u8>,
        user: String,
    },
    Handover {
        instance: String,
    },
    /// `ctl clear`'s VRRP part: priority overrides and hand-over holds; answered with
    /// "N priority override(s), M hand-over hold(s)".
    ClearPriorities,
    /// Read the file and hand it to VRRP; answered with [`In::Reloaded`].
    Reload,
    Doctor,
}

/// What the core asks of the shell, in order.
#[derive(Debug, Clone)]
pub enum Effect {
    /// An event for the console's log (already in the Snapshot's ring).
    Event(EventView),
    /// The IPVS table as it should be now.
    Desired(table::Table),
    /// The kernel-wide IPVS settings, when they change.
    Settings(Settings),
    /// Exactly these checks run now (reload-safe: unchanged ones keep their state).
    Checks(Vec<Compiled>),
    /// Run a script without waiting for it.
    Script {
        line: String,
        user: Option<String>,
    },
    Delegate(Delegated),
    /// Write the operators' state; answer with [`In::Saved`].
    SaveState(OperatorState),
    /// One line for the audit file beside the state file.
    Audit(String),
    /// The BGP worker's plan.
    Announce(Plan),
    /// A tracked vrrp_script went up or down (rise / fall counted): VRRP moves priorities.
    ScriptState {
        name: String,
        up: bool,
    },
    /// The answer to the operator's [`In::Command`], in the order they came.
    Answer(Result<String, String>),
    /// Something the one who asked reads next: publish the Snapshot now.
    Publish,
}

/// A command under way (waiting for the shell), and who asked.
#[derive(Debug)]
struct Pending {
    who: Who,
    command: Command,
    /// What the core did before it delegated (`clear`'s drains and weights).
    said: Option<String>,
}

#[derive(Debug, Clone)]
enum Who {
    Operator { user: String, uid: u32 },
    Hangup,
}

pub struct Core {
    config: Config,
    /// The configuration file and the operators' state file, as the events name them.
    config_source: String,
    state_source: String,
    health: Health,
    /// Which real server each health target is.
    targets: HashMap<TargetId, RealId>,
    /// The tracked vrrp_scripts VRRP can run, and which script each of their targets is.
    scripts: Vec<(String, VrrpScript)>,
    script_targets: HashMap<TargetId, String>,
    /// Real servers whose checks cannot run: held down (fail closed) until a reload fixes them.
    unchecked: HashSet<RealId>,
    last_check: HashMap<RealId, CheckResult>,
    /// When each real server's health last changed.
    health_changed_ms: HashMap<RealId, u64>,
    drains: HashMap<RealId, Override<()>>,
    weights: HashMap<RealId, Override<u32>>,
    /// VRRP's priority overrides, as the shell last said (saved with the rest).
    priorities: Vec<(String, Override<u8>)>,
    /// VRRP's states, as the shell last said (the sync daemon follows them).
    vrrp_states: BTreeMap<String, String>,
    pushed_settings: Option<Settings>,
    /// IPVS drift put back, and how long applying changes took (for the metrics).
    drift_repairs: u64,
    apply_latency: Histogram,
    /// The last full dump of the kernel's table (or why there is none), and when.
    last_dump: Option<(Instant, Result<Vec<crate::ipvs::ServiceDump>, String>)>,
    /// The IPVS worker's current spacing of full dumps.
    dump_every: std::time::Duration,
    stats: HashMap<(ServiceKey, Option<DestKey>), StatsTrack>,
    events: VecDeque<EventView>,
    bgp: BgpState,
    /// The whole director drained (`ctl drain-director`): every address withdrawn.
    director_drain: Option<Override<()>>,
    pending: Option<Pending>,
    /// Commands waiting for the one under way, with whether the caller may act.
    queued: VecDeque<(Who, Command, bool)>,
    effects: VecDeque<Effect>,
}

impl Core {
    /// The core for `config`, with the tracked vrrp_scripts VRRP can run, the operators'
    /// state from before a restart (`saved`) and the priority overrides VRRP took from it.
    pub fn new(
        now: Now,
        config: Config,
        scripts: Vec<(String, VrrpScript)>,
        sources: Sources,
        saved: Result<OperatorState, String>,
        priorities: Vec<(String, Override<u8>)>,
    ) -> Core {
        let mut core = Core {
            config,
            config_source: sources.config,
            state_source: sources.state,
            health: Health::default(),
            targets: HashMap::new(),
            scripts,
            script_targets: HashMap::new(),
            unchecked: HashSet::new(),
            last_check: HashMap::new(),
            health_changed_ms: HashMap::new(),
            drains: HashMap::new(),
            weights: HashMap::new(),
            priorities,
            vrrp_states: BTreeMap::new(),
            pushed_settings: None,
            drift_repairs: 0,
            apply_latency: Histogram::default(),
            last_dump: None,
            dump_every: std::time::Duration::ZERO,
            stats: HashMap::new(),
            events: VecDeque::new(),
            bgp: BgpState::default(),
            director_drain: None,
            pending: None,
            queued: VecDeque::new(),
            effects: VecDeque::new(),
        };
        let started = format!("started with {}", core.config_source);
        core.log(now, EventKind::Daemon, "lvsdeck", started);
        // Before the first IPVS apply: a drained server stays drained across a restart.
        core.restore(now, saved);
        core.sync_checks(now);
        core.push_desired(now);
        core
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The next thing the shell must do, in order.
    pub fn poll_effect(&mut self) -> Option<Effect> {
        self.effects.pop_front()
    }

    pub fn handle(&mut self, now: Now, input: In) {
        match input {
            In::Health(ev) => self.on_health(now, ev),
            In::Ipvs(report) => self.on_ipvs(now, report),
            In::Bgp(report) => self.on_bgp(now, report),
            In::Vrrp { states, events } => {
                self.vrrp_states = states;
                for (instance, what) in events {
                    self.log(now, EventKind::Vrrp, &instance, what);
                }
                self.push_settings();
            }
            In::Command(req) => {
                let who = Who::Operator {
                    user: req.user,
                    uid: req.uid,
                };
                self.queued.push_back((who, req.command, req.admin));
            }
            In::Hangup => self.queued.push_back((Who::Hangup, Command::Reload, true)),
            In::Answered(answer) => self.on_answered(now, answer),
            In::Reloaded(result) => self.on_reloaded(now, result),
            In::Saved(result) => self.on_saved(now, result),
            In::Stopping => self.bgp_begin_stop(now),
        }
        self.next_command(now);
    }

    /// An event: to the console's log, and to the daemon's log as one structured record
    /// (journald fields KIND and SUBJECT under systemd).
    pub fn log(&mut self, now: Now, kind: EventKind, subject: &str, message: String) {
        info!(target: "lvsdeck::event", kind = kind.as_str(), subject, "{message}");
        let e = EventView {
            at_ms: now.wall_ms,
            kind,
            subject: subject.into(),
            message,
        };
        if self.events.len() >= EVENT_RING {
            self.events.pop_front();
        }
        self.events.push_back(e.clone());
        self.effects.push_back(Effect::Event(e));
    }

    fn script(&mut self, line: &Option<String>) {
        if let Some(line) = line {
            self.effects.push_back(Effect::Script {
                line: line.clone(),
                user: self.config.global.script_user.clone(),
            });
        }
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

    /// The kernel-wide settings (timeouts, sync daemon role) when they change: at start, on
    /// reload and when the sync daemon's VRRP instance changes state.
    fn push_settings(&mut self) {
        let want = settings::wanted(&self.config, |name| self.vrrp_states.get(name).cloned());
        if self.pushed_settings.as_ref() != Some(&want) {
            self.effects.push_back(Effect::Settings(want.clone()));
            self.pushed_settings = Some(want);
        }
    }

    /// The desired IPVS table from health and overrides; quorum changes logged, with their
    /// scripts; then what BGP announces.
    fn push_desired(&mut self, now: Now) {
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
            let state = if up { "up" } else { "lost" };
            self.log(
                now,
                EventKind::Health,
                &vs.0,
                format!("quorum {state} (live weight {weight})"),
            );
            let script = self
                .config
                .virtual_server
                .iter()
                .find(|v| VsId::of(v) == vs)
                .and_then(|cfg| if up { &cfg.quorum_up } else { &cfg.quorum_down }.clone());
            self.script(&script);
        }
        self.effects.push_back(Effect::Desired(desired.table));
        self.push_bgp(now);
    }

    /// keepalived's `omega`: a service's quorum_down script runs at stop too.
    pub fn omega(&mut self) {
        let lines: Vec<_> = self
            .config
            .virtual_server
            .iter()
            .filter(|vs| vs.omega && vs.quorum_down.is_some())
            .map(|vs| (VsId::of(vs).0, vs.quorum_down.clone()))
            .collect();
        for (vs, line) in lines {
            info!("omega: running quorum_down of {vs}");
            self.script(&line);
        }
    }

    /// The Snapshot of this moment; `parts` is what the shell alone knows.
    pub fn snapshot(&self, now: Now, parts: ShellParts) -> Snapshot {
        Snapshot {
            schema: SCHEMA,
            taken_at_ms: now.wall_ms,
            host: parts.host,
            vrrp: parts.vrrp,
            ipvs: self.ipvs_view(now),
            events: self.events.iter().cloned().collect(),
            vrrp_packets_dropped: parts.vrrp_packets_dropped,
            vrrp_scripts: parts.vrrp_scripts,
            doctor: parts.doctor,
            bfd: parts.bfd,
            bfd_packets_dropped: parts.bfd_packets_dropped,
            bgp: self.bgp_view(now),
        }
    }
}

/// The parts of the Snapshot the shell owns: the host, the VRRP instances and their sockets,
/// BFD and the doctor's last report.
#[derive(Default)]
pub struct ShellParts {
    pub host: HostView,
    pub vrrp: Vec<VrrpView>,
    pub vrrp_packets_dropped: BTreeMap<String, u64>,
    pub vrrp_scripts: Vec<ScriptView>,
    pub doctor: Option<crate::doctor::Report>,
    pub bfd: Vec<BfdView>,
    pub bfd_packets_dropped: BTreeMap<String, u64>,
}

/// The checks `config` asks for: every checked real server's target and every tracked
/// vrrp_script's, those that compile (to run) and why the others cannot run.
struct CheckPlan {
    targets: HashMap<TargetId, RealId>,
    script_targets: HashMap<TargetId, String>,
    compiled: Vec<Compiled>,
    errors: Vec<crate::health::target::TargetError>,
}

fn check_plan(config: &Config, scripts: &[(String, VrrpScript)]) -> CheckPlan {
    let mut plan = CheckPlan {
        targets: HashMap::new(),
        script_targets: HashMap::new(),
        compiled: Vec::new(),
        errors: Vec::new(),
    };
    for (name, script) in scripts {
        let t = CheckTarget::for_vrrp_script(config, name, script);
        plan.script_targets.insert(t.id.clone(), name.clone());
        match t.compile() {
            Ok(c) => plan.compiled.push(c),
            Err(e) => plan.errors.push(e),
        }
    }
    for vs in &config.virtual_server {
        let service = VsId::of(vs).0;
        for rs in vs.real_server.iter().filter(|rs| !rs.check.is_empty()) {
            let t = CheckTarget::for_configured(config, service.clone(), vs, rs);
            plan.targets.insert(t.id.clone(), RealId::of(vs, rs));
            match t.compile() {
                Ok(c) => plan.compiled.push(c),
                Err(e) => plan.errors.push(e),
            }
        }
    }
    plan
}
