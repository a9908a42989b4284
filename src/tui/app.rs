//! The console's state and its update function: pure. Keys and snapshots go in with the time;
//! [`Effect`]s come out for the loop to carry out. Nothing here touches a terminal, a socket or a
//! clock.

use std::cell::Cell;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::config::model::Console;
use crate::control::command::{self, Confirmation};
use crate::control::protocol::Command;
use crate::snapshot::{RealView, ServiceView, Snapshot, VrrpState, VrrpView};
use crate::tui::fmt;
use crate::tui::keymap::{Action, Keymap, KeymapError};

mod command_line;
mod confirm;
mod navigation;

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
    /// Every director followed, summed up (shown when there are several).
    pub(crate) cluster: Vec<crate::tui::cluster::ClusterRow>,
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
            cluster: Vec::new(),
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
    pub fn set_cluster(&mut self, rows: Vec<crate::tui::cluster::ClusterRow>) {
        self.cluster = rows;
    }

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
                    && self
                        .selected_vrrp()
                        .is_some_and(|v| v.state == VrrpState::Master)
            }
            Action::Select => self.focus == Pane::Services && self.selected_service().is_some(),
            Action::SwitchDirector => self.config.directors > 1,
            Action::DrainDirector => self.snapshot.bgp.is_some(),
            _ => true,
        }
    }

    /// The actions the key bar lists for the focused pane.
    pub fn hints(&self) -> &'static [Action] {
        use Action::*;
        match self.focus {
            // Only a director announcing over BGP can be drained whole.
            Pane::Vrrp if self.snapshot.bgp.is_some() => &[
                Up,
                Priority,
                Handover,
                DrainDirector,
                Filter,
                NextPane,
                Command,
                Quit,
            ],
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
            Action::DrainDirector => self.confirm_drain_director(now_ms),
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
