//! Asking the sentinels: one pipelined round trip per sentinel, all at once; ranking their
//! answers; checking the winner with `ROLE`.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::Instant;

use super::{NodeAddr, SentinelConfig};
use crate::cmd::Cmd;
use crate::commands::Execute;
use crate::config::Config;
use crate::conn::Connection;
use crate::error::{Error, Result};
use crate::pipeline::Pipeline;
use crate::resp::Frame;
use crate::value::FromReply;

/// After a strict majority of the sentinels has answered, how long the others still get (the
/// one that just led a failover may be the only one naming the new master).
const STRAGGLER_GRACE: Duration = Duration::from_millis(50);

/// What one sentinel said about the master.
#[derive(Debug, Clone)]
pub(crate) enum Outcome {
    /// It monitors the master: where it is, the epoch of that configuration, the other
    /// sentinels it knows, and (when asked) the replicas it knows.
    Master {
        addr: NodeAddr,
        epoch: u64,
        sentinels: Vec<NodeAddr>,
        replicas: Vec<ReplicaInfo>,
    },
    /// It monitors no master by that name.
    NotMonitored,
    /// It could not be asked.
    Failed(Error),
}

/// One entry of `SENTINEL REPLICAS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReplicaInfo {
    pub(crate) addr: NodeAddr,
    /// Neither `s_down`, `o_down` nor `disconnected`.
    pub(crate) up: bool,
    /// `master-link-status` is `ok`.
    pub(crate) link_ok: bool,
    /// `master-host:master-port` (`None` for `?`).
    pub(crate) master: Option<NodeAddr>,
}

/// The sentinels' command connections, kept between discoveries (the next one, often the
/// urgent one, then costs one round trip, not a connect and a handshake too).
#[derive(Debug, Default)]
pub(crate) struct Links {
    conns: Mutex<HashMap<NodeAddr, Connection>>,
}

impl Links {
    async fn get(&self, config: &SentinelConfig, addr: &NodeAddr) -> Result<Connection> {
        let cached = self
            .conns
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(addr)
            .filter(|c| !c.is_closed())
            .cloned();
        if let Some(conn) = cached {
            return Ok(conn);
        }
        let conn = Connection::connect(&config.sentinel_at(addr)).await?;
        self.conns
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(addr.clone(), conn.clone());
        Ok(conn)
    }

    fn forget(&self, addr: &NodeAddr) {
        if let Some(conn) = self
            .conns
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(addr)
        {
            conn.close();
        }
    }

    /// Closes every connection.
    pub(crate) fn close_all(&self) {
        for (_, conn) in self.conns.lock().unwrap_or_else(|p| p.into_inner()).drain() {
            conn.close();
        }
    }
}

/// Asks the sentinel at `addr`, within the sentinel timeout. `master_only` asks only what
/// names the master (the fast path after an event); otherwise the sentinels it knows and,
/// with `replicas`, the replicas too.
pub(crate) async fn ask(
    config: &SentinelConfig,
    links: &Links,
    addr: &NodeAddr,
    master_only: bool,
    replicas: bool,
) -> Outcome {
    let name = config.master_name();
    let attempt = async {
        let conn = links.get(config, addr).await?;
        let mut p = Pipeline::new();
        p.add(
            &Cmd::new("SENTINEL")
                .arg("GET-MASTER-ADDR-BY-NAME")
                .arg(name),
        );
        p.add(&Cmd::new("SENTINEL").arg("MASTER").arg(name));
        if !master_only {
            p.add(&Cmd::new("SENTINEL").arg("SENTINELS").arg(name));
            if replicas {
                p.add(&Cmd::new("SENTINEL").arg("REPLICAS").arg(name));
            }
        }
        let result = conn.send_pipeline(&p).await;
        if result.as_ref().is_err_and(Error::is_connection_broken) {
            links.forget(addr);
        }
        result
    };
    let replies = match tokio::time::timeout(config.get_sentinel_timeout(), attempt).await {
        Ok(Ok(replies)) => replies,
        Ok(Err(e)) => return Outcome::Failed(e),
        Err(_) => {
            // A sentinel that does not answer in time may be frozen: do not queue the next
            // discovery behind this one on the same connection.
            links.forget(addr);
            return Outcome::Failed(Error::Timeout { sent: true });
        }
    };
    parse(replies)
}

/// The replies of [`ask`]'s pipeline.
fn parse(replies: Vec<Frame>) -> Outcome {
    let mut it = replies.into_iter();
    let (Some(addr), Some(master)) = (it.next(), it.next()) else {
        return Outcome::Failed(Error::response("short reply to the sentinel pipeline"));
    };
    let addr = match Option::<(String, String)>::from_reply(addr) {
        Ok(Some((host, port))) => match port.parse() {
            Ok(port) => NodeAddr::new(host, port),
            Err(_) => return Outcome::Failed(Error::response(format!("bad port '{port}'"))),
        },
        Ok(None) => return Outcome::NotMonitored,
        Err(e) => return Outcome::Failed(e),
    };
    // Sentinels that refuse SENTINEL MASTER (an ACL) still name the master: epoch 0, and the
    // other rules decide.
    let epoch = HashMap::<String, String>::from_reply(master)
        .ok()
        .and_then(|m| m.get("config-epoch")?.parse().ok())
        .unwrap_or(0);
    let sentinels = it
        .next()
        .and_then(|f| Vec::<HashMap<String, String>>::from_reply(f).ok())
        .unwrap_or_default()
        .iter()
        .filter_map(instance_addr)
        .collect();
    let replicas = it
        .next()
        .and_then(|f| Vec::<HashMap<String, String>>::from_reply(f).ok())
        .unwrap_or_default()
        .iter()
        .filter_map(replica_info)
        .collect();
    Outcome::Master {
        addr,
        epoch,
        sentinels,
        replicas,
    }
}

fn instance_addr(fields: &HashMap<String, String>) -> Option<NodeAddr> {
    let ip = fields.get("ip")?;
    let port = fields.get("port")?.parse().ok().filter(|p| *p != 0)?;
    Some(NodeAddr::new(ip.clone(), port))
}

fn replica_info(fields: &HashMap<String, String>) -> Option<ReplicaInfo> {
    let addr = instance_addr(fields)?;
    let flags = fields.get("flags").map(String::as_str).unwrap_or_default();
    let up = !flags
        .split(',')
        .any(|f| matches!(f, "s_down" | "o_down" | "disconnected"));
    let link_ok = fields.get("master-link-status").map(String::as_str) == Some("ok");
    let master = match (fields.get("master-host"), fields.get("master-port")) {
        (Some(h), Some(p)) if h != "?" => p
            .parse()
            .ok()
            .filter(|p| *p != 0)
            .map(|p| NodeAddr::new(h.clone(), p)),
        _ => None,
    };
    Some(ReplicaInfo {
        addr,
        up,
        link_ok,
        master,
    })
}

/// Every sentinel's answer.
#[derive(Debug)]
pub(crate) struct Answers {
    pub(crate) answers: Vec<(NodeAddr, Outcome)>,
}

/// Asks every sentinel in `sentinels` at once. Returns when all have answered, when a strict
/// majority has and the others had [`STRAGGLER_GRACE`] more, or at the sentinel timeout.
pub(crate) async fn ask_all(
    config: &Arc<SentinelConfig>,
    links: &Arc<Links>,
    sentinels: &[NodeAddr],
    replicas: bool,
) -> Answers {
    let mut tasks = JoinSet::new();
    for addr in sentinels {
        let (config, links, addr) = (config.clone(), links.clone(), addr.clone());
        tasks.spawn(async move {
            let outcome = ask(&config, &links, &addr, false, replicas).await;
            (addr, outcome)
        });
    }
    let mut answers = Vec::with_capacity(sentinels.len());
    let mut answered = 0;
    // The per-sentinel timeout bounds each task; this bounds the whole, in case.
    let mut until = Instant::now() + config.get_sentinel_timeout() + Duration::from_millis(50);
    loop {
        match tokio::time::timeout_at(until, tasks.join_next()).await {
            Ok(Some(Ok((addr, outcome)))) => {
                if !matches!(outcome, Outcome::Failed(_)) {
                    answered += 1;
                    if answered * 2 > sentinels.len() {
                        until = until.min(Instant::now() + STRAGGLER_GRACE);
                    }
                }
                answers.push((addr, outcome));
            }
            Ok(Some(Err(_))) => {}
            Ok(None) | Err(_) => break,
        }
    }
    // Stragglers (dropping the set aborts their tasks) count as timed out.
    for addr in sentinels {
        if !answers.iter().any(|(a, _)| a == addr) {
            answers.push((addr.clone(), Outcome::Failed(Error::Timeout { sent: true })));
        }
    }
    Answers { answers }
}

/// A candidate master: an address, the highest epoch any sentinel gave it with, and how many
/// sentinels named it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Candidate {
    pub(crate) addr: NodeAddr,
    pub(crate) epoch: u64,
    pub(crate) votes: usize,
}

impl Answers {
    /// The error when no sentinel named a master: none reachable, or none monitoring `name`.
    pub(crate) fn no_answer_error(&self, name: &str) -> Error {
        if self
            .answers
            .iter()
            .any(|(_, o)| matches!(o, Outcome::NotMonitored))
        {
            return Error::MasterNotMonitored { name: name.into() };
        }
        Error::SentinelsUnreachable {
            errors: self
                .answers
                .iter()
                .filter_map(|(a, o)| match o {
                    Outcome::Failed(e) => Some((a.clone(), e.clone())),
                    _ => None,
                })
                .collect(),
        }
    }

    /// The masters named, best first: by epoch, then by how many sentinels named them, then
    /// by address (for a stable order). An answer with an epoch older than `current_epoch` is
    /// dropped, unless every sentinel that answered named the same address.
    pub(crate) fn rank(&self, current_epoch: u64) -> Vec<Candidate> {
        let mut by_addr: HashMap<&NodeAddr, Candidate> = HashMap::new();
        for (_, outcome) in &self.answers {
            if let Outcome::Master { addr, epoch, .. } = outcome {
                let c = by_addr.entry(addr).or_insert_with(|| Candidate {
                    addr: addr.clone(),
                    epoch: 0,
                    votes: 0,
                });
                c.epoch = c.epoch.max(*epoch);
                c.votes += 1;
            }
        }
        let unanimous = by_addr.len() == 1
            && !self
                .answers
                .iter()
                .any(|(_, o)| matches!(o, Outcome::NotMonitored));
        let mut ranked: Vec<Candidate> = by_addr
            .into_values()
            .filter(|c| unanimous || c.epoch >= current_epoch)
            .collect();
        ranked.sort_by(|a, b| {
            (b.epoch, b.votes)
                .cmp(&(a.epoch, a.votes))
                .then_with(|| a.addr.cmp(&b.addr))
        });
        ranked
    }

    /// Sentinels the answers mention (`SENTINEL SENTINELS`), besides the ones asked.
    pub(crate) fn learned_sentinels(&self) -> BTreeSet<NodeAddr> {
        let mut learned = BTreeSet::new();
        for (_, outcome) in &self.answers {
            if let Outcome::Master { sentinels, .. } = outcome {
                learned.extend(sentinels.iter().cloned());
            }
        }
        for (asked, _) in &self.answers {
            learned.remove(asked);
        }
        learned
    }

    /// The replicas of `master`, as the sentinels that name `master` know them: those up with
    /// their link to `master` up; if there are none, those merely up (a replica whose link is
    /// down still serves reads, as of a moment ago).
    pub(crate) fn replicas_of(&self, master: &NodeAddr) -> Vec<NodeAddr> {
        let mut healthy = BTreeSet::new();
        let mut up = BTreeSet::new();
        for (_, outcome) in &self.answers {
            let Outcome::Master { addr, replicas, .. } = outcome else {
                continue;
            };
            if addr != master {
                continue;
            }
            for r in replicas.iter().filter(|r| r.up && r.addr != *master) {
                up.insert(r.addr.clone());
                if r.link_ok && r.master.as_ref() == Some(master) {
                    healthy.insert(r.addr.clone());
                }
            }
        }
        let chosen = if healthy.is_empty() { up } else { healthy };
        chosen.into_iter().collect()
    }
}

/// What `ROLE` says the server at `addr` is: `master`, `slave` or `sentinel`. Bounded by the
/// sentinel timeout (and the data nodes' connect timeout), so a dead candidate costs little.
pub(crate) async fn role_of(
    node: &Config,
    addr: &NodeAddr,
    timeout: Duration,
) -> std::result::Result<String, Error> {
    let timeout = timeout.min(node.get_connect_timeout());
    let attempt = async {
        let conn = Connection::connect(&addr.config(node).connect_timeout(timeout)).await?;
        let role = conn.role().await;
        conn.close();
        role
    };
    tokio::time::timeout(timeout, attempt)
        .await
        .unwrap_or(Err(Error::Timeout { sent: true }))
}

impl Connection {
    /// The first element of `ROLE`, lowercased.
    pub(crate) async fn role(&self) -> Result<String> {
        let deadline = self.deadline();
        let reply = self
            .request_until(Cmd::new("ROLE").into_bytes(), deadline)
            .await?;
        let items = Vec::<Frame>::from_reply(reply)?;
        let role = items
            .into_iter()
            .next()
            .ok_or_else(|| Error::response("empty ROLE reply"))?;
        Ok(String::from_reply(role)?.to_ascii_lowercase())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn master(addr: (&str, u16), epoch: u64) -> Outcome {
        Outcome::Master {
            addr: addr.into(),
            epoch,
            sentinels: Vec::new(),
            replicas: Vec::new(),
        }
    }

    fn answers(outcomes: Vec<Outcome>) -> Answers {
        Answers {
            answers: outcomes
                .into_iter()
                .enumerate()
                .map(|(i, o)| (NodeAddr::new("s", 26379 + i as u16), o))
                .collect(),
        }
    }

    #[test]
    fn the_highest_epoch_wins_then_the_majority() {
        let a = answers(vec![
            master(("old", 1), 3),
            master(("old", 1), 3),
            master(("new", 2), 4),
            Outcome::Failed(Error::Closed),
        ]);
        let ranked = a.rank(3);
        assert_eq!(ranked[0].addr, ("new", 2).into());
        assert_eq!(ranked[1].addr, ("old", 1).into());
        assert_eq!((ranked[1].epoch, ranked[1].votes), (3, 2));
        // Same epoch: the majority.
        let a = answers(vec![
            master(("b", 1), 0),
            master(("a", 1), 0),
            master(("b", 1), 0),
        ]);
        let ranked = a.rank(0);
        assert_eq!(ranked[0].addr, ("b", 1).into());
    }

    #[test]
    fn an_older_epoch_is_dropped_unless_everyone_agrees() {
        // A sentinel in a minority still names the old master with the old epoch.
        let a = answers(vec![master(("old", 1), 2), master(("new", 2), 5)]);
        let ranked = a.rank(5);
        assert_eq!(ranked.len(), 1);
        assert_eq!(ranked[0].addr, ("new", 2).into());
        // A group deployed afresh: everyone says epoch 0.
        let a = answers(vec![master(("fresh", 1), 0), master(("fresh", 1), 0)]);
        assert_eq!(a.rank(5)[0].addr, ("fresh", 1).into());
        // One of them alone with an old epoch is not "everyone".
        let a = answers(vec![master(("fresh", 1), 0), Outcome::NotMonitored]);
        assert!(a.rank(5).is_empty());
    }

    #[test]
    fn errors_tell_unreachable_from_not_monitored() {
        let a = answers(vec![
            Outcome::Failed(Error::Closed),
            Outcome::Failed(Error::Timeout { sent: true }),
        ]);
        match a.no_answer_error("m") {
            Error::SentinelsUnreachable { errors } => assert_eq!(errors.len(), 2),
            e => panic!("{e:?}"),
        }
        let a = answers(vec![Outcome::Failed(Error::Closed), Outcome::NotMonitored]);
        assert!(matches!(
            a.no_answer_error("m"),
            Error::MasterNotMonitored { name } if name == "m"
        ));
    }

    fn fields(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn replicas_skip_down_and_unlinked_ones() {
        let r = |port: &str, flags: &str, link: &str, mport: &str| {
            replica_info(&fields(&[
                ("ip", "h"),
                ("port", port),
                ("flags", flags),
                ("master-link-status", link),
                ("master-host", "h"),
                ("master-port", mport),
            ]))
            .unwrap()
        };
        let replicas = vec![
            r("1", "slave", "ok", "9"),
            r("2", "s_down,slave,disconnected", "err", "9"),
            r("3", "slave", "err", "9"),
            r("4", "slave", "ok", "8"), // follows another master
            r("5", "o_down,slave", "ok", "9"),
        ];
        let a = Answers {
            answers: vec![(
                NodeAddr::new("s", 1),
                Outcome::Master {
                    addr: ("h", 9).into(),
                    epoch: 0,
                    sentinels: Vec::new(),
                    replicas,
                },
            )],
        };
        assert_eq!(a.replicas_of(&("h", 9).into()), [("h", 1).into()]);
        // During a failover every link is down: the replicas that are up still serve reads.
        let mut down = a;
        if let Outcome::Master { replicas, .. } = &mut down.answers[0].1 {
            for r in replicas.iter_mut() {
                r.link_ok = false;
            }
        }
        assert_eq!(
            down.replicas_of(&("h", 9).into()),
            [("h", 1).into(), ("h", 3).into(), ("h", 4).into()]
        );
        assert!(down.replicas_of(&("other", 9).into()).is_empty());
        // "?" while the master is unknown.
        let q = replica_info(&fields(&[
            ("ip", "h"),
            ("port", "7"),
            ("master-host", "?"),
            ("master-port", "0"),
        ]))
        .unwrap();
        assert_eq!(q.master, None);
    }

    #[test]
    fn parses_the_pipeline_replies() {
        let b = |s: &str| Frame::bulk(s);
        let outcome = parse(vec![
            Frame::Array(vec![b("127.0.0.1"), b("7100")]),
            Frame::Array(vec![b("name"), b("m"), b("config-epoch"), b("7")]),
            Frame::Array(vec![Frame::Map(vec![
                (b("ip"), b("127.0.0.1")),
                (b("port"), b("26380")),
            ])]),
        ]);
        match outcome {
            Outcome::Master {
                addr,
                epoch,
                sentinels,
                ..
            } => {
                assert_eq!(addr, ("127.0.0.1", 7100).into());
                assert_eq!(epoch, 7);
                assert_eq!(sentinels, [("127.0.0.1", 26380).into()]);
            }
            o => panic!("{o:?}"),
        }
        assert!(matches!(
            parse(vec![
                Frame::Null,
                Frame::Error("ERR No such master with that name".into())
            ]),
            Outcome::NotMonitored
        ));
        assert!(matches!(
            parse(vec![
                Frame::Error("ERR unknown command 'SENTINEL'".into()),
                Frame::Error("ERR unknown command 'SENTINEL'".into())
            ]),
            Outcome::Failed(Error::Server(_))
        ));
        // No SENTINEL MASTER allowed: epoch 0.
        match parse(vec![
            Frame::Array(vec![b("h"), b("1")]),
            Frame::Error("NOPERM no".into()),
        ]) {
            Outcome::Master { epoch, .. } => assert_eq!(epoch, 0),
            o => panic!("{o:?}"),
        }
    }
}
