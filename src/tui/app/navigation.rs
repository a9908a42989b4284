//! Moving through the panes: selection, focus, filters and the remembered positions.

use super::*;

impl App {
    pub(super) fn move_by(&mut self, delta: isize) {
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

    pub(super) fn cycle(&mut self, dir: isize) {
        let n = Pane::ORDER.len() as isize;
        let at = self.focus.index() as isize;
        self.focus = Pane::ORDER[((at + dir).rem_euclid(n)) as usize];
    }

    pub(super) fn on_service_changed(&mut self) {
        let key = self.selected_service().map(|s| s.key.clone());
        if key != self.svc_key {
            self.sel[Pane::Reals.index()] = 0;
            self.offsets[Pane::Reals.index()].set(0);
            self.real_key = None;
            self.svc_key = key;
            self.refilter(Pane::Reals);
        }
    }

    pub(super) fn set_filter(&mut self, pane: Pane, text: String) {
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

    pub(super) fn refilter(&mut self, pane: Pane) {
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
                    m(&v.name)
                        || m(v.state.as_str())
                        || m(&v.interface)
                        || v.vips.iter().any(|x| m(x))
                })
                .collect(),
            Pane::Services => (0..s.ipvs.services.len())
                .filter(|&i| {
                    let v = &s.ipvs.services[i];
                    m(&v.key) || m(&v.scheduler) || m(v.method.as_str())
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
                            m(&buf)
                                || m(r.health.as_str())
                                || (r.drain.is_some() && m("drained draining"))
                        })
                        .collect()
                }
                None => Vec::new(),
            },
            Pane::Events => (0..s.events.len())
                .filter(|&i| {
                    let e = &s.events[i];
                    m(e.kind.as_str()) || m(&e.subject) || m(&e.message)
                })
                .collect(),
        };
        self.views[pane.index()] = Some(view);
    }

    pub(super) fn clamp(&mut self, pane: Pane) {
        let len = self.visible_len(pane);
        let i = pane.index();
        self.sel[i] = self.sel[i].min(len.saturating_sub(1));
    }

    pub(super) fn remember(&mut self) {
        self.vrrp_key = self.selected_vrrp().map(|v| v.name.clone());
        self.svc_key = self.selected_service().map(|s| s.key.clone());
        self.real_key = self
            .selected_real()
            .map(|(_, r)| (r.address.clone(), r.port));
    }
}

/// Case-insensitive substring test; `needle` is already lower case.
pub(super) fn contains_ci(hay: &str, needle: &str) -> bool {
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
