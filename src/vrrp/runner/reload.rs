//! A reload applied to a running instance in place: priority, advert interval, VIPs added
//! or removed (on a master at once, the new ones announced), tracking, notify, GARP,
//! preemption and authentication change without a transition. What the sockets or the
//! instance's identity depend on (interface, VRID, version, family, VMAC, AH, unicast or
//! multicast, source address, multicast group, the devices of its VIPs, its routes) makes a
//! new instance instead.

use std::collections::BTreeSet;
use std::time::Instant;

use tracing::{info, warn};

use super::{Action, Runner, State, instance_params, io, model, remove_vips_listed};
use crate::config::model::VrrpInstance;

/// Whether `new` can be applied to an instance running `old`.
pub(super) fn in_place(
    old: &VrrpInstance,
    new: &VrrpInstance,
    old_global: &model::Global,
    new_global: &model::Global,
) -> bool {
    let v6 = |c: &VrrpInstance| {
        c.virtual_ipaddress
            .first()
            .is_some_and(|v| v.address.addr.is_ipv6())
    };
    let devices = |c: &VrrpInstance| -> BTreeSet<Option<String>> {
        c.virtual_ipaddress
            .iter()
            .map(|v| v.dev.clone().filter(|d| d != &c.interface))
            .collect()
    };
    old.interface == new.interface
        && old.virtual_router_id == new.virtual_router_id
        && old.version == new.version
        && v6(old) == v6(new)
        && old.use_vmac == new.use_vmac
        && old.auth_ah == new.auth_ah
        // An AH key keys the AH state: a new one is a new instance.
        && (!new.auth_ah || old.auth_pass == new.auth_pass)
        && old.unicast_peer.is_empty() == new.unicast_peer.is_empty()
        && old.unicast_src_ip == new.unicast_src_ip
        && io::advert_group(old, old_global, v6(old)) == io::advert_group(new, new_global, v6(new))
        && devices(new).is_subset(&devices(old))
        && old.virtual_routes == new.virtual_routes
        && old.virtual_rules == new.virtual_rules
}

/// What a reload changes in an instance, for the event log.
fn summary(old: &VrrpInstance, new: &VrrpInstance) -> String {
    let mut what = Vec::new();
    if old.priority != new.priority {
        what.push(format!("priority {} -> {}", old.priority, new.priority));
    }
    if old.advert_int != new.advert_int {
        what.push(format!(
            "advert_int {} -> {}",
            old.advert_int, new.advert_int
        ));
    }
    let addrs = |c: &VrrpInstance| -> BTreeSet<String> {
        c.virtual_ipaddress
            .iter()
            .map(|v| v.address.to_string())
            .collect()
    };
    let (a, b) = (addrs(old), addrs(new));
    for added in b.difference(&a) {
        what.push(format!("+VIP {added}"));
    }
    for gone in a.difference(&b) {
        what.push(format!("-VIP {gone}"));
    }
    for (changed, name) in [
        (
            old.preempt != new.preempt || old.preempt_delay != new.preempt_delay,
            "preemption",
        ),
        (old.notify != new.notify, "notify scripts"),
        (
            old.track_interface != new.track_interface
                || old.track_script != new.track_script
                || old.track_file != new.track_file
                || old.track_bfd != new.track_bfd,
            "tracking",
        ),
        (old.garp != new.garp, "GARP timings"),
        (old.auth_pass != new.auth_pass, "authentication"),
        (old.unicast_peer != new.unicast_peer, "unicast peers"),
    ] {
        if changed {
            what.push(name.to_string());
        }
    }
    if what.is_empty() {
        "global settings".into()
    } else {
        what.join(", ")
    }
}

impl Runner {
    /// Masters among `restarting` hand their VIPs over to a backup first (make-before-
    /// break, as a graceful stop does), so that a reload that must restart an instance does
    /// not lose traffic. Waits, serving VRRP meanwhile, until each has handed over or its
    /// hand-over gave up (no backup took over: it stays master until its restart).
    pub(super) async fn hand_over_before_restart(&mut self, restarting: &[String]) {
        let now = Instant::now();
        let mut longest = std::time::Duration::ZERO;
        for slot in &mut self.slots {
            if restarting.iter().any(|n| n == slot.inst.name())
                && slot.inst.state() == State::Master
                && slot.inst.handover(now).is_ok()
            {
                info!(
                    instance = slot.inst.name(),
                    "handing over before its restart"
                );
                longest = longest.max(slot.inst.advert_interval() * 5);
            }
        }
        if longest.is_zero() {
            return;
        }
        let give_up = Instant::now() + longest + std::time::Duration::from_secs(1);
        self.step(Instant::now()).await;
        let busy = |r: &Runner| {
            r.slots.iter().any(|s| {
                restarting.iter().any(|n| n == s.inst.name())
                    && (s.inst.is_handing_over() || s.vips_release_at.is_some())
            })
        };
        let mut fed = Instant::now();
        while busy(self) && Instant::now() < give_up {
            // The director's loop waits for this one: systemd's watchdog must not.
            if fed.elapsed() >= std::time::Duration::from_secs(1) {
                crate::systemd::notify("WATCHDOG=1");
                fed = Instant::now();
            }
            let wake = self.next_deadline().map_or(give_up, |d| d.min(give_up));
            tokio::select! {
                input = self.inputs_rx.recv() => {
                    if let Some(input) = input {
                        self.handle_input(Instant::now(), input);
                    }
                }
                _ = tokio::time::sleep_until(tokio::time::Instant::from_std(wake)) => {}
            }
            let now = Instant::now();
            self.handle_due(now);
            self.step(now).await;
        }
    }

    /// Apply `cfg` to the running instance `i` (see [`in_place`]); what changed, or why not.
    pub(super) async fn reload_in_place(
        &mut self,
        i: usize,
        cfg: &VrrpInstance,
        global: &model::Global,
        now: Instant,
    ) -> Result<String, String> {
        let slot = &self.slots[i];
        let name = slot.inst.name().to_string();
        // The devices of the VIPs are known already (in_place: no new ones).
        let index_of = |n: &str| {
            self.ifaces
                .iter()
                .find(|(_, f)| f.name == n)
                .map(|(i, _)| *i)
        };
        let default_dev = slot
            .vips
            .iter()
            .zip(&slot.cfg.virtual_ipaddress)
            .find(|(_, v)| v.dev.as_ref().is_none_or(|d| d == &slot.cfg.interface))
            .map(|((dev, _, _), _)| *dev)
            .or_else(|| index_of(slot.vmac.as_deref().unwrap_or(&cfg.interface)))
            .unwrap_or(slot.ifindex);
        let mut vips = Vec::new();
        for v in &cfg.virtual_ipaddress {
            let dev = match &v.dev {
                Some(d) if d != &cfg.interface => index_of(d).ok_or(format!("no interface {d}"))?,
                _ => default_dev,
            };
            vips.push((dev, v.address, super::VipOptions::of(v)));
        }
        let params = instance_params(&name, cfg, global, slot.src);
        let slot = &mut self.slots[i];
        slot.inst
            .reconfigure(now, params)
            .map_err(|e| e.to_string())?;
        let summary = summary(&slot.cfg, cfg);
        let master = slot.inst.state() == State::Master;
        let holds = master || slot.vips_release_at.is_some();
        let gone: Vec<_> = slot
            .vips
            .iter()
            .filter(|old| !vips.iter().any(|new| new.0 == old.0 && new.1 == old.1))
            .cloned()
            .collect();
        let added: Vec<_> = vips
            .iter()
            .filter(|new| !slot.vips.iter().any(|old| new.0 == old.0 && new.1 == old.1))
            .cloned()
            .collect();
        // Trackers this instance no longer has.
        let keys = |c: &VrrpInstance| -> BTreeSet<String> {
            c.track_interface
                .iter()
                .map(|t| format!("link:{}", t.name))
                .chain(c.track_script.iter().map(|t| format!("script:{}", t.name)))
                .chain(c.track_file.iter().map(|t| format!("file:{}", t.name)))
                .chain(c.track_bfd.iter().map(|t| format!("bfd:{}", t.name)))
                .collect()
        };
        let own_link = format!("link:{}", cfg.interface);
        for key in keys(&slot.cfg).difference(&keys(cfg)) {
            if *key != own_link {
                slot.inst.remove_tracker(now, key);
            }
        }
        slot.vips = vips;
        slot.peers = cfg.unicast_peer.clone();
        slot.cfg = cfg.clone();
        if holds {
            remove_vips_listed(&self.rtnl, &name, &gone).await;
        }
        // New VIPs only on a master: a backup in a hand-over's grace draws no new traffic.
        if master {
            for (dev, net, opts) in &added {
                if let Err(e) = self.rtnl.add_vip(*dev, *net, opts).await {
                    warn!(instance = %name, "adding VIP {net}: {e}");
                }
            }
            if !added.is_empty() {
                let count = cfg.garp.unwrap_or(global.garp).master_repeat.clamp(1, 255) as u8;
                self.execute(i, Action::SendGratuitous { count }).await;
            }
        }
        // Tracked interfaces and scripts as they are now (files: start_track_files).
        self.set_link_trackers(i, now).await;
        for t in cfg.track_script.clone() {
            let Some((script, state)) = self.scripts.get(&t.name) else {
                continue;
            };
            if let Some(up) = *state {
                let up = if script.weight_reverse { !up } else { up };
                let w = t.weight.unwrap_or(script.weight);
                self.slots[i]
                    .inst
                    .set_tracker(now, &format!("script:{}", t.name), w, up);
            }
        }
        info!(instance = %name, "reloaded in place: {summary}");
        Ok(summary)
    }
}
