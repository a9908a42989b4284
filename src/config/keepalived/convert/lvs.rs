//! `virtual_server_group` and `virtual_server`, with their real servers and checks.

use std::net::IpAddr;

use super::keywords::{Ctx, visible};
use super::{Conv, set};
use crate::conf_path;
use crate::config::diag::suggest;
use crate::config::keepalived::parse::{Node, Word};
use crate::config::model::*;
use crate::config::validate::{ConfPath, vs_key};

mod checks;

/// Check settings a real server or a virtual server gives its checks that set none (keepalived
/// takes the check's own, else the real server's, else the virtual server's).
#[derive(Debug, Clone, Copy, Default)]
struct CheckDefaults {
    retry: Option<u32>,
    delay_before_retry: Option<Dur>,
    warmup: Option<Dur>,
    connect_timeout: Option<Dur>,
}

impl CheckDefaults {
    /// Read `n` if it is one of the four; false if it is another keyword.
    fn read(&mut self, c: &mut Conv, n: &Node) -> bool {
        match n.keyword.text.as_str() {
            "retry" => self.retry = c.num(n, "a count").or(self.retry),
            "delay_before_retry" => self.delay_before_retry = c.dur(n).or(self.delay_before_retry),
            "warmup" => self.warmup = c.dur(n).or(self.warmup),
            "connect_timeout" => self.connect_timeout = c.dur(n).or(self.connect_timeout),
            _ => return false,
        }
        true
    }

    fn or(self, other: CheckDefaults) -> CheckDefaults {
        CheckDefaults {
            retry: self.retry.or(other.retry),
            delay_before_retry: self.delay_before_retry.or(other.delay_before_retry),
            warmup: self.warmup.or(other.warmup),
            connect_timeout: self.connect_timeout.or(other.connect_timeout),
        }
    }

    fn apply(self, ck: &mut Check) {
        set(&mut ck.retry, self.retry);
        set(&mut ck.connect_timeout, self.connect_timeout);
        ck.delay_before_retry = self.delay_before_retry;
        ck.warmup = self.warmup;
    }
}

/// What a real server wrote itself, for the virtual server's defaults to fill in at its end.
struct PendingRs {
    weight_set: bool,
    defaults: CheckDefaults,
    checks: Vec<CheckDefaults>,
}

impl Conv<'_> {
    pub(super) fn vs_group(&mut self, node: &Node) {
        let Some(name) = self.name(node) else { return };
        let base = conf_path!["virtual_server_group", &name];
        self.place(base.clone(), &node.args[0]);
        let mut g = VirtualServerGroup {
            address: Vec::new(),
            fwmark: Vec::new(),
        };
        for n in self.block(node) {
            if n.keyword.text == "fwmark" {
                self.place(base.join("fwmark").join(g.fwmark.len()), &n.keyword);
                if let Some(m) = self.num(n, "a firewall mark") {
                    g.fwmark.push(m);
                }
                continue;
            }
            let path = base.join("address").join(g.address.len());
            self.place(path, &n.keyword);
            let Some((ip, range_end)) = self.ip_range(&n.keyword) else {
                continue;
            };
            let Some(port) = self.parse_arg(n, 0, "a port") else {
                continue;
            };
            g.address.push(GroupAddress {
                ip,
                range_end,
                port,
            });
        }
        self.config.virtual_server_group.insert(name, g);
    }

    /// `10.0.0.3-10` (last byte) or `ae00::2-9` (last group, hex) as first and last address.
    fn ip_range(&mut self, w: &Word) -> Option<(IpAddr, Option<IpAddr>)> {
        let bad = |c: &mut Self| {
            c.error(
                w,
                format!("`{}` is not an address or range", w.text),
                "write e.g. 10.0.0.3-10",
            );
            None
        };
        let (first, last) = match w.text.rsplit_once('-') {
            Some((a, b)) => (a, Some(b)),
            None => (w.text.as_str(), None),
        };
        let Ok(ip) = first.parse::<IpAddr>() else {
            return bad(self);
        };
        let end = match (ip, last) {
            (_, None) => None,
            (IpAddr::V4(v4), Some(b)) => match b.parse::<u8>() {
                Ok(b) => {
                    let mut o = v4.octets();
                    o[3] = b;
                    Some(IpAddr::from(o))
                }
                Err(_) => return bad(self),
            },
            (IpAddr::V6(v6), Some(b)) => match u16::from_str_radix(b, 16) {
                Ok(b) => {
                    let mut s = v6.segments();
                    s[7] = b;
                    Some(IpAddr::from(s))
                }
                Err(_) => return bad(self),
            },
        };
        Some((ip, end))
    }

    pub(super) fn virtual_server(&mut self, node: &Node) {
        let index = self.config.virtual_server.len();
        let base = conf_path!["virtual_server", index];
        self.place(base.clone(), &node.keyword);
        let mut vs = VirtualServer {
            ip: None,
            port: None,
            fwmark: None,
            family: None,
            group: None,
            protocol: Protocol::Tcp,
            lvs_sched: "wlc".into(),
            sched_flags: Vec::new(),
            lvs_method: ForwardMethod::Nat,
            persistence_timeout: None,
            persistence_granularity: None,
            ops: false,
            delay_loop: Dur::from_secs(60),
            quorum: 1,
            hysteresis: 0,
            quorum_up: None,
            quorum_down: None,
            sorry_server: None,
            sorry_server_inhibit: false,
            alpha: false,
            omega: false,
            inhibit_on_failure: false,
            virtualhost: None,
            real_server: Vec::new(),
            announce: false,
        };
        match node.args.first().map(|w| w.text.as_str()) {
            Some("fwmark") => vs.fwmark = self.parse_arg(node, 1, "a firewall mark"),
            Some("group") => vs.group = node.args.get(1).map(|w| w.text.clone()),
            // No port, or 0: every port of the address (IPVS's port-0 service).
            Some(_)
                if node.args.len() == 1 || node.args[1].text.trim_start_matches('0').is_empty() =>
            {
                vs.ip = self.parse_arg(node, 0, "an IP address");
                vs.port = Some(0);
            }
            Some(_) => {
                vs.ip = self.parse_arg(node, 0, "an IP address");
                vs.port = self.parse_arg(node, 1, "a port");
            }
            None => self.error(
                &node.keyword,
                "virtual_server needs ADDRESS PORT, fwmark N or group NAME",
                "",
            ),
        }
        let mut method_said = false;
        let mut protocol_said = false;
        let mut defaults = CheckDefaults::default();
        let mut rs_weight: Option<u16> = None;
        let mut pending: Vec<PendingRs> = Vec::new();
        for n in self.block(node) {
            let kw = n.keyword.text.as_str();
            self.place(base.join(kw), &n.keyword);
            let mark = self.error_count();
            match kw {
                "delay_loop" => set(&mut vs.delay_loop, self.dur(n)),
                "lb_algo" | "lvs_sched" => {
                    if kw == "lb_algo" {
                        self.deprecated(n, "lvs_sched");
                    }
                    set(&mut vs.lvs_sched, self.scheduler(n));
                    self.place(base.join("lvs_sched"), &n.keyword);
                }
                "lb_kind" | "lvs_method" => {
                    if kw == "lb_kind" {
                        self.deprecated(n, "lvs_method");
                    }
                    self.place(base.join("lvs_method"), &n.keyword);
                    method_said = true;
                    set(
                        &mut vs.lvs_method,
                        self.method(n, "NAT, as keepalived falls back to"),
                    );
                }
                "protocol" => {
                    protocol_said = true;
                    set(&mut vs.protocol, self.protocol(n));
                }
                "ip_family" => match n.args.first().map(|w| w.text.as_str()) {
                    Some("inet") => vs.family = Some(Family::Inet),
                    Some("inet6") => vs.family = Some(Family::Inet6),
                    _ => self.warn(
                        &n.keyword,
                        "`ip_family` takes inet or inet6: ignored, as keepalived does",
                        "",
                    ),
                },
                // keepalived's default when the value is missing: 360 s.
                "persistence_timeout" if n.args.is_empty() => {
                    vs.persistence_timeout = Some(Dur::from_secs(360))
                }
                "persistence_timeout" => vs.persistence_timeout = self.dur(n),
                "persistence_granularity" => vs.persistence_granularity = self.num(n, "a netmask"),
                "ops" => vs.ops = true,
                "quorum" => set(&mut vs.quorum, self.num(n, "a weight sum")),
                "hysteresis" => set(&mut vs.hysteresis, self.num(n, "a weight")),
                "quorum_up" => vs.quorum_up = self.notify_command(n),
                "quorum_down" => vs.quorum_down = self.notify_command(n),
                "sorry_server" => {
                    let ip = self.parse_arg(n, 0, "an IP address");
                    let port = if n.args.len() > 1 {
                        self.parse_arg(n, 1, "a port")
                    } else {
                        None
                    };
                    if let Some(ip) = ip {
                        vs.sorry_server = Some(SorryServer {
                            ip,
                            port,
                            lvs_method: None,
                        });
                    }
                }
                "sorry_server_inhibit" => vs.sorry_server_inhibit = true,
                "sorry_server_lvs_method" => {
                    let m = self.method(n, "the virtual server's method, as keepalived does");
                    if let Some(s) = &mut vs.sorry_server {
                        s.lvs_method = m;
                    }
                }
                "alpha" => vs.alpha = true,
                "omega" => vs.omega = true,
                // keepalived reads no value here (unlike a real server's inhibit_on_failure).
                "inhibit_on_failure" => vs.inhibit_on_failure = true,
                "virtualhost" => vs.virtualhost = self.name(n),
                "weight" => rs_weight = self.num(n, "a weight from 1 to 65535").or(rs_weight),
                "sh-port" | "sh-fallback" | "mh-port" | "mh-fallback" | "flag-1" | "flag-2"
                | "flag-3" => {
                    let flag = match kw {
                        "sh-fallback" | "mh-fallback" => "flag-1",
                        "sh-port" | "mh-port" => "flag-2",
                        other => other,
                    };
                    vs.sched_flags.push(flag.to_string());
                }
                "real_server" => {
                    let i = vs.real_server.len();
                    let path = base.join("real_server").join(i);
                    if let Some((rs, p)) = self.real_server(n, &path, &vs) {
                        vs.real_server.push(rs);
                        pending.push(p);
                    }
                }
                _ => {
                    if !defaults.read(self, n) {
                        self.unknown(n, Ctx::VirtualServer);
                    }
                }
            }
            let failed_key = match kw {
                "lb_algo" => "lvs_sched",
                "lb_kind" => "lvs_method",
                "real_server" => "real_server_",
                other => other,
            };
            self.fail_since(mark, base.join(failed_key));
        }
        for (rs, p) in vs.real_server.iter_mut().zip(pending) {
            if !p.weight_set {
                set(&mut rs.weight, rs_weight.map(i32::from));
            }
            for (ck, own) in rs.check.iter_mut().zip(p.checks) {
                own.or(p.defaults).or(defaults).apply(ck);
            }
        }
        if !protocol_said && self.has_addresses(&vs) {
            // keepalived 2.2.7 leaves the protocol unset and then picks UDP, as the kernel would.
            vs.protocol = Protocol::Udp;
            self.warn(
                &node.keyword,
                "no protocol: UDP, as keepalived sets for a service without one",
                "probably not what was meant for a TCP service: write protocol TCP",
            );
        }
        if !method_said {
            // keepalived's default forwarding method is NAT; say so, since lvsdeck's TOML default is DR.
            self.warn(
                &node.keyword,
                "no lb_kind / lvs_method: using NAT, keepalived's default",
                "write lvs_method explicitly",
            );
        }
        // keepalived: a real server without a port takes the service's.
        if vs.port.is_some() {
            for rs in vs.real_server.iter_mut().filter(|rs| rs.port.is_none()) {
                rs.port = vs.port;
            }
        }
        if vs.port == Some(0) {
            self.every_port(node, &mut vs);
        }
        self.push_virtual_server(node, vs, &base);
    }

    /// A service of every port, as keepalived 2.2.7 settles it: persistent (IPVS takes port 0
    /// only so; 360 s if the file gives no timeout), and DR / TUN real servers on port 0 (the
    /// packet keeps its port).
    fn every_port(&mut self, node: &Node, vs: &mut VirtualServer) {
        let at = node.args.first().unwrap_or(&node.keyword).clone();
        if vs.persistence_timeout.is_none() {
            vs.persistence_timeout = Some(Dur::from_secs(360));
            self.warn(
                &at,
                "a virtual_server of every port (no port) is persistent only: persistence_timeout \
                 360 s, as keepalived sets",
                "write persistence_timeout",
            );
        }
        for rs in &mut vs.real_server {
            let method = rs.lvs_method.unwrap_or(vs.lvs_method);
            if matches!(method, ForwardMethod::Dr | ForwardMethod::Tun)
                && rs.port.is_some_and(|p| p != 0)
            {
                self.warn(
                    &at,
                    format!(
                        "real_server {} {}: a service of every port forwards on the client's \
                         port; the port is reset to 0, as keepalived does",
                        rs.ip,
                        rs.port.unwrap_or(0)
                    ),
                    "leave the port out",
                );
                rs.port = Some(0);
            }
        }
    }

    /// Whether the service is one of addresses and ports (not only firewall marks), where the
    /// protocol matters.
    fn has_addresses(&self, vs: &VirtualServer) -> bool {
        match &vs.group {
            Some(g) => self
                .config
                .virtual_server_group
                .get(g)
                .is_none_or(|g| !g.address.is_empty()),
            None => vs.ip.is_some(),
        }
    }

    /// Keep a converted virtual server, unless keepalived would drop it: one without real
    /// servers, or the same service written twice the same way.
    fn push_virtual_server(&mut self, node: &Node, vs: VirtualServer, base: &ConfPath) {
        let dropped = if vs.real_server.is_empty() {
            Some((
                format!(
                    "virtual server {} has no real servers: it is ignored, as keepalived does",
                    vs_key(&vs)
                ),
                "add a real_server, or remove the virtual_server",
            ))
        } else if self.config.virtual_server.contains(&vs) {
            Some((
                format!(
                    "virtual server {} is defined twice, the same way: the second is ignored",
                    vs_key(&vs)
                ),
                "keepalived adds the same IPVS service twice; remove one of them",
            ))
        } else {
            None
        };
        match dropped {
            Some((message, help)) => {
                self.warn(&node.keyword, message, help);
                // Its places would point later findings at the wrong block.
                self.places.retain(|p, _| !p.0.starts_with(&base.0));
                self.failed.retain(|p| !p.0.starts_with(&base.0));
            }
            None => self.config.virtual_server.push(vs),
        }
    }

    /// keepalived compares the scheduler with its list exactly; anything else is ignored with
    /// a message and the service gets wlc.
    fn scheduler(&mut self, n: &Node) -> Option<String> {
        let w = self.arg(n, 0, "a scheduler")?.clone();
        if SCHEDULERS.contains(&w.text.as_str()) {
            return Some(w.text);
        }
        let lower = w.text.to_ascii_lowercase();
        let help = if SCHEDULERS.contains(&lower.as_str()) {
            format!("probably not what was meant: write `{lower}` in lowercase")
        } else if let Some(s) = suggest(&w.text, SCHEDULERS.iter().copied()) {
            format!(
                "did you mean `{s}`? the kernel has {}",
                SCHEDULERS.join(", ")
            )
        } else {
            format!("the kernel has {}", SCHEDULERS.join(", "))
        };
        self.warn(
            &w,
            format!(
                "unknown scheduler `{}`: wlc, as keepalived falls back to",
                visible(&w.text)
            ),
            help,
        );
        Some("wlc".into())
    }

    /// keepalived compares the method with DR, NAT and TUN exactly; anything else is ignored
    /// with a message and `fallback` applies (None here).
    fn method(&mut self, n: &Node, fallback: &str) -> Option<ForwardMethod> {
        let w = self.arg(n, 0, "DR, NAT or TUN")?.clone();
        match w.text.as_str() {
            "DR" => Some(ForwardMethod::Dr),
            "NAT" => Some(ForwardMethod::Nat),
            "TUN" => Some(ForwardMethod::Tun),
            other => {
                let upper = other.to_ascii_uppercase();
                let help = if ["DR", "NAT", "TUN"].contains(&upper.as_str()) {
                    format!("probably not what was meant: write `{upper}` in capitals")
                } else {
                    "keepalived knows DR, NAT and TUN".into()
                };
                self.warn(
                    &w,
                    format!("unknown forwarding method `{}`: {fallback}", visible(other)),
                    help,
                );
                None
            }
        }
    }

    /// keepalived reads `protocol` in any case.
    fn protocol(&mut self, n: &Node) -> Option<Protocol> {
        let w = self.arg(n, 0, "TCP, UDP or SCTP")?.clone();
        match w.text.to_ascii_uppercase().as_str() {
            "TCP" => Some(Protocol::Tcp),
            "UDP" => Some(Protocol::Udp),
            "SCTP" => Some(Protocol::Sctp),
            _ => {
                self.error(&w, "`protocol` takes TCP, UDP or SCTP", "");
                None
            }
        }
    }

    fn real_server(
        &mut self,
        node: &Node,
        base: &ConfPath,
        vs: &VirtualServer,
    ) -> Option<(RealServer, PendingRs)> {
        self.place(base.clone(), &node.keyword);
        let ip: IpAddr = self.parse_arg(node, 0, "an IP address")?;
        let port = if node.args.len() > 1 {
            self.parse_arg(node, 1, "a port")
        } else {
            None
        };
        if vs.real_server.iter().any(|r| r.ip == ip && r.port == port) {
            self.warn(
                &node.keyword,
                format!(
                    "real server {ip} is listed twice: the second is ignored, as keepalived does"
                ),
                "remove one of them",
            );
            return None;
        }
        let mut rs = RealServer {
            ip,
            port,
            weight: 1,
            lvs_method: None,
            uthreshold: 0,
            lthreshold: 0,
            inhibit_on_failure: None,
            delay_loop: None,
            notify_up: None,
            notify_down: None,
            check: Vec::new(),
        };
        let mut pending = PendingRs {
            weight_set: false,
            defaults: CheckDefaults::default(),
            checks: Vec::new(),
        };
        let mut virtualhost = None;
        for n in self.block(node) {
            let kw = n.keyword.text.as_str();
            self.place(base.join(kw), &n.keyword);
            let mark = self.error_count();
            match kw {
                "weight" => {
                    pending.weight_set = true;
                    set(&mut rs.weight, self.num(n, "a weight from 0 to 65535"));
                }
                "lvs_method" => {
                    rs.lvs_method =
                        self.method(n, "the virtual server's method, as keepalived does")
                }
                "inhibit_on_failure" => {
                    rs.inhibit_on_failure = self.flag(n).or(rs.inhibit_on_failure)
                }
                "uthreshold" => set(&mut rs.uthreshold, self.num(n, "a connection count")),
                "lthreshold" => set(&mut rs.lthreshold, self.num(n, "a connection count")),
                "delay_loop" => rs.delay_loop = self.dur(n),
                "virtualhost" => virtualhost = self.name(n),
                "notify_up" => rs.notify_up = self.notify_command(n),
                "notify_down" => rs.notify_down = self.notify_command(n),
                "TCP_CHECK" | "HTTP_GET" | "SSL_GET" | "MISC_CHECK" | "PING_CHECK"
                | "UDP_CHECK" | "SMTP_CHECK" | "DNS_CHECK" | "FILE_CHECK" => {
                    let kind = match kw {
                        "TCP_CHECK" => CheckKind::Tcp,
                        "HTTP_GET" => CheckKind::Http,
                        "SSL_GET" => CheckKind::Https,
                        "PING_CHECK" => CheckKind::Ping,
                        "UDP_CHECK" => CheckKind::Udp,
                        "SMTP_CHECK" => CheckKind::Smtp,
                        "DNS_CHECK" => CheckKind::Dns,
                        "FILE_CHECK" => CheckKind::File,
                        _ => CheckKind::Misc,
                    };
                    let path = base.join("check").join(rs.check.len());
                    for (ck, own) in self.check(n, kind, &path) {
                        rs.check.push(ck);
                        pending.checks.push(own);
                    }
                }
                _ => {
                    if !pending.defaults.read(self, n) {
                        self.unknown(n, Ctx::RealServer);
                    }
                }
            }
            self.fail_since(mark, base.join(kw));
        }
        // The real server's virtualhost is the Host of its HTTP checks that name none.
        for ck in &mut rs.check {
            if ck.virtualhost.is_none() && matches!(ck.kind, CheckKind::Http | CheckKind::Https) {
                ck.virtualhost.clone_from(&virtualhost);
            }
        }
        Some((rs, pending))
    }
}
