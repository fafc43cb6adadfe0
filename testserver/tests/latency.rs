//! LATENCY: reply shapes and texts as Redis 7.0.15 gives them. Samples are put into the
//! node's monitor directly, so the replies do not depend on how fast the machine is.

mod common;

use common::start;
use rediscover::resp::Frame;

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[tokio::test]
async fn latency_without_samples() {
    let (_server, mut c) = start().await;
    let Frame::Bulk(text) = c.frame(&["LATENCY", "DOCTOR"]).await else {
        panic!("DOCTOR");
    };
    assert_eq!(
        &text[..],
        &b"I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't in a deep space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n"[..]
    );
    c.call(&["CONFIG", "SET", "latency-monitor-threshold", "100"])
        .await;
    let Frame::Bulk(text) = c.frame(&["LATENCY", "DOCTOR"]).await else {
        panic!("DOCTOR");
    };
    assert_eq!(
        &text[..],
        &b"Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sit down calmly, take a stress pill, and think things over.\n"[..]
    );
    assert_eq!(c.call(&["LATENCY", "LATEST"]).await, b"*0\r\n");
    assert_eq!(c.call(&["LATENCY", "HISTORY", "command"]).await, b"*0\r\n");
    assert_eq!(c.call(&["LATENCY", "RESET"]).await, b":0\r\n");
    assert_eq!(
        c.call(&["LATENCY", "GRAPH", "foo"]).await,
        b"-ERR No samples available for event 'foo'\r\n"
    );
    assert_eq!(
        c.call(&["LATENCY", "foo"]).await,
        b"-ERR unknown subcommand 'foo'. Try LATENCY HELP.\r\n"
    );
    let help = c.call(&["LATENCY", "HELP"]).await;
    assert!(help.starts_with(
        b"*17\r\n+LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n+DOCTOR\r\n"
    ));
}

#[tokio::test]
async fn latency_samples_latest_history_doctor_reset() {
    let (server, mut c) = start().await;
    c.call(&["CONFIG", "SET", "latency-monitor-threshold", "5"])
        .await;
    let now = unix_now();
    {
        let mut node = server.node().lock();
        node.memory.latency.add_sample("command", 15, now - 10);
        node.memory.latency.add_sample("command", 25, now);
        node.memory.latency.add_sample("expire-cycle", 7, now);
    }
    let latest = String::from_utf8(c.call(&["LATENCY", "LATEST"]).await).unwrap();
    assert_eq!(
        latest,
        format!(
            "*2\r\n*4\r\n$7\r\ncommand\r\n:{now}\r\n:25\r\n:25\r\n*4\r\n$12\r\nexpire-cycle\r\n:{now}\r\n:7\r\n:7\r\n"
        )
    );
    let history = String::from_utf8(c.call(&["LATENCY", "HISTORY", "command"]).await).unwrap();
    assert_eq!(
        history,
        format!(
            "*2\r\n*2\r\n:{}\r\n:15\r\n*2\r\n:{now}\r\n:25\r\n",
            now - 10
        )
    );
    let Frame::Bulk(doctor) = c.frame(&["LATENCY", "DOCTOR"]).await else {
        panic!("DOCTOR");
    };
    let doctor = String::from_utf8(doctor.to_vec()).unwrap();
    assert!(doctor.starts_with("Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n1. command: 2 latency spikes (average 20ms, mean deviation 5ms, period "), "{doctor}");
    assert!(doctor.contains(" sec). Worst all time event 25ms.\n2. expire-cycle: 1 latency spikes (average 7ms, mean deviation 0ms, period "), "{doctor}");
    assert!(doctor.ends_with("\nI have a few advices for you:\n\n- Your current Slow Log configuration only logs events that are slower than your configured latency monitor threshold. Please use 'CONFIG SET slowlog-log-slower-than 5000'.\n- Check your Slow Log to understand what are the commands you are running which are too slow to execute. Please check https://redis.io/commands/slowlog for more information.\n- In order to make the Redis keys expiring process more incremental, try to set the 'hz' configuration parameter to 100 using 'CONFIG SET hz 100'.\n- Deleting, expiring or evicting (because of maxmemory policy) large objects is a blocking operation. If you have very large objects that are often deleted, expired, or evicted, try to fragment those objects into multiple smaller objects.\n"), "{doctor}");
    let Frame::Bulk(graph) = c.frame(&["LATENCY", "GRAPH", "command"]).await else {
        panic!("GRAPH");
    };
    let graph = String::from_utf8(graph.to_vec()).unwrap();
    assert!(
        graph.starts_with("command - high 25 ms, low 15 ms (all time high 25 ms)\n"),
        "{graph}"
    );
    assert_eq!(
        c.call(&["LATENCY", "RESET", "COMMAND", "nosuch"]).await,
        b":1\r\n"
    );
    assert_eq!(c.call(&["LATENCY", "RESET"]).await, b":1\r\n");
    assert_eq!(c.call(&["LATENCY", "LATEST"]).await, b"*0\r\n");
}

#[tokio::test]
async fn latency_histogram_counts_calls_per_command() {
    let (_server, mut c) = start().await;
    for i in 0..7 {
        c.call(&["SET", &format!("k{i}"), "v"]).await;
    }
    c.call(&["CONFIG", "GET", "hz"]).await;
    let Frame::Array(items) = c
        .frame(&["LATENCY", "HISTOGRAM", "set", "config", "nosuch"])
        .await
    else {
        panic!("HISTOGRAM");
    };
    assert_eq!(items.len(), 4, "{items:?}");
    assert_eq!(items[0], Frame::Bulk("set".into()));
    let Frame::Array(set) = &items[1] else {
        panic!("{items:?}")
    };
    assert_eq!(set[0], Frame::Bulk("calls".into()));
    assert_eq!(set[1], Frame::Integer(7));
    assert_eq!(set[2], Frame::Bulk("histogram_usec".into()));
    let Frame::Array(cdf) = &set[3] else {
        panic!("{set:?}")
    };
    assert_eq!(cdf.last(), Some(&Frame::Integer(7)));
    assert_eq!(items[2], Frame::Bulk("config|get".into()));
    // Tracking off: nothing new is recorded.
    c.call(&["CONFIG", "SET", "latency-tracking", "no"]).await;
    c.call(&["GET", "k1"]).await;
    assert_eq!(c.call(&["LATENCY", "HISTOGRAM", "get"]).await, b"*0\r\n");
}

/// The `# Latencystats` section's lines.
async fn latencystats(c: &mut common::RawConn) -> Vec<String> {
    let Frame::Bulk(text) = c.frame(&["INFO", "latencystats"]).await else {
        panic!("INFO");
    };
    String::from_utf8(text.to_vec())
        .unwrap()
        .split("\r\n")
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

/// CONFIG latency-tracking-info-percentiles as Redis 7.0.15 answered the same settings.
#[tokio::test]
async fn info_percentiles_config() {
    let (_server, mut c) = start().await;
    let get = |v: &str| {
        format!(
            "*2\r\n$33\r\nlatency-tracking-info-percentiles\r\n${}\r\n{v}\r\n",
            v.len()
        )
    };
    let name = "latency-tracking-info-percentiles";
    let reply = |c: Vec<u8>| String::from_utf8(c).unwrap();
    assert_eq!(
        reply(c.call(&["CONFIG", "GET", name]).await),
        get("50 99 99.9")
    );
    let set = |v: &'static str| ["CONFIG", "SET", name, v];
    assert_eq!(
        reply(c.call(&set("0.5 99.999 100 1e1 0.0000001")).await),
        "+OK\r\n"
    );
    assert_eq!(
        reply(c.call(&["CONFIG", "GET", name]).await),
        get("0.5 99.999 100 10 0")
    );
    let invalid = "-ERR CONFIG SET failed (possibly related to argument 'latency-tracking-info-percentiles') - Invalid latency-tracking-info-percentiles parameters\r\n";
    for bad in ["abc", "50  99", " 50"] {
        assert_eq!(reply(c.call(&set(bad)).await), invalid, "{bad:?}");
    }
    assert_eq!(
        reply(c.call(&set("101")).await),
        "-ERR CONFIG SET failed (possibly related to argument 'latency-tracking-info-percentiles') - latency-tracking-info-percentiles parameters should sit between [0.0,100.0]\r\n"
    );
    assert_eq!(reply(c.call(&set("")).await), "+OK\r\n");
    assert_eq!(reply(c.call(&["CONFIG", "GET", name]).await), get(""));
    // No percentiles: each command that ran since RESETSTAT has an empty line.
    c.call(&["CONFIG", "RESETSTAT"]).await;
    c.call(&["PING"]).await;
    let mut lines = latencystats(&mut c).await;
    lines.sort();
    assert_eq!(
        lines,
        [
            "# Latencystats",
            "latency_percentiles_usec_config|resetstat:",
            "latency_percentiles_usec_ping:",
        ]
    );
}

/// INFO latencystats prints the configured percentiles of each command's HDR histogram
/// (Redis's `hdr_value_at_percentile`: the highest value equivalent to the sample reached),
/// in microseconds with three decimals; samples are put into the node directly.
#[tokio::test]
async fn info_latencystats_percentiles() {
    let (server, mut c) = start().await;
    {
        let mut st = server.node().lock();
        st.memory.histograms.clear();
        let h = st.memory.histograms.entry("get").or_default();
        for usec in [1, 2, 3, 4, 5, 6, 7, 8, 9, 1000] {
            h.record(usec);
        }
    }
    let lines = latencystats(&mut c).await;
    assert_eq!(
        lines,
        [
            "# Latencystats",
            "latency_percentiles_usec_get:p50=5.023,p99=1003.519,p99.9=1003.519",
        ]
    );
    c.call(&[
        "CONFIG",
        "SET",
        "latency-tracking-info-percentiles",
        "0 10 100",
    ])
    .await;
    let lines = latencystats(&mut c).await;
    assert!(
        lines.contains(&"latency_percentiles_usec_get:p0=1.000,p10=1.003,p100=1003.519".into()),
        "{lines:?}"
    );
    // Tracking off: the section is only its header.
    c.call(&["CONFIG", "SET", "latency-tracking", "no"]).await;
    assert_eq!(latencystats(&mut c).await, ["# Latencystats"]);
}
