//! Operators' overrides kept across restarts (`operator_state`), and the audit trail of
//! their commands: the event log, the daemon's log (journald under systemd) and a bounded
//! file beside the state.

use std::collections::BTreeSet;
use std::path::PathBuf;

use super::{Director, RealId};
use crate::engine::operator_state::{self, OperatorState, PriorityEntry, RealEntry};
use crate::engine::snapshot::now_ms;

/// Entries of servers still configured into `into`; the others named in `dropped`.
fn restore<T: Clone>(
    entries: Vec<RealEntry<T>>,
    known: &BTreeSet<RealId>,
    into: &mut std::collections::HashMap<RealId, crate::engine::snapshot::Override<T>>,
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

impl Director {
    /// Put back what operators had set before this daemon started (`saved`, read from the
    /// state file before VRRP started, which took the priority overrides).
    pub(super) fn restore_operator_state(&mut self, saved: Result<OperatorState, String>) {
        let path = self.state_path.display().to_string();
        let state = match saved {
            Ok(s) => s,
            Err(e) => {
                tracing::error!("operator state not restored: {e}");
                self.log(
                    "daemon",
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
        let drains = restore(
            state.drains,
            &known,
            &mut self.drains,
            "drain",
            &mut dropped,
        );
        let weights = restore(
            state.weights,
            &known,
            &mut self.weights,
            "weight",
            &mut dropped,
        );
        let mut priorities = 0;
        let taken = self.vrrp.priority_overrides();
        for p in state.priorities {
            match taken.iter().any(|(n, _)| *n == p.instance) {
                true => priorities += 1,
                false => dropped.push(format!("priority of {}", p.instance)),
            }
        }
        let mut msg = format!(
            "restored from {path}: {drains} drain(s), {weights} weight override(s), \
             {priorities} priority override(s)"
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
        self.log("daemon", "state", msg);
    }

    /// Write what operators set now.
    pub(super) fn save_operator_state(&self) -> std::io::Result<()> {
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
                .vrrp
                .priority_overrides()
                .into_iter()
                .map(|(instance, set)| PriorityEntry { instance, set })
                .collect(),
            director_drain: self.director_drain.clone(),
        };
        // A stable order: the file diffs well.
        state
            .drains
            .sort_by(|a, b| (&a.service, a.address, a.port).cmp(&(&b.service, b.address, b.port)));
        state
            .weights
            .sort_by(|a, b| (&a.service, a.address, a.port).cmp(&(&b.service, b.address, b.port)));
        state.save(&self.state_path)
    }

    /// Where the audit trail goes: beside the state file.
    fn audit_path(&self) -> PathBuf {
        self.state_path.with_extension("audit.log")
    }

    /// One operator command and its result, for the audit trail.
    pub(super) fn audit(&self, user: &str, uid: u32, what: &str, result: &Result<String, String>) {
        let (verdict, detail) = match result {
            Ok(m) => ("done", m.as_str()),
            Err(m) => ("refused", m.as_str()),
        };
        tracing::info!(target: "lvsdeck::audit", user, uid, command = what, verdict, "{detail}");
        let line = format!(
            "{} user={user} uid={uid} command={what:?} {verdict}: {detail:?}",
            now_ms()
        );
        if let Err(e) = operator_state::audit(&self.audit_path(), &line) {
            tracing::warn!("audit file {}: {e}", self.audit_path().display());
        }
    }
}
