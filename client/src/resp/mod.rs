//! RESP2/RESP3: the value model, an incremental decoder and the encoders.
//!
//! This module does no I/O. The client's connection driver and the test server both use it, so
//! the two sides of every test speak through one implementation of the protocol.

mod decode;
mod encode;
mod frame;

pub use decode::{decode, split_args, CommandDecoder, FrameDecoder, Limits, ProtocolError};
pub use encode::{encode_command, encode_frame, format_double, put_int, ReplyWriter};
pub use frame::Frame;

pub(crate) use decode::parse_i64;

/// Parses a strict decimal integer the way Redis's `string2ll` does: optional `-`, digits only,
/// no leading zeros, no surrounding spaces, within `i64`.
pub fn parse_integer(s: &[u8]) -> Option<i64> {
    parse_i64(s)
}
