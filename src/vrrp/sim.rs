//! A deterministic VRRP cluster simulator: N instances, a virtual clock and a lossy virtual LAN.
