//! keepalived's reading of a `{ }` block after a keyword it does not know: no block at all.
//! Its `{` is ignored, the lines inside are read as part of the enclosing block, and its `}`
//! ends the enclosing block, so what follows belongs to the block around that one (and a
//! `}` left over at the top level is ignored). `SMTP_CHEKC {}` inside a real_server ends the
//! real_server there, and the real_server's own `}` then ends its virtual_server. The parse
//! tree is re-read that way before conversion, so the same file gives the same services.

use std::collections::VecDeque;

use super::blocks::Ctx;
use super::keywords;
use crate::config::keepalived::parse::{Node, Word};
use crate::config::model::CheckKind;

/// Where an unknown keyword's `}` ended its enclosing block early: the keyword, and the
/// block it ended.
pub struct EarlyEnd {
    pub unknown: Word,
    pub ended: &'static str,
}

enum Item {
    Node(Node),
    Close,
}

/// Whether keepalived knows `keyword` in `ctx` (supported, warned about or refused alike).
fn is_unknown(ctx: Ctx, keyword: &str) -> bool {
    !ctx.known().contains(&keyword) && keywords::unsupported(ctx, keyword).is_none()
}

/// The context of a known keyword's block whose lines are keywords; None for blocks of
/// addresses, names or scripts (read as they are).
fn child_ctx(ctx: Ctx, keyword: &str) -> Option<Ctx> {
    Some(match (ctx, keyword) {
        (Ctx::Root, "global_defs") => Ctx::Global,
        (Ctx::Root, "vrrp_script") => Ctx::Script,
        (Ctx::Root, "track_file" | "vrrp_track_file") => Ctx::TrackFile,
        (Ctx::Root, "bfd_instance") => Ctx::BfdInstance,
        (Ctx::Root, "vrrp_instance") => Ctx::Instance,
        (Ctx::Root, "vrrp_sync_group") => Ctx::SyncGroup,
        (Ctx::Root, "virtual_server") => Ctx::VirtualServer,
        (Ctx::Instance, "authentication") => Ctx::Auth,
        (Ctx::VirtualServer, "real_server") => Ctx::RealServer,
        (Ctx::RealServer, "TCP_CHECK") => Ctx::Check(CheckKind::Tcp),
        (Ctx::RealServer, "HTTP_GET") => Ctx::Check(CheckKind::Http),
        (Ctx::RealServer, "SSL_GET") => Ctx::Check(CheckKind::Https),
        (Ctx::RealServer, "MISC_CHECK") => Ctx::Check(CheckKind::Misc),
        (Ctx::RealServer, "PING_CHECK") => Ctx::Check(CheckKind::Ping),
        (Ctx::RealServer, "UDP_CHECK") => Ctx::Check(CheckKind::Udp),
        (Ctx::RealServer, "SMTP_CHECK") => Ctx::Check(CheckKind::Smtp),
        (Ctx::RealServer, "DNS_CHECK") => Ctx::Check(CheckKind::Dns),
        (Ctx::RealServer, "FILE_CHECK") => Ctx::Check(CheckKind::File),
        (Ctx::Check(CheckKind::Http | CheckKind::Https), "url") => Ctx::Url,
        (Ctx::Check(CheckKind::Smtp), "host") => Ctx::Check(CheckKind::Smtp),
        _ => return None,
    })
}

/// The top-level nodes as keepalived reads them, and where a block ended early.
pub fn reflow(nodes: &[Node]) -> (Vec<Node>, Vec<EarlyEnd>) {
    let mut items: VecDeque<Item> = nodes.iter().cloned().map(Item::Node).collect();
    let mut early = Vec::new();
    let out = block(&mut items, Ctx::Root, &mut early);
    (out, early)
}

/// The lines of one block of `ctx`, until the `}` that ends it (taken from `items`).
fn block(items: &mut VecDeque<Item>, ctx: Ctx, early: &mut Vec<EarlyEnd>) -> Vec<Node> {
    let mut out = Vec::new();
    while let Some(item) = items.pop_front() {
        let mut n = match item {
            // A `}` at the top level: keepalived ignores it.
            Item::Close if ctx == Ctx::Root => continue,
            Item::Close => return out,
            Item::Node(n) => n,
        };
        let Some(children) = n.block.take() else {
            out.push(n);
            continue;
        };
        let inner = if is_unknown(ctx, &n.keyword.text) {
            if ctx != Ctx::Root {
                early.push(EarlyEnd {
                    unknown: n.keyword.clone(),
                    ended: ctx.name(),
                });
            }
            None
        } else {
            match child_ctx(ctx, &n.keyword.text) {
                Some(c) => Some(c),
                None => {
                    n.block = Some(children);
                    out.push(n);
                    continue;
                }
            }
        };
        // The block's lines, then its `}`, go in front of what follows.
        let mut front: VecDeque<Item> = children.into_iter().map(Item::Node).collect();
        front.push_back(Item::Close);
        front.append(items);
        *items = front;
        match inner {
            Some(c) => {
                n.block = Some(block(items, c, early));
                out.push(n);
            }
            // Unknown: no block; its lines are read here, its `}` ends this block.
            None => out.push(n),
        }
    }
    out
}
