//! Rulesets in the JSON that `nft -j list ruleset` (nftables 1.0.6) printed for them.

use super::*;

fn advert_in() -> Advert {
    Advert {
        v6: false,
        hook: "input",
        ifname: "eth0".into(),
        daddr: "224.0.0.18".parse().unwrap(),
        saddr: None,
    }
}

fn ruleset(chain_policy: &str, rules: &[&str]) -> Value {
    let mut items = vec![
        r#"{"table": {"family": "inet", "name": "filt", "handle": 1}}"#.to_string(),
        r#"{"chain": {"family": "inet", "table": "filt", "name": "vr", "handle": 1}}"#.to_string(),
        format!(
            r#"{{"chain": {{"family": "inet", "table": "filt", "name": "input", "handle": 2, "type": "filter", "hook": "input", "prio": 0, "policy": "{chain_policy}"}}}}"#
        ),
    ];
    for (i, r) in rules.iter().enumerate() {
        let (chain, expr) = r.split_once('|').unwrap_or(("input", r));
        items.push(format!(
            r#"{{"rule": {{"family": "inet", "table": "filt", "chain": "{chain}", "handle": {}, "expr": {expr}}}}}"#,
            i + 4
        ));
    }
    serde_json::from_str(&format!(r#"{{"nftables": [{}]}}"#, items.join(","))).unwrap()
}

const CT_ESTABLISHED: &str = r#"[{"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["established", "related"]}}, {"accept": null}]"#;
const LO: &str = r#"[{"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "lo"}}, {"accept": null}]"#;
const SSH: &str = r#"[{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 22}}, {"accept": null}]"#;
const DROP_VRRP: &str = r#"[{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "protocol"}}, "right": "vrrp"}}, {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": "224.0.0.18"}}, {"drop": null}]"#;
const REJECT_112: &str = r#"[{"match": {"op": "==", "left": {"meta": {"key": "l4proto"}}, "right": 112}}, {"reject": {"type": "icmpx", "expr": "port-unreachable"}}]"#;
const ACCEPT_SET: &str = r#"[{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": {"set": ["10.1.1.1", "224.0.0.18"]}}}, {"accept": null}]"#;
const ACCEPT_MCAST: &str = r#"[{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": {"prefix": {"addr": "224.0.0.0", "len": 4}}}}, {"accept": null}]"#;
const FROM_NET_JUMP: &str = r#"[{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": {"prefix": {"addr": "10.0.0.0", "len": 8}}}}, {"counter": {"packets": 0, "bytes": 0}}, {"jump": {"target": "vr"}}]"#;
const JUMP_VR: &str = r#"[{"jump": {"target": "vr"}}]"#;
const VR_RETURN_ETH: &str = r#"vr|[{"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "eth*"}}, {"return": null}]"#;
const VR_DROP_VRRP: &str = r#"vr|[{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "protocol"}}, "right": "vrrp"}}, {"drop": null}]"#;

fn dropped(o: &Outcome) -> &str {
    match o {
        Outcome::Dropped { rule, .. } => rule,
        other => panic!("expected a drop, got {other:?}"),
    }
}

#[test]
fn an_empty_ruleset_lets_vrrp_through() {
    let empty: Value = serde_json::from_str(r#"{"nftables": []}"#).unwrap();
    assert_eq!(evaluate(&empty, &advert_in()), Outcome::Accepted);
}

#[test]
fn a_rule_dropping_vrrp_is_named_with_its_handle_and_fix() {
    let rs = ruleset("accept", &[SSH, DROP_VRRP]);
    let o = evaluate(&rs, &advert_in());
    assert!(dropped(&o).contains("rule handle 5"), "{o:?}");
    let Outcome::Dropped { fix, .. } = o else {
        unreachable!()
    };
    assert!(
        fix.starts_with("nft delete rule inet filt input handle 5"),
        "{fix}"
    );
    assert!(fix.contains("iifname \"eth0\" ip protocol vrrp ip daddr 224.0.0.18 accept"));
}

#[test]
fn protocol_by_number_and_reject_count_too() {
    let o = evaluate(&ruleset("accept", &[REJECT_112]), &advert_in());
    assert!(dropped(&o).contains("handle 4"));
}

#[test]
fn policy_drop_with_only_established_accepted_drops_adverts() {
    // Adverts flow one way: conntrack never calls them established.
    let o = evaluate(&ruleset("drop", &[CT_ESTABLISHED, LO, SSH]), &advert_in());
    assert!(dropped(&o).contains("policy drop"), "{o:?}");
}

#[test]
fn an_accept_before_the_drop_wins() {
    for accept in [ACCEPT_SET, ACCEPT_MCAST] {
        let rs = ruleset("drop", &[CT_ESTABLISHED, accept, DROP_VRRP]);
        assert_eq!(evaluate(&rs, &advert_in()), Outcome::Accepted);
    }
}

#[test]
fn the_other_interface_and_other_family_do_not_match() {
    let lo_only = ruleset("drop", &[LO]);
    assert!(matches!(
        evaluate(&lo_only, &advert_in()),
        Outcome::Dropped { .. }
    ));
    let v6 = Advert {
        v6: true,
        daddr: "ff02::12".parse().unwrap(),
        ..advert_in()
    };
    // `ip protocol vrrp drop` is for IPv4 only; the policy accepts.
    assert_eq!(
        evaluate(&ruleset("accept", &[DROP_VRRP]), &v6),
        Outcome::Accepted
    );
}

#[test]
fn jumps_and_returns_are_followed() {
    let rs = ruleset("accept", &[VR_DROP_VRRP, JUMP_VR]);
    assert!(dropped(&evaluate(&rs, &advert_in())).contains("chain vr"));
    let rs = ruleset(
        "accept",
        &[VR_RETURN_ETH, VR_DROP_VRRP, JUMP_VR, ACCEPT_SET],
    );
    assert_eq!(evaluate(&rs, &advert_in()), Outcome::Accepted);
}

#[test]
fn an_unknown_source_is_cannot_tell_and_a_named_peer_is_judged() {
    let rs = ruleset("accept", &[FROM_NET_JUMP, VR_DROP_VRRP]);
    assert!(matches!(
        evaluate(&rs, &advert_in()),
        Outcome::CannotTell(_)
    ));
    let peer = Advert {
        saddr: Some("10.0.0.7".parse().unwrap()),
        ..advert_in()
    };
    assert!(dropped(&evaluate(&rs, &peer)).contains("chain vr"));
    let outsider = Advert {
        saddr: Some("192.168.1.7".parse().unwrap()),
        ..advert_in()
    };
    assert_eq!(evaluate(&rs, &outsider), Outcome::Accepted);
}

#[test]
fn the_output_hook_is_judged_for_our_own_adverts() {
    let out: Value = serde_json::from_str(
        r#"{"nftables": [
        {"chain": {"family": "ip", "table": "t", "name": "out", "handle": 1, "type": "filter", "hook": "output", "prio": 0, "policy": "accept"}},
        {"rule": {"family": "ip", "table": "t", "chain": "out", "handle": 2, "expr": [{"match": {"op": "==", "left": {"meta": {"key": "oifname"}}, "right": "eth0"}}, {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "protocol"}}, "right": "vrrp"}}, {"drop": null}]}}
        ]}"#,
    )
    .unwrap();
    assert_eq!(evaluate(&out, &advert_in()), Outcome::Accepted);
    let mine = Advert {
        hook: "output",
        ..advert_in()
    };
    assert!(dropped(&evaluate(&out, &mine)).contains("handle 2"));
}

#[test]
fn the_rule_is_shown_in_nfts_own_words() {
    let listing = "table inet other { # handle 3
\tchain input { # handle 1
\t\ttcp dport 22 accept # handle 2
\t}
}
table inet lab_break { # handle 1
\tchain input { # handle 1
\t\ttype filter hook input priority filter; policy accept;
\t\tip protocol vrrp drop # handle 2
\t}
}
";
    let described = "table inet lab_break, chain input, rule handle 2";
    assert_eq!(
        rule_text(listing, described).as_deref(),
        Some("ip protocol vrrp drop")
    );
    assert_eq!(
        with_text(described.into(), Some(listing)),
        "table inet lab_break, chain input, rule handle 2: `ip protocol vrrp drop`"
    );
    assert_eq!(
        rule_text(listing, "table inet lab_break, chain input, rule handle 9"),
        None
    );
}

#[test]
fn named_sets_vmaps_and_compat_matches_are_cannot_tell() {
    let set = r#"[{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": "@allowed"}}, {"accept": null}]"#;
    let vmap = r#"[{"vmap": {"key": {"meta": {"key": "iifname"}}, "data": {"set": [["eth0", {"jump": "vr"}]]}}}]"#;
    let xt = r#"[{"xt": {"type": "match", "name": "conntrack"}}, {"accept": null}]"#;
    for rule in [set, vmap, xt] {
        let o = evaluate(&ruleset("drop", &[rule]), &advert_in());
        assert!(matches!(o, Outcome::CannotTell(_)), "{rule}: {o:?}");
    }
    // A counter is no verdict: the walk goes on to the drop.
    let counted = r#"[{"counter": {"packets": 0, "bytes": 0}}]"#;
    assert!(matches!(
        evaluate(&ruleset("accept", &[counted, DROP_VRRP]), &advert_in()),
        Outcome::Dropped { .. }
    ));
}

#[test]
fn prerouting_chains_are_walked_too() {
    let raw: Value = serde_json::from_str(
        r#"{"nftables": [
        {"chain": {"family": "ip", "table": "raw", "name": "pre", "handle": 1, "type": "filter", "hook": "prerouting", "prio": -300, "policy": "accept"}},
        {"rule": {"family": "ip", "table": "raw", "chain": "pre", "handle": 2, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "protocol"}}, "right": "vrrp"}}, {"drop": null}]}},
        {"chain": {"family": "ip", "table": "n", "name": "pre", "handle": 1, "type": "nat", "hook": "prerouting", "prio": -100, "policy": "accept"}},
        {"rule": {"family": "ip", "table": "n", "chain": "pre", "handle": 2, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "protocol"}}, "right": "vrrp"}}, {"drop": null}]}}
        ]}"#,
    )
    .unwrap();
    assert!(dropped(&evaluate(&raw, &advert_in())).contains("table ip raw, chain pre"));
}
