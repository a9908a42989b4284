//! The fault campaign side by side (issue 18): one seeded schedule played on three clusters at
//! once — three lvsdeck directors, two lvsdeck and a keepalived in one VRID, three keepalived —
//! each in its own namespaces, and one table. Run as root:
//! `cargo bench --bench chaos` (LVSDECK_CHAOS_FAULTS, default 100; LVSDECK_CHAOS_SEED, default
//! from the clock, printed). Each cluster's full report (fault timeline, per-fault client loss,
//! violations with the daemons' logs) is written to target/chaos-<cluster>-<seed>.txt.

// The campaign is shared with tests/chaos_netns.rs, which uses parts this table does not.
#[allow(dead_code, unused_imports)]
#[path = "../tests/chaos/mod.rs"]
mod chaos;
#[path = "../tests/support/mod.rs"]
mod support;

use chaos::cluster::Mix;

fn main() {
    // `cargo test --benches` runs bench targets with --bench absent: do nothing then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    if !support::prerequisites("fault campaign", &["ip", "nft", "ping", "keepalived"]) {
        return;
    }
    let faults: usize = std::env::var("LVSDECK_CHAOS_FAULTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let seed: u64 = std::env::var("LVSDECK_CHAOS_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs()
        });
    println!("fault campaign: seed {seed}, {faults} faults, the same schedule on each cluster");
    let mixes = [Mix::Lvsdeck, Mix::Mixed, Mix::Keepalived];
    let outcomes: Vec<_> = std::thread::scope(|s| {
        let runs: Vec<_> = mixes
            .iter()
            .zip(["bl", "bm", "bk"])
            .map(|(&mix, tag)| {
                s.spawn(move || chaos::run(&chaos::Setup::namespaces(mix), seed, faults, tag))
            })
            .collect();
        runs.into_iter()
            .map(|r| r.join().expect("a campaign"))
            .collect()
    });
    let target = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
    println!(
        "{:<12} {:>9} {:>12} {:>12} {:>14} {:>10} {:>12} {:>11}",
        "cluster",
        "applied",
        "split brain",
        "split brain",
        "dead/frozen",
        "VIP-less",
        "client loss",
        "violations"
    );
    println!(
        "{:<12} {:>9} {:>12} {:>12} {:>14} {:>10} {:>12} {:>11}",
        "", "(n/a)", "after heal", "in faults", "holder", "", "(pings)", ""
    );
    for (mix, o) in mixes.iter().zip(&outcomes) {
        let s = &o.stats;
        let file = target.join(format!("chaos-{}-{seed}.txt", mix.name()));
        let _ = std::fs::write(&file, &o.report);
        println!(
            "{:<12} {:>5} ({:>2}) {:>10.2} s {:>10.2} s {:>12.2} s {:>8.2} s {:>11.1}% {:>11}",
            mix.name(),
            s.applied,
            s.not_applicable,
            s.split_brain_after_heal.as_secs_f64(),
            s.split_brain_in_faults.as_secs_f64(),
            s.dead_holder.as_secs_f64(),
            s.vip_less.as_secs_f64(),
            100.0 * s.pings_lost as f64 / s.pings.max(1) as f64,
            o.violations.len()
        );
    }
    println!("reports: target/chaos-<cluster>-{seed}.txt");
}
