use super::*;

/// Dumps every second of counters the kernel folds every 2 s, 50 connections a second.
#[test]
fn rates_follow_the_kernel_fold_not_the_dump_interval() {
    let t0 = Instant::now();
    let mut tracker = RateTracker::default();
    let mut seen = Vec::new();
    for second in 0..11u64 {
        // folded at even seconds (the dump at second s sees the fold of s - s % 2); the
        // traffic stops at 6 s
        let conns = 50 * (second - second % 2).min(6);
        let stats = Stats {
            conns,
            ..Stats::default()
        };
        seen.push(tracker.update(t0 + Duration::from_secs(second), stats).cps);
    }
    // the first two have no rate yet; then 50/s steadily, not 0 and 100 alternating;
    // after the traffic stops (last change seen at 6 s), 0 once more than a fold period
    // and a half shows no change
    assert_eq!(
        seen,
        [
            0.0, 0.0, 50.0, 50.0, 50.0, 50.0, 50.0, 50.0, 50.0, 50.0, 0.0
        ]
    );
}

#[test]
fn rates_from_two_samples() {
    let a = Stats {
        conns: 100,
        inpkts: 1000,
        outpkts: 500,
        inbytes: 100_000,
        outbytes: 2_000_000,
        ..Stats::default()
    };
    let b = Stats {
        conns: 120,
        inpkts: 1400,
        outpkts: 700,
        inbytes: 140_000,
        outbytes: 2_100_000,
        ..Stats::default()
    };
    let r = rates(&a, &b, Duration::from_secs(2));
    assert_eq!(r.cps, 10.0);
    assert_eq!(r.inpps, 200.0);
    assert_eq!(r.outpps, 100.0);
    assert_eq!(r.inbps, 20_000.0);
    assert_eq!(r.outbps, 50_000.0);
    assert_eq!(rates(&a, &b, Duration::ZERO), Rates::default());
}

#[test]
fn rates_after_zeroing_count_from_zero() {
    let a = Stats {
        conns: 100,
        ..Stats::default()
    };
    let b = Stats {
        conns: 5,
        ..Stats::default()
    };
    assert_eq!(rates(&a, &b, Duration::from_millis(500)).cps, 10.0);
}

#[test]
fn kernel_errors_carry_hints() {
    let key = ServiceKey::Fwmark {
        af: Af::Inet,
        mark: 1,
    };
    let e = IpvsError::from_errno(&Op::AddService(Service::new(key, "nosuch")), libc::ENOENT);
    let text = e.to_string();
    assert!(text.contains("scheduler `nosuch` not found"), "{text}");
    assert!(text.contains("modprobe ip_vs_nosuch"), "{text}");
    assert_eq!(e.errno(), Some(libc::ENOENT));
    let e = IpvsError::from_errno(&Op::DelService(key), libc::EPERM);
    assert!(matches!(e, IpvsError::PermissionDenied { .. }));
    assert!(e.to_string().contains("CAP_NET_ADMIN"));
}

#[test]
fn service_keys_print_like_ipvsadm() {
    let k = ServiceKey::Addr {
        proto: Protocol::Tcp,
        addr: "2001:db8::1".parse().unwrap(),
        port: 80,
    };
    assert_eq!(k.to_string(), "TCP [2001:db8::1]:80");
    assert_eq!(k.af(), Af::Inet6);
    let k = ServiceKey::Fwmark {
        af: Af::Inet,
        mark: 7,
    };
    assert_eq!(k.to_string(), "FWM 7");
}
