//! The console's state and its update function: pure. Keys and snapshots go in with the time;
//! [`Effect`]s come out for the loop to carry out. Nothing here touches a terminal, a socket or a
//! clock.

use std::cell::Cell;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::config::model::Console;
use crate::control::protocol::{Command, RealTarget};
use crate::engine::snapshot::{RealView, ServiceView, Snapshot, VrrpView};
use crate::tui::fmt;
use crate::tui::keymap::{Action, Keymap, KeymapError};

/// How the console is set up; fixed for its run.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsoleConfig {
    pub keymap: Keymap,
    /// Refuse every action (`--read-only`); [`App::set_read_only`] can also turn it on later
    /// (a non-admin user, as the daemon's hello says).
    pub read_only: bool,
    /// What `+` / `-` add to or take from a weight.
    pub weight_step: u32,
    /// How often snapshots are expected; a value older than two of these shows its age.
    pub refresh_ms: u64,
    /// How many directors the console can switch between (the lab has two); above one, the
    /// switch key works and produces [`Effect::SwitchDirector`].
    pub directors: usize,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        ConsoleConfig {
            keymap: Keymap::default(),
            read_only: false,
            weight_step: 1,
            refresh_ms: 1000,
            directors: 1,
        }
    }
}

impl ConsoleConfig {
    /// From the config file's `[console]` table (key rebindings; clashes refused).
    pub fn from_console(console: &Console) -> Result<ConsoleConfig, KeymapError> {
        Ok(ConsoleConfig {
            keymap: Keymap::with_overrides(&console.keys)?,
            ..ConsoleConfig::default()
        })
    }
}

/// The link to the engines, as the transport sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionState {
    /// Not connected yet (no snapshot so far).
    Connecting { since_ms: u64 },
    /// Attached to a daemon's control socket.
    Connected { since_ms: u64 },
    /// The daemon went away; what is shown is frozen at the last snapshot.
    Lost { since_ms: u64, reason: String },
    /// The engines run inside this console process.
    Embedded,
}

/// What the loop must do after a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Send this command to the engines; answer with [`App::command_result`].
    Send(Command),
    /// Leave (restore the terminal; in embedded mode, stop the engines gracefully).
    Quit,
    /// Show the next director (lab).
    SwitchDirector,
}

/// The panes that take the focus, in Tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pane {
    Vrrp,
    Services,
    Reals,
    Events,
}

impl Pane {
    pub const ORDER: [Pane; 4] = [Pane::Vrrp, Pane::Services, Pane::Reals, Pane::Events];

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn title(self) -> &'static str {
        match self {
            Pane::Vrrp => "VRRP",
            Pane::Services => "Virtual services",
            Pane::Reals => "Real servers",
            Pane::Events => "Events",
        }
    }
}

/// A modal window over the panes; the top of the stack takes the keys.
#[derive(Debug, Clone, PartialEq)]
pub enum Dialog {
    Confirm(Confirm),
    Input(Input),
    Help {
        scroll: usize,
    },
    /// The doctor's last report (from the Snapshot).
    Doctor {
        scroll: usize,
    },
}

/// "Are you sure?" naming the exact target. Opens on Cancel.
#[derive(Debug, Clone, PartialEq)]
pub struct Confirm {
    pub title: String,
    /// Label / value lines: the target and the old → new value.
    pub lines: Vec<(String, String)>,
    pub note: Option<String>,
    pub then: Confirmed,
    /// Whether the Confirm button (not Cancel) is selected.
    pub on_confirm: bool,
}

/// What a confirmed dialog does.
#[derive(Debug, Clone, PartialEq)]
pub enum Confirmed {
    Send(Command),
    Quit,
}

/// A one-line input (weight, priority); Enter leads to a [`Confirm`].
#[derive(Debug, Clone, PartialEq)]
pub struct Input {
    pub purpose: InputPurpose,
    pub title: String,
    pub lines: Vec<(String, String)>,
    pub hint: String,
    pub text: String,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum InputPurpose {
    Weight { service: usize, real: usize },
    Priority { instance: usize },
}

/// The bottom-line prompt: a filter (`/`) or the command line (`:`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    pub kind: PromptKind,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptKind {
    Filter(Pane),
    Command,
}

/// The status line: what happened to the last thing asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub kind: StatusKind,
    pub text: String,
    pub at_ms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusKind {
    Info,
    /// Sent, no answer yet.
    Pending,
    Done,
    /// Refused here (read-only, not applicable, bad input) or by the engines.
    Refused,
}

/// Real servers of one service by state, counted when a snapshot arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RealCounts {
    pub total: usize,
    pub up: usize,
    pub down: usize,
    pub unknown: usize,
    pub draining: usize,
    pub drained: usize,
}

/// The console's whole state.
#[derive(Debug)]
pub struct App {
    pub(crate) config: ConsoleConfig,
    pub(crate) snapshot: Snapshot,
    pub(crate) has_snapshot: bool,
    pub(crate) connection: ConnectionState,
    pub(crate) read_only: bool,
    pub(crate) focus: Pane,
    /// Selected position in each pane's visible (filtered) rows; for Events, how many rows
    /// the view is scrolled back from the newest.
    pub(crate) sel: [usize; 4],
    /// Filter text per pane.
    pub(crate) filters: [String; 4],
    /// Indices into the snapshot of the rows a filter lets through (None: all rows).
    views: [Option<Vec<usize>>; 4],
    /// The selected rows' identities, to keep the selection across snapshots.
    vrrp_key: Option<String>,
    svc_key: Option<String>,
    real_key: Option<(String, u16)>,
    pub(crate) dialogs: Vec<Dialog>,
    pub(crate) prompt: Option<Prompt>,
    pub(crate) status: Option<Status>,
    pub(crate) counts: Vec<RealCounts>,
    /// The lab's line (which director is shown, the client's counts), under the header.
    pub(crate) lab_line: Option<String>,
    /// First visible row per pane, kept by the renderer so the selection stays in view.
    offsets: [Cell<usize>; 4],
    /// Rows per page per pane, as last drawn.
    pages: [Cell<usize>; 4],
}

impl App {
    pub fn new(config: ConsoleConfig) -> App {
        App {
            read_only: config.read_only,
            config,
            snapshot: Snapshot::default(),
            has_snapshot: false,
            connection: ConnectionState::Connecting { since_ms: 0 },
            focus: Pane::Services,
            sel: [0; 4],
            filters: Default::default(),
            views: Default::default(),
            vrrp_key: None,
            svc_key: None,
            real_key: None,
            dialogs: Vec::new(),
            prompt: None,
            status: None,
            counts: Vec::new(),
            lab_line: None,
            offsets: Default::default(),
            pages: std::array::from_fn(|_| Cell::new(10)),
        }
    }

    // -----------------------------------------------------------------------------------------
    // Inputs from the loop.

    /// A new snapshot. Selections follow their rows (by name / address) across it.
    pub fn set_snapshot(&mut self, snapshot: Snapshot, now_ms: u64) {
        let _ = now_ms;
        self.snapshot = snapshot;
        self.has_snapshot = true;
        self.counts = self.snapshot.ipvs.services.iter().map(count).collect();
        self.refilter(Pane::Vrrp);
        self.refilter(Pane::Services);
        self.refilter(Pane::Events);
        // Find the remembered rows again.
        if let Some(name) = self.vrrp_key.clone()
            && let Some(p) = (0..self.visible_len(Pane::Vrrp))
                .find(|&p| self.snapshot.vrrp[self.row(Pane::Vrrp, p)].name == name)
        {
            self.sel[Pane::Vrrp.index()] = p;
        }
        if let Some(key) = self.svc_key.clone()
            && let Some(p) = (0..self.visible_len(Pane::Services))
                .find(|&p| self.snapshot.ipvs.services[self.row(Pane::Services, p)].key == key)
        {
            self.sel[Pane::Services.index()] = p;
        }
        self.clamp(Pane::Vrrp);
        self.clamp(Pane::Services);
        if self.selected_service().map(|s| &s.key) != self.svc_key.as_ref() {
            self.sel[Pane::Reals.index()] = 0;
            self.real_key = None;
        }
        self.refilter(Pane::Reals);
        if let Some((addr, port)) = self.real_key.clone()
            && let Some(si) = self.selected_service_index()
        {
            let reals = &self.snapshot.ipvs.services[si].reals;
            if let Some(p) = (0..self.visible_len(Pane::Reals)).find(|&p| {
                let r = &reals[self.row(Pane::Reals, p)];
                r.address == addr && r.port == port
            }) {
                self.sel[Pane::Reals.index()] = p;
            }
        }
        self.clamp(Pane::Reals);
        self.clamp(Pane::Events);
        self.remember();
    }

    /// Show (or with `None` hide) the lab's line under the header.
    pub fn set_lab_line(&mut self, line: Option<String>) {
        self.lab_line = line;
    }

    pub fn set_connection(&mut self, state: ConnectionState) {
        self.connection = state;
    }

    /// Read-only from now on (or not): the daemon's hello says whether this user is an admin.
    pub fn set_read_only(&mut self, read_only: bool) {
        self.read_only = read_only || self.config.read_only;
    }

    /// The engines' answer to the last [`Effect::Send`]: `Ok(what changed)` or `Err(why not)`.
    pub fn command_result(&mut self, result: Result<String, String>, now_ms: u64) {
        self.status = Some(match result {
            Ok(text) => Status {
                kind: StatusKind::Done,
                text,
                at_ms: now_ms,
            },
            Err(text) => Status {
                kind: StatusKind::Refused,
                text: format!("refused: {text}"),
                at_ms: now_ms,
            },
        });
    }

    // -----------------------------------------------------------------------------------------
    // Read access for the views and the loop.

    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }
    pub fn has_snapshot(&self) -> bool {
        self.has_snapshot
    }
    pub fn connection(&self) -> &ConnectionState {
        &self.connection
    }
    pub fn config(&self) -> &ConsoleConfig {
        &self.config
    }
    pub fn read_only(&self) -> bool {
        self.read_only
    }
    pub fn focus(&self) -> Pane {
        self.focus
    }
    pub fn dialog(&self) -> Option<&Dialog> {
        self.dialogs.last()
    }
    pub fn prompt(&self) -> Option<&Prompt> {
        self.prompt.as_ref()
    }
    pub fn status(&self) -> Option<&Status> {
        self.status.as_ref()
    }
    pub fn filter(&self, pane: Pane) -> &str {
        &self.filters[pane.index()]
    }

    /// Whether values last refreshed at `at_ms` are older than two refresh intervals.
    pub fn is_stale(&self, at_ms: u64, now_ms: u64) -> bool {
        self.is_overdue(at_ms, 0, now_ms)
    }

    /// Whether values that the daemon refreshes every `every_ms` (IPVS dumps: 1 s, more on a
    /// table whose dump is slow) are stale: older than that plus two refresh intervals.
    pub fn is_overdue(&self, at_ms: u64, every_ms: u64, now_ms: u64) -> bool {
        at_ms == 0 || now_ms.saturating_sub(at_ms) > 2 * self.config.refresh_ms + every_ms
    }

    /// How many rows a pane shows (after its filter).
    pub fn visible_len(&self, pane: Pane) -> usize {
        match &self.views[pane.index()] {
            Some(v) => v.len(),
            None => self.total_len(pane),
        }
    }

    /// How many rows a pane has before filtering.
    pub fn total_len(&self, pane: Pane) -> usize {
        match pane {
            Pane::Vrrp => self.snapshot.vrrp.len(),
            Pane::Services => self.snapshot.ipvs.services.len(),
            Pane::Reals => self
                .selected_service_index()
                .map_or(0, |i| self.snapshot.ipvs.services[i].reals.len()),
            Pane::Events => self.snapshot.events.len(),
        }
    }

    /// The snapshot index of the `pos`-th visible row of a pane.
    pub fn row(&self, pane: Pane, pos: usize) -> usize {
        match &self.views[pane.index()] {
            Some(v) => v[pos],
            None => pos,
        }
    }

    /// The selected position among the visible rows.
    pub fn selected(&self, pane: Pane) -> usize {
        self.sel[pane.index()]
    }

    pub fn selected_vrrp(&self) -> Option<&VrrpView> {
        (self.visible_len(Pane::Vrrp) > 0)
            .then(|| &self.snapshot.vrrp[self.row(Pane::Vrrp, self.sel[Pane::Vrrp.index()])])
    }

    pub fn selected_service_index(&self) -> Option<usize> {
        (self.visible_len(Pane::Services) > 0)
            .then(|| self.row(Pane::Services, self.sel[Pane::Services.index()]))
    }

    pub fn selected_service(&self) -> Option<&ServiceView> {
        self.selected_service_index()
            .map(|i| &self.snapshot.ipvs.services[i])
    }

    pub fn selected_real_index(&self) -> Option<usize> {
        (self.visible_len(Pane::Reals) > 0)
            .then(|| self.row(Pane::Reals, self.sel[Pane::Reals.index()]))
    }

    pub fn selected_real(&self) -> Option<(&ServiceView, &RealView)> {
        let s = self.selected_service()?;
        Some((s, &s.reals[self.selected_real_index()?]))
    }

    /// The visible positions `start..end` of a list pane `height` rows tall that keep the
    /// selection in view, remembering the scroll for the next frame. For Events, the window
    /// ends `scroll` rows before the newest.
    pub fn window(&self, pane: Pane, height: usize) -> (usize, usize) {
        let len = self.visible_len(pane);
        let i = pane.index();
        self.pages[i].set(height.max(1));
        if pane == Pane::Events {
            let end = len.saturating_sub(self.sel[i]);
            return (end.saturating_sub(height), end);
        }
        if height == 0 || len == 0 {
            return (0, 0);
        }
        let sel = self.sel[i].min(len - 1);
        let mut off = self.offsets[i].get();
        if sel < off {
            off = sel;
        } else if sel >= off + height {
            off = sel + 1 - height;
        }
        off = off.min(len.saturating_sub(height));
        self.offsets[i].set(off);
        (off, (off + height).min(len))
    }

    /// Whether an action does something where the focus is now (the key bar greys the rest).
    pub fn action_enabled(&self, action: Action) -> bool {
        if action.dangerous() && self.read_only {
            return false;
        }
        match action {
            Action::Drain => self.focused_real().is_some_and(|(_, r)| r.drain.is_none()),
            Action::Undrain => self.focused_real().is_some_and(|(_, r)| r.drain.is_some()),
            Action::WeightUp | Action::WeightDown | Action::SetWeight => {
                self.focused_real().is_some()
            }
            Action::Priority => self.focus == Pane::Vrrp && self.selected_vrrp().is_some(),
            Action::Handover => {
                self.focus == Pane::Vrrp
                    && self.selected_vrrp().is_some_and(|v| v.state == "MASTER")
            }
            Action::Select => self.focus == Pane::Services && self.selected_service().is_some(),
            Action::SwitchDirector => self.config.directors > 1,
            _ => true,
        }
    }

    /// The actions the key bar lists for the focused pane.
    pub fn hints(&self) -> &'static [Action] {
        use Action::*;
        match self.focus {
            Pane::Vrrp => &[Up, Priority, Handover, Filter, NextPane, Command, Quit],
            Pane::Services => &[Up, Select, Filter, NextPane, Command, Quit],
            Pane::Reals => &[
                Up, Drain, Undrain, WeightUp, SetWeight, Filter, Back, NextPane, Command, Quit,
            ],
            Pane::Events => &[Up, Bottom, Filter, NextPane, Command, Quit],
        }
    }

    // -----------------------------------------------------------------------------------------
    // Keys.

    /// One key press. Returns what the loop must do (usually nothing: just redraw).
    pub fn handle_key(&mut self, key: KeyEvent, now_ms: u64) -> Vec<Effect> {
        if key.kind == KeyEventKind::Release {
            return Vec::new();
        }
        if key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL) {
            return vec![Effect::Quit];
        }
        if self.prompt.is_some() {
            return self.prompt_key(key, now_ms);
        }
        if !self.dialogs.is_empty() {
            return self.dialog_key(key, now_ms);
        }
        match self.config.keymap.action(&key) {
            Some(action) => self.act(action, now_ms),
            None => Vec::new(),
        }
    }

    fn act(&mut self, action: Action, now_ms: u64) -> Vec<Effect> {
        if action.dangerous() && self.read_only {
            self.refuse(
                format!(
                    "read-only: {} refused (--read-only, or not in the daemon's admin group)",
                    action.label()
                ),
                now_ms,
            );
            return Vec::new();
        }
        if action.dangerous()
            && let Some(refusal) = self.stale_refusal(action.label(), now_ms)
        {
            self.refuse(refusal, now_ms);
            return Vec::new();
        }
        let page = self.pages[self.focus.index()].get().max(1);
        match action {
            Action::Up => self.move_by(-1),
            Action::Down => self.move_by(1),
            Action::PageUp => self.move_by(-(page as isize)),
            Action::PageDown => self.move_by(page as isize),
            Action::Top => self.move_by(isize::MIN / 2),
            Action::Bottom => self.move_by(isize::MAX / 2),
            Action::NextPane => self.cycle(1),
            Action::PrevPane => self.cycle(-1),
            Action::Select => {
                if self.focus == Pane::Services && self.selected_service().is_some() {
                    self.focus = Pane::Reals;
                }
            }
            Action::Back => {
                if !self.filters[self.focus.index()].is_empty() {
                    self.set_filter(self.focus, String::new());
                } else if self.focus == Pane::Reals {
                    self.focus = Pane::Services;
                } else {
                    self.status = None;
                }
            }
            Action::Filter => {
                self.prompt = Some(Prompt {
                    kind: PromptKind::Filter(self.focus),
                    text: self.filters[self.focus.index()].clone(),
                });
            }
            Action::Help => self.dialogs.push(Dialog::Help { scroll: 0 }),
            Action::Doctor => self.dialogs.push(Dialog::Doctor { scroll: 0 }),
            Action::Quit => return self.quit(),
            Action::Command => {
                self.prompt = Some(Prompt {
                    kind: PromptKind::Command,
                    text: String::new(),
                })
            }
            Action::SwitchDirector => {
                if self.config.directors > 1 {
                    return vec![Effect::SwitchDirector];
                }
                self.info(
                    "only one director to show (switching is for the lab)",
                    now_ms,
                );
            }
            Action::Drain
            | Action::Undrain
            | Action::WeightUp
            | Action::WeightDown
            | Action::SetWeight => {
                let Some((si, ri)) = self.focused_real_indices() else {
                    self.refuse(
                        format!(
                            "{}: select a real server first (Enter on a service shows its real \
                             servers)",
                            action.label()
                        ),
                        now_ms,
                    );
                    return Vec::new();
                };
                self.real_action(action, si, ri, now_ms);
            }
            Action::Priority | Action::Handover => {
                if self.focus != Pane::Vrrp || self.selected_vrrp().is_none() {
                    self.refuse(
                        format!(
                            "{}: select a VRRP instance first (Tab to the VRRP pane)",
                            action.label()
                        ),
                        now_ms,
                    );
                    return Vec::new();
                }
                let vi = self.row(Pane::Vrrp, self.sel[Pane::Vrrp.index()]);
                if action == Action::Priority {
                    self.open_priority_input(vi);
                } else {
                    self.confirm_handover(vi, now_ms);
                }
            }
        }
        Vec::new()
    }

    fn quit(&mut self) -> Vec<Effect> {
        if self.connection == ConnectionState::Embedded {
            self.dialogs.push(Dialog::Confirm(Confirm {
                title: "Quit and stop the engines?".into(),
                lines: vec![
                    (
                        "mode".into(),
                        "embedded: VRRP and IPVS run inside this console".into(),
                    ),
                    (
                        "on quit".into(),
                        "they stop gracefully (MASTER instances hand over)".into(),
                    ),
                ],
                note: Some("Run `lvsdeck --daemon` to keep them running without a console.".into()),
                then: Confirmed::Quit,
                on_confirm: false,
            }));
            Vec::new()
        } else {
            vec![Effect::Quit]
        }
    }

    fn focused_real(&self) -> Option<(&ServiceView, &RealView)> {
        if self.focus == Pane::Reals {
            self.selected_real()
        } else {
            None
        }
    }

    fn focused_real_indices(&self) -> Option<(usize, usize)> {
        if self.focus != Pane::Reals {
            return None;
        }
        Some((self.selected_service_index()?, self.selected_real_index()?))
    }

    fn real_action(&mut self, action: Action, si: usize, ri: usize, now_ms: u64) {
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

    fn target(&self, si: usize, ri: usize) -> RealTarget {
        let s = &self.snapshot.ipvs.services[si];
        let r = &s.reals[ri];
        RealTarget {
            service: s.key.clone(),
            real: fmt::endpoint(&r.address, r.port),
        }
    }

    fn real_lines(&self, si: usize, ri: usize) -> Vec<(String, String)> {
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

    fn confirm_drain(&mut self, si: usize, ri: usize, now_ms: u64) {
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

    fn confirm_undrain(&mut self, si: usize, ri: usize, now_ms: u64) {
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

    fn confirm_weight(&mut self, si: usize, ri: usize, weight: Option<u32>) {
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

    fn open_weight_input(&mut self, si: usize, ri: usize) {
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

    fn vrrp_lines(&self, vi: usize) -> Vec<(String, String)> {
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

    fn open_priority_input(&mut self, vi: usize) {
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

    fn confirm_priority(&mut self, vi: usize, priority: Option<u8>) {
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

    fn confirm_handover(&mut self, vi: usize, now_ms: u64) {
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

    // -----------------------------------------------------------------------------------------
    // Dialogs and prompts.

    fn dialog_key(&mut self, key: KeyEvent, now_ms: u64) -> Vec<Effect> {
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

    fn prompt_key(&mut self, key: KeyEvent, now_ms: u64) -> Vec<Effect> {
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
    fn run_doctor(&mut self, now_ms: u64) -> Vec<Effect> {
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
    fn run_command(&mut self, line: &str, now_ms: u64) -> Vec<Effect> {
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some((&verb, args)) = words.split_first() else {
            return Vec::new();
        };
        if verb == "doctor" {
            self.dialogs.push(Dialog::Doctor { scroll: 0 });
            return self.run_doctor(now_ms);
        }
        let usage = "commands: drain ADDR:PORT, undrain ADDR:PORT, weight ADDR:PORT N|clear, \
                     priority INSTANCE N|clear, handover INSTANCE, reload, doctor, help, q";
        let dangerous = matches!(
            verb,
            "drain" | "undrain" | "weight" | "priority" | "prio" | "handover" | "reload"
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
                [addr, w, service @ ..] => parse_weight(if *w == "clear" { "" } else { w })
                    .and_then(|w| {
                        let (si, ri) = self.find_real(addr, service)?;
                        self.confirm_weight(si, ri, w);
                        Ok(())
                    }),
                _ => Err(":weight ADDR:PORT N|clear [SERVICE]".into()),
            },
            "priority" | "prio" => match args {
                [name, p] => parse_priority(if *p == "clear" { "" } else { p }).and_then(|p| {
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
            "reload" => {
                self.dialogs.push(Dialog::Confirm(Confirm {
                    title: "Reload the configuration?".into(),
                    lines: vec![("config".into(), self.snapshot.host.config_path.clone())],
                    note: Some("Only the differences are applied.".into()),
                    then: Confirmed::Send(Command::Reload),
                    on_confirm: false,
                }));
                Ok(())
            }
            _ => Err(format!("unknown command \"{verb}\"; {usage}")),
        };
        if let Err(e) = result {
            self.refuse(format!(":{line}: {e}"), now_ms);
        }
        Vec::new()
    }

    fn find_real(&self, addr: &str, service: &[&str]) -> Result<(usize, usize), String> {
        let service = service.join(" ");
        let norm = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        let mut found = Vec::new();
        for (si, s) in self.snapshot.ipvs.services.iter().enumerate() {
            if !service.is_empty() && norm(&s.key) != norm(&service) && s.address != service {
                continue;
            }
            for (ri, r) in s.reals.iter().enumerate() {
                if fmt::endpoint(&r.address, r.port) == addr || r.address == addr {
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

    fn find_instance(&self, name: &str) -> Result<usize, String> {
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

    fn move_by(&mut self, delta: isize) {
        let pane = self.focus;
        let len = self.visible_len(pane);
        let i = pane.index();
        if pane == Pane::Events {
            // Up scrolls back in time (away from the newest).
            let max = len.saturating_sub(self.pages[i].get());
            let back = (self.sel[i] as isize).saturating_sub(delta);
            self.sel[i] = back.clamp(0, max as isize) as usize;
            return;
        }
        if len == 0 {
            self.sel[i] = 0;
            return;
        }
        let next = (self.sel[i] as isize).saturating_add(delta);
        self.sel[i] = next.clamp(0, len as isize - 1) as usize;
        if pane == Pane::Services {
            self.on_service_changed();
        }
        self.remember();
    }

    fn cycle(&mut self, dir: isize) {
        let n = Pane::ORDER.len() as isize;
        let at = self.focus.index() as isize;
        self.focus = Pane::ORDER[((at + dir).rem_euclid(n)) as usize];
    }

    fn on_service_changed(&mut self) {
        let key = self.selected_service().map(|s| s.key.clone());
        if key != self.svc_key {
            self.sel[Pane::Reals.index()] = 0;
            self.offsets[Pane::Reals.index()].set(0);
            self.real_key = None;
            self.svc_key = key;
            self.refilter(Pane::Reals);
        }
    }

    fn set_filter(&mut self, pane: Pane, text: String) {
        if self.filters[pane.index()] == text {
            return;
        }
        self.filters[pane.index()] = text;
        self.refilter(pane);
        self.sel[pane.index()] = 0;
        self.offsets[pane.index()].set(0);
        if pane == Pane::Services {
            self.on_service_changed();
        }
        self.remember();
    }

    fn refilter(&mut self, pane: Pane) {
        let needle = self.filters[pane.index()].to_lowercase();
        if needle.is_empty() {
            self.views[pane.index()] = None;
            return;
        }
        let s = &self.snapshot;
        let m = |h: &str| contains_ci(h, &needle);
        let view: Vec<usize> = match pane {
            Pane::Vrrp => (0..s.vrrp.len())
                .filter(|&i| {
                    let v = &s.vrrp[i];
                    m(&v.name) || m(&v.state) || m(&v.interface) || v.vips.iter().any(|x| m(x))
                })
                .collect(),
            Pane::Services => (0..s.ipvs.services.len())
                .filter(|&i| {
                    let v = &s.ipvs.services[i];
                    m(&v.key) || m(&v.scheduler) || m(&v.method)
                })
                .collect(),
            Pane::Reals => match self.selected_service_index() {
                Some(si) => {
                    let reals = &s.ipvs.services[si].reals;
                    let mut buf = String::new();
                    (0..reals.len())
                        .filter(|&i| {
                            let r = &reals[i];
                            buf.clear();
                            fmt::push_endpoint(&mut buf, &r.address, r.port);
                            m(&buf) || m(&r.health) || (r.drain.is_some() && m("drained draining"))
                        })
                        .collect()
                }
                None => Vec::new(),
            },
            Pane::Events => (0..s.events.len())
                .filter(|&i| {
                    let e = &s.events[i];
                    m(&e.kind) || m(&e.subject) || m(&e.message)
                })
                .collect(),
        };
        self.views[pane.index()] = Some(view);
    }

    fn clamp(&mut self, pane: Pane) {
        let len = self.visible_len(pane);
        let i = pane.index();
        self.sel[i] = self.sel[i].min(len.saturating_sub(1));
    }

    fn remember(&mut self) {
        self.vrrp_key = self.selected_vrrp().map(|v| v.name.clone());
        self.svc_key = self.selected_service().map(|s| s.key.clone());
        self.real_key = self
            .selected_real()
            .map(|(_, r)| (r.address.clone(), r.port));
    }

    /// An action chosen on a view that is not fresh could target the wrong state (undrain a
    /// server drained seconds ago, hand over an instance no longer master): refused, saying so.
    fn stale_refusal(&self, what: &str, now_ms: u64) -> Option<String> {
        if !self.has_snapshot {
            return None;
        }
        let at = self.snapshot.taken_at_ms;
        self.is_stale(at, now_ms).then(|| {
            format!(
                "{what}: refused — this view is stale (refreshed {}); wait for a fresh one",
                fmt::ago(at, now_ms)
            )
        })
    }

    fn refuse(&mut self, text: String, now_ms: u64) {
        self.status = Some(Status {
            kind: StatusKind::Refused,
            text,
            at_ms: now_ms,
        });
    }

    fn info(&mut self, text: &str, now_ms: u64) {
        self.status = Some(Status {
            kind: StatusKind::Info,
            text: text.into(),
            at_ms: now_ms,
        });
    }
}

/// The weight `+` / `-` start from: the operator's override, else the kernel's weight, else
/// (not in the table) the configured one.
fn current_weight(r: &RealView) -> u32 {
    match &r.weight_override {
        Some(o) => o.value,
        None if r.in_table => r.weight,
        None => r.configured_weight,
    }
}

fn count(s: &ServiceView) -> RealCounts {
    let mut c = RealCounts {
        total: s.reals.len(),
        ..RealCounts::default()
    };
    for r in &s.reals {
        match r.health.as_str() {
            "up" => c.up += 1,
            "down" => c.down += 1,
            _ => c.unknown += 1,
        }
        if r.drain.is_some() {
            if r.active_conns > 0 {
                c.draining += 1;
            } else {
                c.drained += 1;
            }
        }
    }
    c
}

fn parse_weight(text: &str) -> Result<Option<u32>, String> {
    if text.is_empty() {
        return Ok(None);
    }
    match text.parse::<u32>() {
        Ok(w) if w <= 65_535 => Ok(Some(w)),
        _ => Err(format!(
            "\"{text}\" is not a weight: give 0-65535, or nothing to clear"
        )),
    }
}

fn parse_priority(text: &str) -> Result<Option<u8>, String> {
    if text.is_empty() {
        return Ok(None);
    }
    match text.parse::<u8>() {
        Ok(p) if (1..=254).contains(&p) => Ok(Some(p)),
        _ => Err(format!(
            "\"{text}\" is not a priority: give 1-254, or nothing to clear"
        )),
    }
}

/// Case-insensitive substring test; `needle` is already lower case.
fn contains_ci(hay: &str, needle: &str) -> bool {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    if n.is_empty() {
        return true;
    }
    if n.len() > h.len() {
        return false;
    }
    if !needle.is_ascii() {
        return hay.to_lowercase().contains(needle);
    }
    h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
}
