//! [`CheckTarget`]: one real server (or tracking script) and its checks, as the engine hands
//! them to the runner, and their compilation into ready-to-run [`CheckSpec`]s.
//!
//! Defaults follow keepalived (`check_data.c`, `check_http.c`, `check_misc.c`):
//! delay_loop: the check's, else the real server's, else the service's; delay_before_retry:
//! 3 s for HTTP / HTTPS, 1 s otherwise; warmup: delay_loop; MISC timeout: delay_loop; accepted
//! status codes: 200-299; Host header: the URL's virtualhost, else the check's, else the
//! service's, else `address:port`; SNI (with enable_sni): the URL's virtualhost, else the
//! check's, else the service's.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use super::spec::{
    CheckSpec, DnsProbe, FileProbe, HttpProbe, HttpVersion, MiscProbe, PingProbe, Probe, SmtpProbe,
    TcpProbe, TlsProbe, UdpProbe, UrlProbe,
};
use super::state::{CheckState, Policy, Timing};
use super::{TargetId, dns, http, http_parse, misc, smtp, tls, udp};
use crate::config::model::{
    Check, CheckKind, Config, RealServer, StatusRange, TrackFile, VirtualServer, VrrpScript,
};
use std::collections::BTreeMap;

/// One checked thing: a real server of a service with its checks, or a tracking script.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckTarget {
    pub id: TargetId,
    pub checks: Vec<Check>,
    /// For checks that set no delay_loop: the real server's, else the service's.
    pub delay_loop: Duration,
    /// Start down until the first success (the service's `alpha`).
    pub alpha: bool,
    /// The configured weight (the base of misc_dynamic weights).
    pub weight: i32,
    /// The service's virtualhost: the default Host header / SNI name.
    pub virtualhost: Option<String>,
    /// keepalived's `http_protocol` (default 1.0).
    pub http_version: HttpVersion,
    /// Count `rise` successes / `fall` failures instead of keepalived's retry (tracking
    /// scripts).
    pub rise_fall: Option<(u32, u32)>,
    /// The configuration's track_file blocks that FILE checks name.
    pub track_files: BTreeMap<String, TrackFile>,
}

/// Why a target's checks cannot run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{id}: check {index} ({kind}): {message}")]
pub struct TargetError {
    pub id: String,
    pub index: usize,
    pub kind: &'static str,
    pub message: String,
}

/// A target with its checks ready to run.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub target: CheckTarget,
    pub specs: Vec<Arc<CheckSpec>>,
}

/// keepalived's default when a URL lists no status code.
pub const DEFAULT_STATUS: StatusRange = StatusRange {
    first: 200,
    last: 299,
};

pub fn kind_name(kind: CheckKind) -> &'static str {
    match kind {
        CheckKind::Tcp => "TCP",
        CheckKind::Http => "HTTP",
        CheckKind::Https => "HTTPS",
        CheckKind::Misc => "MISC",
        CheckKind::Ping => "PING",
        CheckKind::Udp => "UDP",
        CheckKind::Smtp => "SMTP",
        CheckKind::Dns => "DNS",
        CheckKind::File => "FILE",
    }
}

impl CheckTarget {
    /// A target with keepalived's defaults (delay_loop 60 s, weight 1, start up).
    pub fn new(id: TargetId, checks: Vec<Check>) -> Self {
        Self {
            id,
            checks,
            delay_loop: Duration::from_secs(60),
            alpha: false,
            weight: 1,
            virtualhost: None,
            http_version: HttpVersion::default(),
            rise_fall: None,
            track_files: BTreeMap::new(),
        }
    }

    /// A real server of a configured service; `service` is the service's key as the engine
    /// names it (e.g. `TCP 192.0.2.100:80`).
    pub fn for_real_server(
        service: impl Into<Arc<str>>,
        vs: &VirtualServer,
        rs: &RealServer,
    ) -> Self {
        let real = SocketAddr::new(rs.ip, rs.port.unwrap_or(0));
        Self {
            delay_loop: rs.delay_loop.unwrap_or(vs.delay_loop).0,
            alpha: vs.alpha,
            weight: rs.weight,
            virtualhost: vs.virtualhost.clone(),
            ..Self::new(TargetId::new(service, real), rs.check.clone())
        }
    }

    /// A real server as the director checks it: [`Self::for_real_server`], with MISC checks
    /// that name no `user` run as the global `script_user` (root when this host has no such
    /// user, as keepalived), and the track_files its FILE checks read.
    pub fn for_configured(
        cfg: &Config,
        service: impl Into<Arc<str>>,
        vs: &VirtualServer,
        rs: &RealServer,
    ) -> Self {
        let mut t = Self::for_real_server(service, vs, rs);
        let script_user = misc::existing_user(cfg.global.script_user.as_deref()).map(String::from);
        for c in t.checks.iter_mut().filter(|c| c.kind == CheckKind::Misc) {
            c.user = c.user.take().or(script_user.clone());
        }
        for name in t.checks.iter().filter_map(|c| c.track_file.as_ref()) {
            if let Some(tf) = cfg.track_file.get(name) {
                t.track_files.insert(name.clone(), tf.clone());
            }
        }
        t
    }

    /// Why each check that cannot run cannot: (index, reason). What `compile` would refuse,
    /// for `lvsdeck check` to say before the daemon meets it.
    pub fn check_errors(&self) -> Vec<(usize, String)> {
        (0..self.checks.len())
            .filter_map(|i| self.compile_check(&self.checks[i]).err().map(|e| (i, e)))
            .collect()
    }

    /// A `vrrp_script`: one script check every interval, counted with rise / fall, its first
    /// run at once. Its id is `vrrp_script NAME` at `0.0.0.0:0`.
    pub fn for_vrrp_script(cfg: &Config, name: &str, s: &VrrpScript) -> Self {
        let mut check = Check::new(CheckKind::Misc);
        check.misc_path = Some(s.script.clone());
        check.misc_timeout = Some(s.timeout.unwrap_or(s.interval));
        check.retry = 0;
        check.warmup = Some(crate::config::model::Dur::ZERO);
        // Its own user, else the global script_user where this host has it (as keepalived).
        check.user = s
            .user
            .clone()
            .or_else(|| misc::existing_user(cfg.global.script_user.as_deref()).map(String::from));
        let id = TargetId::new(
            format!("vrrp_script {name}"),
            SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
        );
        Self {
            delay_loop: s.interval.0,
            rise_fall: Some((s.rise, s.fall)),
            ..Self::new(id, vec![check])
        }
    }

    /// The state before any result: up, or down with alpha (unknown for rise / fall).
    pub fn initial_up(&self) -> Option<bool> {
        match self.rise_fall {
            Some(_) => None,
            None if self.alpha && !self.checks.is_empty() => Some(false),
            None => Some(true),
        }
    }

    /// Resolve every check.
    pub fn compile(&self) -> Result<Compiled, TargetError> {
        let specs = self
            .checks
            .iter()
            .enumerate()
            .map(|(i, c)| {
                self.compile_check(c)
                    .map(Arc::new)
                    .map_err(|message| TargetError {
                        id: self.id.to_string(),
                        index: i,
                        kind: kind_name(c.kind),
                        message,
                    })
            })
            .collect::<Result<_, _>>()?;
        Ok(Compiled {
            target: self.clone(),
            specs,
        })
    }

    fn compile_check(&self, c: &Check) -> Result<CheckSpec, String> {
        let delay_loop = c.delay_loop.map_or(self.delay_loop, |d| d.0);
        if delay_loop.is_zero() {
            return Err("delay_loop must be more than 0".into());
        }
        let default_retry_delay = match c.kind {
            CheckKind::Http | CheckKind::Https => Duration::from_secs(3),
            // keepalived's DNS_CHECK retries after delay_loop.
            CheckKind::Dns => delay_loop,
            _ => Duration::from_secs(1),
        };
        let mut timing = Timing {
            delay_loop,
            delay_before_retry: c.delay_before_retry.map_or(default_retry_delay, |d| d.0),
            warmup: c.warmup.map_or(delay_loop, |d| d.0),
        };
        let mut policy = match self.rise_fall {
            Some((rise, fall)) => Policy::RiseFall { rise, fall },
            None => Policy::Retry { retry: c.retry },
        };
        if c.kind == CheckKind::File {
            // A file is read at once and believed at once (keepalived: has_run, no retry);
            // its watch, not delay_loop, brings changes in.
            timing.warmup = Duration::ZERO;
            policy = Policy::Retry { retry: 0 };
        }
        let (label, probe) = match c.kind {
            CheckKind::Tcp => {
                let conn = self.tcp_probe(c)?;
                (format!("TCP {}", conn.addr), Probe::Tcp(conn))
            }
            CheckKind::Http | CheckKind::Https => {
                let conn = self.tcp_probe(c)?;
                let https = c.kind == CheckKind::Https;
                let http = self.http_probe(c, conn, https)?;
                let mut label = format!(
                    "{} {} {}",
                    kind_name(c.kind),
                    http.conn.addr,
                    http.urls[0].path
                );
                if http.urls.len() > 1 {
                    label.push_str(&format!(" +{}", http.urls.len() - 1));
                }
                (label, Probe::Http(http))
            }
            CheckKind::Misc => {
                let line = c
                    .misc_path
                    .clone()
                    .filter(|l| !l.trim().is_empty())
                    .ok_or("a MISC check needs misc_path")?;
                let user = match &c.user {
                    Some(u) => Some(misc::lookup_user(u).ok_or(format!("unknown user {u}"))?),
                    None => None,
                };
                let timeout = c.misc_timeout.map_or(delay_loop, |d| d.0);
                if timeout.is_zero() {
                    return Err("misc_timeout must be more than 0".into());
                }
                let label = format!("MISC {line}");
                let probe = MiscProbe {
                    line,
                    timeout,
                    dynamic: c.misc_dynamic,
                    user,
                };
                (label, Probe::Misc(probe))
            }
            CheckKind::Ping => {
                let conn = self.address(c)?;
                let probe = PingProbe {
                    addr: conn,
                    timeout: self.connect_timeout(c)?,
                };
                (format!("PING {conn}"), Probe::Ping(probe))
            }
            CheckKind::Udp => {
                let conn = self.tcp_probe(c)?;
                let probe = udp_probe(c, conn)?;
                (format!("UDP {}", probe.addr), Probe::Udp(probe))
            }
            CheckKind::Smtp => {
                let conn = self.tcp_probe(c)?;
                let helo = c.helo_name.clone().unwrap_or(smtp::DEFAULT_HELO.into());
                let label = format!("SMTP {}", conn.addr);
                (label, Probe::Smtp(SmtpProbe { conn, helo }))
            }
            CheckKind::Dns => {
                let conn = self.tcp_probe(c)?;
                let query = dns::question(
                    c.dns_name.as_deref().unwrap_or(dns::DEFAULT_NAME),
                    c.dns_type.as_deref().unwrap_or(dns::DEFAULT_TYPE),
                )?;
                let label = format!("DNS {} {} {}", conn.addr, query.query_type(), query.name());
                let probe = DnsProbe {
                    addr: conn.addr,
                    bind: conn.bind,
                    query,
                    timeout: conn.timeout,
                };
                (label, Probe::Dns(probe))
            }
            CheckKind::File => {
                let name = c
                    .track_file
                    .as_deref()
                    .ok_or("a FILE check needs track_file")?;
                let tf = self
                    .track_files
                    .get(name)
                    .ok_or(format!("track_file `{name}` is not defined"))?;
                let weight = c.file_weight.unwrap_or(tf.weight);
                let reverse = c.file_reverse.unwrap_or(tf.reverse);
                let label = format!("FILE {name} {}", tf.file.display());
                let probe = FileProbe::new(name, tf.file.clone(), i64::from(weight), reverse);
                (label, Probe::File(probe))
            }
        };
        Ok(CheckSpec {
            label: label.into(),
            kind: c.kind,
            timing,
            policy,
            probe,
        })
    }

    /// The address a check goes to: connect_ip, else the real server's.
    fn address(&self, c: &Check) -> Result<IpAddr, String> {
        let ip = c.connect_ip.unwrap_or(self.id.real.ip());
        if ip.is_unspecified() {
            return Err("no address to check; set connect_ip".into());
        }
        Ok(ip)
    }

    fn connect_timeout(&self, c: &Check) -> Result<Duration, String> {
        if c.connect_timeout.is_zero() {
            return Err("connect_timeout must be more than 0".into());
        }
        Ok(c.connect_timeout.0)
    }

    fn tcp_probe(&self, c: &Check) -> Result<TcpProbe, String> {
        let ip = self.address(c)?;
        let port = c.connect_port.unwrap_or(self.id.real.port());
        if port == 0 {
            return Err("no port to check: the real server has none; set connect_port".into());
        }
        let bind = match (c.bind_ip, c.bind_port) {
            (None, None) => None,
            (Some(b), _) if b.is_ipv4() != ip.is_ipv4() => {
                return Err(format!("bind_ip {b} is not of the family of {ip}"));
            }
            (b, p) => {
                let unspecified = if ip.is_ipv4() {
                    IpAddr::V4(Ipv4Addr::UNSPECIFIED)
                } else {
                    IpAddr::V6(Ipv6Addr::UNSPECIFIED)
                };
                Some(SocketAddr::new(b.unwrap_or(unspecified), p.unwrap_or(0)))
            }
        };
        Ok(TcpProbe {
            addr: SocketAddr::new(ip, port),
            bind,
            timeout: self.connect_timeout(c)?,
        })
    }

    fn http_probe(&self, c: &Check, conn: TcpProbe, https: bool) -> Result<HttpProbe, String> {
        if c.url.is_empty() {
            return Err("an HTTP check needs at least one url".into());
        }
        let mut urls = Vec::new();
        for u in &c.url {
            if !u.path.starts_with('/') && !u.path.starts_with("http") {
                return Err(format!("url path `{}` must start with /", u.path));
            }
            if u.path.contains([' ', '\r', '\n']) {
                return Err(format!("url path `{}` has a space or line break", u.path));
            }
            let vhost = u
                .virtualhost
                .as_ref()
                .or(c.virtualhost.as_ref())
                .or(self.virtualhost.as_ref());
            let host = match vhost {
                Some(v) => v.clone(),
                None => conn.addr.to_string(),
            };
            let digest = match &u.digest {
                Some(d) => Some(http_parse::parse_digest(d).ok_or(format!(
                    "digest `{d}` is not 32 hexadecimal digits (an MD5 as genhash prints it)"
                ))?),
                None => None,
            };
            let regex = match &u.regex {
                Some(r) => {
                    Some(regex::bytes::Regex::new(r).map_err(|e| format!("regex `{r}`: {e}"))?)
                }
                None => None,
            };
            let status = if u.status_code.is_empty() {
                vec![DEFAULT_STATUS]
            } else {
                u.status_code.clone()
            };
            let tls = https.then(|| TlsProbe {
                config: tls::client_config(),
                server_name: tls::server_name(
                    c.enable_sni.then_some(vhost.map(String::as_str)).flatten(),
                    conn.addr.ip(),
                ),
            });
            urls.push(UrlProbe {
                path: u.path.clone(),
                request: http::request(&u.path, &host, self.http_version),
                status,
                digest,
                regex,
                regex_no_match: u.regex_no_match,
                tls,
            });
        }
        Ok(HttpProbe {
            read_timeout: conn.timeout,
            conn,
            urls,
        })
    }
}

/// A UDP_CHECK from its connection and keepalived's payload / reply settings.
fn udp_probe(c: &Check, conn: TcpProbe) -> Result<UdpProbe, String> {
    let payload = match &c.payload {
        Some(hex) => udp::parse_hex(hex, false)
            .map_err(|e| format!("payload: {e}"))?
            .into_iter()
            .map(|(b, _)| b)
            .collect(),
        None => udp::DEFAULT_PAYLOAD.to_vec(),
    };
    let reply = match &c.require_reply {
        Some(hex) => Some(udp::Reply {
            pattern: udp::parse_hex(hex, true).map_err(|e| format!("require_reply: {e}"))?,
            min_len: usize::from(c.min_reply_length.unwrap_or(0)),
            max_len: usize::from(c.max_reply_length.unwrap_or(255)),
        }),
        None => None,
    };
    Ok(UdpProbe {
        addr: conn.addr,
        bind: conn.bind,
        payload,
        reply,
        timeout: conn.timeout,
    })
}

impl Compiled {
    /// Fresh checker states for every check (the target's start, or a new check on reload).
    pub fn fresh_state(&self, i: usize) -> CheckState {
        let spec = &self.specs[i];
        CheckState::new(spec.policy, spec.timing, self.target.alpha)
    }
}
