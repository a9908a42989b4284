//! The view model's closed sets, typed: a VRRP instance's state, a real server's health, a
//! service's forwarding method and an event's kind. Each is written in JSON exactly as the
//! strings it replaced (`status --json` is unchanged), and the console compares values, not
//! text.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! named {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
        )]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// As it is written in JSON and shown.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        /// Against the JSON text, for whoever reads a Snapshot as text (scripts, tests).
        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                // `pad`: widths and alignment apply, as they did to the strings.
                f.pad(self.as_str())
            }
        }
    };
}

named!(
    /// A VRRP instance's state.
    VrrpState {
        #[default]
        Init = "INIT",
        Backup = "BACKUP",
        Master = "MASTER",
        Fault = "FAULT",
    }
);

named!(
    /// A real server's health as the view shows it.
    RealHealth {
        Up = "up",
        Down = "down",
        /// No result yet (`alpha`), or not a configured real server.
        #[default]
        Unknown = "unknown",
        /// The service's sorry server, in while the quorum is lost.
        Sorry = "sorry",
    }
);

named!(
    /// How a service forwards: the configured method, or (for a service lvsdeck does not own)
    /// what the kernel's first real server says, as ipvsadm names it.
    Method {
        Dr = "DR",
        Nat = "NAT",
        Tun = "TUN",
        Masq = "Masq",
        Local = "Local",
        Tunnel = "Tunnel",
        Route = "Route",
        Bypass = "Bypass",
        /// No configuration and no real server to tell.
        #[default]
        Unknown = "-",
    }
);

named!(
    /// What an event is about.
    EventKind {
        Vrrp = "vrrp",
        Health = "health",
        Ipvs = "ipvs",
        Operator = "operator",
        #[default]
        Daemon = "daemon",
        Bgp = "bgp",
        Doctor = "doctor",
    }
);

impl From<crate::vrrp::machine::State> for VrrpState {
    fn from(s: crate::vrrp::machine::State) -> Self {
        use crate::vrrp::machine::State;
        match s {
            State::Init => VrrpState::Init,
            State::Backup => VrrpState::Backup,
            State::Master => VrrpState::Master,
            State::Fault => VrrpState::Fault,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_is_written_as_the_string_it_replaced() {
        for s in VrrpState::ALL {
            assert_eq!(serde_json::to_string(s).unwrap(), format!("\"{s}\""));
            assert_eq!(
                serde_json::from_str::<VrrpState>(&format!("\"{s}\"")).unwrap(),
                *s
            );
        }
        for h in RealHealth::ALL {
            assert_eq!(serde_json::to_string(h).unwrap(), format!("\"{h}\""));
        }
        for m in Method::ALL {
            assert_eq!(serde_json::to_string(m).unwrap(), format!("\"{m}\""));
        }
        for k in EventKind::ALL {
            assert_eq!(serde_json::to_string(k).unwrap(), format!("\"{k}\""));
        }
        assert_eq!(
            VrrpState::from(crate::vrrp::machine::State::Master).as_str(),
            "MASTER"
        );
    }
}
