//! Network-namespace topologies: hosts on one LAN, a bridge in a namespace of its own as the
//! switch. Used by `lvsdeck lab` and by the integration tests. Built with iproute2 (`ip`), the
//! tool every operator can use to look at what was made; torn down on drop, and a stale
//! topology of the same name (left by a killed run) is removed before building.

use std::io;
use std::process::{Command, Output, Stdio};

use crate::config::model::IpNet;

/// One host on the LAN: its namespace gets `eth0` with these MAC and addresses.
#[derive(Debug, Clone)]
pub struct HostSpec {
    pub name: String,
    pub mac: [u8; 6],
    pub addrs: Vec<IpNet>,
}

impl HostSpec {
    pub fn new(name: &str, mac_last: u8, addrs: &[&str]) -> Self {
        Self {
            name: name.to_string(),
            mac: [0x02, 0x77, 0, 0, 0, mac_last],
            addrs: addrs
                .iter()
                .map(|a| a.parse().expect("a valid address"))
                .collect(),
        }
    }
}

/// A built topology; dropping it deletes every namespace it made.
#[derive(Debug)]
pub struct Topology {
    prefix: String,
    hosts: Vec<HostSpec>,
    keep: bool,
}

/// Run `ip` with arguments; an error carries the command and its stderr.
pub fn ip(args: &[&str]) -> io::Result<Output> {
    run("ip", args)
}

fn run(program: &str, args: &[&str]) -> io::Result<Output> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "`{program} {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(out)
}

fn mac_text(mac: &[u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The namespaces that exist now.
pub fn namespaces() -> Vec<String> {
    Command::new("ip")
        .args(["netns", "list"])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter_map(|l| l.split_whitespace().next().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Delete every namespace whose name starts with `prefix-` (and the switch).
pub fn remove_all(prefix: &str) {
    for ns in namespaces() {
        if ns == format!("{prefix}-sw") || ns.starts_with(&format!("{prefix}-")) {
            // Processes left inside would keep the namespace's links alive: end them first.
            if let Ok(out) = Command::new("ip").args(["netns", "pids", &ns]).output() {
                for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                    if let Ok(pid) = pid.parse::<i32>() {
                        // SAFETY: kill(2) on a pid the kernel listed in the namespace.
                        unsafe { libc::kill(pid, libc::SIGKILL) };
                    }
                }
            }
            let _ = Command::new("ip").args(["netns", "del", &ns]).status();
        }
    }
}

impl Topology {
    /// Build the hosts on one bridge. `prefix` names the namespaces (`{prefix}-{host}`), so
    /// topologies with different prefixes coexist.
    pub fn build(prefix: &str, hosts: Vec<HostSpec>) -> io::Result<Self> {
        remove_all(prefix);
        let topo = Topology {
            prefix: prefix.to_string(),
            hosts,
            keep: false,
        };
        let sw = topo.switch_ns();
        ip(&["netns", "add", &sw])?;
        ip(&["-n", &sw, "link", "set", "lo", "up"])?;
        // Multicast snooping off: VRRP's 224.0.0.18 must reach every port, as on a plain switch.
        ip(&[
            "-n",
            &sw,
            "link",
            "add",
            "br0",
            "type",
            "bridge",
            "mcast_snooping",
            "0",
        ])?;
        ip(&["-n", &sw, "link", "set", "br0", "up"])?;
        for (i, host) in topo.hosts.iter().enumerate() {
            let ns = topo.ns(&host.name);
            let port = format!("p{i}");
            ip(&["netns", "add", &ns])?;
            ip(&[
                "-n", &sw, "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns",
                &ns,
            ])?;
            ip(&["-n", &sw, "link", "set", &port, "master", "br0", "up"])?;
            ip(&["-n", &ns, "link", "set", "lo", "up"])?;
            ip(&[
                "-n",
                &ns,
                "link",
                "set",
                "eth0",
                "address",
                &mac_text(&host.mac),
            ])?;
            // Test addresses are unique by construction: skip DAD so they work at once.
            topo.sysctl(&host.name, "net.ipv6.conf.eth0.accept_dad", "0")?;
            topo.sysctl(&host.name, "net.ipv6.conf.all.accept_dad", "0")?;
            ip(&["-n", &ns, "link", "set", "eth0", "up"])?;
            for a in &host.addrs {
                let net = a.to_string();
                let mut args = vec![
                    "-n",
                    ns.as_str(),
                    "addr",
                    "add",
                    net.as_str(),
                    "dev",
                    "eth0",
                ];
                if a.addr.is_ipv6() {
                    args.push("nodad");
                }
                ip(&args)?;
            }
        }
        Ok(topo)
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The namespace name of a host.
    pub fn ns(&self, host: &str) -> String {
        format!("{}-{host}", self.prefix)
    }

    pub fn switch_ns(&self) -> String {
        format!("{}-sw", self.prefix)
    }

    pub fn hosts(&self) -> &[HostSpec] {
        &self.hosts
    }

    /// A command that runs inside a host's namespace.
    pub fn command(&self, host: &str, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns(host), program]);
        c
    }

    /// Run a command in a host's namespace and wait for it; an error on failure.
    pub fn exec(&self, host: &str, args: &[&str]) -> io::Result<Output> {
        let ns = self.ns(host);
        let mut all = vec!["netns", "exec", ns.as_str()];
        all.extend_from_slice(args);
        run("ip", &all)
    }

    pub fn sysctl(&self, host: &str, key: &str, value: &str) -> io::Result<()> {
        let setting = format!("{key}={value}");
        self.exec(host, &["sysctl", "-q", "-w", &setting])
            .map(|_| ())
    }

    /// Take a host's LAN port down or up, at the switch (like pulling the cable).
    pub fn set_cable(&self, host: &str, connected: bool) -> io::Result<()> {
        let i = self
            .hosts
            .iter()
            .position(|h| h.name == host)
            .ok_or_else(|| io::Error::other(format!("no host {host}")))?;
        let port = format!("p{i}");
        let state = if connected { "up" } else { "down" };
        ip(&["-n", &self.switch_ns(), "link", "set", &port, state]).map(|_| ())
    }

    /// Take a host's own interface down or up (its link state changes; track_interface sees it).
    pub fn set_link(&self, host: &str, up: bool) -> io::Result<()> {
        let state = if up { "up" } else { "down" };
        ip(&["-n", &self.ns(host), "link", "set", "eth0", state]).map(|_| ())
    }

    /// The addresses configured on a host's eth0, as `ip -br addr` shows them.
    pub fn addresses(&self, host: &str) -> Vec<String> {
        ip(&["-n", &self.ns(host), "-br", "addr", "show", "dev", "eth0"])
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .split_whitespace()
                    .skip(2)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether a host holds `addr` (without prefix) on eth0.
    pub fn holds(&self, host: &str, addr: &str) -> bool {
        self.addresses(host)
            .iter()
            .any(|a| a.split('/').next() == Some(addr))
    }

    /// Leave the namespaces in place when dropped (for `lvsdeck lab`, which removes them itself).
    pub fn keep(mut self) -> Self {
        self.keep = true;
        self
    }

    pub fn teardown(&self) {
        remove_all(&self.prefix);
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        if !self.keep {
            self.teardown();
        }
    }
}
