//! The director's side of `[bgp]`: what to announce (from quorum, the operator's drain of the
//! whole director and the stop), handed to the BGP worker as plans, and what the worker found,
//! folded into the view.

use std::time::{Duration, Instant};

use super::{Core, Effect, Now};
use crate::bgp::worker::{Plan, Report};
use crate::bgp::{self, DirectorState};
use crate::engine::snapshot::{BgpRouteView, BgpSessionView, BgpView, EventKind, Override};

/// The longest a stop waits for BIRD to take the withdrawal in, beyond `withdraw_wait`.
const WITHDRAW_ANSWER: Duration = Duration::from_secs(10);

/// What the core knows of BGP: the plans it sent, the worker's last report, and the stop.
#[derive(Default)]
pub struct BgpState {
    generation: u64,
    sent: Option<Plan>,
    last: Option<Report>,
    /// The stop: when it began and the plan that withdraws everything.
    stop: Option<(Instant, u64)>,
    /// When BIRD took the withdrawal in.
    withdrawn_at: Option<Instant>,
}

impl Core {
    /// Send the BGP worker what to announce now (starting it with the first `[bgp]`).
    pub(super) fn push_bgp(&mut self, now: Now) {
        // A reload that removed [bgp]: withdraw everything through the sessions BIRD has
        // (the last [bgp]'s), and take the addresses off lo.
        let removed = self.config.bgp.is_none();
        let Some(cfg) = self.config.bgp.clone().or_else(|| {
            let sent = self.bgp.sent.as_ref()?;
            Some(sent.bgp.clone())
        }) else {
            return;
        };
        let ours = &mut self.bgp;
        let state = DirectorState {
            drained_by: self.director_drain.as_ref().map(|o| o.by.as_str()),
            stopping: ours.stop.is_some(),
        };
        let quorum = &self.health.quorum;
        // Services with a checked real server that has not answered yet: not known.
        let pending: std::collections::HashSet<&crate::ipvs::table::VsId> = self
            .targets
            .values()
            .filter(|r| !self.last_check.contains_key(*r))
            .map(|r| &r.vs)
            .collect();
        let routes = if removed {
            Default::default()
        } else {
            bgp::wanted(
                &self.config,
                |id| match pending.contains(id) {
                    true => None,
                    false => quorum.get(id).copied(),
                },
                state,
            )
        };
        let mut plan = Plan {
            generation: ours.generation,
            bgp: cfg,
            routes,
            source: self.config_source.clone(),
        };
        if let Some(sent) = &ours.sent {
            plan.generation = sent.generation;
            if *sent == plan {
                return;
            }
        }
        let before = ours
            .sent
            .as_ref()
            .map(|p| p.routes.clone())
            .unwrap_or_default();
        ours.generation += 1;
        plan.generation = ours.generation;
        ours.sent = Some(plan.clone());
        self.effects.push_back(Effect::Announce(plan.clone()));
        let changes: Vec<String> = plan
            .routes
            .iter()
            .filter(|(net, why)| before.get(net) != Some(why))
            .map(|(net, why)| format!("{}/{} {why}", net.addr, net.prefix))
            .collect();
        for change in changes {
            self.log(now, EventKind::Bgp, "routes", change);
        }
        if removed && !before.is_empty() {
            self.log(
                now,
                EventKind::Bgp,
                "routes",
                "the [bgp] section is gone: every address withdrawn and taken off lo".into(),
            );
        }
    }

    pub(super) fn on_bgp(&mut self, now: Now, report: Report) {
        let ours = &mut self.bgp;
        let before = ours.last.take();
        if let (Some((_, stop_gen)), None) = (ours.stop, ours.withdrawn_at)
            && report.applied.as_ref().is_some_and(|(g, _)| *g >= stop_gen)
        {
            ours.withdrawn_at = Some(report.at);
        }
        let mut said = Vec::new();
        let was_error = before.as_ref().and_then(|r| r.protocols.as_ref().err());
        match (&report.protocols, was_error) {
            (Err(e), prev) if prev != Some(e) => said.push(format!("BIRD: {e}")),
            (Ok(_), Some(_)) => said.push("BIRD answers again".to_string()),
            _ => {}
        }
        if let Ok(rows) = &report.protocols {
            let old = before.as_ref().and_then(|r| r.protocols.as_ref().ok());
            for p in rows.iter().filter(|p| p.proto == "BGP") {
                let was = old.and_then(|o| o.iter().find(|q| q.name == p.name));
                let established = p.info.starts_with("Established");
                if was.is_none_or(|w| w.info.starts_with("Established") != established) {
                    said.push(format!("session {} {} {}", p.name, p.state, p.info));
                }
            }
        }
        if report.configure_error.is_some()
            && before.as_ref().and_then(|r| r.configure_error.as_ref())
                != report.configure_error.as_ref()
        {
            said.push(report.configure_error.clone().unwrap_or_default());
        }
        for e in &report.address_errors {
            if !before
                .as_ref()
                .is_some_and(|r| r.address_errors.contains(e))
            {
                said.push(e.clone());
            }
        }
        ours.last = Some(report);
        for s in said {
            self.log(now, EventKind::Bgp, "bird", s);
        }
    }

    /// Stop announcing: the first step of a stop.
    pub(super) fn bgp_begin_stop(&mut self, now: Now) {
        // Nothing was ever sent to BIRD: nothing to withdraw.
        if self.bgp.sent.is_none() || self.bgp.stop.is_some() {
            return;
        }
        self.bgp.stop = Some((now.at, 0));
        self.push_bgp(now);
        // The plan that withdraws everything (the current one if nothing was announced).
        self.bgp.stop = Some((now.at, self.bgp.generation));
    }

    /// When a stop may go on: BIRD took the withdrawal in and the routers had `withdraw_wait`
    /// (or BIRD did not answer within `WITHDRAW_ANSWER`). `None`: not stopping or no `[bgp]`.
    pub fn bgp_stop_at(&self) -> Option<Instant> {
        let ours = &self.bgp;
        let (began, _) = ours.stop?;
        let wait = self
            .config
            .bgp
            .as_ref()
            .map_or(Duration::ZERO, |b| b.withdraw_wait.0);
        Some(match ours.withdrawn_at {
            Some(at) => at + wait,
            None => began + WITHDRAW_ANSWER + wait,
        })
    }

    /// A reload may not move BIRD's socket or the file BIRD includes while announcing: the
    /// old file would keep its routes, included by a bird.conf lvsdeck cannot edit.
    pub fn bgp_paths_kept(&self, new: &crate::config::model::Config) -> Result<(), String> {
        let (Some(old), Some(new)) = (&self.config.bgp, &new.bgp) else {
            return Ok(());
        };
        if old.bird_include != new.bird_include || old.bird_socket != new.bird_socket {
            return Err(format!(
                "[bgp] bird_include / bird_socket changed ({} → {}, {} → {}): BIRD still \
                 includes the old file, whose routes would stay announced; change bird.conf, \
                 then restart lvsdeck. The running configuration stays",
                old.bird_include.display(),
                new.bird_include.display(),
                old.bird_socket.display(),
                new.bird_socket.display()
            ));
        }
        Ok(())
    }

    pub(super) fn drain_director(
        &mut self,
        now: Now,
        user: &str,
        drain: bool,
    ) -> Result<String, String> {
        if self.config.bgp.is_none() {
            return Err(
                "this director announces nothing over BGP (no [bgp] section); \
                        a VRRP director is emptied with a hand-over"
                    .into(),
            );
        }
        let msg = match (drain, &self.director_drain) {
            (true, Some(o)) => return Err(format!("already drained by {}", o.by)),
            (false, None) => return Err("the director is not drained".into()),
            (true, None) => {
                self.director_drain = Some(Override {
                    value: (),
                    by: user.to_string(),
                    at_ms: now.wall_ms,
                });
                "every announced address withdrawn; connections under way move to the other \
                 directors (mh + sloppy) as the routers converge"
            }
            (false, Some(_)) => {
                self.director_drain = None;
                "announcing again the addresses whose services have quorum"
            }
        };
        self.push_bgp(now);
        Ok(msg.to_string())
    }

    pub(super) fn bgp_view(&self, now: Now) -> Option<BgpView> {
        let cfg = self.config.bgp.as_ref()?;
        let last = self.bgp.last.as_ref();
        let applied = last.and_then(|r| r.applied.as_ref()).map(|(g, _)| *g);
        let sent = self.bgp.sent.as_ref();
        let in_bird = sent.is_some_and(|p| applied == Some(p.generation));
        let rows = last.and_then(|r| r.protocols.as_ref().ok());
        let sessions = cfg
            .neighbor
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let name = bgp::session_name(i);
                let row = rows.and_then(|rows| rows.iter().find(|p| p.name == name));
                BgpSessionView {
                    neighbor: n.address.to_string(),
                    remote_as: n.remote_as,
                    bfd: n.bfd,
                    state: row.map_or("missing".into(), |p| p.state.clone()),
                    info: row.map_or(String::new(), |p| p.info.clone()),
                    since: row.map_or(String::new(), |p| p.since.clone()),
                    established: row.is_some_and(|p| p.info.starts_with("Established")),
                    name,
                }
            })
            .collect();
        let routes = sent
            .map(|p| {
                p.routes
                    .iter()
                    .map(|(net, why)| BgpRouteView {
                        prefix: format!("{}/{}", net.addr, net.prefix),
                        announced: why.announced(),
                        why: why.to_string(),
                        in_bird,
                    })
                    .collect()
            })
            .unwrap_or_default();
        let error = last.and_then(|r| {
            let mut e: Vec<String> = r.protocols.as_ref().err().into_iter().cloned().collect();
            if let Some(c) = &r.configure_error
                && !e.contains(c)
            {
                e.push(c.clone());
            }
            e.extend(r.address_errors.iter().cloned());
            (!e.is_empty()).then(|| e.join("; "))
        });
        Some(BgpView {
            speaker: format!("BIRD at {}", cfg.bird_socket.display()),
            reachable: last.is_some_and(|r| r.protocols.is_ok()),
            error,
            checked_at_ms: last.map_or(0, |r| {
                let age = now.at.saturating_duration_since(r.at).as_millis() as u64;
                now.wall_ms.saturating_sub(age)
            }),
            local_as: cfg.local_as,
            sessions,
            routes,
            drained: self.director_drain.clone(),
            stopping: self.bgp.stop.is_some(),
        })
    }
}
