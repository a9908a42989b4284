//! FRR's `bfdd` (Debian's frr) as a BFD peer in a host's namespace: a daemon of its own with
//! every file in one directory (no zebra: sessions by peer and local address need none), and
//! vtysh to read its sessions as JSON and change their intervals.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use lvsdeck::lab::netns::Topology;

use super::{Proc, TempDir};

pub const BFDD: &str = "/usr/lib/frr/bfdd";

/// One peer of the daemon: (peer address, local address, rx ms, tx ms, multiplier).
pub struct Peer<'a> {
    pub peer: &'a str,
    pub local: &'a str,
    pub rx_ms: u32,
    pub tx_ms: u32,
    pub mult: u8,
}

pub struct Frr {
    pub dir: PathBuf,
    pub proc: Option<Proc>,
    host: String,
    ns: String,
}

impl Frr {
    /// Start bfdd in `host`'s namespace with these peers; its files under `dir/frr-HOST`.
    pub fn start(topo: &Topology, host: &str, peers: &[Peer], dir: &TempDir) -> Frr {
        let d = dir.0.join(format!("frr-{host}"));
        std::fs::create_dir_all(&d).unwrap();
        let mut conf = format!(
            "log file {}/bfdd.log debugging\nlog timestamp precision 6\ndebug bfd peer\ndebug bfd network\n!\nbfd\n",
            d.display()
        );
        for p in peers {
            conf += &format!(
                " peer {} local-address {}\n  detect-multiplier {}\n  receive-interval {}\n  transmit-interval {}\n exit\n !\n",
                p.peer, p.local, p.mult, p.rx_ms, p.tx_ms
            );
        }
        conf += "exit\n";
        std::fs::write(d.join("bfdd.conf"), conf).unwrap();
        std::fs::write(d.join("vtysh.conf"), "").unwrap();
        // bfdd drops root for the frr user, which must own its directory.
        let ok = Command::new("chown")
            .args(["-R", "frr:frr", d.to_str().unwrap()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "chown frr {}", d.display());
        let mut frr = Frr {
            dir: d,
            proc: None,
            host: host.to_string(),
            ns: topo.ns(host),
        };
        frr.restart();
        frr
    }

    /// (Re)start the daemon, in the foreground, with the same configuration.
    pub fn restart(&mut self) {
        self.proc = None;
        let d = self.dir.to_str().unwrap().to_string();
        let args = [
            "-u".to_string(),
            "frr".into(),
            "-g".into(),
            "frr".into(),
            "-P".into(),
            "0".into(),
            "-f".into(),
            format!("{d}/bfdd.conf"),
            "-i".into(),
            format!("{d}/bfdd.pid"),
            "--vty_socket".into(),
            d.clone(),
            "-z".into(),
            format!("{d}/zserv.api"),
            "--bfdctl".into(),
            format!("{d}/bfdd.sock"),
        ];
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.proc = Some(Proc::spawn_in(
            &self.ns,
            BFDD,
            &args,
            &[],
            self.dir.join("stdout.log"),
        ));
        let vty = self.dir.join("bfdd.vty");
        let up = super::wait_until(Duration::from_secs(10), || vty.exists());
        assert!(
            up.is_some(),
            "bfdd on {} did not start: {}",
            self.host,
            self.log()
        );
    }

    /// SIGKILL: no AdminDown, the peer must detect it.
    pub fn kill(&mut self) {
        if let Some(p) = &self.proc {
            p.signal(libc::SIGKILL);
        }
        if let Some(mut p) = self.proc.take() {
            p.wait_exit(Duration::from_secs(5));
        }
        let _ = std::fs::remove_file(self.dir.join("bfdd.vty"));
        let _ = std::fs::remove_file(self.dir.join("bfdd.pid"));
    }

    pub fn vtysh(&self, commands: &[&str]) -> String {
        let d = self.dir.to_str().unwrap();
        let mut c = Command::new("vtysh");
        c.args(["--vty_socket", d, "--config_dir", d, "-d", "bfdd"]);
        for cmd in commands {
            c.args(["-c", cmd]);
        }
        let out = c.output().expect("vtysh");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `show bfd peers json`: one object per session.
    pub fn peers(&self) -> Vec<serde_json::Value> {
        serde_json::from_str(&self.vtysh(&["show bfd peers json"])).unwrap_or_default()
    }

    /// The session to `peer` from `local`.
    pub fn peer(&self, peer: &str, local: &str) -> Option<serde_json::Value> {
        self.peers()
            .into_iter()
            .find(|p| p["peer"] == peer && p["local"] == local)
    }

    /// New intervals for a session at run time (bfdd starts a Poll Sequence).
    pub fn set_intervals(&self, peer: &str, local: &str, tx_ms: u32, rx_ms: u32) {
        self.vtysh(&[
            "configure terminal",
            "bfd",
            &format!("peer {peer} local-address {local}"),
            &format!("transmit-interval {tx_ms}"),
            &format!("receive-interval {rx_ms}"),
        ]);
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("bfdd.log")).unwrap_or_default()
            + &std::fs::read_to_string(self.dir.join("stdout.log")).unwrap_or_default()
    }
}

impl Drop for Frr {
    fn drop(&mut self) {
        self.kill();
    }
}
