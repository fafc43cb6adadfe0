//! ACL users and authentication.

use std::collections::BTreeMap;

use bytes::Bytes;

/// One ACL user.
#[derive(Debug, Clone)]
pub struct User {
    /// `on` / `off`.
    pub enabled: bool,
    /// `nopass`: any password is accepted.
    pub nopass: bool,
    /// Accepted passwords.
    pub passwords: Vec<Vec<u8>>,
}

/// The users of one node.
#[derive(Debug, Clone)]
pub struct Acl {
    /// Users by name.
    pub users: BTreeMap<Bytes, User>,
}

impl Acl {
    /// The default user only, with `requirepass` as its password if given.
    pub fn new(requirepass: Option<&[u8]>) -> Self {
        let default = match requirepass {
            Some(p) => User {
                enabled: true,
                nopass: false,
                passwords: vec![p.to_vec()],
            },
            None => User {
                enabled: true,
                nopass: true,
                passwords: Vec::new(),
            },
        };
        let mut users = BTreeMap::new();
        users.insert(Bytes::from_static(b"default"), default);
        Acl { users }
    }

    /// Whether new connections start unauthenticated (the default user needs a password).
    pub fn auth_required(&self) -> bool {
        match self.users.get(&b"default"[..]) {
            Some(u) => !(u.enabled && u.nopass),
            None => true,
        }
    }

    /// Checks a user name and password.
    pub fn check(&self, user: &[u8], password: &[u8]) -> bool {
        match self.users.get(user) {
            Some(u) => u.enabled && (u.nopass || u.passwords.iter().any(|p| p == password)),
            None => false,
        }
    }
}
