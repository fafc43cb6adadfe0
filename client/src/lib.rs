//! # rediscover
//!
//! A tokio Redis client that knows the shape of the deployment it talks to: a standalone server,
//! a Sentinel-managed master, or a Cluster.
//!
//! ```no_run
//! use rediscover::{Client, Commands, Pipeline};
//!
//! # async fn demo() -> rediscover::Result<()> {
//! let client = Client::connect("redis://127.0.0.1:6379").await?;
//! client.set("greeting", "hello").await?;
//! let value = client.get("greeting").await?; // Option<Bytes>
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
//!   request into one write and matches replies in order. Cancellation-safe.
//! - [`Client`]: a managed connection that reconnects with backoff and retries requests that
//!   were never sent, within one deadline per request.
//! - [`Commands`] (typed methods), [`Cmd`] / [`FromReply`] (the generic path), [`Pipeline`],
//!   [`Transaction`], [`Subscriber`] (pub/sub) and [`Pool`] (dedicated connections).
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
//!   read and thrown away by the driver.
//! - **A broken connection** (I/O error, or bytes that are not RESP) fails every request on it.
//!   Each learns whether it was written: [`Error::NotSent`] (never written, safe to retry: the
//!   managed [`Client`] retries these itself, up to [`Config::max_retries`]) or
//!   [`Error::Io`]/[`Error::Protocol`] (written; it may or may not have run, so it is not retried).
//!   A pipeline counts as written as soon as its first byte is.
//! - **Deadlines**: [`Config::request_timeout`] bounds each request from the call to the
//!   reply, reconnects and retries included; [`Error::Timeout`] says whether the request may
//!   have reached the server.
//! - **Reconnects** happen on demand, one at a time per client, with capped, jittered
//!   exponential backoff ([`Config::backoff`]). Bad credentials are reported, not retried.
#![warn(missing_docs)]

pub mod command;
pub mod error_codes;
pub mod resp;
pub mod slot;

mod client;
mod cmd;
mod commands;
mod config;
mod conn;
mod error;
mod pipeline;
mod pool;
mod pubsub;
mod transaction;
mod value;

#[doc(no_inline)]
pub use bytes::Bytes;
pub use client::Client;
pub use cmd::{cmd, Cmd, ToArgs};
pub use commands::{BoundCmd, Commands, Execute, Scan};
pub use config::{Config, Protocol};
pub use conn::Connection;
pub use error::{Error, ErrorKind, Result, ServerError};
pub use error_codes::{ErrorCode, RetryAction};
pub use pipeline::{Pipeline, PipelineCmd, PipelineCommand};
pub use pool::{Manager as PoolManager, Pool, PooledConnection};
pub use pubsub::{Message, MessageStream, Subscriber};
pub use transaction::Transaction;
pub use value::FromReply;
