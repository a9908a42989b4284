//! Before the console runs the engines itself (`--embedded`): is anyone else already the
//! router of these VRIDs? A keepalived process, or adverts for a VRID this configuration
//! would run heard on its interfaces. Starting beside them would take (or drop) VIPs a
//! working director holds, so the embedded console refuses instead.

use std::collections::BTreeSet;
use std::mem::MaybeUninit;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

use crate::config::model::Config;

/// keepalived processes that can hold this host's addresses: those in this process's network
/// namespace (their pids), from /proc. One whose namespace cannot be read counts (when unsure,
/// assume it shares ours); one in another namespace (a container, a lab host) does not.
pub fn keepalived_pids() -> Vec<u32> {
    keepalived_pids_in(net_namespace("self").as_deref())
}

/// keepalived processes in network namespace `ns` (`net:[inode]`, as /proc/PID/ns/net reads;
/// None: every one on the host).
pub fn keepalived_pids_in(ns: Option<&str>) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim_end() == "keepalived")
        })
        .filter(|pid| match (ns, net_namespace(&pid.to_string())) {
            (Some(ours), Some(theirs)) => ours == theirs,
            _ => true,
        })
        .collect()
}

/// A process's network namespace (`self` or a pid), as `net:[inode]`.
pub fn net_namespace(pid: &str) -> Option<String> {
    let link = std::fs::read_link(format!("/proc/{pid}/ns/net")).ok()?;
    Some(link.to_string_lossy().into_owned())
}

/// One advert heard: (VRID, family is IPv6, source).
pub type Heard = (u8, bool, IpAddr);

/// The VRID of a VRRP message (the IP payload), if it is an advertisement (type 1) of
/// version 2 or 3.
pub fn advert_vrid(msg: &[u8]) -> Option<u8> {
    let (&first, &vrid) = (msg.first()?, msg.get(1)?);
    (matches!(first >> 4, 2 | 3) && first & 0x0f == 1).then_some(vrid)
}

/// Listen on the configured instances' interfaces for `wait`: the adverts heard for VRIDs
/// this configuration runs (same family). Joins the VRRP groups on those interfaces.
pub fn adverts_for_our_vrids(config: &Config, wait: Duration) -> std::io::Result<Vec<Heard>> {
    let ours: BTreeSet<(u8, bool)> = config
        .vrrp_instance
        .values()
        .map(|i| {
            let v6 = i
                .virtual_ipaddress
                .first()
                .is_some_and(|v| v.address.addr.is_ipv6());
            (i.virtual_router_id, v6)
        })
        .collect();
    if ours.is_empty() {
        return Ok(Vec::new());
    }
    let ifaces: BTreeSet<&str> = config
        .vrrp_instance
        .values()
        .map(|i| i.interface.as_str())
        .collect();
    let v4 = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(112)))?;
    let v6 = Socket::new(Domain::IPV6, Type::RAW, Some(Protocol::from(112)))?;
    for name in &ifaces {
        let Ok(index) = if_index(name) else { continue };
        // Best effort: an interface without an IPv4 address cannot join by index here.
        let _ = v4.join_multicast_v4_n(
            &Ipv4Addr::new(224, 0, 0, 18),
            &socket2::InterfaceIndexOrAddress::Index(index),
        );
        let _ = v6.join_multicast_v6(&Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12), index);
    }
    let deadline = Instant::now() + wait;
    let mut heard = BTreeSet::new();
    let mut buf = [MaybeUninit::<u8>::uninit(); 1500];
    v4.set_nonblocking(true)?;
    v6.set_nonblocking(true)?;
    while Instant::now() < deadline {
        let mut idle = true;
        for (sock, is_v6) in [(&v4, false), (&v6, true)] {
            let Ok((n, from)) = sock.recv_from(&mut buf) else {
                continue;
            };
            idle = false;
            // SAFETY: recv_from initialised the first n bytes.
            let bytes: &[u8] = unsafe { std::slice::from_raw_parts(buf.as_ptr().cast(), n) };
            // A raw IPv4 socket hands the IP header too; an IPv6 one the payload only.
            let msg = if is_v6 {
                bytes
            } else {
                let hl = usize::from(bytes.first().map_or(0, |b| b & 0x0f)) * 4;
                bytes.get(hl..).unwrap_or(&[])
            };
            let (Some(vrid), Some(src)) = (advert_vrid(msg), from.as_socket().map(|s| s.ip()))
            else {
                continue;
            };
            if ours.contains(&(vrid, is_v6)) {
                heard.insert((vrid, is_v6, src));
            }
        }
        if idle {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    Ok(heard.into_iter().collect())
}

fn if_index(name: &str) -> std::io::Result<u32> {
    let c = std::ffi::CString::new(name).map_err(std::io::Error::other)?;
    // SAFETY: if_nametoindex reads a NUL-terminated string.
    match unsafe { libc::if_nametoindex(c.as_ptr()) } {
        0 => Err(std::io::Error::last_os_error()),
        i => Ok(i),
    }
}

/// The advert interval of the slowest configured instance (zero without instances).
pub fn slowest_advert(config: &Config) -> Duration {
    config
        .vrrp_instance
        .values()
        .map(|i| i.advert_int.0)
        .max()
        .unwrap_or(Duration::ZERO)
}

/// How long to listen: three adverts of the slowest configured instance, 1 to 4 s.
pub fn listen_time(config: &Config) -> Duration {
    (slowest_advert(config) * 3 + Duration::from_millis(200))
        .clamp(Duration::from_secs(1), Duration::from_secs(4))
}

/// Why the engines must not start here, if anything says so.
pub fn reasons_not_to_start(config: &Config) -> Vec<String> {
    let mut out: Vec<String> = keepalived_pids()
        .into_iter()
        .map(|pid| format!("keepalived runs on this host (pid {pid})"))
        .collect();
    if config.vrrp_instance.is_empty() {
        return out;
    }
    match adverts_for_our_vrids(config, listen_time(config)) {
        Ok(heard) => out.extend(heard.into_iter().map(|(vrid, v6, src)| {
            let fam = if v6 { "IPv6" } else { "IPv4" };
            format!("{src} advertises VRID {vrid} ({fam}), which this configuration runs")
        })),
        Err(e) => out.push(format!("cannot listen for VRRP adverts ({e})")),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_read_as_net_inode() {
        let ours = net_namespace("self").expect("/proc/self/ns/net");
        assert!(ours.starts_with("net:[") && ours.ends_with(']'), "{ours}");
        assert_eq!(net_namespace(&std::process::id().to_string()), Some(ours));
        assert_eq!(net_namespace("0"), None);
    }

    #[test]
    fn only_advertisements_give_a_vrid() {
        assert_eq!(advert_vrid(&[0x21, 51, 100]), Some(51), "v2 advert");
        assert_eq!(advert_vrid(&[0x31, 7]), Some(7), "v3 advert");
        assert_eq!(advert_vrid(&[0x22, 51]), None, "type 2 is not an advert");
        assert_eq!(advert_vrid(&[0x41, 51]), None, "version 4");
        assert_eq!(advert_vrid(&[0x21]), None, "too short");
    }

    #[test]
    fn listening_lasts_three_adverts_within_bounds() {
        let with = |advert: &str| -> Config {
            toml::from_str(&format!(
                "[vrrp_instance.VI]\ninterface = \"eth0\"\nvirtual_router_id = 1\npriority = 100\n\
                 advert_int = \"{advert}\"\nvirtual_ipaddress = [{{ address = \"10.0.0.1/24\" }}]\n"
            ))
            .unwrap_or_else(|e| panic!("{e}"))
        };
        assert_eq!(listen_time(&Config::default()), Duration::from_secs(1));
        assert_eq!(listen_time(&with("1s")), Duration::from_millis(3200));
        assert_eq!(listen_time(&with("100ms")), Duration::from_secs(1));
        assert_eq!(listen_time(&with("5s")), Duration::from_secs(4));
    }
}
