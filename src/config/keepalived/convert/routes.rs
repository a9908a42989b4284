//! `static_routes` / `virtual_routes`, `static_rules` / `virtual_rules` and
//! `static_ipaddress`, read as keepalived 2.2.7 reads them: a line it cannot use is dropped
//! with a warning naming why, the rest of the file runs.

use std::net::IpAddr;

use super::Conv;
use crate::conf_path;
use crate::config::keepalived::parse::{Node, Word};
use crate::config::model::{FIRST_RULE_PRIORITY, IpNet, Route, RouteKind, Rule};

/// A table by number or by the names every system has.
fn table(text: &str) -> Option<u32> {
    match text {
        "main" => Some(254),
        "local" => Some(255),
        "default" => Some(253),
        n => n.parse().ok(),
    }
}

/// A scope by name or number.
pub fn scope(text: &str) -> Option<u8> {
    match text {
        "global" | "universe" => Some(0),
        "site" => Some(200),
        "link" => Some(253),
        "host" => Some(254),
        "nowhere" => Some(255),
        n => n.parse().ok(),
    }
}

/// A route or rule line as words: the keyword and its arguments.
fn words(n: &Node) -> Vec<&Word> {
    std::iter::once(&n.keyword).chain(&n.args).collect()
}

/// One route line; `Err((word index, why))` when keepalived drops it.
fn route(w: &[&Word]) -> Result<(Route, bool), (usize, String)> {
    let mut r = Route {
        dst: IpNet {
            addr: IpAddr::from([0, 0, 0, 0]),
            prefix: 0,
        },
        kind: RouteKind::Unicast,
        via: Vec::new(),
        dev: None,
        src: None,
        table: None,
        metric: None,
        scope: None,
    };
    let mut dst = None;
    let mut gw_said = false;
    let mut i = 0;
    let value = |i: usize| -> Result<&str, (usize, String)> {
        w.get(i + 1)
            .map(|x| x.text.as_str())
            .ok_or((i, format!("`{}` needs a value", w[i].text)))
    };
    let addr = |i: usize| -> Result<IpAddr, (usize, String)> {
        value(i)?
            .parse()
            .map_err(|_| (i + 1, format!("`{}` is not an address", w[i + 1].text)))
    };
    while i < w.len() {
        match w[i].text.as_str() {
            "src" => r.src = Some(addr(i)?),
            "via" | "gw" => {
                gw_said |= w[i].text == "gw";
                r.via = vec![addr(i)?];
            }
            "or" if !r.via.is_empty() => r.via.push(addr(i)?),
            "dev" | "oif" => r.dev = Some(value(i)?.to_string()),
            "table" => r.table = Some(table(value(i)?).ok_or((i + 1, "not a table".into()))?),
            "metric" | "priority" | "preference" => {
                r.metric = Some(
                    value(i)?
                        .parse()
                        .map_err(|_| (i + 1, "not a number".into()))?,
                )
            }
            "scope" => r.scope = Some(scope(value(i)?).ok_or((i + 1, "not a scope".into()))?),
            "no_track" => {
                i += 1;
                continue;
            }
            kind @ ("blackhole" | "unreachable" | "prohibit" | "throw") if dst.is_none() => {
                r.kind = match kind {
                    "blackhole" => RouteKind::Blackhole,
                    "unreachable" => RouteKind::Unreachable,
                    "prohibit" => RouteKind::Prohibit,
                    _ => RouteKind::Throw,
                };
                i += 1;
                continue;
            }
            text if dst.is_none() => {
                dst = Some(
                    text.parse::<IpNet>()
                        .map_err(|_| (i, format!("unknown route keyword `{text}`")))?,
                );
                i += 1;
                continue;
            }
            text => return Err((i, format!("unknown route keyword `{text}`"))),
        }
        i += 2;
    }
    r.dst = dst.ok_or((0, "a route without a destination".to_string()))?;
    let v6 = r.dst.addr.is_ipv6();
    if r.via.iter().chain(&r.src).any(|a| a.is_ipv6() != v6) {
        return Err((0, "cannot mix IPv4 and IPv6 addresses in a route".into()));
    }
    Ok((r, gw_said))
}

/// One rule line; `Err((word index, why))` when keepalived drops it.
fn rule(w: &[&Word]) -> Result<(Rule, bool), (usize, String)> {
    let mut r = Rule {
        from: None,
        to: None,
        table: 0,
        priority: 0,
        iif: None,
        oif: None,
        fwmark: None,
        fwmask: None,
    };
    let mut priority = None;
    let mut i = 0;
    while i < w.len() {
        let Some(v) = w.get(i + 1).map(|x| x.text.as_str()) else {
            if w[i].text == "no_track" {
                break;
            }
            return Err((i, format!("`{}` needs a value", w[i].text)));
        };
        let bad = |what: &str| (i + 1, format!("invalid rule {what} `{v}`"));
        match w[i].text.as_str() {
            "from" => r.from = Some(v.parse().map_err(|_| bad("from address"))?),
            "to" => r.to = Some(v.parse().map_err(|_| bad("to address"))?),
            "table" | "lookup" => match table(v) {
                Some(t) if t > 0 => r.table = t,
                _ => return Err(bad("table")),
            },
            "priority" | "order" | "preference" => {
                priority = Some(v.parse().map_err(|_| bad("priority"))?)
            }
            "iif" | "dev" => r.iif = Some(v.to_string()),
            "oif" => r.oif = Some(v.to_string()),
            "fwmark" => {
                let (mark, mask) = v.split_once('/').map_or((v, None), |(a, b)| (a, Some(b)));
                r.fwmark = Some(parse_u32(mark).ok_or_else(|| bad("fwmark"))?);
                if let Some(m) = mask {
                    r.fwmask = Some(parse_u32(m).ok_or_else(|| bad("fwmark mask"))?);
                }
            }
            "no_track" => {
                i += 1;
                continue;
            }
            other => return Err((i, format!("unknown rule keyword `{other}`"))),
        }
        i += 2;
    }
    if r.table == 0 {
        return Err((0, "a rule without an action (table)".into()));
    }
    if let (Some(a), Some(b)) = (r.from, r.to)
        && a.addr.is_ipv6() != b.addr.is_ipv6()
    {
        return Err((0, "mixed IPv4 and IPv6 addresses in a rule".into()));
    }
    r.priority = priority.unwrap_or(0);
    Ok((r, priority.is_none()))
}

fn parse_u32(text: &str) -> Option<u32> {
    match text.strip_prefix("0x") {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

impl Conv<'_> {
    /// A `static_routes` or `virtual_routes` block.
    pub(super) fn routes(&mut self, n: &Node) -> Vec<Route> {
        let mut out = Vec::new();
        for line in self.block(n) {
            let w = words(line);
            match route(&w) {
                Ok((r, gw_said)) => {
                    if gw_said {
                        self.warn(
                            line_word(&w, "gw"),
                            "`gw` is deprecated; read as `via`",
                            "write via",
                        );
                    }
                    out.push(r);
                }
                Err((at, why)) => self.dropped(w[at.min(w.len() - 1)], &why, "route"),
            }
        }
        out
    }

    /// A `static_rules` or `virtual_rules` block; rules without a priority get one counting
    /// down from 16384 per family, in file order, as keepalived gives them.
    pub(super) fn rules(&mut self, n: &Node) -> Vec<Rule> {
        let mut out = Vec::new();
        for line in self.block(n) {
            let w = words(line);
            match rule(&w) {
                Ok((mut r, unnumbered)) => {
                    if unnumbered {
                        let next = &mut self.rule_priority[usize::from(r.is_v6())];
                        r.priority = FIRST_RULE_PRIORITY - *next;
                        *next += 1;
                        self.warn(
                            w[0],
                            format!(
                                "a rule without a priority: {} given, as keepalived gives it \
                                 (probably not what was meant)",
                                r.priority
                            ),
                            "write priority N",
                        );
                    }
                    out.push(r);
                }
                Err((at, why)) => self.dropped(w[at.min(w.len() - 1)], &why, "rule"),
            }
        }
        out
    }

    fn dropped(&mut self, at: &Word, why: &str, what: &str) {
        self.warn(
            at,
            format!("{why}: this {what} is left out, as keepalived does"),
            format!("see `ip {what}` for the syntax keepalived takes"),
        );
    }

    /// `static_ipaddress`: addresses in the VIP syntax, on their `dev`, else the global
    /// `default_interface` (keepalived refuses the file when there is neither).
    pub(super) fn static_ipaddress(&mut self, n: &Node) {
        let mut addrs = self.vips(n, &conf_path!["static_ipaddress"]);
        let fallback = self.config.global.default_interface.clone();
        for a in &mut addrs {
            if a.dev.is_none() {
                match &fallback {
                    Some(dev) => a.dev = Some(dev.clone()),
                    None => self.error(
                        &n.keyword,
                        format!(
                            "static address {} needs `dev`, or a default_interface in global_defs",
                            a.address
                        ),
                        "add dev IFACE",
                    ),
                }
            }
        }
        self.config.static_ipaddress.extend(addrs);
    }
}

fn line_word<'w>(w: &[&'w Word], text: &str) -> &'w Word {
    w.iter().find(|x| x.text == text).copied().unwrap_or(w[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(line: &str) -> Vec<Word> {
        line.split_whitespace()
            .map(|t| Word {
                text: t.into(),
                file: 0,
                span: 0..0,
            })
            .collect()
    }

    fn r(line: &str) -> Result<Route, String> {
        let words = w(line);
        let refs: Vec<&Word> = words.iter().collect();
        route(&refs).map(|(r, _)| r).map_err(|e| e.1)
    }

    #[test]
    fn routes_read_as_keepalived_reads_them() {
        let x = r("src 192.168.100.1 192.168.109.0/24 via 192.168.200.254 dev eth1").unwrap();
        assert_eq!(x.dst.to_string(), "192.168.109.0/24");
        assert_eq!(x.src, Some("192.168.100.1".parse().unwrap()));
        assert_eq!(x.via, ["192.168.200.254".parse::<IpAddr>().unwrap()]);
        assert_eq!(x.dev.as_deref(), Some("eth1"));
        let x = r("192.168.113.0/24 via 192.168.100.252 or 192.168.100.253").unwrap();
        assert_eq!(x.via.len(), 2);
        let x = r("blackhole 192.168.113.1/32").unwrap();
        assert_eq!(x.kind, RouteKind::Blackhole);
        let x = r("0.0.0.0/0 gw 192.168.0.1 table 100").unwrap();
        assert_eq!((x.table, x.dst.prefix), (Some(100), 0));
        let x = r("192.168.212.0/24 dev eth3 scope site").unwrap();
        assert_eq!(x.scope, Some(200));
        assert!(
            r("10.0.0.0/8 proto static")
                .unwrap_err()
                .contains("unknown route keyword")
        );
        assert!(r("10.0.0.0/8 via 2001:db8::1").unwrap_err().contains("mix"));
        assert!(
            r("via 10.0.0.1")
                .unwrap_err()
                .contains("without a destination")
        );
    }

    #[test]
    fn rules_read_as_keepalived_reads_them() {
        let words = w("from 192.168.100.0/24 table 1");
        let refs: Vec<&Word> = words.iter().collect();
        let (x, unnumbered) = rule(&refs).unwrap();
        assert_eq!((x.table, unnumbered), (1, true));
        // The sample's typo: keepalived cannot read the address and drops the rule.
        let words = w("to 192.168.100./24 table 1");
        let refs: Vec<&Word> = words.iter().collect();
        assert!(
            rule(&refs)
                .unwrap_err()
                .1
                .contains("invalid rule to address")
        );
        let words = w("fwmark 0x10/0xff table main priority 100");
        let refs: Vec<&Word> = words.iter().collect();
        let (x, unnumbered) = rule(&refs).unwrap();
        assert_eq!(
            (x.fwmark, x.fwmask, x.table, x.priority),
            (Some(16), Some(255), 254, 100)
        );
        assert!(!unnumbered);
        let words = w("from 10.0.0.0/8");
        let refs: Vec<&Word> = words.iter().collect();
        assert!(rule(&refs).unwrap_err().1.contains("without an action"));
    }
}
