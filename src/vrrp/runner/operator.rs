//! What operators ask of the instances (a priority override, a hand-over) and what they
//! see of them (the views); the director calls these with the operator's command.

use super::*;

impl Runner {
    fn slot_mut(&mut self, instance: &str) -> Result<&mut Slot, String> {
        let names: Vec<String> = self
            .slots
            .iter()
            .map(|s| s.inst.name().to_string())
            .collect();
        self.slots
            .iter_mut()
            .find(|s| s.inst.name() == instance)
            .ok_or_else(|| {
                format!(
                    "no VRRP instance `{instance}`; instances: {}",
                    names.join(", ")
                )
            })
    }

    /// Operator: override (or with `None` clear) an instance's priority.
    pub fn set_priority(
        &mut self,
        now: Instant,
        instance: &str,
        priority: Option<u8>,
        by: &str,
    ) -> Result<String, String> {
        let slot = self.slot_mut(instance)?;
        let before = slot.inst.effective_priority();
        slot.inst
            .set_priority_override(now, priority)
            .map_err(|e| e.to_string())?;
        slot.priority_override = priority.map(|value| Override {
            value,
            by: by.to_string(),
            at_ms: now_ms(),
        });
        let after = slot.inst.effective_priority();
        Ok(match priority {
            Some(p) => {
                format!("{instance}: priority overridden to {p} (effective {before} -> {after})")
            }
            None => {
                format!("{instance}: priority override cleared (effective {before} -> {after})")
            }
        })
    }

    /// The priority overrides in force, by instance.
    pub fn priority_overrides(&self) -> Vec<(String, Override<u8>)> {
        self.slots
            .iter()
            .filter_map(|s| Some((s.inst.name().to_string(), s.priority_override.clone()?)))
            .collect()
    }

    /// Operator (`ctl clear`): every priority override goes, and so does the hold a completed
    /// hand-over left on the old master, or one under way would leave (it preempts again,
    /// taking the VIPs back if it has the highest priority); how many of each there were.
    pub fn clear_priority_overrides(&mut self, now: Instant) -> (usize, usize) {
        let (mut overrides, mut holds) = (0, 0);
        for slot in &mut self.slots {
            if slot.priority_override.take().is_some() {
                let _ = slot.inst.set_priority_override(now, None);
                overrides += 1;
            }
            if slot.inst.handover_inhibited() || slot.inst.is_handing_over() {
                slot.inst.clear_handover_inhibit(now);
                holds += 1;
            }
        }
        (overrides, holds)
    }

    /// Operator: graceful hand-over of one master instance.
    pub fn handover(&mut self, now: Instant, instance: &str) -> Result<String, String> {
        let slot = self.slot_mut(instance)?;
        slot.inst
            .handover(now)
            .map_err(|e| format!("{instance}: {e}"))?;
        Ok(format!(
            "{instance}: hand-over started; the VIPs stay here until a backup takes over"
        ))
    }

    /// The state ("MASTER", "BACKUP", ...) of the instance named `name`.
    pub fn state_of(&self, name: &str) -> Option<String> {
        self.slots
            .iter()
            .find(|s| s.inst.name() == name)
            .map(|s| s.inst.state().to_string())
    }

    /// VRRP packets dropped before reaching an instance, by reason.
    pub fn packet_drops(&self) -> std::collections::BTreeMap<String, u64> {
        self.drops
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect()
    }

    /// A tracked script's new state, from the director's health runner (which counts rise
    /// and fall): the instances that track it move their priority.
    pub fn script_changed(&mut self, now: Instant, name: &str, up: bool) {
        let Some((script, state)) = self.scripts.get_mut(name) else {
            return;
        };
        *state = Some(up);
        info!(script = %name, "vrrp_script {name} is now {}", if up { "up" } else { "down" });
        let (weight, reverse) = (script.weight, script.weight_reverse);
        for slot in &mut self.slots {
            for t in slot.cfg.track_script.iter().filter(|t| t.name == name) {
                let w = t.weight.unwrap_or(weight);
                // `reverse`: a positive weight counts while the script fails.
                let effective_up = if reverse { !up } else { up };
                slot.inst
                    .set_tracker(now, &format!("script:{name}"), w, effective_up);
            }
        }
    }

    /// The tracked scripts that can run, for the director's health runner.
    pub fn scripts(&self) -> Vec<(String, VrrpScript)> {
        self.scripts
            .iter()
            .map(|(name, (script, _))| (name.clone(), script.clone()))
            .collect()
    }

    /// The vrrp_scripts' states.
    pub fn script_views(&self) -> Vec<crate::snapshot::ScriptView> {
        self.scripts
            .iter()
            .map(|(name, (_, up))| crate::snapshot::ScriptView {
                name: name.clone(),
                up: *up,
            })
            .collect()
    }

    /// The instances as the Snapshot shows them.
    pub fn views(&self) -> Vec<VrrpView> {
        let now = Instant::now();
        let wall = now_ms();
        self.slots
            .iter()
            .map(|s| {
                let c = s.inst.counters();
                let d = c.dropped;
                VrrpView {
                    name: s.inst.name().to_string(),
                    interface: s.cfg.interface.clone(),
                    vrid: s.cfg.virtual_router_id,
                    version: s.cfg.version,
                    state: s.inst.state().into(),
                    effective_priority: s.inst.effective_priority(),
                    base_priority: s.cfg.priority,
                    priority_override: s.priority_override.clone(),
                    vips: s
                        .cfg
                        .virtual_ipaddress
                        .iter()
                        .map(|v| v.address.to_string())
                        .collect(),
                    // A backup still holds them during a hand-over's grace period.
                    holds_vips: s.inst.state() == State::Master || s.vips_release_at.is_some(),
                    master_heard: s.inst.master_heard().map(|m| MasterHeard {
                        address: m.addr.to_string(),
                        priority: m.priority,
                        at_ms: wall
                            .saturating_sub(now.saturating_duration_since(m.at).as_millis() as u64),
                    }),
                    handing_over: s.inst.is_handing_over(),
                    adverts_in: c.adverts_in,
                    adverts_out: c.adverts_out,
                    priority_zero_in: c.priority_zero_in,
                    priority_zero_out: c.priority_zero_out,
                    became_master: c.became_master,
                    released_master: c.released_master,
                    handovers: c.handovers,
                    dropped: d.own_advert
                        + d.vrid_mismatch
                        + d.version_mismatch
                        + d.interval_mismatch
                        + d.invalid_interval
                        + d.auth_mismatch,
                    dropped_by: [
                        ("own_advert", d.own_advert),
                        ("vrid_mismatch", d.vrid_mismatch),
                        ("version_mismatch", d.version_mismatch),
                        ("interval_mismatch", d.interval_mismatch),
                        ("invalid_interval", d.invalid_interval),
                        ("auth_mismatch", d.auth_mismatch),
                    ]
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v))
                    .collect(),
                    address_list_mismatch: c.address_list_mismatch,
                    trackers: s
                        .inst
                        .trackers()
                        .map(|(name, up, weight)| crate::snapshot::TrackerView {
                            name: name.to_string(),
                            up,
                            weight,
                        })
                        .collect(),
                    split_brain: c.split_brain,
                    vip_repairs: s.vip_repairs,
                    last_transition: s.last_transition.clone(),
                    refreshed_at_ms: wall,
                }
            })
            .collect()
    }
}
