//! Priority overrides and hand-overs on the VRRP simulator (this director is node 0, priority
//! 100; the peer is node 1, priority 90), and the sync daemon's role following VRRP.

use super::*;

fn master(rig: &mut Rig) {
    rig.advance(Duration::from_secs(5));
    assert_eq!(rig.vrrp_state(), "MASTER");
    assert!(rig.sim.holds(0));
}

fn priority(p: Option<u8>) -> Command {
    Command::Priority {
        instance: "VI_1".into(),
        priority: p,
    }
}

#[test]
fn the_sync_daemon_follows_the_instance_from_backup_to_master() {
    let mut rig = Rig::new(CONFIG);
    let roles =
        |rig: &Rig| -> Vec<SyncState> { rig.kernel.daemons.iter().map(|d| d.state).collect() };
    assert_eq!(rig.vrrp_state(), "BACKUP");
    assert_eq!(roles(&rig), [SyncState::Backup]);
    let mark = rig.seen.len();
    master(&mut rig);
    assert_eq!(roles(&rig), [SyncState::Master]);
    let vrrp = rig.events_since(mark, "vrrp");
    assert!(
        vrrp.iter().any(|e| e.contains("BACKUP -> MASTER")),
        "{vrrp:?}"
    );
    let kernel = rig.events_since(mark, "ipvs");
    assert!(
        kernel
            .iter()
            .any(|e| e.contains("start") && e.contains("master")),
        "{kernel:?}"
    );
    let kinds = rig.kinds_since(mark);
    assert_order(&kinds, &["event:vrrp", "settings", "event:ipvs"]);
}

#[test]
fn a_lower_priority_hands_the_vip_to_the_peer_and_is_saved() {
    let mut rig = Rig::new(CONFIG);
    master(&mut rig);
    let mark = rig.seen.len();
    rig.command(priority(Some(50))).unwrap();
    let kinds = rig.kinds_since(mark);
    assert_order(
        &kinds,
        &["delegate", "save", "audit", "event:operator", "answer"],
    );
    let saved = rig.saved.last().unwrap();
    assert_eq!(saved.priorities.len(), 1);
    assert_eq!(saved.priorities[0].set.value, 50);
    assert_eq!(saved.priorities[0].set.by, "alice");
    // The peer (90) preempts the lowered master within a few adverts.
    rig.advance(Duration::from_secs(5));
    assert_eq!(rig.vrrp_state(), "BACKUP");
    assert!(rig.sim.holds(1) && !rig.sim.holds(0));
    assert_eq!(
        rig.kernel
            .daemons
            .iter()
            .map(|d| d.state)
            .collect::<Vec<_>>(),
        [SyncState::Backup]
    );
}

#[test]
fn clearing_the_priority_lets_this_director_preempt_back() {
    let mut rig = Rig::new(CONFIG);
    master(&mut rig);
    rig.command(priority(Some(50))).unwrap();
    rig.advance(Duration::from_secs(5));
    rig.command(priority(None)).unwrap();
    assert!(rig.saved.last().unwrap().priorities.is_empty());
    rig.advance(Duration::from_secs(5));
    assert_eq!(rig.vrrp_state(), "MASTER");
}

#[test]
fn an_invalid_priority_is_refused_and_not_saved() {
    let mut rig = Rig::new(CONFIG);
    let saves = rig.saved.len();
    let err = rig.command(priority(Some(255))).unwrap_err();
    assert_eq!(err, "priority override must be 1..=254");
    assert_eq!(rig.saved.len(), saves);
    assert_eq!(rig.sim.instance(0).unwrap().priority_override(), None);
}

#[test]
fn a_priority_for_an_unknown_instance_is_refused() {
    let mut rig = Rig::new(CONFIG);
    let err = rig
        .command(Command::Priority {
            instance: "VI_9".into(),
            priority: Some(10),
        })
        .unwrap_err();
    assert!(err.contains("no VRRP instance `VI_9`"), "{err}");
}

#[test]
fn a_hand_over_moves_the_vip_with_no_moment_without_a_holder_and_is_not_saved() {
    let mut rig = Rig::new(CONFIG);
    master(&mut rig);
    let saves = rig.saved.len();
    let mark = rig.seen.len();
    let answer = rig
        .command(Command::Handover {
            instance: "VI_1".into(),
        })
        .unwrap();
    assert!(answer.contains("hand-over started"), "{answer}");
    assert_eq!(rig.saved.len(), saves, "a hand-over is not an override");
    let kinds = rig.kinds_since(mark);
    assert_order(
        &kinds,
        &["delegate", "audit", "event:operator", "answer", "publish"],
    );
    assert!(
        !kinds.contains(&"desired".to_string()),
        "the table is VRRP's business"
    );
    // The simulator checks make-before-break at every step (invariant 4).
    rig.advance(Duration::from_secs(5));
    assert!(rig.sim.holds(1) && !rig.sim.holds(0));
    assert_eq!(rig.vrrp_state(), "BACKUP");
    let vrrp = rig.events_since(mark, "vrrp");
    assert!(
        vrrp.iter().any(|e| e.contains("MASTER -> BACKUP")),
        "{vrrp:?}"
    );
    // Held back after a hand-over: no preemption back while the operator's hold lasts.
    rig.advance(Duration::from_secs(10));
    assert_eq!(rig.vrrp_state(), "BACKUP");
}

#[test]
fn a_hand_over_from_a_backup_is_refused() {
    let mut rig = Rig::new(CONFIG);
    let err = rig
        .command(Command::Handover {
            instance: "VI_1".into(),
        })
        .unwrap_err();
    assert_eq!(err, "VI_1: instance is BACKUP, not MASTER");
}

#[test]
fn clear_ends_a_hand_over_hold_and_this_director_preempts_back() {
    let mut rig = Rig::new(CONFIG);
    master(&mut rig);
    rig.command(Command::Handover {
        instance: "VI_1".into(),
    })
    .unwrap();
    rig.advance(Duration::from_secs(5));
    let answer = rig.command(Command::Clear).unwrap();
    assert!(
        answer.ends_with("0 priority override(s), 1 hand-over hold(s)"),
        "{answer}"
    );
    rig.advance(Duration::from_secs(5));
    assert_eq!(rig.vrrp_state(), "MASTER");
}

#[test]
fn a_priority_saved_before_a_restart_is_in_force_and_saved_again_with_the_next_change() {
    let saved = OperatorState {
        priorities: vec![crate::engine::operator_state::PriorityEntry {
            instance: "VI_1".into(),
            set: Override {
                value: 20,
                by: "dave".into(),
                at_ms: 1,
            },
        }],
        ..OperatorState::default()
    };
    let mut rig = Rig::restarted(CONFIG, Ok(saved));
    let restored = rig.events_since(0, "daemon");
    assert!(
        restored
            .iter()
            .any(|e| e.contains("1 priority override(s)")),
        "{restored:?}"
    );
    rig.advance(Duration::from_secs(5));
    assert_eq!(rig.vrrp_state(), "BACKUP", "20 < the peer's 90");
    rig.command(Command::Drain {
        target: target("192.0.2.100:80", "192.0.2.11:80"),
    })
    .unwrap();
    let state = rig.saved.last().unwrap();
    assert_eq!(
        state.priorities[0].set.by, "dave",
        "kept through other changes"
    );
    assert_eq!(state.drains.len(), 1);
}

const TRACKED: &str = r#"
[vrrp_script.chk_web]
script = "/bin/true"
interval = "1s"
weight = -20
rise = 2
fall = 2
"#;

fn tracking() -> String {
    let text = CONFIG.replace(
        "virtual_ipaddress = [{ address = \"192.0.2.100/24\" }]\n",
        "virtual_ipaddress = [{ address = \"192.0.2.100/24\" }]\ntrack_script = [{ name = \"chk_web\" }]\n",
    );
    format!("{TRACKED}{text}")
}

fn script_result(rig: &mut Rig, ok: bool, changes: Vec<Change>) {
    let id = TargetId::new(
        "vrrp_script chk_web",
        "0.0.0.0:0".parse::<std::net::SocketAddr>().unwrap(),
    );
    let ev = HealthEvent {
        id,
        check: Some(0),
        label: Arc::from("MISC /bin/true"),
        result: Some(Result_ {
            ok,
            message: if ok { "exit 0" } else { "exit 1" }.into(),
            latency: Duration::from_millis(3),
            weight: None,
            at: SystemTime::UNIX_EPOCH,
            not_run: false,
        }),
        state: ServerState {
            up: Some(ok),
            weight: 0,
        },
        changes,
    };
    rig.feed(In::Health(ev));
}

#[test]
fn a_tracking_script_runs_in_the_health_runner_with_its_rise_and_fall() {
    let rig = Rig::new(&tracking());
    let script = rig
        .checks
        .iter()
        .find(|c| &*c.target.id.service == "vrrp_script chk_web")
        .expect("the script is one of the health runner's targets");
    assert_eq!(script.target.rise_fall, Some((2, 2)));
    assert_eq!(rig.checks.len(), 4, "three real servers and the script");
}

#[test]
fn a_tracking_script_that_fails_lowers_the_priority_and_the_peer_takes_over() {
    let mut rig = Rig::new(&tracking());
    master(&mut rig);
    let mark = rig.seen.len();
    // A failure that does not yet reach `fall` changes nothing.
    script_result(&mut rig, false, vec![]);
    assert!(!rig.kinds_since(mark).contains(&"script-state".to_string()));
    script_result(
        &mut rig,
        false,
        vec![Change::Down {
            reason: "exit 1".into(),
        }],
    );
    let said = rig.events_since(mark, "vrrp");
    assert_eq!(said, ["chk_web: vrrp_script chk_web down: exit 1"]);
    assert_eq!(rig.sim.instance(0).unwrap().effective_priority(), 80);
    rig.advance(Duration::from_secs(5));
    assert_eq!(rig.vrrp_state(), "BACKUP", "the peer's 90 preempts 80");
    script_result(
        &mut rig,
        true,
        vec![Change::Up {
            reason: "exit 0".into(),
        }],
    );
    rig.advance(Duration::from_secs(5));
    assert_eq!(rig.vrrp_state(), "MASTER");
}

#[test]
fn checks_are_handed_to_the_runner_once_at_start_and_once_per_reload() {
    // A real server whose check cannot run, beside a tracked script: said once, not once
    // per hand-over of the checks.
    let mut broken = config(&tracking());
    let check = &mut broken.virtual_server[0].real_server[0].check[0];
    check.kind = crate::config::model::CheckKind::Misc;
    check.misc_path = Some("/bin/true".into());
    check.user = Some("no-such-user-lvsdeck".into());
    let mut rig = Rig::start(broken.clone(), Ok(OperatorState::default()));
    let count = |rig: &Rig, from: usize, kind: &str| {
        rig.kinds_since(from).iter().filter(|k| *k == kind).count()
    };
    assert_eq!(count(&rig, 0, "checks"), 1);
    let said = rig.events_since(0, "health");
    assert_eq!(
        said.iter()
            .filter(|e| e.contains("check cannot run"))
            .count(),
        1,
        "{said:?}"
    );
    rig.next_reload = Some(Ok(broken));
    let mark = rig.seen.len();
    rig.command(Command::Reload).unwrap();
    assert_eq!(count(&rig, mark, "checks"), 1);
}
