//! Routes and policy rules over rtnetlink (keepalived's `static_routes` / `virtual_routes`,
//! `static_rules` / `virtual_rules`), sent as keepalived sends them: protocol 18, routes
//! added before any equal one (NLM_F_CREATE, no EXCL: `ip route prepend`), rules refused
//! when an equal one exists, "already there" and "already gone" both fine.

use std::net::IpAddr;

use futures::StreamExt;
use rtnetlink::RouteMessageBuilder;
use rtnetlink::packet_core::{
    NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST, NetlinkMessage, NetlinkPayload,
};
use rtnetlink::packet_route::route::{
    RouteAttribute, RouteMessage, RouteNextHop, RouteProtocol, RouteScope, RouteType,
};
use rtnetlink::packet_route::rule::{RuleAction, RuleAttribute, RuleMessage};
use rtnetlink::packet_route::{AddressFamily, RouteNetlinkMessage};

use super::vip::{Rtnl, VipError, VipOptions};
use crate::config::model::{Config, ROUTE_PROTOCOL, Route, RouteKind, Rule, VirtualIp};

/// The kernel's answer to one request: Ok, or the errno and what it said.
async fn request(rtnl: &Rtnl, msg: RouteNetlinkMessage, flags: u16) -> Result<(), (i32, String)> {
    let mut req = NetlinkMessage::from(msg);
    req.header.flags = NLM_F_REQUEST | NLM_F_ACK | flags;
    let mut handle = rtnl.handle.clone();
    let mut replies = handle.request(req).map_err(|e| (0, e.to_string()))?;
    while let Some(reply) = replies.next().await {
        if let NetlinkPayload::Error(e) = reply.payload
            && e.code.is_some()
        {
            let errno = -e.raw_code();
            return Err((errno, std::io::Error::from_raw_os_error(errno).to_string()));
        }
    }
    Ok(())
}

fn kind(k: RouteKind) -> RouteType {
    match k {
        RouteKind::Unicast => RouteType::Unicast,
        RouteKind::Blackhole => RouteType::BlackHole,
        RouteKind::Unreachable => RouteType::Unreachable,
        RouteKind::Prohibit => RouteType::Prohibit,
        RouteKind::Throw => RouteType::Throw,
    }
}

/// A route's text for messages, close to `ip route`'s.
pub fn describe(r: &Route) -> String {
    let mut s = r.dst.to_string();
    for (i, via) in r.via.iter().enumerate() {
        s += if i == 0 { " via " } else { " or " };
        s += &via.to_string();
    }
    if let Some(dev) = &r.dev {
        s += &format!(" dev {dev}");
    }
    if let Some(t) = r.table {
        s += &format!(" table {t}");
    }
    s
}

async fn route_message(rtnl: &Rtnl, r: &Route, adding: bool) -> Result<RouteMessage, VipError> {
    fn bad<E: std::fmt::Display>(r: &Route) -> impl Fn(E) -> VipError + '_ {
        move |e| VipError::Setup(format!("route {}: {e}", describe(r)))
    }
    let mut b = RouteMessageBuilder::<IpAddr>::new()
        .destination_prefix(r.dst.addr, r.dst.prefix)
        .map_err(bad(r))?;
    if let Some(src) = r.src {
        b = b.pref_source(src).map_err(bad(r))?;
    }
    let oif = match &r.dev {
        Some(dev) => Some(rtnl.link_by_name(dev).await?.index),
        None => None,
    };
    if let [via] = r.via.as_slice() {
        b = b.gateway(*via).map_err(bad(r))?;
    }
    if let Some(index) = oif {
        b = b.output_interface(index);
    }
    if r.via.len() > 1 {
        let hop = |via: &IpAddr| {
            let mut hop = RouteNextHop::default();
            hop.interface_index = oif.unwrap_or(0);
            hop.attributes = vec![RouteAttribute::Gateway((*via).into())];
            hop
        };
        b = b.multipath(r.via.iter().map(hop).collect());
    }
    if let Some(t) = r.table {
        b = b.table_id(t);
    }
    if let Some(m) = r.metric {
        b = b.priority(m);
    }
    // Protocol 18 on delete too, as keepalived: the kernel then deletes only a route of
    // ours, never an equal one someone else set (a DHCP default route through the same
    // gateway). Scope as keepalived: universe unless the file says, nowhere (any) on
    // delete; the type only when given, on delete.
    b = b.protocol(RouteProtocol::from(ROUTE_PROTOCOL));
    b = b.scope(RouteScope::from(if adding {
        r.scope.unwrap_or(0)
    } else {
        255
    }));
    if adding || r.kind != RouteKind::Unicast {
        b = b.kind(kind(r.kind));
    }
    Ok(b.build())
}

pub async fn add_route(rtnl: &Rtnl, r: &Route) -> Result<(), VipError> {
    let msg = route_message(rtnl, r, true).await?;
    match request(rtnl, RouteNetlinkMessage::NewRoute(msg), NLM_F_CREATE).await {
        Ok(()) => Ok(()),
        Err((libc::EEXIST, _)) => Ok(()),
        Err((_, why)) => Err(VipError::Setup(format!(
            "adding route {}: {why}",
            describe(r)
        ))),
    }
}

pub async fn del_route(rtnl: &Rtnl, r: &Route) -> Result<(), VipError> {
    let msg = route_message(rtnl, r, false).await?;
    match request(rtnl, RouteNetlinkMessage::DelRoute(msg), 0).await {
        Ok(()) | Err((libc::ESRCH | libc::ENOENT | libc::ENODEV, _)) => Ok(()),
        Err((_, why)) => Err(VipError::Setup(format!(
            "removing route {}: {why}",
            describe(r)
        ))),
    }
}

/// A rule's text for messages, close to `ip rule`'s.
pub fn describe_rule(r: &Rule) -> String {
    let mut s = format!("{}:", r.priority);
    if let Some(f) = r.from {
        s += &format!(" from {f}");
    }
    if let Some(t) = r.to {
        s += &format!(" to {t}");
    }
    s + &format!(" lookup {}", r.table)
}

fn rule_message(r: &Rule) -> RuleMessage {
    let mut msg = RuleMessage::default();
    msg.header.family = if r.is_v6() {
        AddressFamily::Inet6
    } else {
        AddressFamily::Inet
    };
    msg.header.action = RuleAction::ToTable;
    let mut attrs = Vec::new();
    if let Some(f) = r.from {
        msg.header.src_len = f.prefix;
        attrs.push(RuleAttribute::Source(f.addr));
    }
    if let Some(t) = r.to {
        msg.header.dst_len = t.prefix;
        attrs.push(RuleAttribute::Destination(t.addr));
    }
    match u8::try_from(r.table) {
        Ok(t) => msg.header.table = t,
        Err(_) => attrs.push(RuleAttribute::Table(r.table)),
    }
    attrs.push(RuleAttribute::Priority(r.priority));
    if let Some(i) = &r.iif {
        attrs.push(RuleAttribute::Iifname(i.clone()));
    }
    if let Some(o) = &r.oif {
        attrs.push(RuleAttribute::Oifname(o.clone()));
    }
    if let Some(m) = r.fwmark {
        attrs.push(RuleAttribute::FwMark(m));
    }
    if let Some(m) = r.fwmask {
        attrs.push(RuleAttribute::FwMask(m));
    }
    // On delete too: only a rule of ours goes.
    attrs.push(RuleAttribute::Protocol(RouteProtocol::from(ROUTE_PROTOCOL)));
    msg.attributes = attrs;
    msg
}

/// An equal rule already there is fine (a restart after a kill, which keepalived instead
/// clears at start).
pub async fn add_rule(rtnl: &Rtnl, r: &Rule) -> Result<(), VipError> {
    let msg = rule_message(r);
    match request(
        rtnl,
        RouteNetlinkMessage::NewRule(msg),
        NLM_F_CREATE | NLM_F_EXCL,
    )
    .await
    {
        Ok(()) | Err((libc::EEXIST, _)) => Ok(()),
        Err((_, why)) => Err(VipError::Setup(format!(
            "adding rule {}: {why}",
            describe_rule(r)
        ))),
    }
}

pub async fn del_rule(rtnl: &Rtnl, r: &Rule) -> Result<(), VipError> {
    let msg = rule_message(r);
    match request(rtnl, RouteNetlinkMessage::DelRule(msg), 0).await {
        Ok(()) | Err((libc::ENOENT | libc::ESRCH, _)) => Ok(()),
        Err((_, why)) => Err(VipError::Setup(format!(
            "removing rule {}: {why}",
            describe_rule(r)
        ))),
    }
}

/// Routes then rules in, as keepalived adds them after the VIPs; every failure is returned
/// (one does not stop the others).
pub async fn add_all(rtnl: &Rtnl, routes: &[Route], rules: &[Rule]) -> Vec<VipError> {
    let mut errors = Vec::new();
    for r in routes {
        if let Err(e) = add_route(rtnl, r).await {
            errors.push(e);
        }
    }
    for r in rules {
        if let Err(e) = add_rule(rtnl, r).await {
            errors.push(e);
        }
    }
    errors
}

/// Rules then routes out.
pub async fn remove_all(rtnl: &Rtnl, routes: &[Route], rules: &[Rule]) -> Vec<VipError> {
    let mut errors = Vec::new();
    for r in rules {
        if let Err(e) = del_rule(rtnl, r).await {
            errors.push(e);
        }
    }
    for r in routes {
        if let Err(e) = del_route(rtnl, r).await {
            errors.push(e);
        }
    }
    errors
}

/// keepalived refuses to run when a route or rule names an interface that does not exist.
pub async fn check_devices(rtnl: &Rtnl, routes: &[Route], rules: &[Rule]) -> Result<(), VipError> {
    // Collected first: an iterator of closures held across the awaits is not Send.
    let devs: Vec<String> = routes
        .iter()
        .filter_map(|r| r.dev.clone())
        .chain(
            rules
                .iter()
                .flat_map(|r| r.iif.iter().chain(&r.oif).cloned()),
        )
        .collect();
    for dev in &devs {
        rtnl.link_by_name(dev).await?;
    }
    Ok(())
}

/// What `static_ipaddress`, `static_routes` and `static_rules` set, kept to take back at
/// stop and to change on a reload.
#[derive(Debug, Default)]
pub struct Statics {
    addrs: Vec<VirtualIp>,
    routes: Vec<Route>,
    rules: Vec<Rule>,
}

impl Statics {
    /// Whether `addr` is one of the static_ipaddress entries set.
    pub fn holds(&self, addr: IpAddr) -> bool {
        self.addrs.iter().any(|a| a.address.addr == addr)
    }

    /// Every interface the config's static entries name exists.
    pub async fn check(rtnl: &Rtnl, config: &Config) -> Result<(), VipError> {
        check_devices(rtnl, &config.static_routes, &config.static_rules).await?;
        for a in &config.static_ipaddress {
            rtnl.link_by_name(a.dev.as_deref().unwrap_or_default())
                .await?;
        }
        Ok(())
    }

    /// From what is set to what `config` asks: entries it no longer has out (rules, routes,
    /// addresses), its new ones in (addresses, routes, rules). Returns what failed.
    pub async fn apply(&mut self, rtnl: &Rtnl, config: &Config) -> Vec<VipError> {
        let gone_rules: Vec<Rule> = missing(&self.rules, &config.static_rules);
        let gone_routes: Vec<Route> = missing(&self.routes, &config.static_routes);
        let mut errors = remove_all(rtnl, &gone_routes, &gone_rules).await;
        for a in missing(&self.addrs, &config.static_ipaddress) {
            if let Err(e) = address(rtnl, &a, false).await {
                errors.push(e);
            }
        }
        for a in missing(&config.static_ipaddress, &self.addrs) {
            if let Err(e) = address(rtnl, &a, true).await {
                errors.push(e);
            }
        }
        let new_routes = missing(&config.static_routes, &self.routes);
        let new_rules = missing(&config.static_rules, &self.rules);
        errors.extend(add_all(rtnl, &new_routes, &new_rules).await);
        self.addrs = config.static_ipaddress.clone();
        self.routes = config.static_routes.clone();
        self.rules = config.static_rules.clone();
        errors
    }

    /// At stop: everything set goes, as keepalived takes its static entries back.
    pub async fn clear(&mut self, rtnl: &Rtnl) -> Vec<VipError> {
        self.apply(rtnl, &Config::default()).await
    }
}

/// The entries of `a` that `b` lacks.
fn missing<T: PartialEq + Clone>(a: &[T], b: &[T]) -> Vec<T> {
    a.iter().filter(|x| !b.contains(x)).cloned().collect()
}

async fn address(rtnl: &Rtnl, a: &VirtualIp, adding: bool) -> Result<(), VipError> {
    let index = rtnl
        .link_by_name(a.dev.as_deref().unwrap_or_default())
        .await?
        .index;
    if adding {
        rtnl.add_vip(index, a.address, &VipOptions::of(a)).await
    } else {
        rtnl.del_vip(index, a.address).await
    }
}
