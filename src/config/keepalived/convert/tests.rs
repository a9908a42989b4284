//! The converter alone, on small texts: what each keepalived leniency turns into.

use std::path::{Path, PathBuf};

use super::convert;
use crate::config::diag::Diags;
use crate::config::keepalived::parse::{FileSource, parse};
use crate::config::model::*;

struct NoFiles;
impl FileSource for NoFiles {
    fn read(&self, _: &Path) -> std::io::Result<Vec<u8>> {
        Err(std::io::ErrorKind::NotFound.into())
    }
    fn glob(&self, _: &Path) -> Vec<PathBuf> {
        Vec::new()
    }
}

fn conv(text: &str) -> (Config, Diags) {
    let (parsed, mut diags) = parse(Path::new("k.conf"), text.into(), &NoFiles, "lb1");
    let config = convert(&parsed, &mut diags).config;
    (config, diags)
}

/// The one-line form of every diagnostic.
fn said(d: &Diags) -> String {
    d.to_string()
}

const VIP: &str = "virtual_ipaddress {\n10.0.0.1\n}\n";

fn instance(body: &str) -> String {
    format!("vrrp_instance VI_1 {{\ninterface eth0\nvirtual_router_id 1\n{body}{VIP}}}\n")
}

#[test]
fn a_password_cut_inside_a_character_keeps_whole_characters_and_says_so() {
    let (c, d) = conv(&instance(
        "authentication {\nauth_type PASS\nauth_pass abcdefgé\n}\n",
    ));
    assert_eq!(
        c.vrrp_instance["VI_1"].auth_pass.as_deref(),
        Some("abcdefg")
    );
    assert!(said(&d).contains("cuts inside a character"), "{d}");
}

#[test]
fn lvs_sync_daemon_reads_named_and_positional_forms() {
    for (line, instance, id) in [
        ("lvs_sync_daemon eth1 inst VI_1 id 5", Some("VI_1"), Some(5)),
        ("lvs_sync_daemon eth1 VI_1 7", Some("VI_1"), Some(7)),
        ("lvs_sync_daemon eth1 VI_1 id 9", Some("VI_1"), Some(9)),
        ("lvs_sync_daemon eth1", None, None),
    ] {
        let (c, d) = conv(&format!("global_defs {{\n{line}\n}}\n"));
        assert!(!d.has_errors(), "{line}: {d}");
        let s = c.global.lvs_sync_daemon.unwrap();
        assert_eq!(
            (s.interface.as_str(), s.instance.as_deref(), s.sync_id),
            ("eth1", instance, id),
            "{line}"
        );
    }
}

#[test]
fn garp_timings_are_read_globally_and_per_instance() {
    let (c, d) = conv(&format!(
        "global_defs {{\nvrrp_garp_master_repeat 2\nvrrp_garp_master_delay 1\n}}\n{}",
        instance("garp_master_repeat 3\ngarp_extra_if\n")
    ));
    assert_eq!(c.global.garp.master_repeat, 2);
    let garp = c.vrrp_instance["VI_1"].garp.unwrap();
    assert_eq!(
        (garp.master_repeat, garp.master_delay),
        (3, Dur::from_secs(1))
    );
    assert!(said(&d).contains("`garp_extra_if` is ignored"), "{d}");
}

#[test]
fn keepalived_checks_on_global_values_warn_and_ignore() {
    let (c, d) = conv(
        "global_defs {\nvrrp_mcast_group4 10.0.0.1\nvrrp_mcast_group6 224.0.0.18\n\
         vrrp_garp_interval 0\n}\n",
    );
    assert_eq!(c.global.vrrp_mcast_group4, None);
    assert_eq!(c.global.vrrp_mcast_group6, None);
    assert_eq!(c.global.vrrp_garp_interval, None);
    assert!(!d.has_errors());
    assert_eq!(d.warnings().count(), 3, "{d}");
}

#[test]
fn a_second_instance_of_the_same_name_is_ignored() {
    let (c, d) = conv(&format!(
        "{}{}",
        instance("priority 50\n"),
        instance("priority 60\n")
    ));
    assert_eq!(c.vrrp_instance["VI_1"].priority, 50);
    assert!(said(&d).contains("already defined"), "{d}");
}

#[test]
fn virtual_servers_keepalived_would_drop_are_dropped() {
    let vs = "virtual_server 10.0.0.1 80 {\nprotocol TCP\nlvs_method DR\n\
              real_server 10.0.0.2 80 {\n}\n}\n";
    let (c, d) = conv(&format!(
        "virtual_server 10.0.0.9 80 {{\nprotocol TCP\nlvs_method DR\n}}\n{vs}{vs}"
    ));
    assert_eq!(c.virtual_server.len(), 1);
    assert_eq!(c.virtual_server[0].port, Some(80));
    let d = said(&d);
    assert!(
        d.contains("has no real servers") && d.contains("defined twice"),
        "{d}"
    );
}

#[test]
fn a_keyword_of_another_block_says_where_it_belongs() {
    let (_, d) = conv("enable_script_security\n");
    assert!(said(&d).contains("belongs in global_defs"), "{d}");
}

#[test]
fn refused_keywords_keep_their_reason() {
    let (_, d) = conv(&instance("use_vmac_addr\nuse_ipvlan\n"));
    let errors: Vec<String> = d.errors().map(|e| e.message.clone()).collect();
    assert_eq!(
        errors,
        [
            "`use_vmac_addr` is not supported",
            "`use_ipvlan` is not supported"
        ]
    );
}

#[test]
fn use_vmac_is_read_as_keepalived_reads_it() {
    let (c, d) = conv(&instance(
        "use_vmac pub_a 02:00:00:00:00:07\nvmac_xmit_base\n",
    ));
    let v = c.vrrp_instance["VI_1"].use_vmac.clone().expect("use_vmac");
    assert_eq!(v.name.as_deref(), Some("pub_a"));
    assert_eq!(v.mac, Some([2, 0, 0, 0, 0, 7]));
    assert!(v.xmit_base);
    assert_eq!(d.errors().count(), 0, "{d}");
    // A bad name: warned, the default name; unicast peers force vmac_xmit_base.
    let (c, d) = conv(&instance("use_vmac a/b\nunicast_peer {\n10.0.0.2\n}\n"));
    let v = c.vrrp_instance["VI_1"].use_vmac.clone().expect("use_vmac");
    assert_eq!((v.name, v.xmit_base), (None, true));
    assert!(said(&d).contains("the default name is used"), "{d}");
    assert!(said(&d).contains("as keepalived forces"), "{d}");
    // Five octets: the VRID is the sixth.
    let (c, _) = conv(&instance("use_vmac 02:00:00:00:01\n"));
    let vrid = c.vrrp_instance["VI_1"].virtual_router_id;
    assert_eq!(
        c.vrrp_instance["VI_1"].use_vmac.as_ref().unwrap().mac,
        Some([2, 0, 0, 0, 1, vrid])
    );
    let (c, d) = conv(&instance("vmac_xmit_base\n"));
    assert!(c.vrrp_instance["VI_1"].use_vmac.is_none());
    assert!(said(&d).contains("without use_vmac is ignored"), "{d}");
}

#[test]
fn vip_broadcast_is_read_as_keepalived_reads_it() {
    let vips = |line: &str| {
        let text = format!(
            "vrrp_instance VI_1 {{\ninterface eth0\nvirtual_router_id 1\nvirtual_ipaddress {{\n{line}\n}}\n}}\n"
        );
        let (c, d) = conv(&text);
        let v = c.vrrp_instance["VI_1"].virtual_ipaddress.clone();
        (v.iter().map(|v| v.broadcast).collect::<Vec<_>>(), said(&d))
    };
    let ip = |s: &str| Some(s.parse().unwrap());
    assert_eq!(vips("10.1.2.3/16 brd 10.1.255.255").0, [ip("10.1.255.255")]);
    assert_eq!(vips("10.1.2.3/24 brd +").0, [ip("10.1.2.255")]);
    assert_eq!(vips("10.1.2.3/24 broadcast -").0, [ip("10.1.2.0")]);
    assert_eq!(vips("10.1.2.3/24").0, [None]);
    // /31 and /32 have none: the VIP stays, without one.
    let (b, d) = vips("10.1.2.3 brd +");
    assert_eq!(b, [None]);
    assert!(d.contains("has no broadcast"), "{d}");
    // A value keepalived cannot read drops the VIP.
    let (b, d) = vips("10.1.2.3/24 brd nonsense");
    assert!(b.is_empty());
    assert!(d.contains("the VIP is skipped"), "{d}");
}

#[test]
fn a_virtual_server_without_a_port_serves_every_port_persistently() {
    let (c, d) = conv(
        "virtual_server 10.0.0.1 {\nlb_kind DR\nprotocol TCP\nreal_server 10.0.0.2 80 {\n}\n}\n\
         virtual_server 10.0.0.3 0 {\nlb_kind NAT\nprotocol TCP\npersistence_timeout 50\n\
         real_server 10.0.0.4 {\n}\n}\n",
    );
    assert_eq!(d.errors().count(), 0, "{d}");
    let (dr, nat) = (&c.virtual_server[0], &c.virtual_server[1]);
    assert_eq!(dr.port, Some(0));
    assert_eq!(dr.persistence_timeout, Some(Dur::from_secs(360)));
    assert_eq!(dr.real_server[0].port, Some(0));
    assert!(said(&d).contains("persistence_timeout 360 s"), "{d}");
    assert!(said(&d).contains("the port is reset to 0"), "{d}");
    assert_eq!(nat.persistence_timeout, Some(Dur::from_secs(50)));
    // Without a port, a real server takes the service's.
    assert_eq!(nat.real_server[0].port, Some(0));
}

/// The tree as nested keyword lists, for comparing shapes.
fn shape(nodes: &[crate::config::keepalived::parse::Node]) -> String {
    nodes
        .iter()
        .map(|n| match &n.block {
            Some(b) => format!("{}{{{}}}", n.keyword.text, shape(b)),
            None => n.keyword.text.clone(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn reflowed(text: &str) -> (String, Vec<String>) {
    let (parsed, _) = parse(Path::new("k.conf"), text.into(), &NoFiles, "x");
    let (nodes, early) = super::reflow::reflow(&parsed.nodes);
    let early = early
        .iter()
        .map(|e| format!("{} ends {}", e.unknown.text, e.ended))
        .collect();
    (shape(&nodes), early)
}

#[test]
fn a_known_tree_is_left_as_it_is() {
    let text = "virtual_server 10.0.0.1 80 {\nreal_server 10.0.0.2 80 {\nweight 1\nHTTP_GET {\n\
                url {\npath /\n}\n}\n}\n}\n";
    let (shape, early) = reflowed(text);
    assert_eq!(
        shape,
        "virtual_server{real_server{weight HTTP_GET{url{path}}}}"
    );
    assert!(early.is_empty());
}

#[test]
fn an_unknown_block_ends_the_enclosing_one_as_in_keepalived() {
    // An operator's file: `SMTP_CHEKC {}` ends the first real_server; the TCP_CHECK after it
    // is read in the virtual_server, where it is unknown, and its `}` ends the
    // virtual_server; the second real_server is read at the top level, unknown there.
    let text = "virtual_server 10.0.0.1 80 {\nlb_kind NAT\nprotocol TCP\nreal_server 10.0.0.2 80 {\n\
                weight 1\nSMTP_CHEKC {}\nTCP_CHECK {\nconnect_port 80\n}\n}\n\
                real_server 10.0.0.3 80 {\nweight 1\n}\n}\n";
    let (shape, early) = reflowed(text);
    assert_eq!(
        shape,
        "virtual_server{lb_kind protocol real_server{weight SMTP_CHEKC} TCP_CHECK connect_port} \
         real_server weight"
    );
    assert_eq!(
        early,
        [
            "SMTP_CHEKC ends real_server",
            "TCP_CHECK ends virtual_server"
        ]
    );
    let (c, d) = conv(text);
    let reals: Vec<String> = c.virtual_server[0]
        .real_server
        .iter()
        .map(|r| r.ip.to_string())
        .collect();
    assert_eq!(reals, ["10.0.0.2"], "{d}");
    assert!(c.virtual_server[0].real_server[0].check.is_empty());
    assert!(said(&d).contains("ends real_server here"), "{d}");
    // At the top level an unknown block is harmless: its lines are unknown there too.
    let (shape, early) = reflowed("bal_defs {\nrouter_id x\n}\nglobal_defs {\nrouter_id y\n}\n");
    assert_eq!(shape, "bal_defs router_id global_defs{router_id}");
    assert!(early.is_empty());
}

#[test]
fn two_instances_on_one_vmac_are_refused() {
    use crate::config::validate::{Dialect, NoProbe, validate};
    let one = |name: &str, vrid: u8| {
        format!(
            "vrrp_instance {name} {{\ninterface eth0\nvirtual_router_id {vrid}\nuse_vmac shared\n{VIP}}}\n"
        )
    };
    let (c, _) = conv(&format!("{}{}", one("VI_1", 1), one("VI_2", 2)));
    let errors: Vec<String> = validate(&c, &NoProbe, Dialect::Keepalived)
        .into_iter()
        .map(|f| f.message)
        .collect();
    assert!(
        errors
            .iter()
            .any(|m| m == "VMAC `shared` is vrrp_instance VI_1's too"),
        "{errors:?}"
    );
}

#[test]
fn track_files_and_the_checks_that_read_them_convert_as_keepalived_reads_them() {
    let text = format!(
        "vrrp_track_file maint {{\nfile /run/maint\nweight 0\n}}\n\
         track_file prio {{\nfile /run/prio\nweight -20 reverse\ninit_file overwrite 5\n}}\n\
         track_file nofile {{\nweight 3\n}}\n{}\
         virtual_server 10.0.0.1 53 {{\nprotocol UDP\nreal_server 10.0.0.2 53 {{\n\
         FILE_CHECK {{\ntrack_file prio\nweight 7 reverse\n}}\n\
         FILE_CHECK {{\ntrack_file missing\n}}\n\
         DNS_CHECK {{\ntype aaaa\nname www.example.org\nname other.example\n}}\n\
         DNS_CHECK {{\ntype SRV\nname a..b\nretry 1\n}}\n}}\n}}\n",
        instance("track_file {\nmaint\nprio weight 300\nundefined\nprio\n}\n")
    );
    let (c, d) = conv(&text);
    let said = said(&d);
    assert!(!d.has_errors(), "{said}");
    assert!(said.contains("`vrrp_track_file` is deprecated"), "{said}");
    assert!(said.contains("track_file nofile has no `file`"), "{said}");
    assert!(said.contains("track file undefined not found"), "{said}");
    assert!(said.contains("listed twice"), "{said}");
    assert!(said.contains("weight `300`"), "{said}");
    assert!(said.contains("track_file missing not found"), "{said}");
    assert!(said.contains("FILE_CHECK has no track_file"), "{said}");
    assert!(said.contains("unknown DNS type `SRV`"), "{said}");
    assert!(said.contains("empty label"), "{said}");
    assert!(said.contains("name already specified"), "{said}");
    assert_eq!(
        c.track_file.keys().collect::<Vec<_>>(),
        ["maint", "prio"],
        "the block without a file is removed"
    );
    let prio = &c.track_file["prio"];
    assert_eq!(
        (
            prio.weight,
            prio.reverse,
            prio.init_file,
            prio.init_overwrite
        ),
        (-20, true, Some(5), true)
    );
    let refs = &c.vrrp_instance["VI_1"].track_file;
    assert_eq!(refs.len(), 2, "{refs:?}");
    assert_eq!((refs[0].name.as_str(), refs[0].weight), ("maint", None));
    assert_eq!(
        (refs[1].name.as_str(), refs[1].weight, refs[1].reverse),
        ("prio", Some(-20), Some(true)),
        "an out-of-range weight falls back to the block's"
    );
    let checks = &c.virtual_server[0].real_server[0].check;
    assert_eq!(checks.len(), 3, "the FILE_CHECK without a file is left out");
    assert_eq!(
        (
            checks[0].track_file.as_deref(),
            checks[0].file_weight,
            checks[0].file_reverse
        ),
        (Some("prio"), Some(7), Some(true))
    );
    assert_eq!(
        (
            checks[1].dns_type.as_deref(),
            checks[1].dns_name.as_deref(),
            checks[1].retry
        ),
        (Some("AAAA"), Some("www.example.org"), 3)
    );
    assert_eq!(
        (
            checks[2].dns_type.as_deref(),
            checks[2].dns_name.as_deref(),
            checks[2].retry
        ),
        (None, None, 1),
        "what keepalived ignores keeps the defaults (SOA of the root); retry as written"
    );
}

#[test]
fn user_and_group_words_are_kept() {
    let text = format!(
        "global_defs {{\nscript_user nobody daemon\n}}\nvrrp_script chk {{\nscript /bin/true\nuser nobody nogroup\n}}\n{}",
        instance("notify_master \"/bin/true\" nobody daemon\nnotify_backup \"/bin/true\" root\n")
    );
    let (c, d) = conv(&text);
    assert_eq!(c.global.script_user.as_deref(), Some("nobody:daemon"));
    assert_eq!(c.vrrp_script["chk"].user.as_deref(), Some("nobody:nogroup"));
    let n = &c.vrrp_instance["VI_1"].notify;
    assert_eq!(n.user.as_deref(), Some("nobody:daemon"));
    assert_eq!(n.master.as_deref(), Some("/bin/true"));
    assert!(
        said(&d).contains("already run as `nobody:daemon`; `root` is not used"),
        "{d}"
    );
}
