//! What the segment says about VRRP: the adverts heard on each instance's interface (with
//! their senders' MACs), judged against this configuration and this director's own state —
//! a master heard or not, a VRID used by a router that is not our peer, a second master.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::Duration;

use super::probe::{Frames, Tap};
use super::wire::{Mac, mac_text, parse_vrrp};
use super::{Finding, LocalState, Report, host, realserver};
use crate::config::model::{Config, VrrpInstance};
use crate::snapshot::VrrpState;

/// One advert heard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heard {
    pub ifname: String,
    pub mac: Mac,
    pub src: IpAddr,
    pub vrid: u8,
    pub priority: u8,
    pub addrs: Vec<IpAddr>,
    /// How many adverts from this sender in the window.
    pub count: u32,
}

/// Listen on `ifaces` for `wait`; adverts grouped by sender and VRID.
pub fn listen(ifaces: &BTreeSet<String>, wait: Duration) -> (Vec<Heard>, Vec<String>) {
    let mut errors = Vec::new();
    let taps: Vec<(String, Tap)> = ifaces
        .iter()
        .filter_map(|ifname| {
            let tap = host::ifindex(ifname)
                .ok_or_else(|| format!("{ifname}: no such interface"))
                .and_then(|i| Tap::open(i, Frames::Vrrp).map_err(|e| format!("{ifname}: {e}")));
            tap.map_err(|e| errors.push(e))
                .ok()
                .map(|t| (ifname.clone(), t))
        })
        .collect();
    let heard = std::thread::scope(|s| {
        let handles: Vec<_> = taps
            .iter()
            .map(|(ifname, tap)| {
                s.spawn(move || {
                    tap.collect(wait, |f| {
                        parse_vrrp(f).map(|(mac, p)| Heard {
                            ifname: ifname.clone(),
                            mac,
                            src: p.ip.src(),
                            vrid: p.advert.vrid,
                            priority: p.advert.priority,
                            addrs: p.advert.addrs.clone(),
                            count: 1,
                        })
                    })
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect::<Vec<_>>()
    });
    (group(heard), errors)
}

fn group(all: Vec<Heard>) -> Vec<Heard> {
    let mut out: Vec<Heard> = Vec::new();
    for h in all {
        match out
            .iter_mut()
            .find(|o| o.ifname == h.ifname && o.src == h.src && o.vrid == h.vrid)
        {
            Some(o) => {
                o.count += 1;
                o.priority = h.priority;
                o.addrs = h.addrs;
            }
            None => out.push(h),
        }
    }
    out
}

fn is_v6(inst: &VrrpInstance) -> bool {
    inst.virtual_ipaddress
        .first()
        .is_some_and(|v| v.address.addr.is_ipv6())
}

fn advertised(inst: &VrrpInstance) -> BTreeSet<IpAddr> {
    inst.virtual_ipaddress
        .iter()
        .map(|v| v.address.addr)
        .collect()
}

/// Judge what was heard for each instance, given its local state (None: no daemon here).
pub fn judge(
    config: &Config,
    local: &LocalState,
    heard: &[Heard],
    waited: Duration,
    report: &mut Report,
) {
    for (name, inst) in &config.vrrp_instance {
        let state = local.vrrp.iter().find(|(n, _)| n == name).map(|(_, s)| *s);
        let ours = advertised(inst);
        let same_vrid: Vec<&Heard> = heard
            .iter()
            .filter(|h| {
                h.ifname == inst.interface
                    && h.vrid == inst.virtual_router_id
                    && h.src.is_ipv6() == is_v6(inst)
            })
            .collect();
        let mut peers = Vec::new();
        for h in &same_vrid {
            let theirs: BTreeSet<IpAddr> = h.addrs.iter().copied().collect();
            let stranger = !inst.unicast_peer.is_empty() && !inst.unicast_peer.contains(&h.src);
            if theirs != ours || stranger {
                report.find(Finding {
                    check: "vrid-conflict".into(),
                    host: format!("{} ({})", h.src, mac_text(&h.mac)),
                    probed: format!(
                        "VRRP adverts on {} for {:.1} s",
                        inst.interface,
                        waited.as_secs_f32()
                    ),
                    seen: format!(
                        "VRID {} advertised with {} by a router {}",
                        h.vrid,
                        list(&theirs),
                        if stranger {
                            "that is not among this instance's unicast_peer".to_string()
                        } else {
                            format!("while {name} advertises {}", list(&ours))
                        }
                    ),
                    why: "two virtual routers with one VRID on a segment fight over the same \
                          virtual MAC and each drops the other's adverts as misconfigured: \
                          either may take or drop the VIP"
                        .into(),
                    fix: format!(
                        "give {name} (on both directors of the pair) a virtual_router_id \
                         that no other router on {} uses",
                        inst.interface
                    ),
                });
            } else {
                peers.push(*h);
            }
        }
        let window = format!(
            "VRRP adverts for VRID {} on {} for {:.1} s",
            inst.virtual_router_id,
            inst.interface,
            waited.as_secs_f32()
        );
        let masters: Vec<&&Heard> = peers.iter().filter(|h| h.priority > 0).collect();
        match (state, masters.as_slice()) {
            (Some(VrrpState::Master), []) => report.pass(format!(
                "{name}: this director is master and no other director advertises VRID {}",
                inst.virtual_router_id
            )),
            // A few adverts from a higher priority are a take-over under way; a steady
            // stream while we stay master is two masters.
            (Some(VrrpState::Master), others) => {
                for h in others.iter().filter(|h| h.count >= 2) {
                    report.find(Finding {
                        check: "split-brain".into(),
                        host: format!("{} ({})", h.src, mac_text(&h.mac)),
                        probed: window.clone(),
                        seen: format!(
                            "{} adverts at priority {} while this director is master too",
                            h.count, h.priority
                        ),
                        why: "both directors hold the VIP and answer ARP for it: clients \
                              and the router flip between them and connections break"
                            .into(),
                        fix: split_brain_fix(name, inst, h, report),
                    });
                }
            }
            // Silence over less than two of its intervals says nothing.
            (_, []) if waited < inst.advert_int.0 * 2 => report.skip(format!(
                "{name}: adverts every {:?}; {:.1} s of listening is too short to say no master \
                 is heard",
                inst.advert_int.0,
                waited.as_secs_f32()
            )),
            (_, []) => report.find(Finding {
                check: "no-master-heard".into(),
                host: "this director".into(),
                probed: window,
                seen: format!(
                    "no advert heard, and {}",
                    match state {
                        Some(s) => format!("this director's {name} is {s}"),
                        None => "no lvsdeck daemon answers here".into(),
                    }
                ),
                why: "no director is master for these VIPs as seen from here: the VIPs are \
                      unanswered, or the master's adverts do not reach this director"
                    .into(),
                fix: "start the daemon on a director (lvsdeck --daemon), or check the path \
                      between them: the master's firewall (lvsdeck doctor there), the switch"
                    .into(),
            }),
            (_, [m, ..]) => report.pass(format!(
                "{name}: master {} ({}) heard at priority {}, {} adverts",
                m.src,
                mac_text(&m.mac),
                m.priority,
                m.count
            )),
        }
    }
}

/// Which of the two masters does not hear the other. Adverts reach this interface (they
/// were captured before the firewall), so if this director's firewall drops them, or they
/// outrank it and it stays master anyway, the deafness is here.
fn split_brain_fix(name: &str, inst: &VrrpInstance, h: &Heard, report: &Report) -> String {
    let own_firewall = report.findings.iter().any(|f| {
        f.check == "vrrp-firewall"
            && f.probed.contains(&format!("{name}: "))
            && f.probed.contains("input hook")
    });
    if own_firewall {
        format!(
            "this director's firewall drops the adverts it receives (the vrrp-firewall \
             finding): fix that rule and {name} goes back to backup"
        )
    } else if h.priority > inst.priority {
        format!(
            "{}'s adverts outrank this director's and reach its interface, yet {name} stays \
             master: this director's own stack drops them (a firewall rule, rp_filter, \
             another multicast group or unicast peer list)",
            h.src
        )
    } else {
        format!(
            "{} does not hear this director's adverts: run `lvsdeck doctor` there (a \
             firewall dropping VRRP, a one-way link, another multicast group or unicast \
             peer list)",
            h.src
        )
    }
}

fn list(addrs: &BTreeSet<IpAddr>) -> String {
    addrs
        .iter()
        .map(IpAddr::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// How long to listen: two and a half adverts of the slowest instance, 1 to 12 s (an
/// instance slower than that is not judged silent).
pub fn listen_time(config: &Config) -> Duration {
    (crate::vrrp::others::slowest_advert(config) * 5 / 2 + Duration::from_millis(300))
        .clamp(Duration::from_secs(1), Duration::from_secs(12))
}

/// Listen, judge VRRP, then probe the real servers with what was heard.
pub fn check(config: &Config, local: &LocalState, report: &mut Report) {
    let ifaces: BTreeSet<String> = config
        .vrrp_instance
        .values()
        .map(|i| i.interface.clone())
        .collect();
    let wait = listen_time(config);
    // The real servers are probed while the adverts are heard: the run stays at one window.
    let ((heard, errors), probed) = std::thread::scope(|s| {
        let listening = s.spawn(|| listen(&ifaces, wait));
        let probed = realserver::probe_all(config);
        (listening.join().unwrap_or_default(), probed)
    });
    for e in errors {
        report.skip(format!("VRRP adverts not heard on {e}"));
    }
    if !ifaces.is_empty() {
        judge(config, local, &heard, wait, report);
    }
    realserver::judge(&probed, &heard, report);
}

#[cfg(test)]
mod tests;
