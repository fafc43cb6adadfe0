//! server commands.

use super::Handler;

pub(crate) const COMMANDS: &[(&str, Handler)] = &[];
