//! Operator commands from the control socket or the embedded console: who may, which real
//! server a target names, what each does to the overrides, and what the shell must answer
//! first (VRRP, a reload, the doctor, the state file). One command at a time: the next waits
//! until the shell answered the one under way.

use super::{Answer, Core, Delegated, Effect, Now, Pending, Reloaded, Who};
use crate::config::model::{RealServer, VirtualServer};
use crate::control::command;
use crate::control::protocol::{Command, RealTarget};
use crate::engine::snapshot::{EventKind, Override};
use crate::ipvs::table::{self, RealId, VsId};

impl Core {
    /// Find the configured virtual server and real server a target names.
    fn resolve(&self, target: &RealTarget) -> Result<(usize, usize, RealId), String> {
        let want_service = target
            .service
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        for (i, vs) in self.config.virtual_server.iter().enumerate() {
            let keys = table::service_keys(&self.config, vs).unwrap_or_default();
            let matches = keys
                .iter()
                .any(|k| command::names_service(&k.to_string(), &target.service))
                || VsId::of(vs).0 == want_service;
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

    /// Why a caller who is neither root nor in the admin group is refused.
    fn watch_only(&self, user: &str, uid: u32) -> String {
        let group = self
            .config
            .global
            .admin_group
            .as_ref()
            .map_or(String::new(), |g| format!(" `{g}`"));
        format!(
            "user {user} (uid {uid}) may only watch: commands need root or membership of the admin group{group}"
        )
    }

    /// Start the next queued command, unless one waits for the shell.
    pub(super) fn next_command(&mut self, now: Now) {
        while self.pending.is_none() {
            let Some((who, command, admin)) = self.queued.pop_front() else {
                return;
            };
            if let (false, Who::Operator { user, uid }) = (admin, &who) {
                let refused = Err(self.watch_only(user, *uid));
                self.finish(now, &who, &command, refused);
                continue;
            }
            // What the core does itself (then saved), or what it asks of the shell.
            let user = who.name().to_string();
            let done = match &command {
                Command::Drain { target } => self.drain(now, target, &user),
                Command::Undrain { target } => self.undrain(now, target),
                Command::Weight { target, weight } => self.weight(now, target, *weight, &user),
                Command::DrainDirector => self.drain_director(now, &user, true),
                Command::UndrainDirector => self.drain_director(now, &user, false),
                Command::Clear => {
                    let (d, w) = (self.drains.len(), self.weights.len());
                    self.drains.clear();
                    self.weights.clear();
                    // A drained director stays drained: undrain-director says so on purpose.
                    self.push_desired(now);
                    let said = Some(format!("cleared {d} drain(s), {w} weight override(s)"));
                    self.delegate(who, command, said, Delegated::ClearPriorities);
                    continue;
                }
                Command::Priority { instance, priority } => {
                    let delegated = Delegated::Priority {
                        instance: instance.clone(),
                        priority: *priority,
                        user,
                    };
                    self.delegate(who, command, None, delegated);
                    continue;
                }
                Command::Handover { instance } => {
                    let delegated = Delegated::Handover {
                        instance: instance.clone(),
                    };
                    self.delegate(who, command, None, delegated);
                    continue;
                }
                Command::Reload => {
                    self.delegate(who, command, None, Delegated::Reload);
                    continue;
                }
                Command::Doctor => {
                    self.delegate(who, command, None, Delegated::Doctor);
                    continue;
                }
            };
            match done {
                Ok(msg) => self.save(who, command, msg),
                Err(e) => self.finish(now, &who, &command, Err(e)),
            }
        }
    }

    /// Ask the shell; the command waits for its answer.
    fn delegate(&mut self, who: Who, command: Command, said: Option<String>, asked: Delegated) {
        self.pending = Some(Pending { who, command, said });
        self.effects.push_back(Effect::Delegate(asked));
    }

    fn drain(&mut self, now: Now, target: &RealTarget, user: &str) -> Result<String, String> {
        let (i, j, id) = self.resolve(target)?;
        let set = Override {
            value: (),
            by: user.to_string(),
            at_ms: now.wall_ms,
        };
        self.drains.insert(id, set);
        self.push_desired(now);
        let rs = &self.config.virtual_server[i].real_server[j];
        Ok(format!(
            "{} set to weight 0; active connections finish, new ones go elsewhere",
            rs.ip
        ))
    }

    fn undrain(&mut self, now: Now, target: &RealTarget) -> Result<String, String> {
        let (i, j, id) = self.resolve(target)?;
        if self.drains.remove(&id).is_none() {
            return Err(format!("{} is not drained", target.real));
        }
        self.push_desired(now);
        let rs = &self.config.virtual_server[i].real_server[j];
        let w = self
            .weights
            .get(&id)
            .map_or(rs.weight.max(0) as u32, |o| o.value);
        Ok(format!("{} back to weight {w}", rs.ip))
    }

    fn weight(
        &mut self,
        now: Now,
        target: &RealTarget,
        weight: Option<u32>,
        user: &str,
    ) -> Result<String, String> {
        let (_, _, id) = self.resolve(target)?;
        command::weight::validate(weight)?;
        match weight {
            Some(value) => {
                let set = Override {
                    value,
                    by: user.to_string(),
                    at_ms: now.wall_ms,
                };
                self.weights.insert(id, set);
            }
            None => {
                self.weights.remove(&id);
            }
        }
        self.push_desired(now);
        Ok(match weight {
            Some(w) => format!("weight {w} set (sticky until cleared)"),
            None => "weight override cleared".to_string(),
        })
    }

    /// Write the operators' state, then answer (the answer says if it could not be written).
    fn save(&mut self, who: Who, command: Command, msg: String) {
        self.pending = Some(Pending {
            who,
            command,
            said: Some(msg),
        });
        self.effects
            .push_back(Effect::SaveState(self.operator_state()));
    }

    pub(super) fn on_saved(&mut self, now: Now, result: Result<(), String>) {
        let Some(Pending { who, command, said }) = self.pending.take() else {
            tracing::warn!("the state file's write answered with no command under way");
            return;
        };
        let msg = said.unwrap_or_default();
        let msg = match result {
            Ok(()) => msg,
            Err(e) => format!("{msg}; NOT SAVED, lost on a restart: {e}"),
        };
        self.finish(now, &who, &command, Ok(msg));
    }

    pub(super) fn on_answered(&mut self, now: Now, answer: Answer) {
        self.priorities = answer.priorities;
        let Some(Pending { who, command, said }) = self.pending.take() else {
            tracing::warn!("the shell answered with no command under way");
            return;
        };
        match (&command, answer.result) {
            (Command::Priority { .. }, Ok(msg)) => self.save(who, command, msg),
            (Command::Clear, Ok(vrrp)) => {
                let msg = format!("{}, {vrrp}", said.unwrap_or_default());
                self.save(who, command, msg);
            }
            (_, result) => self.finish(now, &who, &command, result),
        }
    }

    /// A reload the shell read and VRRP took: apply only the difference.
    pub(super) fn on_reloaded(&mut self, now: Now, result: Result<Reloaded, String>) {
        let Some(Pending { who, command, .. }) = self.pending.take() else {
            tracing::warn!("a reload answered with no command under way");
            return;
        };
        let result = result.map(|r| {
            let vrrp_changes = r.vrrp_changes;
            self.config = *r.config;
            self.scripts = r.scripts;
            self.sync_checks(now);
            self.push_desired(now);
            self.push_settings();
            let vrrp = if vrrp_changes.is_empty() {
                "VRRP unchanged".to_string()
            } else {
                vrrp_changes.join("; ")
            };
            format!(
                "reloaded {}: {vrrp}; IPVS table brought in line",
                self.config_source
            )
        });
        self.finish(now, &who, &command, result);
    }

    /// The command's end: the audit trail, the event log and the answer.
    fn finish(&mut self, now: Now, who: &Who, command: &Command, result: Result<String, String>) {
        match who {
            Who::Hangup => {
                let said = match &result {
                    Ok(m) => m.clone(),
                    Err(m) => format!("reload refused: {m}"),
                };
                self.log(now, EventKind::Daemon, "SIGHUP", said);
            }
            Who::Operator { user, uid } => {
                let what = command.describe();
                let (verdict, detail) = match &result {
                    Ok(m) => ("done", m.as_str()),
                    Err(m) => ("refused", m.as_str()),
                };
                tracing::info!(target: "lvsdeck::audit", user, uid, command = what, verdict, "{detail}");
                self.effects.push_back(Effect::Audit(format!(
                    "{} user={user} uid={uid} command={what:?} {verdict}: {detail:?}",
                    now.wall_ms
                )));
                let said = match &result {
                    Ok(m) => format!("{what}: {m} (uid {uid})"),
                    Err(m) => format!("{what}: refused: {m} (uid {uid})"),
                };
                self.log(now, EventKind::Operator, user, said);
                self.effects.push_back(Effect::Answer(result));
            }
        }
        self.effects.push_back(Effect::Publish);
    }
}

impl Who {
    fn name(&self) -> &str {
        match self {
            Who::Operator { user, .. } => user,
            Who::Hangup => "SIGHUP",
        }
    }
}

fn real_text(vs: &VirtualServer, rs: &RealServer) -> String {
    match rs.port.or(vs.port) {
        Some(p) => crate::ipvs::SockAddr(rs.ip, p).to_string(),
        None => rs.ip.to_string(),
    }
}

/// Whether `text` names the real server, by the rule the console also follows.
fn real_matches(vs: &VirtualServer, rs: &RealServer, text: &str) -> bool {
    let port = rs.port.or(vs.port).unwrap_or(0);
    command::names_real(&rs.ip.to_string(), port, text)
}
