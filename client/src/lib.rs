//! # rediscover
//!
//! A tokio Redis client that knows the shape of the deployment it talks to: a standalone server,
//! a Sentinel-managed master, or a Cluster.
//!
//! The protocol layer is public and does no I/O, so the bundled test server
//! (`rediscover-testserver`) speaks through exactly the same code:
//!
//! - [`resp`]: RESP2/RESP3 frames, an incremental decoder with limits, encoders.
//! - [`slot`]: the cluster hash slot of a key.
//! - [`error_codes`]: the one table of Redis error codes and texts.
//! - [`command`]: the one table of commands, their arity, flags and key positions.
#![warn(missing_docs)]

pub mod command;
pub mod error_codes;
pub mod resp;
pub mod slot;
