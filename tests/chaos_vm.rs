//! The fault campaign with real IPVS (issue 18), in the qemu guest (tests/vm/): 20 faults from
//! a fixed seed on two lvsdeck directors carrying the seed's service (DR to two real servers
//! with the VIP on `lo`, a client sending 20 requests a second). Beyond the namespace
//! campaign's invariants (`chaos/mod.rs`): every director's service is always in its kernel
//! and its connection count never goes back (never flushed or re-created, a killed daemon's
//! table included, across its restart), and after every heal both directors' tables are the
//! same (`ipvsadm -Sn`).
//!
//! `campaign_in_the_guest` boots it; on the host the guest test is `#[ignore]`d. A daemon
//! restarted in the guest (TCG, debug build) takes seconds to start: the settling time after a
//! heal is 3 s longer than in namespaces.

// Shared with tests/chaos_netns.rs and the bench, which use parts this test does not.
#[allow(dead_code)]
mod chaos;
mod common;

use std::time::Duration;

use chaos::cluster::Mix;
use common::{guest, vm};
// The campaign reaches the shared helpers as `crate::support`.
use common::support;

const SEED: u64 = 2026;
const FAULTS: usize = 20;

#[test]
fn campaign_in_the_guest() {
    vm::run_tests_in_guest_within(
        &["twenty_faults_on_two_directors_with_real_ipvs"],
        Some(600),
    );
}

#[test]
#[ignore = "runs in the guest, booted by campaign_in_the_guest"]
fn twenty_faults_on_two_directors_with_real_ipvs() {
    vm::guest_only("twenty_faults_on_two_directors_with_real_ipvs", || {
        let setup = chaos::Setup {
            mix: Mix::Lvsdeck,
            directors: 2,
            ipvs: true,
            lvsdeck: guest::lvsdeck_exe().to_string(),
            ping: false,
            startup: Duration::from_secs(3),
            netem: true,
            bfd: false,
        };
        let outcome = chaos::run(&setup, SEED, FAULTS, "cv");
        println!("{}", outcome.report);
        assert!(
            outcome.violations.is_empty(),
            "{} violation(s):\n{}",
            outcome.violations.len(),
            outcome.report
        );
    });
}
