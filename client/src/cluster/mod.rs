//! Redis Cluster: [`ClusterClient`], the same typed [`Commands`](crate::Commands), pipelines
//! and transactions as [`Client`](crate::Client), over every node of a cluster.
//!
//! ```no_run
//! use rediscover::cluster::ClusterClient;
//! use rediscover::{Commands, Pipeline};
//!
//! # async fn demo() -> rediscover::Result<()> {
//! let cluster = ClusterClient::connect(["127.0.0.1:7000", "127.0.0.1:7001"]).await?;
//! cluster.set("user:1", "ada").await?;
//! let names: Vec<Option<String>> = cluster.mget(["user:1", "user:2"]).await?; // two slots
//!
//! let mut pipe = Pipeline::new(); // commands for any slots: split per node, answered in order
//! for i in 0..100 {
//!     pipe.cmd("INCR").arg(format!("counter:{i}"));
//! }
//! let counts: Vec<i64> = pipe.query(&cluster).await?;
//! # Ok(()) }
//! ```
//!
//! How it works:
//!
//! - **The slot map** comes from `CLUSTER SHARDS` (`CLUSTER SLOTS` on servers before 7.0),
//!   asked of a few nodes at a time ([`ClusterConfig::topology_sample`]); the view most of them
//!   give wins. Endpoints announced as `?` are skipped, empty ones mean the node that answered;
//!   [`ClusterConfig::remap`] rewrites addresses (NAT, containers), and
//!   [`ClusterConfig::node_config`] sets per-node credentials or TLS.
//! - **One refresh component** keeps it current: a `MOVED`, a `READONLY`, `CLUSTERDOWN`, an
//!   unreachable node, an uncovered slot ask for a refresh; a jittered timer does too; requests
//!   coalesce, refreshes are rate limited, and routing never waits for one. A `MOVED` also
//!   patches its slot at once.
//! - **One multiplexed connection per node**, the same managed connection a
//!   [`Client`](crate::Client) uses (reconnects with backoff, resends what was never sent);
//!   blocking commands and `WATCH` transactions use the node's dedicated connections.
//! - **Routing** by the shared command table's key positions and
//!   [`key_slot`](crate::slot::key_slot) (hash tags included). Commands without keys go to one
//!   random master, or, when the command table says they concern every shard, to every master
//!   with the replies combined: `DBSIZE` summed, `KEYS` concatenated, `FLUSHALL`/`FLUSHDB`,
//!   `SCRIPT FLUSH`, `FUNCTION LOAD` on all (`SCRIPT LOAD`, `CONFIG SET` on every node).
//!   `SCAN` walks the masters one after the other, the cursor carrying the master's index
//!   in its top 16 bits. `EVAL`, `EVALSHA` and `FCALL` go by their keys.
//! - **Redirections and retries**: `MOVED` (follow, patch the map), `ASK` (`ASKING` then the
//!   command, once), `TRYAGAIN`, `CLUSTERDOWN`, `LOADING` and unreachable nodes (capped,
//!   jittered backoff, [`ClusterConfig::retry_backoff`]); at most
//!   [`ClusterConfig::max_redirects`] of them, all within the one request deadline (the node
//!   template's [request timeout](crate::Config::request_timeout)). A request that may have
//!   run (its connection broke after it was written) is never sent twice.
//! - **Cross-slot**: `MGET`, `DEL`, `UNLINK`, `EXISTS` and `TOUCH` over several slots are split
//!   per slot, sent in parallel and merged in the caller's order; `MSET` is split only with
//!   [`ClusterConfig::split_mset`]. Any other command, transaction or script whose keys span
//!   slots is refused before anything is sent, with an error naming the keys and their slots.
//! - **Pipelines** are split per node and the parts sent concurrently; replies come back in
//!   the caller's order. On `MOVED`/`ASK` only the redirected commands are sent again (`ASK`'d
//!   ones behind `ASKING`), never one that got its reply.
//! - **Transactions** ([`Transaction`](crate::Transaction), [`ClusterClient::transaction`])
//!   must keep to one slot; redirected, they are sent again whole (`ASKING` before `MULTI`
//!   after an `ASK`), and only when `EXEC` ran nothing.
//! - **Reads from replicas** with [`ReadFrom`]: replica connections send `READONLY`.
//! - **Sharded pub/sub** with [`ShardedSubscriber`]: `SSUBSCRIBE` per slot on the node
//!   serving it, moved with the slot, with a [`ClusterEvent`] saying messages may have been
//!   missed.
//! - **Observability**: `tracing` spans and events under the `rediscover::cluster` target, and
//!   counters in [`ClusterClient::stats`].
//!
//! [`admin`] is cluster administration as a library: the equivalents of
//! `redis-cli --cluster create`, `check`, `fix`, `reshard`, `rebalance`, `add-node` and
//! `del-node`, talking to each node over a plain [`Connection`](crate::Connection).

pub mod admin;
mod client;
mod config;
mod pubsub;
mod state;
mod topology;

pub use crate::sentinel::NodeAddr;
pub use client::ClusterClient;
pub use config::{ClusterConfig, NodeConfigFn, ReadFrom, RemapFn};
pub use pubsub::ShardedSubscriber;

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

/// Counters of a [`ClusterClient`]: what it has had to do so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ClusterStats {
    /// `MOVED` redirections followed.
    pub moved: u64,
    /// `ASK` redirections followed.
    pub ask: u64,
    /// Requests sent again after `TRYAGAIN`, `CLUSTERDOWN`, `LOADING`, `READONLY` or an
    /// unreachable node.
    pub retries: u64,
    /// Topology refreshes that installed a map.
    pub refreshes: u64,
    /// Topology refreshes that found no node to answer.
    pub refresh_failures: u64,
    /// Reconnects of the node connections in use.
    pub reconnects: u64,
    /// The version of the slot map in use (bumped by each refresh and each `MOVED`).
    pub topology_version: u64,
}

/// Something the application may want to know about (see [`ClusterClient::events`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClusterEvent {
    /// A shard channel subscription moved to another node (its slot moved, or the server
    /// ended it): messages published meanwhile may have been missed.
    ShardChannelMoved {
        /// The channel.
        channel: Vec<u8>,
        /// The node it is now subscribed on.
        to: NodeAddr,
    },
}

/// Polls every future to completion, concurrently, and returns their outputs in order.
pub(crate) async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    let mut left = futures.len();
    std::future::poll_fn(|cx| {
        for (f, out) in futures.iter_mut().zip(outputs.iter_mut()) {
            if out.is_none() {
                if let Poll::Ready(v) = f.as_mut().poll(cx) {
                    *out = Some(v);
                    left -= 1;
                }
            }
        }
        if left == 0 {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}
