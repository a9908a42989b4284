//! One state-machine step: `handle_advert` in Backup, `handle_timeout` in Master; and one
//! whole simulator schedule for scale.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use lvsdeck::vrrp::machine::{Instance, InstanceParams, State};
use lvsdeck::vrrp::packet::{Advert, Version};
use lvsdeck::vrrp::sim;

fn params(priority: u8) -> InstanceParams {
    InstanceParams::new(
        "VI_1",
        Version::V3,
        51,
        priority,
        IpAddr::V4(Ipv4Addr::new(10, 77, 0, 70)),
        vec![IpAddr::V4(Ipv4Addr::new(10, 77, 0, 100))],
    )
}

fn machine(c: &mut Criterion) {
    let t0 = Instant::now();
    let src = IpAddr::V4(Ipv4Addr::new(10, 77, 0, 71));
    let advert = Advert {
        version: Version::V3,
        vrid: 51,
        priority: 100,
        interval_cs: 100,
        addrs: vec![IpAddr::V4(Ipv4Addr::new(10, 77, 0, 100))],
        auth: None,
    };

    let mut backup = Instance::new(params(90), t0);
    while backup.poll_action().is_some() {}
    let mut now = t0;
    c.bench_function("backup_handle_advert", |b| {
        b.iter(|| {
            now += Duration::from_millis(1);
            backup.handle_advert(now, black_box(src), black_box(&advert));
            black_box(backup.next_timeout())
        })
    });
    assert_eq!(backup.state(), State::Backup);

    let mut master = Instance::new(params(255), t0);
    while master.poll_action().is_some() {}
    c.bench_function("master_handle_timeout_send_advert", |b| {
        b.iter(|| {
            let t = master.next_timeout().unwrap();
            master.handle_timeout(t);
            while let Some(a) = master.poll_action() {
                black_box(a);
            }
        })
    });
    assert_eq!(master.state(), State::Master);
}

fn simulator(c: &mut Criterion) {
    let mut seed = 0;
    c.bench_function("sim_random_schedule", |b| {
        b.iter(|| {
            seed += 1;
            sim::run_seed(black_box(seed)).unwrap()
        })
    });
}

criterion_group!(benches, machine, simulator);
criterion_main!(benches);
