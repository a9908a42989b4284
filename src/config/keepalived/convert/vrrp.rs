//! `vrrp_script`, `vrrp_instance` and `vrrp_sync_group`.

use std::net::{IpAddr, Ipv4Addr};

use super::keywords::{self, Ctx, visible};
use super::{Conv, set};
use crate::conf_path;
use crate::config::keepalived::parse::{Node, Word};
use crate::config::model::*;
use crate::config::validate::ConfPath;

/// VRRPv2 carries 8 bytes of password; keepalived cuts a longer one.
const AUTH_PASS_MAX: usize = 8;

impl Conv<'_> {
    pub(super) fn vrrp_script(&mut self, node: &Node) {
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
        for n in self.block(node) {
            self.place(base.join(n.keyword.text.as_str()), &n.keyword);
            match n.keyword.text.as_str() {
                "script" => set(&mut s.script, self.command(n)),
                "interval" => set(&mut s.interval, self.dur(n)),
                "timeout" => s.timeout = self.dur(n),
                "weight" => {
                    set(&mut s.weight, self.num(n, "a weight from -253 to 253"));
                    s.weight_reverse = n.args.get(1).is_some_and(|w| w.text == "reverse");
                }
                "rise" => set(&mut s.rise, self.num(n, "a count")),
                "fall" => set(&mut s.fall, self.num(n, "a count")),
                "user" => s.user = self.user_group(n),
                _ => self.unknown(n, Ctx::Script),
            }
        }
        if s.script.is_empty() {
            // keepalived removes it; instances tracking it then ignore it (validation says so).
            self.warn(
                &node.keyword,
                format!("vrrp_script {name} has no `script`: it is removed, as keepalived does"),
                "add script \"/path/to/check\"",
            );
            return;
        }
        self.config.vrrp_script.insert(name, s);
    }

    pub(super) fn vrrp_instance(&mut self, node: &Node) {
        let Some(name) = self.name(node) else { return };
        if self.config.vrrp_instance.contains_key(&name) {
            self.warn(
                &node.args[0],
                format!("vrrp_instance {name} is already defined: this block is ignored, as keepalived does"),
                "give each instance its own name",
            );
            return;
        }
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
            track_file: Vec::new(),
            track_bfd: Vec::new(),
            notify: Notify::default(),
            lvs_sync_daemon_interface: None,
            handover_grace: None,
            skip_check_adv_addr: false,
            strict_mode: None,
            mcast_dst_ip: None,
            use_vmac: None,
            auth_ah: false,
            virtual_routes: Vec::new(),
            virtual_rules: Vec::new(),
        };
        let mut garp = self.config.global.garp;
        let mut garp_set = false;
        let mut seen_interface = false;
        let mut seen_vrid = false;
        let mut auth_at = None;
        let mut xmit_base_at = None;
        let mut vmac_short_mac = false;
        for n in self.block(node) {
            let kw = n.keyword.text.as_str();
            self.place(base.join(kw), &n.keyword);
            let mark = self.error_count();
            match kw {
                "state" => inst.state = self.state(n),
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
                "authentication" => {
                    auth_at = Some(n.keyword.clone());
                    let auth = self.authentication(n, &base);
                    inst.auth_ah = auth.as_ref().is_some_and(|a| a.1);
                    inst.auth_pass = auth.map(|a| a.0);
                }
                "virtual_ipaddress" => {
                    inst.virtual_ipaddress = self.vips(n, &base.join("virtual_ipaddress"))
                }
                "virtual_ipaddress_excluded" => {
                    inst.virtual_ipaddress_excluded =
                        self.vips(n, &base.join("virtual_ipaddress_excluded"))
                }
                "unicast_src_ip" | "mcast_src_ip" => inst.unicast_src_ip = self.address_arg(n),
                "mcast_dst_ip" => inst.mcast_dst_ip = self.address_arg(n),
                "unicast_peer" => {
                    for (i, p) in self.block(n).iter().enumerate() {
                        self.place(base.join("unicast_peer").join(i), &p.keyword);
                        if let Some(ip) = self.address(&p.keyword) {
                            inst.unicast_peer.push(ip);
                        }
                        self.warn_word(
                            p,
                            0,
                            |opt| Some(format!("unicast_peer option `{opt}` is ignored")),
                            "lvsdeck accepts adverts from a peer whatever their TTL",
                        );
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
                "skip_check_adv_addr" => {
                    // keepalived 2.2.7 turns it on for any valid value, `false` included.
                    let value = self.flag(n);
                    if value == Some(false) {
                        self.warn(
                            &n.args[0],
                            "skip_check_adv_addr false turns it on, as in keepalived 2.2.7",
                            "remove the line to keep the check",
                        );
                    }
                    inst.skip_check_adv_addr |= value.is_some();
                }
                "strict_mode" => inst.strict_mode = self.flag(n).or(inst.strict_mode),
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
                "track_file" => {
                    let refs = self.track_file_refs(n, &base);
                    inst.track_file.extend(refs);
                }
                "track_bfd" => {
                    let refs = self.track_bfd_refs(n, &base);
                    inst.track_bfd.extend(refs);
                }
                "notify_master" | "notify_backup" | "notify_fault" | "notify_stop" | "notify" => {
                    self.notify(n, &mut inst.notify, &base)
                }
                "lvs_sync_daemon_interface" => inst.lvs_sync_daemon_interface = self.name(n),
                "virtual_routes" => inst.virtual_routes.extend(self.routes(n)),
                "virtual_rules" => inst.virtual_rules.extend(self.rules(n)),
                "use_vmac" => {
                    let (vmac, short_mac) = self.use_vmac(n, inst.use_vmac.take());
                    vmac_short_mac |= short_mac;
                    inst.use_vmac = Some(vmac);
                }
                "vmac_xmit_base" => {
                    self.no_args(n);
                    xmit_base_at = Some(n.keyword.clone());
                }
                other => {
                    if let Some(key) = other.strip_prefix("garp_")
                        && self.garp_timing(key, n, &mut garp)
                    {
                        garp_set = true;
                    } else {
                        self.unknown(n, Ctx::Instance);
                    }
                }
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
        if let (Some(at), Some(_)) = (&auth_at, &inst.auth_pass) {
            self.auth_not_sent(at, &mut inst);
            if inst.auth_ah {
                self.ah_settled(at, &mut inst);
            }
        }
        if vmac_short_mac && let Some(mac) = inst.use_vmac.as_mut().and_then(|v| v.mac.as_mut()) {
            mac[5] = inst.virtual_router_id;
        }
        self.vmac_settled(&node.keyword, xmit_base_at.as_ref(), &mut inst);
        self.config.vrrp_instance.insert(name, inst);
    }

    /// keepalived sends no authentication under vrrp_strict / strict_mode or with VRRPv3,
    /// whatever the block says; the model says what goes on the wire.
    fn auth_not_sent(&mut self, at: &Word, inst: &mut VrrpInstance) {
        let why = if inst.version == 3 {
            "VRRPv3 has no authentication"
        } else if inst.strict(&self.config.global) {
            "strict mode (vrrp_strict, strict_mode) allows no authentication"
        } else {
            return;
        };
        inst.auth_pass = None;
        inst.auth_ah = false;
        self.warn(
            at,
            format!("{why}: adverts carry none, as keepalived's do"),
            "remove the authentication block",
        );
    }

    /// What keepalived settles for AH: no IPv6 (the VIPs' family), and no initial MASTER
    /// below priority 255 (it would start with a sequence number the backups have passed).
    fn ah_settled(&mut self, at: &Word, inst: &mut VrrpInstance) {
        if inst
            .virtual_ipaddress
            .iter()
            .any(|v| v.address.addr.is_ipv6())
        {
            inst.auth_pass = None;
            inst.auth_ah = false;
            self.warn(
                at,
                "auth_type AH cannot be used with IPv6: adverts carry no authentication, as \
                 keepalived's do",
                "remove the authentication block",
            );
        } else if inst.state == InitialState::Master && inst.priority < 255 {
            inst.state = InitialState::Backup;
            self.warn(
                at,
                "initial state MASTER is incompatible with AH authentication: BACKUP, as \
                 keepalived starts it",
                "write state BACKUP",
            );
        }
    }

    /// One of the `garp_*` timings (`vrrp_garp_*` in global_defs); false if `key` is none.
    pub(super) fn garp_timing(&mut self, key: &str, n: &Node, g: &mut GarpTimings) -> bool {
        match key {
            "master_delay" => set(&mut g.master_delay, self.dur(n)),
            "master_repeat" => set(&mut g.master_repeat, self.num(n, "a count")),
            "master_refresh" => set(&mut g.master_refresh, self.dur(n)),
            "master_refresh_repeat" => set(&mut g.master_refresh_repeat, self.num(n, "a count")),
            "lower_prio_delay" => set(&mut g.lower_prio_delay, self.dur(n)),
            "lower_prio_repeat" => set(&mut g.lower_prio_repeat, self.num(n, "a count")),
            _ => return false,
        }
        true
    }

    /// keepalived compares `state` with MASTER and BACKUP exactly; anything else starts the
    /// instance as BACKUP, with a message.
    fn state(&mut self, n: &Node) -> InitialState {
        let Some(w) = self.arg(n, 0, "MASTER or BACKUP").cloned() else {
            return InitialState::Backup;
        };
        match w.text.as_str() {
            "MASTER" => InitialState::Master,
            "BACKUP" => InitialState::Backup,
            other => {
                let meant = if other.eq_ignore_ascii_case("master") {
                    "probably not what was meant: write MASTER in capitals to start as master"
                } else {
                    "write MASTER or BACKUP"
                };
                self.warn(
                    &w,
                    format!(
                        "unknown state `{}`: the instance starts as BACKUP, as keepalived's does",
                        visible(other)
                    ),
                    meant,
                );
                InitialState::Backup
            }
        }
    }

    /// An address as keepalived reads one for `unicast_src_ip` / `unicast_peer`: a `/prefix`
    /// or `-range` after it is dropped in silence.
    fn address(&mut self, w: &Word) -> Option<IpAddr> {
        let addr = w.text.split(['/', '-']).next().unwrap_or_default();
        match addr.parse() {
            Ok(ip) => Some(ip),
            Err(_) => {
                self.error(
                    w,
                    format!("`{}` is not an IP address", visible(&w.text)),
                    "",
                );
                None
            }
        }
    }

    /// The address of word 1 (`unicast_src_ip`, `mcast_dst_ip`).
    fn address_arg(&mut self, n: &Node) -> Option<IpAddr> {
        let w = self.arg(n, 0, "an IP address")?.clone();
        self.address(&w)
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
        // `"CMD" USER [GROUP]`: who the block's notify scripts run as.
        let value = match n.args.len() {
            0 | 1 => self.notify_command(n),
            _ => {
                let rest = Node {
                    keyword: n.args[0].clone(),
                    args: n.args[1..].to_vec(),
                    block: None,
                };
                let user = self.user_group(&rest);
                match (&notify.user, &user) {
                    (Some(old), Some(new)) if old != new => self.warn(
                        &n.args[1],
                        format!("this block's notify scripts already run as `{old}`; `{new}` is not used"),
                        "lvsdeck runs an instance's (or group's) notify scripts as one user",
                    ),
                    _ => notify.user = user.or(notify.user.take()),
                }
                Some(n.args[0].text.clone())
            }
        };
        let slot = match key {
            "master" => &mut notify.master,
            "backup" => &mut notify.backup,
            "fault" => &mut notify.fault,
            "stop" => &mut notify.stop,
            _ => &mut notify.any,
        };
        *slot = value;
    }

    /// The password adverts carry, if any: keepalived sends one only with `auth_type PASS`
    /// (exactly), and only its first 8 bytes.
    /// The password, and whether it keys an IPsec AH (`auth_type AH`) rather than goes in
    /// the advert (`PASS`).
    fn authentication(&mut self, n: &Node, base: &ConfPath) -> Option<(String, bool)> {
        let mut kind: Option<Word> = None;
        let mut pass = None;
        for a in self.block(n) {
            match a.keyword.text.as_str() {
                "auth_type" => kind = self.arg(a, 0, "PASS or AH").cloned(),
                "auth_pass" => {
                    self.place(base.join("auth_pass"), &a.keyword);
                    pass = self.auth_pass(a);
                }
                _ => self.unknown(a, Ctx::Auth),
            }
        }
        let Some(kind) = kind else {
            self.warn(
                &n.keyword,
                "authentication without auth_type: adverts carry no authentication, as \
                 keepalived's do",
                "add auth_type PASS to send the password, or remove the block",
            );
            return None;
        };
        match kind.text.as_str() {
            "PASS" => pass.map(|p| (p, false)),
            "AH" => pass.map(|p| (p, true)),
            other => {
                let meant = if other.to_ascii_uppercase().starts_with("PASS") {
                    "probably not what was meant: keepalived peers with PASS drop these \
                     adverts; write PASS exactly"
                } else {
                    "keepalived knows PASS and AH"
                };
                self.warn(
                    &kind,
                    format!(
                        "unknown auth_type `{}`: adverts carry no authentication, as keepalived's do",
                        visible(other)
                    ),
                    meant,
                );
                None
            }
        }
    }

    /// keepalived reads word 1 only and sends its first 8 bytes.
    fn auth_pass(&mut self, a: &Node) -> Option<String> {
        let w = self.arg(a, 0, "a password")?.clone();
        self.warn_word(
            a,
            1,
            |_| Some("only the first word of auth_pass is used, as keepalived does".into()),
            "quote a password with spaces",
        );
        if w.text.len() <= AUTH_PASS_MAX {
            return Some(w.text);
        }
        let mut cut = AUTH_PASS_MAX;
        while !w.text.is_char_boundary(cut) {
            cut -= 1;
        }
        let sent = w.text[..cut].to_string();
        let split = if cut < AUTH_PASS_MAX {
            " (keepalived cuts inside a character here and sends its first bytes; use ASCII)"
        } else {
            ""
        };
        self.warn(
            &w,
            format!(
                "auth_pass truncated to {AUTH_PASS_MAX} characters, as keepalived does: adverts \
                 carry `{sent}`{split}"
            ),
            format!("write auth_pass {sent} on every director"),
        );
        Some(sent)
    }

    pub(super) fn vips(&mut self, n: &Node, base: &ConfPath) -> Vec<VirtualIp> {
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
                broadcast: None,
                scope: None,
            };
            let mut skip = false;
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
                    ("brd" | "broadcast", value) => match broadcast(&address, value.as_deref()) {
                        Ok(b) => vip.broadcast = b,
                        Err(why) => {
                            skip |= why.ends_with("skipped");
                            self.warn(
                                &opt,
                                format!("VIP {}: {why}, as keepalived does", v.keyword.text),
                                "write brd ADDRESS, brd + or brd -",
                            );
                        }
                    },
                    ("scope", Some(sc)) => match super::routes::scope(&sc) {
                        Some(n) => vip.scope = Some(n),
                        None => self.warn(
                            &v.args[j + 1],
                            format!("`{sc}` is not a scope: global, as keepalived falls back to"),
                            "write host, link, site or global",
                        ),
                    },
                    (_, _) => self.error(
                        &opt,
                        format!("VIP option `{}` is not supported", opt.text),
                        "write ADDRESS[/PREFIX] [dev IFACE] [label LABEL]",
                    ),
                }
                j += 2;
            }
            if !skip {
                out.push(vip);
            }
        }
        out
    }

    pub(super) fn sync_group(&mut self, node: &Node) {
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
                // keepalived 2.2.7 takes members inside `group { }` only; a bare word here
                // (`smtp_alert`, `global_tracking`, a name) is a keyword, never a member.
                kw if n.args.is_empty()
                    && n.block.is_none()
                    && keywords::unsupported(Ctx::SyncGroup, kw).is_none() =>
                {
                    self.warn(
                        &n.keyword,
                        format!(
                            "unknown keyword `{}`: ignored, as keepalived does",
                            visible(kw)
                        ),
                        "keepalived 2.2.7 takes sync group members inside `group { }` only",
                    )
                }
                _ => self.unknown(n, Ctx::SyncGroup),
            }
        }
        self.config.vrrp_sync_group.insert(name, g);
    }
}

/// keepalived's `brd` of a VIP: an address, `+` (host bits set) or `-` (host bits clear);
/// an error ends in "skipped" when keepalived drops the VIP, else only the broadcast goes.
fn broadcast(vip: &IpNet, value: Option<&str>) -> Result<Option<Ipv4Addr>, String> {
    let IpAddr::V4(addr) = vip.addr else {
        return Err("`brd` on an IPv6 address: the VIP is skipped".into());
    };
    let Some(value) = value else {
        return Err("`brd` without a value: the VIP is skipped".into());
    };
    let host_bits = u32::MAX.checked_shr(u32::from(vip.prefix)).unwrap_or(0);
    let net = u32::from(addr) & !host_bits;
    match value {
        "+" | "-" if vip.prefix > 30 => {
            Err(format!("a /{} has no broadcast: none is set", vip.prefix))
        }
        "+" => Ok(Some(Ipv4Addr::from(net | host_bits))),
        "-" => Ok(Some(Ipv4Addr::from(net))),
        other => other
            .parse()
            .map(Some)
            .map_err(|_| format!("`{other}` is not a broadcast address: the VIP is skipped")),
    }
}
