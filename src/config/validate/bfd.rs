//! bfd_instance blocks and a vrrp_instance's `track_bfd` (TOML; keepalived.conf's leniency is
//! applied by its converter before this).

use std::time::Duration;

use super::{Checker, ConfPath};
use crate::conf_path;
use crate::config::model::{Config, VrrpInstance};

pub(super) fn check_bfd_instances(c: &mut Checker, cfg: &Config) {
    let mut seen: Vec<(&str, std::net::IpAddr, Option<std::net::IpAddr>)> = Vec::new();
    for (name, b) in &cfg.bfd_instance {
        let path = conf_path!["bfd_instance", name];
        if name.len() > 31 {
            c.error(
                path.clone(),
                format!("the name `{name}` is over 31 characters"),
                "",
            );
        }
        for (field, d, min) in [
            ("min_rx", b.min_rx, Duration::from_millis(1)),
            ("min_tx", b.min_tx, Duration::from_millis(1)),
            ("idle_tx", b.idle_tx, Duration::from_secs(1)),
        ] {
            if d.0 < min || d.0.as_micros() > u128::from(u32::MAX) {
                c.error(
                    path.join(field),
                    format!("{field} {d} is outside {}-4294967ms", min.as_millis()),
                    "BFD intervals are milliseconds, e.g. \"10ms\"",
                );
            }
        }
        if b.multiplier == 0 {
            c.error(path.join("multiplier"), "multiplier 0", "1-255; 3 is usual");
        }
        if b.source_ip
            .is_some_and(|s| s.is_ipv6() != b.neighbor_ip.is_ipv6())
        {
            c.error(
                path.join("source_ip"),
                "source_ip and neighbor_ip are not of the same family",
                "",
            );
        }
        if !(-253..=253).contains(&b.weight) {
            c.error(
                path.join("weight"),
                format!("weight {} is outside -253..253", b.weight),
                "",
            );
        }
        if let Some(a) = &b.auth
            && (a.secret.is_empty() || a.secret.len() > 20)
        {
            c.error(
                path.join("auth").join("secret"),
                format!(
                    "the secret is {} bytes; Keyed SHA1 takes 1-20",
                    a.secret.len()
                ),
                "",
            );
        }
        if let Some((other, ..)) = seen.iter().find(|(_, n, s)| {
            *n == b.neighbor_ip && (s.is_none() || b.source_ip.is_none() || *s == b.source_ip)
        }) {
            c.error(
                path.join("neighbor_ip"),
                format!("neighbor {} already has a session: {other}", b.neighbor_ip),
                "one session per neighbour (or distinct source_ip values)",
            );
        }
        seen.push((name, b.neighbor_ip, b.source_ip));
    }
}

pub(super) fn check_instance_refs(
    c: &mut Checker,
    cfg: &Config,
    path: &ConfPath,
    inst: &VrrpInstance,
) {
    for (i, t) in inst.track_bfd.iter().enumerate() {
        let at = path.join("track_bfd").join(i);
        if !cfg.bfd_instance.contains_key(&t.name) {
            c.error(
                at,
                format!("bfd_instance `{}` is not defined", t.name),
                "define it in [bfd_instance.NAME]",
            );
            continue;
        }
        if let Some(w) = t.weight
            && !(-253..=253).contains(&w)
        {
            c.error(
                at.join("weight"),
                format!("weight {w} is outside -253..253"),
                "",
            );
        }
        if t.takeover && (t.weight.is_some_and(|w| w != 0) || t.reverse == Some(true)) {
            c.error(
                at.join("takeover"),
                "a takeover session moves no priority: weight and reverse do not apply",
                "track the session twice under two bfd_instance names, or drop the weight",
            );
        }
    }
}
