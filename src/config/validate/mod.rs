//! Meaning checks on a parsed [`Config`], shared by both input formats.
//!
//! Findings name a path in the model (`vrrp_instance.VI_1.priority`); each format's loader turns
//! the path into a file:line:column. The only outside fact needed, whether a script file is
//! present and safe, comes in through [`ScriptProbe`] so the checks stay pure.
//!
//! A keepalived.conf is checked with keepalived's leniency ([`Dialect::Keepalived`]): what
//! keepalived logs and then leaves out (a missing notify script, an undefined track_script, a
//! sync group member that is no instance) is a warning whose finding says the part is dropped,
//! and [`remove_dropped`] takes it out of the model, so that nothing runs what keepalived would
//! not. The native TOML keeps these as errors.

mod bfd;
mod bgp;
mod lvs;
mod track_file;
mod vrrp;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::IpAddr;

use super::diag::Severity;
use super::model::*;
use lvs::{check_virtual_server, check_vs_group};
use vrrp::{check_instance, check_sync_groups, check_vrrp_script};

/// Which file format's rules apply where the two differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// lvsdeck's own format: whatever cannot run as written is an error.
    Toml,
    /// keepalived.conf: what keepalived leaves out with a message is left out with a warning.
    Keepalived,
}

/// One step of a path into the model.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Seg {
    Key(String),
    Index(usize),
}

impl From<&str> for Seg {
    fn from(s: &str) -> Self {
        Seg::Key(s.to_string())
    }
}
impl From<&String> for Seg {
    fn from(s: &String) -> Self {
        Seg::Key(s.clone())
    }
}
impl From<usize> for Seg {
    fn from(i: usize) -> Self {
        Seg::Index(i)
    }
}

/// A path into the model, e.g. `virtual_server[0].real_server[1].weight`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ConfPath(pub Vec<Seg>);

impl ConfPath {
    pub fn new() -> Self {
        Self(Vec::new())
    }
    pub fn join(&self, seg: impl Into<Seg>) -> Self {
        let mut p = self.clone();
        p.0.push(seg.into());
        p
    }
}

/// Build a [`ConfPath`] from keys and indexes.
#[macro_export]
macro_rules! conf_path {
    ($($seg:expr),* $(,)?) => {
        $crate::config::validate::ConfPath(vec![$($crate::config::validate::Seg::from($seg)),*])
    };
}
pub use conf_path;

impl fmt::Display for ConfPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            match s {
                Seg::Key(k) if i == 0 => write!(f, "{k}")?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// A problem found in the model, before it is given a place in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub path: ConfPath,
    pub severity: Severity,
    pub message: String,
    pub help: Option<String>,
    /// The part at `path` is left out of the model, as keepalived leaves it out
    /// ([`remove_dropped`]).
    pub drops: bool,
}

impl Finding {
    /// The finding as a diagnostic, placed where the caller found its path in the source.
    pub fn into_diag(
        self,
        place: Option<(&super::diag::SourceFile, std::ops::Range<usize>)>,
    ) -> super::diag::Diag {
        let mut d = super::diag::Diag::error(self.message);
        if let Some((source, span)) = place {
            d = d.at(source, span);
        }
        d.severity = self.severity;
        d.help = self.help;
        d
    }
}

/// What the validator may ask about a script's file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptStatus {
    Ok,
    NotFound,
    NotExecutable,
    /// Writable by a user other than root (or its directory is).
    WritableByOthers,
}

/// The program a script's command line runs, or `None` when it opens with shell syntax
/// (`</dev/tcp/...`, `[ -f x ]`) and names no file to probe.
pub fn script_program(command: &str) -> Option<&str> {
    let program = command
        .split_whitespace()
        .next()?
        .trim_matches(|c| c == '"' || c == '\'');
    (!program.is_empty() && !program.starts_with(['<', '>', '(', '[', '$', '!'])).then_some(program)
}

pub trait ScriptProbe {
    fn probe(&self, program: &str) -> ScriptStatus;
}

/// Probes nothing: for checks of a file meant for another machine, and for tests.
pub struct NoProbe;
impl ScriptProbe for NoProbe {
    fn probe(&self, _: &str) -> ScriptStatus {
        ScriptStatus::Ok
    }
}

/// Looks at this machine's filesystem.
pub struct FsProbe;
impl ScriptProbe for FsProbe {
    fn probe(&self, program: &str) -> ScriptStatus {
        use std::os::unix::fs::PermissionsExt;
        let path = std::path::Path::new(program);
        let resolved = if path.is_absolute() {
            Some(path.to_path_buf())
        } else {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|d| d.join(program))
                    .find(|p| p.is_file())
            })
        };
        let Some(file) = resolved else {
            return ScriptStatus::NotFound;
        };
        let Ok(meta) = std::fs::metadata(&file) else {
            return ScriptStatus::NotFound;
        };
        if meta.permissions().mode() & 0o111 == 0 {
            return ScriptStatus::NotExecutable;
        }
        let unsafe_mode = |m: &std::fs::Metadata| {
            use std::os::unix::fs::MetadataExt;
            m.mode() & 0o002 != 0 || (m.uid() != 0 && m.mode() & 0o020 != 0)
        };
        if unsafe_mode(&meta)
            || file
                .parent()
                .and_then(|d| std::fs::metadata(d).ok())
                .is_some_and(|d| {
                    use std::os::unix::fs::MetadataExt;
                    // A sticky world-writable directory (/tmp) still lets others replace nothing.
                    d.mode() & 0o1000 == 0 && unsafe_mode(&d)
                })
        {
            return ScriptStatus::WritableByOthers;
        }
        ScriptStatus::Ok
    }
}

/// What a script whose program is missing or not executable does to the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Missing {
    /// An error: the file cannot run as written.
    Refuse,
    /// The vrrp_script of this name is disabled with a warning; the VRRP runner probes again
    /// at start and on reload, so nothing is dropped from the model.
    Track(String),
    /// keepalived leaves it out and runs the rest: a warning saying `what` happens (with
    /// "as keepalived does"), and the part is dropped from the model.
    Drop(String),
}

struct Checker<'a> {
    findings: Vec<Finding>,
    probe: &'a dyn ScriptProbe,
    script_security: bool,
    dialect: Dialect,
}

impl Checker<'_> {
    fn push(&mut self, severity: Severity, path: ConfPath, message: String, help: String) {
        self.findings.push(Finding {
            path,
            severity,
            message,
            help: (!help.is_empty()).then_some(help),
            drops: false,
        });
    }

    fn error(&mut self, path: ConfPath, message: impl Into<String>, help: impl Into<String>) {
        self.push(Severity::Error, path, message.into(), help.into());
    }

    fn warn(&mut self, path: ConfPath, message: impl Into<String>, help: impl Into<String>) {
        self.push(Severity::Warning, path, message.into(), help.into());
    }

    /// A warning that takes the part at `path` out of the model, as keepalived does.
    fn drop_part(&mut self, path: ConfPath, message: impl Into<String>, help: impl Into<String>) {
        self.warn(path, message, help);
        if let Some(f) = self.findings.last_mut() {
            f.drops = true;
        }
    }

    /// keepalived's leniency applies: the file is a keepalived.conf.
    fn lenient(&self) -> bool {
        self.dialect == Dialect::Keepalived
    }

    /// In a keepalived.conf, `lenient` (keepalived drops the part); in TOML, an error.
    fn missing(&self, lenient: impl FnOnce() -> String) -> Missing {
        if self.lenient() {
            Missing::Drop(lenient())
        } else {
            Missing::Refuse
        }
    }

    /// A command line's program must exist, be executable and be safe from other users;
    /// `missing` says what happens when it is not there or cannot run.
    fn script(&mut self, path: ConfPath, command: &str, missing: Missing) {
        if command.trim().is_empty() {
            self.error(path, "the script is empty", "give the command to run");
            return;
        }
        let Some(program) = script_program(command) else {
            return;
        };
        let status = self.probe.probe(program);
        let why = match status {
            ScriptStatus::NotFound => "not found",
            _ => "not executable",
        };
        match (status, missing) {
            (ScriptStatus::Ok, _) => {}
            (ScriptStatus::NotFound | ScriptStatus::NotExecutable, Missing::Track(name)) => self
                .warn(
                    path,
                    format!(
                        "script `{program}` is {why}: vrrp_script {name} is disabled, as \
                         keepalived does; the instances tracking it keep their priority"
                    ),
                    "install it (or fix its path or mode) and reload to enable the script",
                ),
            (ScriptStatus::NotFound | ScriptStatus::NotExecutable, Missing::Drop(what)) => self
                .drop_part(
                    path,
                    format!("script `{program}` is {why}: {what}"),
                    "install it (or fix its path or mode) and reload to enable it",
                ),
            (ScriptStatus::NotFound, Missing::Refuse) => self.error(
                path,
                format!("script `{program}` not found"),
                "give the absolute path of an existing program",
            ),
            (ScriptStatus::NotExecutable, Missing::Refuse) => self.error(
                path,
                format!("script `{program}` is not executable"),
                format!("chmod 755 {program}"),
            ),
            (ScriptStatus::WritableByOthers, _) if self.script_security => self.error(
                path,
                format!("script `{program}` is writable by users other than root"),
                format!(
                    "chmod go-w {program} (and its directory), or turn off enable_script_security"
                ),
            ),
            (ScriptStatus::WritableByOthers, _) => self.warn(
                path,
                format!("script `{program}` is writable by users other than root"),
                format!("chmod go-w {program}; enable_script_security would refuse it"),
            ),
        }
    }
}

/// Check a whole configuration; no error among the findings means it can run.
pub fn validate(cfg: &Config, probe: &dyn ScriptProbe, dialect: Dialect) -> Vec<Finding> {
    let mut c = Checker {
        findings: Vec::new(),
        probe,
        script_security: cfg.global.enable_script_security,
        dialect,
    };
    check_global(&mut c, &cfg.global);
    for (name, script) in &cfg.vrrp_script {
        check_vrrp_script(&mut c, name, script);
    }
    let mut vrid_seen: BTreeMap<(String, u8, bool), String> = BTreeMap::new();
    for (name, inst) in &cfg.vrrp_instance {
        check_instance(&mut c, cfg, name, inst);
        let v6 = inst
            .virtual_ipaddress
            .first()
            .is_some_and(|v| v.address.addr.is_ipv6());
        let key = (inst.interface.clone(), inst.virtual_router_id, v6);
        if let Some(other) = vrid_seen.get(&key) {
            c.error(
                conf_path!["vrrp_instance", name, "virtual_router_id"],
                format!(
                    "virtual_router_id {} is already used on {} by instance {other}",
                    inst.virtual_router_id, inst.interface
                ),
                "each instance on an interface needs its own VRID (1-255) per address family",
            );
        } else {
            vrid_seen.insert(key, name.clone());
        }
    }
    check_sync_groups(&mut c, cfg);
    track_file::check_track_files(&mut c, cfg);
    bfd::check_bfd_instances(&mut c, cfg);
    bgp::check_bgp(&mut c, cfg);
    for (name, group) in &cfg.virtual_server_group {
        check_vs_group(&mut c, name, group);
    }
    let mut vs_seen: BTreeMap<String, usize> = BTreeMap::new();
    for (i, vs) in cfg.virtual_server.iter().enumerate() {
        check_virtual_server(&mut c, cfg, i, vs);
        let key = format!("{}/{:?}", vs_key(vs), vs.protocol);
        if let Some(first) = vs_seen.insert(key.clone(), i) {
            c.error(
                conf_path!["virtual_server", i],
                format!(
                    "virtual server {} is defined twice (first as virtual_server[{first}])",
                    vs_key(vs)
                ),
                "merge the two definitions",
            );
        }
    }
    if let Some(sync) = &cfg.global.lvs_sync_daemon
        && let Some(inst) = &sync.instance
        && !cfg.vrrp_instance.contains_key(inst)
    {
        c.error(
            conf_path!["global", "lvs_sync_daemon", "instance"],
            format!("lvs_sync_daemon names instance `{inst}`, which is not defined"),
            "name a vrrp_instance of this file",
        );
    }
    if let Some(t) = &cfg.console.theme
        && t.is_empty()
    {
        c.error(
            conf_path!["console", "theme"],
            "the theme name is empty",
            "use e.g. \"dark\"",
        );
    }
    c.findings
}

fn check_global(c: &mut Checker, g: &Global) {
    let path = conf_path!["global"];
    for (key, interval) in [
        ("vrrp_garp_interval", g.vrrp_garp_interval),
        ("vrrp_gna_interval", g.vrrp_gna_interval),
    ] {
        if interval.is_some_and(|d| d.is_zero()) {
            c.error(
                path.join(key),
                format!("{key} must be more than 0"),
                "leave it out to send the packets back to back",
            );
        }
    }
    for (key, group, default) in [
        (
            "vrrp_mcast_group4",
            g.vrrp_mcast_group4.map(IpAddr::V4),
            "224.0.0.18",
        ),
        (
            "vrrp_mcast_group6",
            g.vrrp_mcast_group6.map(IpAddr::V6),
            "ff02::12",
        ),
    ] {
        if let Some(ip) = group
            && !ip.is_multicast()
        {
            c.error(
                path.join(key),
                format!("{ip} is not a multicast address"),
                format!("the default is {default}"),
            );
        }
    }
    if g.default_interface.as_deref() == Some("") {
        c.error(
            path.join("default_interface"),
            "the interface name is empty",
            "",
        );
    }
}

/// Take out of `cfg` the parts the findings drop (`Finding::drops`), as keepalived leaves them
/// out: a notify or quorum script, a MISC_CHECK, a track_script entry, a sync group member or a
/// whole sync group. Later entries of a list go first, so earlier indexes stay right.
pub fn remove_dropped(cfg: &mut Config, findings: &[Finding]) {
    let mut paths: Vec<&ConfPath> = findings
        .iter()
        .filter(|f| f.drops)
        .map(|f| &f.path)
        .collect();
    paths.sort_by_key(|p| std::cmp::Reverse(sort_key(p)));
    paths.dedup();
    for path in paths {
        remove_at(cfg, &path.0);
    }
}

fn sort_key(p: &ConfPath) -> Vec<(String, usize)> {
    p.0.iter()
        .map(|s| match s {
            Seg::Key(k) => (k.clone(), 0),
            Seg::Index(i) => (String::new(), *i),
        })
        .collect()
}

fn remove_at(cfg: &mut Config, path: &[Seg]) {
    use Seg::{Index as I, Key as K};
    match path {
        [K(top), K(name), K(n), K(which)] if n == "notify" => {
            let notify = match top.as_str() {
                "vrrp_instance" => cfg.vrrp_instance.get_mut(name).map(|i| &mut i.notify),
                _ => cfg.vrrp_sync_group.get_mut(name).map(|g| &mut g.notify),
            };
            if let Some(n) = notify {
                *notify_slot(n, which) = None;
            }
        }
        [K(top), K(name), K(list), I(i)] if top == "vrrp_instance" && list == "track_script" => {
            if let Some(inst) = cfg.vrrp_instance.get_mut(name)
                && *i < inst.track_script.len()
            {
                inst.track_script.remove(*i);
            }
        }
        [K(top), K(name), K(list), I(i)] if top == "vrrp_instance" && list == "track_file" => {
            if let Some(inst) = cfg.vrrp_instance.get_mut(name)
                && *i < inst.track_file.len()
            {
                inst.track_file.remove(*i);
            }
        }
        [K(top), K(name), K(list), I(i)] if top == "vrrp_sync_group" && list == "group" => {
            if let Some(g) = cfg.vrrp_sync_group.get_mut(name)
                && *i < g.group.len()
            {
                g.group.remove(*i);
            }
        }
        [K(top), K(name)] if top == "vrrp_sync_group" => {
            cfg.vrrp_sync_group.remove(name);
        }
        [K(top), I(v), rest @ ..] if top == "virtual_server" => {
            let Some(vs) = cfg.virtual_server.get_mut(*v) else {
                return;
            };
            match rest {
                [K(k)] if k == "quorum_up" => vs.quorum_up = None,
                [K(k)] if k == "quorum_down" => vs.quorum_down = None,
                [K(_), I(r), tail @ ..] => {
                    let Some(rs) = vs.real_server.get_mut(*r) else {
                        return;
                    };
                    match tail {
                        [K(k)] if k == "notify_up" => rs.notify_up = None,
                        [K(k)] if k == "notify_down" => rs.notify_down = None,
                        [K(_), I(c), ..] if *c < rs.check.len() => {
                            rs.check.remove(*c);
                        }
                        _ => {}
                    }
                }
                _ => {}
            }
        }
        _ => debug_assert!(false, "nothing to drop at {}", ConfPath(path.to_vec())),
    }
}

/// The notify script of a state (`master`, `backup`, `fault`, `stop`, `any`).
fn notify_slot<'n>(n: &'n mut Notify, which: &str) -> &'n mut Option<String> {
    match which {
        "master" => &mut n.master,
        "backup" => &mut n.backup,
        "fault" => &mut n.fault,
        "stop" => &mut n.stop,
        _ => &mut n.any,
    }
}

/// How a virtual service is shown to people: `192.0.2.1:80`, `fwmark 1`, `group VSG`.
pub fn vs_key(vs: &VirtualServer) -> String {
    match (&vs.ip, vs.port, vs.fwmark, &vs.group) {
        (Some(IpAddr::V6(ip)), Some(port), _, _) => format!("[{ip}]:{port}"),
        (Some(ip), Some(port), _, _) => format!("{ip}:{port}"),
        (_, _, Some(mark), _) => format!("fwmark {mark}"),
        (_, _, _, Some(g)) => format!("group {g}"),
        _ => "(no address)".into(),
    }
}
