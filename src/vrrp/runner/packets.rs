//! Received adverts to the instance they are for: decoded (inside an AH when the instance
//! uses one), checked (TTL, checksum, the sender not being this host), counted when dropped.

use super::*;

impl Runner {
    fn drop_packet(&mut self, reason: &'static str) {
        *self.drops.entry(reason).or_default() += 1;
    }

    pub(super) fn handle_packet(&mut self, now: Instant, ifindex: u32, v6: bool, pkt: Received) {
        let opts = DecodeOptions {
            checksum: self.checksum,
            auth: AuthPolicy::Accept,
        };
        let decoded = if v6 {
            let dst = pkt.dst.unwrap_or(IpAddr::V6(VRRP_GROUP_V6));
            match (
                check_ttl(pkt.hop_limit.unwrap_or(0)),
                Endpoints::new(pkt.src, dst),
            ) {
                (Err(e), _) => Err(e),
                (Ok(()), Some(ep)) => Advert::decode(&pkt.bytes, &ep, &opts).map(|a| (pkt.src, a)),
                (Ok(()), None) => return self.drop_packet("family"),
            }
        } else {
            Packet::decode(&pkt.bytes, &opts).map(|p| (p.ip.src(), p.advert))
        };
        let (src, advert) = match decoded {
            Ok(d) => d,
            Err(e) => {
                tracing::debug!("dropped VRRP packet from {}: {e}", pkt.src);
                return self.drop_packet(e.reason());
            }
        };
        // An AH instance hears only AH packets (its socket's protocol is 51).
        let kind = SockKind::of(v6, false);
        let Some(i) = self.slots.iter().position(|s| {
            s.sock_ifindex == ifindex
                && s.sock_kind == kind
                && s.cfg.virtual_router_id == advert.vrid
        }) else {
            return self.drop_packet("unknown_vrid");
        };
        self.deliver(now, i, src, advert);
    }

    /// An IPv4 advert inside an IPsec AH: its instance (by VRID) checks the AH with its key
    /// and sequence counter before the advert is decoded.
    pub(super) fn handle_ah_packet(&mut self, now: Instant, ifindex: u32, pkt: Received) {
        let Some(vrid) = ah::peek_vrid(&pkt.bytes) else {
            return self.drop_packet("ah_malformed");
        };
        let Some(i) = self.slots.iter().position(|s| {
            s.sock_ifindex == ifindex
                && s.sock_kind == SockKind::Ah
                && s.cfg.virtual_router_id == vrid
        }) else {
            return self.drop_packet("unknown_vrid");
        };
        let opts = DecodeOptions {
            checksum: self.checksum,
            auth: AuthPolicy::Ah,
        };
        let decoded = match self.slots[i].ah.as_mut().map(|a| a.open(&pkt.bytes)) {
            Some(Ok(o)) => {
                let ep = Endpoints::V4 {
                    src: o.src,
                    dst: o.dst,
                };
                Advert::decode(o.vrrp, &ep, &opts)
                    .map(|a| (o.src, a))
                    .map_err(|e| e.reason())
            }
            Some(Err(e)) => {
                tracing::debug!("dropped AH packet from {}: {e}", pkt.src);
                Err(e.reason())
            }
            None => Err("unknown_vrid"),
        };
        match decoded {
            Ok((src, advert)) => self.deliver(now, i, IpAddr::V4(src), advert),
            Err(reason) => self.drop_packet(reason),
        }
    }

    /// A decoded advert for instance `i`.
    fn deliver(&mut self, now: Instant, i: usize, src: IpAddr, advert: Advert) {
        let slot = &mut self.slots[i];
        if !slot.peers.is_empty() && !slot.peers.contains(&src) {
            return self.drop_packet("unknown_peer");
        }
        if advert.priority == 0 {
            // The master releases: with a grace period, have the hand-back in place before
            // this director may take the VIPs over (after its skew time, a few hundred ms),
            // since loading it takes a while and the first packets come with the VIPs.
            let fresh = slot.handback_until.is_none_or(|until| until <= now);
            if slot.cfg.handover_grace.is_some()
                && slot.inst.state() == State::Backup
                && fresh
                && let Some(note) = start_handback(slot, src, now, self.inputs_tx.clone())
            {
                self.events.push((slot.inst.name().to_string(), note));
            }
        }
        slot.inst.handle_advert(now, src, &advert);
    }
}
