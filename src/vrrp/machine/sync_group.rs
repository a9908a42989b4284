//! Sync groups: instances that change state together, as keepalived's vrrp_sync_group.

use super::*;

/// The state of a [`SyncGroup`] as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupState {
    Backup,
    Master,
    Fault,
}

/// Keeps the member instances of one machine in the same state (keepalived's
/// `vrrp_sync_group`). Pure: the shell calls [`SyncGroup::update`] after every input it gave to
/// any member (before draining the members' actions), passing the members in a fixed order.
///
/// Rules (keepalived 2.x):
/// 1. If any member has its own fault (a weight-0 tracker down) or is stopped (Init), every
///    other member is put in Fault ([`Reason::SyncGroupFault`]); when no member has one, they
///    leave Fault together.
/// 2. When the group is Master and one member drops to Backup (it heard a higher priority),
///    every other Master member is moved to Backup.
/// 3. While the group is not Master, members are *held*: a member whose down timer fires
///    only records that it wants Master. When every member is Master or wants Master, they all
///    go to Master and the group is Master. A member that became Master alone (an address
///    owner at start-up) is moved back to Backup until the others want Master too.
///
/// keepalived ignores non-zero tracker weights on sync group members (they would make members
/// disagree on who should win); the same advice applies here.
#[derive(Debug, Clone)]
pub struct SyncGroup {
    name: String,
    state: GroupState,
}

impl SyncGroup {
    pub fn new(name: impl Into<String>) -> Self {
        SyncGroup {
            name: name.into(),
            state: GroupState::Backup,
        }
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn state(&self) -> GroupState {
        self.state
    }

    /// Apply the rules to the members until they agree.
    pub fn update(&mut self, now: Instant, members: &mut [&mut Instance]) {
        // Rule 1.
        let fault = members
            .iter()
            .any(|m| m.own_fault() || m.state() == State::Init);
        for m in members.iter_mut() {
            let others_fault = fault && !m.own_fault() && m.state() != State::Init;
            m.set_sync_fault(now, others_fault.then_some(self.name.as_str()));
        }
        if fault {
            self.state = GroupState::Fault;
            for m in members.iter_mut() {
                m.set_sync_hold(true);
            }
            return;
        }
        if self.state == GroupState::Fault {
            self.state = GroupState::Backup;
        }
        // Rule 2.
        if self.state == GroupState::Master {
            if members.iter().any(|m| m.state() != State::Master) {
                for m in members.iter_mut() {
                    m.force_backup(now, &self.name);
                }
                self.state = GroupState::Backup;
            }
        } else {
            // Rule 3.
            let all_want = members
                .iter()
                .all(|m| m.state() == State::Master || m.wants_master());
            if all_want {
                for m in members.iter_mut() {
                    m.force_master(now, &self.name);
                }
                self.state = GroupState::Master;
            } else {
                for m in members.iter_mut() {
                    m.force_backup(now, &self.name);
                }
            }
        }
        let hold = self.state != GroupState::Master;
        for m in members.iter_mut() {
            m.set_sync_hold(hold);
        }
    }
}
