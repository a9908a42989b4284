//! Does this director's firewall let VRRP through? The nftables ruleset (`nft -j list
//! ruleset`; iptables-nft rules are in it too) is walked the way the kernel would for one
//! advert: from a peer to the instance's group on its interface in the input hook, and our
//! own advert in the output hook. A rule whose matches the walker cannot judge (a mark, a
//! set it cannot see) stops the walk with "cannot tell", never with a guess.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::process::Command;

use serde_json::Value;

use super::{Finding, Report};
use crate::config::model::Config;

/// One VRRP packet, as the hook sees it.
#[derive(Debug, Clone)]
pub struct Advert {
    pub v6: bool,
    /// "input" (a peer's advert) or "output" (ours).
    pub hook: &'static str,
    pub ifname: String,
    pub daddr: IpAddr,
    /// The peer, when the configuration names it (unicast); else unknown.
    pub saddr: Option<IpAddr>,
}

/// Where the walk ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Accepted,
    Dropped { rule: String, fix: String },
    CannotTell(String),
}

type ChainKey = (String, String, String);

struct Ruleset<'a> {
    chains: BTreeMap<ChainKey, &'a Value>,
    rules: BTreeMap<ChainKey, Vec<&'a Value>>,
}

impl<'a> Ruleset<'a> {
    fn of(json: &'a Value) -> Ruleset<'a> {
        let mut set = Ruleset {
            chains: BTreeMap::new(),
            rules: BTreeMap::new(),
        };
        for item in json["nftables"].as_array().into_iter().flatten() {
            if let Some(c) = item.get("chain") {
                set.chains.insert(key(c, "name"), c);
            } else if let Some(r) = item.get("rule") {
                set.rules.entry(key(r, "chain")).or_default().push(r);
            }
        }
        set
    }
}

fn key(v: &Value, name: &str) -> ChainKey {
    let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
    (s("family"), s("table"), s(name))
}

/// How a rule's matches judge the advert.
enum Judged {
    Match,
    NoMatch,
    Unknown(String),
}

/// What a chain did with the advert.
enum Flow {
    /// Fell off the end of a regular chain, or `return`: back to the caller.
    End,
    Done(Outcome),
}

/// Walk `ruleset` (nft's JSON) for `advert`.
pub fn evaluate(ruleset: &Value, advert: &Advert) -> Outcome {
    let set = Ruleset::of(ruleset);
    let families: &[&str] = if advert.v6 {
        &["ip6", "inet"]
    } else {
        &["ip", "inet"]
    };
    // The hooks an advert passes, in order; every base chain there but NAT's (which sees
    // only a connection's first packet and does not drop).
    let hooks: &[&str] = if advert.hook == "input" {
        &["prerouting", "input"]
    } else {
        &["output", "postrouting"]
    };
    let mut base: Vec<(&ChainKey, usize, i64)> = set
        .chains
        .iter()
        .filter(|(k, c)| families.contains(&k.0.as_str()) && c["type"] != "nat")
        .filter_map(|(k, c)| {
            let at = hooks.iter().position(|h| c["hook"] == *h)?;
            Some((k, at, c["prio"].as_i64().unwrap_or(0)))
        })
        .collect();
    base.sort_by_key(|&(_, at, prio)| (at, prio));
    for (k, _, _) in base {
        // An accept ends one base chain only; a drop ends the packet.
        match walk(&set, k, advert, 0) {
            Flow::Done(Outcome::Accepted) => continue,
            Flow::Done(other) => return other,
            Flow::End if set.chains[k]["policy"] == "drop" => {
                return Outcome::Dropped {
                    rule: format!(
                        "chain {} {} {} (hook {}): policy drop, and no rule before its end \
                         accepts VRRP",
                        k.0, k.1, k.2, advert.hook
                    ),
                    fix: format!("nft insert rule {} {} {} {}", k.0, k.1, k.2, allow(advert)),
                };
            }
            Flow::End => {}
        }
    }
    Outcome::Accepted
}

/// The rule that lets this advert in (or out).
fn allow(advert: &Advert) -> String {
    let (proto, dir, iface) = match (advert.v6, advert.hook) {
        (false, "input") => ("ip protocol vrrp", "ip daddr", "iifname"),
        (false, _) => ("ip protocol vrrp", "ip daddr", "oifname"),
        (true, "input") => ("ip6 nexthdr vrrp", "ip6 daddr", "iifname"),
        (true, _) => ("ip6 nexthdr vrrp", "ip6 daddr", "oifname"),
    };
    format!(
        "{iface} \"{}\" {proto} {dir} {} accept",
        advert.ifname, advert.daddr
    )
}

fn walk(set: &Ruleset, chain: &ChainKey, advert: &Advert, depth: u8) -> Flow {
    if depth > 16 {
        return Flow::Done(Outcome::CannotTell(format!(
            "jumps nested deeper than 16 from chain {}",
            chain.2
        )));
    }
    for rule in set.rules.get(chain).into_iter().flatten() {
        let exprs = rule["expr"].as_array().map(Vec::as_slice).unwrap_or(&[]);
        let mut matched = true;
        for e in exprs {
            let Some(m) = e.get("match") else { continue };
            match judge(m, advert) {
                Judged::Match => {}
                Judged::NoMatch => {
                    matched = false;
                    break;
                }
                Judged::Unknown(what) => {
                    return Flow::Done(Outcome::CannotTell(format!(
                        "{} matches {what}, which this check cannot judge",
                        describe_rule(chain, rule)
                    )));
                }
            }
        }
        if !matched {
            continue;
        }
        for e in exprs {
            let Some((verdict, arg)) = e.as_object().and_then(|o| o.iter().next()) else {
                continue;
            };
            match verdict.as_str() {
                "accept" => return Flow::Done(Outcome::Accepted),
                "drop" | "reject" => {
                    return Flow::Done(Outcome::Dropped {
                        rule: describe_rule(chain, rule),
                        fix: format!(
                            "nft delete rule {} {} {} handle {}, or put before it: nft \
                             insert rule {} {} {} {}",
                            chain.0,
                            chain.1,
                            chain.2,
                            rule["handle"],
                            chain.0,
                            chain.1,
                            chain.2,
                            allow(advert)
                        ),
                    });
                }
                "return" => return Flow::End,
                "continue" => break,
                "match" => {}
                // Statements that leave the verdict alone.
                "counter" | "log" | "mangle" | "notrack" => {}
                "jump" | "goto" => {
                    let target = (
                        chain.0.clone(),
                        chain.1.clone(),
                        arg["target"].as_str().unwrap_or_default().to_string(),
                    );
                    match walk(set, &target, advert, depth + 1) {
                        Flow::Done(o) => return Flow::Done(o),
                        // After a goto, the end of the target is the end of this chain.
                        Flow::End if verdict == "goto" => return Flow::End,
                        Flow::End => break,
                    }
                }
                // vmap, limit, quota, xt (iptables-nft compat), queue, ...: a verdict or a
                // match this walk does not follow.
                other => {
                    return Flow::Done(Outcome::CannotTell(format!(
                        "{} has a `{other}` statement, which this check does not follow",
                        describe_rule(chain, rule)
                    )));
                }
            }
        }
    }
    Flow::End
}

/// `table inet t, chain input, rule handle 4`; [`with_text`] adds nft's own words for it.
fn describe_rule(chain: &ChainKey, rule: &Value) -> String {
    format!(
        "table {} {}, chain {}, rule handle {}",
        chain.0, chain.1, chain.2, rule["handle"]
    )
}

/// The rule's line in `nft -a list ruleset` (`ip protocol vrrp drop`), found by the table,
/// chain and handle that [`describe_rule`] names.
pub fn rule_text(listing: &str, described: &str) -> Option<String> {
    let mut words = described.split([' ', ',']).filter(|w| !w.is_empty());
    let (family, table) = (words.nth(1)?, words.next()?);
    let chain = words.nth(1)?;
    let handle = words.nth(2)?;
    let (mut in_table, mut in_chain) = (false, false);
    for line in listing.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("table ") {
            in_table = rest.starts_with(&format!("{family} {table} "));
        } else if let Some(rest) = line.strip_prefix("chain ") {
            in_chain = in_table && rest.starts_with(&format!("{chain} "));
        } else if in_chain
            && let Some((text, h)) = line.rsplit_once(" # handle ")
            && h == handle
        {
            return Some(text.to_string());
        }
    }
    None
}

fn with_text(described: String, listing: Option<&str>) -> String {
    match listing.and_then(|l| rule_text(l, &described)) {
        Some(text) => format!("{described}: `{text}`"),
        None => described,
    }
}

/// Transport protocols whose header fields a VRRP packet cannot match.
const OTHER_L4: &[&str] = &[
    "tcp", "udp", "udplite", "sctp", "dccp", "icmp", "icmpv6", "th", "esp", "ah", "comp",
];

fn judge(m: &Value, advert: &Advert) -> Judged {
    let op = m["op"].as_str().unwrap_or("==");
    let (left, right) = (&m["left"], &m["right"]);
    // A named set's members are not in the rule: cannot tell.
    if right.as_str().is_some_and(|r| r.starts_with('@')) {
        return Judged::Unknown(format!(
            "the named set {}",
            right.as_str().unwrap_or_default()
        ));
    }
    let positive = |hit: bool| {
        let hit = if op == "!=" { !hit } else { hit };
        if hit { Judged::Match } else { Judged::NoMatch }
    };
    if let Some(p) = left.get("payload") {
        let proto = p["protocol"].as_str().unwrap_or_default();
        let field = p["field"].as_str().unwrap_or_default();
        if OTHER_L4.contains(&proto) {
            return positive(false);
        }
        let ours = if advert.v6 { "ip6" } else { "ip" };
        if proto == "ip" || proto == "ip6" {
            if proto != ours {
                return positive(false);
            }
            return match field {
                "protocol" | "nexthdr" => positive(is_vrrp(right)),
                "daddr" => positive(contains(right, advert.daddr)),
                "saddr" => match advert.saddr {
                    Some(a) => positive(contains(right, a)),
                    None => Judged::Unknown(format!("the source address ({right})")),
                },
                _ => Judged::Unknown(format!("{proto} {field}")),
            };
        }
        return Judged::Unknown(format!("{proto} {field}"));
    }
    if let Some(meta) = left.get("meta") {
        let key = meta["key"].as_str().unwrap_or_default();
        return match key {
            "l4proto" => positive(is_vrrp(right)),
            "nfproto" => positive(right == if advert.v6 { "ipv6" } else { "ipv4" }),
            "iifname" if advert.hook == "input" => positive(name_matches(right, &advert.ifname)),
            "oifname" if advert.hook == "output" => positive(name_matches(right, &advert.ifname)),
            "iifname" | "oifname" => positive(false),
            "pkttype" => positive(values(right).iter().any(|v| {
                v == if advert.daddr.is_multicast() {
                    "multicast"
                } else {
                    "host"
                }
            })),
            _ => Judged::Unknown(format!("meta {key}")),
        };
    }
    if left["ct"]["key"] == "state" {
        // Adverts go one way only: conntrack never sees them as established.
        return positive(values(right).iter().any(|v| v == "new"));
    }
    Judged::Unknown(left.to_string())
}

fn values(right: &Value) -> Vec<String> {
    match right {
        Value::Array(a) => a.iter().flat_map(values).collect(),
        Value::Object(o) if o.contains_key("set") => values(&o["set"]),
        Value::String(s) => vec![s.clone()],
        Value::Number(n) => vec![n.to_string()],
        _ => Vec::new(),
    }
}

fn is_vrrp(right: &Value) -> bool {
    values(right).iter().any(|v| v == "vrrp" || v == "112")
}

fn name_matches(right: &Value, ifname: &str) -> bool {
    values(right)
        .iter()
        .any(|pattern| match pattern.strip_suffix('*') {
            Some(prefix) => ifname.starts_with(prefix),
            None => pattern == ifname,
        })
}

/// Whether `right` (an address, a prefix, a range or a set of them) contains `addr`.
fn contains(right: &Value, addr: IpAddr) -> bool {
    match right {
        Value::String(s) => s.parse::<IpAddr>().is_ok_and(|a| a == addr),
        Value::Array(a) => a.iter().any(|v| contains(v, addr)),
        Value::Object(o) => {
            if let Some(set) = o.get("set") {
                return contains(set, addr);
            }
            if let Some(p) = o.get("prefix") {
                let net = p["addr"].as_str().and_then(|a| a.parse::<IpAddr>().ok());
                let len = p["len"].as_u64().unwrap_or(0) as u8;
                return net.is_some_and(|n| in_prefix(n, len, addr));
            }
            if let Some(r) = o.get("range").and_then(Value::as_array) {
                let bound = |i: usize| r.get(i)?.as_str()?.parse::<IpAddr>().ok();
                return matches!((bound(0), bound(1)), (Some(lo), Some(hi)) if lo <= addr && addr <= hi);
            }
            false
        }
        _ => false,
    }
}

fn in_prefix(net: IpAddr, len: u8, addr: IpAddr) -> bool {
    match (net, addr) {
        (IpAddr::V4(n), IpAddr::V4(a)) => {
            let mask = u32::MAX
                .checked_shl(32 - u32::from(len.min(32)))
                .unwrap_or(0);
            u32::from(n) & mask == u32::from(a) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(a)) => {
            let mask = u128::MAX
                .checked_shl(128 - u32::from(len.min(128)))
                .unwrap_or(0);
            u128::from(n) & mask == u128::from(a) & mask
        }
        _ => false,
    }
}

/// The adverts each instance receives and sends.
pub fn adverts(config: &Config) -> Vec<(String, Advert)> {
    let mut out = Vec::new();
    for (name, inst) in &config.vrrp_instance {
        let v6 = inst
            .virtual_ipaddress
            .first()
            .is_some_and(|v| v.address.addr.is_ipv6());
        let peers: Vec<Option<IpAddr>> = if inst.unicast_peer.is_empty() {
            vec![None]
        } else {
            inst.unicast_peer.iter().copied().map(Some).collect()
        };
        let group = crate::vrrp::io::advert_group(inst, &config.global, v6);
        for peer in peers {
            // Unicast adverts come to our own address: stand in with the group's family
            // only where no peer is named.
            let (daddr, hook_in_src) = match peer {
                Some(p) => (local_source(p).unwrap_or(group), Some(p)),
                None => (group, None),
            };
            out.push((
                name.clone(),
                Advert {
                    v6,
                    hook: "input",
                    ifname: inst.interface.clone(),
                    daddr,
                    saddr: hook_in_src,
                },
            ));
            out.push((
                name.clone(),
                Advert {
                    v6,
                    hook: "output",
                    ifname: inst.interface.clone(),
                    daddr: peer.unwrap_or(group),
                    saddr: None,
                },
            ));
        }
    }
    out
}

fn local_source(peer: IpAddr) -> Option<IpAddr> {
    match peer {
        IpAddr::V4(p) => super::host::route_to(p).map(|(src, _)| IpAddr::V4(src)),
        IpAddr::V6(_) => None,
    }
}

/// Read the ruleset and judge every instance's adverts.
pub fn check(config: &Config, report: &mut Report) {
    if config.vrrp_instance.is_empty() && config.virtual_server.is_empty() {
        return;
    }
    let ruleset = match Command::new("nft").args(["-j", "list", "ruleset"]).output() {
        Ok(o) if o.status.success() => match serde_json::from_slice::<Value>(&o.stdout) {
            Ok(v) => v,
            Err(e) => {
                report.skip(format!(
                    "firewall: `nft -j list ruleset` gave no JSON ({e})"
                ));
                return;
            }
        },
        Ok(o) => {
            report.skip(format!(
                "firewall: `nft -j list ruleset` failed: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            ));
            return;
        }
        Err(e) => {
            report.skip(format!(
                "firewall: nft not runnable ({e}); rules not checked"
            ));
            return;
        }
    };
    let listing = Command::new("nft")
        .args(["-a", "list", "ruleset"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
    judge_all(config, &ruleset, listing.as_deref(), report);
    // iptables-legacy keeps its rules outside nftables, where this walk cannot see them.
    let legacy = Command::new("iptables-legacy-save").output();
    if let Ok(o) = legacy
        && String::from_utf8_lossy(&o.stdout)
            .lines()
            .any(|l| l.starts_with("-A "))
    {
        report.skip("firewall: iptables-legacy rules are loaded and not judged (only nftables)");
    }
    check_conntrack(config, &ruleset, report);
}

fn judge_all(config: &Config, ruleset: &Value, listing: Option<&str>, report: &mut Report) {
    for (name, advert) in adverts(config) {
        let what = format!(
            "{name}: a VRRP advert {} {} on {} ({} hook)",
            if advert.hook == "input" {
                "to"
            } else {
                "from us to"
            },
            advert.daddr,
            advert.ifname,
            advert.hook
        );
        match evaluate(ruleset, &advert) {
            Outcome::Accepted => report.pass(format!("firewall lets {what} through")),
            Outcome::CannotTell(why) => report.skip(format!("firewall, {what}: {why}")),
            Outcome::Dropped { rule, fix } => report.find(Finding {
                check: "vrrp-firewall".into(),
                host: "this director".into(),
                probed: format!("nft -j list ruleset, walked for {what}"),
                seen: format!("dropped by {}", with_text(rule, listing)),
                why: if advert.hook == "input" {
                    "this director never hears the master, so it becomes master too: two \
                     directors answer for the VIP (split brain)"
                        .into()
                } else {
                    "the backups never hear this director, so they become master too: two \
                     directors answer for the VIP (split brain)"
                        .into()
                },
                fix,
            }),
        }
    }
}

/// With stateful rules on the director, IPVS's connections must be in conntrack
/// (`net.ipv4.vs.conntrack = 1`), or those rules see every forwarded packet as invalid.
fn check_conntrack(config: &Config, ruleset: &Value, report: &mut Report) {
    if config.virtual_server.is_empty() {
        return;
    }
    // The packets IPVS sends on leave by the output (DR, TUN) or forward (NAT) path.
    let set = Ruleset::of(ruleset);
    let stateful = set.rules.iter().any(|(k, rules)| {
        set.chains.get(k).is_some_and(|c| {
            ["output", "forward", "postrouting"].contains(&c["hook"].as_str().unwrap_or(""))
        }) && rules
            .iter()
            .any(|r| r.to_string().contains("{\"ct\":{\"key\":\"state\"}}"))
    });
    let value = super::host::sysctl("net.ipv4.vs.conntrack");
    if stateful && value.as_deref() == Some("0") {
        report.find(Finding {
            check: "ipvs-conntrack".into(),
            host: "this director".into(),
            probed: "net.ipv4.vs.conntrack, and `ct state` rules in output / forward chains".into(),
            seen: "0, with stateful (ct state) rules loaded".into(),
            why: "IPVS keeps its connections out of conntrack unless asked; a `ct state` rule \
                  then judges the balanced packets without their connection"
                .into(),
            fix: "sysctl -w net.ipv4.vs.conntrack=1".into(),
        });
    }
}

#[cfg(test)]
mod tests;
