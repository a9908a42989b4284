//! VIP repair, from the kernel's address notifications: a master whose VIP was removed by
//! someone else (`ip addr del`, a network manager) re-adds it at once and announces it; a
//! backup on which one of its VIPs appears removes it. Each repair is counted and logged:
//! the VIP is the data path, and a master advertising a VIP it does not hold black-holes
//! traffic while VRRP looks healthy.

use std::net::IpAddr;

use tracing::{error, warn};

use super::{Action, Runner, State};

impl Runner {
    /// Act on the address changes heard since the last step.
    pub(super) async fn repair_vips(&mut self) {
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
                let holds = slot.inst.state() == State::Master || slot.vips_release_at.is_some();
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
                match holds {
                    // Missing from the master (or a holder in its hand-over grace).
                    true => {
                        self.slots[i].vip_repairs += 1;
                        let what = format!("VIP {addr} removed from {iface} by someone else");
                        match self.rtnl.add_vip(dev, net, &opts).await {
                            Ok(()) => {
                                warn!(instance = %name, "{what}: added again and announced");
                                self.events.push((name, format!("{what}: added again")));
                                self.execute(i, Action::SendGratuitous { count: 2 }).await;
                            }
                            Err(e) => {
                                error!(instance = %name, "{what}: adding it again failed: {e}");
                                self.events
                                    .push((name, format!("{what}: adding it again failed: {e}")));
                            }
                        }
                    }
                    // On a backup, in fault, or stopped.
                    false => {
                        let what =
                            format!("VIP {addr} appeared on {iface} while {}", slot.inst.state());
                        self.slots[i].vip_repairs += 1;
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
    }

    /// An address came or went on interface `dev`.
    pub(super) fn address_changed(&mut self, dev: u32, addr: IpAddr) {
        if !self.addr_changes.contains(&(dev, addr)) {
            self.addr_changes.push((dev, addr));
        }
    }
}
