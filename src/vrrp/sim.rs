//! A deterministic VRRP cluster simulator: N instances, a virtual clock and a lossy virtual LAN.
//!
//! Every instance is driven only through its sans-IO API ([`Instance`]). Inputs (crashes,
//! restarts, priority overrides, tracker flips, hand-overs, partitions, loss) come from a
//! [`Scenario`], generated from a seed by [`Scenario::random`] with the simulator's own PRNG
//! ([`Rng`], splitmix64). Packets and timers are delivered in time order from a priority queue
//! (ties broken by insertion order), so one seed always replays the same run.
//!
//! # The LAN
//!
//! An advert is multicast to every other node on the same side of the partition (sides are
//! taken at send time). Each copy is independently lost (probability `loss`), duplicated
//! (`dup`), and delayed uniformly in `[delay_min, delay_max]`, so copies can be reordered. A
//! crashed node drops what it receives. A crash is a power-off: the node's VIPs go with it.
//!
//! # Invariants, checked after every step
//!
//! The network is **whole** when there is no partition and the loss probability is zero
//! (duplication and the bounded delay are allowed). The cluster is **settled** when the network
//! has been whole, and no input has been applied, for `settle` =
//! `max preempt_delay + 2 * max Master_Down_Interval + max advert interval + 4 * delay_max`.
//! One Master_Down_Interval is enough for a plain failover, but not in general: a preemption
//! with `preempt_delay` waits for the delay first, and a failover can chain into a preemption
//! (a lower node takes over, then a higher one that was waiting preempts it), or a hand-over
//! that nobody answers resumes only after its deadline.
//!
//! 1. Always: each live node holds the VIPs exactly while its instance is Master (tracked from
//!    `AddVips` / `RemoveVips`), a dead node holds none, and no node adds VIPs it holds.
//! 2. Liveness, after one `max Master_Down_Interval + 2 * delay_max` of whole and quiet
//!    network (adverts in flight are gone after `delay_max`, then every Backup's down timer
//!    fires within one Master_Down_Interval): if any live instance is Backup or Master, at
//!    least one is Master. (Exactly one, and the right one, needs the longer `settle`.)
//! 3. Settled: if any live instance is Backup or Master, exactly one is Master, and every other
//!    with a higher effective priority does not preempt (`nopreempt`, or inhibited after a
//!    hand-over): without `nopreempt` this means the Master has the highest priority (ties
//!    allowed; RFC 9568 breaks ties only between two Masters). Nobody changes state while
//!    settled (no flapping).
//! 4. Hand-over: when the old master releases its VIPs after a hand-over, another node holds
//!    them already (never a moment without a holder), and if the network was whole, the old
//!    master was the only holder at the start, and no other input came during the hand-over,
//!    the overlap is at most `guard` + the new master's
//!    advert interval + `delay_max` (its first advert is sent when it adds the VIPs; adverts
//!    arriving within the hand-over guard are ignored, and it sends one at least every
//!    interval). The new master must also have taken the VIPs within
//!    `(adverts - 1) * spacing + delay_max + max interval` of the start (a backup fires
//!    Skew_Time < one interval after a priority-0 advert; the sim spaces those adverts by at
//!    least `delay_max`, so the last one arrives after any older advert). Each node's
//!    `handover.guard` is set to `2 * delay_max`, the condition under which the machine
//!    promises make-before-break.
//! 5. Every scenario ends with a quiet, whole period longer than `settle`, so check 3 runs in
//!    every schedule.
//! 6. No advert storm: the run stays within a step budget proportional to
//!    `nodes² × duration / min interval` (two masters answering each other's adverts at once,
//!    forever, would exhaust it while virtual time stands nearly still).
//!
//! A failure carries the seed, the scenario (nodes and inputs) and the log of inputs and
//! instance events; `VRRP_SIM_SEED=<seed> cargo test --lib vrrp::sim::tests::replay --
//! --nocapture` replays one seed and prints its trace, deliveries included.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::machine::{
    Action, EventKind, InitialState, Instance, InstanceParams, OperatorError, Reason, State,
};
use super::packet::{Advert, Version};

mod scenario;
mod step;
pub use scenario::*;

/// A broken invariant, with everything needed to replay it.
#[derive(Debug, Clone)]
pub struct Failure {
    pub seed: u64,
    pub at: Duration,
    pub message: String,
    pub scenario: String,
    pub log: Vec<String>,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "VRRP sim seed {} failed at {:.4}s: {}",
            self.seed,
            self.at.as_secs_f64(),
            self.message
        )?;
        writeln!(
            f,
            "replay: VRRP_SIM_SEED={} cargo test --lib vrrp::sim::tests::replay -- --nocapture",
            self.seed
        )?;
        f.write_str(&self.scenario)?;
        writeln!(f, "log ({} lines):", self.log.len())?;
        let skip = self.log.len().saturating_sub(400);
        for l in &self.log[skip..] {
            writeln!(f, "  {l}")?;
        }
        Ok(())
    }
}

/// What a successful run saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub steps: u64,
    pub adverts_delivered: u64,
    pub settled_checks: u64,
    pub transitions: u64,
    pub handovers_started: u64,
    pub handovers_completed: u64,
    /// Overlaps checked against `delay_max` (whole network, no other input).
    pub handover_overlaps_checked: u64,
    pub max_handover_overlap: Duration,
    pub split_brains: u64,
}

impl Report {
    /// Accumulate another run's report (sums; the maximum overlap).
    pub fn add(&mut self, r: &Report) {
        self.steps += r.steps;
        self.adverts_delivered += r.adverts_delivered;
        self.settled_checks += r.settled_checks;
        self.transitions += r.transitions;
        self.handovers_started += r.handovers_started;
        self.handovers_completed += r.handovers_completed;
        self.handover_overlaps_checked += r.handover_overlaps_checked;
        self.max_handover_overlap = self.max_handover_overlap.max(r.max_handover_overlap);
        self.split_brains += r.split_brains;
    }
}

#[derive(Debug)]
enum QKind {
    Input(usize),
    Deliver {
        to: usize,
        from: usize,
        advert: Rc<Advert>,
    },
    Timer {
        node: usize,
        epoch: u64,
    },
}

#[derive(Debug)]
struct QItem {
    t: u64,
    seq: u64,
    kind: QKind,
}

impl PartialEq for QItem {
    fn eq(&self, o: &Self) -> bool {
        (self.t, self.seq) == (o.t, o.seq)
    }
}
impl Eq for QItem {}
impl PartialOrd for QItem {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for QItem {
    fn cmp(&self, o: &Self) -> Ordering {
        (self.t, self.seq).cmp(&(o.t, o.seq))
    }
}

#[derive(Debug, Clone, Copy)]
struct HandoverWatch {
    start: u64,
    inputs_at_start: u64,
    /// Whole network and no other VIP holder when the hand-over started.
    clean_start: bool,
}

#[derive(Debug)]
struct Node {
    inst: Option<Instance>,
    holds: bool,
    holds_since: u64,
    side: bool,
    epoch: u64,
    timer_at: Option<u64>,
    trackers: Vec<TrackerSpec>,
    handover: Option<HandoverWatch>,
}

/// The simulator. [`Sim::run`] plays the scenario to its end or to the first failure.
pub struct Sim {
    sc: Scenario,
    net: Rng,
    base: Instant,
    now: u64,
    seq: u64,
    queue: BinaryHeap<Reverse<QItem>>,
    nodes: Vec<Node>,
    loss: u32,
    dup: u32,
    partitioned: bool,
    whole_since: Option<u64>,
    last_input: u64,
    inputs_applied: u64,
    settle: u64,
    live_after: u64,
    verbose: bool,
    log: Vec<String>,
    /// Each node's events since [`Sim::take_events`].
    events: Vec<Vec<String>>,
    report: Report,
}

fn ns(d: Duration) -> u64 {
    d.as_nanos() as u64
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

impl Sim {
    pub fn new(sc: Scenario) -> Sim {
        let nodes = sc
            .nodes
            .iter()
            .map(|s| Node {
                inst: None,
                holds: false,
                holds_since: 0,
                side: false,
                epoch: 0,
                timer_at: None,
                trackers: s.trackers.clone(),
                handover: None,
            })
            .collect();
        let whole = sc.loss == 0;
        Sim {
            net: Rng::new(sc.seed ^ 0x5eed_0f1a_u64),
            base: Instant::now(),
            now: 0,
            seq: 0,
            queue: BinaryHeap::new(),
            nodes,
            loss: sc.loss,
            dup: sc.dup,
            partitioned: false,
            whole_since: whole.then_some(0),
            last_input: 0,
            inputs_applied: 0,
            settle: ns(sc.settle()),
            live_after: ns(sc.max_master_down_interval() + sc.delay_max * 2),
            verbose: false,
            log: Vec::new(),
            events: vec![Vec::new(); sc.nodes.len()],
            report: Report::default(),
            sc,
        }
    }

    /// Also log every delivery (for replays).
    pub fn verbose(mut self, on: bool) -> Sim {
        self.verbose = on;
        self
    }

    /// The log so far (inputs and instance events; deliveries when verbose).
    pub fn log(&self) -> &[String] {
        &self.log
    }

    pub fn scenario(&self) -> &Scenario {
        &self.sc
    }

    pub fn run(&mut self) -> Result<Report, Failure> {
        for n in 0..self.nodes.len() {
            self.boot(n);
            self.drain(n)?;
        }
        self.check()?;
        for i in 0..self.sc.inputs.len() {
            let t = ns(self.sc.inputs[i].0);
            self.push(t, QKind::Input(i));
        }
        let end = ns(self.sc.end);
        // A correct cluster sends O(nodes) adverts per interval; an instance that answers
        // adverts with adverts forever (an advert storm) blows this budget.
        let i_min = self
            .sc
            .nodes
            .iter()
            .map(|s| s.params.advert_interval)
            .min()
            .unwrap_or(ms(10));
        let n = self.nodes.len() as u64;
        let budget = 1_000 + 200 * n * n * (end / ns(i_min) + 1);
        self.process(end, budget)?;
        self.now = end;
        if !self.settled() {
            return Err(self.fail("the scenario never reached a settled period".into()));
        }
        Ok(self.report.clone())
    }

    /// Deliver the queue's items up to `end`, at most `budget` steps in all.
    fn process(&mut self, end: u64, budget: u64) -> Result<(), Failure> {
        while let Some(Reverse(item)) = self.queue.pop() {
            if item.t > end {
                self.queue.push(Reverse(item));
                break;
            }
            self.now = item.t;
            self.report.steps += 1;
            if self.report.steps > budget {
                return Err(self.fail(format!(
                    "step budget {budget} exceeded: advert storm (adverts answering adverts)"
                )));
            }
            match item.kind {
                QKind::Input(i) => self.apply_input(i)?,
                QKind::Timer { node, epoch } => {
                    if self.nodes[node].epoch == epoch {
                        self.nodes[node].timer_at = None;
                        let now = self.instant();
                        if let Some(inst) = self.nodes[node].inst.as_mut() {
                            inst.handle_timeout(now);
                        }
                        self.drain(node)?;
                    }
                }
                QKind::Deliver { to, from, advert } => {
                    let now = self.instant();
                    let src = self.sc.nodes[from].params.primary_addr;
                    if let Some(inst) = self.nodes[to].inst.as_mut() {
                        self.report.adverts_delivered += 1;
                        if self.verbose {
                            self.log.push(format!(
                                "{:>10.4}s n{to} <- n{from} prio {} int {}cs",
                                self.now as f64 / 1e9,
                                advert.priority,
                                advert.interval_cs
                            ));
                        }
                        inst.handle_advert(now, src, &advert);
                        self.drain(to)?;
                    }
                }
            }
            self.check()?;
        }
        Ok(())
    }

    fn instant(&self) -> Instant {
        self.base + Duration::from_nanos(self.now)
    }

    fn push(&mut self, t: u64, kind: QKind) {
        self.seq += 1;
        self.queue.push(Reverse(QItem {
            t,
            seq: self.seq,
            kind,
        }));
    }

    fn boot(&mut self, n: usize) {
        let now = self.instant();
        let mut inst = Instance::new_stopped(self.sc.nodes[n].params.clone());
        for t in &self.nodes[n].trackers {
            inst.set_tracker(now, &t.name, t.weight, t.up);
        }
        inst.startup(now).expect("fresh instance starts");
        self.nodes[n].inst = Some(inst);
    }

    fn fail(&self, message: String) -> Failure {
        Failure {
            seed: self.sc.seed,
            at: Duration::from_nanos(self.now),
            message,
            scenario: self.sc.to_string(),
            log: self.log.clone(),
        }
    }

    fn whole(&self) -> bool {
        self.loss == 0 && !self.partitioned
    }

    fn settled(&self) -> bool {
        self.whole_since
            .is_some_and(|w| self.now >= w.max(self.last_input) + self.settle)
    }

    fn apply_input(&mut self, i: usize) -> Result<(), Failure> {
        let input = self.sc.inputs[i].1.clone();
        let now = self.instant();
        self.last_input = self.now;
        self.inputs_applied += 1;
        self.log
            .push(format!("{:>10.4}s INPUT {input}", self.now as f64 / 1e9));
        let mut touched = None;
        match input {
            Input::Crash(n) => {
                if self.nodes[n].inst.take().is_some() {
                    let node = &mut self.nodes[n];
                    node.holds = false;
                    node.epoch += 1;
                    node.timer_at = None;
                    node.handover = None;
                }
            }
            Input::Restart(n) => {
                if self.nodes[n].inst.is_none() {
                    self.boot(n);
                    touched = Some(n);
                }
            }
            Input::Stop(n) => {
                if let Some(inst) = self.nodes[n].inst.as_mut() {
                    inst.shutdown(now);
                    touched = Some(n);
                }
            }
            Input::Start(n) => {
                if let Some(inst) = self.nodes[n].inst.as_mut() {
                    let _ = inst.startup(now);
                    touched = Some(n);
                }
            }
            Input::Override(n, p) => {
                if let Some(inst) = self.nodes[n].inst.as_mut() {
                    inst.set_priority_override(now, p).expect("valid override");
                    touched = Some(n);
                }
            }
            Input::Tracker { node, tracker, up } => {
                self.nodes[node].trackers[tracker].up = up;
                let t = self.nodes[node].trackers[tracker].clone();
                if let Some(inst) = self.nodes[node].inst.as_mut() {
                    inst.set_tracker(now, &t.name, t.weight, t.up);
                    touched = Some(node);
                }
            }
            Input::Handover => {
                let master = self.nodes.iter().position(|nd| {
                    nd.inst
                        .as_ref()
                        .is_some_and(|x| x.state() == State::Master && !x.is_handing_over())
                });
                if let Some(n) = master {
                    self.start_handover(n);
                    touched = Some(n);
                }
            }
            Input::ClearInhibit(n) => {
                if let Some(inst) = self.nodes[n].inst.as_mut() {
                    inst.clear_handover_inhibit(now);
                }
            }
            Input::Partition(mask) => {
                for (k, node) in self.nodes.iter_mut().enumerate() {
                    node.side = mask & (1 << k) != 0;
                }
                self.partitioned = self.nodes.iter().any(|x| x.side != self.nodes[0].side);
            }
            Input::Heal => {
                for node in &mut self.nodes {
                    node.side = false;
                }
                self.partitioned = false;
            }
            Input::Loss(p) => self.loss = p,
            Input::Dup(p) => self.dup = p,
        }
        match (self.whole(), self.whole_since) {
            (true, None) => self.whole_since = Some(self.now),
            (false, Some(_)) => self.whole_since = None,
            _ => {}
        }
        if let Some(n) = touched {
            self.drain(n)?;
        }
        Ok(())
    }

    /// A hand-over on node `n`, a master not handing over already, watched for check 4.
    fn start_handover(&mut self, n: usize) {
        let now = self.instant();
        let sole = self.nodes.iter().filter(|x| x.holds).count() == 1;
        let clean_start = self.whole() && sole;
        let inputs_at_start = self.inputs_applied;
        let inst = self.nodes[n].inst.as_mut().unwrap();
        inst.handover(now).expect("master can hand over");
        self.nodes[n].handover = Some(HandoverWatch {
            start: self.now,
            inputs_at_start,
            clean_start,
        });
        self.report.handovers_started += 1;
    }

    /// Execute what node `n` asked for, log its events, re-arm its timer.
    fn drain(&mut self, n: usize) -> Result<(), Failure> {
        let mut handover_done = false;
        let settled = self.settled();
        loop {
            let Some(inst) = self.nodes[n].inst.as_mut() else {
                return Ok(());
            };
            let Some(ev) = inst.poll_event() else { break };
            match &ev.kind {
                EventKind::Transition { reason, .. } => {
                    self.report.transitions += 1;
                    if matches!(reason, Reason::OperatorHandover { .. }) {
                        handover_done = true;
                    }
                }
                EventKind::SplitBrain { .. } => self.report.split_brains += 1,
                _ => {}
            }
            self.log
                .push(format!("{:>10.4}s n{n} {}", self.now as f64 / 1e9, ev.kind));
            self.events[n].push(ev.kind.to_string());
            if settled && matches!(ev.kind, EventKind::Transition { .. }) {
                return Err(self.fail(format!(
                    "n{n} changed state while the cluster was settled: {}",
                    ev.kind
                )));
            }
        }
        while let Some(action) = self.nodes[n].inst.as_mut().and_then(|i| i.poll_action()) {
            match action {
                Action::SendAdvert(ad) => self.broadcast(n, Rc::new(ad)),
                Action::AddVips => {
                    if self.nodes[n].holds {
                        return Err(self.fail(format!("n{n} added VIPs it already holds")));
                    }
                    self.nodes[n].holds = true;
                    self.nodes[n].holds_since = self.now;
                }
                // The simulated nodes use no grace period; were one set, its VIPs would go
                // later, which the holder invariants here do not model.
                Action::RemoveVips | Action::KeepVipsFor(_) => {
                    if handover_done && self.nodes[n].holds {
                        self.check_handover_release(n)?;
                    }
                    self.nodes[n].holds = false;
                }
                Action::SendGratuitous { .. } => {}
            }
        }
        if handover_done {
            self.nodes[n].handover = None;
        }
        let next = self.nodes[n]
            .inst
            .as_ref()
            .and_then(|i| i.next_timeout())
            .map(|t| ns(t.saturating_duration_since(self.base)).max(self.now));
        if next != self.nodes[n].timer_at {
            self.nodes[n].epoch += 1;
            self.nodes[n].timer_at = next;
            if let Some(t) = next {
                let epoch = self.nodes[n].epoch;
                self.push(t, QKind::Timer { node: n, epoch });
            }
        }
        Ok(())
    }

    fn check_handover_release(&mut self, n: usize) -> Result<(), Failure> {
        self.report.handovers_completed += 1;
        let Some(w) = self.nodes[n].handover else {
            return Ok(());
        };
        let quiet = self.inputs_applied == w.inputs_at_start;
        if !quiet {
            return Ok(());
        }
        let other = self
            .nodes
            .iter()
            .enumerate()
            .filter(|(k, x)| *k != n && x.holds)
            .map(|(k, x)| (x.holds_since, self.sc.nodes[k].params.advert_interval))
            .min();
        let Some((since, interval)) = other else {
            return Err(self.fail(format!(
                "hand-over from n{n} released the VIPs while no other node held them"
            )));
        };
        if w.clean_start && self.whole() {
            let h = &self.sc.nodes[n].params.handover;
            let i_max = self
                .sc
                .nodes
                .iter()
                .map(|s| s.params.advert_interval)
                .max()
                .unwrap();
            let bound = h.spacing * u32::from(h.adverts - 1) + self.sc.delay_max + i_max;
            let latency = Duration::from_nanos(since.saturating_sub(w.start));
            if latency > bound {
                return Err(self.fail(format!(
                    "hand-over from n{n}: the new master took the VIPs after {latency:?} \
                     (> {bound:?}: last priority-0 advert + delay + Skew_Time)"
                )));
            }
            let overlap = Duration::from_nanos(self.now - since.max(w.start));
            self.report.handover_overlaps_checked += 1;
            self.report.max_handover_overlap = self.report.max_handover_overlap.max(overlap);
            let guard = self.sc.nodes[n].params.handover.guard;
            if overlap > guard + interval + self.sc.delay_max {
                return Err(self.fail(format!(
                    "hand-over from n{n}: VIPs held twice for {overlap:?} \
                     (> guard {guard:?} + interval {interval:?} + delay_max {:?})",
                    self.sc.delay_max
                )));
            }
        }
        Ok(())
    }

    fn broadcast(&mut self, from: usize, advert: Rc<Advert>) {
        let side = self.nodes[from].side;
        for to in 0..self.nodes.len() {
            if to == from || self.nodes[to].side != side || self.nodes[to].inst.is_none() {
                continue;
            }
            if self.loss > 0 && self.net.chance(self.loss) {
                continue;
            }
            let copies = if self.dup > 0 && self.net.chance(self.dup) {
                2
            } else {
                1
            };
            for _ in 0..copies {
                let d = self.net.duration(self.sc.delay_min, self.sc.delay_max);
                let t = self.now + ns(d);
                self.push(
                    t,
                    QKind::Deliver {
                        to,
                        from,
                        advert: advert.clone(),
                    },
                );
            }
        }
    }

    fn check(&mut self) -> Result<(), Failure> {
        for (k, node) in self.nodes.iter().enumerate() {
            let master = node
                .inst
                .as_ref()
                .is_some_and(|i| i.state() == State::Master);
            if node.holds != master {
                return Err(self.fail(format!(
                    "n{k} holds VIPs: {} but is {}",
                    node.holds,
                    node.inst
                        .as_ref()
                        .map_or("dead".to_string(), |i| i.state().to_string())
                )));
            }
        }
        let quiet_since = self.whole_since.map(|w| w.max(self.last_input));
        if let Some(q) = quiet_since
            && self.now >= q + self.live_after
        {
            let in_state = |st: &[State]| {
                self.nodes
                    .iter()
                    .any(|x| x.inst.as_ref().is_some_and(|i| st.contains(&i.state())))
            };
            if in_state(&[State::Backup, State::Master]) && !in_state(&[State::Master]) {
                return Err(self.fail(format!(
                    "no master {:?} after the network became whole and quiet",
                    Duration::from_nanos(self.now - q)
                )));
            }
        }
        if !self.settled() {
            return Ok(());
        }
        self.report.settled_checks += 1;
        let live: Vec<(usize, &Instance)> = self
            .nodes
            .iter()
            .enumerate()
            .filter_map(|(k, x)| x.inst.as_ref().map(|i| (k, i)))
            .filter(|(_, i)| matches!(i.state(), State::Backup | State::Master))
            .collect();
        let masters: Vec<usize> = live
            .iter()
            .filter(|(_, i)| i.state() == State::Master)
            .map(|(k, _)| *k)
            .collect();
        if live.is_empty() {
            return Ok(());
        }
        if masters.len() != 1 {
            return Err(self.fail(format!(
                "settled, yet {} masters: {masters:?}",
                masters.len()
            )));
        }
        let m = masters[0];
        let mp = self.nodes[m].inst.as_ref().unwrap().effective_priority();
        for (k, i) in &live {
            if i.effective_priority() > mp && i.preempts() {
                return Err(self.fail(format!(
                    "settled with master n{m} (priority {mp}) while n{k} (priority {}) \
                     preempts and is {}",
                    i.effective_priority(),
                    i.state()
                )));
            }
        }
        Ok(())
    }
}

/// Run one seed's random scenario.
pub fn run_seed(seed: u64) -> Result<Report, Failure> {
    Sim::new(Scenario::random(seed)).run()
}

#[cfg(test)]
mod tests;
