//! Health: which checks run, servers whose checks cannot run (held down), and what each
//! result and change does to the table, the event log and the notify scripts.

use super::{Core, Effect, Now, check_plan};
use crate::engine::snapshot::{CheckResult, EventKind};
use crate::health::{Change, HealthEvent};
use crate::ipvs::SockAddr;
use crate::ipvs::table::{RealId, RealState};

fn subject(id: &RealId) -> String {
    format!("{} -> {}", id.vs, SockAddr(id.addr, id.port))
}

impl Core {
    /// The checks the configuration asks for (reload-safe: unchanged checks keep their state).
    pub(super) fn sync_checks(&mut self, now: Now) {
        let plan = check_plan(&self.config, &self.scripts);
        self.targets = plan.targets;
        self.script_targets = plan.script_targets;
        self.effects.push_back(Effect::Checks(plan.compiled));
        // Fail closed: a server whose checks cannot run is down, with the reason, not up
        // unchecked. Fixed by a reload, it starts over as a newly checked server.
        let was_unchecked = std::mem::take(&mut self.unchecked);
        for e in plan.errors {
            if let Some((_, name)) = self
                .script_targets
                .iter()
                .find(|(t, _)| t.to_string() == e.id)
            {
                // As keepalived: a tracking script that cannot run moves no priority.
                let name = name.clone();
                let said = format!("vrrp_script {name} cannot run, disabled: {}", e.message);
                self.log(now, EventKind::Vrrp, &name, said);
                continue;
            }
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
            self.log(
                now,
                EventKind::Health,
                &subject(&id),
                format!("down: {message}"),
            );
            self.last_check.insert(
                id.clone(),
                CheckResult {
                    ok: false,
                    at_ms: now.wall_ms,
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
        let checked: std::collections::HashSet<&RealId> = self.targets.values().collect();
        self.health.reals.retain(|id, _| checked.contains(id));
    }

    pub(super) fn on_health(&mut self, now: Now, ev: HealthEvent) {
        if let Some(name) = self.script_targets.get(&ev.id).cloned() {
            return self.on_script(now, &name, &ev);
        }
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
                tracing::warn!("{}: {}", subject(&id), r.message);
                self.log(
                    now,
                    EventKind::Health,
                    &subject(&id),
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
                self.push_bgp(now);
            }
            return;
        }
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
            self.log(now, EventKind::Health, &subject(&id), text);
        }
        if let Some(up) = went {
            self.health_changed_ms.insert(id.clone(), now.wall_ms);
            self.notify_real(&id, up);
        }
        self.push_desired(now);
    }

    /// A tracking script's result: its rise / fall changes go to VRRP.
    fn on_script(&mut self, now: Now, name: &str, ev: &HealthEvent) {
        for change in &ev.changes {
            let (up, said) = match change {
                Change::Up { reason } => (true, format!("vrrp_script {name} up: {reason}")),
                Change::Down { reason } => (false, format!("vrrp_script {name} down: {reason}")),
                Change::Weight { .. } => continue,
            };
            self.log(now, EventKind::Vrrp, name, said);
            self.effects.push_back(Effect::ScriptState {
                name: name.to_string(),
                up,
            });
        }
    }

    /// keepalived's notify_up / notify_down of a real server.
    fn notify_real(&mut self, id: &RealId, up: bool) {
        let scripts: Vec<_> = self
            .config
            .virtual_server
            .iter()
            .flat_map(|vs| vs.real_server.iter().map(move |rs| (vs, rs)))
            .filter(|(vs, rs)| RealId::of(vs, rs) == *id)
            .map(|(_, rs)| if up { &rs.notify_up } else { &rs.notify_down }.clone())
            .collect();
        for line in scripts {
            self.script(&line);
        }
    }
}
