//! Inputs from outside the protocol: tracked objects, the operator's priority and hand-over,
//! a reload's new parameters, and sync groups' orders.

use super::*;

impl Instance {
    /// Set (add or update) a tracker: `weight` in -254..=254 (clamped); 0 means "Fault while
    /// down". `up` is its current status.
    pub fn set_tracker(&mut self, now: Instant, name: &str, weight: i32, up: bool) {
        let t = Tracker {
            weight: weight.clamp(-254, 254),
            up,
        };
        match self.trackers.get_mut(name) {
            Some(old) if *old == t => return,
            Some(old) => *old = t,
            None => {
                self.trackers.insert(name.to_owned(), t);
            }
        }
        self.after_priority_inputs(now);
    }

    /// A BFD session watching `peer` went down because `peer` fell silent (lvsdeck's
    /// `takeover`), after being Up for `up_for` with `recent_gaps` late packets in its last
    /// second. A backup whose master is `peer` acts as if its Master_Down timer fired, after
    /// `confirm` (the session's detection time: a live peer answers the Down our session sent
    /// within it, [`Instance::master_heard_again`]) and a skew of (256 - priority) x 200 us (a
    /// few milliseconds that let the highest-priority backup of several speak first, as
    /// Skew_Time does for adverts). A session Up for less than a Master_Down_Interval
    /// (flapping: RFC 5882 §3.2's dampening), or one that lost packets in its last second
    /// ([`LOSSY_GAPS`] or more: a lossy path), is more often loss than death: its Down is left
    /// to the advert timers, since acting on it would make this backup master beside a live
    /// one. Anything else (another master, no master heard, not Backup) ignores it. True when
    /// it acts.
    pub fn master_silent(
        &mut self,
        now: Instant,
        peer: IpAddr,
        (up_for, recent_gaps): (Duration, u32),
        confirm: Duration,
    ) -> bool {
        let ours = self.master_heard.is_some_and(|m| m.addr == peer);
        if self.state != State::Backup
            || !ours
            || self.master_down_at.is_none()
            || up_for < self.master_down_interval()
            || recent_gaps >= LOSSY_GAPS
        {
            return false;
        }
        let skew = Duration::from_micros(200) * (256 - u32::from(self.effective_priority()));
        let at = now + confirm + skew;
        if self.master_down_at.is_some_and(|t| t <= at) {
            return false;
        }
        if !matches!(self.down_cause, DownCause::MasterSilent(_)) {
            self.before_silence = self.master_down_at.map(|t| (t, self.down_cause));
        }
        self.master_down_at = Some(at);
        self.down_cause = DownCause::MasterSilent(peer);
        true
    }

    /// The peer a [`Instance::master_silent`] named spoke again before the takeover: it lives.
    /// The Master_Down timer is again the one the adverts set (a BFD packet is no advert: a
    /// backup that would have preempted, or whose master's adverts stopped, still does, on
    /// time). True when a takeover was pending.
    pub fn master_heard_again(&mut self, now: Instant, peer: IpAddr) -> bool {
        if self.state != State::Backup || self.down_cause != DownCause::MasterSilent(peer) {
            return false;
        }
        let (at, cause) = self
            .before_silence
            .take()
            .unwrap_or((now + self.master_down_interval(), DownCause::NoAdverts));
        self.master_down_at = Some(at.max(now));
        self.down_cause = cause;
        true
    }

    /// Forget a tracker.
    pub fn remove_tracker(&mut self, now: Instant, name: &str) {
        if self.trackers.remove(name).is_some() {
            self.after_priority_inputs(now);
        }
    }

    /// Operator: replace the configured priority for the election while set (1..=254);
    /// `None` clears the override. Trackers still apply on top.
    pub fn set_priority_override(
        &mut self,
        now: Instant,
        priority: Option<u8>,
    ) -> Result<(), OperatorError> {
        if let Some(p) = priority
            && !(1..=254).contains(&p)
        {
            return Err(OperatorError::InvalidPriority);
        }
        self.priority_override = priority;
        self.after_priority_inputs(now);
        Ok(())
    }

    /// Operator: graceful hand-over (make-before-break); see the module docs.
    pub fn handover(&mut self, now: Instant) -> Result<(), OperatorError> {
        if self.state != State::Master {
            return Err(OperatorError::NotMaster(self.state));
        }
        if self.handover.is_some() {
            return Err(OperatorError::AlreadyHandingOver);
        }
        let i = self.advert_interval();
        self.adver_at = None;
        self.send_advert(PRIORITY_STOP);
        let remaining = self.params.handover.adverts.max(1) - 1;
        self.handover = Some(Handover {
            remaining,
            guard_until: now + self.params.handover.guard,
            next_send: (remaining > 0).then(|| now + self.params.handover.spacing),
            deadline: now + i * 4 + i / 2,
            inhibit_after: true,
        });
        self.counters.handovers += 1;
        self.push_event(now, EventKind::HandoverStarted);
        Ok(())
    }

    /// A reload: new parameters for the running instance, applied without a transition
    /// (keepalived applies them in place too). Priority, advert interval, VIPs, preemption,
    /// authentication, GARP and hand-over settings change; a master advertises the new ones
    /// at once. The identity (VRID, version, address family) cannot change here: that is a
    /// new instance.
    pub fn reconfigure(
        &mut self,
        now: Instant,
        mut params: InstanceParams,
    ) -> Result<(), ParamError> {
        params.validate()?;
        if params.vrid != self.params.vrid
            || params.version != self.params.version
            || params.primary_addr.is_ipv6() != self.params.primary_addr.is_ipv6()
        {
            return Err(ParamError::Identity);
        }
        params.priority = params.priority.max(1);
        let seen_by_peers = params.vips != self.params.vips
            || params.priority != self.params.priority
            || params.wire_interval_cs() != self.adv_cs
            || params.auth != self.params.auth;
        self.params = params;
        self.adv_cs = self.params.wire_interval_cs();
        match self.state {
            State::Master => {
                self.master_adver_cs = self.adv_cs;
                if seen_by_peers && self.handover.is_none() {
                    self.adver_at = Some(now);
                }
            }
            // v2 has no learned interval: the master's is ours.
            State::Backup if self.params.version == Version::V2 => {
                self.master_adver_cs = self.adv_cs;
            }
            _ => {}
        }
        self.after_priority_inputs(now);
        Ok(())
    }

    /// Operator: end the post-hand-over inhibit, so this instance preempts again; during a
    /// hand-over, the hand-over completes (make-before-break) but leaves no inhibit.
    pub fn clear_handover_inhibit(&mut self, _now: Instant) {
        self.handover_inhibit = false;
        if let Some(h) = self.handover.as_mut() {
            h.inhibit_after = false;
        }
    }

    // ----- sync group hooks -----

    /// While held, a Backup whose down timer fires stays Backup and [`Instance::wants_master`]
    /// becomes true (the sync group decides).
    pub fn set_sync_hold(&mut self, hold: bool) {
        self.sync_hold = hold;
    }

    /// Put in / take out of Fault on behalf of a sync group.
    pub fn set_sync_fault(&mut self, now: Instant, group: Option<&str>) {
        let new = group.map(str::to_owned);
        if new != self.sync_fault {
            self.sync_fault = new;
            self.after_priority_inputs(now);
        }
    }

    /// Move a Backup to Master on behalf of a sync group.
    pub fn force_master(&mut self, now: Instant, group: &str) {
        if self.state == State::Backup {
            self.become_master(
                now,
                Reason::SyncGroup {
                    group: group.to_owned(),
                },
            );
        }
    }

    /// Move a Master to Backup on behalf of a sync group.
    pub fn force_backup(&mut self, now: Instant, group: &str) {
        if self.state == State::Master {
            self.leave_master(false);
            self.enter_backup(now);
            self.transition(
                now,
                State::Backup,
                Reason::SyncGroup {
                    group: group.to_owned(),
                },
            );
        }
    }

    // ----- internals -----
}
