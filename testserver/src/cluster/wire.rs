//! The cluster bus message format of Redis 7.0 (`cluster.h`), byte for byte: a 2256-byte
//! header (all integers big-endian), then a body that depends on the type. Encoding and
//! decoding only; no I/O.

use bytes::{BufMut, BytesMut};

use super::state::{NodeId, SlotBitmap};
use super::SLOTS;

/// `"RCmb"`.
pub const SIGNATURE: &[u8; 4] = b"RCmb";
/// The header's size, and the smallest valid message.
pub const HEADER_LEN: usize = 2256;
/// One gossip entry.
pub const GOSSIP_LEN: usize = 104;
/// Protocol version.
pub const VERSION: u16 = 1;

/// Message types.
pub mod kind {
    #![allow(missing_docs)]
    pub const PING: u16 = 0;
    pub const PONG: u16 = 1;
    pub const MEET: u16 = 2;
    pub const FAIL: u16 = 3;
    pub const PUBLISH: u16 = 4;
    pub const AUTH_REQUEST: u16 = 5;
    pub const AUTH_ACK: u16 = 6;
    pub const UPDATE: u16 = 7;
    pub const MFSTART: u16 = 8;
    pub const MODULE: u16 = 9;
    pub const PUBLISHSHARD: u16 = 10;
    pub const COUNT: u16 = 11;
}

/// `mflags[0]` bits.
pub mod mflag {
    #![allow(missing_docs)]
    pub const PAUSED: u8 = 1;
    pub const FORCEACK: u8 = 2;
    pub const EXT_DATA: u8 = 4;
}

/// The stats name of a message type (`clusterGetMessageTypeString`).
pub fn type_name(t: u16) -> &'static str {
    match t {
        kind::PING => "ping",
        kind::PONG => "pong",
        kind::MEET => "meet",
        kind::FAIL => "fail",
        kind::PUBLISH => "publish",
        kind::PUBLISHSHARD => "publishshard",
        kind::AUTH_REQUEST => "auth-req",
        kind::AUTH_ACK => "auth-ack",
        kind::UPDATE => "update",
        kind::MFSTART => "mfstart",
        kind::MODULE => "module",
        _ => "unknown",
    }
}

/// The header fields a sender fills in (`clusterBuildMessageHdr`).
#[derive(Debug, Clone)]
pub struct Header {
    /// Message type.
    pub kind: u16,
    /// Announced client port.
    pub port: u16,
    /// Gossip entries (PING/PONG/MEET).
    pub count: u16,
    /// Sender's current epoch.
    pub current_epoch: u64,
    /// Sender's config epoch (its master's if a replica).
    pub config_epoch: u64,
    /// Replication offset.
    pub offset: u64,
    /// Sender id.
    pub sender: NodeId,
    /// Sender's slots (its master's if a replica).
    pub myslots: SlotBitmap,
    /// Sender's master, or `None` for a master (40 zero bytes).
    pub slaveof: Option<NodeId>,
    /// Announced IP ("" for none).
    pub myip: String,
    /// Number of ping extensions.
    pub extensions: u16,
    /// Plaintext port (TLS only).
    pub pport: u16,
    /// Announced bus port.
    pub cport: u16,
    /// Sender's flags.
    pub flags: u16,
    /// Sender's view of the cluster state (0 ok, 1 fail).
    pub state: u8,
    /// `mflags[0]`.
    pub mflags0: u8,
}

/// A gossip entry about one node.
#[derive(Debug, Clone)]
pub struct Gossip {
    /// Its id.
    pub nodename: NodeId,
    /// Pending PING time, seconds.
    pub ping_sent: u32,
    /// Last PONG time, seconds.
    pub pong_received: u32,
    /// IP.
    pub ip: String,
    /// Client port.
    pub port: u16,
    /// Bus port.
    pub cport: u16,
    /// Flags as the sender sees them.
    pub flags: u16,
    /// Plaintext port.
    pub pport: u16,
}

/// A whole decoded message (header and body).
#[derive(Debug, Clone)]
pub struct Message {
    /// Header.
    pub hdr: Header,
    /// The body.
    pub body: Body,
}

/// Message bodies.
#[derive(Debug, Clone)]
pub enum Body {
    /// PING, PONG, MEET: gossip and the hostname extension (`None`: absent).
    Ping {
        /// Gossip entries.
        gossip: Vec<Gossip>,
        /// HOSTNAME extension.
        hostname: Option<String>,
        /// Extension types this node does not know (logged).
        unknown_ext: Vec<u16>,
    },
    /// FAIL about a node.
    Fail(NodeId),
    /// PUBLISH / PUBLISHSHARD.
    Publish {
        /// Channel.
        channel: Vec<u8>,
        /// Message.
        message: Vec<u8>,
    },
    /// UPDATE about a node.
    Update {
        /// Its config epoch.
        config_epoch: u64,
        /// Its id.
        nodename: NodeId,
        /// Its slots.
        slots: SlotBitmap,
    },
    /// AUTH_REQUEST, AUTH_ACK, MFSTART, MODULE and unknown types.
    Empty,
}

/// Why a message was dropped (the link stays open) — with Redis's log text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped(pub Option<String>);

fn be16(b: &[u8], off: usize) -> u16 {
    u16::from_be_bytes([b[off], b[off + 1]])
}
fn be32(b: &[u8], off: usize) -> u32 {
    u32::from_be_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}
fn be64(b: &[u8], off: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[off..off + 8]);
    u64::from_be_bytes(a)
}
fn id_at(b: &[u8], off: usize) -> NodeId {
    let mut id = [0u8; 40];
    id.copy_from_slice(&b[off..off + 40]);
    id
}
fn cstr(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// Checks the first 8 bytes of a message: the signature and a total length of at least the
/// header's. `None` means the stream is not a cluster bus: Redis closes the link.
pub fn frame_len(prefix: &[u8]) -> Option<usize> {
    if prefix.len() < 8 || &prefix[..4] != SIGNATURE {
        return None;
    }
    let totlen = be32(prefix, 4) as usize;
    (totlen >= HEADER_LEN).then_some(totlen)
}

/// Decodes one whole message (as [`frame_len`] delimited it). Malformed messages are
/// [`Dropped`], as Redis drops them, with the line Redis logs.
pub fn decode(m: &[u8]) -> Result<Message, Dropped> {
    let totlen = m.len();
    let kind_ = be16(m, 12);
    if be16(m, 8) != VERSION {
        return Err(Dropped(None));
    }
    let count = be16(m, 14);
    let extensions = be16(m, 2214);
    let mflags0 = m[2253];
    let tname = type_name(kind_);
    let explen = match kind_ {
        kind::PING | kind::PONG | kind::MEET => {
            let mut explen = HEADER_LEN + GOSSIP_LEN * count as usize;
            if mflags0 & mflag::EXT_DATA != 0 {
                let mut n = extensions;
                while n > 0 {
                    n -= 1;
                    if explen + 8 > totlen {
                        return Err(Dropped(Some(format!(
                            "Received invalid {tname} packet with extension data that exceeds total packet length ({totlen})"
                        ))));
                    }
                    let extlen = be32(m, explen) as usize;
                    if extlen % 8 != 0 {
                        return Err(Dropped(Some(format!(
                            "Received a {tname} packet without proper padding ({extlen} bytes)"
                        ))));
                    }
                    if totlen - explen < extlen {
                        return Err(Dropped(Some(format!(
                            "Received invalid {tname} packet with extension data that exceeds total packet length ({totlen})"
                        ))));
                    }
                    if extlen == 0 {
                        break;
                    }
                    explen += extlen;
                }
            }
            explen
        }
        kind::FAIL => HEADER_LEN + 40,
        kind::PUBLISH | kind::PUBLISHSHARD => {
            if totlen < HEADER_LEN + 8 {
                HEADER_LEN + 8
            } else {
                HEADER_LEN + 8 + be32(m, HEADER_LEN) as usize + be32(m, HEADER_LEN + 4) as usize
            }
        }
        kind::AUTH_REQUEST | kind::AUTH_ACK | kind::MFSTART => HEADER_LEN,
        kind::UPDATE => HEADER_LEN + 8 + 40 + SLOTS / 8,
        kind::MODULE => {
            if totlen < HEADER_LEN + 13 {
                HEADER_LEN + 13
            } else {
                HEADER_LEN + 13 + be32(m, HEADER_LEN + 8) as usize
            }
        }
        _ => totlen,
    };
    if totlen != explen {
        return Err(Dropped(Some(format!(
            "Received invalid {tname} packet of length {totlen} but expected length {explen}"
        ))));
    }
    let slaveof = &m[2128..2168];
    let hdr = Header {
        kind: kind_,
        port: be16(m, 10),
        count,
        current_epoch: be64(m, 16),
        config_epoch: be64(m, 24),
        offset: be64(m, 32),
        sender: id_at(m, 40),
        myslots: SlotBitmap::from_bytes(&m[80..2128]),
        slaveof: if slaveof.iter().all(|&b| b == 0) {
            None
        } else {
            Some(id_at(m, 2128))
        },
        myip: cstr(&m[2168..2214]),
        extensions,
        pport: be16(m, 2246),
        cport: be16(m, 2248),
        flags: be16(m, 2250),
        state: m[2252],
        mflags0,
    };
    let body = match kind_ {
        kind::PING | kind::PONG | kind::MEET => {
            let mut gossip = Vec::with_capacity(count as usize);
            for i in 0..count as usize {
                let g = &m[HEADER_LEN + i * GOSSIP_LEN..HEADER_LEN + (i + 1) * GOSSIP_LEN];
                gossip.push(Gossip {
                    nodename: id_at(g, 0),
                    ping_sent: be32(g, 40),
                    pong_received: be32(g, 44),
                    ip: cstr(&g[48..94]),
                    port: be16(g, 94),
                    cport: be16(g, 96),
                    flags: be16(g, 98),
                    pport: be16(g, 100),
                });
            }
            let mut hostname = None;
            let mut unknown_ext = Vec::new();
            let mut off = HEADER_LEN + GOSSIP_LEN * count as usize;
            let mut n = extensions;
            // Redis walks `extensions` entries even without EXT_DATA; stay within the message.
            while n > 0 && off + 8 <= totlen {
                n -= 1;
                let len = be32(m, off) as usize;
                if len < 8 || off + len > totlen {
                    break;
                }
                match be16(m, off + 4) {
                    0 => hostname = Some(cstr(&m[off + 8..off + len])),
                    other => unknown_ext.push(other),
                }
                off += len;
            }
            Body::Ping {
                gossip,
                hostname,
                unknown_ext,
            }
        }
        kind::FAIL => Body::Fail(id_at(m, HEADER_LEN)),
        kind::PUBLISH | kind::PUBLISHSHARD => {
            let cl = be32(m, HEADER_LEN) as usize;
            let start = HEADER_LEN + 8;
            Body::Publish {
                channel: m[start..start + cl].to_vec(),
                message: m[start + cl..].to_vec(),
            }
        }
        kind::UPDATE => Body::Update {
            config_epoch: be64(m, HEADER_LEN),
            nodename: id_at(m, HEADER_LEN + 8),
            slots: SlotBitmap::from_bytes(&m[HEADER_LEN + 48..]),
        },
        _ => Body::Empty,
    };
    Ok(Message { hdr, body })
}

fn put_padded(out: &mut BytesMut, s: &[u8], len: usize) {
    let n = s.len().min(len - 1);
    out.put_slice(&s[..n]);
    out.put_bytes(0, len - n);
}

/// Encodes a header with `totlen` filled in later by [`finish`].
pub fn encode_header(h: &Header, out: &mut BytesMut) {
    out.put_slice(SIGNATURE);
    out.put_u32(0);
    out.put_u16(VERSION);
    out.put_u16(h.port);
    out.put_u16(h.kind);
    out.put_u16(h.count);
    out.put_u64(h.current_epoch);
    out.put_u64(h.config_epoch);
    out.put_u64(h.offset);
    out.put_slice(&h.sender);
    out.put_slice(&h.myslots.0[..]);
    match &h.slaveof {
        Some(id) => out.put_slice(id),
        None => out.put_bytes(0, 40),
    }
    put_padded(out, h.myip.as_bytes(), 46);
    out.put_u16(h.extensions);
    out.put_bytes(0, 30);
    out.put_u16(h.pport);
    out.put_u16(h.cport);
    out.put_u16(h.flags);
    out.put_u8(h.state);
    out.put_slice(&[h.mflags0, 0, 0]);
}

/// Writes one gossip entry.
pub fn encode_gossip(g: &Gossip, out: &mut BytesMut) {
    out.put_slice(&g.nodename);
    out.put_u32(g.ping_sent);
    out.put_u32(g.pong_received);
    put_padded(out, g.ip.as_bytes(), 46);
    out.put_u16(g.port);
    out.put_u16(g.cport);
    out.put_u16(g.flags);
    out.put_u16(g.pport);
    out.put_u16(0);
}

/// Writes the HOSTNAME ping extension (`hostname` + NUL, padded to 8 bytes).
pub fn encode_hostname_ext(hostname: &str, out: &mut BytesMut) {
    let padded = (hostname.len() + 1).div_ceil(8) * 8;
    out.put_u32((8 + padded) as u32);
    out.put_u16(0);
    out.put_u16(0);
    out.put_slice(hostname.as_bytes());
    out.put_bytes(0, padded - hostname.len());
}

/// Fills in `totlen` once the body is written.
pub fn finish(out: &mut BytesMut) {
    let len = out.len() as u32;
    out[4..8].copy_from_slice(&len.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(kind_: u16) -> Header {
        let mut slots = SlotBitmap::default();
        slots.set(0);
        slots.set(16383);
        Header {
            kind: kind_,
            port: 7000,
            count: 0,
            current_epoch: 5,
            config_epoch: 3,
            offset: 1234,
            sender: [b'a'; 40],
            myslots: slots,
            slaveof: None,
            myip: "127.0.0.1".into(),
            extensions: 0,
            pport: 0,
            cport: 17000,
            flags: 17,
            state: 0,
            mflags0: 0,
        }
    }

    #[test]
    fn header_layout_and_round_trip() {
        let mut out = BytesMut::new();
        let mut h = header(kind::PING);
        h.count = 1;
        h.extensions = 1;
        h.mflags0 = mflag::EXT_DATA;
        encode_header(&h, &mut out);
        assert_eq!(out.len(), HEADER_LEN);
        encode_gossip(
            &Gossip {
                nodename: [b'b'; 40],
                ping_sent: 1,
                pong_received: 2,
                ip: "10.0.0.1".into(),
                port: 7001,
                cport: 17001,
                flags: 1,
                pport: 0,
            },
            &mut out,
        );
        encode_hostname_ext("host-29663.local", &mut out);
        finish(&mut out);
        assert_eq!(out.len(), HEADER_LEN + GOSSIP_LEN + 32);
        assert_eq!(&out[0..4], b"RCmb");
        assert_eq!(&out[2248..2250], &17000u16.to_be_bytes());
        assert_eq!(out[80], 1, "slot 0 is bit 0 of byte 0");
        assert_eq!(out[2127], 0x80, "slot 16383 is bit 7 of byte 2047");
        assert_eq!(frame_len(&out), Some(out.len()));
        let m = decode(&out).unwrap();
        assert_eq!(m.hdr.current_epoch, 5);
        assert_eq!(m.hdr.myip, "127.0.0.1");
        assert!(m.hdr.slaveof.is_none());
        match m.body {
            Body::Ping {
                gossip, hostname, ..
            } => {
                assert_eq!(gossip[0].ip, "10.0.0.1");
                assert_eq!(gossip[0].cport, 17001);
                assert_eq!(hostname.as_deref(), Some("host-29663.local"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bad_lengths_are_dropped_not_fatal() {
        let mut out = BytesMut::new();
        let mut h = header(kind::PING);
        h.count = 1;
        encode_header(&h, &mut out);
        finish(&mut out);
        let err = decode(&out).unwrap_err();
        assert_eq!(
            err.0.as_deref(),
            Some("Received invalid ping packet of length 2256 but expected length 2360")
        );
        assert_eq!(frame_len(b"RCmb\0\0\0\x10"), None, "shorter than a header");
        assert_eq!(frame_len(b"GET foo\r\n"), None);
    }
}
