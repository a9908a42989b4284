//! The cluster strip: one line per director the console follows (the lab's directors, or
//! `--peer` sockets forwarded over SSH), built from each director's own Snapshot: whether it
//! answers, its VRRP states, its BGP sessions and what it announces, and its share of the
//! cluster's new connections per second.

use crate::snapshot::Snapshot;
use crate::snapshot::VrrpState;
use crate::tui::app::ConnectionState;

/// One director, summed up.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterRow {
    pub name: String,
    /// The director the panes below show.
    pub shown: bool,
    /// `connected`, `connecting`, `LOST 12s`.
    pub link: String,
    pub lost: bool,
    /// `MASTER VI_1`, `MASTER 1/2`, or empty without VRRP.
    pub vrrp: String,
    /// The state that styles it: the one instance's, or MASTER for a count of masters.
    pub vrrp_state: Option<VrrpState>,
    /// `BGP 1/1 up`, or empty without `[bgp]`.
    pub bgp: String,
    pub bgp_ok: bool,
    /// `announces 10.30.0.100/32`, `DRAINED by root`, `withdrawn: quorum lost on ...`.
    pub announces: String,
    pub active_conns: u64,
    pub cps: f64,
    /// Of the cluster's cps, this director's part (0..=1); None when nobody has any.
    pub share: Option<f64>,
}

/// One row per director: `(label, last snapshot, connection)`; `shown` is the index the
/// panes show.
pub fn rows(
    directors: &[(&str, Option<&Snapshot>, &ConnectionState)],
    shown: usize,
    now_ms: u64,
) -> Vec<ClusterRow> {
    let mut rows: Vec<ClusterRow> = directors
        .iter()
        .enumerate()
        .map(|(i, (name, snap, conn))| row(name, *snap, conn, i == shown, now_ms))
        .collect();
    let total: f64 = rows.iter().filter(|r| !r.lost).map(|r| r.cps).sum();
    for r in &mut rows {
        r.share = (total > 0.0 && !r.lost).then(|| r.cps / total);
    }
    rows
}

fn row(
    name: &str,
    snap: Option<&Snapshot>,
    conn: &ConnectionState,
    shown: bool,
    now_ms: u64,
) -> ClusterRow {
    let (link, lost) = match conn {
        ConnectionState::Connecting { .. } => ("connecting".to_string(), false),
        ConnectionState::Connected { .. } | ConnectionState::Embedded => {
            ("connected".to_string(), false)
        }
        ConnectionState::Lost { since_ms, .. } => (
            format!("LOST {}", crate::tui::fmt::ago(*since_ms, now_ms)),
            true,
        ),
    };
    let mut r = ClusterRow {
        name: name.to_string(),
        shown,
        link,
        lost,
        vrrp: String::new(),
        vrrp_state: None,
        bgp: String::new(),
        bgp_ok: true,
        announces: String::new(),
        active_conns: 0,
        cps: 0.0,
        share: None,
    };
    let Some(s) = snap else { return r };
    (r.vrrp, r.vrrp_state) = match s.vrrp.as_slice() {
        [] => (String::new(), None),
        [one] => (format!("{} {}", one.state, one.name), Some(one.state)),
        many => {
            let masters = many.iter().filter(|v| v.state == VrrpState::Master).count();
            let text = format!("MASTER {masters}/{}", many.len());
            (text, Some(VrrpState::Master))
        }
    };
    if let Some(b) = &s.bgp {
        let (up, all) = b.sessions_up();
        r.bgp = if b.reachable {
            format!("BGP {up}/{all} up")
        } else {
            "BIRD DOWN".to_string()
        };
        r.bgp_ok = b.reachable && up == all;
        let announced: Vec<&str> = b
            .routes
            .iter()
            .filter(|x| x.announced)
            .map(|x| x.prefix.as_str())
            .collect();
        r.announces = if let Some(d) = &b.drained {
            format!("DRAINED by {}", d.by)
        } else if b.stopping {
            "withdrawn: stopping".to_string()
        } else if announced.is_empty() {
            b.routes
                .first()
                .map_or("announces nothing".to_string(), |x| x.why.clone())
        } else {
            format!("announces {}", announced.join(" "))
        };
    }
    r.active_conns = s.ipvs.services.iter().map(|v| v.active_conns).sum();
    r.cps = s.ipvs.services.iter().map(|v| v.cps).sum();
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{BgpRouteView, BgpSessionView, BgpView, Override};

    fn with_bgp(cps: f64, drained: bool) -> Snapshot {
        let mut s = Snapshot::sample(1_800_000_000_000);
        for v in &mut s.ipvs.services {
            v.cps = 0.0;
        }
        s.ipvs.services[0].cps = cps;
        s.bgp = Some(BgpView {
            reachable: true,
            sessions: vec![BgpSessionView {
                established: true,
                ..Default::default()
            }],
            routes: vec![BgpRouteView {
                prefix: "10.30.0.100/32".into(),
                announced: !drained,
                why: "announced".into(),
                in_bird: true,
            }],
            drained: drained.then(|| Override {
                value: (),
                by: "alice".into(),
                at_ms: 0,
            }),
            ..Default::default()
        });
        s
    }

    #[test]
    fn shares_add_up_over_the_directors_that_answer() {
        let (a, b, c) = (
            with_bgp(30.0, false),
            with_bgp(10.0, false),
            with_bgp(0.0, true),
        );
        let up = ConnectionState::Connected { since_ms: 0 };
        let lost = ConnectionState::Lost {
            since_ms: 1_799_999_990_000,
            reason: "closed".into(),
        };
        let rows = rows(
            &[
                ("d1", Some(&a), &up),
                ("d2", Some(&b), &up),
                ("d3", Some(&c), &up),
                ("d4", Some(&a), &lost),
            ],
            1,
            1_800_000_000_000,
        );
        assert_eq!(rows[0].share, Some(0.75));
        assert_eq!(rows[1].share, Some(0.25));
        assert!(rows[1].shown && !rows[0].shown);
        assert_eq!(rows[2].share, Some(0.0));
        assert_eq!(rows[2].announces, "DRAINED by alice");
        assert_eq!(rows[0].announces, "announces 10.30.0.100/32");
        assert_eq!(rows[0].bgp, "BGP 1/1 up");
        // A director that stopped answering counts for nothing, and says since when.
        assert_eq!(rows[3].share, None);
        assert_eq!(rows[3].link, "LOST 10s ago");
    }
}
