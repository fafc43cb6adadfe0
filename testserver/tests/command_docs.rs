//! COMMAND DOCS, COUNT, LIST and INFO against Redis 7.0.15: replies recorded from it
//! (fixtures/command_docs.txt) must come back byte for byte, every command's docs must parse,
//! and with `REDISCOVER_REAL_REDIS=host:port` every command without subcommands (whose order
//! Redis randomises per process) is compared with the live server.

mod common;

use std::net::ToSocketAddrs;

use common::{hello3, start, RawConn};
use rediscover::resp::Frame;

fn fixtures() -> Vec<(String, Vec<u8>)> {
    let text = include_str!("fixtures/command_docs.txt");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (req, hex) = l.split_once('\t').unwrap();
            let bytes = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                .collect();
            (req.to_string(), bytes)
        })
        .collect()
}

#[tokio::test]
async fn command_docs_match_recorded_replies() {
    let (_server, mut c) = start().await;
    let (_server3, mut c3) = start().await;
    hello3(&mut c3).await;
    for (req, want) in fixtures() {
        let (conn, req) = match req.strip_prefix("RESP3 ") {
            Some(r) => (&mut c3, r.to_string()),
            None => (&mut c, req),
        };
        let argv: Vec<&str> = req.split(' ').collect();
        let got = conn.call(&argv).await;
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&want),
            "{req}"
        );
    }
}

#[tokio::test]
async fn every_command_is_listed_and_its_docs_parse() {
    let (_server, mut c) = start().await;
    assert_eq!(c.call(&["COMMAND", "COUNT"]).await, b":240\r\n");
    let Frame::Array(names) = c.frame(&["COMMAND", "LIST"]).await else {
        panic!("COMMAND LIST");
    };
    // Redis 7.0.15: 240 commands and 126 subcommands.
    assert_eq!(names.len(), 366);
    let Frame::Array(docs) = c.frame(&["COMMAND", "DOCS"]).await else {
        panic!("COMMAND DOCS");
    };
    assert_eq!(docs.len(), 480);
    // BGREWRITEAOF, the last command that was only described, now runs.
    let Frame::Array(info) = c.frame(&["COMMAND", "INFO", "bgrewriteaof"]).await else {
        panic!("COMMAND INFO");
    };
    assert_ne!(info[0], Frame::Null);
    assert_eq!(
        c.call(&["BGREWRITEAOF"]).await,
        b"+Background append only file rewriting started\r\n"
    );
}

#[tokio::test]
async fn command_docs_match_a_real_redis() {
    let Ok(addr) = std::env::var("REDISCOVER_REAL_REDIS") else {
        eprintln!("REDISCOVER_REAL_REDIS not set: comparison skipped");
        return;
    };
    let addr = addr.to_socket_addrs().unwrap().next().unwrap();
    let mut real = RawConn::connect(addr).await;
    let (_server, mut ours) = start().await;
    let mut compared = 0;
    for info in rediscover::command::all() {
        if !info.subcommands.is_empty() || rediscover::command::sentinel_only(info.name.as_bytes())
        {
            continue;
        }
        let argv = ["COMMAND", "DOCS", info.name];
        assert_eq!(
            String::from_utf8_lossy(&ours.call(&argv).await),
            String::from_utf8_lossy(&real.call(&argv).await),
            "{}",
            info.name
        );
        compared += 1;
    }
    assert!(compared > 200);
}
