//! Operators' overrides kept across restarts (`operator_state`): what a restart puts back,
//! and what is written after each change.

use std::collections::{BTreeSet, HashMap};

use super::{Core, Now};
use crate::engine::operator_state::{OperatorState, PriorityEntry, RealEntry};
use crate::engine::snapshot::{EventKind, Override};
use crate::ipvs::table::RealId;

/// Entries of servers still configured into `into`; the others named in `dropped`.
fn restore_into<T: Clone>(
    entries: Vec<RealEntry<T>>,
    known: &BTreeSet<RealId>,
    into: &mut HashMap<RealId, Override<T>>,
    what: &str,
    dropped: &mut Vec<String>,
) -> usize {
    let mut n = 0;
    for e in entries {
        if known.contains(&e.id()) {
            into.insert(e.id(), e.set);
            n += 1;
        } else {
            dropped.push(format!(
                "{what} of {}:{} on {}",
                e.address, e.port, e.service
            ));
        }
    }
    n
}

impl Core {
    /// Put back what operators had set before this daemon started (`saved`, read from the
    /// state file before VRRP started, which took the priority overrides it knows).
    pub(super) fn restore(&mut self, now: Now, saved: Result<OperatorState, String>) {
        let state = match saved {
            Ok(s) => s,
            Err(e) => {
                tracing::error!("operator state not restored: {e}");
                self.log(
                    now,
                    EventKind::Daemon,
                    "state",
                    format!("operator state NOT restored: {e}"),
                );
                return;
            }
        };
        if state.is_empty() {
            return;
        }
        let known: BTreeSet<RealId> = self
            .config
            .virtual_server
            .iter()
            .flat_map(|vs| vs.real_server.iter().map(|rs| RealId::of(vs, rs)))
            .collect();
        let mut dropped = Vec::new();
        let drains = restore_into(
            state.drains,
            &known,
            &mut self.drains,
            "drain",
            &mut dropped,
        );
        let weights = restore_into(
            state.weights,
            &known,
            &mut self.weights,
            "weight",
            &mut dropped,
        );
        let mut priorities = 0;
        for p in state.priorities {
            match self.priorities.iter().any(|(n, _)| *n == p.instance) {
                true => priorities += 1,
                false => dropped.push(format!("priority of {}", p.instance)),
            }
        }
        let mut msg = format!(
            "restored from {}: {drains} drain(s), {weights} weight override(s), \
             {priorities} priority override(s)",
            self.state_source
        );
        // A director drained before a crash stays withdrawn: it is not put back into the
        // routers' rotation by a restart.
        if let Some(d) = state.director_drain {
            msg.push_str(&format!("; the director drained by {}", d.by));
            self.director_drain = Some(d);
        }
        if !dropped.is_empty() {
            msg.push_str(&format!(
                "; no longer configured, dropped: {}",
                dropped.join(", ")
            ));
        }
        tracing::info!("{msg}");
        self.log(now, EventKind::Daemon, "state", msg);
    }

    /// What operators set now, in a stable order (the file diffs well).
    pub(super) fn operator_state(&self) -> OperatorState {
        let mut state = OperatorState {
            drains: self
                .drains
                .iter()
                .map(|(id, o)| RealEntry::of(id, o))
                .collect(),
            weights: self
                .weights
                .iter()
                .map(|(id, o)| RealEntry::of(id, o))
                .collect(),
            priorities: self
                .priorities
                .iter()
                .map(|(instance, set)| PriorityEntry {
                    instance: instance.clone(),
                    set: set.clone(),
                })
                .collect(),
            director_drain: self.director_drain.clone(),
        };
        state
            .drains
            .sort_by(|a, b| (&a.service, a.address, a.port).cmp(&(&b.service, b.address, b.port)));
        state
            .weights
            .sort_by(|a, b| (&a.service, a.address, a.port).cmp(&(&b.service, b.address, b.port)));
        state
    }
}
