//! Carrying out what an instance's state machine asks for: adverts, VIPs, gratuitous ARPs and
//! unsolicited NAs, notify scripts.

use super::*;

impl Runner {
    pub(super) async fn execute(&mut self, i: usize, action: Action) {
        let checksum = self.checksum;
        let slot = &mut self.slots[i];
        match action {
            Action::SendAdvert(advert) => {
                let socket = self.sockets[&(slot.sock_ifindex, slot.sock_kind)].clone();
                let dsts: Vec<IpAddr> = if slot.peers.is_empty() {
                    vec![io::advert_group(&slot.cfg, &self.global, slot.v6)]
                } else {
                    slot.peers.clone()
                };
                for dst in dsts {
                    let bytes = match (slot.src, dst) {
                        (IpAddr::V4(src), IpAddr::V4(dst)) => {
                            slot.ip_id = slot.ip_id.wrapping_add(1).max(1);
                            let ip = Ipv4Header {
                                dst,
                                ..Ipv4Header::advert(src, slot.ip_id)
                            };
                            match slot.ah.as_mut() {
                                Some(ah) => advert
                                    .encode(&Endpoints::V4 { src, dst }, checksum)
                                    .map(|msg| ah.seal(&ip, &msg)),
                                None => Packet {
                                    ip: IpHeader::V4(ip),
                                    advert: advert.clone(),
                                }
                                .encode(checksum),
                            }
                        }
                        (IpAddr::V6(src), IpAddr::V6(dst)) => {
                            advert.encode(&Endpoints::V6 { src, dst }, checksum)
                        }
                        _ => continue,
                    };
                    match bytes {
                        Ok(bytes) => {
                            if let Err(e) = socket.send(&bytes, dst).await {
                                warn!(instance = slot.inst.name(), "sending advert to {dst}: {e}");
                            }
                        }
                        Err(e) => error!(instance = slot.inst.name(), "encoding advert: {e}"),
                    }
                }
            }
            Action::AddVips => {
                slot.vips_release_at = None;
                if let Some(loaded) = slot.handback_loaded.take() {
                    // Within the old master's patience: it resumes if no one takes over
                    // within 4.5 advert intervals of its release (`Instance::handover`).
                    let limit = handback::LOAD_LIMIT.min(slot.cfg.advert_int.0 * 3);
                    handback::wait_loaded(slot.inst.name(), loaded, limit, &mut self.events).await;
                }
                for (dev, net, opts) in slot.vips.clone() {
                    if let Err(e) = self.rtnl.add_vip(dev, net, &opts).await {
                        error!(instance = slot.inst.name(), "adding VIP {net}: {e}");
                    }
                }
                let cfg = &slot.cfg;
                for e in routes::add_all(&self.rtnl, &cfg.virtual_routes, &cfg.virtual_rules).await
                {
                    error!(instance = slot.inst.name(), "{e}");
                }
            }
            Action::KeepVipsFor(grace) => {
                // The connections under way come back here from the new master (`handback`).
                slot.vips_release_at = Some(Instant::now() + grace);
                let name = slot.inst.name().to_string();
                let grace = model::Dur(grace);
                info!(instance = %name, "VIPs kept {grace} for connections under way");
                self.events.push((
                    name,
                    format!("VIPs kept {grace} for connections under way (handover_grace)"),
                ));
            }
            Action::RemoveVips => {
                slot.vips_release_at = None;
                remove_vips(&self.rtnl, slot).await;
            }
            Action::SendGratuitous { count } => {
                let mut spaced = Vec::new();
                for (dev, net, _) in &slot.vips {
                    let Some(iface) = self.ifaces.get(dev) else {
                        continue;
                    };
                    let (frame, gap) = match net.addr {
                        IpAddr::V4(v4) => (
                            announce::gratuitous_arp(iface.mac, v4),
                            self.global.vrrp_garp_interval,
                        ),
                        IpAddr::V6(v6) => (
                            announce::unsolicited_na(iface.mac, v6),
                            self.global.vrrp_gna_interval,
                        ),
                    };
                    let gap = gap.map(|d| d.0).filter(|d| !d.is_zero());
                    spaced.push(announce::Announcement {
                        packet: iface.packet.clone(),
                        frame,
                        gap,
                        iface: iface.name.clone(),
                    });
                }
                announce::announce_all(slot.inst.name(), spaced, count);
            }
        }
    }
}
