//! `[bgp]`'s series: whether BIRD answers, each session, each address announced or not, and
//! the drain of the whole director.

use std::fmt;

use prometheus_client::encoding::DescriptorEncoder;

use super::gauges;
use crate::snapshot::Snapshot;

pub(super) fn bgp(enc: &mut DescriptorEncoder, s: &Snapshot) -> fmt::Result {
    let Some(b) = &s.bgp else { return Ok(()) };
    gauges(
        enc,
        "lvsdeck_bgp_speaker_up",
        "1 while BIRD answers on its control socket with lvsdeck's protocols in its configuration.",
        [b],
        |b| Some((vec![], i64::from(b.reachable))),
    )?;
    gauges(
        enc,
        "lvsdeck_bgp_session_established",
        "1 while the BGP session to a router is Established.",
        &b.sessions,
        |x| {
            Some((
                vec![
                    ("session", x.name.clone()),
                    ("neighbor", x.neighbor.clone()),
                ],
                i64::from(x.established),
            ))
        },
    )?;
    gauges(
        enc,
        "lvsdeck_bgp_route_announced",
        "1 while this director wants the address announced (its services have quorum, the \
         director is neither drained nor stopping).",
        &b.routes,
        |r| Some((vec![("prefix", r.prefix.clone())], i64::from(r.announced))),
    )?;
    gauges(
        enc,
        "lvsdeck_bgp_director_drained",
        "1 while an operator has drained the whole director (ctl drain-director).",
        [b],
        |b| Some((vec![], i64::from(b.drained.is_some()))),
    )
}

#[cfg(test)]
mod tests {
    use crate::snapshot::{BgpRouteView, BgpSessionView, BgpView, Snapshot};

    #[test]
    fn sessions_routes_and_the_drain_are_series() {
        let mut s = Snapshot::sample(1_800_000_000_000);
        s.bgp = Some(BgpView {
            reachable: true,
            sessions: vec![BgpSessionView {
                name: "lvsdeck_r1".into(),
                neighbor: "10.20.0.254".into(),
                established: true,
                ..Default::default()
            }],
            routes: vec![BgpRouteView {
                prefix: "10.30.0.100/32".into(),
                announced: false,
                ..Default::default()
            }],
            ..Default::default()
        });
        let text = super::super::render(&s, 1_800_000_000_000);
        for want in [
            "lvsdeck_bgp_speaker_up 1",
            "lvsdeck_bgp_session_established{session=\"lvsdeck_r1\",neighbor=\"10.20.0.254\"} 1",
            "lvsdeck_bgp_route_announced{prefix=\"10.30.0.100/32\"} 0",
            "lvsdeck_bgp_director_drained 0",
        ] {
            assert!(text.contains(want), "{want} missing:\n{text}");
        }
    }
}
