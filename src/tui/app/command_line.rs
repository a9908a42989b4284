//! The `:` command line: its keys, the commands typed there and the values they take.

use super::*;

impl App {
    pub(super) fn prompt_key(&mut self, key: KeyEvent, now_ms: u64) -> Vec<Effect> {
        let Some(prompt) = self.prompt.as_mut() else {
            return Vec::new();
        };
        let kind = prompt.kind;
        match key.code {
            KeyCode::Esc => {
                self.prompt = None;
                if let PromptKind::Filter(pane) = kind {
                    self.set_filter(pane, String::new());
                }
            }
            KeyCode::Backspace => {
                prompt.text.pop();
                if let PromptKind::Filter(pane) = kind {
                    let text = prompt.text.clone();
                    self.set_filter(pane, text);
                }
            }
            KeyCode::Char(ch) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                if prompt.text.len() < 200 {
                    prompt.text.push(ch);
                }
                if let PromptKind::Filter(pane) = kind {
                    let text = prompt.text.clone();
                    self.set_filter(pane, text);
                }
            }
            KeyCode::Enter => {
                let text = prompt.text.clone();
                self.prompt = None;
                match kind {
                    PromptKind::Filter(pane) => self.set_filter(pane, text),
                    PromptKind::Command => return self.run_command(&text, now_ms),
                }
            }
            _ => {}
        }
        Vec::new()
    }

    /// Ask the engines to run the doctor now: probes, not a change, so no confirmation;
    /// refused read-only, as the daemon refuses watchers.
    pub(super) fn run_doctor(&mut self, now_ms: u64) -> Vec<Effect> {
        if self.read_only {
            self.refuse(
                "read-only: the doctor's probes are refused — this console is read-only".into(),
                now_ms,
            );
            return Vec::new();
        }
        self.status = Some(Status {
            kind: StatusKind::Pending,
            text: "sent: run the doctor's checks — its report follows in a few seconds".into(),
            at_ms: now_ms,
        });
        vec![Effect::Send(Command::Doctor)]
    }

    /// The `:` command line.
    pub(super) fn run_command(&mut self, line: &str, now_ms: u64) -> Vec<Effect> {
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some((&verb, args)) = words.split_first() else {
            return Vec::new();
        };
        if verb == "doctor" {
            self.dialogs.push(Dialog::Doctor { scroll: 0 });
            return self.run_doctor(now_ms);
        }
        let usage = "commands: drain ADDR:PORT, undrain ADDR:PORT, weight ADDR:PORT N|clear, \
                     priority INSTANCE N|clear, handover INSTANCE, drain-director, \
                     undrain-director, reload, doctor, help, q";
        let dangerous = matches!(
            verb,
            "drain"
                | "undrain"
                | "weight"
                | "priority"
                | "prio"
                | "handover"
                | "reload"
                | "drain-director"
                | "undrain-director"
        );
        if dangerous && self.read_only {
            self.refuse(
                format!("read-only: :{verb} refused — this console is read-only"),
                now_ms,
            );
            return Vec::new();
        }
        // A reload does not act on what the view shows.
        if dangerous
            && verb != "reload"
            && let Some(refusal) = self.stale_refusal(verb, now_ms)
        {
            self.refuse(refusal, now_ms);
            return Vec::new();
        }
        let result: Result<(), String> = match verb {
            "q" | "q!" | "quit" | "exit" => return self.quit(),
            "help" | "h" | "?" => {
                self.dialogs.push(Dialog::Help { scroll: 0 });
                Ok(())
            }
            "drain" | "undrain" => match args {
                [addr, service @ ..] => self.find_real(addr, service).map(|(si, ri)| {
                    if verb == "drain" {
                        self.confirm_drain(si, ri, now_ms)
                    } else {
                        self.confirm_undrain(si, ri, now_ms)
                    }
                }),
                _ => Err(format!(":{verb} ADDR:PORT [SERVICE]")),
            },
            "weight" => match args {
                [addr, w, service @ ..] => command::weight::parse(w).and_then(|w| {
                    let (si, ri) = self.find_real(addr, service)?;
                    self.confirm_weight(si, ri, w);
                    Ok(())
                }),
                _ => Err(":weight ADDR:PORT N|clear [SERVICE]".into()),
            },
            "priority" | "prio" => match args {
                [name, p] => command::priority::parse(p).and_then(|p| {
                    let vi = self.find_instance(name)?;
                    self.confirm_priority(vi, p);
                    Ok(())
                }),
                _ => Err(":priority INSTANCE N|clear".into()),
            },
            "handover" => match args {
                [name] => self
                    .find_instance(name)
                    .map(|vi| self.confirm_handover(vi, now_ms)),
                _ => Err(":handover INSTANCE".into()),
            },
            "drain-director" | "undrain-director" => {
                let drained = self.snapshot.bgp.as_ref().map(|b| b.drained.is_some());
                match (verb, drained) {
                    ("drain-director", Some(true)) => Err("the director is already drained".into()),
                    ("undrain-director", Some(false)) => Err("the director is not drained".into()),
                    _ => {
                        self.confirm_drain_director(now_ms);
                        Ok(())
                    }
                }
            }
            "reload" => {
                self.confirm_reload();
                Ok(())
            }
            _ => Err(format!("unknown command \"{verb}\"; {usage}")),
        };
        if let Err(e) = result {
            self.refuse(format!(":{line}: {e}"), now_ms);
        }
        Vec::new()
    }

    pub(super) fn find_real(&self, addr: &str, service: &[&str]) -> Result<(usize, usize), String> {
        let service = service.join(" ");
        let mut found = Vec::new();
        for (si, s) in self.snapshot.ipvs.services.iter().enumerate() {
            if !service.is_empty() && !command::names_service(&s.key, &service) {
                continue;
            }
            for (ri, r) in s.reals.iter().enumerate() {
                if command::names_real(&r.address, r.port, addr) {
                    found.push((si, ri));
                }
            }
        }
        match found.as_slice() {
            [one] => Ok(*one),
            [] if service.is_empty() => Err(format!("no real server {addr} in any service")),
            [] => Err(format!("no real server {addr} in service {service}")),
            many => Err(format!(
                "{addr} is in {} services; name one after it, e.g. {}",
                many.len(),
                self.snapshot.ipvs.services[many[0].0].address
            )),
        }
    }

    pub(super) fn find_instance(&self, name: &str) -> Result<usize, String> {
        self.snapshot
            .vrrp
            .iter()
            .position(|v| v.name == name)
            .ok_or_else(|| {
                format!(
                    "no VRRP instance \"{name}\"; instances: {}",
                    self.snapshot
                        .vrrp
                        .iter()
                        .map(|v| v.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
    }

    // -----------------------------------------------------------------------------------------
    // Selection and filters.
}
