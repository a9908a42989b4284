//! An advert received, in Backup and in Master (RFC 9568 section 6.4.2 and 6.4.3).

use super::*;

/// Adverts a master sends at once when it hears another master of lower priority.
pub(super) const LOWER_MASTER_ANSWERS: usize = 3;

impl Instance {
    pub(super) fn backup_rx(&mut self, now: Instant, src: IpAddr, advert: &Advert) {
        if advert.priority == PRIORITY_STOP {
            self.master_down_at = Some(now + self.skew_time());
            self.down_cause = DownCause::PriorityZero;
            return;
        }
        let ours = self.effective_priority();
        let accept = if advert.priority >= ours {
            self.preempt_since = None;
            true
        } else if !self.preempts() {
            true
        } else if !self.params.preempt_delay.is_zero() {
            let since = *self.preempt_since.get_or_insert(now);
            now < since + self.params.preempt_delay
        } else {
            false
        };
        self.heard(now, src, advert);
        if accept {
            self.learn_interval(advert);
            self.master_down_at = Some(now + self.master_down_interval());
            self.down_cause = DownCause::NoAdverts;
            self.want_master = false;
        } else {
            self.counters.lower_priority_discarded += 1;
            self.down_cause = DownCause::Preempt;
        }
    }

    pub(super) fn master_rx(&mut self, now: Instant, src: IpAddr, advert: &Advert) {
        if let Some(h) = self.handover {
            if advert.priority != PRIORITY_STOP && now >= h.guard_until {
                // Make-before-break: the new master holds the VIPs; release ours (after the
                // grace period, if one is set).
                self.leave_master(false);
                let keep = self.params.handover.keep_vips;
                if !keep.is_zero() {
                    self.actions.pop_back(); // leave_master's RemoveVips
                    self.actions.push_back(Action::KeepVipsFor(keep));
                }
                self.learn_interval(advert);
                self.enter_backup(now);
                self.handover_inhibit = h.inhibit_after;
                self.heard(now, src, advert);
                self.transition(
                    now,
                    State::Backup,
                    Reason::OperatorHandover { new_master: src },
                );
            }
            return;
        }
        if advert.priority == PRIORITY_STOP {
            self.send_advert(self.effective_priority());
            self.adver_at = Some(now + self.advert_interval());
            return;
        }
        let ours = self.effective_priority();
        let i = self.advert_interval();
        if advert.priority <= ours {
            let transient = self.became_master_at.is_some_and(|t| now < t + i);
            let repeated = self
                .last_split
                .is_some_and(|(a, t)| a == src && now < t + i * 4);
            if !transient && !repeated {
                self.counters.split_brain += 1;
                self.last_split = Some((src, now));
                self.push_event(
                    now,
                    EventKind::SplitBrain {
                        ours: self.params.primary_addr,
                        theirs: src,
                        our_priority: ours,
                        their_priority: advert.priority,
                    },
                );
            }
        }
        let higher =
            advert.priority > ours || (advert.priority == ours && src > self.params.primary_addr);
        if higher {
            self.leave_master(false);
            self.learn_interval(advert);
            self.enter_backup(now);
            self.heard(now, src, advert);
            self.transition(
                now,
                State::Backup,
                Reason::HigherPriorityHeard {
                    src,
                    priority: advert.priority,
                },
            );
        } else {
            // Three adverts, not one: the lower master may have taken over on a lossy path (a
            // BFD takeover at the onset of loss), where one answer is lost as often as not.
            for _ in 0..LOWER_MASTER_ANSWERS {
                self.send_advert(ours);
            }
            let g = &self.params.garp;
            if g.lower_prio_repeat > 0 && self.lower_garp_at.is_none() {
                self.actions.push_back(Action::SendGratuitous {
                    count: g.lower_prio_repeat,
                });
                if !g.lower_prio_delay.is_zero() {
                    self.lower_garp_at = Some(now + g.lower_prio_delay);
                }
            }
        }
    }

    /// Remember the master heard: who, at what priority and interval, and when.
    fn heard(&mut self, now: Instant, src: IpAddr, advert: &Advert) {
        self.master_heard = Some(MasterInfo {
            addr: src,
            priority: advert.priority,
            interval_cs: advert.interval_cs,
            at: now,
        });
    }
}
