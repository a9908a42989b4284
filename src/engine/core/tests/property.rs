//! Random sequences of operators' commands, health changes and time against a model of what
//! the table must be: a real server that is down never has a weight above 0 (inhibited: 0,
//! otherwise out); a drain is weight 0; an operator's weight wins over the configured and the
//! dynamic one; the sorry server is in exactly while the quorum is lost; and the overrides
//! outlive every health change, in the table, the Snapshot and the saved state.

use proptest::prelude::*;

use super::*;

/// The real servers of CONFIG: (service, real, configured weight, inhibit, checked).
const REALS: [(&str, &str, u32, bool, bool); 4] = [
    ("192.0.2.100:80", "192.0.2.11:80", 10, false, true),
    ("192.0.2.100:80", "192.0.2.12:80", 10, true, true),
    ("192.0.2.101:443", "192.0.2.21:443", 5, false, true),
    ("192.0.2.101:443", "192.0.2.22:443", 5, false, false),
];

#[derive(Debug, Clone)]
enum Op {
    Drain(usize),
    Undrain(usize),
    Weight(usize, Option<u32>),
    Clear,
    Down(usize),
    Up(usize),
    /// A misc_dynamic check moves the weight.
    Dynamic(usize, i32),
    Wait(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..4usize).prop_map(Op::Drain),
        (0..4usize).prop_map(Op::Undrain),
        (0..4usize, proptest::option::of(0..30u32)).prop_map(|(i, w)| Op::Weight(i, w)),
        Just(Op::Clear),
        (0..3usize).prop_map(Op::Down),
        (0..3usize).prop_map(Op::Up),
        (0..3usize, 0..20i32).prop_map(|(i, w)| Op::Dynamic(i, w)),
        (0..3000u64).prop_map(Op::Wait),
    ]
}

#[derive(Default, Clone)]
struct Model {
    down: [bool; 4],
    dynamic: [Option<u32>; 4],
    drained: [bool; 4],
    weight: [Option<u32>; 4],
    quorum_up: bool,
}

impl Model {
    fn effective(&self, i: usize) -> u32 {
        if self.drained[i] {
            return 0;
        }
        self.weight[i].or(self.dynamic[i]).unwrap_or(REALS[i].2)
    }

    /// The first service's quorum (10, no hysteresis) after a change.
    fn update_quorum(&mut self) {
        let live: u64 = (0..2)
            .filter(|&i| !self.down[i])
            .map(|i| u64::from(self.effective(i)))
            .sum();
        self.quorum_up = live >= 10;
    }
}

fn target_of(i: usize) -> crate::control::protocol::RealTarget {
    target(REALS[i].0, REALS[i].1)
}

fn step(rig: &mut Rig, model: &mut Model, op: &Op) {
    match *op {
        Op::Drain(i) => {
            rig.command(Command::Drain {
                target: target_of(i),
            })
            .unwrap();
            model.drained[i] = true;
        }
        Op::Undrain(i) => {
            let answer = rig.command(Command::Undrain {
                target: target_of(i),
            });
            assert_eq!(answer.is_ok(), model.drained[i], "{answer:?}");
            model.drained[i] = false;
        }
        Op::Weight(i, w) => {
            rig.command(Command::Weight {
                target: target_of(i),
                weight: w,
            })
            .unwrap();
            model.weight[i] = w;
        }
        Op::Clear => {
            rig.command(Command::Clear).unwrap();
            model.drained = [false; 4];
            model.weight = [None; 4];
        }
        Op::Down(i) => {
            if !model.down[i] {
                rig.down(REALS[i].1);
                model.down[i] = true;
            }
        }
        Op::Up(i) => {
            if model.down[i] {
                rig.up(REALS[i].1);
                model.down[i] = false;
            }
        }
        Op::Dynamic(i, to) => {
            let from = model.dynamic[i].map_or(REALS[i].2 as i32, |w| w as i32);
            rig.health(
                REALS[i].1,
                !model.down[i],
                vec![Change::Weight { from, to }],
            );
            model.dynamic[i] = Some(to as u32);
        }
        Op::Wait(ms) => rig.advance(Duration::from_millis(ms)),
    }
    model.update_quorum();
}

fn check(rig: &mut Rig, model: &Model, history: &[Op]) {
    let ctx = || format!("after {history:?}");
    for (i, &(vip, real, _, inhibit, _)) in REALS.iter().enumerate() {
        let kernel = rig.weight(vip, real);
        let sorry_active = i < 2 && !model.quorum_up;
        let in_pool = !model.down[i] && !sorry_active;
        let want = match (in_pool, inhibit) {
            (true, _) => Some(model.effective(i)),
            (false, true) => Some(0),
            (false, false) => None,
        };
        assert_eq!(kernel, want, "{real}: {}", ctx());
        if model.down[i] {
            assert!(kernel.unwrap_or(0) == 0, "a down server serves: {}", ctx());
        }
        let view = rig.real_view(vip, real);
        assert_eq!(view.drain.is_some(), model.drained[i], "{real}: {}", ctx());
        assert_eq!(
            view.weight_override.map(|o| o.value),
            model.weight[i],
            "{real}: {}",
            ctx()
        );
        assert_eq!(view.health == "down", model.down[i], "{real}: {}", ctx());
    }
    let sorry = rig.weight("192.0.2.100:80", "192.0.2.99:80");
    assert_eq!(sorry.is_some(), !model.quorum_up, "sorry server: {}", ctx());
    assert_eq!(
        rig.service_view("192.0.2.100:80").quorum_up,
        model.quorum_up,
        "{}",
        ctx()
    );
    if let Some(saved) = rig.saved.last() {
        let drained = saved.drains.len();
        assert_eq!(
            drained,
            model.drained.iter().filter(|d| **d).count(),
            "{}",
            ctx()
        );
        assert_eq!(
            saved.weights.len(),
            model.weight.iter().filter(|w| w.is_some()).count(),
            "{}",
            ctx()
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn the_table_follows_health_and_overrides_whatever_the_order(ops in proptest::collection::vec(op(), 1..40)) {
        let mut rig = Rig::new(CONFIG);
        let mut model = Model { quorum_up: true, ..Model::default() };
        for (n, op) in ops.iter().enumerate() {
            step(&mut rig, &mut model, op);
            check(&mut rig, &model, &ops[..=n]);
        }
    }
}
