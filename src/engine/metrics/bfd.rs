//! The BFD sessions' series: state, intervals as negotiated, packets and flaps.

use std::fmt;

use prometheus_client::encoding::DescriptorEncoder;

use super::{Labels, counters, gauges};
use crate::snapshot::{BfdView, Snapshot};

fn session(b: &BfdView) -> Labels {
    vec![("session", b.name.clone()), ("peer", b.peer.to_string())]
}

fn state_code(state: &str) -> i64 {
    match state {
        "AdminDown" => 0,
        "Down" => 1,
        "Init" => 2,
        _ => 3,
    }
}

/// A counter of a session: family, help, value.
type SessionCounter = (&'static str, &'static str, fn(&BfdView) -> u64);

fn seconds(us: u64) -> f64 {
    us as f64 / 1e6
}

pub(super) fn bfd(enc: &mut DescriptorEncoder, s: &Snapshot) -> fmt::Result {
    let b = &s.bfd;
    gauges(
        enc,
        "lvsdeck_bfd_session_state",
        "A BFD session's state as RFC 5880 numbers it: 0 AdminDown, 1 Down, 2 Init, 3 Up.",
        b,
        |b| Some((session(b), state_code(&b.state))),
    )?;
    gauges(
        enc,
        "lvsdeck_bfd_session_up",
        "1 while the BFD session is Up.",
        b,
        |b| Some((session(b), i64::from(b.state == "Up"))),
    )?;
    gauges(
        enc,
        "lvsdeck_bfd_tx_interval_seconds",
        "The interval control packets go out at now (before jitter).",
        b,
        |b| Some((session(b), seconds(b.tx_interval_us))),
    )?;
    gauges(
        enc,
        "lvsdeck_bfd_detection_time_seconds",
        "How long without a packet before the session goes Down (absent before the peer spoke).",
        b,
        |b| Some((session(b), seconds(b.detection_us?))),
    )?;
    gauges(
        enc,
        "lvsdeck_bfd_remote_discriminator",
        "The peer's discriminator (0 when none is known).",
        b,
        |b| Some((session(b), i64::from(b.remote_disc))),
    )?;
    let per_session: [SessionCounter; 4] = [
        ("lvsdeck_bfd_packets_sent", "Control packets sent.", |b| {
            b.sent
        }),
        (
            "lvsdeck_bfd_packets_received",
            "Control packets a session took.",
            |b| b.received,
        ),
        (
            "lvsdeck_bfd_packets_dropped",
            "Packets a session dropped (authentication sequence).",
            |b| b.dropped,
        ),
        (
            "lvsdeck_bfd_session_down",
            "Times the session left Up (flaps).",
            |b| b.flaps,
        ),
    ];
    for (name, help, count) in per_session {
        counters(enc, name, help, b, |b| Some((session(b), count(b))))?;
    }
    counters(
        enc,
        "lvsdeck_bfd_unmatched_packets_dropped",
        "BFD packets dropped before any session took them, by reason (no_session, auth_missing, bad_length, ...).",
        &s.bfd_packets_dropped,
        |(reason, n)| Some((vec![("reason", reason.clone())], *n)),
    )
}
