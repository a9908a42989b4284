//! Health results: the table follows them (inhibit_on_failure, quorum with its scripts and the
//! sorry server), the notify scripts run, a check that cannot run changes nothing, and the
//! operators' overrides outlive every change.

use super::*;

const VIP: &str = "192.0.2.100:80";

#[test]
fn the_first_table_has_every_real_server_and_no_sorry_server() {
    let mut rig = Rig::new(CONFIG);
    assert_eq!(rig.weight(VIP, "192.0.2.11:80"), Some(10));
    assert_eq!(rig.weight(VIP, "192.0.2.12:80"), Some(10));
    assert_eq!(rig.weight(VIP, "192.0.2.99:80"), None);
    assert_eq!(rig.weight("192.0.2.101:443", "192.0.2.22:443"), Some(5));
    // Three checked real servers; the fourth has no check.
    assert_eq!(rig.checks.len(), 3);
    let seen: Vec<_> = rig.seen.iter().map(Seen::kind).collect();
    assert!(
        in_order(&seen, &["checks", "desired", "settings"]),
        "{seen:?}"
    );
}

#[test]
fn a_real_server_that_goes_down_leaves_the_table_and_its_notify_down_runs() {
    let mut rig = Rig::new(CONFIG);
    let mark = rig.seen.len();
    rig.down("192.0.2.11:80");
    assert_eq!(rig.weight(VIP, "192.0.2.11:80"), None);
    let kinds = rig.kinds_since(mark);
    assert_order(&kinds, &["event:health", "script", "desired"]);
    assert_eq!(rig.scripts_since(mark), ["/bin/true down-11"]);
    let view = rig.real_view("192.0.2.100:80", "192.0.2.11:80");
    assert_eq!(view.health, "down");
    assert!(!view.in_table);
    assert_eq!(view.health_changed_at_ms, Some(WALL0));
    let check = view.last_check.unwrap();
    assert!(!check.ok);
    assert_eq!(check.message, "connection refused");
}

#[test]
fn an_inhibited_real_server_stays_at_weight_zero_while_down() {
    let mut rig = Rig::new(CONFIG);
    let mark = rig.seen.len();
    rig.down("192.0.2.12:80");
    assert_eq!(rig.weight(VIP, "192.0.2.12:80"), Some(0));
    let kinds = rig.kinds_since(mark);
    assert_order(&kinds, &["event:health", "desired", "event:ipvs"]);
    assert!(
        !kinds.contains(&"script".to_string()),
        "no notify_down configured"
    );
    assert!(rig.real_view("192.0.2.100:80", "192.0.2.12:80").in_table);
    assert_eq!(
        rig.real_view("192.0.2.100:80", "192.0.2.12:80").health,
        "down"
    );
    rig.up("192.0.2.12:80");
    assert_eq!(rig.weight(VIP, "192.0.2.12:80"), Some(10));
}

#[test]
fn a_real_server_back_up_returns_and_its_notify_up_runs() {
    let mut rig = Rig::new(CONFIG);
    rig.down("192.0.2.11:80");
    rig.advance(Duration::from_secs(5));
    let mark = rig.seen.len();
    rig.up("192.0.2.11:80");
    assert_eq!(rig.weight(VIP, "192.0.2.11:80"), Some(10));
    assert_eq!(rig.scripts_since(mark), ["/bin/true up-11"]);
    let view = rig.real_view("192.0.2.100:80", "192.0.2.11:80");
    assert_eq!(view.health, "up");
    assert_eq!(view.health_changed_at_ms, Some(WALL0 + 5000));
}

#[test]
fn quorum_lost_runs_quorum_down_and_puts_the_sorry_server_in() {
    let mut rig = Rig::new(CONFIG);
    rig.down("192.0.2.11:80");
    assert!(
        rig.service_view("192.0.2.100:80").quorum_up,
        "10 of 10 still"
    );
    let mark = rig.seen.len();
    rig.down("192.0.2.12:80");
    let kinds = rig.kinds_since(mark);
    assert!(
        in_order(
            &kinds,
            &[
                "event:health",
                "event:health",
                "script",
                "desired",
                "event:ipvs"
            ]
        ),
        "the server's change, the quorum's, its script, then the table: {kinds:?}"
    );
    let health = rig.events_since(mark, "health");
    assert!(
        health
            .iter()
            .any(|e| e.contains("quorum lost (live weight 0)")),
        "{health:?}"
    );
    assert_eq!(rig.scripts_since(mark), ["/bin/true quorum-down"]);
    assert_eq!(rig.weight(VIP, "192.0.2.99:80"), Some(1));
    // The inhibited real server stays at 0 while the sorry server serves.
    assert_eq!(rig.weight(VIP, "192.0.2.12:80"), Some(0));
    let service = rig.service_view("192.0.2.100:80");
    assert!(!service.quorum_up);
    assert!(service.sorry_active);
    let sorry = service
        .reals
        .iter()
        .find(|r| r.address == "192.0.2.99")
        .unwrap();
    assert_eq!(sorry.health, "sorry");
}

#[test]
fn quorum_back_runs_quorum_up_and_takes_the_sorry_server_out() {
    let mut rig = Rig::new(CONFIG);
    rig.down("192.0.2.11:80");
    rig.down("192.0.2.12:80");
    let mark = rig.seen.len();
    rig.up("192.0.2.12:80");
    assert_eq!(rig.scripts_since(mark), ["/bin/true quorum-up"]);
    assert_eq!(rig.weight(VIP, "192.0.2.99:80"), None);
    assert_eq!(rig.weight(VIP, "192.0.2.12:80"), Some(10));
    assert!(rig.service_view("192.0.2.100:80").quorum_up);
}

#[test]
fn draining_below_quorum_loses_it_as_a_failure_would() {
    let mut rig = Rig::new(CONFIG);
    rig.command(Command::Drain {
        target: target(VIP, "192.0.2.11:80"),
    })
    .unwrap();
    let mark = rig.seen.len();
    rig.command(Command::Drain {
        target: target(VIP, "192.0.2.12:80"),
    })
    .unwrap();
    assert_eq!(rig.scripts_since(mark), ["/bin/true quorum-down"]);
    assert_eq!(rig.weight(VIP, "192.0.2.99:80"), Some(1));
}

#[test]
fn hysteresis_keeps_quorum_until_the_live_weight_falls_below_quorum_minus_it() {
    let text = CONFIG.replace("quorum = 10\n", "quorum = 15\nhysteresis = 5\n");
    let mut rig = Rig::new(&text);
    rig.down("192.0.2.11:80");
    assert!(rig.service_view("192.0.2.100:80").quorum_up, "10 >= 15 - 5");
    rig.down("192.0.2.12:80");
    assert!(!rig.service_view("192.0.2.100:80").quorum_up);
    rig.up("192.0.2.12:80");
    assert!(
        !rig.service_view("192.0.2.100:80").quorum_up,
        "back needs 15 + 5, has 10"
    );
    rig.up("192.0.2.11:80");
    assert!(rig.service_view("192.0.2.100:80").quorum_up);
}

#[test]
fn a_drain_outlives_the_server_going_down_and_up() {
    let mut rig = Rig::new(CONFIG);
    rig.command(Command::Drain {
        target: target(VIP, "192.0.2.12:80"),
    })
    .unwrap();
    rig.down("192.0.2.12:80");
    assert_eq!(rig.weight(VIP, "192.0.2.12:80"), Some(0));
    rig.up("192.0.2.12:80");
    assert_eq!(rig.weight(VIP, "192.0.2.12:80"), Some(0), "still drained");
    assert!(
        rig.real_view("192.0.2.100:80", "192.0.2.12:80")
            .drain
            .is_some()
    );
}

#[test]
fn a_weight_override_outlives_a_dynamic_weight_change() {
    let mut rig = Rig::new(CONFIG);
    rig.command(Command::Weight {
        target: target(VIP, "192.0.2.11:80"),
        weight: Some(30),
    })
    .unwrap();
    rig.health(
        "192.0.2.11:80",
        true,
        vec![Change::Weight { from: 10, to: 4 }],
    );
    assert_eq!(
        rig.weight(VIP, "192.0.2.11:80"),
        Some(30),
        "the operator's wins"
    );
    rig.command(Command::Weight {
        target: target(VIP, "192.0.2.11:80"),
        weight: None,
    })
    .unwrap();
    assert_eq!(
        rig.weight(VIP, "192.0.2.11:80"),
        Some(4),
        "then the check's"
    );
}

#[test]
fn a_check_that_cannot_run_is_said_once_and_changes_nothing() {
    let mut rig = Rig::new(CONFIG);
    let id = rig.target("192.0.2.11:80");
    let not_run = || HealthEvent {
        id: id.clone(),
        check: Some(0),
        label: Arc::from("MISC"),
        result: Some(Result_ {
            ok: false,
            message: "cannot start the script: permission denied".into(),
            latency: Duration::ZERO,
            weight: None,
            at: SystemTime::UNIX_EPOCH,
            not_run: true,
        }),
        state: ServerState {
            up: Some(true),
            weight: 10,
        },
        changes: vec![],
    };
    let mark = rig.seen.len();
    rig.feed(In::Health(not_run()));
    rig.feed(In::Health(not_run()));
    let said = rig.events_since(mark, "health");
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(said[0].contains("keeps its state until a check can run"));
    assert_eq!(rig.weight(VIP, "192.0.2.11:80"), Some(10));
}

#[test]
fn a_result_for_a_target_no_longer_checked_is_ignored() {
    let mut rig = Rig::new(CONFIG);
    let mark = rig.seen.len();
    let ev = HealthEvent {
        id: TargetId::new("TCP 192.0.2.100:80", "192.0.2.77:80".parse().unwrap()),
        check: Some(0),
        label: Arc::from("TCP"),
        result: None,
        state: ServerState {
            up: Some(false),
            weight: 1,
        },
        changes: vec![Change::Down {
            reason: "gone".into(),
        }],
    };
    rig.feed(In::Health(ev));
    assert!(rig.kinds_since(mark).is_empty());
}

#[test]
fn a_check_that_cannot_compile_holds_its_server_down_until_a_reload_fixes_it() {
    // Valid when read; the user is gone by the time the checks start.
    let mut broken = config(CONFIG);
    let check = &mut broken.virtual_server[0].real_server[0].check[0];
    check.kind = crate::config::model::CheckKind::Misc;
    check.misc_path = Some("/bin/true".into());
    check.user = Some("no-such-user-lvsdeck".into());
    let mut rig = Rig::start(broken, Ok(OperatorState::default()));
    let down = rig.real_view("192.0.2.100:80", "192.0.2.11:80");
    assert_eq!(down.health, "down", "{down:?}");
    assert_eq!(rig.weight(VIP, "192.0.2.11:80"), None, "fail closed");
    let message = down.last_check.unwrap().message;
    assert!(
        message.starts_with("check cannot run: MISC check 0: unknown user"),
        "{message}"
    );
    assert_eq!(rig.checks.len(), 2, "the others still run");
    rig.next_reload = Some(Ok(config(CONFIG)));
    rig.command(Command::Reload).unwrap();
    assert_eq!(rig.checks.len(), 3);
    assert_eq!(
        rig.weight(VIP, "192.0.2.11:80"),
        Some(10),
        "starts over as checked"
    );
    let view = rig.real_view("192.0.2.100:80", "192.0.2.11:80");
    assert_eq!(view.health, "up");
    assert!(view.last_check.is_none());
}

#[test]
fn the_snapshot_shows_the_kernels_table_as_last_dumped() {
    let mut rig = Rig::new(CONFIG);
    let snap = rig.snapshot();
    assert!(snap.ipvs.available);
    assert_eq!(snap.ipvs.refreshed_at_ms, WALL0);
    rig.advance(Duration::from_secs(1));
    let snap = rig.snapshot();
    assert!(snap.ipvs.available);
    assert_eq!(snap.ipvs.refresh_interval_ms, 1000);
    assert_eq!(snap.ipvs.refreshed_at_ms, WALL0 + 1000);
    assert_eq!(snap.ipvs.services.len(), 2);
    let s = &snap.ipvs.services[0];
    assert_eq!(s.key, "TCP  192.0.2.100:80");
    assert_eq!(s.method, "DR");
    assert_eq!(s.scheduler, "wlc");
    assert!(s.reals.iter().all(|r| r.in_table && r.weight == 10));
}

#[test]
fn omega_runs_quorum_down_at_stop() {
    let mut rig = Rig::new(CONFIG);
    let mark = rig.seen.len();
    rig.core.omega();
    rig.feed(In::Stopping);
    assert_eq!(rig.scripts_since(mark), ["/bin/true quorum-down"]);
}
