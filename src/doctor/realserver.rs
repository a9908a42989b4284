//! The real servers, probed from the director the way IPVS reaches them. ARP "who has the
//! VIP" on their segment: only the master may answer, a real server that does leaks it
//! (arp_ignore / arp_announce). A TCP SYN to VIP:port sent to the real server's MAC (direct
//! routing) or inside IP-in-IP (tunnelling): a SYN-ACK means the VIP is on its `lo` (or
//! `tunl0`) and the service listens there. For NAT, a SYN from the VIP to the real server:
//! its SYN-ACK must come back to this director, i.e. its default route points here.
//!
//! `probe_all` sends and captures (the shell); `judge` turns what was captured into findings
//! with no I/O, and is where the rules are tested.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use super::probe::{Frames, PROBE_PORTS, Tap, send_routed};
use super::segment::Heard;
use super::wire::{self, Mac, Segment, mac_text};
use super::{Finding, Report, host};
use crate::config::model::{Config, ForwardMethod, Protocol};

/// The answers to "who has `vip`" on one interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VipProbe {
    pub vip: Ipv4Addr,
    pub ifname: String,
    pub from: Ipv4Addr,
    pub held_here: bool,
    pub answers: Vec<Mac>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SynOutcome {
    /// A SYN-ACK: the server takes the connection.
    Accepted,
    /// A RST: the address is the server's, but nothing listens on the port.
    Reset,
    /// Nothing came back.
    Silent,
    NotProbed(String),
}

/// One real server of one service, probed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerProbe {
    pub protocol: Protocol,
    pub rs: Ipv4Addr,
    pub port: u16,
    pub vip: Ipv4Addr,
    pub vport: u16,
    pub method: ForwardMethod,
    pub ifname: String,
    /// This director's address towards the server.
    pub from: Option<Ipv4Addr>,
    pub mac: Option<Mac>,
    pub outcome: SynOutcome,
}

#[derive(Debug, Clone, Default)]
pub struct Probed {
    pub vips: Vec<VipProbe>,
    pub servers: Vec<ServerProbe>,
    pub skipped: Vec<String>,
}

/// How long each round of a probe waits for answers (two rounds: a lost frame is resent).
const ROUND: Duration = Duration::from_millis(400);

/// Every (VIP, port, protocol, real server, method) of the configuration, IPv4 only.
fn targets(config: &Config, skipped: &mut Vec<String>) -> Vec<ServerProbe> {
    let mut out = Vec::new();
    for vs in &config.virtual_server {
        let keys = crate::ipvs::table::service_keys(config, vs).unwrap_or_default();
        for key in keys {
            let crate::ipvs::ServiceKey::Addr { proto, addr, port } = key else {
                skipped.push("fwmark services: no address to probe".into());
                continue;
            };
            let IpAddr::V4(vip) = addr else {
                skipped.push(format!("[{addr}]:{port}: IPv6 services are not probed"));
                continue;
            };
            for rs in &vs.real_server {
                let IpAddr::V4(ip) = rs.ip else { continue };
                let method = rs.lvs_method.unwrap_or(vs.lvs_method);
                // Silent only once a SYN has gone out: a probe that could not run is no
                // finding.
                let outcome = if proto == Protocol::Tcp {
                    SynOutcome::NotProbed("no probe could be sent".into())
                } else {
                    SynOutcome::NotProbed("not TCP: only the ARP probe applies".into())
                };
                out.push(ServerProbe {
                    protocol: proto,
                    rs: ip,
                    port: rs.port.unwrap_or(port),
                    vip,
                    vport: port,
                    method,
                    ifname: String::new(),
                    from: None,
                    mac: None,
                    outcome,
                });
            }
        }
    }
    out
}

/// Probe every real server of `config` from this host.
pub fn probe_all(config: &Config) -> Probed {
    let mut probed = Probed::default();
    let mut servers = targets(config, &mut probed.skipped);
    let mut by_iface: BTreeMap<String, Ipv4Addr> = BTreeMap::new();
    for s in &mut servers {
        match host::route_to(s.rs) {
            Some((src, ifname)) => {
                s.ifname = ifname.clone();
                s.from = Some(src);
                by_iface.insert(ifname, src);
            }
            None => s.outcome = SynOutcome::NotProbed(format!("no route to {}", s.rs)),
        }
    }
    for (ifname, from) in by_iface {
        let here: Vec<&mut ServerProbe> =
            servers.iter_mut().filter(|s| s.ifname == ifname).collect();
        if let Err(e) = probe_iface(&ifname, from, here, &mut probed.vips) {
            probed
                .skipped
                .push(format!("real servers on {ifname}: cannot probe ({e})"));
        }
    }
    probed.servers = servers;
    probed
}

fn probe_iface(
    ifname: &str,
    from: Ipv4Addr,
    mut servers: Vec<&mut ServerProbe>,
    vips: &mut Vec<VipProbe>,
) -> std::io::Result<()> {
    let index = host::ifindex(ifname).ok_or_else(|| std::io::Error::other("no index"))?;
    let mac = host::mac_of(ifname).ok_or_else(|| std::io::Error::other("no MAC"))?;
    let tap = Tap::open(index, Frames::ArpReplies)?;
    // The VIPs of servers that hold them (DR, TUN) on this segment: only there must nobody
    // but the master answer for them.
    let vips_here: BTreeSet<Ipv4Addr> = servers
        .iter()
        .filter(|s| s.method != ForwardMethod::Nat)
        .map(|s| s.vip)
        .collect();
    let wanted: BTreeSet<Ipv4Addr> = servers
        .iter()
        .map(|s| s.rs)
        .chain(vips_here.iter().copied())
        .collect();
    let mut replies: Vec<wire::ArpReply> = Vec::new();
    for _ in 0..2 {
        for target in &wanted {
            tap.send(&wire::arp_request(mac, from, *target))?;
        }
        replies.extend(tap.collect(ROUND, wire::parse_arp_reply));
    }
    for s in servers.iter_mut() {
        s.mac = replies.iter().find(|r| r.addr == s.rs).map(|r| r.mac);
    }
    for vip in vips_here {
        let answers: BTreeSet<Mac> = replies
            .iter()
            .filter(|r| r.addr == vip)
            .map(|r| r.mac)
            .collect();
        vips.push(VipProbe {
            vip,
            ifname: ifname.to_string(),
            from,
            held_here: host::holds(IpAddr::V4(vip)),
            answers: answers.into_iter().collect(),
        });
    }
    let answers = Tap::open(index, Frames::ProbeAnswers)?;
    syn_probes(&answers, mac, from, &mut servers)
}

/// The SYN a probe sends, and how to recognise its answer.
fn syn_for(s: &ServerProbe, from: Ipv4Addr, sport: u16, seq: u32) -> Segment {
    let (src, dst, dport) = match s.method {
        ForwardMethod::Nat => (s.vip, s.rs, s.port),
        ForwardMethod::Dr | ForwardMethod::Tun => (from, s.vip, s.vport),
    };
    Segment {
        src,
        dst,
        sport,
        dport,
        seq,
        ack: 0,
        flags: wire::TCP_SYN,
    }
}

fn answers(syn: &Segment, seen: &Segment) -> bool {
    seen.src == syn.dst && seen.sport == syn.dport && seen.dst == syn.src && seen.dport == syn.sport
}

fn send_syn(tap: &Tap, mac: Mac, s: &ServerProbe, syn: &Segment) -> std::io::Result<()> {
    let packet = wire::ipv4_tcp(syn);
    match (s.method, s.mac) {
        (ForwardMethod::Tun, _) => send_routed(&wire::ipip(syn.src, s.rs, &packet), s.rs),
        (_, Some(rs_mac)) => tap.send(&wire::frame(rs_mac, mac, &packet)),
        (_, None) => Ok(()),
    }
}

fn syn_probes(
    tap: &Tap,
    mac: Mac,
    from: Ipv4Addr,
    servers: &mut [&mut ServerProbe],
) -> std::io::Result<()> {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let mut syns: Vec<Option<Segment>> = Vec::new();
    for (i, s) in servers.iter_mut().enumerate() {
        let probe = match (s.protocol, s.method, s.mac) {
            (Protocol::Udp | Protocol::Sctp, _, _) => None,
            (_, ForwardMethod::Dr | ForwardMethod::Nat, None) => {
                s.outcome =
                    SynOutcome::NotProbed(format!("{} does not answer ARP on {}", s.rs, s.ifname));
                None
            }
            (_, ForwardMethod::Nat, _) if !host::holds(IpAddr::V4(s.vip)) => {
                s.outcome = SynOutcome::NotProbed(format!(
                    "this director does not hold {}: NAT answers are probed on the master",
                    s.vip
                ));
                None
            }
            _ => {
                let span = usize::from(PROBE_PORTS.end - PROBE_PORTS.start);
                let sport = PROBE_PORTS.start + ((seed as usize + i * 7919) % span) as u16;
                Some(syn_for(s, from, sport, seed.wrapping_add(i as u32)))
            }
        };
        syns.push(probe);
    }
    let mut seen: Vec<Segment> = Vec::new();
    for _ in 0..2 {
        for (s, syn) in servers.iter_mut().zip(&syns) {
            let answered = syn.is_some_and(|syn| seen.iter().any(|a| answers(&syn, a)));
            if let (Some(syn), false) = (syn, answered) {
                send_syn(tap, mac, s, syn)?;
                s.outcome = SynOutcome::Silent;
            }
        }
        seen.extend(tap.collect(ROUND * 2, |f| {
            wire::parse_tcp(f).filter(|t| syns.iter().flatten().any(|syn| answers(syn, t)))
        }));
    }
    for (s, syn) in servers.iter_mut().zip(&syns) {
        let Some(syn) = syn else { continue };
        let Some(answer) = seen.iter().find(|a| answers(syn, a)) else {
            continue;
        };
        if answer.flags & wire::TCP_RST != 0 {
            s.outcome = SynOutcome::Reset;
            continue;
        }
        s.outcome = SynOutcome::Accepted;
        // Close what the server opened rather than leave it half-open.
        let rst = Segment {
            seq: answer.ack,
            flags: wire::TCP_RST,
            ..*syn
        };
        let _ = send_syn(tap, mac, s, &rst);
    }
    Ok(())
}

fn method_name(m: ForwardMethod) -> &'static str {
    match m {
        ForwardMethod::Dr => "direct routing",
        ForwardMethod::Nat => "NAT",
        ForwardMethod::Tun => "tunnelling",
    }
}

/// Findings from what was probed; `heard` names the directors by their adverts.
pub fn judge(probed: &Probed, heard: &[Heard], report: &mut Report) {
    report.skipped.extend(probed.skipped.iter().cloned());
    let rs_macs: BTreeMap<Mac, Ipv4Addr> = probed
        .servers
        .iter()
        .filter_map(|s| s.mac.map(|m| (m, s.rs)))
        .collect();
    for v in &probed.vips {
        judge_vip(v, &rs_macs, heard, report);
    }
    let mut done = BTreeSet::new();
    for s in &probed.servers {
        if done.insert((s.protocol, s.rs, s.port, s.vip, s.vport)) {
            judge_server(s, report);
        }
    }
}

fn who(mac: &Mac, heard: &[Heard]) -> String {
    match heard.iter().find(|h| &h.mac == mac) {
        Some(h) => format!("director {} ({})", h.src, mac_text(mac)),
        None => format!("the host with MAC {}", mac_text(mac)),
    }
}

fn judge_vip(
    v: &VipProbe,
    rs_macs: &BTreeMap<Mac, Ipv4Addr>,
    heard: &[Heard],
    report: &mut Report,
) {
    let probed = format!("ARP who-has {} on {} (from {})", v.vip, v.ifname, v.from);
    let mut others = Vec::new();
    for mac in &v.answers {
        if let Some(rs) = rs_macs.get(mac) {
            report.find(Finding {
                check: "rs-arp-leak".into(),
                host: format!("real server {rs} ({})", mac_text(mac)),
                probed: probed.clone(),
                seen: format!("{rs} answered that {} is at its MAC", v.vip),
                why: "a DR real server holds the VIP on lo and must never answer for it: the \
                      router and clients that take its answer send to it directly, bypassing \
                      the director (and its balancing and failover)"
                    .into(),
                fix: format!(
                    "on {rs}: sysctl -w net.ipv4.conf.all.arp_ignore=1 \
                     net.ipv4.conf.all.arp_announce=2, and both lines in \
                     /etc/sysctl.d/90-lvs-realserver.conf"
                ),
            });
        } else {
            others.push(*mac);
        }
    }
    match (v.held_here, others.as_slice()) {
        (true, []) | (false, [_]) => report.pass(format!(
            "{}: answered on {} by the master only{}",
            v.vip,
            v.ifname,
            if v.held_here { " (this director)" } else { "" }
        )),
        (false, []) => report.find(Finding {
            check: "vip-unanswered".into(),
            host: "this segment".into(),
            probed,
            seen: "no answer".into(),
            why: "no host answers for the VIP: clients cannot reach the service".into(),
            fix: "make a director master for it (lvsdeck status on each director)".into(),
        }),
        (held, many) => {
            let names: Vec<String> = many.iter().map(|m| who(m, heard)).collect();
            report.find(Finding {
                check: "vip-claimed-twice".into(),
                host: names.join(", "),
                probed,
                seen: if held {
                    format!(
                        "this director holds {} and {} answered too",
                        v.vip,
                        names.join(", ")
                    )
                } else {
                    format!("{} hosts answered: {}", many.len(), names.join(", "))
                },
                why: "more than one host claims the VIP: the router sends each client to \
                      whichever answered last, and connections break when it changes"
                    .into(),
                fix: "find why both are master (lvsdeck doctor on each: a firewall dropping \
                      VRRP, a VRID clash), or remove the VIP from the host that is no director"
                    .into(),
            });
        }
    }
}

fn judge_server(s: &ServerProbe, report: &mut Report) {
    let service = format!("{}:{}", s.vip, s.vport);
    let probed = match s.method {
        ForwardMethod::Nat => format!(
            "TCP SYN from {service} to {}:{} on {} (as IPVS NAT forwards)",
            s.rs, s.port, s.ifname
        ),
        ForwardMethod::Dr => format!(
            "TCP SYN to {service} sent to {}'s MAC on {} (as IPVS direct routing does)",
            s.rs, s.ifname
        ),
        ForwardMethod::Tun => format!(
            "TCP SYN to {service} inside IP-in-IP to {} (as IPVS tunnelling does)",
            s.rs
        ),
    };
    let host = format!("real server {}", s.rs);
    let finding = |check: &str, seen: &str, why: &str, fix: String| Finding {
        check: check.into(),
        host: host.clone(),
        probed: probed.clone(),
        seen: seen.into(),
        why: why.into(),
        fix,
    };
    match &s.outcome {
        SynOutcome::Accepted => report.pass(format!(
            "{host}: takes connections for {service} ({})",
            method_name(s.method)
        )),
        SynOutcome::NotProbed(why) => report.skip(format!("{host} for {service}: {why}")),
        SynOutcome::Reset => report.find(finding(
            "rs-not-listening",
            "a TCP reset: the address is accepted, but nothing listens on the port",
            "every connection IPVS sends there is refused",
            match s.method {
                ForwardMethod::Nat => {
                    format!("on {}: make the service listen on port {}", s.rs, s.port)
                }
                _ => format!(
                    "on {}: make the service listen on {service} (or on 0.0.0.0:{})",
                    s.rs, s.vport
                ),
            },
        )),
        SynOutcome::Silent => report.find(match s.method {
            ForwardMethod::Dr => finding(
                "rs-no-vip",
                "no answer",
                "IPVS direct routing hands the real server packets addressed to the VIP; a \
                 server that does not hold it drops them, so every connection it is given \
                 times out",
                format!(
                    "on {}: ip addr add {}/32 dev lo (and in its network configuration), \
                     with arp_ignore=1 / arp_announce=2",
                    s.rs, s.vip
                ),
            ),
            ForwardMethod::Tun => finding(
                "rs-tun-no-vip",
                "no answer",
                "IPVS tunnelling wraps packets to the VIP in IP-in-IP; the real server must \
                 decapsulate them and hold the VIP",
                format!(
                    "on {}: modprobe ipip; ip link set tunl0 up; ip addr add {}/32 dev tunl0; \
                     sysctl -w net.ipv4.conf.tunl0.rp_filter=0 net.ipv4.conf.all.rp_filter=0",
                    s.rs, s.vip
                ),
            ),
            ForwardMethod::Nat => finding(
                "rs-nat-route",
                "no answer came back to this director",
                "with NAT the real server's answers must pass back through the director to \
                 be rewritten; answers sent another way reach clients from the wrong \
                 address and are dropped",
                format!(
                    "on {}: ip route replace default via {} (this director on {}; with two \
                     directors, a VIP they hold on that segment)",
                    s.rs,
                    s.from
                        .map_or("this director".to_string(), |a| a.to_string()),
                    s.ifname
                ),
            ),
        }),
    }
}

#[cfg(test)]
mod tests;
