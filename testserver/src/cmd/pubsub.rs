//! Pub/sub commands: SUBSCRIBE, PSUBSCRIBE, UNSUBSCRIBE, PUNSUBSCRIBE, PUBLISH, PUBSUB.

use super::Handler;
use crate::client::Client;
use crate::node::NodeState;

pub(crate) const COMMANDS: &[(&str, Handler)] = &[];

/// Removes every subscription of `client` (RESET, disconnect).
pub(crate) fn unsubscribe_all(node: &mut NodeState, client: &mut Client) {
    for ch in client.channels.drain() {
        if let Some(subs) = node.pubsub.channels.get_mut(&ch) {
            subs.remove(&client.id);
            if subs.is_empty() {
                node.pubsub.channels.remove(&ch);
            }
        }
    }
    for p in client.patterns.drain() {
        if let Some(subs) = node.pubsub.patterns.get_mut(&p) {
            subs.remove(&client.id);
            if subs.is_empty() {
                node.pubsub.patterns.remove(&p);
            }
        }
    }
}
