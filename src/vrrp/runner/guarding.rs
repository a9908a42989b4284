//! The runner's word to its VIP guard (`vrrp::guard`): after every step, what each instance
//! holds and for how long this daemon vouches for it.

use std::time::Instant;

use super::{Runner, State};
use crate::vrrp::guard::{Holding, Speaker};

impl Runner {
    /// A master vouches for its own Master_Down_Interval (`3 * interval + skew` at its
    /// priority): no backup of a lower priority takes over before that. A backup keeping its
    /// VIPs for a hand-over's grace: until the grace ends, plus the same.
    pub(super) fn tell_guard(&mut self, now: Instant) {
        let Some(guard) = self.guard.as_mut() else {
            return;
        };
        let instances = self
            .slots
            .iter()
            .map(|slot| {
                let down = slot.inst.master_down_interval();
                let term = if slot.inst.state() == State::Master {
                    Some(down)
                } else {
                    slot.vips_release_at
                        .map(|at| at.saturating_duration_since(now) + down)
                };
                let addrs: Vec<_> = slot.vips.iter().map(|(dev, net, _)| (*dev, *net)).collect();
                let holding = term.filter(|_| !addrs.is_empty()).map(|term| Holding {
                    term,
                    speaker: Speaker {
                        ifindex: slot.sock_ifindex,
                        vrid: slot.cfg.virtual_router_id,
                        src: slot.src,
                    },
                    addrs,
                });
                (slot.inst.name().to_string(), holding)
            })
            .collect();
        guard.update(now, instances);
    }
}
