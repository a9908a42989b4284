//! Checks of virtual servers, their real servers and health checks.

use super::*;

pub(super) fn check_vs_group(c: &mut Checker, name: &str, g: &VirtualServerGroup) {
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

pub(super) fn check_virtual_server(c: &mut Checker, cfg: &Config, i: usize, vs: &VirtualServer) {
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
    if vs.port == Some(0) && vs.persistence_timeout.is_none() {
        c.error(
            path.join("port"),
            "port 0 (every port) needs persistence: IPVS refuses it otherwise",
            "add persistence_timeout",
        );
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
        let help = match crate::config::diag::suggest(&vs.lvs_sched, SCHEDULERS.iter().copied()) {
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
    let owner = format!("virtual server {}", vs_key(vs));
    let scripts = [
        ("quorum_up", &vs.quorum_up),
        ("quorum_down", &vs.quorum_down),
    ];
    check_change_scripts(c, &path, scripts, &owner);
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
        let owner = match rs.port {
            Some(port) => format!("real server {}", std::net::SocketAddr::new(rs.ip, port)),
            None => format!("real server {}", rs.ip),
        };
        let scripts = [
            ("notify_up", &rs.notify_up),
            ("notify_down", &rs.notify_down),
        ];
        check_change_scripts(c, &rpath, scripts, &owner);
        let cannot_run = match rs.check.is_empty() {
            true => Vec::new(),
            false => crate::health::CheckTarget::for_configured(cfg, "", vs, rs).check_errors(),
        };
        for (k, check) in rs.check.iter().enumerate() {
            let others = rs.check.len() - 1;
            let path = rpath.join("check").join(k);
            let kind = format!("{:?}", check.kind).to_lowercase();
            let before = c.findings.len();
            super::track_file::check_fields(c, cfg, &path, check, &kind);
            check_check(c, path.clone(), check, &owner, others);
            // What the daemon would still fail to build (a regex, a user, a port), found by
            // building it as the daemon does.
            if c.findings.len() == before
                && let Some((_, why)) = cannot_run.iter().find(|(i, _)| *i == k)
            {
                let message = format!("this check cannot run: {why}");
                if c.lenient() {
                    c.warn(path, format!("{message}; its server is held down"), "");
                } else {
                    c.error(path, message, "");
                }
            }
        }
    }
}

/// Scripts run on a change of state; `owner` names whose, for the message when keepalived
/// would leave one out.
fn check_change_scripts(
    c: &mut Checker,
    path: &ConfPath,
    scripts: [(&str, &Option<String>); 2],
    owner: &str,
) {
    for (key, script) in scripts {
        if let Some(s) = script {
            let missing = c.missing(|| format!("{key} of {owner} is disabled, as keepalived does"));
            c.script(path.join(key), s, missing);
        }
    }
}

/// One check of the real server `owner`, which has `others` checks besides.
fn check_check(c: &mut Checker, path: ConfPath, ck: &Check, owner: &str, others: usize) {
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
        (CheckKind::Misc, Some(p)) => {
            // keepalived frees a MISC_CHECK whose script is missing: the server loses that check.
            let missing = c.missing(|| {
                let then = if others == 0 {
                    format!("{owner} has no check left and always counts as UP")
                } else {
                    format!("the other checks of {owner} decide alone")
                };
                format!("this MISC_CHECK is removed, as keepalived does: {then}")
            });
            c.script(path.join("misc_path"), p, missing);
        }
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
    let udp_only = ck.payload.is_some()
        || ck.require_reply.is_some()
        || ck.min_reply_length.is_some()
        || ck.max_reply_length.is_some();
    if ck.kind != CheckKind::Udp && udp_only {
        c.error(
            path.clone(),
            format!("payload / require_reply / *_reply_length do not apply to a {kind} check"),
            "",
        );
    }
    for (key, hex, wildcard) in [
        ("payload", &ck.payload, false),
        ("require_reply", &ck.require_reply, true),
    ] {
        if let Some(h) = hex
            && let Err(e) = crate::health::udp::parse_hex(h, wildcard)
        {
            c.error(path.join(key), format!("{key}: {e}"), "write hex digits");
        }
    }
    if ck.kind != CheckKind::Smtp && ck.helo_name.is_some() {
        c.error(
            path.join("helo_name"),
            format!("helo_name does not apply to a {kind} check"),
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
