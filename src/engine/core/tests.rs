//! The director's decisions on a fake clock: [`Rig`] plays the shell with the real parts that
//! need no I/O: the VRRP simulator (node 0 is this director's instance, node 1 a peer), the
//! in-memory IPVS table through the worker's own pass and settings code, health results as
//! the runner reports them, and answers for the file and the doctor. Every effect is kept in
//! order, so a test asserts what was done, in which order, and the Snapshot that results.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::*;
use crate::engine::ipvs_worker::{self, IpvsReport};
use crate::health::target::Compiled;
use crate::health::{Change, CheckResult as Result_, ServerState};
use crate::ipvs::mem::MemBackend;
use crate::ipvs::table::Table;
use crate::ipvs::{IpvsBackend, SyncState};
use crate::vrrp::machine::{InstanceParams, OperatorError};
use crate::vrrp::packet::Version;
use crate::vrrp::sim::{Input, NodeSpec, Scenario, Sim};

mod bgp;
mod commands;
mod health;
mod property;
mod reload;
mod vrrp;

/// The wall clock at the rig's start (2027-01-15).
pub(super) const WALL0: u64 = 1_800_000_000_000;
/// The peer's priority: below this director's 100.
const PEER_PRIORITY: u8 = 90;

/// The configuration most tests use: one VRRP instance with the sync daemon on it, two
/// services (one with quorum, a sorry server, scripts and an inhibited real server).
pub(super) const CONFIG: &str = r#"
[global]
lvs_sync_daemon = { interface = "eth0", instance = "VI_1" }

[vrrp_instance.VI_1]
interface = "eth0"
virtual_router_id = 51
priority = 100
advert_int = "1s"
virtual_ipaddress = [{ address = "192.0.2.100/24" }]

[[virtual_server]]
ip = "192.0.2.100"
port = 80
lvs_sched = "wlc"
lvs_method = "DR"
quorum = 10
quorum_up = "/bin/true quorum-up"
quorum_down = "/bin/true quorum-down"
omega = true
sorry_server = { ip = "192.0.2.99", port = 80 }

[[virtual_server.real_server]]
ip = "192.0.2.11"
port = 80
weight = 10
notify_down = "/bin/true down-11"
notify_up = "/bin/true up-11"
check = [{ type = "tcp", connect_timeout = "2s" }]

[[virtual_server.real_server]]
ip = "192.0.2.12"
port = 80
weight = 10
inhibit_on_failure = true
check = [{ type = "tcp", connect_timeout = "2s" }]

[[virtual_server]]
ip = "192.0.2.101"
port = 443
lvs_sched = "rr"
lvs_method = "DR"

[[virtual_server.real_server]]
ip = "192.0.2.21"
port = 443
weight = 5
check = [{ type = "tcp", connect_timeout = "2s" }]

[[virtual_server.real_server]]
ip = "192.0.2.22"
port = 443
weight = 5
"#;

pub(super) fn config(text: &str) -> Config {
    crate::config::load_text(
        Path::new("test.toml"),
        text.to_string(),
        &crate::config::validate::NoProbe,
    )
    .unwrap_or_else(|d| panic!("test config: {d}"))
    .config
}

/// An effect, as the tests compare them.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Seen {
    Event(String, String, String),
    Desired,
    Settings,
    Checks(usize),
    Script(String),
    Delegate(Delegated),
    SaveState,
    Audit(String),
    Announce(u64),
    ScriptState(String, bool),
    Answer(Result<String, String>),
    Publish,
}

impl Seen {
    /// The effect's kind, with an event's kind: `event:operator`, `desired`, `answer`, ...
    pub(super) fn kind(&self) -> String {
        match self {
            Seen::Event(kind, ..) => format!("event:{kind}"),
            Seen::Desired => "desired".into(),
            Seen::Settings => "settings".into(),
            Seen::Checks(_) => "checks".into(),
            Seen::Script(_) => "script".into(),
            Seen::Delegate(_) => "delegate".into(),
            Seen::SaveState => "save".into(),
            Seen::Audit(_) => "audit".into(),
            Seen::Announce(_) => "announce".into(),
            Seen::ScriptState(..) => "script-state".into(),
            Seen::Answer(_) => "answer".into(),
            Seen::Publish => "publish".into(),
        }
    }
}

pub(super) struct Rig {
    pub core: Core,
    pub sim: Sim,
    /// The kernel's table and settings, as the worker's own code leaves them.
    pub kernel: MemBackend,
    last_applied: Option<Table>,
    sync_started: BTreeSet<SyncState>,
    /// Virtual time since the start.
    pub t: Duration,
    pub seen: Vec<Seen>,
    pub saved: Vec<OperatorState>,
    /// Set: the next writes of the state file fail with this.
    pub save_error: Option<String>,
    /// What the next reload reads (the file, as the shell would load it and VRRP take it).
    pub next_reload: Option<Result<Config, String>>,
    pub checks: Vec<Compiled>,
    /// The plans sent to the BGP worker.
    pub plans: Vec<Plan>,
    /// VRRP's priority overrides, as the runner keeps them.
    priorities: Vec<(String, Override<u8>)>,
    /// What the shell feeds back after the effects that caused it (the worker's reports).
    inbox: VecDeque<In>,
}

/// The tracked vrrp_scripts of VI_1, as the runner hands them to the director.
fn tracked_scripts(config: &Config) -> Vec<(String, crate::config::model::VrrpScript)> {
    let tracked = config
        .vrrp_instance
        .get("VI_1")
        .map(|i| i.track_script.clone())
        .unwrap_or_default();
    config
        .vrrp_script
        .iter()
        .filter(|(name, _)| tracked.iter().any(|t| &t.name == *name))
        .map(|(name, s)| (name.clone(), s.clone()))
        .collect()
}

fn vrrp_node(last: u8, priority: u8) -> NodeSpec {
    let mut p = InstanceParams::new(
        "VI_1",
        Version::V2,
        51,
        priority,
        format!("192.0.2.{last}").parse().unwrap(),
        vec!["192.0.2.100".parse().unwrap()],
    );
    p.advert_interval = Duration::from_secs(1);
    p.validate().unwrap();
    NodeSpec {
        params: p,
        trackers: vec![],
    }
}

impl Rig {
    pub fn new(text: &str) -> Rig {
        Rig::restarted(text, Ok(OperatorState::default()))
    }

    /// A director started with `saved` as the operators' state on disk.
    pub fn restarted(text: &str, saved: Result<OperatorState, String>) -> Rig {
        Rig::start(config(text), saved)
    }

    pub fn start(config: Config, saved: Result<OperatorState, String>) -> Rig {
        // This director's instance tracks its scripts as the runner would: one tracker each.
        let scripts = tracked_scripts(&config);
        let mut this = vrrp_node(1, 100);
        this.trackers = scripts
            .iter()
            .map(|(name, s)| crate::vrrp::sim::TrackerSpec {
                name: format!("script:{name}"),
                weight: s.weight,
                up: true,
            })
            .collect();
        let sc = Scenario {
            seed: 1,
            nodes: vec![this, vrrp_node(2, PEER_PRIORITY)],
            delay_min: Duration::from_micros(100),
            delay_max: Duration::from_millis(1),
            loss: 0,
            dup: 0,
            inputs: vec![],
            end: Duration::from_secs(3600),
        };
        let mut sim = Sim::new(sc);
        sim.start().unwrap_or_else(|f| panic!("{f}"));
        let priorities: Vec<(String, Override<u8>)> = saved
            .as_ref()
            .map(|s| {
                s.priorities
                    .iter()
                    .filter(|p| p.instance == "VI_1")
                    .map(|p| (p.instance.clone(), p.set.clone()))
                    .collect()
            })
            .unwrap_or_default();
        for (_, p) in &priorities {
            sim.apply(Input::Override(0, Some(p.value))).unwrap();
        }
        let now = Now {
            at: sim.now(),
            wall_ms: WALL0,
        };
        let sources = Sources {
            config: "test.toml".into(),
            state: "state.json".into(),
        };
        let core = Core::new(now, config, scripts, sources, saved, priorities.clone());
        let mut rig = Rig {
            core,
            sim,
            kernel: MemBackend::new(),
            last_applied: None,
            sync_started: BTreeSet::new(),
            t: Duration::ZERO,
            seen: Vec::new(),
            saved: Vec::new(),
            save_error: None,
            next_reload: None,
            checks: Vec::new(),
            plans: Vec::new(),
            priorities,
            inbox: VecDeque::new(),
        };
        rig.vrrp_changed(true);
        rig.run_effects();
        rig
    }

    pub fn now(&self) -> Now {
        Now {
            at: self.sim.now(),
            wall_ms: WALL0 + self.t.as_millis() as u64,
        }
    }

    /// Feed `input`, then do every effect (and feed back what the shell would) until quiet.
    pub fn feed(&mut self, input: In) {
        self.core.handle(self.now(), input);
        self.run_effects();
    }

    /// Let `d` of virtual time pass: VRRP runs, and a full IPVS pass as the worker's timer.
    pub fn advance(&mut self, d: Duration) {
        let end = self.t + d;
        // In steps, so VRRP's transitions reach the core near when they happen.
        while self.t < end {
            self.t = (self.t + Duration::from_millis(100)).min(end);
            self.sim
                .advance_to(self.t)
                .unwrap_or_else(|f| panic!("{f}"));
            self.vrrp_changed(false);
            self.run_effects();
        }
        self.full_pass();
    }

    /// A full pass of the worker: dump, repair drift, report.
    pub fn full_pass(&mut self) {
        let desired = self.last_applied.clone();
        let mut report = ipvs_worker::pass(
            &mut self.kernel,
            self.sim.now(),
            desired.as_ref(),
            &mut self.last_applied,
        );
        report.dump_every = Some(Duration::from_secs(1));
        self.feed(In::Ipvs(report));
    }

    fn vrrp_changed(&mut self, always: bool) {
        let events = self.sim.take_events(0);
        if events.is_empty() && !always {
            return;
        }
        let state = self
            .sim
            .instance(0)
            .map_or("INIT".into(), |i| i.state().to_string());
        let states = BTreeMap::from([("VI_1".to_string(), state)]);
        let events = events
            .into_iter()
            .map(|e| ("VI_1".to_string(), e))
            .collect();
        self.core.handle(self.now(), In::Vrrp { states, events });
    }

    fn run_effects(&mut self) {
        loop {
            while let Some(effect) = self.core.poll_effect() {
                self.effect(effect);
            }
            match self.inbox.pop_front() {
                Some(input) => self.core.handle(self.now(), input),
                None => return,
            }
        }
    }

    fn effect(&mut self, effect: Effect) {
        let now = self.now();
        let seen = match effect {
            Effect::Event(e) => Seen::Event(e.kind.to_string(), e.subject, e.message),
            Effect::Desired(table) => {
                let report = ipvs_worker::pass(
                    &mut self.kernel,
                    now.at,
                    Some(&table),
                    &mut self.last_applied,
                );
                self.inbox.push_back(In::Ipvs(report));
                Seen::Desired
            }
            Effect::Settings(want) => {
                let (applied, failed) =
                    ipvs_worker::apply_settings(&mut self.kernel, &want, &mut self.sync_started);
                let report = IpvsReport {
                    settings_applied: applied,
                    settings_failed: failed,
                    ..IpvsReport::new(now.at, None)
                };
                self.inbox.push_back(In::Ipvs(report));
                Seen::Settings
            }
            Effect::Checks(compiled) => {
                let n = compiled.len();
                self.checks = compiled;
                Seen::Checks(n)
            }
            Effect::Script { line, .. } => Seen::Script(line),
            Effect::Delegate(d) => {
                self.answer(&d);
                Seen::Delegate(d)
            }
            Effect::SaveState(state) => {
                self.saved.push(state);
                let result = self.save_error.clone().map_or(Ok(()), Err);
                self.core.handle(now, In::Saved(result));
                Seen::SaveState
            }
            Effect::Audit(line) => Seen::Audit(line),
            Effect::Announce(plan) => {
                let generation = plan.generation;
                self.plans.push(plan);
                Seen::Announce(generation)
            }
            Effect::ScriptState { name, up } => {
                let tracker = self.sim.scenario().nodes[0]
                    .trackers
                    .iter()
                    .position(|t| t.name == format!("script:{name}"))
                    .expect("a tracked script");
                let input = Input::Tracker {
                    node: 0,
                    tracker,
                    up,
                };
                self.sim.apply(input).unwrap_or_else(|f| panic!("{f}"));
                Seen::ScriptState(name, up)
            }
            Effect::Answer(r) => Seen::Answer(r),
            Effect::Publish => Seen::Publish,
        };
        self.seen.push(seen);
    }

    /// What the runner, the file and the doctor answer (the VRRP parts on the simulator).
    fn answer(&mut self, d: &Delegated) {
        let now = self.now();
        if *d == Delegated::Reload {
            let read = self.next_reload.take().unwrap_or(Err("no file".into()));
            let result = read.and_then(|c| {
                self.core.bgp_paths_kept(&c)?;
                let scripts = tracked_scripts(&c);
                Ok(Reloaded {
                    config: Box::new(c),
                    vrrp_changes: Vec::new(),
                    scripts,
                })
            });
            self.core.handle(now, In::Reloaded(result));
            return;
        }
        let result = match d {
            Delegated::Priority {
                instance,
                priority,
                user,
            } => self.set_priority(now, instance, *priority, user),
            Delegated::Handover { instance } if instance == "VI_1" => {
                match self.sim.handover(0).unwrap_or_else(|f| panic!("{f}")) {
                    Ok(()) => Ok(format!("{instance}: hand-over started")),
                    Err(e) => Err(format!("{instance}: {e}")),
                }
            }
            Delegated::Handover { instance } => Err(format!("no VRRP instance `{instance}`")),
            Delegated::ClearPriorities => {
                let p = std::mem::take(&mut self.priorities).len();
                self.sim.apply(Input::Override(0, None)).unwrap();
                let inst = self.sim.instance(0).unwrap();
                let h = usize::from(inst.handover_inhibited() || inst.is_handing_over());
                self.sim.apply(Input::ClearInhibit(0)).unwrap();
                Ok(format!("{p} priority override(s), {h} hand-over hold(s)"))
            }
            Delegated::Doctor => Ok("the doctor runs now".into()),
            Delegated::Reload => unreachable!(),
        };
        self.vrrp_changed(false);
        let priorities = self.priorities.clone();
        self.core
            .handle(now, In::Answered(Answer { result, priorities }));
    }

    fn set_priority(
        &mut self,
        now: Now,
        instance: &str,
        priority: Option<u8>,
        user: &str,
    ) -> Result<String, String> {
        if instance != "VI_1" {
            return Err(format!("no VRRP instance `{instance}`"));
        }
        if priority.is_some_and(|p| p == 0 || p == 255) {
            return Err(OperatorError::InvalidPriority.to_string());
        }
        self.sim.apply(Input::Override(0, priority)).unwrap();
        self.priorities.clear();
        if let Some(value) = priority {
            let set = Override {
                value,
                by: user.into(),
                at_ms: now.wall_ms,
            };
            self.priorities.push((instance.into(), set));
        }
        Ok(format!("{instance}: priority {priority:?}"))
    }

    // ---- what tests do ----

    /// An operator's command (root), with its answer.
    pub fn command(&mut self, command: Command) -> Result<String, String> {
        self.command_as(command, "alice", 0, true)
    }

    pub fn command_as(
        &mut self,
        command: Command,
        user: &str,
        uid: u32,
        admin: bool,
    ) -> Result<String, String> {
        let mark = self.seen.len();
        let req = Request {
            command,
            user: user.into(),
            uid,
            admin,
        };
        self.feed(In::Command(req));
        self.seen[mark..]
            .iter()
            .find_map(|s| match s {
                Seen::Answer(r) => Some(r.clone()),
                _ => None,
            })
            .expect("every command is answered")
    }

    /// The target the health runner checks for `real` ("192.0.2.11:80").
    pub fn target(&self, real: &str) -> TargetId {
        let addr: SocketAddr = real.parse().unwrap();
        self.checks
            .iter()
            .map(|c| c.target.id.clone())
            .find(|id| id.real == addr)
            .unwrap_or_else(|| panic!("no check target {real}"))
    }

    /// A check result as the runner reports it, with the changes it brought.
    pub fn health(&mut self, real: &str, ok: bool, changes: Vec<Change>) {
        let id = self.target(real);
        let at = SystemTime::UNIX_EPOCH + Duration::from_millis(self.now().wall_ms);
        let message = if ok {
            "connected"
        } else {
            "connection refused"
        };
        let ev = HealthEvent {
            id,
            check: Some(0),
            label: Arc::from(format!("TCP {real}")),
            result: Some(Result_ {
                ok,
                message: message.into(),
                latency: Duration::from_millis(2),
                weight: None,
                at,
                not_run: false,
            }),
            state: ServerState {
                up: Some(ok),
                weight: 10,
            },
            changes,
        };
        self.feed(In::Health(ev));
    }

    pub fn down(&mut self, real: &str) {
        let reason = format!("TCP {real}: connection refused");
        self.health(real, false, vec![Change::Down { reason }]);
    }

    pub fn up(&mut self, real: &str) {
        let reason = format!("TCP {real}: connected");
        self.health(real, true, vec![Change::Up { reason }]);
    }

    /// Every checked real server answers once (up, no change), as after a start.
    pub fn first_answers(&mut self) {
        let reals: Vec<String> = self
            .checks
            .iter()
            .map(|c| c.target.id.real.to_string())
            .collect();
        for real in reals {
            self.health(&real, true, vec![]);
        }
    }

    /// The kernel's weight of `real` in the service at `vip` (None: not in the table).
    pub fn weight(&mut self, vip: &str, real: &str) -> Option<u32> {
        let vip: SocketAddr = vip.parse().unwrap();
        let real: SocketAddr = real.parse().unwrap();
        self.kernel.dump().unwrap().into_iter().find_map(|s| {
            let crate::ipvs::ServiceKey::Addr { addr, port, .. } = s.entry.service.key else {
                return None;
            };
            if (addr, port) != (vip.ip(), vip.port()) {
                return None;
            }
            s.dests
                .iter()
                .find(|d| (d.dest.addr, d.dest.port) == (real.ip(), real.port()))
                .map(|d| d.dest.weight)
        })
    }

    pub fn snapshot(&self) -> Snapshot {
        self.core.snapshot(self.now(), ShellParts::default())
    }

    /// The real server's row in the Snapshot.
    pub fn real_view(&self, vip: &str, real: &str) -> RealView {
        let snap = self.snapshot();
        let (ip, port) = real.rsplit_once(':').unwrap();
        snap.ipvs
            .services
            .into_iter()
            .find(|s| s.address == vip)
            .and_then(|s| {
                s.reals
                    .into_iter()
                    .find(|r| r.address == ip && r.port.to_string() == port)
            })
            .unwrap_or_else(|| panic!("no real server {real} of {vip} in the view"))
    }

    pub fn service_view(&self, vip: &str) -> ServiceView {
        self.snapshot()
            .ipvs
            .services
            .into_iter()
            .find(|s| s.address == vip)
            .unwrap_or_else(|| panic!("no service {vip} in the view"))
    }

    /// The effects' kinds from `mark` on, events of `kinds` only among the events.
    pub fn kinds_since(&self, mark: usize) -> Vec<String> {
        self.seen[mark..].iter().map(Seen::kind).collect()
    }

    /// The messages of events of `kind` from `mark` on.
    pub fn events_since(&self, mark: usize, kind: &str) -> Vec<String> {
        self.seen[mark..]
            .iter()
            .filter_map(|s| match s {
                Seen::Event(k, subject, m) if k == kind => Some(format!("{subject}: {m}")),
                _ => None,
            })
            .collect()
    }

    pub fn scripts_since(&self, mark: usize) -> Vec<String> {
        self.seen[mark..]
            .iter()
            .filter_map(|s| match s {
                Seen::Script(line) => Some(line.clone()),
                _ => None,
            })
            .collect()
    }

    /// The VRRP state of this director's instance.
    pub fn vrrp_state(&self) -> String {
        self.sim.instance(0).unwrap().state().to_string()
    }
}

pub(super) fn target(service: &str, real: &str) -> crate::control::protocol::RealTarget {
    crate::control::protocol::RealTarget {
        service: service.into(),
        real: real.into(),
    }
}

/// The effects `seen` include `kinds` in this order (others may come between).
pub(super) fn assert_order(seen: &[String], kinds: &[&str]) {
    assert!(
        in_order(seen, kinds),
        "want {kinds:?} in order, saw {seen:?}"
    );
}

/// `kinds` appear in `seen` in this order (other effects may come between).
pub(super) fn in_order(seen: &[String], kinds: &[&str]) -> bool {
    let mut it = seen.iter();
    kinds.iter().all(|k| it.any(|s| s == k))
}
