//! The IPVS side of the model: virtual servers and their groups, real servers, sorry servers
//! and health checks.

use super::*;

/// Transport protocol of a virtual service.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "UPPERCASE")]
pub enum Protocol {
    #[default]
    Tcp,
    Udp,
    Sctp,
}

/// How IPVS forwards to a real server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ForwardMethod {
    #[default]
    Dr,
    Nat,
    Tun,
}

/// Schedulers the kernel's IPVS provides.
pub const SCHEDULERS: &[&str] = &[
    "rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos",
];

/// Scheduler flags (`ipvsadm -b`): by number, or by the names ipvsadm gives flags 1 and 2
/// for `sh` and `mh` (the same bits).
pub const SCHEDULER_FLAGS: &[&str] = &[
    "flag-1",
    "flag-2",
    "flag-3",
    "sh-fallback",
    "sh-port",
    "mh-fallback",
    "mh-port",
];

/// Addresses of a `virtual_server_group` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VirtualServerGroup {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub address: Vec<GroupAddress>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fwmark: Vec<u32>,
}

/// An address or address range of a group, with its port (`10.0.0.3-10 80`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupAddress {
    pub ip: IpAddr,
    /// Last address of a range; the range varies the last byte (v4) or the last group (v6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range_end: Option<IpAddr>,
    pub port: u16,
}

/// A virtual service: an address and port, a firewall mark, or a group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VirtualServer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<IpAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fwmark: Option<u32>,
    /// With fwmark: the address family of the service (`inet` or `inet6`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<Family>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default)]
    pub protocol: Protocol,
    #[serde(default = "default_sched")]
    pub lvs_sched: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sched_flags: Vec<String>,
    #[serde(default)]
    pub lvs_method: ForwardMethod,
    /// Persistence; absent means none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistence_timeout: Option<Dur>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistence_granularity: Option<IpAddr>,
    /// One-packet scheduling (UDP).
    #[serde(default, skip_serializing_if = "is_false")]
    pub ops: bool,
    #[serde(default = "default_delay_loop")]
    pub delay_loop: Dur,
    /// Sum of live weights needed for the service to count as up.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub quorum: u32,
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub hysteresis: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quorum_up: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quorum_down: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sorry_server: Option<SorryServer>,
    /// Keep the sorry server in the table even while real servers are up.
    #[serde(default, skip_serializing_if = "is_false")]
    pub sorry_server_inhibit: bool,
    /// Real servers start as down until their first check succeeds.
    #[serde(default, skip_serializing_if = "is_false")]
    pub alpha: bool,
    /// Run quorum_down on shutdown.
    #[serde(default, skip_serializing_if = "is_false")]
    pub omega: bool,
    /// Default for the real servers: set weight 0 on failure instead of removing.
    #[serde(default, skip_serializing_if = "is_false")]
    pub inhibit_on_failure: bool,
    /// Default Host header for HTTP checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtualhost: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub real_server: Vec<RealServer>,
    /// lvsdeck only (`[bgp]`): announce this service's address (a /32 or /128, held on `lo`)
    /// while the service has quorum and the director is not drained.
    #[serde(default, skip_serializing_if = "is_false")]
    pub announce: bool,
}

pub(super) fn default_sched() -> String {
    "wlc".into()
}
pub(super) fn default_delay_loop() -> Dur {
    Dur::from_secs(60)
}
pub(super) fn is_zero_u32(v: &u32) -> bool {
    *v == 0
}

/// Address family of a fwmark service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    Inet,
    Inet6,
}

/// Where traffic goes when no real server is up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SorryServer {
    pub ip: IpAddr,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lvs_method: Option<ForwardMethod>,
}

/// A real server behind a virtual service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RealServer {
    pub ip: IpAddr,
    /// Absent for fwmark services, where the client's port is kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default = "one_i32")]
    pub weight: i32,
    /// Overrides the service's forwarding method for this server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lvs_method: Option<ForwardMethod>,
    /// Stop sending new connections above this many (0: no limit).
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub uthreshold: u32,
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub lthreshold: u32,
    /// Overrides the service's inhibit_on_failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inhibit_on_failure: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_loop: Option<Dur>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_up: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_down: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub check: Vec<Check>,
}

pub(super) fn one_i32() -> i32 {
    1
}

/// The kinds of health check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckKind {
    Tcp,
    Http,
    Https,
    Misc,
    /// ICMP / ICMPv6 echo (keepalived's PING_CHECK).
    Ping,
    /// A datagram, and maybe its answer (UDP_CHECK).
    Udp,
    /// The 220 / HELO / 250 exchange (SMTP_CHECK).
    Smtp,
    /// A query answered NOERROR (DNS_CHECK).
    Dns,
    /// A track_file's value (FILE_CHECK).
    File,
}

/// A health check of a real server. Fields that do not apply to the kind are refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Check {
    #[serde(rename = "type")]
    pub kind: CheckKind,
    /// Address and port to check; default: the real server's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_ip: Option<IpAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind_ip: Option<IpAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind_port: Option<u16>,
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout: Dur,
    /// Retries after a failed attempt before the server is marked down (keepalived's `retry`:
    /// down after retry + 1 failures in a row, spaced by delay_before_retry; at startup one
    /// failure is enough).
    #[serde(default = "one")]
    pub retry: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_before_retry: Option<Dur>,
    /// Random delay up to this before the first check, to spread load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warmup: Option<Dur>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_loop: Option<Dur>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub url: Vec<UrlCheck>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtualhost: Option<String>,
    /// Send the virtualhost as TLS SNI (https).
    #[serde(default, skip_serializing_if = "is_false")]
    pub enable_sni: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub misc_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub misc_timeout: Option<Dur>,
    /// Exit codes 2..=255 set the weight to code - 2 (keepalived's `misc_dynamic`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub misc_dynamic: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// UDP: the datagram sent, in hex (keepalived's `payload`); none: a 32-byte default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
    /// UDP: an answer is needed, starting with these hex digits (`x` matches any digit);
    /// empty: any answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_reply: Option<String>,
    /// UDP: the answer's length bounds, with a `require_reply` pattern (default 0 and 255).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_reply_length: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_reply_length: Option<u16>,
    /// SMTP: the name said in HELO (default `smtpchecker.keepalived.org`, keepalived's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub helo_name: Option<String>,
    /// DNS: the name queried (default the root, `.`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_name: Option<String>,
    /// DNS: the record type (A, NS, CNAME, SOA, MX, TXT, AAAA, RRSIG, DNSKEY; default SOA).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_type: Option<String>,
    /// FILE: the `track_file` read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub track_file: Option<String>,
    /// FILE: the value times this moves the server's weight; 0: a non-zero value takes it
    /// down. Default: the track_file's weight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_weight: Option<i32>,
    /// FILE: negate (default: the track_file's `reverse`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_reverse: Option<bool>,
}

pub(super) fn default_connect_timeout() -> Dur {
    Dur::from_secs(5)
}

impl Check {
    /// A check of the given kind with every option at its default.
    pub fn new(kind: CheckKind) -> Self {
        Self {
            kind,
            connect_ip: None,
            connect_port: None,
            bind_ip: None,
            bind_port: None,
            connect_timeout: default_connect_timeout(),
            retry: 1,
            delay_before_retry: None,
            warmup: None,
            delay_loop: None,
            url: Vec::new(),
            virtualhost: None,
            enable_sni: false,
            misc_path: None,
            misc_timeout: None,
            misc_dynamic: false,
            user: None,
            payload: None,
            require_reply: None,
            min_reply_length: None,
            max_reply_length: None,
            helo_name: None,
            dns_name: None,
            dns_type: None,
            track_file: None,
            file_weight: None,
            file_reverse: None,
        }
    }
}

/// One URL an HTTP(S) check fetches, and what makes the answer good.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UrlCheck {
    pub path: String,
    /// Accepted status codes and ranges, like `["200-299", "301"]`; default 200-299.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub status_code: Vec<StatusRange>,
    /// MD5 of the body, as keepalived's genhash prints it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
    /// The URL passes when `regex` does NOT match (keepalived's `regex_no_match`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub regex_no_match: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtualhost: Option<String>,
}
