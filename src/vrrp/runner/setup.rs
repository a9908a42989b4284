//! Setting the runner up from a configuration: sockets and interfaces per instance, VMACs,
//! static addresses and routes, tracking scripts and sync groups (at start and on reload).

use super::*;

impl Runner {
    /// The statics and every instance's interfaces, VMAC and sockets.
    pub(super) async fn set_up(&mut self, config: &Config) -> Result<(), RunError> {
        self.apply_statics(config).await?;
        for (name, cfg) in &config.vrrp_instance {
            let slot = self.prepare(name, cfg, &config.global, None).await?;
            self.slots.push(slot);
        }
        Ok(())
    }

    /// Remove hand-back tables a previous run left (killed during a grace period); this also
    /// says at start when `handover_grace` cannot work for want of `nft`.
    pub(super) async fn clear_handbacks(&mut self) {
        for slot in self.slots.iter().filter(|s| s.cfg.handover_grace.is_some()) {
            let table = handback::table_name(slot.v6, slot.ifindex, slot.cfg.virtual_router_id);
            if let Err(e) = handback::delete(slot.v6, &table).await {
                let name = slot.inst.name().to_string();
                warn!(instance = %name, "handover_grace: {e}");
                self.events.push((
                    name,
                    format!("handover_grace cannot hand connections back: {e}"),
                ));
            }
        }
    }

    /// Resolve an instance's interface and addresses and build its machine, started at
    /// `start_at` (None: left stopped, for the caller to start).
    pub(super) async fn prepare(
        &mut self,
        name: &str,
        cfg: &VrrpInstance,
        global: &model::Global,
        start_at: Option<Instant>,
    ) -> Result<Slot, RunError> {
        let err = |source| RunError::Interface {
            instance: name.to_string(),
            source,
        };
        let link = self.rtnl.link_by_name(&cfg.interface).await.map_err(err)?;
        let v6 = cfg
            .virtual_ipaddress
            .first()
            .is_some_and(|v| v.address.addr.is_ipv6());
        let vip_addrs: Vec<IpAddr> = cfg
            .virtual_ipaddress
            .iter()
            .map(|v| v.address.addr)
            .collect();
        let src = match (cfg.unicast_src_ip, v6) {
            (Some(ip), _) => ip,
            (None, false) => self
                .rtnl
                .primary_v4(link.index, &vip_addrs)
                .await
                .map_err(err)?
                .map(IpAddr::V4)
                .ok_or_else(|| RunError::NoSource {
                    instance: name.into(),
                    interface: cfg.interface.clone(),
                    what: "IPv4",
                })?,
            (None, true) => self
                .rtnl
                .link_local_v6(link.index)
                .await
                .map_err(err)?
                .map(IpAddr::V6)
                .ok_or_else(|| RunError::NoSource {
                    instance: name.into(),
                    interface: cfg.interface.clone(),
                    what: "link-local IPv6",
                })?,
        };
        let vmac = self.vmac(name, cfg, global, &link, v6, src).await?;
        // After the VMAC: a route may name it.
        routes::check_devices(&self.rtnl, &cfg.virtual_routes, &cfg.virtual_rules)
            .await
            .map_err(err)?;
        let sock_link = match (&vmac, cfg.use_vmac.as_ref().is_some_and(|v| v.xmit_base)) {
            (Some(vmac), false) => vmac.clone(),
            _ => link.clone(),
        };
        let multicast = cfg.unicast_peer.is_empty();
        let kind = SockKind::of(v6, cfg.auth_ah);
        if let std::collections::hash_map::Entry::Vacant(e) =
            self.sockets.entry((sock_link.index, kind))
        {
            let sock_err = |source| RunError::Socket {
                instance: name.into(),
                interface: sock_link.name.clone(),
                source,
            };
            let (name, index) = (&sock_link.name, sock_link.index);
            let socket = match (src, kind) {
                (IpAddr::V6(s), _) => VrrpSocket::open_v6(name, index, s, multicast),
                (IpAddr::V4(_), SockKind::Ah) => {
                    VrrpSocket::open_v4(name, index, multicast, ah::IPPROTO_AH)
                }
                (IpAddr::V4(_), _) => {
                    VrrpSocket::open_v4(name, index, multicast, crate::vrrp::packet::IPPROTO_VRRP)
                }
            }
            .map_err(sock_err)?;
            let socket = Arc::new(socket);
            e.insert(socket.clone());
            let tx = self.inputs_tx.clone();
            let index = sock_link.index;
            tokio::spawn(async move {
                loop {
                    match socket.recv().await {
                        Ok(pkt) => {
                            if tx.send(Input::Packet(index, kind, pkt)).await.is_err() {
                                return;
                            }
                        }
                        Err(e) => {
                            warn!("VRRP socket on ifindex {index}: {e}");
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    }
                }
            });
        }
        let group = io::advert_group(cfg, global, v6);
        if multicast
            && group != io::standard_group(v6)
            && self.joined.insert((sock_link.index, kind, group))
        {
            self.sockets[&(sock_link.index, kind)]
                .join(group, sock_link.index)
                .map_err(|source| RunError::Socket {
                    instance: name.into(),
                    interface: cfg.interface.clone(),
                    source,
                })?;
        }
        let mut vips = Vec::new();
        for v in &cfg.virtual_ipaddress {
            let dev = match &v.dev {
                Some(dev) if dev != &cfg.interface => {
                    self.rtnl.link_by_name(dev).await.map_err(err)?.index
                }
                // As keepalived: a VIP on the instance's interface goes on its VMAC.
                _ => vmac.as_ref().map_or(link.index, |l| l.index),
            };
            let opts = VipOptions::of(v);
            vips.push((dev, v.address, opts));
        }
        for index in vips.iter().map(|v| v.0).chain([link.index]) {
            if !self.ifaces.contains_key(&index) {
                let info = if index == link.index {
                    link.clone()
                } else if let Some(vmac) = vmac.as_ref().filter(|l| l.index == index) {
                    vmac.clone()
                } else {
                    self.rtnl_link(index, &vips, cfg).await?
                };
                let packet = PacketSocket::open(index).map_err(|source| RunError::Socket {
                    instance: name.into(),
                    interface: info.name.clone(),
                    source,
                })?;
                self.ifaces.insert(
                    index,
                    Iface {
                        name: info.name.clone(),
                        mac: info.mac.unwrap_or([0; 6]),
                        packet: Arc::new(packet),
                    },
                );
            }
        }
        let params = instance_params(name, cfg, global, src);
        params.validate().map_err(|source| RunError::Params {
            instance: name.into(),
            source,
        })?;
        let mut inst = Instance::new_stopped(params);
        // The instance's own interface is tracked with weight 0: link down means FAULT.
        inst.set_tracker(
            start_at.unwrap_or_else(Instant::now),
            &format!("link:{}", cfg.interface),
            0,
            link.up,
        );
        if let Some(now) = start_at {
            let _ = inst.startup(now);
        }
        info!(instance = name, interface = %cfg.interface, %src, vrid = cfg.virtual_router_id, priority = cfg.priority, "VRRP instance started");
        Ok(Slot {
            cfg: cfg.clone(),
            inst,
            ifindex: link.index,
            sock_ifindex: sock_link.index,
            sock_kind: kind,
            ah: cfg
                .auth_ah
                .then(|| AhState::new(cfg.auth_pass.as_deref().unwrap_or_default(), !multicast)),
            vmac: vmac.map(|l| l.name),
            v6,
            src,
            vips,
            peers: cfg.unicast_peer.clone(),
            ip_id: 0,
            last_transition: None,
            priority_override: None,
            handback_until: None,
            handback_loaded: None,
            vips_release_at: None,
            vip_repairs: 0,
        })
    }

    /// static_ipaddress, static_routes and static_rules as `config` has them; an interface
    /// they name that does not exist refuses the config, as keepalived does.
    pub(super) async fn apply_statics(&mut self, config: &Config) -> Result<(), RunError> {
        Statics::check(&self.rtnl, config).await?;
        for e in self.statics.apply(&self.rtnl, config).await {
            warn!("{e}");
            self.events.push((String::new(), e.to_string()));
        }
        Ok(())
    }

    /// The instance's VMAC (`use_vmac`), made and up; None without one.
    pub(super) async fn vmac(
        &mut self,
        name: &str,
        cfg: &VrrpInstance,
        global: &model::Global,
        base: &crate::vrrp::vip::LinkInfo,
        v6: bool,
        src: IpAddr,
    ) -> Result<Option<crate::vrrp::vip::LinkInfo>, RunError> {
        let Some(v) = &cfg.use_vmac else {
            return Ok(None);
        };
        let vmac_name = v.name.clone().unwrap_or_else(|| {
            let prefix = global.vmac_prefix.as_deref().unwrap_or("vrrp");
            let taken = |n: &str| self.slots.iter().any(|s| s.vmac.as_deref() == Some(n));
            vmac::default_name(prefix, cfg.virtual_router_id, v6, taken)
        });
        // An IPv6 advert's source must be on the interface it leaves by.
        let ll = match src {
            IpAddr::V6(s) if !v.xmit_base => Some(s),
            _ => None,
        };
        let link = self
            .vmacs
            .ensure(&vmac_name, base, v, cfg.virtual_router_id, v6, ll)
            .await
            .map_err(|source| RunError::Interface {
                instance: name.to_string(),
                source,
            })?;
        Ok(Some(link))
    }

    pub(super) async fn rtnl_link(
        &self,
        index: u32,
        vips: &[(u32, IpNet, VipOptions)],
        cfg: &VrrpInstance,
    ) -> Result<crate::vrrp::vip::LinkInfo, RunError> {
        // A VIP's `dev` names another interface: look it up by the name the config gave.
        let name = cfg
            .virtual_ipaddress
            .iter()
            .zip(vips)
            .find(|(_, v)| v.0 == index)
            .and_then(|(c, _)| c.dev.clone())
            .unwrap_or_default();
        Ok(self.rtnl.link_by_name(&name).await?)
    }

    pub(super) fn start_scripts(&mut self, config: &Config) {
        for (name, script) in &config.vrrp_script {
            let tracked = config
                .vrrp_instance
                .values()
                .any(|i| i.track_script.iter().any(|t| &t.name == name));
            if !tracked || self.scripts.get(name).is_some_and(|(s, _)| s == script) {
                continue;
            }
            // A user this host does not have disables the script, as keepalived does.
            if let Some(user) = &script.user
                && crate::health::misc::lookup_user(user).is_none()
            {
                self.scripts.remove(name);
                let msg = format!("vrrp_script {name} disabled: user `{user}` does not exist");
                warn!(script = %name, "{msg}");
                self.events.push((name.clone(), msg));
                continue;
            }
            // A program that is not there disables the script, as keepalived does: it never
            // runs and moves no priority. A reload probes again.
            if let Some(program) = script_program(&script.script)
                && let status @ (ScriptStatus::NotFound | ScriptStatus::NotExecutable) =
                    FsProbe.probe(program)
            {
                self.scripts.remove(name);
                let why = if status == ScriptStatus::NotFound {
                    "not found"
                } else {
                    "not executable"
                };
                warn!(script = %name, "vrrp_script {name} disabled: `{program}` is {why}");
                self.events.push((
                    name.clone(),
                    format!("vrrp_script {name} disabled: `{program}` is {why}"),
                ));
                continue;
            }
            // Run by the director's health runner (`scripts()`); a changed script starts
            // over, unknown until its first result.
            self.scripts.insert(name.clone(), (script.clone(), None));
        }
        // Scripts no longer tracked stop running.
        self.scripts.retain(|n, _| {
            config.vrrp_script.contains_key(n)
                && config
                    .vrrp_instance
                    .values()
                    .any(|i| i.track_script.iter().any(|t| &t.name == n))
        });
    }

    /// Sync groups by member index into `slots`.
    pub(super) fn rebuild_groups(&mut self, config: &Config) {
        // A group whose scripts did not change keeps the state it was last notified in.
        let old: HashMap<String, (model::Notify, Option<State>)> = self
            .groups
            .iter()
            .map(|(g, _)| g.name().to_string())
            .zip(std::mem::take(&mut self.group_notify))
            .collect();
        self.group_notify = config
            .vrrp_sync_group
            .iter()
            .map(|(name, g)| match old.get(name) {
                Some((n, last)) if *n == g.notify => (n.clone(), *last),
                _ => (g.notify.clone(), None),
            })
            .collect();
        self.groups.clear();
        for (gname, group) in &config.vrrp_sync_group {
            let members = group
                .group
                .iter()
                .filter_map(|m| self.slots.iter().position(|s| s.inst.name() == m))
                .collect();
            self.groups.push((SyncGroup::new(gname.clone()), members));
        }
    }
}
