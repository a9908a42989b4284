//! keepalived.conf keywords to the model. Every keyword is either mapped, accepted with a warning
//! (deprecated spellings, mail settings that do not touch the data path), or refused with its
//! file:line:column — never dropped in silence.

use std::collections::HashMap;
use std::net::IpAddr;
use std::ops::Range;
use std::str::FromStr;

use super::parse::{Node, Parsed, Word};
use crate::conf_path;
use crate::config::diag::{Diag, Diags, SourceFile, suggest};
use crate::config::model::*;
use crate::config::validate::ConfPath;

/// Keywords accepted and ignored (with a warning): mail alerts and logging knobs that change
/// nothing on the data path.
const IGNORED: &[(&str, &str)] = &[
    (
        "notification_email",
        "lvsdeck sends no mail; use notify scripts",
    ),
    (
        "notification_email_from",
        "lvsdeck sends no mail; use notify scripts",
    ),
    ("smtp_server", "lvsdeck sends no mail; use notify scripts"),
    (
        "smtp_connect_timeout",
        "lvsdeck sends no mail; use notify scripts",
    ),
    (
        "smtp_helo_name",
        "lvsdeck sends no mail; use notify scripts",
    ),
    ("smtp_alert", "lvsdeck sends no mail; use notify scripts"),
    ("debug", "logging is set with RUST_LOG"),
    ("log_detail", "logging is set with RUST_LOG"),
    (
        "native_ipv6",
        "the address family follows the virtual addresses",
    ),
    (
        "dont_track_primary",
        "lvsdeck tracks only the interfaces listed in track_interface",
    ),
    (
        "init_fail",
        "lvsdeck scripts start as failed until their first success",
    ),
];

/// The result of converting: the model and where each part of it was written.
pub struct Converted {
    pub config: Config,
    pub places: HashMap<ConfPath, (usize, Range<usize>)>,
    /// Parts whose keyword had an error; their values are defaults, not the file's.
    pub failed: Vec<ConfPath>,
}

pub fn convert(parsed: &Parsed, diags: &mut Diags) -> Converted {
    let mut c = Conv {
        files: &parsed.files,
        diags,
        places: HashMap::new(),
        failed: Vec::new(),
        config: Config::default(),
        global_version: None,
    };
    // Global defaults first: instances take the global VRRP version and GARP timings.
    for node in parsed
        .nodes
        .iter()
        .filter(|n| n.keyword.text == "global_defs")
    {
        c.global_defs(node);
    }
    for node in &parsed.nodes {
        match node.keyword.text.as_str() {
            "global_defs" => {}
            "vrrp_script" => c.vrrp_script(node),
            "vrrp_instance" => c.vrrp_instance(node),
            "vrrp_sync_group" => c.sync_group(node),
            "virtual_server_group" => c.vs_group(node),
            "virtual_server" => c.virtual_server(node),
            _ => c.unknown(
                node,
                &[
                    "global_defs",
                    "vrrp_script",
                    "vrrp_instance",
                    "vrrp_sync_group",
                    "virtual_server_group",
                    "virtual_server",
                ],
            ),
        }
    }
    Converted {
        config: c.config,
        places: c.places,
        failed: c.failed,
    }
}

struct Conv<'a> {
    files: &'a [SourceFile],
    diags: &'a mut Diags,
    places: HashMap<ConfPath, (usize, Range<usize>)>,
    failed: Vec<ConfPath>,
    config: Config,
    global_version: Option<u8>,
}

impl Conv<'_> {
    fn diag_at(&mut self, w: &Word, d: Diag) {
        let d = d.at(&self.files[w.file], w.span.clone());
        self.diags.push(d);
    }

    fn error(&mut self, w: &Word, message: impl Into<String>, help: impl Into<String>) {
        let help = help.into();
        let mut d = Diag::error(message);
        if !help.is_empty() {
            d = d.with_help(help);
        }
        self.diag_at(w, d);
    }

    fn warn(&mut self, w: &Word, message: impl Into<String>, help: impl Into<String>) {
        self.diag_at(w, Diag::warning(message).with_help(help));
    }

    fn place(&mut self, path: ConfPath, w: &Word) {
        self.places.insert(path, (w.file, w.span.clone()));
    }

    fn error_count(&self) -> usize {
        self.diags.errors().count()
    }

    /// Remember `path` as failed if errors were added since `mark`.
    fn fail_since(&mut self, mark: usize, path: ConfPath) {
        if self.error_count() > mark {
            self.failed.push(path);
        }
    }

    /// A keyword this context does not know: ignored-with-warning, or refused with a suggestion.
    fn unknown(&mut self, node: &Node, known: &[&str]) {
        let kw = &node.keyword;
        if let Some((_, why)) = IGNORED.iter().find(|(k, _)| *k == kw.text) {
            self.warn(kw, format!("`{}` is ignored", kw.text), *why);
            return;
        }
        let help = match suggest(&kw.text, known.iter().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None => "remove it, or run keepalived for this feature".to_string(),
        };
        self.error(
            kw,
            format!("keyword `{}` is not supported here", kw.text),
            help,
        );
    }

    fn arg<'n>(&mut self, node: &'n Node, i: usize, what: &str) -> Option<&'n Word> {
        let w = node.args.get(i);
        if w.is_none() {
            self.error(
                &node.keyword,
                format!("`{}` needs {what}", node.keyword.text),
                "",
            );
        }
        w
    }

    fn parse_arg<T: FromStr>(&mut self, node: &Node, i: usize, what: &str) -> Option<T> {
        let w = self.arg(node, i, what)?;
        match w.text.parse() {
            Ok(v) => Some(v),
            Err(_) => {
                let w = w.clone();
                self.error(
                    &w,
                    format!("`{}` is not {what}", w.text),
                    format!("`{}` takes {what}", node.keyword.text),
                );
                None
            }
        }
    }

    fn num<T: FromStr>(&mut self, node: &Node, what: &str) -> Option<T> {
        self.parse_arg(node, 0, what)
    }

    fn dur(&mut self, node: &Node) -> Option<Dur> {
        let w = self.arg(node, 0, "a number of seconds")?;
        match w.text.parse::<f64>().ok().and_then(Dur::from_secs_f64) {
            Some(d) => Some(d),
            None => {
                let w = w.clone();
                self.error(
                    &w,
                    format!("`{}` is not a number of seconds", w.text),
                    "e.g. 3 or 0.5",
                );
                None
            }
        }
    }

    fn text(&mut self, node: &Node) -> Option<String> {
        if node.args.is_empty() {
            self.arg(node, 0, "a value");
            return None;
        }
        Some(
            node.args
                .iter()
                .map(|w| w.text.as_str())
                .collect::<Vec<_>>()
                .join(" "),
        )
    }

    fn no_args(&mut self, node: &Node) {
        if let Some(extra) = node.args.first() {
            let extra = extra.clone();
            self.error(
                &extra,
                format!("`{}` takes no value", node.keyword.text),
                "remove it",
            );
        }
    }

    fn block<'n>(&mut self, node: &'n Node) -> &'n [Node] {
        match &node.block {
            Some(b) => b,
            None => {
                self.error(
                    &node.keyword,
                    format!("`{}` needs a {{ }} block", node.keyword.text),
                    "",
                );
                &[]
            }
        }
    }

    fn name(&mut self, node: &Node) -> Option<String> {
        self.arg(node, 0, "a name").map(|w| w.text.clone())
    }

    fn deprecated(&mut self, node: &Node, new: &str) {
        let kw = node.keyword.clone();
        self.warn(
            &kw,
            format!("`{}` is deprecated; read as `{new}`", kw.text),
            format!("write `{new}`"),
        );
    }

    // -----------------------------------------------------------------------------------------

    fn global_defs(&mut self, node: &Node) {
        self.place(conf_path!["global"], &node.keyword);
        let mut g = std::mem::take(&mut self.config.global);
        for n in self.block(node) {
            let path = conf_path!["global", n.keyword.text.as_str()];
            self.place(path, &n.keyword);
            match n.keyword.text.as_str() {
                "router_id" => g.router_id = self.name(n),
                "enable_script_security" => {
                    self.no_args(n);
                    g.enable_script_security = true;
                }
                "script_user" => g.script_user = self.name(n),
                "vrrp_version" => self.global_version = self.num(n, "2 or 3"),
                "vrrp_garp_master_delay" => set(&mut g.garp.master_delay, self.dur(n)),
                "vrrp_garp_master_repeat" => set(&mut g.garp.master_repeat, self.num(n, "a count")),
                "vrrp_garp_master_refresh" => set(&mut g.garp.master_refresh, self.dur(n)),
                "vrrp_garp_master_refresh_repeat" => {
                    set(&mut g.garp.master_refresh_repeat, self.num(n, "a count"))
                }
                "vrrp_garp_lower_prio_delay" => set(&mut g.garp.lower_prio_delay, self.dur(n)),
                "vrrp_garp_lower_prio_repeat" => {
                    set(&mut g.garp.lower_prio_repeat, self.num(n, "a count"))
                }
                "lvs_sync_daemon" => {
                    let interface = self.name(n);
                    let instance = n.args.get(1).map(|w| w.text.clone());
                    let sync_id = match (n.args.get(2), n.args.get(3)) {
                        (Some(k), Some(_)) if k.text == "id" => {
                            self.parse_arg(n, 3, "a sync id 0-255")
                        }
                        _ => None,
                    };
                    if let Some(interface) = interface {
                        g.lvs_sync_daemon = Some(SyncDaemon {
                            interface,
                            instance,
                            sync_id,
                        });
                    }
                }
                "lvs_timeouts" => g.lvs_timeouts = Some(self.lvs_timeouts(n)),
                _ => self.unknown(
                    n,
                    &[
                        "router_id",
                        "enable_script_security",
                        "script_user",
                        "vrrp_version",
                        "vrrp_garp_master_delay",
                        "vrrp_garp_master_repeat",
                        "vrrp_garp_master_refresh",
                        "vrrp_garp_master_refresh_repeat",
                        "vrrp_garp_lower_prio_delay",
                        "vrrp_garp_lower_prio_repeat",
                        "lvs_sync_daemon",
                        "lvs_timeouts",
                    ],
                ),
            }
        }
        self.config.global = g;
    }

    fn lvs_timeouts(&mut self, n: &Node) -> IpvsTimeouts {
        let mut t = IpvsTimeouts {
            tcp: Dur::from_secs(900),
            tcp_fin: Dur::from_secs(120),
            udp: Dur::from_secs(300),
        };
        let mut i = 0;
        while i < n.args.len() {
            let key = n.args[i].text.clone();
            let value: Option<u64> = self.parse_arg(n, i + 1, "a number of seconds");
            let slot = match key.as_str() {
                "tcp" => &mut t.tcp,
                "tcpfin" => &mut t.tcp_fin,
                "udp" => &mut t.udp,
                _ => {
                    let w = n.args[i].clone();
                    self.error(
                        &w,
                        format!("unknown lvs_timeouts field `{key}`"),
                        "use tcp, tcpfin or udp",
                    );
                    i += 2;
                    continue;
                }
            };
            if let Some(v) = value {
                *slot = Dur::from_secs(v);
            }
            i += 2;
        }
        t
    }

    fn vrrp_script(&mut self, node: &Node) {
        let Some(name) = self.name(node) else { return };
        let base = conf_path!["vrrp_script", &name];
        self.place(base.clone(), &node.args[0]);
        let mut s = VrrpScript {
            script: String::new(),
            interval: Dur::from_secs(1),
            timeout: None,
            weight: 0,
            weight_reverse: false,
            rise: 1,
            fall: 1,
            user: None,
        };
        let mut has_script = false;
        for n in self.block(node) {
            self.place(base.join(n.keyword.text.as_str()), &n.keyword);
            match n.keyword.text.as_str() {
                "script" => {
                    has_script = true;
                    set(&mut s.script, self.text(n));
                }
                "interval" => set(&mut s.interval, self.dur(n)),
                "timeout" => s.timeout = self.dur(n),
                "weight" => {
                    set(&mut s.weight, self.num(n, "a weight from -253 to 253"));
                    s.weight_reverse = n.args.get(1).is_some_and(|w| w.text == "reverse");
                }
                "rise" => set(&mut s.rise, self.num(n, "a count")),
                "fall" => set(&mut s.fall, self.num(n, "a count")),
                "user" => s.user = self.text(n),
                _ => self.unknown(
                    n,
                    &[
                        "script", "interval", "timeout", "weight", "rise", "fall", "user",
                    ],
                ),
            }
        }
        if !has_script {
            self.error(
                &node.keyword,
                format!("vrrp_script {name} has no `script`"),
                "add script \"/path/to/check\"",
            );
        }
        self.config.vrrp_script.insert(name, s);
    }

    fn vrrp_instance(&mut self, node: &Node) {
        let Some(name) = self.name(node) else { return };
        let base = conf_path!["vrrp_instance", &name];
        self.place(base.clone(), &node.args[0]);
        let mut inst = VrrpInstance {
            version: self.global_version.unwrap_or(2),
            interface: String::new(),
            virtual_router_id: 0,
            priority: 100,
            state: InitialState::Backup,
            advert_int: Dur::from_secs(1),
            auth_pass: None,
            virtual_ipaddress: Vec::new(),
            virtual_ipaddress_excluded: Vec::new(),
            unicast_src_ip: None,
            unicast_peer: Vec::new(),
            preempt: true,
            preempt_delay: Dur::ZERO,
            accept: false,
            garp: None,
            track_interface: Vec::new(),
            track_script: Vec::new(),
            notify: Notify::default(),
            lvs_sync_daemon_interface: None,
            handover_grace: None,
        };
        let mut garp = self.config.global.garp;
        let mut garp_set = false;
        let mut seen_interface = false;
        let mut seen_vrid = false;
        for n in self.block(node) {
            let kw = n.keyword.text.as_str();
            self.place(base.join(kw), &n.keyword);
            let mark = self.error_count();
            match kw {
                "state" => match n.args.first().map(|w| w.text.as_str()) {
                    Some("MASTER") => inst.state = InitialState::Master,
                    Some("BACKUP") => inst.state = InitialState::Backup,
                    _ => self.error(&n.keyword, "`state` takes MASTER or BACKUP", ""),
                },
                "interface" => {
                    seen_interface = true;
                    set(&mut inst.interface, self.name(n));
                }
                "virtual_router_id" => {
                    seen_vrid = true;
                    set(
                        &mut inst.virtual_router_id,
                        self.num(n, "a VRID from 1 to 255"),
                    );
                }
                "priority" => set(&mut inst.priority, self.num(n, "a priority from 1 to 255")),
                "advert_int" => set(&mut inst.advert_int, self.dur(n)),
                "version" => set(&mut inst.version, self.num(n, "2 or 3")),
                "authentication" => self.authentication(n, &mut inst, &base),
                "virtual_ipaddress" => {
                    inst.virtual_ipaddress = self.vips(n, &base.join("virtual_ipaddress"))
                }
                "virtual_ipaddress_excluded" => {
                    inst.virtual_ipaddress_excluded =
                        self.vips(n, &base.join("virtual_ipaddress_excluded"))
                }
                "unicast_src_ip" | "mcast_src_ip" => {
                    inst.unicast_src_ip = self.num(n, "an IP address")
                }
                "unicast_peer" => {
                    for (i, p) in self.block(n).iter().enumerate() {
                        self.place(base.join("unicast_peer").join(i), &p.keyword);
                        match p.keyword.text.parse() {
                            Ok(ip) => inst.unicast_peer.push(ip),
                            Err(_) => self.error(
                                &p.keyword,
                                format!("`{}` is not an IP address", p.keyword.text),
                                "",
                            ),
                        }
                    }
                }
                "nopreempt" => {
                    self.no_args(n);
                    inst.preempt = false;
                }
                "preempt" => inst.preempt = true,
                "preempt_delay" => set(&mut inst.preempt_delay, self.dur(n)),
                "accept" => inst.accept = true,
                "no_accept" => inst.accept = false,
                "garp_master_delay" => {
                    (garp_set, garp.master_delay) = (true, self.dur(n).unwrap_or(garp.master_delay))
                }
                "garp_master_repeat" => {
                    (garp_set, garp.master_repeat) =
                        (true, self.num(n, "a count").unwrap_or(garp.master_repeat))
                }
                "garp_master_refresh" => {
                    (garp_set, garp.master_refresh) =
                        (true, self.dur(n).unwrap_or(garp.master_refresh))
                }
                "garp_master_refresh_repeat" => {
                    (garp_set, garp.master_refresh_repeat) = (
                        true,
                        self.num(n, "a count").unwrap_or(garp.master_refresh_repeat),
                    )
                }
                "garp_lower_prio_delay" => {
                    (garp_set, garp.lower_prio_delay) =
                        (true, self.dur(n).unwrap_or(garp.lower_prio_delay))
                }
                "garp_lower_prio_repeat" => {
                    (garp_set, garp.lower_prio_repeat) = (
                        true,
                        self.num(n, "a count").unwrap_or(garp.lower_prio_repeat),
                    )
                }
                "track_interface" => {
                    for (i, t) in self.block(n).iter().enumerate() {
                        self.place(base.join("track_interface").join(i), &t.keyword);
                        let weight = self.weight_suffix(t);
                        inst.track_interface.push(TrackInterface {
                            name: t.keyword.text.clone(),
                            weight: weight.unwrap_or(0),
                        });
                    }
                }
                "track_script" => {
                    for (i, t) in self.block(n).iter().enumerate() {
                        self.place(base.join("track_script").join(i), &t.keyword);
                        let weight = self.weight_suffix(t);
                        inst.track_script.push(TrackScript {
                            name: t.keyword.text.clone(),
                            weight,
                        });
                    }
                }
                "notify_master" | "notify_backup" | "notify_fault" | "notify_stop" | "notify" => {
                    self.notify(n, &mut inst.notify, &base)
                }
                "lvs_sync_daemon_interface" => inst.lvs_sync_daemon_interface = self.name(n),
                "use_vmac" | "vmac_xmit_base" => self.error(
                    &n.keyword,
                    format!("`{kw}` (VRRP virtual MAC) is not supported"),
                    "lvsdeck moves the VIP with gratuitous ARP / NA; remove use_vmac",
                ),
                _ => self.unknown(
                    n,
                    &[
                        "state",
                        "interface",
                        "virtual_router_id",
                        "priority",
                        "advert_int",
                        "version",
                        "authentication",
                        "virtual_ipaddress",
                        "virtual_ipaddress_excluded",
                        "unicast_src_ip",
                        "unicast_peer",
                        "nopreempt",
                        "preempt_delay",
                        "accept",
                        "track_interface",
                        "track_script",
                        "notify_master",
                        "notify_backup",
                        "notify_fault",
                        "notify_stop",
                        "notify",
                        "garp_master_delay",
                        "garp_master_repeat",
                        "garp_master_refresh",
                        "lvs_sync_daemon_interface",
                    ],
                ),
            }
            self.fail_since(mark, base.join(kw));
        }
        if !seen_interface {
            self.error(
                &node.keyword,
                format!("vrrp_instance {name} has no `interface`"),
                "add interface <name>",
            );
        }
        if !seen_vrid {
            self.error(
                &node.keyword,
                format!("vrrp_instance {name} has no `virtual_router_id`"),
                "add virtual_router_id <1-255>",
            );
        }
        if garp_set {
            inst.garp = Some(garp);
        }
        self.config.vrrp_instance.insert(name, inst);
    }

    /// `NAME weight N` inside track blocks.
    fn weight_suffix(&mut self, t: &Node) -> Option<i32> {
        match t.args.first().map(|w| w.text.as_str()) {
            Some("weight") => self.parse_arg(t, 1, "a weight from -253 to 253"),
            Some(_) => {
                let w = t.args[0].clone();
                self.error(
                    &w,
                    format!("unexpected `{}`", w.text),
                    "write `NAME weight N`",
                );
                None
            }
            None => None,
        }
    }

    fn notify(&mut self, n: &Node, notify: &mut Notify, base: &ConfPath) {
        let key = match n.keyword.text.as_str() {
            "notify_master" => "master",
            "notify_backup" => "backup",
            "notify_fault" => "fault",
            "notify_stop" => "stop",
            _ => "any",
        };
        self.place(base.join("notify").join(key), &n.keyword);
        let value = self.text(n);
        let slot = match key {
            "master" => &mut notify.master,
            "backup" => &mut notify.backup,
            "fault" => &mut notify.fault,
            "stop" => &mut notify.stop,
            _ => &mut notify.any,
        };
        *slot = value;
    }

    fn authentication(&mut self, n: &Node, inst: &mut VrrpInstance, base: &ConfPath) {
        let mut kind = None;
        for a in self.block(n) {
            match a.keyword.text.as_str() {
                "auth_type" => kind = a.args.first().map(|w| (w.text.clone(), w.clone())),
                "auth_pass" => {
                    self.place(base.join("auth_pass"), &a.keyword);
                    inst.auth_pass = self.text(a);
                }
                _ => self.unknown(a, &["auth_type", "auth_pass"]),
            }
        }
        match kind {
            Some((t, _)) if t == "PASS" => {}
            Some((t, w)) if t == "AH" => self.error(
                &w,
                "auth_type AH is not supported",
                "IPsec AH was removed from VRRP (RFC 3768 §5.3.6.3); use PASS or none",
            ),
            Some((t, w)) => self.error(&w, format!("unknown auth_type `{t}`"), "use PASS"),
            None => self.error(
                &n.keyword,
                "authentication needs auth_type",
                "add auth_type PASS",
            ),
        }
    }

    fn vips(&mut self, n: &Node, base: &ConfPath) -> Vec<VirtualIp> {
        let mut out = Vec::new();
        for (i, v) in self.block(n).iter().enumerate() {
            let path = base.join(i);
            self.place(path.clone(), &v.keyword);
            let address: IpNet = match v.keyword.text.parse() {
                Ok(a) => a,
                Err(e) => {
                    self.error(&v.keyword, e, "");
                    continue;
                }
            };
            let mut vip = VirtualIp {
                address,
                dev: None,
                label: None,
            };
            let mut j = 0;
            while j < v.args.len() {
                let opt = v.args[j].clone();
                let value = v.args.get(j + 1).map(|w| w.text.clone());
                match (opt.text.as_str(), value) {
                    ("dev", Some(d)) => vip.dev = Some(d),
                    ("label", Some(l)) => {
                        self.place(path.join("label"), &v.args[j + 1]);
                        vip.label = Some(l);
                    }
                    ("brd" | "broadcast" | "scope", Some(_)) => self.warn(
                        &opt,
                        format!("VIP option `{}` is ignored", opt.text),
                        "lvsdeck adds VIPs with the kernel's default broadcast and global scope",
                    ),
                    (_, _) => self.error(
                        &opt,
                        format!("VIP option `{}` is not supported", opt.text),
                        "write ADDRESS[/PREFIX] [dev IFACE] [label LABEL]",
                    ),
                }
                j += 2;
            }
            out.push(vip);
        }
        out
    }

    fn sync_group(&mut self, node: &Node) {
        let Some(name) = self.name(node) else { return };
        let base = conf_path!["vrrp_sync_group", &name];
        self.place(base.clone(), &node.args[0]);
        let mut g = SyncGroup {
            group: Vec::new(),
            notify: Notify::default(),
        };
        for n in self.block(node) {
            match n.keyword.text.as_str() {
                "group" => {
                    for m in self.block(n) {
                        self.place(base.join("group").join(g.group.len()), &m.keyword);
                        g.group.push(m.keyword.text.clone());
                    }
                }
                "notify_master" | "notify_backup" | "notify_fault" | "notify_stop" | "notify" => {
                    self.notify(n, &mut g.notify, &base)
                }
                // Old syntax: members listed directly in the group's block.
                kw if n.args.is_empty() && n.block.is_none() => {
                    self.place(base.join("group").join(g.group.len()), &n.keyword);
                    g.group.push(kw.to_string());
                }
                _ => self.unknown(
                    n,
                    &[
                        "group",
                        "notify_master",
                        "notify_backup",
                        "notify_fault",
                        "notify",
                    ],
                ),
            }
        }
        self.config.vrrp_sync_group.insert(name, g);
    }

    fn vs_group(&mut self, node: &Node) {
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

    fn virtual_server(&mut self, node: &Node) {
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
        };
        match node.args.first().map(|w| w.text.as_str()) {
            Some("fwmark") => vs.fwmark = self.parse_arg(node, 1, "a firewall mark"),
            Some("group") => vs.group = node.args.get(1).map(|w| w.text.clone()),
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
        let mut method_set = false;
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
                    set(&mut vs.lvs_sched, self.name(n));
                    self.place(base.join("lvs_sched"), &n.keyword);
                }
                "lb_kind" | "lvs_method" => {
                    if kw == "lb_kind" {
                        self.deprecated(n, "lvs_method");
                    }
                    self.place(base.join("lvs_method"), &n.keyword);
                    method_set = true;
                    set(&mut vs.lvs_method, self.method(n));
                }
                "protocol" => match n.args.first().map(|w| w.text.as_str()) {
                    Some("TCP") => vs.protocol = Protocol::Tcp,
                    Some("UDP") => vs.protocol = Protocol::Udp,
                    Some("SCTP") => vs.protocol = Protocol::Sctp,
                    _ => self.error(&n.keyword, "`protocol` takes TCP, UDP or SCTP", ""),
                },
                "persistence_timeout" => vs.persistence_timeout = self.dur(n),
                "persistence_granularity" => vs.persistence_granularity = self.num(n, "a netmask"),
                "ops" => vs.ops = true,
                "quorum" => set(&mut vs.quorum, self.num(n, "a weight sum")),
                "hysteresis" => set(&mut vs.hysteresis, self.num(n, "a weight")),
                "quorum_up" => vs.quorum_up = self.text(n),
                "quorum_down" => vs.quorum_down = self.text(n),
                "sorry_server" => {
                    let ip = self.parse_arg(n, 0, "an IP address");
                    let port = if n.args.len() > 1 { self.parse_arg(n, 1, "a port") } else { None };
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
                    let m = self.method(n);
                    if let Some(s) = &mut vs.sorry_server {
                        s.lvs_method = m;
                    }
                }
                "alpha" => vs.alpha = true,
                "omega" => vs.omega = true,
                "inhibit_on_failure" => vs.inhibit_on_failure = true,
                "virtualhost" => vs.virtualhost = self.name(n),
                "sh-port" | "sh-fallback" | "mh-port" | "mh-fallback" | "flag-1" | "flag-2" | "flag-3" => {
                    let flag = match kw {
                        "sh-fallback" | "mh-fallback" => "flag-1",
                        "sh-port" | "mh-port" => "flag-2",
                        other => other,
                    };
                    vs.sched_flags.push(flag.to_string());
                }
                "real_server" => {
                    let i = vs.real_server.len();
                    if let Some(rs) = self.real_server(n, &base.join("real_server").join(i)) {
                        vs.real_server.push(rs);
                    }
                }
                "ha_suspend" => self.warn(
                    &n.keyword,
                    "`ha_suspend` is ignored",
                    "lvsdeck checks real servers on backups too, so a failover starts with fresh health",
                ),
                _ => self.unknown(
                    n,
                    &[
                        "delay_loop",
                        "lvs_sched",
                        "lvs_method",
                        "protocol",
                        "persistence_timeout",
                        "persistence_granularity",
                        "quorum",
                        "hysteresis",
                        "quorum_up",
                        "quorum_down",
                        "sorry_server",
                        "alpha",
                        "omega",
                        "inhibit_on_failure",
                        "virtualhost",
                        "real_server",
                    ],
                ),
            }
            let failed_key = match kw {
                "lb_algo" => "lvs_sched",
                "lb_kind" => "lvs_method",
                "real_server" => "real_server_",
                other => other,
            };
            self.fail_since(mark, base.join(failed_key));
        }
        if !method_set {
            // keepalived's default forwarding method is NAT; say so, since lvsdeck's TOML default is DR.
            self.warn(
                &node.keyword,
                "no lb_kind / lvs_method: using NAT, keepalived's default",
                "write lvs_method explicitly",
            );
        }
        self.config.virtual_server.push(vs);
    }

    fn method(&mut self, n: &Node) -> Option<ForwardMethod> {
        match n.args.first().map(|w| w.text.as_str()) {
            Some("DR") => Some(ForwardMethod::Dr),
            Some("NAT") => Some(ForwardMethod::Nat),
            Some("TUN") => Some(ForwardMethod::Tun),
            _ => {
                self.error(
                    &n.keyword,
                    format!("`{}` takes DR, NAT or TUN", n.keyword.text),
                    "",
                );
                None
            }
        }
    }

    fn real_server(&mut self, node: &Node, base: &ConfPath) -> Option<RealServer> {
        self.place(base.clone(), &node.keyword);
        let ip: IpAddr = self.parse_arg(node, 0, "an IP address")?;
        let port = if node.args.len() > 1 {
            self.parse_arg(node, 1, "a port")
        } else {
            None
        };
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
        for n in self.block(node) {
            let kw = n.keyword.text.as_str();
            self.place(base.join(kw), &n.keyword);
            let mark = self.error_count();
            match kw {
                "weight" => set(&mut rs.weight, self.num(n, "a weight from 0 to 65535")),
                "lvs_method" => rs.lvs_method = self.method(n),
                "inhibit_on_failure" => rs.inhibit_on_failure = Some(true),
                "uthreshold" => set(&mut rs.uthreshold, self.num(n, "a connection count")),
                "lthreshold" => set(&mut rs.lthreshold, self.num(n, "a connection count")),
                "delay_loop" => rs.delay_loop = self.dur(n),
                "notify_up" => rs.notify_up = self.text(n),
                "notify_down" => rs.notify_down = self.text(n),
                "TCP_CHECK" | "HTTP_GET" | "SSL_GET" | "MISC_CHECK" => {
                    let kind = match kw {
                        "TCP_CHECK" => CheckKind::Tcp,
                        "HTTP_GET" => CheckKind::Http,
                        "SSL_GET" => CheckKind::Https,
                        _ => CheckKind::Misc,
                    };
                    let path = base.join("check").join(rs.check.len());
                    rs.check.push(self.check(n, kind, &path));
                }
                "SMTP_CHECK" | "DNS_CHECK" | "UDP_CHECK" | "PING_CHECK" | "FILE_CHECK" | "BFD_CHECK" | "BDF_CHECK" => {
                    self.error(
                        &n.keyword,
                        format!("{kw} is not supported"),
                        "lvsdeck checks with TCP_CHECK, HTTP_GET, SSL_GET and MISC_CHECK; a MISC_CHECK script can do the rest",
                    )
                }
                _ => self.unknown(
                    n,
                    &[
                        "weight",
                        "lvs_method",
                        "inhibit_on_failure",
                        "uthreshold",
                        "lthreshold",
                        "notify_up",
                        "notify_down",
                        "TCP_CHECK",
                        "HTTP_GET",
                        "SSL_GET",
                        "MISC_CHECK",
                    ],
                ),
            }
            self.fail_since(mark, base.join(kw));
        }
        Some(rs)
    }

    fn check(&mut self, node: &Node, kind: CheckKind, base: &ConfPath) -> Check {
        self.place(base.clone(), &node.keyword);
        let mut ck = Check::new(kind);
        for n in self.block(node) {
            let kw = n.keyword.text.as_str();
            self.place(base.join(kw), &n.keyword);
            match kw {
                "connect_ip" => ck.connect_ip = self.num(n, "an IP address"),
                "connect_port" => ck.connect_port = self.num(n, "a port"),
                "bindto" | "bind_ip" => ck.bind_ip = self.num(n, "an IP address"),
                "bind_port" => ck.bind_port = self.num(n, "a port"),
                "connect_timeout" => set(&mut ck.connect_timeout, self.dur(n)),
                "retry" => set(&mut ck.retry, self.num(n, "a count")),
                "nb_get_retry" => {
                    self.deprecated(n, "retry");
                    self.place(base.join("retry"), &n.keyword);
                    set(&mut ck.retry, self.num(n, "a count"));
                }
                "delay_before_retry" => ck.delay_before_retry = self.dur(n),
                "warmup" => ck.warmup = self.dur(n),
                "delay_loop" => ck.delay_loop = self.dur(n),
                "url" if matches!(kind, CheckKind::Http | CheckKind::Https) => {
                    let path = base.join("url").join(ck.url.len());
                    ck.url.push(self.url(n, &path));
                }
                "virtualhost" if matches!(kind, CheckKind::Http | CheckKind::Https) => {
                    ck.virtualhost = self.name(n)
                }
                "enable_sni" if kind == CheckKind::Https => ck.enable_sni = true,
                "misc_path" if kind == CheckKind::Misc => ck.misc_path = self.text(n),
                "misc_timeout" if kind == CheckKind::Misc => ck.misc_timeout = self.dur(n),
                "misc_dynamic" if kind == CheckKind::Misc => ck.misc_dynamic = true,
                "user" if kind == CheckKind::Misc => ck.user = self.text(n),
                _ => self.unknown(
                    n,
                    &[
                        "connect_ip",
                        "connect_port",
                        "bindto",
                        "bind_port",
                        "connect_timeout",
                        "retry",
                        "delay_before_retry",
                        "warmup",
                        "delay_loop",
                        "url",
                        "virtualhost",
                        "misc_path",
                        "misc_timeout",
                        "misc_dynamic",
                    ],
                ),
            }
        }
        ck
    }

    fn url(&mut self, node: &Node, base: &ConfPath) -> UrlCheck {
        self.place(base.clone(), &node.keyword);
        let mut url = UrlCheck {
            path: String::new(),
            status_code: Vec::new(),
            digest: None,
            regex: None,
            virtualhost: None,
        };
        for n in self.block(node) {
            let kw = n.keyword.text.as_str();
            self.place(base.join(kw), &n.keyword);
            match kw {
                "path" => set(&mut url.path, self.text(n)),
                "digest" => url.digest = self.name(n),
                "regex" => url.regex = self.text(n),
                "virtualhost" => url.virtualhost = self.name(n),
                "status_code" => {
                    for w in &n.args {
                        match w.text.parse() {
                            Ok(r) => url.status_code.push(r),
                            Err(e) => self.error(w, e, ""),
                        }
                    }
                }
                _ => self.unknown(
                    n,
                    &["path", "digest", "status_code", "regex", "virtualhost"],
                ),
            }
        }
        if url.path.is_empty() {
            self.error(&node.keyword, "url needs a path", "add path /");
        }
        url
    }
}

fn set<T>(slot: &mut T, value: Option<T>) {
    if let Some(v) = value {
        *slot = v;
    }
}
