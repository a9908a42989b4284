//! The pure scheduler: every target's checks in one `BinaryHeap` of due times. It hands out
//! [`Job`]s that are due, folds their results into the bookkeeping and says what changed.
//! No I/O, no clock, no tasks: the [`runner`](super::runner) drives it; tests drive it on a
//! virtual clock.
//!
//! A check is either waiting in the heap (exactly once) or running; when its result comes in,
//! its next due time goes into the heap. Removing or replacing a target leaves its heap
//! entries behind: each entry carries the check's key, and an entry whose key is no longer
//! current is skipped when it comes up (lazy deletion).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::spec::CheckSpec;
use super::state::{CheckState, ServerHealth};
use super::target::Compiled;
use super::{Change, CheckResult, HealthEvent, ServerState, TargetId};

/// A check to run now.
#[derive(Debug, Clone)]
pub struct Job {
    pub slot: u32,
    pub check: u32,
    pub key: u64,
    /// When it was due (it may start later when the runner is at its concurrency limit).
    pub due: Instant,
    pub spec: Arc<CheckSpec>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Due {
    at: Instant,
    key: u64,
    slot: u32,
    check: u32,
}

#[derive(Debug)]
struct CheckSlot {
    key: u64,
    running: bool,
}

#[derive(Debug)]
struct Slot {
    compiled: Compiled,
    health: ServerHealth,
    checks: Vec<CheckSlot>,
}

/// The scheduler's state.
#[derive(Debug)]
pub struct Core {
    slots: Vec<Option<Slot>>,
    free: Vec<u32>,
    index: HashMap<TargetId, u32>,
    heap: BinaryHeap<Reverse<Due>>,
    next_key: u64,
    rng: u64,
    bootstrap: Duration,
}

impl Core {
    /// `bootstrap`: the delay before any first attempt (keepalived: 1 s); `seed`: for the
    /// warmup's random spread.
    pub fn new(bootstrap: Duration, seed: u64) -> Self {
        Self {
            slots: Vec::new(),
            free: Vec::new(),
            index: HashMap::new(),
            heap: BinaryHeap::new(),
            next_key: 1,
            rng: seed,
            bootstrap,
        }
    }

    /// How many targets.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Entries in the heap, stale ones included.
    pub fn heap_len(&self) -> usize {
        self.heap.len()
    }

    pub fn contains(&self, id: &TargetId) -> bool {
        self.index.contains_key(id)
    }

    pub fn ids(&self) -> impl Iterator<Item = &TargetId> {
        self.index.keys()
    }

    /// A target's state now.
    pub fn state(&self, id: &TargetId) -> Option<ServerState> {
        let slot = self.slots[*self.index.get(id)? as usize].as_ref()?;
        Some(server_state(&slot.health))
    }

    /// A uniform value in 0.0..1.0 (splitmix64).
    fn random(&mut self) -> f64 {
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    fn new_check(&mut self, now: Instant, slot: u32, check: u32, state: &CheckState) -> CheckSlot {
        let key = self.next_key;
        self.next_key += 1;
        let r = self.random();
        let at = state.first_due(now, self.bootstrap, r);
        self.heap.push(Reverse(Due {
            at,
            key,
            slot,
            check,
        }));
        CheckSlot {
            key,
            running: false,
        }
    }

    /// Add a target, or update it (a reload). Checks that did not change keep their state and
    /// schedule; new or changed ones start afresh (down with alpha). Returns an event when the
    /// target's state changed (a failing check removed, say).
    pub fn upsert(&mut self, now: Instant, c: Compiled) -> Option<HealthEvent> {
        let id = c.target.id.clone();
        let Some(&slot_ix) = self.index.get(&id) else {
            let slot_ix = self.free.pop().unwrap_or_else(|| {
                self.slots.push(None);
                (self.slots.len() - 1) as u32
            });
            let states: Vec<CheckState> = (0..c.specs.len()).map(|i| c.fresh_state(i)).collect();
            let checks = states
                .iter()
                .enumerate()
                .map(|(i, st)| self.new_check(now, slot_ix, i as u32, st))
                .collect();
            let health = ServerHealth::new(states, c.target.weight);
            self.slots[slot_ix as usize] = Some(Slot {
                compiled: c,
                health,
                checks,
            });
            self.index.insert(id, slot_ix);
            return None;
        };
        let old = self.slots[slot_ix as usize]
            .take()
            .expect("indexed slots are filled");
        let before = server_state(&old.health);
        let same_context = {
            let (a, b) = (&old.compiled.target, &c.target);
            a.delay_loop == b.delay_loop
                && a.virtualhost == b.virtualhost
                && a.http_version == b.http_version
                && a.rise_fall == b.rise_fall
        };
        let mut old_states: Vec<Option<CheckState>> =
            old.health.checks().iter().cloned().map(Some).collect();
        let mut old_checks: Vec<Option<CheckSlot>> = old.checks.into_iter().map(Some).collect();
        let mut specs = Vec::with_capacity(c.specs.len());
        let mut states = Vec::with_capacity(c.specs.len());
        let mut checks = Vec::with_capacity(c.specs.len());
        for (i, check) in c.target.checks.iter().enumerate() {
            let kept = same_context && old.compiled.target.checks.get(i) == Some(check);
            if kept {
                specs.push(old.compiled.specs[i].clone());
                states.push(old_states[i].take().expect("each old state is taken once"));
                checks.push(old_checks[i].take().expect("each old check is taken once"));
            } else {
                let st = c.fresh_state(i);
                checks.push(self.new_check(now, slot_ix, i as u32, &st));
                specs.push(c.specs[i].clone());
                states.push(st);
            }
        }
        let health = ServerHealth::new(states, c.target.weight);
        let after = server_state(&health);
        self.slots[slot_ix as usize] = Some(Slot {
            compiled: Compiled {
                target: c.target,
                specs,
            },
            health,
            checks,
        });
        let mut changes = Vec::new();
        if after.up != before.up {
            let reason = "checks changed by a reload".to_string();
            match after.up {
                Some(true) => changes.push(Change::Up { reason }),
                Some(false) => changes.push(Change::Down { reason }),
                None => {}
            }
        }
        if after.weight != before.weight {
            changes.push(Change::Weight {
                from: before.weight,
                to: after.weight,
            });
        }
        (!changes.is_empty()).then(|| HealthEvent {
            id,
            check: None,
            label: "".into(),
            result: None,
            state: after,
            changes,
        })
    }

    /// Remove a target; its running checks' results will be ignored.
    pub fn remove(&mut self, id: &TargetId) -> bool {
        let Some(slot_ix) = self.index.remove(id) else {
            return false;
        };
        self.slots[slot_ix as usize] = None;
        self.free.push(slot_ix);
        true
    }

    /// Make the set of targets exactly `all` (a reload): remove the others, upsert these.
    pub fn sync(&mut self, now: Instant, all: Vec<Compiled>) -> Vec<HealthEvent> {
        let keep: std::collections::HashSet<&TargetId> = all.iter().map(|c| &c.target.id).collect();
        let gone: Vec<TargetId> = self
            .ids()
            .filter(|id| !keep.contains(id))
            .cloned()
            .collect();
        for id in &gone {
            self.remove(id);
        }
        all.into_iter()
            .filter_map(|c| self.upsert(now, c))
            .collect()
    }

    /// Every FILE check reading `path`, due now (its file changed). How many.
    pub fn file_changed(&mut self, now: Instant, path: &std::path::Path) -> usize {
        let mut n = 0;
        for (slot_i, slot) in self.slots.iter().enumerate() {
            let Some(slot) = slot else { continue };
            for (check_i, spec) in slot.compiled.specs.iter().enumerate() {
                if matches!(&spec.probe, super::spec::Probe::File(p) if p.path == path) {
                    self.heap.push(Reverse(Due {
                        at: now,
                        key: slot.checks[check_i].key,
                        slot: slot_i as u32,
                        check: check_i as u32,
                    }));
                    n += 1;
                }
            }
        }
        n
    }

    /// The files FILE checks read.
    pub fn watched_files(c: &Compiled) -> impl Iterator<Item = &std::path::Path> {
        c.specs.iter().filter_map(|s| match &s.probe {
            super::spec::Probe::File(p) => Some(p.path.as_path()),
            _ => None,
        })
    }

    /// When the earliest heap entry is due (it may be stale: a spurious wake-up is harmless).
    pub fn next_due(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse(d)| d.at)
    }

    /// The next check due at `now`, marked running.
    pub fn pop_due(&mut self, now: Instant) -> Option<Job> {
        while let Some(Reverse(top)) = self.heap.peek() {
            if top.at > now {
                return None;
            }
            let Reverse(due) = self.heap.pop().expect("peeked");
            let Some(slot) = self
                .slots
                .get_mut(due.slot as usize)
                .and_then(Option::as_mut)
            else {
                continue;
            };
            let Some(cs) = slot.checks.get_mut(due.check as usize) else {
                continue;
            };
            if cs.key != due.key || cs.running {
                continue;
            }
            cs.running = true;
            return Some(Job {
                slot: due.slot,
                check: due.check,
                key: due.key,
                due: due.at,
                spec: slot.compiled.specs[due.check as usize].clone(),
            });
        }
        None
    }

    /// Fold a job's result in (at `now`, when it ended); schedules the check's next attempt.
    /// None when the job's target or check is gone or was replaced meanwhile.
    pub fn complete(
        &mut self,
        now: Instant,
        job: &Job,
        result: CheckResult,
    ) -> Option<HealthEvent> {
        let slot = self.slots.get_mut(job.slot as usize)?.as_mut()?;
        let cs = slot.checks.get_mut(job.check as usize)?;
        if cs.key != job.key {
            return None;
        }
        cs.running = false;
        let i = job.check as usize;
        let update = slot.health.record(i, now, result.outcome());
        self.heap.push(Reverse(Due {
            at: update.check.next_due,
            key: job.key,
            slot: job.slot,
            check: job.check,
        }));
        let label = slot.compiled.specs[i].label.clone();
        let mut changes = Vec::new();
        match update.became {
            Some(true) => changes.push(Change::Up {
                reason: format!("{label}: {}", result.message),
            }),
            Some(false) => {
                let n = update.check.failures_in_a_row;
                let attempts = if n > 1 {
                    format!(" ({n} failed attempts)")
                } else {
                    String::new()
                };
                changes.push(Change::Down {
                    reason: format!("{label}: {}{attempts}", result.message),
                });
            }
            None => {}
        }
        if let Some((from, to)) = update.weight {
            changes.push(Change::Weight { from, to });
        }
        Some(HealthEvent {
            id: slot.compiled.target.id.clone(),
            check: Some(i),
            label,
            result: Some(result),
            state: server_state(&slot.health),
            changes,
        })
    }
}

fn server_state(h: &ServerHealth) -> ServerState {
    ServerState {
        up: h.up(),
        weight: h.weight(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::model::{Check, CheckKind, Dur};
    use crate::health::target::CheckTarget;

    const S: Duration = Duration::from_secs(1);

    fn tcp(retry: u32) -> Check {
        let mut c = Check::new(CheckKind::Tcp);
        c.retry = retry;
        c.delay_before_retry = Some(Dur::from_secs(1));
        c.warmup = Some(Dur::ZERO);
        c
    }

    fn target(n: u16, checks: Vec<Check>) -> CheckTarget {
        let id = TargetId::new(
            "TCP 192.0.2.1:80",
            format!("192.0.2.{}:80", n % 250 + 2).parse().unwrap(),
        );
        let mut t = CheckTarget::new(TargetId::new(format!("svc{}", n / 250), id.real), checks);
        t.delay_loop = 6 * S;
        t
    }

    fn ok() -> CheckResult {
        CheckResult::ok("connected", Duration::ZERO)
    }

    fn fail() -> CheckResult {
        CheckResult::fail("connection refused", Duration::ZERO)
    }

    #[test]
    fn a_check_runs_when_due_and_again_after_delay_loop() {
        let t0 = Instant::now();
        let mut core = Core::new(S, 1);
        assert!(
            core.upsert(t0, target(1, vec![tcp(1)]).compile().unwrap())
                .is_none()
        );
        assert_eq!(core.next_due(), Some(t0 + S));
        assert!(core.pop_due(t0).is_none());
        let job = core.pop_due(t0 + S).unwrap();
        // Running: not handed out twice.
        assert!(core.pop_due(t0 + 100 * S).is_none());
        let ev = core.complete(t0 + S, &job, ok()).unwrap();
        assert!(ev.changes.is_empty());
        assert_eq!(
            ev.state,
            ServerState {
                up: Some(true),
                weight: 1
            }
        );
        assert_eq!(ev.label.as_ref(), "TCP 192.0.2.3:80");
        assert_eq!(core.next_due(), Some(t0 + 7 * S));
    }

    #[test]
    fn down_after_retries_spaced_by_delay_before_retry_then_up() {
        let t0 = Instant::now();
        let mut core = Core::new(Duration::ZERO, 1);
        core.upsert(t0, target(1, vec![tcp(2)]).compile().unwrap());
        let mut now = t0;
        let step = |core: &mut Core, now: &mut Instant, r: CheckResult| {
            let job = core.pop_due(*now).expect("due");
            let ev = core.complete(*now, &job, r).unwrap();
            *now = core.next_due().unwrap();
            ev
        };
        assert!(step(&mut core, &mut now, ok()).changes.is_empty());
        assert_eq!(now, t0 + 6 * S);
        assert!(step(&mut core, &mut now, fail()).changes.is_empty());
        assert_eq!(now, t0 + 7 * S);
        assert!(step(&mut core, &mut now, fail()).changes.is_empty());
        assert_eq!(now, t0 + 8 * S);
        let ev = step(&mut core, &mut now, fail());
        assert_eq!(
            ev.changes,
            [Change::Down {
                reason: "TCP 192.0.2.3:80: connection refused (3 failed attempts)".into()
            }]
        );
        assert_eq!(now, t0 + 14 * S);
        let ev = step(&mut core, &mut now, ok());
        assert_eq!(
            ev.changes,
            [Change::Up {
                reason: "TCP 192.0.2.3:80: connected".into()
            }]
        );
    }

    #[test]
    fn warmup_spreads_first_attempts_evenly() {
        let t0 = Instant::now();
        let mut core = Core::new(S, 42);
        let mut c = tcp(1);
        c.warmup = None; // keepalived: warmup defaults to delay_loop (6 s)
        for n in 0..6000 {
            core.upsert(t0, target(n, vec![c.clone()]).compile().unwrap());
        }
        assert_eq!(core.len(), 6000);
        let mut buckets = [0u32; 6];
        let mut now = t0;
        while let Some(at) = core.next_due() {
            now = now.max(at);
            let job = core.pop_due(now).unwrap();
            let offset = (job.due - t0 - S).as_secs_f64();
            assert!((0.0..=6.0).contains(&offset));
            buckets[(offset as usize).min(5)] += 1;
            if buckets.iter().sum::<u32>() == 6000 {
                break;
            }
        }
        for b in buckets {
            assert!((850..1150).contains(&b), "{buckets:?}");
        }
    }

    #[test]
    fn removed_targets_are_skipped_and_their_results_ignored() {
        let t0 = Instant::now();
        let mut core = Core::new(Duration::ZERO, 1);
        let a = target(1, vec![tcp(0)]);
        let b = target(2, vec![tcp(0)]);
        core.upsert(t0, a.compile().unwrap());
        core.upsert(t0, b.compile().unwrap());
        let running = core.pop_due(t0).unwrap();
        let running_id = if running.slot == 0 {
            a.id.clone()
        } else {
            b.id.clone()
        };
        assert!(core.remove(&running_id));
        assert!(!core.remove(&running_id));
        assert!(core.complete(t0, &running, fail()).is_none());
        let other = core.pop_due(t0).unwrap();
        assert!(core.pop_due(t0 + 100 * S).is_none());
        assert!(core.complete(t0, &other, fail()).is_some());
        // The freed slot is reused, and the old job still does not match it.
        core.upsert(t0, running_id_target(&running_id));
        assert!(core.complete(t0, &running, fail()).is_none());
        assert_eq!(core.len(), 2);
    }

    fn running_id_target(id: &TargetId) -> Compiled {
        let mut t = CheckTarget::new(id.clone(), vec![tcp(0)]);
        t.delay_loop = 6 * S;
        t.compile().unwrap()
    }

    #[test]
    fn an_update_keeps_unchanged_checks_and_restarts_changed_ones() {
        let t0 = Instant::now();
        let mut core = Core::new(Duration::ZERO, 1);
        let mut t = target(1, vec![tcp(0), tcp(0)]);
        core.upsert(t0, t.compile().unwrap());
        let j0 = core.pop_due(t0).unwrap();
        let j1 = core.pop_due(t0).unwrap();
        let (j0, j1) = if j0.check == 0 { (j0, j1) } else { (j1, j0) };
        core.complete(t0, &j0, ok());
        let ev = core.complete(t0, &j1, fail()).unwrap();
        assert!(matches!(ev.changes[..], [Change::Down { .. }]));
        // Reload: check 1 changes (connect_port), check 0 does not; weight changes.
        t.checks[1].connect_port = Some(8080);
        t.weight = 5;
        let ev = core.upsert(t0 + S, t.compile().unwrap()).unwrap();
        assert_eq!(
            ev.state,
            ServerState {
                up: Some(true),
                weight: 5
            }
        );
        assert_eq!(
            ev.changes,
            [
                Change::Up {
                    reason: "checks changed by a reload".into()
                },
                Change::Weight { from: 1, to: 5 }
            ]
        );
        // Check 0 keeps its schedule (t0 + 6 s); check 1 starts afresh (now, warmup 0).
        let j = core.pop_due(t0 + S).unwrap();
        assert_eq!((j.check, j.due), (1, t0 + S));
        assert!(core.pop_due(t0 + 5 * S).is_none());
        assert_eq!(core.pop_due(t0 + 6 * S).unwrap().check, 0);
        // The same target again: nothing changes, nothing is rescheduled.
        let heap = core.heap_len();
        assert!(core.upsert(t0 + 2 * S, t.compile().unwrap()).is_none());
        assert_eq!(core.heap_len(), heap);
    }

    #[test]
    fn a_result_for_a_replaced_check_is_ignored() {
        let t0 = Instant::now();
        let mut core = Core::new(Duration::ZERO, 1);
        let mut t = target(1, vec![tcp(0)]);
        core.upsert(t0, t.compile().unwrap());
        let job = core.pop_due(t0).unwrap();
        t.checks[0].connect_port = Some(81);
        core.upsert(t0, t.compile().unwrap());
        assert!(core.complete(t0, &job, fail()).is_none());
        assert_eq!(core.state(&t.id).unwrap().up, Some(true));
        // The new check is due at once and counts.
        let job = core.pop_due(t0).unwrap();
        assert_eq!(job.spec.label.as_ref(), "TCP 192.0.2.3:81");
        assert!(!core.complete(t0, &job, fail()).unwrap().changes.is_empty());
    }

    #[test]
    fn sync_removes_what_is_not_listed() {
        let t0 = Instant::now();
        let mut core = Core::new(Duration::ZERO, 1);
        let ts: Vec<_> = (0..10).map(|n| target(n, vec![tcp(0)])).collect();
        for t in &ts {
            core.upsert(t0, t.compile().unwrap());
        }
        let keep: Vec<_> = ts[5..].iter().map(|t| t.compile().unwrap()).collect();
        assert!(core.sync(t0, keep).is_empty());
        assert_eq!(core.len(), 5);
        assert!(!core.contains(&ts[0].id) && core.contains(&ts[9].id));
        // Stale heap entries are skipped.
        let mut n = 0;
        while core.pop_due(t0).is_some() {
            n += 1;
        }
        assert_eq!(n, 5);
    }

    #[test]
    fn alpha_target_starts_down_and_comes_up_when_all_checks_pass() {
        let t0 = Instant::now();
        let mut core = Core::new(Duration::ZERO, 1);
        let mut t = target(1, vec![tcp(0), tcp(0)]);
        t.alpha = true;
        assert_eq!(t.initial_up(), Some(false));
        core.upsert(t0, t.compile().unwrap());
        assert_eq!(core.state(&t.id).unwrap().up, Some(false));
        let a = core.pop_due(t0).unwrap();
        let b = core.pop_due(t0).unwrap();
        assert!(core.complete(t0, &a, ok()).unwrap().changes.is_empty());
        let ev = core.complete(t0, &b, ok()).unwrap();
        assert!(matches!(ev.changes[..], [Change::Up { .. }]));
    }

    /// A virtual-clock simulation: a server that is down from 100 s to 200 s, checked every
    /// 6 s with retry 2 and delay_before_retry 1 s.
    #[test]
    fn simulated_outage_is_seen_within_bounds() {
        let t0 = Instant::now();
        let mut core = Core::new(S, 7);
        let mut c = tcp(2);
        c.warmup = None;
        core.upsert(t0, target(1, vec![c]).compile().unwrap());
        let mut changes = Vec::new();
        while let Some(at) = core.next_due() {
            if at > t0 + 400 * S {
                break;
            }
            let job = core.pop_due(at).unwrap();
            let secs = (at - t0).as_secs_f64();
            let r = if (100.0..200.0).contains(&secs) {
                fail()
            } else {
                ok()
            };
            // Each attempt takes 10 ms.
            let end = at + Duration::from_millis(10);
            let ev = core.complete(end, &job, r).unwrap();
            for ch in ev.changes {
                changes.push(((end - t0).as_secs_f64(), ch));
            }
        }
        assert_eq!(changes.len(), 2, "{changes:?}");
        let (down_at, up_at) = (changes[0].0, changes[1].0);
        assert!(matches!(changes[0].1, Change::Down { .. }));
        assert!(matches!(changes[1].1, Change::Up { .. }));
        // Down: the first failing attempt (within one delay_loop of 100 s) plus two retries.
        assert!(
            (102.0..=100.0 + 6.0 + 2.0 + 0.1).contains(&down_at),
            "{down_at}"
        );
        // Up: the first attempt after 200 s.
        assert!((200.0..=206.1).contains(&up_at), "{up_at}");
    }
}
