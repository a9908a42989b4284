//! A configured check turned into a ready-to-run probe: addresses resolved, the request bytes
//! built, the regex compiled, the digest decoded, the TLS settings prepared — once, when the
//! target is added, so that an attempt does no parsing.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use regex::bytes::Regex;
use rustls::pki_types::ServerName;

pub use super::dns::DnsProbe;
pub use super::file::FileProbe;
pub use super::ping::PingProbe;
pub use super::smtp::SmtpProbe;
use super::state::{Policy, Timing};
pub use super::udp::UdpProbe;
use super::{CheckResult, dns, file, http, misc, ping, smtp, tcp, udp};
use crate::config::model::{CheckKind, StatusRange};

/// The HTTP version of requests. keepalived's default is 1.0 (`http_protocol`); both send
/// `Connection: close`, and 1.1 answers may come chunked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HttpVersion {
    #[default]
    Http10,
    Http11,
}

/// A check ready to run, with its schedule and its counting policy.
#[derive(Debug)]
pub struct CheckSpec {
    /// For messages and the console: `TCP 192.0.2.11:80`, `HTTP 192.0.2.11:80 /health`,
    /// `MISC /usr/local/bin/check`.
    pub label: Arc<str>,
    pub kind: CheckKind,
    pub timing: Timing,
    pub policy: Policy,
    pub probe: Probe,
}

/// What an attempt does.
#[derive(Debug)]
pub enum Probe {
    Tcp(TcpProbe),
    Http(HttpProbe),
    Misc(MiscProbe),
    Ping(PingProbe),
    Udp(UdpProbe),
    Smtp(SmtpProbe),
    Dns(DnsProbe),
    File(FileProbe),
}

/// A TCP connection attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpProbe {
    pub addr: SocketAddr,
    /// Source address / port (`bind_ip`, `bind_port`); port 0 lets the kernel pick.
    pub bind: Option<SocketAddr>,
    pub timeout: Duration,
}

/// HTTP(S) GETs of one or more URLs; all must pass.
#[derive(Debug)]
pub struct HttpProbe {
    pub conn: TcpProbe,
    pub urls: Vec<UrlProbe>,
    /// Each read must bring data within this (keepalived: connect_timeout).
    pub read_timeout: Duration,
}

/// TLS settings of an HTTPS check.
#[derive(Debug, Clone)]
pub struct TlsProbe {
    pub config: Arc<rustls::ClientConfig>,
    /// A DNS name is sent as SNI; an IP address is not (rustls sends no SNI for addresses).
    pub server_name: ServerName<'static>,
}

/// One URL and what makes its answer good.
#[derive(Debug)]
pub struct UrlProbe {
    pub path: String,
    /// The whole request, ready to write.
    pub request: Vec<u8>,
    /// Accepted status codes; keepalived's default when none is given is 200-299.
    pub status: Vec<StatusRange>,
    /// MD5 of the body, as keepalived's genhash prints it.
    pub digest: Option<[u8; 16]>,
    pub regex: Option<Regex>,
    /// Pass when the regex does not match (`regex_no_match`).
    pub regex_no_match: bool,
    /// HTTPS: the TLS settings (the SNI name may differ per URL).
    pub tls: Option<TlsProbe>,
}

/// A script run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MiscProbe {
    /// The command line, through `/bin/sh -c` only when it needs a shell.
    pub line: String,
    /// Killed (its whole process group) after this.
    pub timeout: Duration,
    /// Exit codes 2..=255 mean up with weight code - 2.
    pub dynamic: bool,
    /// (uid, gid) to run as.
    pub user: Option<(u32, u32)>,
}

impl Probe {
    /// Run one attempt.
    pub async fn run(&self) -> CheckResult {
        let start = Instant::now();
        match self {
            Probe::Tcp(p) => tcp::check(p, start).await,
            Probe::Http(p) => http::check(p, start).await,
            Probe::Misc(p) => misc::check(p, start).await,
            Probe::Ping(p) => ping::check(p, start).await,
            Probe::Udp(p) => udp::check(p, start).await,
            Probe::Smtp(p) => smtp::check(p, start).await,
            Probe::Dns(p) => dns::check(p, start).await,
            Probe::File(p) => file::check(p, start),
        }
    }
}
