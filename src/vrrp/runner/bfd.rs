//! The BFD sessions of the configuration, for the instances: `track_bfd` trackers (down until
//! the session is first Up, as keepalived starts them) and lvsdeck's `takeover`.

use std::collections::HashMap;
use std::time::Instant;

use tracing::{error, info};

use super::{Input, Runner};
use crate::bfd::runner::{Bfd, Change, Spec, params};
use crate::bfd::{AuthKey, SessionParams};
use crate::config::model::{BfdInstance, Config, TrackBfd};

/// The runner's BFD side: the sessions' thread, and what is known of each session.
#[derive(Default)]
pub struct BfdState {
    handle: Option<Bfd>,
    /// Up or not, by session name, as last told.
    up: HashMap<String, bool>,
    /// Each bfd_instance's default weight and reverse.
    defaults: HashMap<String, (i32, bool)>,
}

impl BfdState {
    /// AdminDown to every peer, then the thread ends.
    pub fn stop(&mut self) {
        if let Some(b) = self.handle.take() {
            b.stop();
        }
    }

    fn weight(&self, t: &TrackBfd) -> (i32, bool) {
        let (w, r) = self.defaults.get(&t.name).copied().unwrap_or((0, false));
        (t.weight.unwrap_or(w), t.reverse.unwrap_or(r))
    }
}

/// The sessions a configuration asks for.
pub fn specs(config: &Config) -> Vec<Spec> {
    config
        .bfd_instance
        .iter()
        .map(|(name, b)| spec(name, b))
        .collect()
}

fn spec(name: &str, b: &BfdInstance) -> Spec {
    let v6 = b.neighbor_ip.is_ipv6();
    let mut p: SessionParams = params(b.min_tx.0, b.min_rx.0, b.idle_tx.0, b.multiplier, b.passive);
    p.auth = b.auth.as_ref().map(|a| AuthKey {
        meticulous: a.meticulous,
        key_id: a.key_id,
        secret: a.secret.as_bytes().to_vec(),
    });
    // RFC 5881: 255 sent over both families (keepalived sends 64 over IPv6, which FRR's bfdd
    // drops); what is accepted follows keepalived: at least ttl - max_hops, 64 over IPv6
    // unless a ttl is set.
    let ttl = b.ttl.unwrap_or(255);
    let accept_from = b.ttl.unwrap_or(if v6 { 64 } else { 255 });
    Spec {
        name: name.to_string(),
        peer: b.neighbor_ip,
        local: b.source_ip,
        params: p,
        ttl,
        min_rx_ttl: if b.max_hops == 255 {
            0
        } else {
            accept_from.saturating_sub(b.max_hops)
        },
    }
}

impl Runner {
    /// Start, change or stop the sessions, and set every instance's BFD trackers from what
    /// is known of each session (a new one is down).
    pub(super) fn start_bfd(&mut self, config: &Config, now: Instant) {
        let specs = specs(config);
        let bfd = &mut self.bfd;
        if specs.is_empty() {
            bfd.stop();
        } else if let Some(b) = &bfd.handle {
            b.set(specs);
        } else {
            let tx = self.inputs_tx.clone();
            match Bfd::start(specs, move |c| {
                if let Err(e) = tx.try_send(Input::Bfd(c)) {
                    error!("BFD change lost: {e}");
                }
            }) {
                Ok(b) => bfd.handle = Some(b),
                // The trackers stay down: instances tracking with weight 0 stay in Fault.
                Err(e) => error!("BFD sessions not started: {e}"),
            }
        }
        bfd.up
            .retain(|name, _| config.bfd_instance.contains_key(name));
        bfd.defaults = config
            .bfd_instance
            .iter()
            .map(|(n, b)| (n.clone(), (b.weight, b.weight_reverse)))
            .collect();
        for slot in &mut self.slots {
            for t in slot.cfg.track_bfd.iter().filter(|t| !t.takeover) {
                let up = bfd.up.get(&t.name).copied().unwrap_or(false);
                let (w, reverse) = bfd.weight(t);
                slot.inst
                    .set_tracker(now, &format!("bfd:{}", t.name), w, up != reverse);
            }
        }
    }

    /// A session went up or down.
    pub(super) fn bfd_change(&mut self, now: Instant, c: Change) {
        if c.heard_again {
            for slot in &mut self.slots {
                let watches = slot
                    .cfg
                    .track_bfd
                    .iter()
                    .any(|t| t.takeover && t.name == c.name);
                if watches && slot.inst.master_heard_again(now, c.peer) {
                    info!(
                        instance = slot.inst.name(),
                        "BFD session {} heard {} again: no takeover", c.name, c.peer
                    );
                }
            }
            return;
        }
        // For the event log; the first "down" is the session starting, not news.
        let was = self.bfd.up.insert(c.name.clone(), c.up);
        if was.is_some() || c.up {
            let what = if c.up {
                format!("session to {} Up", c.peer)
            } else {
                format!("session to {} Down: {}", c.peer, c.diag)
            };
            self.events.push((format!("BFD {}", c.name), what));
        }
        for slot in &mut self.slots {
            for t in slot.cfg.track_bfd.iter().filter(|t| t.name == c.name) {
                if !t.takeover {
                    let (w, reverse) = self.bfd.weight(t);
                    slot.inst
                        .set_tracker(now, &format!("bfd:{}", c.name), w, c.up != reverse);
                } else if !c.up
                    && c.peer_silent
                    && slot.inst.master_silent(
                        now,
                        c.peer,
                        (c.up_for.unwrap_or_default(), c.recent_gaps),
                        c.confirm,
                    )
                {
                    info!(
                        instance = slot.inst.name(),
                        "BFD session {} to the master {} went down ({}): taking over",
                        c.name,
                        c.peer,
                        c.diag
                    );
                }
            }
        }
    }

    /// The sessions as the console shows them.
    pub fn bfd_views(&self) -> Vec<crate::snapshot::BfdView> {
        self.bfd
            .handle
            .as_ref()
            .map(|b| b.views())
            .unwrap_or_default()
    }

    /// BFD packets no session took, by reason.
    pub fn bfd_drops(&self) -> std::collections::BTreeMap<String, u64> {
        let drops = self
            .bfd
            .handle
            .as_ref()
            .map(|b| b.drops())
            .unwrap_or_default();
        drops.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }
}
