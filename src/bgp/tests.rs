use std::net::IpAddr;

use super::*;
use crate::config::model::{BgpNeighbor, Dur};

fn config(text: &str) -> Config {
    crate::config::load_text(
        std::path::Path::new("t.toml"),
        text.to_string(),
        &crate::config::validate::NoProbe,
    )
    .unwrap()
    .config
}

const TWO_PORTS: &str = r#"
[bgp]
local_as = 65001
[[bgp.neighbor]]
address = "10.20.0.254"
remote_as = 65000

[[virtual_server]]
ip = "10.30.0.100"
port = 80
lvs_sched = "mh"
lvs_method = "DR"
announce = true
[[virtual_server.real_server]]
ip = "10.40.0.1"
port = 80

[[virtual_server]]
ip = "10.30.0.100"
port = 443
lvs_sched = "mh"
lvs_method = "DR"
announce = true
[[virtual_server.real_server]]
ip = "10.40.0.1"
port = 443

[[virtual_server]]
ip = "10.30.0.200"
port = 80
lvs_sched = "mh"
lvs_method = "DR"
[[virtual_server.real_server]]
ip = "10.40.0.1"
port = 80
"#;

fn vip(s: &str) -> IpNet {
    IpNet::host(s.parse::<IpAddr>().unwrap())
}

const RUNNING: DirectorState = DirectorState {
    drained_by: None,
    stopping: false,
};

#[test]
fn an_address_is_announced_while_one_of_its_services_has_quorum() {
    let c = config(TWO_PORTS);
    // Before the first health checks answer: not yet.
    let w = wanted(&c, |_| None, RUNNING);
    assert_eq!(w.len(), 1, "only announced services: {w:?}");
    assert_eq!(w[&vip("10.30.0.100")], Why::Starting);
    // One port known up is enough; one known down waits for the other.
    let w = wanted(&c, |id| id.0.ends_with(":80").then_some(true), RUNNING);
    assert_eq!(w[&vip("10.30.0.100")], Why::Announced);
    let w = wanted(&c, |id| id.0.ends_with(":80").then_some(false), RUNNING);
    assert_eq!(w[&vip("10.30.0.100")], Why::Starting);
    let w = wanted(&c, |id| Some(!id.0.ends_with(":443")), RUNNING);
    assert_eq!(w[&vip("10.30.0.100")], Why::Announced);
    let w = wanted(&c, |_| Some(false), RUNNING);
    assert_eq!(
        w[&vip("10.30.0.100")],
        Why::QuorumLost(vec![
            "TCP 10.30.0.100:80".into(),
            "TCP 10.30.0.100:443".into()
        ])
    );
    assert_eq!(
        w[&vip("10.30.0.100")].to_string(),
        "withdrawn: quorum lost on TCP 10.30.0.100:80, TCP 10.30.0.100:443"
    );
}

#[test]
fn stopping_beats_a_drain_which_beats_quorum() {
    let c = config(TWO_PORTS);
    let drained = DirectorState {
        drained_by: Some("alice"),
        stopping: false,
    };
    let w = wanted(&c, |_| Some(true), drained);
    assert_eq!(w[&vip("10.30.0.100")], Why::Drained { by: "alice".into() });
    let w = wanted(&c, |_| Some(false), drained);
    assert_eq!(w[&vip("10.30.0.100")], Why::Drained { by: "alice".into() });
    let stopping = DirectorState {
        drained_by: Some("alice"),
        stopping: true,
    };
    assert_eq!(
        wanted(&c, |_| Some(true), stopping)[&vip("10.30.0.100")],
        Why::Stopping
    );
}

#[test]
fn the_fragment_exports_only_what_is_announced() {
    let c = config(TWO_PORTS);
    let bgp = c.bgp.clone().unwrap();
    let text = fragment(
        &bgp,
        [vip("10.30.0.100"), vip("fd00:30::100")],
        "/etc/lvsdeck.toml",
    );
    for want in [
        "protocol static lvsdeck_vip4 {\n\tipv4;\n\troute 10.30.0.100/32 blackhole;\n}",
        "protocol static lvsdeck_vip6 {\n\tipv6;\n\troute fd00:30::100/128 blackhole;\n}",
        "protocol bgp lvsdeck_r1 {\n\tlocal as 65001;\n\tneighbor 10.20.0.254 as 65000;\n\t\
         hold time 9;\n\tkeepalive time 3;",
        "\tipv4 {\n\t\timport none;\n\t\texport where proto = \"lvsdeck_vip4\";\n\t};\n}",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
    assert!(!text.contains("bfd"), "no BFD asked for:\n{text}");
    assert!(!text.contains("router id"), "{text}");
    // Withdrawn: the static protocol stays, empty (BIRD takes an empty one).
    let empty = fragment(&bgp, [], "/etc/lvsdeck.toml");
    assert!(
        empty.contains("protocol static lvsdeck_vip4 {\n\tipv4;\n}"),
        "{empty}"
    );
}

#[test]
fn bfd_router_id_and_source_address_go_into_the_fragment() {
    let mut bgp = config(TWO_PORTS).bgp.unwrap();
    bgp.router_id = Some("10.20.0.1".parse().unwrap());
    bgp.bfd_interval = Dur(std::time::Duration::from_millis(50));
    bgp.neighbor.push(BgpNeighbor {
        address: "fd00:20::254".parse().unwrap(),
        remote_as: 65000,
        source_address: Some("fd00:20::1".parse().unwrap()),
        bfd: true,
    });
    let text = fragment(&bgp, [], "x");
    for want in [
        "router id 10.20.0.1;",
        "protocol bfd lvsdeck_bfd {\n\tinterface \"*\" {\n\t\tmin rx interval 50 ms;\n\t\t\
         min tx interval 50 ms;\n\t\tmultiplier 3;\n\t};\n}",
        "protocol bgp lvsdeck_r2 {\n\tlocal fd00:20::1 as 65001;\n\tneighbor fd00:20::254 as 65000;",
        "\tbfd on;\n\tipv6 {\n\t\timport none;\n\t\texport where proto = \"lvsdeck_vip6\";",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
}
