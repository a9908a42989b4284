//! The confirm dialogs and value inputs of the operator's actions on a real server or a VRRP
//! instance (drain, undrain, weight, priority, hand-over), and the keys inside them.

use super::*;

impl App {
    pub(super) fn real_action(&mut self, action: Action, si: usize, ri: usize, now_ms: u64) {
        let step = self.config.weight_step.max(1);
        let current = command::current_weight(&self.snapshot.ipvs.services[si].reals[ri]);
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

    /// Show `confirmation`'s dialog, or say why the command is refused.
    fn ask(&mut self, confirmation: Result<Confirmation, String>, now_ms: u64) {
        match confirmation {
            Ok(c) => self.dialogs.push(Dialog::Confirm(Confirm {
                title: c.title,
                lines: c.lines,
                note: c.note,
                then: Confirmed::Send(c.command),
                on_confirm: false,
            })),
            Err(refusal) => self.refuse(refusal, now_ms),
        }
    }

    pub(super) fn confirm_drain(&mut self, si: usize, ri: usize, now_ms: u64) {
        let s = &self.snapshot.ipvs.services[si];
        self.ask(command::drain::confirm_drain(s, &s.reals[ri]), now_ms);
    }

    pub(super) fn confirm_undrain(&mut self, si: usize, ri: usize, now_ms: u64) {
        let s = &self.snapshot.ipvs.services[si];
        self.ask(command::drain::confirm_undrain(s, &s.reals[ri]), now_ms);
    }

    pub(super) fn confirm_weight(&mut self, si: usize, ri: usize, weight: Option<u32>) {
        let s = &self.snapshot.ipvs.services[si];
        self.ask(Ok(command::weight::confirm(s, &s.reals[ri], weight)), 0);
    }

    pub(super) fn open_weight_input(&mut self, si: usize, ri: usize) {
        let s = &self.snapshot.ipvs.services[si];
        let r = &s.reals[ri];
        self.dialogs.push(Dialog::Input(Input {
            purpose: InputPurpose::Weight {
                service: si,
                real: ri,
            },
            title: "Set weight".into(),
            lines: command::real_lines(s, r),
            hint: "new weight 0-65535; empty clears the override".into(),
            text: r
                .weight_override
                .as_ref()
                .map(|o| o.value.to_string())
                .unwrap_or_default(),
            error: None,
        }));
    }

    pub(super) fn open_priority_input(&mut self, vi: usize) {
        let v = &self.snapshot.vrrp[vi];
        self.dialogs.push(Dialog::Input(Input {
            purpose: InputPurpose::Priority { instance: vi },
            title: "Override priority".into(),
            lines: command::priority::input_lines(v),
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
        self.ask(Ok(command::priority::confirm(v, priority)), 0);
    }

    pub(super) fn confirm_handover(&mut self, vi: usize, now_ms: u64) {
        self.ask(command::handover::confirm(&self.snapshot.vrrp[vi]), now_ms);
    }

    /// `[bgp]`: withdraw (or announce again) every address of the director shown.
    pub(super) fn confirm_drain_director(&mut self, now_ms: u64) {
        self.ask(command::director::confirm(&self.snapshot), now_ms);
    }

    pub(super) fn confirm_reload(&mut self) {
        let path = self.snapshot.host.config_path.clone();
        self.ask(Ok(command::reload::confirm(&path)), 0);
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
                        InputPurpose::Weight { service, real } => {
                            match command::weight::parse(&text) {
                                Ok(w) => {
                                    self.dialogs.pop();
                                    self.confirm_weight(service, real, w);
                                }
                                Err(e) => input.error = Some(e),
                            }
                        }
                        InputPurpose::Priority { instance } => {
                            match command::priority::parse(&text) {
                                Ok(p) => {
                                    self.dialogs.pop();
                                    self.confirm_priority(instance, p);
                                }
                                Err(e) => input.error = Some(e),
                            }
                        }
                    }
                }
                _ => {}
            },
        }
        Vec::new()
    }
}
