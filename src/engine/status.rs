//! `lvsdeck status`: the Snapshot as text, the IPVS part laid out as `ipvsadm -Ln` does, with
//! health, configured weights and overrides beside it. Pure: Snapshot in, text out.

use std::fmt::Write;

use std::net::{IpAddr, SocketAddr};

use super::snapshot::{RealView, ServiceView, Snapshot};
use crate::snapshot::{Method, RealHealth};

/// ipvsadm's order of services (its `ipvs_cmp_services`): addresses before firewall marks, then
/// by family, protocol number, address and port. Real servers go by address, then port (the
/// kernel lists them newest first).
fn service_order(svc: &ServiceView) -> (u32, bool, u8, Option<IpAddr>, u16) {
    if svc.protocol == "FWM" {
        let mark = svc.address.parse().unwrap_or(u32::MAX);
        return (mark, svc.key.ends_with("IPv6"), 0, None, 0);
    }
    let proto = match svc.protocol.as_str() {
        "TCP" => 6,
        "UDP" => 17,
        "SCTP" => 132,
        _ => u8::MAX,
    };
    let addr = svc.address.parse::<SocketAddr>().ok();
    (
        0,
        addr.is_some_and(|a| a.is_ipv6()),
        proto,
        addr.map(|a| a.ip()),
        addr.map_or(0, |a| a.port()),
    )
}

/// "3s", "4m", "2h05m", "3d".
pub fn age(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86400 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d", s / 86400),
    }
}

/// The method as ipvsadm lists real servers: Route, Masq, Tunnel.
fn forward_name(method: Method) -> &'static str {
    match method {
        Method::Dr => "Route",
        Method::Nat => "Masq",
        Method::Tun => "Tunnel",
        other => other.as_str(),
    }
}

pub fn render(s: &Snapshot, now_ms: u64) -> String {
    let mut out = String::new();
    let h = &s.host;
    let _ = writeln!(
        out,
        "lvsdeck on {}{} ({}), up {}, snapshot {} old",
        h.hostname,
        h.router_id
            .as_ref()
            .map_or(String::new(), |r| format!(" [{r}]")),
        h.mode,
        age(now_ms.saturating_sub(h.started_at_ms)),
        age(now_ms.saturating_sub(s.taken_at_ms))
    );
    let _ = writeln!(out, "VRRP");
    if s.vrrp.is_empty() {
        let _ = writeln!(out, "  (no instances)");
    }
    for v in &s.vrrp {
        let prio = match &v.priority_override {
            Some(o) => format!(
                "priority {} (override {} by {}, base {})",
                v.effective_priority, o.value, o.by, v.base_priority
            ),
            None => format!(
                "priority {} (base {})",
                v.effective_priority, v.base_priority
            ),
        };
        let _ = writeln!(
            out,
            "  {:<12} {:<7} {}  {} vrid {} v{}  VIPs {}{}",
            v.name,
            v.state,
            prio,
            v.interface,
            v.vrid,
            v.version,
            v.vips.join(" "),
            if v.handing_over {
                "  (handing over)"
            } else {
                ""
            }
        );
        if let Some(m) = &v.master_heard {
            let _ = writeln!(
                out,
                "  {:<12} master heard: {} priority {}, {} ago",
                "",
                m.address,
                m.priority,
                age(now_ms.saturating_sub(m.at_ms))
            );
        }
        if let Some(t) = &v.last_transition {
            let _ = writeln!(
                out,
                "  {:<12} last transition {} ago: {} -> {} ({})",
                "",
                age(now_ms.saturating_sub(t.at_ms)),
                t.from,
                t.to,
                t.reason
            );
        }
    }
    if !s.ipvs.available {
        let _ = writeln!(
            out,
            "IPVS: {}",
            s.ipvs.error.as_deref().unwrap_or("not available")
        );
        if s.ipvs.services.is_empty() {
            return out;
        }
        let _ = writeln!(
            out,
            "Configured services, not in any kernel table, with their health:"
        );
    } else {
        let _ = writeln!(
            out,
            "IP Virtual Server (read {} ago)",
            age(now_ms.saturating_sub(s.ipvs.refreshed_at_ms))
        );
    }
    let _ = writeln!(out, "Prot LocalAddress:Port Scheduler Flags");
    let _ = writeln!(
        out,
        "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn Health  Notes"
    );
    let mut services: Vec<&ServiceView> = s.ipvs.services.iter().collect();
    services.sort_by_key(|svc| service_order(svc));
    for svc in services {
        let flags = match svc.persistence_s {
            Some(t) => format!(" persistent {t}"),
            None => String::new(),
        };
        let _ = writeln!(out, "{} {}{}", svc.key, svc.scheduler, flags);
        let mut reals: Vec<&RealView> = svc.reals.iter().collect();
        reals.sort_by_key(|r| (r.address.parse::<IpAddr>().ok(), r.port));
        for r in reals {
            let addr = if r.address.contains(':') {
                format!("[{}]:{}", r.address, r.port)
            } else {
                format!("{}:{}", r.address, r.port)
            };
            let mut notes = Vec::new();
            if !r.in_table {
                notes.push("not in table".to_string());
            }
            if r.weight != r.configured_weight && r.in_table {
                notes.push(format!("configured {}", r.configured_weight));
            }
            if let Some(d) = &r.drain {
                notes.push(if r.active_conns > 0 {
                    format!("draining ({} active left) by {}", r.active_conns, d.by)
                } else {
                    format!("drained by {}", d.by)
                });
            }
            if let Some(w) = &r.weight_override {
                notes.push(format!("weight {} set by {}", w.value, w.by));
            }
            // Why a real server is out: the last check's own words.
            if let Some(c) = r
                .last_check
                .as_ref()
                .filter(|c| !c.ok && r.health != RealHealth::Up)
            {
                notes.push(format!("last check: {}", c.message));
            }
            let _ = writeln!(
                out,
                "  -> {:<28} {:<7} {:<6} {:<10} {:<9} {:<7} {}",
                addr,
                forward_name(svc.method),
                r.weight,
                r.active_conns,
                r.inactive_conns,
                r.health,
                notes.join(", ")
            )
            .map(|_| ());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::snapshot::CheckResult;

    #[test]
    fn seed_table_reads_like_ipvsadm() {
        let now = 1_800_000_000_000;
        let text = render(&Snapshot::sample(now), now);
        assert!(text.contains("TCP  192.168.10.100:80 rr\n"), "{text}");
        assert!(
            text.contains(
                "  -> 192.168.10.72:80             Route   1      206        618       up"
            ),
            "{text}"
        );
        assert!(
            text.contains("VI_1         MASTER  priority 100 (base 100)"),
            "{text}"
        );
    }

    #[test]
    fn services_and_real_servers_go_in_ipvsadm_order() {
        let now = 1_800_000_000_000;
        let mut s = Snapshot::sample(now);
        // The kernel lists real servers newest first, services in hash order.
        s.ipvs.services[0].reals.reverse();
        let mut other = s.ipvs.services[0].clone();
        other.key = "TCP  192.168.10.99:443".into();
        other.address = "192.168.10.99:443".into();
        let mut fwm = other.clone();
        fwm.key = "FWM  3".into();
        fwm.protocol = "FWM".into();
        fwm.address = "3".into();
        s.ipvs.services.insert(0, fwm);
        s.ipvs.services.push(other);
        let text = render(&s, now);
        let heads: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("TCP") || l.starts_with("FWM") || l.contains("-> 192"))
            .map(|l| l.get(..27).unwrap_or(l).trim_end())
            .collect();
        assert_eq!(
            heads,
            [
                "TCP  192.168.10.99:443 rr",
                "  -> 192.168.10.72:80",
                "  -> 192.168.10.73:80",
                "TCP  192.168.10.100:80 rr",
                "  -> 192.168.10.72:80",
                "  -> 192.168.10.73:80",
                "FWM  3 rr",
                "  -> 192.168.10.72:80",
                "  -> 192.168.10.73:80",
            ],
            "{text}"
        );
    }

    #[test]
    fn a_real_server_down_says_why() {
        let now = 1_800_000_000_000;
        let mut s = Snapshot::sample(now);
        let r = &mut s.ipvs.services[0].reals[1];
        r.health = RealHealth::Down;
        r.in_table = false;
        r.last_check = Some(CheckResult {
            ok: false,
            at_ms: now - 1000,
            latency_ms: 1.0,
            message: "TCP 192.168.10.73:80: connection refused".into(),
        });
        let text = render(&s, now);
        assert!(
            text.lines().any(|l| l.contains("192.168.10.73:80")
                && l.contains("down")
                && l.ends_with(
                    "not in table, last check: TCP 192.168.10.73:80: connection refused"
                )),
            "{text}"
        );
    }

    #[test]
    fn missing_ipvs_is_said_plainly() {
        let now = 1_800_000_000_000;
        let mut s = Snapshot::sample(now);
        s.ipvs.available = false;
        s.ipvs.error =
            Some("IPVS is not available: no /proc/net/ip_vs; load it with `modprobe ip_vs`".into());
        assert!(render(&s, now).contains("IPVS: IPVS is not available"));
    }
}
