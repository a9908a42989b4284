//! `bfd_instance` blocks and a vrrp_instance's `track_bfd` list, read as keepalived 2.2.7
//! reads them (`bfd/bfd_parser.c`, `vrrp/vrrp_track.c`): times in milliseconds with up to
//! three decimals; a value out of range is reported and the default kept; an instance with no
//! or a malformed neighbour, a duplicate neighbour or name, or a name over 31 characters is
//! reported and left out.

use std::time::Duration;

use super::Conv;
use crate::conf_path;
use crate::config::keepalived::parse::Node;
use crate::config::model::{BfdInstance, Dur, TrackBfd};
use crate::config::validate::ConfPath;

/// keepalived's BFD_INAME_MAX less its terminator.
const NAME_MAX: usize = 31;
/// A track_bfd / bfd_instance weight's bounds.
const WEIGHT: i64 = 253;
/// keepalived's largest interval: u32::MAX microseconds, in milliseconds.
const MAX_MS: f64 = 4_294_967.0;

impl Conv<'_> {
    pub(super) fn bfd_instance_block(&mut self, node: &Node) {
        let Some(name) = self.name(node) else { return };
        if name.len() > NAME_MAX {
            self.warn(
                &node.args[0],
                format!("bfd_instance name `{name}` is over {NAME_MAX} characters: the block is ignored, as keepalived does"),
                "use a shorter name",
            );
            return;
        }
        if self.config.bfd_instance.contains_key(&name) {
            self.warn(
                &node.args[0],
                format!("bfd_instance {name} already configured: this one is ignored, as keepalived does"),
                "give each bfd_instance its own name",
            );
            return;
        }
        let base = conf_path!["bfd_instance", &name];
        self.place(base.clone(), &node.args[0]);
        let mut neighbor = None;
        let mut b = BfdInstance {
            neighbor_ip: std::net::Ipv4Addr::UNSPECIFIED.into(),
            source_ip: None,
            min_rx: Dur::from_millis(10),
            min_tx: Dur::from_millis(10),
            idle_tx: Dur::from_secs(1),
            multiplier: 5,
            passive: false,
            ttl: None,
            max_hops: 0,
            weight: 0,
            weight_reverse: false,
            auth: None,
        };
        for n in self.block(node) {
            self.place(base.join(n.keyword.text.as_str()), &n.keyword);
            match n.keyword.text.as_str() {
                "neighbor_ip" | "neighbour_ip" => {
                    let Some(w) = self.arg(n, 0, "an address") else {
                        return;
                    };
                    match w.text.parse() {
                        Ok(ip) => neighbor = Some(ip),
                        Err(_) => {
                            let w = w.clone();
                            self.warn(
                                &w,
                                format!("bfd_instance {name}: malformed neighbor address `{}`: the instance is ignored, as keepalived does", w.text),
                                "e.g. neighbor_ip 192.168.1.2",
                            );
                            return;
                        }
                    }
                }
                "source_ip" => {
                    if let Some(w) = self.arg(n, 0, "an address") {
                        match w.text.parse() {
                            Ok(ip) => b.source_ip = Some(ip),
                            Err(_) => {
                                let w = w.clone();
                                self.warn(
                                    &w,
                                    format!("bfd_instance {name}: malformed source address `{}`: ignored, as keepalived does", w.text),
                                    "",
                                );
                            }
                        }
                    }
                }
                "min_rx" => self.bfd_ms(n, &name, 1.0, &mut b.min_rx),
                "min_tx" => self.bfd_ms(n, &name, 1.0, &mut b.min_tx),
                "idle_tx" => self.bfd_ms(n, &name, 1000.0, &mut b.idle_tx),
                "multiplier" => {
                    if let Some(v) = self.bfd_int(n, &name, 1, 255) {
                        b.multiplier = v as u8;
                    }
                }
                "passive" => b.passive = true,
                "ttl" | "hoplimit" => {
                    if let Some(v) = self.bfd_int(n, &name, 1, 255) {
                        b.ttl = Some(v as u8);
                    }
                }
                "max_hops" => {
                    if let Some(v) = self.bfd_int(n, &name, -1, 255) {
                        // keepalived keeps it in a byte: -1 is 255, "no check".
                        b.max_hops = v as u8;
                    }
                }
                "weight" => {
                    if let Some((w, reverse)) = self.weight_words(n, WEIGHT) {
                        b.weight = w;
                        b.weight_reverse = reverse;
                    }
                }
                // Which of keepalived's processes hear the session; lvsdeck has one.
                "vrrp" | "checker" => {}
                _ => self.unknown(n, super::keywords::Ctx::BfdInstance),
            }
        }
        let Some(neighbor) = neighbor else {
            self.warn(
                &node.keyword,
                format!("bfd_instance {name} has no neighbor address set: it is ignored, as keepalived does"),
                "add neighbor_ip ADDRESS",
            );
            return;
        };
        b.neighbor_ip = neighbor;
        if b.source_ip
            .is_some_and(|s| s.is_ipv6() != neighbor.is_ipv6())
        {
            self.warn(
                &node.keyword,
                format!("bfd_instance {name}: source_ip and neighbor_ip are not of the same family: it is ignored, as keepalived does"),
                "",
            );
            return;
        }
        let ttl = b.ttl.unwrap_or(if neighbor.is_ipv6() { 64 } else { 255 });
        if b.max_hops != 255 && b.max_hops > ttl {
            self.warn(
                &node.keyword,
                format!("bfd_instance {name}: max_hops exceeds ttl/hoplimit: set to {ttl}, as keepalived does"),
                "",
            );
            b.max_hops = ttl;
        }
        let clash = self.config.bfd_instance.values().find(|o| {
            // keepalived: the same neighbour clashes unless both name distinct sources.
            o.neighbor_ip == neighbor
                && (o.source_ip.is_none() || b.source_ip.is_none() || o.source_ip == b.source_ip)
        });
        if clash.is_some() {
            self.warn(
                &node.keyword,
                format!("bfd_instance {name}: duplicate neighbor address {neighbor}: it is ignored, as keepalived does"),
                "one session per neighbour (or distinct source_ip values)",
            );
            return;
        }
        self.config.bfd_instance.insert(name, b);
    }

    /// A time in milliseconds with up to three decimals, within `min`..4294967 ms.
    fn bfd_ms(&mut self, n: &Node, name: &str, min: f64, out: &mut Dur) {
        let Some(w) = self.arg(n, 0, "a number of milliseconds") else {
            return;
        };
        let w = w.clone();
        match w.text.parse::<f64>() {
            Ok(v) if (min..=MAX_MS).contains(&v) => {
                if w.text.split('.').nth(1).is_some_and(|d| d.len() > 3) {
                    self.warn(
                        &w,
                        format!("`{}` has too many decimal places: rounded to microseconds, as keepalived does", w.text),
                        "",
                    );
                }
                *out = Dur(Duration::from_micros((v * 1000.0).round() as u64));
            }
            _ => self.warn(
                &w,
                format!(
                    "BFD instance {name} {} value `{}` is not valid (must be in range [{min}-{MAX_MS}] ms): ignored, as keepalived does",
                    n.keyword.text, w.text
                ),
                "",
            ),
        }
    }

    fn bfd_int(&mut self, n: &Node, name: &str, min: i64, max: i64) -> Option<i64> {
        let w = self.arg(n, 0, "a number")?.clone();
        match w.text.parse::<i64>() {
            Ok(v) if (min..=max).contains(&v) => Some(v),
            _ => {
                self.warn(
                    &w,
                    format!(
                        "BFD instance {name} {} value `{}` is not valid (must be in range [{min}-{max}]): ignored, as keepalived does",
                        n.keyword.text, w.text
                    ),
                    "",
                );
                None
            }
        }
    }

    /// A vrrp_instance's `track_bfd { NAME [weight W [reverse]] ... }`.
    pub(super) fn track_bfd_refs(&mut self, n: &Node, base: &ConfPath) -> Vec<TrackBfd> {
        let lookup = |c: &Conv<'_>, name: &str| {
            c.config
                .bfd_instance
                .get(name)
                .map(|b| (b.weight, b.weight_reverse))
        };
        let refs = self.weighted_refs(n, base, "track_bfd", WEIGHT, lookup);
        refs.into_iter()
            .map(|(name, weight, reverse)| TrackBfd {
                name,
                weight,
                reverse,
                takeover: false,
            })
            .collect()
    }
}
