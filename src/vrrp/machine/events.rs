//! Why an instance changed state, and the events it reports.

use super::*;

/// Why a transition happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// Start-up of a non-owner, to Backup.
    Startup,
    /// Start-up (or fault recovery) of the address owner, straight to Master.
    AddressOwner,
    /// No advert within Master_Down_Interval.
    MasterDownTimer,
    /// The master released with a priority-0 advert and our Skew_Time passed.
    PriorityZeroHeard,
    /// We discarded a lower-priority master's adverts and our down timer fired.
    Preempt,
    /// A BFD session to the master went down by silence (`takeover`).
    MasterSilent { peer: IpAddr },
    /// As Master we heard a higher priority (or equal from a higher address).
    HigherPriorityHeard { src: IpAddr, priority: u8 },
    /// A weight-0 tracker went down.
    TrackerFault(String),
    /// Every weight-0 tracker is up again.
    TrackersRecovered,
    /// The sync group put us in Fault because a member is in Fault.
    SyncGroupFault { group: String },
    /// The sync group moved us with another member.
    SyncGroup { group: String },
    /// The operator's hand-over completed: a new master was heard.
    OperatorHandover { new_master: IpAddr },
    /// [`Instance::shutdown`].
    Shutdown,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Startup => f.write_str("start-up"),
            Reason::AddressOwner => f.write_str("address owner (priority 255)"),
            Reason::MasterDownTimer => f.write_str("no advert within master down interval"),
            Reason::PriorityZeroHeard => f.write_str("master released (priority 0 heard)"),
            Reason::Preempt => f.write_str("preempted a lower-priority master"),
            Reason::MasterSilent { peer } => write!(f, "master {peer} silent (BFD down)"),
            Reason::HigherPriorityHeard { src, priority } => {
                write!(f, "heard higher priority {priority} from {src}")
            }
            Reason::TrackerFault(name) => write!(f, "tracker {name} down"),
            Reason::TrackersRecovered => f.write_str("trackers recovered"),
            Reason::SyncGroupFault { group } => write!(f, "sync group {group} member in fault"),
            Reason::SyncGroup { group } => write!(f, "sync group {group} follows a member"),
            Reason::OperatorHandover { new_master } => {
                write!(f, "operator hand-over to {new_master}")
            }
            Reason::Shutdown => f.write_str("shutdown"),
        }
    }
}

/// Something that happened, for the event log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    Transition {
        from: State,
        to: State,
        reason: Reason,
    },
    PriorityChanged {
        from: u8,
        to: u8,
    },
    /// Another master advertises our priority or a lower one while we are Master.
    SplitBrain {
        ours: IpAddr,
        theirs: IpAddr,
        our_priority: u8,
        their_priority: u8,
    },
    HandoverStarted,
    /// No backup took over within the hand-over deadline: normal adverts resumed.
    HandoverNoTakeover,
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventKind::Transition { from, to, reason } => write!(f, "{from} -> {to}: {reason}"),
            EventKind::PriorityChanged { from, to } => write!(f, "priority {from} -> {to}"),
            EventKind::SplitBrain {
                ours,
                theirs,
                our_priority,
                their_priority,
            } => write!(
                f,
                "split brain: {theirs} (priority {their_priority}) advertises as master \
                 while we ({ours}, priority {our_priority}) are master"
            ),
            EventKind::HandoverStarted => f.write_str("hand-over started"),
            EventKind::HandoverNoTakeover => {
                f.write_str("hand-over: no backup took over, resuming as master")
            }
        }
    }
}

/// An [`EventKind`] and when it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub at: Instant,
    pub kind: EventKind,
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.kind.fmt(f)
    }
}
