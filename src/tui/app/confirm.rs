//! The confirm dialogs and value inputs of the operator's actions on a real server or a VRRP
//! instance (drain, undrain, weight, priority, hand-over), and the keys inside them.

use super::*;

impl App {
    pub(super) fn real_action(&mut self, action: Action, si: usize, ri: usize, now_ms: u64) {
        let step = self.config.weight_step.max(1);
        let current = current_weight(&self.snapshot.ipvs.services[si].reals[ri]);
        match action {
            Action::Drain => self.confirm_drain(si, ri, now_ms),
            Action::Undrain => self.confirm_undrain(si, ri, now_ms),
            Action::WeightUp => self.confirm_weight(si, ri, Some(current.saturating_add(step))),
            Action::WeightDown => {
                if current == 0 {
                    self.refuse("weight-: the weight is already 0".into(), now_ms);
                } else {
                    self.confirm_weight(si, ri, Some(current.saturating_sub(step)));
                }
            }
            Action::SetWeight => self.open_weight_input(si, ri),
            _ => {}
        }
    }

    pub(super) fn target(&self, si: usize, ri: usize) -> RealTarget {
        let s = &self.snapshot.ipvs.services[si];
        let r = &s.reals[ri];
        RealTarget {
            service: s.key.clone(),
            real: fmt::endpoint(&r.address, r.port),
        }
    }

    pub(super) fn real_lines(&self, si: usize, ri: usize) -> Vec<(String, String)> {
        let s = &self.snapshot.ipvs.services[si];
        let r = &s.reals[ri];
        vec![
            ("service".into(), s.key.clone()),
            ("real server".into(), fmt::endpoint(&r.address, r.port)),
            (
                "now".into(),
                format!(
                    "weight {} (configured {}), {}, {} active / {} inactive",
                    r.weight, r.configured_weight, r.health, r.active_conns, r.inactive_conns
                ),
            ),
        ]
    }

    pub(super) fn confirm_drain(&mut self, si: usize, ri: usize, now_ms: u64) {
        let r = &self.snapshot.ipvs.services[si].reals[ri];
        if r.drain.is_some() {
            self.refuse(
                format!(
                    "drain: {} is already drained (u undrains it)",
                    fmt::endpoint(&r.address, r.port)
                ),
                now_ms,
            );
            return;
        }
        let mut lines = self.real_lines(si, ri);
        lines.push(("change".into(), format!("weight {} → 0 (drain)", r.weight)));
        self.dialogs.push(Dialog::Confirm(Confirm {
            title: "Drain real server?".into(),
            lines,
            note: Some(format!(
                "No new connections; the {} active ones finish. Sticky until undrained.",
                r.active_conns
            )),
            then: Confirmed::Send(Command::Drain {
                target: self.target(si, ri),
            }),
            on_confirm: false,
        }));
    }

    pub(super) fn confirm_undrain(&mut self, si: usize, ri: usize, now_ms: u64) {
        let r = &self.snapshot.ipvs.services[si].reals[ri];
        if r.drain.is_none() {
            self.refuse(
                format!(
                    "undrain: {} is not drained",
                    fmt::endpoint(&r.address, r.port)
                ),
                now_ms,
            );
            return;
        }
        let back = r
            .weight_override
            .as_ref()
            .map_or(r.configured_weight, |o| o.value);
        let mut lines = self.real_lines(si, ri);
        lines.push((
            "change".into(),
            format!("weight {} → {back} (undrain)", r.weight),
        ));
        self.dialogs.push(Dialog::Confirm(Confirm {
            title: "Undrain real server?".into(),
            lines,
            note: Some("It takes new connections again.".into()),
            then: Confirmed::Send(Command::Undrain {
                target: self.target(si, ri),
            }),
            on_confirm: false,
        }));
    }

    pub(super) fn confirm_weight(&mut self, si: usize, ri: usize, weight: Option<u32>) {
        let r = &self.snapshot.ipvs.services[si].reals[ri];
        let mut lines = self.real_lines(si, ri);
        let change = match weight {
            Some(w) => format!("weight {} → {w} (sticky override)", current_weight(r)),
            None => format!(
                "weight {} → {} (override cleared, configured weight)",
                current_weight(r),
                r.configured_weight
            ),
        };
        lines.push(("change".into(), change));
        let note = if r.drain.is_some() {
            Some("It is drained: the new weight applies once undrained.".into())
        } else if weight == Some(0) {
            Some("Weight 0 takes no new connections, like a drain.".into())
        } else {
            None
        };
        self.dialogs.push(Dialog::Confirm(Confirm {
            title: "Change weight?".into(),
            lines,
            note,
            then: Confirmed::Send(Command::Weight {
                target: self.target(si, ri),
                weight,
            }),
            on_confirm: false,
        }));
    }

    pub(super) fn open_weight_input(&mut self, si: usize, ri: usize) {
        let r = &self.snapshot.ipvs.services[si].reals[ri];
        self.dialogs.push(Dialog::Input(Input {
            purpose: InputPurpose::Weight {
                service: si,
                real: ri,
            },
            title: "Set weight".into(),
            lines: self.real_lines(si, ri),
            hint: "new weight 0-65535; empty clears the override".into(),
            text: r
                .weight_override
                .as_ref()
                .map(|o| o.value.to_string())
                .unwrap_or_default(),
            error: None,
        }));
    }

    pub(super) fn vrrp_lines(&self, vi: usize) -> Vec<(String, String)> {
        let v = &self.snapshot.vrrp[vi];
        vec![
            (
                "instance".into(),
                format!("{} ({} vrid {})", v.name, v.interface, v.vrid),
            ),
            (
                "state".into(),
                format!(
                    "{}, VIPs {} {}",
                    v.state,
                    v.vips.join(" "),
                    if v.holds_vips {
                        "held here"
                    } else {
                        "not held here"
                    }
                ),
            ),
        ]
    }

    pub(super) fn open_priority_input(&mut self, vi: usize) {
        let v = &self.snapshot.vrrp[vi];
        let mut lines = self.vrrp_lines(vi);
        lines.push((
            "priority".into(),
            format!(
                "{} (base {}{})",
                v.effective_priority,
                v.base_priority,
                v.priority_override
                    .as_ref()
                    .map(|o| format!(", override {} by {}", o.value, o.by))
                    .unwrap_or_default()
            ),
        ));
        self.dialogs.push(Dialog::Input(Input {
            purpose: InputPurpose::Priority { instance: vi },
            title: "Override priority".into(),
            lines,
            hint: "new priority 1-254; empty clears the override".into(),
            text: v
                .priority_override
                .as_ref()
                .map(|o| o.value.to_string())
                .unwrap_or_default(),
            error: None,
        }));
    }

    pub(super) fn confirm_priority(&mut self, vi: usize, priority: Option<u8>) {
        let v = &self.snapshot.vrrp[vi];
        let mut lines = self.vrrp_lines(vi);
        let change = match priority {
            Some(p) => format!("priority {} → {p} (sticky override)", v.effective_priority),
            None => format!(
                "priority {} → {} (override cleared, base priority)",
                v.effective_priority, v.base_priority
            ),
        };
        lines.push(("change".into(), change));
        let note = match (&v.master_heard, priority) {
            (Some(m), Some(p)) if v.state == "BACKUP" && p > m.priority => Some(format!(
                "Above the master's {} ({}): this director takes over if it preempts.",
                m.priority, m.address
            )),
            (_, Some(p)) if v.state == "MASTER" && p < v.effective_priority => Some(
                "Lower than now: a backup with a higher priority takes over if it preempts.".into(),
            ),
            _ => None,
        };
        self.dialogs.push(Dialog::Confirm(Confirm {
            title: "Change VRRP priority?".into(),
            lines,
            note,
            then: Confirmed::Send(Command::Priority {
                instance: v.name.clone(),
                priority,
            }),
            on_confirm: false,
        }));
    }

    pub(super) fn confirm_handover(&mut self, vi: usize, now_ms: u64) {
        let v = &self.snapshot.vrrp[vi];
        if v.state != "MASTER" {
            self.refuse(
                format!(
                    "hand over: {} is {} here; only a MASTER can hand over",
                    v.name, v.state
                ),
                now_ms,
            );
            return;
        }
        let mut lines = self.vrrp_lines(vi);
        lines.push((
            "change".into(),
            "MASTER → BACKUP here; a backup takes the VIPs".into(),
        ));
        self.dialogs.push(Dialog::Confirm(Confirm {
            title: "Hand over to a backup?".into(),
            lines,
            note: Some(
                "Make-before-break: the VIPs are released once a backup has taken over.".into(),
            ),
            then: Confirmed::Send(Command::Handover {
                instance: v.name.clone(),
            }),
            on_confirm: false,
        }));
    }

    /// `[bgp]`: withdraw (or announce again) every address of the director shown.
    pub(super) fn confirm_drain_director(&mut self, now_ms: u64) {
        let Some(bgp) = &self.snapshot.bgp else {
            self.refuse(
                "drain director: this director announces nothing over BGP (no [bgp]); a VRRP \
                 director is emptied with a hand-over (h)"
                    .into(),
                now_ms,
            );
            return;
        };
        let host = &self.snapshot.host;
        let name = host
            .router_id
            .clone()
            .unwrap_or_else(|| host.hostname.clone());
        let (up, all) = bgp.sessions_up();
        let prefixes = |announced: bool| {
            let p: Vec<&str> = bgp
                .routes
                .iter()
                .filter(|r| r.announced == announced)
                .map(|r| r.prefix.as_str())
                .collect();
            if p.is_empty() {
                "none".to_string()
            } else {
                p.join(", ")
            }
        };
        let mut lines = vec![
            ("director".to_string(), name),
            ("sessions".to_string(), format!("{up}/{all} Established")),
        ];
        let (title, note, then) = match &bgp.drained {
            None => {
                lines.push(("announces".into(), prefixes(true)));
                lines.push((
                    "change".into(),
                    "withdraw them all; the routers send this director's flows to the others"
                        .into(),
                ));
                (
                    "Drain this director?",
                    "Connections under way move to the other directors and continue there \
                     (mh with the same table, sloppy TCP); kept across restarts until undrained.",
                    Command::DrainDirector,
                )
            }
            Some(d) => {
                lines.push(("drained by".into(), d.by.clone()));
                lines.push(("withdrawn".into(), prefixes(false)));
                lines.push((
                    "change".into(),
                    "announce again every address whose services have quorum".into(),
                ));
                (
                    "Undrain this director?",
                    "The routers add this director back to their equal-cost routes.",
                    Command::UndrainDirector,
                )
            }
        };
        self.dialogs.push(Dialog::Confirm(Confirm {
            title: title.into(),
            lines,
            note: Some(note.into()),
            then: Confirmed::Send(then),
            on_confirm: false,
        }));
    }

    // -----------------------------------------------------------------------------------------
    // Dialogs and prompts.

    pub(super) fn dialog_key(&mut self, key: KeyEvent, now_ms: u64) -> Vec<Effect> {
        let Some(top) = self.dialogs.last_mut() else {
            return Vec::new();
        };
        match top {
            Dialog::Help { scroll } => match key.code {
                KeyCode::Esc | KeyCode::Char('q') | KeyCode::Char('?') | KeyCode::Enter => {
                    self.dialogs.pop();
                }
                KeyCode::Down | KeyCode::Char('j') | KeyCode::PageDown => {
                    *scroll = (*scroll + 1).min(crate::tui::view::help_lines())
                }
                KeyCode::Up | KeyCode::Char('k') | KeyCode::PageUp => {
                    *scroll = scroll.saturating_sub(1)
                }
                _ => {}
            },
            Dialog::Doctor { scroll } => match key.code {
                KeyCode::Esc | KeyCode::Char('q') | KeyCode::Char('D') | KeyCode::Enter => {
                    self.dialogs.pop();
                }
                KeyCode::Down | KeyCode::Char('j') | KeyCode::PageDown => *scroll += 1,
                KeyCode::Up | KeyCode::Char('k') | KeyCode::PageUp => {
                    *scroll = scroll.saturating_sub(1)
                }
                KeyCode::Char('r') => return self.run_doctor(now_ms),
                _ => {}
            },
            Dialog::Confirm(c) => match key.code {
                KeyCode::Esc => {
                    self.dialogs.pop();
                    self.info("cancelled", now_ms);
                }
                KeyCode::Left | KeyCode::Right | KeyCode::Tab | KeyCode::BackTab => {
                    c.on_confirm = !c.on_confirm
                }
                KeyCode::Enter => {
                    let confirmed = c.on_confirm;
                    let Some(Dialog::Confirm(c)) = self.dialogs.pop() else {
                        unreachable!()
                    };
                    if !confirmed {
                        self.info("cancelled", now_ms);
                        return Vec::new();
                    }
                    return match c.then {
                        Confirmed::Quit => vec![Effect::Quit],
                        Confirmed::Send(cmd) => {
                            self.status = Some(Status {
                                kind: StatusKind::Pending,
                                text: format!("sent: {} — waiting for the engines", cmd.describe()),
                                at_ms: now_ms,
                            });
                            vec![Effect::Send(cmd)]
                        }
                    };
                }
                _ => {}
            },
            Dialog::Input(input) => match key.code {
                KeyCode::Esc => {
                    self.dialogs.pop();
                    self.info("cancelled", now_ms);
                }
                KeyCode::Backspace => {
                    input.text.pop();
                    input.error = None;
                }
                KeyCode::Char(ch) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                    if input.text.len() < 12 {
                        input.text.push(ch);
                    }
                    input.error = None;
                }
                KeyCode::Enter => {
                    let text = input.text.trim().to_string();
                    match input.purpose {
                        InputPurpose::Weight { service, real } => match parse_weight(&text) {
                            Ok(w) => {
                                self.dialogs.pop();
                                self.confirm_weight(service, real, w);
                            }
                            Err(e) => input.error = Some(e),
                        },
                        InputPurpose::Priority { instance } => match parse_priority(&text) {
                            Ok(p) => {
                                self.dialogs.pop();
                                self.confirm_priority(instance, p);
                            }
                            Err(e) => input.error = Some(e),
                        },
                    }
                }
                _ => {}
            },
        }
        Vec::new()
    }
}
