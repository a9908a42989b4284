//! Meaning checks on a parsed [`Config`], shared by both input formats.
//!
//! Findings name a path in the model (`vrrp_instance.VI_1.priority`); each format's loader turns
//! the path into a file:line:column. The only outside fact needed, whether a script file is
//! present and safe, comes in through [`ScriptProbe`] so the checks stay pure.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::IpAddr;

use super::diag::Severity;
use super::model::*;

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

struct Checker<'a> {
    findings: Vec<Finding>,
    probe: &'a dyn ScriptProbe,
    script_security: bool,
}

impl Checker<'_> {
    fn error(&mut self, path: ConfPath, message: impl Into<String>, help: impl Into<String>) {
        let help = help.into();
        self.findings.push(Finding {
            path,
            severity: Severity::Error,
            message: message.into(),
            help: (!help.is_empty()).then_some(help),
        });
    }

    fn warn(&mut self, path: ConfPath, message: impl Into<String>, help: impl Into<String>) {
        let help = help.into();
        self.findings.push(Finding {
            path,
            severity: Severity::Warning,
            message: message.into(),
            help: (!help.is_empty()).then_some(help),
        });
    }

    /// A command line's program must exist, be executable and be safe from other users.
    fn script(&mut self, path: ConfPath, command: &str) {
        self.script_or_disabled(path, command, None);
    }

    /// As [`Checker::script`]; for a tracking script (`disabled` names it), a program that is
    /// missing or not executable is a warning: the script is disabled, as keepalived does, so
    /// that a configuration brought from another host still starts.
    fn script_or_disabled(&mut self, path: ConfPath, command: &str, disabled: Option<&str>) {
        if command.trim().is_empty() {
            self.error(path, "the script is empty", "give the command to run");
            return;
        }
        let Some(program) = script_program(command) else {
            return;
        };
        let status = self.probe.probe(program);
        match (status, disabled) {
            (ScriptStatus::NotFound | ScriptStatus::NotExecutable, Some(name)) => self.warn(
                path,
                format!(
                    "script `{program}` is {}: vrrp_script {name} is disabled, as keepalived \
                     does; the instances tracking it keep their priority",
                    if status == ScriptStatus::NotFound {
                        "not found"
                    } else {
                        "not executable"
                    }
                ),
                "install it (or fix its path or mode) and reload to enable the script",
            ),
            (ScriptStatus::Ok, _) => {}
            (ScriptStatus::NotFound, None) => self.error(
                path,
                format!("script `{program}` not found"),
                "give the absolute path of an existing program",
            ),
            (ScriptStatus::NotExecutable, None) => self.error(
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

/// Check a whole configuration; an empty result means it can run.
pub fn validate(cfg: &Config, probe: &dyn ScriptProbe) -> Vec<Finding> {
    let mut c = Checker {
        findings: Vec::new(),
        probe,
        script_security: cfg.global.enable_script_security,
    };
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
    let mut grouped: BTreeMap<&str, &str> = BTreeMap::new();
    for (gname, group) in &cfg.vrrp_sync_group {
        if group.group.is_empty() {
            c.error(
                conf_path!["vrrp_sync_group", gname, "group"],
                "a sync group needs at least one instance",
                "list the vrrp_instance names that must change state together",
            );
        }
        for (i, member) in group.group.iter().enumerate() {
            let path = conf_path!["vrrp_sync_group", gname, "group", i];
            if !cfg.vrrp_instance.contains_key(member) {
                let help = match super::diag::suggest(
                    member,
                    cfg.vrrp_instance.keys().map(String::as_str),
                ) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => "name a vrrp_instance defined in this file".into(),
                };
                c.error(
                    path,
                    format!("sync group member `{member}` is not a vrrp_instance"),
                    help,
                );
            } else if let Some(other) = grouped.insert(member, gname) {
                c.error(
                    path,
                    format!("instance `{member}` is already in sync group `{other}`"),
                    "an instance can belong to one sync group only",
                );
            }
        }
    }
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

fn check_vrrp_script(c: &mut Checker, name: &str, s: &VrrpScript) {
    let path = conf_path!["vrrp_script", name];
    c.script_or_disabled(path.join("script"), &s.script, Some(name));
    if s.interval.is_zero() {
        c.error(
            path.join("interval"),
            "interval must be more than 0",
            "e.g. interval = \"2s\"",
        );
    }
    if let Some(t) = s.timeout
        && t > s.interval
    {
        c.warn(
            path.join("timeout"),
            format!("timeout {t} is longer than the interval {}", s.interval),
            "runs will overlap; shorten the timeout",
        );
    }
    if !(-253..=253).contains(&s.weight) {
        c.error(
            path.join("weight"),
            format!("weight {} is outside -253..253", s.weight),
            "a weight moves the priority within 1-254",
        );
    }
    if s.rise == 0 || s.fall == 0 {
        c.error(
            path.join(if s.rise == 0 { "rise" } else { "fall" }),
            "rise and fall must be at least 1",
            "",
        );
    }
}

fn check_instance(c: &mut Checker, cfg: &Config, name: &str, inst: &VrrpInstance) {
    let path = conf_path!["vrrp_instance", name];
    if !(2..=3).contains(&inst.version) {
        c.error(
            path.join("version"),
            format!("VRRP version {} is not supported", inst.version),
            "use 2 (RFC 3768) or 3 (RFC 9568)",
        );
    }
    if inst.virtual_router_id == 0 {
        c.error(
            path.join("virtual_router_id"),
            "virtual_router_id 0 is not valid",
            "use 1 to 255",
        );
    }
    if inst.priority == 0 {
        c.error(
            path.join("priority"),
            "priority 0 is reserved for a master giving up",
            "use 1 to 254, or 255 for the address owner",
        );
    }
    let adv = inst.advert_int.0;
    let ms = adv.as_millis();
    if inst.version == 2 && (adv.subsec_nanos() != 0 || !(1..=255).contains(&adv.as_secs())) {
        c.error(
            path.join("advert_int"),
            format!("advert_int {} is not valid for VRRPv2", inst.advert_int),
            "VRRPv2 sends whole seconds from 1s to 255s; use version = 3 for sub-second adverts",
        );
    }
    if inst.version == 3
        && (!adv.as_micros().is_multiple_of(10_000) || !(10..=40_950).contains(&ms))
    {
        c.error(
            path.join("advert_int"),
            format!("advert_int {} is not valid for VRRPv3", inst.advert_int),
            "VRRPv3 counts centiseconds: 10ms to 40.95s in steps of 10ms",
        );
    }
    if let Some(pass) = &inst.auth_pass {
        if inst.version == 3 {
            c.error(
                path.join("auth_pass"),
                "authentication is not part of VRRPv3 (RFC 9568 removed it)",
                "remove auth_pass, or use version = 2",
            );
        } else if pass.is_empty() || pass.len() > 8 {
            c.error(
                path.join("auth_pass"),
                format!("auth_pass must be 1 to 8 characters, not {}", pass.len()),
                "VRRPv2 carries at most 8 bytes of password",
            );
        }
    }
    if inst.virtual_ipaddress.is_empty() {
        c.error(
            path.join("virtual_ipaddress"),
            "an instance needs at least one virtual address",
            "add e.g. virtual_ipaddress = [{ address = \"192.0.2.100/24\" }]",
        );
    }
    let family_v6 = inst
        .virtual_ipaddress
        .first()
        .map(|v| v.address.addr.is_ipv6());
    for (i, vip) in inst.virtual_ipaddress.iter().enumerate() {
        if Some(vip.address.addr.is_ipv6()) != family_v6 {
            c.error(
                path.join("virtual_ipaddress").join(i),
                format!(
                    "{} is not of the same address family as the first VIP",
                    vip.address.addr
                ),
                "an instance advertises one family; make a second instance for the other",
            );
        }
        if vip.address.addr.is_unspecified() || vip.address.addr.is_multicast() {
            c.error(
                path.join("virtual_ipaddress").join(i),
                format!("{} cannot be a virtual address", vip.address.addr),
                "use a unicast address",
            );
        }
        if let Some(label) = &vip.label
            && label.len() > 15
        {
            c.error(
                path.join("virtual_ipaddress").join(i).join("label"),
                format!("label `{label}` is longer than 15 characters"),
                "Linux limits address labels to 15 characters",
            );
        }
    }
    if family_v6 == Some(true) && inst.version == 2 {
        c.error(
            path.join("version"),
            "VRRPv2 is IPv4 only",
            "use version = 3 for IPv6 virtual addresses",
        );
    }
    for (i, peer) in inst.unicast_peer.iter().enumerate() {
        if family_v6.is_some_and(|v6| v6 != peer.is_ipv6()) {
            c.error(
                path.join("unicast_peer").join(i),
                format!("unicast peer {peer} is not of the VIPs' address family"),
                "",
            );
        }
    }
    if let Some(src) = inst.unicast_src_ip
        && family_v6.is_some_and(|v6| v6 != src.is_ipv6())
    {
        c.error(
            path.join("unicast_src_ip"),
            format!("{src} is not of the VIPs' address family"),
            "",
        );
    }
    if !inst.preempt && !inst.preempt_delay.is_zero() {
        c.warn(
            path.join("preempt_delay"),
            "preempt_delay has no effect with preempt = false",
            "remove one of them",
        );
    }
    if inst.preempt_delay.0.as_secs() > 1000 {
        c.error(
            path.join("preempt_delay"),
            "preempt_delay is at most 1000s",
            "",
        );
    }
    for (i, t) in inst.track_script.iter().enumerate() {
        if !cfg.vrrp_script.contains_key(&t.name) {
            let help =
                match super::diag::suggest(&t.name, cfg.vrrp_script.keys().map(String::as_str)) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => "define it as a vrrp_script".into(),
                };
            c.error(
                path.join("track_script").join(i),
                format!("track_script `{}` is not a defined vrrp_script", t.name),
                help,
            );
        }
        if let Some(w) = t.weight
            && !(-253..=253).contains(&w)
        {
            c.error(
                path.join("track_script").join(i).join("weight"),
                format!("weight {w} is outside -253..253"),
                "",
            );
        }
    }
    for (i, t) in inst.track_interface.iter().enumerate() {
        if !(-253..=253).contains(&t.weight) {
            c.error(
                path.join("track_interface").join(i).join("weight"),
                format!("weight {} is outside -253..253", t.weight),
                "",
            );
        }
    }
    for (key, script) in notify_scripts(&inst.notify) {
        c.script(path.join("notify").join(key), script);
    }
    if let Some(g) = inst.handover_grace
        && (g.is_zero() || g.0 > std::time::Duration::from_secs(10))
    {
        c.error(
            path.join("handover_grace"),
            format!("handover_grace {g} is outside 0-10s"),
            "a request under way needs well under a second; e.g. handover_grace = \"2s\"",
        );
    }
    if inst.priority == 255 && !inst.preempt {
        c.warn(
            path.join("preempt"),
            "an address owner (priority 255) always takes over; preempt = false has no effect",
            "",
        );
    }
}

fn notify_scripts(n: &Notify) -> Vec<(&'static str, &str)> {
    [
        ("master", &n.master),
        ("backup", &n.backup),
        ("fault", &n.fault),
        ("stop", &n.stop),
        ("any", &n.any),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.as_deref().map(|s| (k, s)))
    .collect()
}

fn check_vs_group(c: &mut Checker, name: &str, g: &VirtualServerGroup) {
    if g.address.is_empty() && g.fwmark.is_empty() {
        c.error(
            conf_path!["virtual_server_group", name],
            "a virtual_server_group needs at least one address or fwmark",
            "",
        );
    }
    for (i, a) in g.address.iter().enumerate() {
        if let Some(end) = a.range_end
            && (end.is_ipv6() != a.ip.is_ipv6() || end < a.ip)
        {
            c.error(
                conf_path!["virtual_server_group", name, "address", i, "range_end"],
                format!("range {}-{end} is empty or mixes families", a.ip),
                "",
            );
        }
        if a.port == 0 {
            c.error(
                conf_path!["virtual_server_group", name, "address", i, "port"],
                "port 0 is not valid",
                "",
            );
        }
    }
}

fn check_virtual_server(c: &mut Checker, cfg: &Config, i: usize, vs: &VirtualServer) {
    let path = conf_path!["virtual_server", i];
    let kinds = usize::from(vs.ip.is_some())
        + usize::from(vs.fwmark.is_some())
        + usize::from(vs.group.is_some());
    if kinds != 1 {
        c.error(
            path.clone(),
            "a virtual_server needs exactly one of ip + port, fwmark, or group",
            "e.g. ip = \"192.0.2.100\" and port = 80",
        );
    }
    if vs.ip.is_some() && vs.port.is_none() {
        c.error(
            path.join("port"),
            "a virtual_server with an ip needs a port",
            "add e.g. port = 80",
        );
    }
    if vs.port == Some(0) {
        c.error(path.join("port"), "port 0 is not valid", "");
    }
    if vs.fwmark == Some(0) {
        c.error(
            path.join("fwmark"),
            "fwmark 0 is not valid",
            "use 1 or more",
        );
    }
    if let Some(g) = &vs.group
        && !cfg.virtual_server_group.contains_key(g)
    {
        c.error(
            path.join("group"),
            format!("virtual_server_group `{g}` is not defined"),
            "",
        );
    }
    if !SCHEDULERS.contains(&vs.lvs_sched.as_str()) {
        let help = match super::diag::suggest(&vs.lvs_sched, SCHEDULERS.iter().copied()) {
            Some(s) => format!(
                "did you mean `{s}`? the kernel has {}",
                SCHEDULERS.join(", ")
            ),
            None => format!("the kernel has {}", SCHEDULERS.join(", ")),
        };
        c.error(
            path.join("lvs_sched"),
            format!("unknown scheduler `{}`", vs.lvs_sched),
            help,
        );
    }
    for (j, flag) in vs.sched_flags.iter().enumerate() {
        if !SCHEDULER_FLAGS.contains(&flag.as_str()) {
            c.error(
                path.join("sched_flags").join(j),
                format!("unknown scheduler flag `{flag}`"),
                format!("use {}", SCHEDULER_FLAGS.join(", ")),
            );
        }
    }
    if vs.ops && vs.protocol != Protocol::Udp {
        c.error(
            path.join("ops"),
            "one-packet scheduling (ops) applies to UDP only",
            "",
        );
    }
    if vs.persistence_granularity.is_some() && vs.persistence_timeout.is_none() {
        c.warn(
            path.join("persistence_granularity"),
            "persistence_granularity has no effect without persistence_timeout",
            "",
        );
    }
    if vs.quorum == 0 {
        c.error(path.join("quorum"), "quorum must be at least 1", "");
    } else if vs.hysteresis >= vs.quorum {
        c.error(
            path.join("hysteresis"),
            format!(
                "hysteresis {} must be less than quorum {}",
                vs.hysteresis, vs.quorum
            ),
            "",
        );
    }
    for (key, script) in [
        ("quorum_up", &vs.quorum_up),
        ("quorum_down", &vs.quorum_down),
    ] {
        if let Some(s) = script {
            c.script(path.join(key), s);
        }
    }
    if vs.delay_loop.is_zero() {
        c.error(
            path.join("delay_loop"),
            "delay_loop must be more than 0",
            "",
        );
    }
    let family_v6 = vs
        .ip
        .map(|ip| ip.is_ipv6())
        .or(vs.family.map(|f| f == Family::Inet6));
    if let Some(s) = &vs.sorry_server
        && family_v6.is_some_and(|v6| v6 != s.ip.is_ipv6())
    {
        c.error(
            path.join("sorry_server"),
            format!("sorry server {} is not of the service's family", s.ip),
            "",
        );
    }
    let mut seen = BTreeSet::new();
    for (j, rs) in vs.real_server.iter().enumerate() {
        let rpath = path.join("real_server").join(j);
        if !seen.insert((rs.ip, rs.port)) {
            c.error(
                rpath.clone(),
                format!("real server {} is listed twice in this service", rs.ip),
                "",
            );
        }
        if family_v6.is_some_and(|v6| v6 != rs.ip.is_ipv6()) && vs.lvs_method != ForwardMethod::Tun
        {
            c.error(
                rpath.join("ip"),
                format!(
                    "real server {} is not of the virtual server's address family",
                    rs.ip
                ),
                "mixed families need tunnelling (lvs_method = \"TUN\")",
            );
        }
        if vs.fwmark.is_none() && rs.port.is_none() {
            c.error(
                rpath.join("port"),
                "a real server of an address service needs a port",
                "",
            );
        }
        if !(0..=65535).contains(&rs.weight) {
            c.error(
                rpath.join("weight"),
                format!("weight {} is outside 0..65535", rs.weight),
                "0 keeps the server in the table without new connections",
            );
        }
        let method = rs.lvs_method.unwrap_or(vs.lvs_method);
        if method == ForwardMethod::Dr
            && let (Some(vport), Some(rport)) = (vs.port, rs.port)
            && vport != rport
        {
            c.warn(
                rpath.join("port"),
                format!("with DR the real server receives port {vport}; port {rport} is ignored"),
                format!("write port = {vport}, or use NAT to change ports"),
            );
        }
        if rs.lthreshold > 0 && rs.uthreshold > 0 && rs.lthreshold >= rs.uthreshold {
            c.error(
                rpath.join("lthreshold"),
                "lthreshold must be below uthreshold",
                "",
            );
        }
        for (key, script) in [
            ("notify_up", &rs.notify_up),
            ("notify_down", &rs.notify_down),
        ] {
            if let Some(s) = script {
                c.script(rpath.join(key), s);
            }
        }
        for (k, check) in rs.check.iter().enumerate() {
            check_check(c, rpath.join("check").join(k), check);
        }
    }
}

fn check_check(c: &mut Checker, path: ConfPath, ck: &Check) {
    let http = matches!(ck.kind, CheckKind::Http | CheckKind::Https);
    let kind = format!("{:?}", ck.kind).to_lowercase();
    if http && ck.url.is_empty() {
        c.error(
            path.join("url"),
            format!("an {kind} check needs at least one url"),
            "add url = [{ path = \"/\" }]",
        );
    }
    if !http {
        if !ck.url.is_empty() {
            c.error(
                path.join("url"),
                format!("url does not apply to a {kind} check"),
                "",
            );
        }
        if ck.virtualhost.is_some() {
            c.error(
                path.join("virtualhost"),
                format!("virtualhost does not apply to a {kind} check"),
                "",
            );
        }
    }
    if ck.enable_sni && ck.kind != CheckKind::Https {
        c.error(
            path.join("enable_sni"),
            "enable_sni applies to https checks only",
            "",
        );
    }
    match (ck.kind, &ck.misc_path) {
        (CheckKind::Misc, None) => c.error(
            path.join("misc_path"),
            "a misc check needs misc_path",
            "the script to run",
        ),
        (CheckKind::Misc, Some(p)) => c.script(path.join("misc_path"), p),
        (_, Some(_)) => c.error(
            path.join("misc_path"),
            format!("misc_path does not apply to a {kind} check"),
            "",
        ),
        _ => {}
    }
    if ck.kind != CheckKind::Misc && (ck.misc_dynamic || ck.misc_timeout.is_some()) {
        c.error(
            path.clone(),
            format!("misc_dynamic / misc_timeout do not apply to a {kind} check"),
            "",
        );
    }
    if ck.connect_timeout.is_zero() {
        c.error(
            path.join("connect_timeout"),
            "connect_timeout must be more than 0",
            "",
        );
    }
    if ck.retry == 0 {
        c.error(path.join("retry"), "retry must be at least 1", "");
    }
    if ck.connect_port == Some(0) {
        c.error(path.join("connect_port"), "port 0 is not valid", "");
    }
    for (u, url) in ck.url.iter().enumerate() {
        if !url.path.starts_with('/') {
            c.error(
                path.join("url").join(u).join("path"),
                format!("url path `{}` must start with /", url.path),
                "",
            );
        }
        if let Some(d) = &url.digest
            && (d.len() != 32 || !d.chars().all(|ch| ch.is_ascii_hexdigit()))
        {
            c.error(
                path.join("url").join(u).join("digest"),
                format!("digest `{d}` is not an MD5 sum (32 hex digits)"),
                "compute it with keepalived's genhash or md5sum of the body",
            );
        }
    }
}
