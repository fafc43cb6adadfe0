//! # rediscover
//!
//! An async Redis client for tokio. It talks to a standalone server (a master, or any replica
//! you point it at) and to a master (or its replicas) managed by Redis Sentinel, following
//! failovers ([`sentinel`]), and to a Redis Cluster ([`cluster`]): the same typed commands,
//! pipelines and transactions on each.
//!
//! New here? Read the **[guide]**: connecting, the defaults, what each error means, pipelines
//! and transactions, blocking commands, pub/sub, the pool, and testing your application
//! against the bundled test server.
//!
//! [guide]: https://github.com/rediscover/rediscover/blob/main/docs/guide.md
//!
//! ```no_run
//! use rediscover::{Client, Commands, Pipeline};
//!
//! # async fn demo() -> rediscover::Result<()> {
//! let client = Client::connect("redis://127.0.0.1:6379").await?;
//! client.set("greeting", "hello").await?;
//! let value: Option<String> = client.get("greeting").await?; // you choose the type
//! let len: i64 = client.cmd("STRLEN").arg("greeting").query().await?;
//!
//! let mut pipe = Pipeline::new();
//! pipe.cmd("INCR").arg("hits");
//! pipe.cmd("EXPIRE").arg("hits").arg(60);
//! let (hits, _): (i64, bool) = pipe.query(&client).await?;
//! # Ok(()) }
//! ```
//!
//! Layers, bottom up:
//!
//! - [`resp`]: RESP2/RESP3 frames, an incremental decoder with limits, encoders. No I/O; the
//!   bundled test server (`rediscover-testserver`) speaks through exactly the same code.
//! - [`Connection`]: a handle to a driver task that owns one socket, batches every queued
//!   request into one write and matches replies in order. Cancellation-safe; knows its peer;
//!   can be closed.
//! - [`Client`]: a managed connection that reconnects with backoff (wherever an
//!   [`AddressSource`] says) and resends requests that were never sent, within one deadline
//!   per request; blocking commands and transactions run on a few dedicated connections.
//! - [`Commands`] (typed methods, the caller choosing result types), [`Cmd`] / [`FromReply`]
//!   (the generic path), [`Pipeline`], [`Transaction`], [`Subscriber`] (pub/sub) and [`Pool`]
//!   (dedicated connections).
//! - [`sentinel`]: [`SentinelClient`] and [`SentinelPool`], the same on a Sentinel-managed
//!   master: discovery through every sentinel, `ROLE` checks, event listeners, switching and
//!   draining.
//! - [`cluster`]: [`ClusterClient`], the same on a Redis Cluster: the slot map, one managed
//!   connection per node, redirections and retries, cross-slot fan-out and pipelines, replica
//!   reads, sharded pub/sub.
//! - [`Error`]: every failure, with its [`ErrorKind`] and the [`RetryAction`]
//!   a caller should take.
//! - [`slot`], [`error_codes`], [`command`]: the shared tables of hash slots, error codes and
//!   commands.
//!
//! ## Failure model
//!
//! - **Server errors** ([`Error::Server`]) leave the connection healthy. The error keeps its
//!   [`ErrorCode`] and text, and [`Error::retry_action`] says what to do next.
//! - **A caller that gives up** (drops its future, or hits its deadline) never desyncs the
//!   connection: a request not yet written is skipped, and the reply to one already written is
//!   read and thrown away by the driver. A blocking command given up costs its dedicated
//!   connection, never the shared one.
//! - **A broken connection** (I/O error, or bytes that are not RESP) fails every request on it.
//!   Each learns whether it was written: [`Error::NotSent`] (never written, safe to retry: the
//!   managed [`Client`] resends these itself, up to [`Config::max_retries`]) or
//!   [`Error::Io`]/[`Error::Protocol`] (written; it may or may not have run, so it is not retried).
//!   A pipeline counts as written as soon as its first byte is.
//! - **An unreachable server** fails requests after `1 +` [`Config::max_retries`] connection
//!   attempts with capped, jittered backoff ([`Config::backoff`]): [`Error::NotSent`] with the
//!   last connection error as its `source()`. Bad credentials are reported, not retried.
//! - **Deadlines**: [`Config::request_timeout`] bounds each request from the call to the
//!   reply, reconnects and retries included; [`Error::Timeout`] says whether the request may
//!   have reached the server.
//! - **Refused commands**: a shared [`Client`] refuses per-connection commands (`SELECT`,
//!   `WATCH`, a lone `MULTI`, ...) with [`Error::NotAllowed`] before sending anything.
#![warn(missing_docs)]

pub mod cluster;
pub mod command;
pub mod error_codes;
pub mod resp;
pub mod sentinel;
pub mod slot;

mod client;
mod cmd;
mod commands;
mod config;
mod conn;
mod dedicated;
mod error;
mod pipeline;
mod pool;
mod pubsub;
mod routing;
mod transaction;
mod value;

/// The examples of `docs/guide.md`, compiled (and, where they use the test server, run) with
/// the other doctests so that the guide cannot drift from the code.
#[cfg(doctest)]
#[doc = include_str!("../../docs/guide.md")]
pub struct Guide;

#[doc(no_inline)]
pub use bytes::Bytes;
pub use client::Client;
pub use cluster::{ClusterClient, ClusterConfig};
pub use cmd::{cmd, Cmd, ToArgs};
pub use commands::{BoundCmd, Commands, Execute, Scan};
pub use config::{Config, Protocol};
pub use conn::source::{AddressSource, BoxFuture};
pub use conn::Connection;
pub use error::{Error, ErrorKind, Result, ServerError};
pub use error_codes::{ErrorCode, RetryAction};
pub use pipeline::{Pipeline, PipelineCmd, PipelineCommand};
pub use pool::{Manager as PoolManager, Pool, PooledConnection};
pub use pubsub::{Message, MessageStream, Subscriber};
pub use sentinel::{SentinelClient, SentinelConfig, SentinelPool};
pub use transaction::{Transaction, Watched};
pub use value::FromReply;
