//! Routes and policy rules a director sets: keepalived's `static_routes` / `static_rules`
//! (from start to stop) and an instance's `virtual_routes` / `virtual_rules` (while it is
//! master), with the fields keepalived's samples and operators use.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::IpNet;

/// The route protocol keepalived marks its routes and rules with (iproute2 names it
/// `keepalived`): a director's routes look the same whichever daemon set them.
pub const ROUTE_PROTOCOL: u8 = 18;

/// The first priority given to a rule that names none, counting down per family, as
/// keepalived does.
pub const FIRST_RULE_PRIORITY: u32 = 16384;

/// A route's type (`ip route`'s TYPE).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RouteKind {
    #[default]
    Unicast,
    Blackhole,
    Unreachable,
    Prohibit,
    Throw,
}

impl RouteKind {
    fn is_unicast(&self) -> bool {
        *self == RouteKind::Unicast
    }
}

/// One route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    pub dst: IpNet,
    #[serde(default, skip_serializing_if = "RouteKind::is_unicast")]
    pub kind: RouteKind,
    /// Gateways: one, or several for a multipath route (keepalived's `via A or B`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub via: Vec<IpAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dev: Option<String>,
    /// Preferred source address (`src`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src: Option<IpAddr>,
    /// Routing table; none: main.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<u32>,
    /// Scope number (`scope link` = 253); none: universe, as keepalived sends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<u8>,
}

/// One policy rule: which traffic looks up which table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<IpNet>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<IpNet>,
    pub table: u32,
    /// Its place in the rule list; keepalived's files may leave it out (it then counts down
    /// from 16384, and so does the converter).
    pub priority: u32,
    /// Incoming interface (`iif`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iif: Option<String>,
    /// Outgoing interface (`oif`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oif: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fwmark: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fwmask: Option<u32>,
}

impl Route {
    pub fn is_v6(&self) -> bool {
        self.dst.addr.is_ipv6()
    }
}

impl Rule {
    /// IPv6 when an address says so; IPv4 otherwise, as keepalived assumes.
    pub fn is_v6(&self) -> bool {
        self.from.or(self.to).is_some_and(|n| n.addr.is_ipv6())
    }
}
