//! The IPVS part of the Snapshot: the configured services and real servers in configuration
//! order, joined with the kernel's last dump, health, operators' overrides and rates.

use std::collections::HashMap;
use std::net::IpAddr;

use super::{Core, Now, StatsTrack};
use crate::config::model::{ForwardMethod, RealServer, VirtualServer};
use crate::engine::snapshot::*;
use crate::ipvs::ServiceKey;
use crate::ipvs::table::{self, RealId, VsId};
use crate::snapshot::{Method, RealHealth};

impl Core {
    pub(super) fn ipvs_view(&self, now: Now) -> IpvsView {
        let (dump, error, refreshed_at_ms) = match &self.last_dump {
            None => (None, Some("waiting for the first IPVS dump".to_string()), 0),
            Some((at, dump)) => {
                let age = now.at.saturating_duration_since(*at).as_millis() as u64;
                let at = now.wall_ms.saturating_sub(age);
                match dump {
                    Ok(d) => (Some(d), None, at),
                    Err(e) => (None, Some(e.clone()), at),
                }
            }
        };
        let mut services = Vec::new();
        // Indexed by key: a linear search per service made every snapshot O(services²), which
        // at 2,000 services kept a director busy with nothing else to do.
        let by_key: HashMap<ServiceKey, &crate::ipvs::ServiceDump> = dump
            .into_iter()
            .flatten()
            .map(|s| (s.entry.service.key, s))
            .collect();
        // The configured services first, in configuration order, with or without a kernel.
        let mut shown = std::collections::HashSet::new();
        for vs in &self.config.virtual_server {
            for key in table::service_keys(&self.config, vs).unwrap_or_default() {
                let entry = by_key.get(&key).copied();
                services.push(self.service_view(Some(vs), &key, entry));
                shown.insert(key);
            }
        }
        // Then what the kernel has beyond them (services lvsdeck does not own).
        for s in dump.into_iter().flatten() {
            if !shown.contains(&s.entry.service.key) {
                services.push(self.service_view(None, &s.entry.service.key, Some(s)));
            }
        }
        IpvsView {
            available: dump.is_some(),
            error,
            services,
            refreshed_at_ms,
            refresh_interval_ms: self.dump_every.as_millis() as u64,
            drift_repairs: self.drift_repairs,
            apply_latency: self.apply_latency.clone(),
        }
    }

    fn service_view(
        &self,
        vs: Option<&VirtualServer>,
        key: &ServiceKey,
        entry: Option<&crate::ipvs::ServiceDump>,
    ) -> ServiceView {
        let track = self.stats.get(&(*key, None));
        let dests: &[crate::ipvs::DestEntry] = entry.map_or(&[], |e| &e.dests);
        let mut reals: Vec<RealView> = Vec::new();
        // The configured real servers in configuration order (the kernel lists the newest
        // first, and a re-added one would jump around), whether in the table or not (down and
        // removed, or no IPVS); then what else the table has (a sorry server, a foreign entry).
        let mut listed = vec![false; dests.len()];
        if let Some(vs) = vs {
            for rs in &vs.real_server {
                let found = (0..dests.len()).find(|&i| !listed[i] && dests[i].dest.addr == rs.ip);
                match found {
                    Some(i) => {
                        listed[i] = true;
                        let d = &dests[i];
                        let t = self.stats.get(&(*key, Some(d.dest.key())));
                        reals.push(self.real_view(
                            Some((vs, rs)),
                            Some(d),
                            t,
                            d.dest.addr,
                            d.dest.port,
                        ));
                    }
                    None => reals.push(self.real_view(
                        Some((vs, rs)),
                        None,
                        None,
                        rs.ip,
                        rs.port.or(vs.port).unwrap_or(0),
                    )),
                }
            }
        }
        for (d, _) in dests.iter().zip(&listed).filter(|(_, listed)| !**listed) {
            let rs = vs.and_then(|vs| {
                vs.real_server
                    .iter()
                    .find(|rs| rs.ip == d.dest.addr)
                    .map(|rs| (vs, rs))
            });
            let t = self.stats.get(&(*key, Some(d.dest.key())));
            let mut view = self.real_view(rs, Some(d), t, d.dest.addr, d.dest.port);
            // The sorry server is ours, not a stranger's: in while the quorum is lost (or
            // always, with sorry_server_inhibit), at the weight the table gives it.
            if rs.is_none()
                && vs
                    .and_then(|vs| vs.sorry_server.as_ref())
                    .is_some_and(|sorry| sorry.ip == d.dest.addr)
            {
                view.health = RealHealth::Sorry;
                view.configured_weight = view.weight;
            }
            reals.push(view);
        }
        let text = key.to_string();
        let service = entry.map(|e| &e.entry.service);
        ServiceView {
            key: ipvsadm_key(key),
            protocol: text.split_whitespace().next().unwrap_or("").to_string(),
            address: text.split_whitespace().nth(1).unwrap_or("").to_string(),
            scheduler: service.map_or_else(
                || vs.map_or(String::new(), |v| v.lvs_sched.clone()),
                |s| s.sched.clone(),
            ),
            method: vs.map_or_else(
                || {
                    dests
                        .first()
                        .map_or(Method::Unknown, |d| fwd_method(d.dest.fwd))
                },
                |vs| method_name(vs.lvs_method),
            ),
            persistence_s: service
                .filter(|s| s.flags.0 & crate::ipvs::SvcFlags::PERSISTENT.0 != 0)
                .map(|s| s.timeout),
            active_conns: dests.iter().map(|d| u64::from(d.active_conns)).sum(),
            inactive_conns: dests.iter().map(|d| u64::from(d.inact_conns)).sum(),
            cps: track.map_or(0.0, |t| t.cps),
            in_pps: track.map_or(0.0, |t| t.in_pps),
            out_pps: track.map_or(0.0, |t| t.out_pps),
            in_bps: track.map_or(0.0, |t| t.in_bps),
            out_bps: track.map_or(0.0, |t| t.out_bps),
            quorum_up: vs.is_none_or(|vs| {
                self.health
                    .quorum
                    .get(&VsId::of(vs))
                    .copied()
                    .unwrap_or(true)
            }),
            sorry_active: vs
                .and_then(|vs| vs.sorry_server.as_ref())
                .is_some_and(|sorry| {
                    dests
                        .iter()
                        .any(|d| d.dest.addr == sorry.ip && d.dest.weight > 0)
                }),
            totals: entry.map(|e| e.entry.stats.into()).unwrap_or_default(),
            reals,
        }
    }

    fn real_view(
        &self,
        cfg: Option<(&VirtualServer, &RealServer)>,
        dest: Option<&crate::ipvs::DestEntry>,
        track: Option<&StatsTrack>,
        addr: IpAddr,
        port: u16,
    ) -> RealView {
        let id = cfg.map(|(vs, rs)| RealId::of(vs, rs));
        let state = id.as_ref().and_then(|id| self.health.reals.get(id));
        RealView {
            address: addr.to_string(),
            port,
            weight: dest.map_or(0, |d| d.dest.weight),
            configured_weight: cfg.map_or(0, |(_, rs)| rs.weight.max(0) as u32),
            in_table: dest.is_some(),
            health: match (cfg, state) {
                (None, _) => RealHealth::Unknown,
                (Some(_), Some(s)) if !s.up => RealHealth::Down,
                (Some((vs, rs)), None) if vs.alpha && !rs.check.is_empty() => RealHealth::Unknown,
                (Some(_), _) => RealHealth::Up,
            },
            last_check: id.as_ref().and_then(|id| self.last_check.get(id).cloned()),
            active_conns: dest.map_or(0, |d| u64::from(d.active_conns)),
            inactive_conns: dest.map_or(0, |d| u64::from(d.inact_conns)),
            cps: track.map_or(0.0, |t| t.cps),
            in_bps: track.map_or(0.0, |t| t.in_bps),
            out_bps: track.map_or(0.0, |t| t.out_bps),
            cps_history: track.map_or_else(Vec::new, |t| t.history.iter().copied().collect()),
            drain: id.as_ref().and_then(|id| self.drains.get(id).cloned()),
            weight_override: id.as_ref().and_then(|id| self.weights.get(id).cloned()),
            totals: dest.map(|d| d.stats.into()).unwrap_or_default(),
            health_changed_at_ms: id
                .as_ref()
                .and_then(|id| self.health_changed_ms.get(id).copied()),
        }
    }
}

/// A service as `ipvsadm -Ln` heads it: the protocol padded to four characters, then a space
/// (`TCP  192.0.2.1:80`, `SCTP 192.0.2.1:80`, `FWM  7`); `ServiceKey`'s Display uses one space.
fn ipvsadm_key(key: &ServiceKey) -> String {
    let text = key.to_string();
    match text.split_once(' ') {
        Some((proto, rest)) => format!("{proto:<4} {rest}"),
        None => text,
    }
}

fn method_name(m: ForwardMethod) -> Method {
    match m {
        ForwardMethod::Dr => Method::Dr,
        ForwardMethod::Nat => Method::Nat,
        ForwardMethod::Tun => Method::Tun,
    }
}

/// A real server's forwarding as ipvsadm names it (a service lvsdeck does not own).
fn fwd_method(fwd: crate::ipvs::Fwd) -> Method {
    use crate::ipvs::Fwd;
    match fwd {
        Fwd::Masq => Method::Masq,
        Fwd::Local => Method::Local,
        Fwd::Tunnel => Method::Tunnel,
        Fwd::Route => Method::Route,
        Fwd::Bypass => Method::Bypass,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipvs::{Af, Protocol};

    #[test]
    fn service_keys_read_as_ipvsadm_heads_them() {
        let tcp = ServiceKey::Addr {
            proto: Protocol::Tcp,
            addr: "192.0.2.1".parse().unwrap(),
            port: 80,
        };
        assert_eq!(ipvsadm_key(&tcp), "TCP  192.0.2.1:80");
        let sctp = ServiceKey::Addr {
            proto: Protocol::Sctp,
            addr: "2001:db8::1".parse().unwrap(),
            port: 80,
        };
        assert_eq!(ipvsadm_key(&sctp), "SCTP [2001:db8::1]:80");
        let fwm = ServiceKey::Fwmark {
            af: Af::Inet6,
            mark: 7,
        };
        assert_eq!(ipvsadm_key(&fwm), "FWM  7 IPv6");
    }
}
