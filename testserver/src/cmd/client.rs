//! CLIENT subcommands.

use super::{Error, Handler};

pub(crate) const COMMANDS: &[(&str, Handler)] = &[];

/// Client names may not contain spaces, newlines or other special characters.
pub(crate) fn validate_name(name: &[u8]) -> Result<(), Error> {
    if name.iter().any(|&c| !(b'!'..=b'~').contains(&c)) {
        return Err(
            "ERR Client names cannot contain spaces, newlines or special characters.".into(),
        );
    }
    Ok(())
}
