//! INFO: sections and fields named as Redis names them.
