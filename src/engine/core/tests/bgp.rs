//! `[bgp]`: what is announced and why (first answers, quorum, the director drained, the
//! stop), the plans sent to the BGP worker, and what BIRD's reports do to the view.

use super::*;
use crate::bgp::bird::Protocol;
use crate::bgp::worker::Report as BgpReport;

const BGP: &str = r#"
[bgp]
local_as = 65001
router_id = "192.0.2.1"
bird_socket = "/run/bird/bird.ctl"
bird_include = "/run/lvsdeck/bird.conf"
withdraw_wait = "2s"

[[bgp.neighbor]]
address = "192.0.2.254"
remote_as = 65000

[[virtual_server]]
ip = "198.51.100.10"
port = 80
lvs_sched = "mh"
lvs_method = "DR"
announce = true
inhibit_on_failure = true
quorum = 1

[[virtual_server.real_server]]
ip = "192.0.2.31"
port = 80
check = [{ type = "tcp", connect_timeout = "2s" }]

[[virtual_server.real_server]]
ip = "192.0.2.32"
port = 80
check = [{ type = "tcp", connect_timeout = "2s" }]
"#;

/// The announced address's reason in the last plan.
fn why(rig: &Rig) -> String {
    let plan = rig.plans.last().expect("a plan was sent");
    let (net, why) = plan.routes.iter().next().expect("one address");
    assert_eq!(net.addr.to_string(), "198.51.100.10");
    why.to_string()
}

fn bird(rig: &Rig, applied: Option<u64>, established: bool) -> BgpReport {
    BgpReport {
        at: rig.sim.now(),
        protocols: Ok(vec![Protocol {
            name: crate::bgp::session_name(0),
            proto: "BGP".into(),
            state: "up".into(),
            since: "12:00:00".into(),
            info: if established { "Established" } else { "Active" }.into(),
        }]),
        applied: applied.map(|g| (g, "Reconfigured".into())),
        configure_error: None,
        address_errors: vec![],
    }
}

#[test]
fn nothing_is_announced_before_the_first_health_answers() {
    let mut rig = Rig::new(BGP);
    assert_eq!(rig.plans.len(), 1);
    assert!(why(&rig).contains("first health checks"), "{}", why(&rig));
    let mark = rig.seen.len();
    rig.first_answers();
    assert_eq!(why(&rig), "announced");
    let routes = rig.events_since(mark, "bgp");
    assert_eq!(routes, ["routes: 198.51.100.10/32 announced"]);
}

#[test]
fn quorum_lost_withdraws_and_its_return_announces_again() {
    let mut rig = Rig::new(BGP);
    rig.first_answers();
    rig.down("192.0.2.31:80");
    assert_eq!(why(&rig), "announced", "one is enough for quorum 1");
    rig.down("192.0.2.32:80");
    assert_eq!(why(&rig), "withdrawn: quorum lost on TCP 198.51.100.10:80");
    rig.up("192.0.2.32:80");
    assert_eq!(why(&rig), "announced");
}

#[test]
fn a_drained_director_withdraws_everything_and_is_saved() {
    let mut rig = Rig::new(BGP);
    rig.first_answers();
    let mark = rig.seen.len();
    let answer = rig.command(Command::DrainDirector).unwrap();
    assert!(
        answer.starts_with("every announced address withdrawn"),
        "{answer}"
    );
    assert!(why(&rig).contains("drained by alice"), "{}", why(&rig));
    let kinds = rig.kinds_since(mark);
    assert_order(&kinds, &["announce", "save", "answer"]);
    assert_eq!(
        rig.saved
            .last()
            .unwrap()
            .director_drain
            .as_ref()
            .map(|d| d.by.as_str()),
        Some("alice")
    );
    let err = rig.command(Command::DrainDirector).unwrap_err();
    assert_eq!(err, "already drained by alice");
    rig.command(Command::UndrainDirector).unwrap();
    assert_eq!(why(&rig), "announced");
    assert!(rig.saved.last().unwrap().director_drain.is_none());
}

#[test]
fn a_director_drained_before_a_restart_stays_withdrawn() {
    let mut first = Rig::new(BGP);
    first.first_answers();
    first.command(Command::DrainDirector).unwrap();
    let saved = first.saved.last().unwrap().clone();
    let mut rig = Rig::restarted(BGP, Ok(saved));
    rig.first_answers();
    assert!(why(&rig).contains("drained by alice"), "{}", why(&rig));
    assert!(rig.snapshot().bgp.unwrap().drained.is_some());
}

#[test]
fn drain_director_without_bgp_is_refused() {
    let mut rig = Rig::new(CONFIG);
    let err = rig.command(Command::DrainDirector).unwrap_err();
    assert!(err.contains("no [bgp] section"), "{err}");
    assert!(rig.plans.is_empty());
}

#[test]
fn the_stop_withdraws_first_and_waits_for_bird_then_withdraw_wait() {
    let mut rig = Rig::new(BGP);
    rig.first_answers();
    let announced = rig.plans.last().unwrap().generation;
    rig.feed(In::Bgp(bird(&rig, Some(announced), true)));
    assert_eq!(rig.core.bgp_stop_at(), None, "not stopping");
    let began = rig.sim.now();
    rig.feed(In::Stopping);
    assert_eq!(why(&rig), "withdrawn: stopping");
    let stop_plan = rig.plans.last().unwrap().generation;
    assert!(stop_plan > announced);
    // BIRD has not taken it yet: at most WITHDRAW_ANSWER (10 s) + withdraw_wait.
    assert_eq!(
        rig.core.bgp_stop_at(),
        Some(began + Duration::from_secs(12))
    );
    rig.advance(Duration::from_millis(300));
    let took = rig.sim.now();
    rig.feed(In::Bgp(bird(&rig, Some(stop_plan), true)));
    assert_eq!(rig.core.bgp_stop_at(), Some(took + Duration::from_secs(2)));
    assert!(rig.snapshot().bgp.unwrap().stopping);
}

#[test]
fn a_reload_that_moves_birds_include_is_refused() {
    let mut rig = Rig::new(BGP);
    rig.next_reload = Some(Ok(config(
        &BGP.replace("/run/lvsdeck/bird.conf", "/etc/bird/lvsdeck.conf"),
    )));
    let err = rig.command(Command::Reload).unwrap_err();
    assert!(err.contains("bird_include / bird_socket changed"), "{err}");
}

#[test]
fn a_reload_that_removes_bgp_withdraws_everything() {
    let mut rig = Rig::new(BGP);
    rig.first_answers();
    let without = BGP.replace("announce = true\n", "");
    let without = without.split("[[virtual_server]]").collect::<Vec<_>>();
    let text = format!(
        "[[virtual_server]]{}",
        without[1..].join("[[virtual_server]]")
    );
    rig.next_reload = Some(Ok(config(&text)));
    let mark = rig.seen.len();
    rig.command(Command::Reload).unwrap();
    assert!(rig.plans.last().unwrap().routes.is_empty());
    let said = rig.events_since(mark, "bgp");
    assert!(
        said.iter().any(|e| e.contains("the [bgp] section is gone")),
        "{said:?}"
    );
}

#[test]
fn birds_sessions_and_errors_come_into_the_view_and_the_log_once() {
    let mut rig = Rig::new(BGP);
    rig.first_answers();
    let generation = rig.plans.last().unwrap().generation;
    let mark = rig.seen.len();
    rig.feed(In::Bgp(bird(&rig, Some(generation), false)));
    rig.feed(In::Bgp(bird(&rig, Some(generation), true)));
    rig.feed(In::Bgp(bird(&rig, Some(generation), true)));
    let said = rig.events_since(mark, "bgp");
    assert_eq!(said.len(), 2, "a change each: {said:?}");
    assert!(said[1].contains("Established"));
    let view = rig.snapshot().bgp.unwrap();
    assert!(view.reachable);
    assert!(view.sessions[0].established);
    assert!(view.routes[0].in_bird);
    let mut down = bird(&rig, Some(generation), true);
    down.protocols = Err("connection refused".into());
    rig.feed(In::Bgp(down));
    let view = rig.snapshot().bgp.unwrap();
    assert!(!view.reachable);
    assert_eq!(view.error.as_deref(), Some("connection refused"));
}
