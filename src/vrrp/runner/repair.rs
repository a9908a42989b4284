//! VIP repair, from the kernel's address notifications: a master whose VIP was removed by
//! someone else (`ip addr del`, a network manager) re-adds it at once, with the instance's
//! routes, and announces it; a backup on which one of its VIPs appears removes it. Each
//! repair is counted and logged: the VIP is the data path, and a master advertising a VIP
//! it does not hold black-holes traffic while VRRP looks healthy.
//!
//! It never fights: an address another instance holds, or a `static_ipaddress`, is not
//! removed; an address repaired 5 times within 10 s is left alone (and said so) until
//! that window has passed; a backup keeping its VIPs for a hand-over's grace puts a removed
//! one back quietly, without announcing it.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use tracing::{error, warn};

use super::{Action, Runner, State, routes};

const WINDOW: Duration = Duration::from_secs(10);
const MAX_IN_WINDOW: usize = 5;

impl Runner {
    /// Act on the address changes heard since the last step.
    pub(super) async fn repair_vips(&mut self, now: Instant) {
        for (dev, addr) in std::mem::take(&mut self.addr_changes) {
            for i in 0..self.slots.len() {
                let slot = &self.slots[i];
                let Some((_, net, opts)) = slot
                    .vips
                    .iter()
                    .find(|(d, n, _)| *d == dev && n.addr == addr)
                    .cloned()
                else {
                    continue;
                };
                let master = slot.inst.state() == State::Master;
                let holds = master || slot.vips_release_at.is_some();
                let held_elsewhere = self.slots.iter().enumerate().any(|(j, s)| {
                    j != i
                        && (s.inst.state() == State::Master || s.vips_release_at.is_some())
                        && s.vips.iter().any(|(d, n, _)| *d == dev && n.addr == addr)
                });
                let is_static = self.statics.holds(addr);
                if !holds && (held_elsewhere || is_static) {
                    continue;
                }
                // A notification may be stale (our own add or removal of a moment ago): act
                // only on what the kernel holds now.
                let Ok(there) = self.rtnl.has_address(dev, addr).await else {
                    continue;
                };
                if there == holds {
                    continue;
                }
                let name = slot.inst.name().to_string();
                let iface = self
                    .ifaces
                    .get(&dev)
                    .map_or(dev.to_string(), |f| f.name.clone());
                let recent = self.repair_log.entry((dev, addr)).or_default();
                recent.retain(|t| now.saturating_duration_since(*t) < WINDOW);
                if recent.len() >= MAX_IN_WINDOW {
                    if recent.len() == MAX_IN_WINDOW {
                        recent.push(now);
                        let what = format!(
                            "VIP {addr} on {iface} changed by someone else {MAX_IN_WINDOW} times \
                             in {WINDOW:?}: left alone for now"
                        );
                        error!(instance = %name, "{what}");
                        self.events.push((name, what));
                    }
                    continue;
                }
                recent.push(now);
                self.slots[i].vip_repairs += 1;
                if holds {
                    let what = format!("VIP {addr} removed from {iface} by someone else");
                    match self.rtnl.add_vip(dev, net, &opts).await {
                        Ok(()) => {
                            let cfg = &self.slots[i].cfg;
                            // Routes that used the address as their source went with it.
                            for e in
                                routes::add_all(&self.rtnl, &cfg.virtual_routes, &cfg.virtual_rules)
                                    .await
                            {
                                warn!(instance = %name, "{e}");
                            }
                            warn!(instance = %name, "{what}: added again");
                            self.events.push((name, format!("{what}: added again")));
                            // Only a master draws traffic; in a hand-over's grace it stays put.
                            if master {
                                self.execute(i, Action::SendGratuitous { count: 2 }).await;
                            }
                        }
                        Err(e) => {
                            error!(instance = %name, "{what}: adding it again failed: {e}");
                            self.events
                                .push((name, format!("{what}: adding it again failed: {e}")));
                        }
                    }
                } else {
                    let what = format!(
                        "VIP {addr} appeared on {iface} while {}",
                        self.slots[i].inst.state()
                    );
                    match self.rtnl.del_vip(dev, net).await {
                        Ok(()) => {
                            warn!(instance = %name, "{what}: removed");
                            self.events.push((name, format!("{what}: removed")));
                        }
                        Err(e) => {
                            error!(instance = %name, "{what}: removing it failed: {e}");
                            self.events
                                .push((name, format!("{what}: removing it failed: {e}")));
                        }
                    }
                }
            }
        }
    }

    /// An address came or went on interface `dev`.
    pub(super) fn address_changed(&mut self, dev: u32, addr: IpAddr) {
        if !self.addr_changes.contains(&(dev, addr)) {
            self.addr_changes.push((dev, addr));
        }
    }
}
