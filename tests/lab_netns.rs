//! The namespace topology builder: hosts on a bridge reach each other, cables can be pulled,
//! and nothing is left behind.

mod support;

use lvsdeck::lab::netns::{HostSpec, Topology, namespaces};

#[test]
fn hosts_on_the_bridge_reach_each_other_and_are_removed_on_drop() {
    if !support::prerequisites("netns topology", &["ip", "sysctl", "ping"]) {
        return;
    }
    let prefix = support::prefix("nt");
    {
        let topo = Topology::build(
            &prefix,
            vec![
                HostSpec::new("a", 1, &["10.99.0.1/24", "fd99::1/64"]),
                HostSpec::new("b", 2, &["10.99.0.2/24", "fd99::2/64"]),
            ],
        )
        .unwrap();
        topo.exec("a", &["ping", "-c1", "-W1", "10.99.0.2"])
            .unwrap();
        topo.exec("a", &["ping", "-6", "-c1", "-W1", "fd99::2"])
            .unwrap();
        assert!(topo.holds("b", "10.99.0.2"));
        topo.set_cable("b", false).unwrap();
        assert!(
            topo.exec("a", &["ping", "-c1", "-W1", "10.99.0.2"])
                .is_err()
        );
        topo.set_cable("b", true).unwrap();
        topo.exec("a", &["ping", "-c1", "-W2", "10.99.0.2"])
            .unwrap();
    }
    assert!(
        !namespaces().iter().any(|n| n.starts_with(&prefix)),
        "namespaces left behind"
    );
}
