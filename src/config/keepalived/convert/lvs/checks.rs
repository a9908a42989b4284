//! A real server's health checks: TCP, HTTP and SSL, SMTP, DNS, MISC and PING, with the
//! settings they inherit, and the URLs of HTTP checks.

use super::*;

impl Conv<'_> {
    /// A check, or `None` when keepalived would drop it (an HTTP check without a url, a
    /// MISC_CHECK without misc_path), and the settings it wrote itself.
    pub(super) fn check(
        &mut self,
        node: &Node,
        kind: CheckKind,
        base: &ConfPath,
    ) -> Vec<(Check, CheckDefaults)> {
        self.place(base.clone(), &node.keyword);
        let mut ck = Check::new(kind);
        let mut own = CheckDefaults::default();
        if kind == CheckKind::Dns {
            // keepalived's DNS_CHECK retries 3 times unless told.
            ck.retry = 3;
        }
        let mut hosts = Vec::new();
        for n in self.block(node) {
            let kw = n.keyword.text.as_str();
            self.place(base.join(kw), &n.keyword);
            // Keywords valid in this kind of check only; the rest falls to `unknown`.
            let known = Ctx::Check(kind).known().contains(&kw);
            match kw {
                _ if !known => self.unknown(n, Ctx::Check(kind)),
                _ if kind == CheckKind::File && self.file_check_keyword(n, &mut ck) => {}
                "type" | "name" => self.dns_keyword(n, &mut ck),
                "connect_ip" => ck.connect_ip = self.num(n, "an IP address"),
                "connect_port" => ck.connect_port = self.num(n, "a port"),
                "bindto" => ck.bind_ip = self.num(n, "an IP address"),
                "bind_port" => ck.bind_port = self.num(n, "a port"),
                "nb_get_retry" => {
                    // keepalived 2.2.7 reads it in HTTP_GET and SSL_GET only.
                    self.deprecated(n, "retry");
                    self.place(base.join("retry"), &n.keyword);
                    own.retry = self.num(n, "a count").or(own.retry);
                }
                "delay_loop" => ck.delay_loop = self.dur(n),
                "url" => {
                    let path = base.join("url").join(ck.url.len());
                    if let Some(url) = self.url(n, &path) {
                        ck.url.push(url);
                    }
                }
                "virtualhost" => ck.virtualhost = self.name(n),
                "enable_sni" => ck.enable_sni = self.flag(n).unwrap_or(ck.enable_sni),
                "misc_path" => ck.misc_path = self.command(n),
                "misc_timeout" => ck.misc_timeout = self.dur(n),
                "misc_dynamic" => ck.misc_dynamic = self.flag(n).unwrap_or(ck.misc_dynamic),
                "user" => ck.user = self.user_group(n),
                "payload" => ck.payload = self.hex(n, false),
                "require_reply" => ck.require_reply = self.hex(n, true).or(Some(String::new())),
                "min_reply_length" => ck.min_reply_length = self.num(n, "a length"),
                "max_reply_length" => ck.max_reply_length = self.num(n, "a length"),
                // keepalived takes the first word, quotes removed.
                "helo_name" => ck.helo_name = self.name(n),
                "host" => {
                    self.warn(
                        &n.keyword,
                        "`host` is deprecated: each host is a check of its own, as keepalived \
                         makes it",
                        "write one real_server, or one SMTP_CHECK with connect_ip, per host",
                    );
                    hosts.push(n);
                }
                _ => {
                    own.read(self, n);
                }
            }
        }
        let missing = match kind {
            CheckKind::Http | CheckKind::Https if ck.url.is_empty() => Some("url"),
            CheckKind::Misc if ck.misc_path.is_none() => Some("misc_path"),
            CheckKind::File if ck.track_file.is_none() => Some("track_file"),
            _ => None,
        };
        if let Some(what) = missing {
            self.warn(
                &node.keyword,
                format!(
                    "{} has no {what}: the check is removed, as keepalived does",
                    node.keyword.text
                ),
                "a real server without checks counts as up",
            );
            return Vec::new();
        }
        if hosts.is_empty() {
            return vec![(ck, own)];
        }
        self.smtp_hosts(ck, own, &hosts)
    }

    /// DNS_CHECK's `type` and `name`: one keepalived cannot use is reported and ignored.
    pub(super) fn dns_keyword(&mut self, n: &Node, ck: &mut Check) {
        let Some(value) = self.name(n) else { return };
        let is_type = n.keyword.text == "type";
        if !is_type && ck.dns_name.is_some() {
            self.warn(
                &n.keyword,
                "DNS_CHECK name already specified: ignored, as keepalived does",
                "keep one `name` line",
            );
            return;
        }
        let (name, kind) = if is_type {
            ("x", value.as_str())
        } else {
            (value.as_str(), crate::health::dns::DEFAULT_TYPE)
        };
        if let Err(e) = crate::health::dns::question(name, kind) {
            self.warn(
                &n.args[0],
                format!("DNS_CHECK {e}: ignored, as keepalived does"),
                "",
            );
            return;
        }
        if is_type {
            ck.dns_type = Some(value.to_ascii_uppercase());
        } else {
            ck.dns_name = Some(value);
        }
    }

    /// keepalived's hex (`payload`, `require_reply`): the words joined; one it cannot read
    /// is left out with a warning, as keepalived leaves it.
    pub(super) fn hex(&mut self, n: &Node, wildcard: bool) -> Option<String> {
        let text = n
            .args
            .iter()
            .map(|w| w.text.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        match crate::health::udp::parse_hex(&text, wildcard) {
            Ok(_) if !text.is_empty() => Some(text),
            Ok(_) => None,
            Err(e) => {
                self.warn(
                    &n.keyword,
                    format!("`{}`: {e}; left out, as keepalived does", n.keyword.text),
                    "write hex digits, e.g. 0a1b 2c",
                );
                None
            }
        }
    }

    /// SMTP_CHECK's `host` blocks, as keepalived reads them: each host a check with its own
    /// connection (from the real server's address and port), and the block's own connection
    /// one more when it sets any.
    pub(super) fn smtp_hosts(
        &mut self,
        ck: Check,
        own: CheckDefaults,
        hosts: &[&Node],
    ) -> Vec<(Check, CheckDefaults)> {
        let mut out = Vec::new();
        if ck.connect_ip.is_some() || ck.connect_port.is_some() || ck.bind_ip.is_some() {
            out.push((ck.clone(), own));
        }
        for host in hosts {
            let mut hc = Check {
                connect_ip: None,
                connect_port: None,
                bind_ip: None,
                bind_port: None,
                ..ck.clone()
            };
            let mut host_own = own;
            for n in self.block(host) {
                match n.keyword.text.as_str() {
                    "connect_ip" => hc.connect_ip = self.num(n, "an IP address"),
                    "connect_port" => hc.connect_port = self.num(n, "a port"),
                    "bindto" => hc.bind_ip = self.num(n, "an IP address"),
                    "bind_port" => hc.bind_port = self.num(n, "a port"),
                    "connect_timeout" => {
                        host_own.connect_timeout = self.dur(n).or(own.connect_timeout)
                    }
                    _ => self.unknown(n, Ctx::Check(CheckKind::Smtp)),
                }
            }
            out.push((hc, host_own));
        }
        out
    }

    pub(super) fn url(&mut self, node: &Node, base: &ConfPath) -> Option<UrlCheck> {
        self.place(base.clone(), &node.keyword);
        let mut url = UrlCheck {
            path: String::new(),
            status_code: Vec::new(),
            digest: None,
            regex: None,
            regex_no_match: false,
            virtualhost: None,
        };
        for n in self.block(node) {
            let kw = n.keyword.text.as_str();
            self.place(base.join(kw), &n.keyword);
            match kw {
                "path" => set(&mut url.path, self.text(n)),
                "digest" => url.digest = self.name(n),
                "regex" => url.regex = self.text(n),
                "regex_no_match" => {
                    self.no_args(n);
                    url.regex_no_match = true;
                }
                "virtualhost" => url.virtualhost = self.name(n),
                "status_code" => {
                    for w in &n.args {
                        match w.text.parse() {
                            Ok(r) => url.status_code.push(r),
                            Err(e) => self.error(w, e, ""),
                        }
                    }
                }
                _ => self.unknown(n, Ctx::Url),
            }
        }
        if url.path.is_empty() {
            self.warn(
                &node.keyword,
                "url has no path: it is ignored, as keepalived does",
                "add path /",
            );
            return None;
        }
        Some(url)
    }
}
