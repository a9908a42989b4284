//! Reloads (by an operator and by SIGHUP), a restart's restored state, and what the IPVS
//! worker reports: drift, failures and notes.

use super::*;

const VIP: &str = "192.0.2.100:80";

/// CONFIG with a third real server on the first service.
fn with_third_real() -> Config {
    config(&CONFIG.replace(
        "[[virtual_server]]\nip = \"192.0.2.101\"",
        "[[virtual_server.real_server]]\nip = \"192.0.2.13\"\nport = 80\nweight = 10\n\
         check = [{ type = \"tcp\", connect_timeout = \"2s\" }]\n\n\
         [[virtual_server]]\nip = \"192.0.2.101\"",
    ))
}

#[test]
fn a_reload_applies_the_difference_and_keeps_drains_and_health() {
    let mut rig = Rig::new(CONFIG);
    rig.command(Command::Drain {
        target: target(VIP, "192.0.2.12:80"),
    })
    .unwrap();
    rig.down("192.0.2.11:80");
    rig.next_reload = Some(Ok(with_third_real()));
    let mark = rig.seen.len();
    let answer = rig.command(Command::Reload).unwrap();
    assert_eq!(
        answer,
        "reloaded test.toml: VRRP unchanged; IPVS table brought in line"
    );
    assert_eq!(rig.weight(VIP, "192.0.2.13:80"), Some(10), "added");
    assert_eq!(rig.weight(VIP, "192.0.2.12:80"), Some(0), "still drained");
    assert_eq!(rig.weight(VIP, "192.0.2.11:80"), None, "still down");
    assert_eq!(rig.checks.len(), 4);
    let kinds = rig.kinds_since(mark);
    assert_order(
        &kinds,
        &["delegate", "checks", "desired", "audit", "answer"],
    );
    assert!(
        !kinds.contains(&"save".to_string()),
        "a reload saves nothing"
    );
    let added = rig.real_view("192.0.2.100:80", "192.0.2.13:80");
    assert!(added.in_table && added.health == RealHealth::Up && added.weight == 10);
    // Only the difference: the new server, and the sorry server out as the quorum is back
    // (the drain and the failure had taken the live weight to 0).
    let ipvs = rig.events_since(mark, "ipvs");
    assert_eq!(ipvs.len(), 2, "{ipvs:?}");
    assert!(
        ipvs[0].contains("add real server 192.0.2.13:80"),
        "{ipvs:?}"
    );
    assert!(
        ipvs[1].contains("delete real server 192.0.2.99:80"),
        "{ipvs:?}"
    );
    assert!(rig.service_view("192.0.2.100:80").quorum_up);
}

#[test]
fn a_refused_reload_keeps_the_running_configuration() {
    let mut rig = Rig::new(CONFIG);
    rig.next_reload = Some(Err(
        "test.toml is invalid, the running configuration stays:\ntest.toml:3:1: error".into(),
    ));
    let mark = rig.seen.len();
    let err = rig.command(Command::Reload).unwrap_err();
    assert!(err.contains("the running configuration stays"), "{err}");
    let kinds = rig.kinds_since(mark);
    assert!(!kinds.contains(&"desired".to_string()), "{kinds:?}");
    assert!(!kinds.contains(&"checks".to_string()), "{kinds:?}");
    assert_eq!(rig.weight(VIP, "192.0.2.11:80"), Some(10));
    assert_eq!(rig.core.config().virtual_server.len(), 2);
}

#[test]
fn a_reload_that_removes_a_service_takes_it_out_of_the_kernel() {
    let mut rig = Rig::new(CONFIG);
    let text = CONFIG
        .split("[[virtual_server]]\nip = \"192.0.2.101\"")
        .next()
        .unwrap();
    rig.next_reload = Some(Ok(config(text)));
    rig.command(Command::Reload).unwrap();
    assert_eq!(rig.weight("192.0.2.101:443", "192.0.2.21:443"), None);
    assert_eq!(rig.kernel.table.services.len(), 1);
    assert_eq!(rig.checks.len(), 2);
}

#[test]
fn sighup_reloads_as_the_daemon_with_no_answer() {
    let mut rig = Rig::new(CONFIG);
    rig.next_reload = Some(Ok(with_third_real()));
    let mark = rig.seen.len();
    rig.feed(In::Hangup);
    let daemon = rig.events_since(mark, "daemon");
    assert_eq!(
        daemon,
        ["SIGHUP: reloaded test.toml: VRRP unchanged; IPVS table brought in line"]
    );
    let kinds = rig.kinds_since(mark);
    assert!(!kinds.contains(&"answer".to_string()));
    assert!(!kinds.contains(&"audit".to_string()));
    assert_eq!(rig.weight(VIP, "192.0.2.13:80"), Some(10));
}

#[test]
fn a_refused_sighup_is_logged_as_refused() {
    let mut rig = Rig::new(CONFIG);
    rig.next_reload = Some(Err("VRRP: eth9 does not exist".into()));
    let mark = rig.seen.len();
    rig.feed(In::Hangup);
    assert_eq!(
        rig.events_since(mark, "daemon"),
        ["SIGHUP: reload refused: VRRP: eth9 does not exist"]
    );
}

#[test]
fn a_restart_puts_drains_and_weights_back_before_the_first_table() {
    let mut first = Rig::new(CONFIG);
    first
        .command(Command::Drain {
            target: target(VIP, "192.0.2.11:80"),
        })
        .unwrap();
    first
        .command(Command::Weight {
            target: target("192.0.2.101:443", "192.0.2.22:443"),
            weight: Some(9),
        })
        .unwrap();
    let saved = first.saved.last().unwrap().clone();
    let mut rig = Rig::restarted(CONFIG, Ok(saved));
    assert_eq!(rig.weight(VIP, "192.0.2.11:80"), Some(0));
    assert_eq!(rig.weight("192.0.2.101:443", "192.0.2.22:443"), Some(9));
    // The very first table the kernel got had the drain: no moment at weight 10.
    let first_weight = rig.kernel.log.iter().find_map(|op| match op {
        crate::ipvs::Op::AddDest(_, d) if d.addr.to_string() == "192.0.2.11" => Some(d.weight),
        _ => None,
    });
    assert_eq!(first_weight, Some(0));
    let said = rig.events_since(0, "daemon");
    assert!(
        said.iter()
            .any(|e| e.contains("restored from state.json: 1 drain(s), 1 weight override(s)")),
        "{said:?}"
    );
}

#[test]
fn a_restart_drops_what_is_no_longer_configured_and_says_so() {
    let mut first = Rig::start(with_third_real(), Ok(OperatorState::default()));
    first
        .command(Command::Drain {
            target: target(VIP, "192.0.2.13:80"),
        })
        .unwrap();
    let saved = first.saved.last().unwrap().clone();
    let rig = Rig::restarted(CONFIG, Ok(saved));
    let said = rig.events_since(0, "daemon");
    assert!(
        said.iter().any(|e| e.contains(
            "0 drain(s), 0 weight override(s), 0 priority override(s); no longer configured, \
             dropped: drain of 192.0.2.13:80 on TCP 192.0.2.100:80"
        )),
        "{said:?}"
    );
}

#[test]
fn an_unreadable_state_file_is_said_and_nothing_is_restored() {
    let mut rig = Rig::restarted(CONFIG, Err("state.json:1:1: expected value".into()));
    let said = rig.events_since(0, "daemon");
    assert!(
        said.iter()
            .any(|e| e == "state: operator state NOT restored: state.json:1:1: expected value"),
        "{said:?}"
    );
    assert_eq!(rig.weight(VIP, "192.0.2.11:80"), Some(10));
}

#[test]
fn a_change_made_behind_our_back_is_put_back_and_logged() {
    let mut rig = Rig::new(CONFIG);
    let key = *rig.kernel.table.services.keys().next().unwrap();
    let dest = rig.kernel.table.services[&key]
        .dests
        .keys()
        .next()
        .copied()
        .unwrap();
    rig.kernel
        .apply(&crate::ipvs::Op::DelDest(key, dest))
        .unwrap();
    let mark = rig.seen.len();
    rig.full_pass();
    let said = rig.events_since(mark, "ipvs");
    assert!(
        said.iter()
            .any(|e| e.contains("changed outside lvsdeck, repaired")),
        "{said:?}"
    );
    assert_eq!(rig.snapshot().ipvs.drift_repairs, 1);
    assert_eq!(rig.kernel.table.services[&key].dests.len(), 2);
}

#[test]
fn a_failed_change_and_a_lost_ipvs_are_logged_once() {
    let mut rig = Rig::new(CONFIG);
    let mark = rig.seen.len();
    let op = crate::ipvs::Op::DelService(*rig.kernel.table.services.keys().next().unwrap());
    let mut report = IpvsReport::new(rig.sim.now(), Some(Err("IPVS is not available".into())));
    report.failed = vec![(op, "IPVS refused".into())];
    rig.feed(In::Ipvs(report));
    let again = IpvsReport::new(rig.sim.now(), Some(Err("IPVS is not available".into())));
    rig.feed(In::Ipvs(again));
    let said = rig.events_since(mark, "ipvs");
    assert_eq!(said.len(), 2, "{said:?}");
    assert!(said[0].contains("FAILED delete service"));
    assert_eq!(said[1], "kernel: IPVS is not available");
    let snap = rig.snapshot();
    assert!(!snap.ipvs.available);
    assert_eq!(snap.ipvs.error.as_deref(), Some("IPVS is not available"));
}
