//! The `[bgp]` section and the services it announces.

use std::time::Duration;

use super::Checker;
use crate::conf_path;
use crate::config::model::Config;

pub(super) fn check_bgp(c: &mut Checker, cfg: &Config) {
    let announcing: Vec<usize> = (0..cfg.virtual_server.len())
        .filter(|&i| cfg.virtual_server[i].announce)
        .collect();
    let Some(bgp) = &cfg.bgp else {
        if let Some(&i) = announcing.first() {
            c.error(
                conf_path!["virtual_server", i, "announce"],
                "`announce` needs a [bgp] section: the AS, the routers and BIRD's socket",
                "add [bgp] with local_as and [[bgp.neighbor]], or remove `announce`",
            );
        }
        return;
    };
    let path = conf_path!["bgp"];
    if bgp.local_as == 0 || bgp.local_as == u32::MAX {
        c.error(
            path.join("local_as"),
            format!("AS {} is reserved", bgp.local_as),
            "private ASes are 64512-65534 and 4200000000-4294967294",
        );
    }
    if bgp.neighbor.is_empty() {
        c.error(
            path.clone(),
            "no [[bgp.neighbor]]: nothing to announce to",
            "add the router: [[bgp.neighbor]] address = \"...\" remote_as = ...",
        );
    }
    let hold = bgp.hold_time.0;
    if hold < Duration::from_secs(3)
        || hold > Duration::from_secs(65535)
        || hold.subsec_nanos() != 0
    {
        c.error(
            path.join("hold_time"),
            format!(
                "hold_time {} is not a whole number of seconds in 3-65535",
                bgp.hold_time
            ),
            "BGP's hold time is whole seconds, at least 3 (RFC 4271)",
        );
    }
    if bgp.withdraw_wait.0 > Duration::from_secs(15) {
        c.error(
            path.join("withdraw_wait"),
            format!("withdraw_wait {} is over 15 s", bgp.withdraw_wait),
            "a stop waits for it after BIRD's answer (up to 10 s), within systemd's 30 s \
             TimeoutStopSec; a router converges in seconds, 2s is the default",
        );
    }
    let bfd_ms = bgp.bfd_interval.0.as_millis();
    if !(1..=60_000).contains(&bfd_ms) || bgp.bfd_multiplier == 0 {
        c.error(
            path.join("bfd_interval"),
            format!(
                "bfd_interval {} with multiplier {}: want 1ms-60s and a multiplier of 1-255",
                bgp.bfd_interval, bgp.bfd_multiplier
            ),
            "100ms and 3 detect a dead director in 300 ms",
        );
    }
    for (n, nb) in bgp.neighbor.iter().enumerate() {
        let at = path.join("neighbor").join(n);
        if nb.remote_as == 0 || nb.remote_as == u32::MAX {
            c.error(
                at.join("remote_as"),
                format!("AS {} is reserved", nb.remote_as),
                "",
            );
        }
        if bgp.neighbor[..n].iter().any(|o| o.address == nb.address) {
            c.error(
                at.join("address"),
                format!("neighbour {} is listed twice", nb.address),
                "one [[bgp.neighbor]] per router",
            );
        }
        if nb
            .source_address
            .is_some_and(|s| s.is_ipv6() != nb.address.is_ipv6())
        {
            c.error(
                at.join("source_address"),
                "source_address and address are not of the same family",
                "",
            );
        }
    }
    if announcing.is_empty() {
        c.warn(
            path,
            "no virtual_server has `announce = true`: BIRD's sessions come up with nothing announced",
            "set `announce = true` on the services routers should send here",
        );
    }
    for i in announcing {
        let vs = &cfg.virtual_server[i];
        let at = conf_path!["virtual_server", i];
        if vs.ip.is_none() {
            c.error(
                at.join("announce"),
                "only a service with an `ip` can be announced (not a fwmark or a group)",
                "announce the address as its own `ip` service",
            );
        }
        if vs.lvs_sched == "mh" && !vs.inhibit_on_failure {
            c.warn(
                at.join("inhibit_on_failure"),
                "an announced `mh` service without inhibit_on_failure: a real server that fails \
                 and comes back returns at the end of this director's list, and Maglev's table \
                 then differs from the other directors'; a flow moved between them may meet \
                 another real server",
                "set inhibit_on_failure = true: a failed real server keeps its place at weight 0",
            );
        }
        if vs.lvs_sched != "mh" {
            c.warn(
                at.join("lvs_sched"),
                format!(
                    "an announced service scheduled by `{}`: directors behind equal-cost routes \
                     send a flow moved between them to different real servers",
                    vs.lvs_sched
                ),
                "use lvs_sched = \"mh\" (Maglev) with the same real servers and weights on every director",
            );
        }
    }
}
