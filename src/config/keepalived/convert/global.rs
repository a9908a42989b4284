//! `global_defs`: director-wide settings.

use std::net::IpAddr;

use super::keywords::Ctx;
use super::{Conv, set};
use crate::conf_path;
use crate::config::keepalived::parse::Node;
use crate::config::model::*;

impl Conv<'_> {
    pub(super) fn global_defs(&mut self, node: &Node) {
        self.place(conf_path!["global"], &node.keyword);
        let mut g = std::mem::take(&mut self.config.global);
        for n in self.block(node) {
            let path = conf_path!["global", n.keyword.text.as_str()];
            self.place(path, &n.keyword);
            match n.keyword.text.as_str() {
                "router_id" => g.router_id = self.name(n),
                // keepalived reads no value here (`enable_script_security 1` is common).
                "enable_script_security" => g.enable_script_security = true,
                "script_user" => g.script_user = self.user_group(n),
                "vrrp_version" => self.global_version = self.num(n, "2 or 3"),
                "vrrp_garp_interval" => set(&mut g.vrrp_garp_interval, self.packet_interval(n)),
                "vrrp_gna_interval" => set(&mut g.vrrp_gna_interval, self.packet_interval(n)),
                // keepalived reads no value for these four: any word after them is ignored.
                "vrrp_skip_check_adv_addr" => g.vrrp_skip_check_adv_addr = true,
                "vrrp_strict" => g.vrrp_strict = true,
                "vrrp_no_swap" => g.vrrp_no_swap = true,
                "checker_no_swap" => g.checker_no_swap = true,
                "vrrp_mcast_group4" => {
                    if let Some(IpAddr::V4(ip)) = self.mcast_group(n, false) {
                        g.vrrp_mcast_group4 = Some(ip);
                    }
                }
                "vrrp_mcast_group6" => {
                    if let Some(IpAddr::V6(ip)) = self.mcast_group(n, true) {
                        g.vrrp_mcast_group6 = Some(ip);
                    }
                }
                "default_interface" => g.default_interface = self.name(n),
                "vmac_prefix" => g.vmac_prefix = self.name(n),
                "lvs_sync_daemon" => {
                    if let Some(sync) = self.lvs_sync_daemon(n) {
                        g.lvs_sync_daemon = Some(sync);
                    }
                }
                "lvs_timeouts" => g.lvs_timeouts = Some(self.lvs_timeouts(n)),
                other => {
                    let garp = other.strip_prefix("vrrp_garp_");
                    if !garp.is_some_and(|key| self.garp_timing(key, n, &mut g.garp)) {
                        self.unknown(n, Ctx::Global);
                    }
                }
            }
        }
        self.config.global = g;
    }

    /// `vrrp_garp_interval` / `vrrp_gna_interval`: seconds, at least 1 µs; keepalived ignores
    /// anything else (0 included) with a message, and so does lvsdeck.
    fn packet_interval(&mut self, n: &Node) -> Option<Option<Dur>> {
        let w = self.arg(n, 0, "a number of seconds")?.clone();
        match w.text.parse::<f64>().ok().and_then(Dur::from_secs_f64) {
            Some(d) if !d.is_zero() => Some(Some(d)),
            _ => {
                self.warn(
                    &w,
                    format!(
                        "{} `{}` is invalid: ignored, as keepalived does",
                        n.keyword.text, w.text
                    ),
                    "give seconds from 0.000001, e.g. 0.001; remove the line for no pause",
                );
                None
            }
        }
    }

    /// A multicast group of the right family; keepalived skips any other with a message.
    fn mcast_group(&mut self, n: &Node, v6: bool) -> Option<IpAddr> {
        let w = self.arg(n, 0, "a multicast address")?.clone();
        let family = if v6 { "IPv6" } else { "IPv4" };
        match w.text.parse::<IpAddr>() {
            Ok(ip) if ip.is_ipv6() == v6 && ip.is_multicast() => Some(ip),
            _ => {
                self.warn(
                    &w,
                    format!(
                        "`{}` is not an {family} multicast address: {} is ignored, as keepalived \
                         does",
                        w.text, n.keyword.text
                    ),
                    if v6 {
                        "the default is ff02::12"
                    } else {
                        "the default is 224.0.0.18"
                    },
                );
                None
            }
        }
    }

    /// `lvs_sync_daemon IFACE [inst NAME] [id N] [maxlen N] [port N] [ttl N] [group IP]`, or the
    /// older positional `IFACE INSTANCE [SYNCID]`.
    fn lvs_sync_daemon(&mut self, n: &Node) -> Option<SyncDaemon> {
        let interface = self.name(n)?;
        let mut sync = SyncDaemon {
            interface,
            instance: None,
            sync_id: None,
        };
        let mut i = 1;
        while i < n.args.len() {
            let word = n.args[i].clone();
            match word.text.as_str() {
                "inst" => sync.instance = n.args.get(i + 1).map(|w| w.text.clone()),
                "id" => sync.sync_id = self.parse_arg(n, i + 1, "a sync id 0-255"),
                "maxlen" | "port" | "ttl" | "group" => self.warn(
                    &word,
                    format!("lvs_sync_daemon `{}` is ignored", word.text),
                    "lvsdeck starts the kernel's sync daemon with its default packet size, port, \
                     TTL and group; use the defaults on both directors",
                ),
                _ if i == 1 => {
                    sync.instance = Some(word.text.clone());
                    i += 1;
                    continue;
                }
                _ if i == 2 => {
                    sync.sync_id = self.parse_arg(n, i, "a sync id 0-255");
                    i += 1;
                    continue;
                }
                other => {
                    let other = other.to_string();
                    self.warn(
                        &word,
                        format!("unknown lvs_sync_daemon option `{other}`: ignored"),
                        "options are inst, id, maxlen, port, ttl and group",
                    );
                    i += 1;
                    continue;
                }
            }
            i += 2;
        }
        Some(sync)
    }

    fn lvs_timeouts(&mut self, n: &Node) -> IpvsTimeouts {
        let mut t = IpvsTimeouts {
            tcp: Dur::from_secs(900),
            tcp_fin: Dur::from_secs(120),
            udp: Dur::from_secs(300),
        };
        let mut i = 0;
        while i < n.args.len() {
            let key = n.args[i].text.clone();
            let value: Option<u64> = self.parse_arg(n, i + 1, "a number of seconds");
            let slot = match key.as_str() {
                "tcp" => &mut t.tcp,
                "tcpfin" => &mut t.tcp_fin,
                "udp" => &mut t.udp,
                _ => {
                    let w = n.args[i].clone();
                    self.error(
                        &w,
                        format!("unknown lvs_timeouts field `{key}`"),
                        "use tcp, tcpfin or udp",
                    );
                    i += 2;
                    continue;
                }
            };
            if let Some(v) = value {
                *slot = Dur::from_secs(v);
            }
            i += 2;
        }
        t
    }
}
