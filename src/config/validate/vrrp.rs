//! Checks of VRRP scripts, instances and sync groups.

use super::*;

pub(super) fn check_vrrp_script(c: &mut Checker, name: &str, s: &VrrpScript) {
    let path = conf_path!["vrrp_script", name];
    c.script(path.join("script"), &s.script, Missing::Track(name.into()));
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

pub(super) fn check_instance(c: &mut Checker, cfg: &Config, name: &str, inst: &VrrpInstance) {
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
        } else if inst.strict(&cfg.global) {
            c.error(
                path.join("auth_pass"),
                "vrrp_strict sends no authentication (RFC 5798 has none), as keepalived",
                "remove auth_pass, or turn off strict_mode / vrrp_strict",
            );
        }
    }
    // Two instances on one VMAC would take each other's MAC and VIPs.
    if let Some(vmac) = inst.use_vmac.as_ref().and_then(|v| v.name.as_ref())
        && let Some((other, _)) = cfg.vrrp_instance.iter().find(|(n, i)| {
            n.as_str() < name && i.use_vmac.as_ref().and_then(|v| v.name.as_ref()) == Some(vmac)
        })
    {
        c.error(
            path.join("use_vmac"),
            format!("VMAC `{vmac}` is vrrp_instance {other}'s too"),
            "give each instance a VMAC of its own",
        );
    }
    if inst.auth_ah {
        if inst.auth_pass.is_none() {
            c.error(
                path.join("auth_ah"),
                "auth_ah needs auth_pass, its key",
                "add auth_pass",
            );
        }
        if inst
            .virtual_ipaddress
            .iter()
            .any(|v| v.address.addr.is_ipv6())
        {
            c.error(
                path.join("auth_ah"),
                "auth_ah is for IPv4 (VRRPv2) only, as keepalived's",
                "remove auth_ah",
            );
        }
    }
    if inst.virtual_ipaddress.is_empty() {
        if c.lenient() {
            c.warn(
                path.join("virtual_ipaddress"),
                format!(
                    "vrrp_instance {name} has no virtual address: it only elects a master and \
                     runs its notify scripts, as keepalived's does"
                ),
                "add a virtual_ipaddress block if the master should hold an address",
            );
        } else {
            c.error(
                path.join("virtual_ipaddress"),
                "an instance needs at least one virtual address",
                "add e.g. virtual_ipaddress = [{ address = \"192.0.2.100/24\" }]",
            );
        }
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
            let help = match crate::config::diag::suggest(
                &t.name,
                cfg.vrrp_script.keys().map(String::as_str),
            ) {
                Some(s) => format!("did you mean `{s}`?"),
                None => "define it as a vrrp_script".into(),
            };
            let message = format!("track_script `{}` is not a defined vrrp_script", t.name);
            if c.lenient() {
                let message = format!("{message}: ignored, as keepalived does");
                c.drop_part(path.join("track_script").join(i), message, help);
            } else {
                c.error(path.join("track_script").join(i), message, help);
            }
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
    super::track_file::check_instance_refs(c, cfg, &path, inst);
    super::bfd::check_instance_refs(c, cfg, &path, inst);
    for (i, t) in inst.track_interface.iter().enumerate() {
        if !(-253..=253).contains(&t.weight) {
            c.error(
                path.join("track_interface").join(i).join("weight"),
                format!("weight {} is outside -253..253", t.weight),
                "",
            );
        }
    }
    check_notify(c, &path, &inst.notify, &format!("vrrp_instance {name}"));
    if let Some(dst) = inst.mcast_dst_ip
        && (!dst.is_multicast() || family_v6.is_some_and(|v6| v6 != dst.is_ipv6()))
    {
        c.error(
            path.join("mcast_dst_ip"),
            format!("{dst} is not a multicast address of the VIPs' family"),
            "leave it out for the default group (vrrp_mcast_group4 / vrrp_mcast_group6)",
        );
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

/// The notify scripts of an instance or a sync group (`owner` names it). In a keepalived.conf
/// a missing one is left out, as keepalived leaves it out.
fn check_notify(c: &mut Checker, path: &ConfPath, n: &Notify, owner: &str) {
    for (key, keyword, script) in [
        ("master", "notify_master", &n.master),
        ("backup", "notify_backup", &n.backup),
        ("fault", "notify_fault", &n.fault),
        ("stop", "notify_stop", &n.stop),
        ("any", "notify", &n.any),
    ] {
        if let Some(script) = script {
            let missing =
                c.missing(|| format!("{keyword} of {owner} is disabled, as keepalived does"));
            c.script(path.join("notify").join(key), script, missing);
        }
    }
}

/// Members must be instances, each in one group. keepalived ignores a member that is not (and
/// then a group left with none); lvsdeck does the same in a keepalived.conf.
pub(super) fn check_sync_groups(c: &mut Checker, cfg: &Config) {
    let mut grouped: BTreeMap<&str, &str> = BTreeMap::new();
    for (gname, group) in &cfg.vrrp_sync_group {
        let path = conf_path!["vrrp_sync_group", gname];
        let mut members = 0;
        for (i, member) in group.group.iter().enumerate() {
            let mpath = path.join("group").join(i);
            let problem = if !cfg.vrrp_instance.contains_key(member) {
                let help = match crate::config::diag::suggest(
                    member,
                    cfg.vrrp_instance.keys().map(String::as_str),
                ) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => "name a vrrp_instance defined in this file".into(),
                };
                (
                    format!("sync group member `{member}` is not a vrrp_instance"),
                    help,
                )
            } else if let Some(other) = grouped.get(member.as_str()) {
                (
                    format!("instance `{member}` is already in sync group `{other}`"),
                    "an instance can belong to one sync group only".into(),
                )
            } else {
                grouped.insert(member, gname);
                members += 1;
                continue;
            };
            if c.lenient() {
                c.drop_part(
                    mpath,
                    format!("{}: ignored, as keepalived does", problem.0),
                    problem.1,
                );
            } else {
                c.error(mpath, problem.0, problem.1);
            }
        }
        if members == 0 && c.lenient() {
            c.drop_part(
                path.clone(),
                format!("sync group {gname} has no instance: it is removed, as keepalived does"),
                "list the vrrp_instance names that must change state together in group { }",
            );
            continue;
        }
        if group.group.is_empty() {
            c.error(
                path.join("group"),
                "a sync group needs at least one instance",
                "list the vrrp_instance names that must change state together",
            );
        }
        check_notify(c, &path, &group.notify, &format!("vrrp_sync_group {gname}"));
    }
}
