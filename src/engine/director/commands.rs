//! Operator commands from the control socket or the embedded console: who may, which real
//! server a target names, what each does to the director's overrides, and reload.

use std::time::Instant;

use super::{CommandRequest, Director};
use crate::config::model::{RealServer, VirtualServer};
use crate::control::protocol::{Command, RealTarget};
use crate::engine::snapshot::{Override, now_ms};
use crate::ipvs::table::{self, RealId, VsId};

impl Director {
    /// Find the configured virtual server and real server a target names.
    fn resolve(&self, target: &RealTarget) -> Result<(usize, usize, RealId), String> {
        let want_service = target
            .service
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        for (i, vs) in self.config.virtual_server.iter().enumerate() {
            let keys = table::service_keys(&self.config, vs).unwrap_or_default();
            let matches = keys.iter().any(|k| {
                let text = k.to_string();
                text.split_whitespace().collect::<Vec<_>>().join(" ") == want_service
                    || text.split_whitespace().nth(1) == Some(target.service.as_str())
            }) || VsId::of(vs).0 == want_service;
            if !matches {
                continue;
            }
            for (j, rs) in vs.real_server.iter().enumerate() {
                if real_matches(vs, rs, &target.real) {
                    return Ok((i, j, RealId::of(vs, rs)));
                }
            }
            let reals: Vec<String> = vs.real_server.iter().map(|rs| real_text(vs, rs)).collect();
            return Err(format!(
                "{} has no real server {}; it has {}",
                target.service,
                target.real,
                reals.join(", ")
            ));
        }
        let services: Vec<String> = self
            .config
            .virtual_server
            .iter()
            .map(|vs| VsId::of(vs).0)
            .collect();
        Err(format!(
            "no virtual service `{}`; services: {}",
            target.service,
            services.join(", ")
        ))
    }

    pub(super) async fn on_command(&mut self, req: CommandRequest) {
        let result = if !req.admin {
            let group = self
                .config
                .global
                .admin_group
                .as_ref()
                .map_or(String::new(), |g| format!(" `{g}`"));
            Err(format!(
                "user {} (uid {}) may only watch: commands need root or membership of the admin group{group}",
                req.user, req.uid
            ))
        } else if req.command == Command::Reload {
            self.reload().await
        } else {
            self.apply(&req.command, &req.user)
        };
        let what = req.command.describe();
        self.audit(&req.user, req.uid, &what, &result);
        match &result {
            Ok(msg) => self.log(
                "operator",
                &req.user,
                format!("{what}: {msg} (uid {})", req.uid),
            ),
            Err(msg) => self.log(
                "operator",
                &req.user,
                format!("{what}: refused: {msg} (uid {})", req.uid),
            ),
        }
        let _ = req.reply.send(result);
    }

    fn apply(&mut self, command: &Command, user: &str) -> Result<String, String> {
        let msg = self.apply_unsaved(command, user)?;
        if matches!(
            command,
            Command::Handover { .. } | Command::Reload | Command::Doctor
        ) {
            return Ok(msg);
        }
        Ok(match self.save_operator_state() {
            Ok(()) => msg,
            Err(e) => format!("{msg}; NOT SAVED, lost on a restart: {e}"),
        })
    }

    fn apply_unsaved(&mut self, command: &Command, user: &str) -> Result<String, String> {
        let now = Instant::now();
        let by = || Override {
            value: (),
            by: user.to_string(),
            at_ms: now_ms(),
        };
        match command {
            Command::Drain { target } => {
                let (i, j, id) = self.resolve(target)?;
                self.drains.insert(id, by());
                self.push_desired();
                let rs = &self.config.virtual_server[i].real_server[j];
                Ok(format!(
                    "{} set to weight 0; active connections finish, new ones go elsewhere",
                    rs.ip
                ))
            }
            Command::Undrain { target } => {
                let (i, j, id) = self.resolve(target)?;
                if self.drains.remove(&id).is_none() {
                    return Err(format!("{} is not drained", target.real));
                }
                self.push_desired();
                let rs = &self.config.virtual_server[i].real_server[j];
                let w = self
                    .weights
                    .get(&id)
                    .map_or(rs.weight.max(0) as u32, |o| o.value);
                Ok(format!("{} back to weight {w}", rs.ip))
            }
            Command::Weight { target, weight } => {
                let (_, _, id) = self.resolve(target)?;
                match weight {
                    Some(w) if *w > 65535 => return Err(format!("weight {w} is outside 0..65535")),
                    Some(w) => {
                        self.weights.insert(
                            id,
                            Override {
                                value: *w,
                                by: user.to_string(),
                                at_ms: now_ms(),
                            },
                        );
                    }
                    None => {
                        self.weights.remove(&id);
                    }
                }
                self.push_desired();
                Ok(match weight {
                    Some(w) => format!("weight {w} set (sticky until cleared)"),
                    None => "weight override cleared".to_string(),
                })
            }
            Command::Priority { instance, priority } => {
                self.vrrp.set_priority(now, instance, *priority, user)
            }
            Command::Handover { instance } => self.vrrp.handover(now, instance),
            Command::Clear => {
                let (d, w) = (self.drains.len(), self.weights.len());
                self.drains.clear();
                self.weights.clear();
                let (p, h) = self.vrrp.clear_priority_overrides(now);
                // A drained director stays drained: undrain-director says so on purpose.
                self.push_desired();
                Ok(format!(
                    "cleared {d} drain(s), {w} weight override(s), {p} priority override(s), \
                     {h} hand-over hold(s)"
                ))
            }
            Command::Reload => Err("reload is handled by the director loop".into()),
            Command::Doctor => self.doctor_now(),
            Command::DrainDirector => self.drain_director(user, true),
            Command::UndrainDirector => self.drain_director(user, false),
        }
    }

    /// Re-read the configuration and apply only the difference; a bad file changes nothing.
    pub(super) async fn reload(&mut self) -> Result<String, String> {
        let loaded = crate::config::load_file(&self.config_path, &crate::config::validate::FsProbe)
            .map_err(|d| {
                format!(
                    "{} is invalid, the running configuration stays:\n{d}",
                    self.config_path.display()
                )
            })?;
        self.bgp_paths_kept(&loaded.config)?;
        let vrrp_changes = self
            .vrrp
            .reconfigure(&loaded.config)
            .await
            .map_err(|e| format!("VRRP: {e}"))?;
        self.config = loaded.config;
        self.sync_checks();
        self.push_desired();
        self.push_settings();
        let vrrp = if vrrp_changes.is_empty() {
            "VRRP unchanged".to_string()
        } else {
            vrrp_changes.join("; ")
        };
        Ok(format!(
            "reloaded {}: {vrrp}; IPVS table brought in line",
            self.config_path.display()
        ))
    }
}

fn real_text(vs: &VirtualServer, rs: &RealServer) -> String {
    match rs.port.or(vs.port) {
        Some(p) => crate::ipvs::SockAddr(rs.ip, p).to_string(),
        None => rs.ip.to_string(),
    }
}

/// `10.0.0.11:80`, `[fd00::1]:80` or a bare address name the real server.
fn real_matches(vs: &VirtualServer, rs: &RealServer, text: &str) -> bool {
    real_text(vs, rs) == text || rs.ip.to_string() == text.trim_matches(['[', ']'])
}
