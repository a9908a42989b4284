//! The director's own settings: ip_vs loaded, the IPVS sysctls the configuration needs, ICMP
//! redirects where NAT forwards, strict reverse-path filtering on the VIP interface, the size
//! of the connection table. Judged from what a [`HostView`] reads, so every rule is tested
//! without touching this host.

use std::net::{IpAddr, Ipv4Addr};

use super::{Finding, Report};
use crate::config::model::{Config, ForwardMethod, Protocol};

/// What the director checks read of the host.
pub trait HostView {
    /// A file's contents (`/proc/sys/...`, `/proc/net/ip_vs`, `/etc/sysctl.conf`).
    fn read(&self, path: &str) -> Option<String>;
    /// The files of a directory, full paths.
    fn list(&self, dir: &str) -> Vec<String>;
    /// The interface the route to `dst` leaves by.
    fn route_iface(&self, dst: Ipv4Addr) -> Option<String>;
}

/// This host.
pub struct ProcSysctl;

impl HostView for ProcSysctl {
    fn read(&self, path: &str) -> Option<String> {
        std::fs::read_to_string(path).ok()
    }

    fn list(&self, dir: &str) -> Vec<String> {
        let mut out: Vec<String> = std::fs::read_dir(dir)
            .map(|d| {
                d.flatten()
                    .map(|e| e.path().display().to_string())
                    .collect()
            })
            .unwrap_or_default();
        out.sort();
        out
    }

    fn route_iface(&self, dst: Ipv4Addr) -> Option<String> {
        super::host::route_to(dst).map(|(_, ifname)| ifname)
    }
}

/// An address no route names specifically: where it goes is where the default route goes.
const ANY_CLIENT: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);

fn value(host: &dyn HostView, path: &str) -> Option<String> {
    host.read(path).map(|v| v.trim().to_string())
}

fn director_finding(check: &str, probed: String, seen: String, why: &str, fix: String) -> Finding {
    Finding {
        check: check.into(),
        host: "this director".into(),
        probed,
        seen,
        why: why.into(),
        fix,
    }
}

pub fn check(config: &Config, host: &dyn HostView, report: &mut Report) {
    check_sysctl_files(host, report);
    check_rp_filter(config, host, report);
    if config.virtual_server.is_empty() {
        return;
    }
    let Some(table) = host.read("/proc/net/ip_vs") else {
        report.find(director_finding(
            "ipvs-missing",
            "/proc/net/ip_vs".into(),
            "absent: the kernel has no IPVS loaded".into(),
            "the configuration has virtual servers, and without the ip_vs module no packet \
             to them is balanced",
            "modprobe ip_vs, and list it in /etc/modules-load.d/ipvs.conf so that it loads \
             at boot"
                .into(),
        ));
        report.skip("IPVS sysctls and table size: ip_vs is not loaded");
        return;
    };
    report.pass("ip_vs is loaded");
    check_expire_nodest(host, report);
    check_sloppy(config, host, report);
    check_redirects(config, host, report);
    check_table_size(&table, host, report);
}

fn check_expire_nodest(host: &dyn HostView, report: &mut Report) {
    let path = "/proc/sys/net/ipv4/vs/expire_nodest_conn";
    match value(host, path).as_deref() {
        Some("0") => report.find(director_finding(
            "expire-nodest-conn",
            path.into(),
            "0".into(),
            "a client that reuses a source port within two minutes of an earlier connection \
             is sent to that connection's real server even after it was drained or removed, \
             and its packets are dropped while the server is gone",
            "sysctl -w net.ipv4.vs.expire_nodest_conn=1, and the same line in \
             /etc/sysctl.d/90-lvsdeck.conf"
                .into(),
        )),
        Some(v) => report.pass(format!("net.ipv4.vs.expire_nodest_conn = {v}")),
        None => report.skip("net.ipv4.vs.expire_nodest_conn: not readable"),
    }
}

/// Maglev (`mh`) is what several active directors share: a flow moved to another director
/// arrives there mid-stream, which IPVS accepts only with sloppy TCP / SCTP.
fn check_sloppy(config: &Config, host: &dyn HostView, report: &mut Report) {
    for (proto, key) in [
        (Protocol::Tcp, "sloppy_tcp"),
        (Protocol::Sctp, "sloppy_sctp"),
    ] {
        let Some(vs) = config
            .virtual_server
            .iter()
            .find(|vs| vs.lvs_sched == "mh" && vs.protocol == proto)
        else {
            continue;
        };
        let path = format!("/proc/sys/net/ipv4/vs/{key}");
        if value(host, &path).as_deref() == Some("0") {
            report.find(director_finding(
                &format!("ipvs-{}", key.replace('_', "-")),
                path.clone(),
                "0".into(),
                "the `mh` scheduler is for directors that share flows; a flow that moves \
                 to this director arrives without its SYN and IPVS drops it unless sloppy",
                format!("sysctl -w net.ipv4.vs.{key}=1 (service {})", describe(vs)),
            ));
        }
    }
}

fn describe(vs: &crate::config::model::VirtualServer) -> String {
    match (vs.ip, vs.port, vs.fwmark) {
        (Some(ip), Some(port), _) => format!("{ip}:{port}"),
        (_, _, Some(mark)) => format!("fwmark {mark}"),
        _ => vs.group.clone().unwrap_or_default(),
    }
}

/// A NAT director forwards the real servers' answers back out of the interface they came in
/// by when clients share the segment; the ICMP redirect it then sends teaches the real
/// server to bypass it, and its next answers reach the client un-NATed.
fn check_redirects(config: &Config, host: &dyn HostView, report: &mut Report) {
    let mut ifaces = std::collections::BTreeSet::new();
    for vs in &config.virtual_server {
        for rs in &vs.real_server {
            let method = rs.lvs_method.unwrap_or(vs.lvs_method);
            if let (ForwardMethod::Nat, IpAddr::V4(ip)) = (method, rs.ip)
                && let Some(ifname) = host.route_iface(ip)
            {
                ifaces.insert(ifname);
            }
        }
    }
    for ifname in ifaces {
        let all = value(host, "/proc/sys/net/ipv4/conf/all/send_redirects");
        let own = value(
            host,
            &format!("/proc/sys/net/ipv4/conf/{ifname}/send_redirects"),
        );
        // The kernel sends redirects when either is set.
        if all.as_deref() == Some("1") || own.as_deref() == Some("1") {
            report.find(director_finding(
                "send-redirects",
                format!("net.ipv4.conf.{{all,{ifname}}}.send_redirects"),
                format!(
                    "all = {}, {ifname} = {}",
                    all.unwrap_or_default(),
                    own.unwrap_or_default()
                ),
                "NAT real servers answer through this interface; an ICMP redirect tells them \
                 to bypass the director, and their next answers reach clients un-NATed",
                format!(
                    "sysctl -w net.ipv4.conf.all.send_redirects=0 \
                     net.ipv4.conf.{}.send_redirects=0 \
                     net.ipv4.conf.default.send_redirects=0",
                    sysctl_name(&ifname)
                ),
            ));
        } else {
            report.pass(format!("no ICMP redirects on {ifname} (NAT)"));
        }
    }
}

/// Strict reverse-path filtering drops a client's packet when the route back to the client
/// leaves by another interface than the one the VIP's traffic arrives on.
fn check_rp_filter(config: &Config, host: &dyn HostView, report: &mut Report) {
    let Some(out) = host.route_iface(ANY_CLIENT) else {
        return;
    };
    let ifaces: std::collections::BTreeSet<&str> = config
        .vrrp_instance
        .values()
        .filter(|i| i.virtual_ipaddress.iter().any(|v| v.address.addr.is_ipv4()))
        .map(|i| i.interface.as_str())
        .collect();
    for ifname in ifaces {
        let read = |who: &str| {
            value(host, &format!("/proc/sys/net/ipv4/conf/{who}/rp_filter"))
                .and_then(|v| v.parse::<u8>().ok())
                .unwrap_or(0)
        };
        let strict = read("all").max(read(ifname)) == 1;
        if strict && out != ifname {
            report.find(director_finding(
                "rp-filter",
                format!("net.ipv4.conf.{{all,{ifname}}}.rp_filter, and the default route"),
                format!("strict (1) on {ifname}, while the default route leaves by {out}"),
                "a client's packet to the VIP arrives on this interface but the route back to \
                 the client leaves by another: strict reverse-path filtering drops it",
                format!(
                    "sysctl -w net.ipv4.conf.{}.rp_filter=2 net.ipv4.conf.all.rp_filter=2 \
                     (loose)",
                    sysctl_name(ifname)
                ),
            ));
        }
    }
}

/// An interface in a sysctl key: sysctl reads dots as separators, so a VLAN's `bond0.100`
/// is written `bond0/100`.
fn sysctl_name(ifname: &str) -> String {
    ifname.replace('.', "/")
}

/// Average connections per hash bucket above which lookups walk long chains.
const CONNS_PER_BUCKET: u64 = 16;

fn check_table_size(table: &str, host: &dyn HostView, report: &mut Report) {
    let param = "/sys/module/ip_vs/parameters/conn_tab_bits";
    let Some(bits) = value(host, param).and_then(|v| v.parse::<u32>().ok()) else {
        report.skip("conn_tab_bits: not readable");
        return;
    };
    let buckets = 1u64 << bits.min(40);
    let conns = connections(table);
    if conns > buckets * CONNS_PER_BUCKET {
        report.find(director_finding(
            "conn-tab-bits",
            format!("{param}, and the connections in /proc/net/ip_vs"),
            format!("{buckets} buckets (bits = {bits}) for {conns} connections"),
            "every packet looks its connection up in this hash table; with more than 16 \
             connections a bucket the lookups walk long chains",
            format!(
                "echo 'options ip_vs conn_tab_bits={}' > /etc/modprobe.d/ip_vs.conf; it takes \
                 effect when ip_vs is next loaded (a reboot)",
                needed_bits(conns)
            ),
        ));
    } else {
        report.pass(format!(
            "connection table: {buckets} buckets for {conns} connections"
        ));
    }
}

fn needed_bits(conns: u64) -> u32 {
    let want = conns.div_ceil(CONNS_PER_BUCKET).max(1);
    (64 - (want - 1).leading_zeros()).clamp(8, 20)
}

/// Active + inactive connections of every real server in `/proc/net/ip_vs`.
pub fn connections(table: &str) -> u64 {
    table
        .lines()
        .filter(|l| l.trim_start().starts_with("->") && !l.contains("RemoteAddress"))
        .filter_map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            let n = cols.len();
            let active = cols.get(n.checked_sub(2)?)?.parse::<u64>().ok()?;
            let inactive = cols.get(n - 1)?.parse::<u64>().ok()?;
            Some(active + inactive)
        })
        .sum()
}

/// `conn_tab_bits` is a module parameter; the article's sysctl line sets nothing (sysctl
/// says "unknown key" at boot, and the operator believes the table grew).
fn check_sysctl_files(host: &dyn HostView, report: &mut Report) {
    let mut files = vec!["/etc/sysctl.conf".to_string()];
    files.extend(host.list("/etc/sysctl.d"));
    for file in files {
        let Some(text) = host.read(&file) else {
            continue;
        };
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.starts_with('#') || !line.contains("net.ipv4.vs.conn_tab_bits") {
                continue;
            }
            let bits = line.rsplit('=').next().unwrap_or("").trim().to_string();
            report.find(director_finding(
                "conn-tab-bits-sysctl",
                format!("{file}:{}", n + 1),
                format!("`{line}`"),
                "conn_tab_bits is a parameter of the ip_vs module, not a sysctl: this line \
                 sets nothing (sysctl reports an unknown key) and the table keeps its size",
                format!(
                    "delete the line; echo 'options ip_vs conn_tab_bits={bits}' > \
                     /etc/modprobe.d/ip_vs.conf (applies when ip_vs is next loaded)"
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests;
