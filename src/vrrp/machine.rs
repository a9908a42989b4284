//! One VRRP instance as a sans-IO state machine.
