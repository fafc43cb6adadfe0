//! `nodes.conf`: the node table as CLUSTER NODES lines plus a `vars` line, read back at
//! startup with Redis 7.0's rules. The `rediscover-server` binary writes it atomically
//! (temporary file, fsync, rename); in-process nodes rewrite it in place as Redis 7.0 does.
//! The file is locked (`flock`) for the node's life, so two nodes cannot share it.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::io::AsRawFd;
use std::path::Path;

use super::state::{flag, valid_id, Cluster, ClusterNode, NodeId};
use super::SLOTS;

/// The content to save.
pub fn render(c: &Cluster) -> String {
    let mut s = super::replies::nodes_text(c, flag::HANDSHAKE);
    s.push_str(&format!(
        "vars currentEpoch {} lastVoteEpoch {}\n",
        c.current_epoch, c.last_vote_epoch
    ));
    s
}

/// Locks `file` (`flock`, exclusive, non-blocking).
fn flock(file: &File) -> std::io::Result<()> {
    // SAFETY: flock on a descriptor we own; no memory is shared.
    let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Opens and locks the configuration file (creating it empty), with Redis's messages.
pub fn lock(path: &Path) -> Result<File, String> {
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| {
            format!(
                "Can't open {} in order to acquire a lock: {e}",
                path.display()
            )
        })?;
    match flock(&file) {
        Ok(()) => Ok(file),
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Err(format!(
            "Sorry, the cluster configuration file {} is already used by a different Redis \
             Cluster node. Please make sure that different nodes use different cluster \
             configuration files.",
            path.display()
        )),
        Err(e) => Err(format!("Impossible to lock {}: {e}", path.display())),
    }
}

/// Writes the configuration if it changed: a temporary file renamed over the old one (so a
/// crash leaves either file whole), then the lock moves to the new file.
pub fn save(c: &mut Cluster, fsync: bool) -> std::io::Result<()> {
    let content = render(c);
    if content == c.saved && c.config_path.exists() {
        return Ok(());
    }
    let path = c.config_path.clone();
    if !c.durable {
        // Redis 7.0's way: one write over the old content, then truncate.
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)?;
        f.write_all(content.as_bytes())?;
        f.set_len(content.len() as u64)?;
        c.saved = content;
        return Ok(());
    }
    let tmp = path.with_file_name(format!(
        "{}.tmp-{}",
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        std::process::id()
    ));
    {
        let mut f = File::create(&tmp)?;
        f.write_all(content.as_bytes())?;
        if fsync {
            f.sync_all()?;
        }
    }
    std::fs::rename(&tmp, &path)?;
    if c.config_lock.is_some() {
        let f = OpenOptions::new().write(true).open(&path)?;
        // The old file is gone; the lock follows the new one. Nobody else can have taken it
        // in between: they would need our old lock first.
        let _ = flock(&f);
        c.config_lock = Some(f);
    }
    c.saved = content;
    Ok(())
}

/// What `nodes.conf` held.
#[derive(Debug)]
pub struct Loaded {
    /// The cluster state it describes.
    pub cluster: Cluster,
    /// `Skipping unknown cluster config variable` lines to log.
    pub warnings: Vec<String>,
}

fn corrupt(why: impl std::fmt::Display) -> String {
    format!("Unrecoverable error: corrupted cluster config file ({why}).")
}

fn node_entry(c: &mut Cluster, id: NodeId) -> &mut ClusterNode {
    c.nodes.entry(id).or_insert_with(|| ClusterNode::new(id, 0))
}

/// `atoi`: leading digits (with a sign), 0 if none.
fn atoi(s: &str) -> i64 {
    let s = s.trim_start();
    let (neg, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    let n: i64 = digits[..end].parse().unwrap_or(0);
    if neg {
        -n
    } else {
        n
    }
}

/// Parses `nodes.conf` (`clusterLoadConfig`). `Ok(None)`: empty file, no configuration.
pub fn parse(text: &str, path: &Path) -> Result<Option<Loaded>, String> {
    if text.is_empty() {
        return Ok(None);
    }
    let mut c = Cluster::new([b'0'; 40], path.to_path_buf());
    c.nodes.clear();
    let mut myself: Option<NodeId> = None;
    let mut warnings = Vec::new();
    let now = crate::node::unix_ms();
    for line in text.split('\n') {
        if line.is_empty() {
            continue;
        }
        let words: Vec<String> = rediscover::resp::split_args(line.as_bytes())
            .ok_or_else(|| corrupt("unbalanced quotes"))?
            .into_iter()
            .map(|w| String::from_utf8_lossy(&w).into_owned())
            .collect();
        if words.is_empty() {
            continue;
        }
        if words[0].eq_ignore_ascii_case("vars") {
            if words.len() % 2 == 0 {
                return Err(corrupt("odd vars line"));
            }
            for pair in words[1..].chunks(2) {
                let v = pair[1].parse::<u64>().unwrap_or(0);
                if pair[0].eq_ignore_ascii_case("currentEpoch") {
                    c.current_epoch = v;
                } else if pair[0].eq_ignore_ascii_case("lastVoteEpoch") {
                    c.last_vote_epoch = v;
                } else {
                    warnings.push(format!(
                        "Skipping unknown cluster config variable '{}'",
                        pair[0]
                    ));
                }
            }
            continue;
        }
        if words.len() < 8 {
            return Err(corrupt(format!("a node line with {} fields", words.len())));
        }
        let id = valid_id(words[0].as_bytes()).ok_or_else(|| corrupt("a bad node id"))?;
        let addr = &words[1];
        let (addr, hostname) = match addr.split_once(',') {
            Some((a, h)) => (a, h.to_string()),
            None => (addr.as_str(), String::new()),
        };
        let colon = addr
            .rfind(':')
            .ok_or_else(|| corrupt("an address without a port"))?;
        let ip = addr[..colon].to_string();
        let ports = &addr[colon + 1..];
        let (port, cport) = match ports.split_once('@') {
            Some((p, b)) => (atoi(p), Some(atoi(b))),
            None => (atoi(ports), None),
        };
        {
            let n = node_entry(&mut c, id);
            n.hostname = hostname;
            n.ip = ip;
            n.port = port as u16;
            n.cport = cport.unwrap_or(port + 10000) as u16;
        }
        for f in words[2].split(',') {
            let bit = match f.to_ascii_lowercase().as_str() {
                "myself" => {
                    if myself.is_some() {
                        return Err(corrupt("two myself lines"));
                    }
                    myself = Some(id);
                    flag::MYSELF
                }
                "master" => flag::MASTER,
                "slave" => flag::SLAVE,
                "fail?" => flag::PFAIL,
                "fail" => {
                    node_entry(&mut c, id).fail_time = now;
                    flag::FAIL
                }
                "handshake" => flag::HANDSHAKE,
                "noaddr" => flag::NOADDR,
                "nofailover" => flag::NOFAILOVER,
                "noflags" => 0,
                other => return Err(corrupt(format!("unknown flag '{other}'"))),
            };
            node_entry(&mut c, id).flags |= bit;
        }
        if !words[3].starts_with('-') {
            let m = valid_id(words[3].as_bytes()).ok_or_else(|| corrupt("a bad master id"))?;
            node_entry(&mut c, m);
            node_entry(&mut c, id).slaveof = Some(m);
            c.add_replica(&m, &id);
        }
        {
            let n = node_entry(&mut c, id);
            if atoi(&words[4]) != 0 {
                n.ping_sent = now;
            }
            if atoi(&words[5]) != 0 {
                n.pong_received = now;
            }
            n.config_epoch = if n.is_slave() && n.slaveof.is_some() {
                0
            } else {
                words[6].parse().unwrap_or(0)
            };
        }
        for w in &words[8..] {
            if let Some(inner) = w.strip_prefix('[') {
                let dash = inner
                    .find('-')
                    .ok_or_else(|| corrupt("a bad slot marker"))?;
                let slot = atoi(inner);
                if !(0..SLOTS as i64).contains(&slot) {
                    return Err(corrupt(format!("slot {slot}")));
                }
                let direction = inner.as_bytes().get(dash + 1).copied();
                let rest = inner.get(dash + 3..).unwrap_or("");
                let end = rest.find(']').ok_or_else(|| corrupt("a bad slot marker"))?;
                let other = valid_id(&rest.as_bytes()[..end])
                    .ok_or_else(|| corrupt("a bad slot marker"))?;
                node_entry(&mut c, other);
                if direction == Some(b'>') {
                    c.migrating.insert(slot as u16, other);
                } else {
                    c.importing.insert(slot as u16, other);
                }
                continue;
            }
            let (start, stop) = match w.split_once('-') {
                Some((a, b)) => (atoi(a), atoi(b)),
                None => (atoi(w), atoi(w)),
            };
            if !(0..SLOTS as i64).contains(&start) || !(0..SLOTS as i64).contains(&stop) {
                return Err(corrupt(format!("slot range {w}")));
            }
            for j in start..=stop {
                c.add_slot(&id, j as usize);
            }
        }
    }
    let Some(me) = myself else {
        return Err(corrupt("no myself line"));
    };
    c.myself = me;
    let max = c.max_epoch();
    if max > c.current_epoch {
        c.current_epoch = max;
    }
    c.saved = text.to_string();
    Ok(Some(Loaded {
        cluster: c,
        warnings,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "37e5f5e1b1a0a2f0a3b2c4d5e6f708192a3b4c5d 127.0.0.1:25254@35254 myself,master - 0 1796196175000 1 connected 0-5460 [77->-3b68f5e1b1a0a2f0a3b2c4d5e6f708192a3b4c5d]\n\
3b68f5e1b1a0a2f0a3b2c4d5e6f708192a3b4c5d 127.0.0.1:29663@39663 slave 37e5f5e1b1a0a2f0a3b2c4d5e6f708192a3b4c5d 0 1796196176000 2 connected\n\
vars currentEpoch 6 lastVoteEpoch 0\n";

    #[test]
    fn parses_and_renders_back() {
        let loaded = parse(FILE, Path::new("nodes.conf")).unwrap().unwrap();
        let c = loaded.cluster;
        assert_eq!(c.current_epoch, 6);
        assert_eq!(c.me().numslots, 5461);
        assert_eq!(c.me().port, 25254);
        assert_eq!(c.me().cport, 35254);
        assert_eq!(c.migrating.len(), 1);
        let replica = c.nodes.values().find(|n| n.is_slave()).unwrap();
        assert_eq!(replica.slaveof, Some(c.myself));
        assert!(render(&c).contains(" myself,master - 0 "));
    }

    #[test]
    fn refuses_corrupt_files() {
        for bad in [
            "garbage\n",
            "nothex 127.0.0.1:1@2 myself,master - 0 0 0 connected\n",
            "37e5f5e1b1a0a2f0a3b2c4d5e6f708192a3b4c5d 127.0.0.1:1@2 master - 0 0 0 connected\n",
            "37e5f5e1b1a0a2f0a3b2c4d5e6f708192a3b4c5d 127.0.0.1:1@2 myself,master - 0 0 0 connected 16384\n",
            "37e5f5e1b1a0a2f0a3b2c4d5e6f708192a3b4c5d 127.0.0.1:1@2 myself,master - 0 0 0 connected\nvars currentEpoch\n",
            "37e5f5e1b1a0a2f0a3b2c4d5e6f708192a3b4c5d 127.0.0.1 myself,master - 0 0 0 connected\n",
            "37e5f5e1b1a0a2f0a3b2c4d5e6f708192a3b4c5d 127.0.0.1:1@2 myself,bogus - 0 0 0 connected\n",
        ] {
            let err = parse(bad, Path::new("nodes.conf")).unwrap_err();
            assert!(err.starts_with("Unrecoverable error: corrupted cluster config file"), "{err}");
        }
        assert!(parse("", Path::new("x")).unwrap().is_none());
    }
}
