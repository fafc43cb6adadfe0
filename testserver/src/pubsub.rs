//! Channel and pattern subscriptions of one node.

use std::collections::HashMap;

use bytes::Bytes;

use crate::client::OobSender;
use crate::keyspace::ClientId;

/// A subscribed connection: where its messages go and which protocol encodes them.
#[derive(Debug, Clone)]
pub struct Subscriber {
    /// The connection's out-of-band queue.
    pub tx: OobSender,
    /// Whether messages are RESP3 pushes.
    pub resp3: bool,
}

/// Subscriptions by channel and by pattern.
#[derive(Debug, Default)]
pub struct PubSub {
    /// Channel -> subscribers.
    pub channels: HashMap<Bytes, HashMap<ClientId, Subscriber>>,
    /// Pattern -> subscribers.
    pub patterns: HashMap<Bytes, HashMap<ClientId, Subscriber>>,
}
