use super::*;

fn schedules() -> u64 {
    std::env::var("VRRP_SIM_SCHEDULES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000)
}

/// Seeds `part`, `part + 4`, ... below the schedule count; four tests share the work.
fn run_part(part: u64) {
    let mut total = Report::default();
    let mut seed = part;
    while seed < schedules() {
        match run_seed(seed) {
            Ok(r) => total.add(&r),
            Err(f) => panic!("{f}"),
        }
        seed += 4;
    }
    assert!(total.settled_checks > 0);
    eprintln!("part {part}: {total:?}");
}

#[test]
fn random_schedules_part0() {
    run_part(0);
}
#[test]
fn random_schedules_part1() {
    run_part(1);
}
#[test]
fn random_schedules_part2() {
    run_part(2);
}
#[test]
fn random_schedules_part3() {
    run_part(3);
}

/// `VRRP_SIM_SEED=<seed>`: replay one seed and print its trace (deliveries included).
#[test]
fn replay() {
    let seed = std::env::var("VRRP_SIM_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut sim = Sim::new(Scenario::random(seed)).verbose(true);
    let res = sim.run();
    if std::env::var("VRRP_SIM_SEED").is_ok() {
        print!("{}", sim.scenario());
        for l in sim.log() {
            println!("  {l}");
        }
    }
    match res {
        Ok(r) => println!("seed {seed}: ok {r:?}"),
        Err(f) => panic!("{f}"),
    }
}

#[test]
fn rng_is_deterministic_and_spread() {
    let mut a = Rng::new(7);
    let mut b = Rng::new(7);
    let xs: Vec<u64> = (0..100).map(|_| a.below(10)).collect();
    let ys: Vec<u64> = (0..100).map(|_| b.below(10)).collect();
    assert_eq!(xs, ys);
    assert!((0..10).all(|d| xs.contains(&d)));
    assert_eq!(
        Scenario::random(42).to_string(),
        Scenario::random(42).to_string()
    );
}

fn two_nodes(version: Version, interval: Duration) -> Scenario {
    let vip = IpAddr::V4(Ipv4Addr::new(10, 77, 0, 100));
    let mk = |i: usize, prio: u8| {
        let mut p = InstanceParams::new("VI_1", version, 51, prio, addr(false, i), vec![vip]);
        p.advert_interval = interval;
        NodeSpec {
            params: p,
            trackers: vec![],
        }
    };
    Scenario {
        seed: 0,
        nodes: vec![mk(0, 100), mk(1, 90)],
        delay_min: ms(1),
        delay_max: ms(2),
        loss: 0,
        dup: 0,
        inputs: vec![],
        end: Duration::from_secs(30),
    }
}

#[test]
fn two_nodes_handover_is_make_before_break() {
    let mut sc = two_nodes(Version::V3, ms(1000));
    sc.inputs = vec![(Duration::from_secs(10), Input::Handover)];
    let mut sim = Sim::new(sc);
    let r = sim.run().unwrap_or_else(|f| panic!("{f}"));
    assert_eq!(r.handovers_completed, 1);
    assert_eq!(r.handover_overlaps_checked, 1);
    assert!(r.max_handover_overlap <= ms(2), "{r:?}");
    // The old master (n0, priority 100) stays Backup: inhibited.
    let n0 = sim.nodes[0].inst.as_ref().unwrap();
    assert_eq!(n0.state(), State::Backup);
    assert!(n0.handover_inhibited());
    assert_eq!(sim.nodes[1].inst.as_ref().unwrap().state(), State::Master);
}

#[test]
fn two_nodes_crash_fails_over_within_master_down_interval() {
    let mut sc = two_nodes(Version::V3, ms(100));
    sc.inputs = vec![
        (Duration::from_secs(2), Input::Crash(0)),
        (Duration::from_secs(5), Input::Restart(0)),
    ];
    let mut sim = Sim::new(sc);
    sim.run().unwrap_or_else(|f| panic!("{f}"));
    // n1 took over ~ 3 * 100 ms + skew (166/256 * 100 ms) after the last advert.
    let line = sim
        .log()
        .iter()
        .find(|l| l.contains("n1 BACKUP -> MASTER"))
        .unwrap()
        .clone();
    let t: f64 = line.split('s').next().unwrap().trim().parse().unwrap();
    assert!((2.3..2.37).contains(&t), "{line}");
    // n0 preempts back after its restart.
    assert_eq!(sim.nodes[0].inst.as_ref().unwrap().state(), State::Master);
}

#[test]
fn partition_makes_two_masters_and_heal_reports_split_brain() {
    let mut sc = two_nodes(Version::V2, ms(1000));
    sc.inputs = vec![
        (Duration::from_secs(5), Input::Partition(0b10)),
        (Duration::from_secs(15), Input::Heal),
    ];
    let mut sim = Sim::new(sc);
    let r = sim.run().unwrap_or_else(|f| panic!("{f}"));
    assert!(r.split_brains >= 1, "{r:?}");
    assert!(sim.log().iter().any(|l| l.contains("n0 split brain")));
    assert_eq!(sim.nodes[0].inst.as_ref().unwrap().state(), State::Master);
}
