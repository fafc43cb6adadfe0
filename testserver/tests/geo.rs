//! GEO commands (GEOADD, GEODIST, GEOHASH, GEOPOS, GEORADIUS(BYMEMBER)(_RO), GEOSEARCH,
//! GEOSEARCHSTORE) byte for byte as Redis 7.0.15 answers them (replies recorded from a real
//! Redis): geohash scores, distances to the last digit, coordinates, errors; what replicas
//! receive; and a randomized comparison with a real Redis when `REDISCOVER_REAL_REDIS=host:port`
//! is set.

mod common;

use std::net::ToSocketAddrs;
use std::time::Duration;

use common::{connect, hello3, start, RawConn, Rng, TestServer};
use rediscover_testserver::topology::ReplicationSet;

async fn expect(c: &mut RawConn, argv: &[&str], want: &[u8]) {
    let got = c.call(argv).await;
    assert_eq!(
        got.escape_ascii().to_string(),
        want.escape_ascii().to_string(),
        "reply to {argv:?}"
    );
}

#[tokio::test]
async fn replies_are_redis_bytes() {
    let steps: &[(&[&str], &[u8])] = &[
        (&["GEOADD", "Sicily", "13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania"], b":2\r\n"),
        (&["GEOADD", "Sicily", "CH", "13.361389", "38.115556", "Palermo", "13.583333", "37.316667", "Agrigento"], b":1\r\n"),
        (&["GEOADD", "Sicily", "XX", "CH", "13.5", "37.3", "Agrigento", "1", "1", "Nowhere"], b":1\r\n"),
        (&["GEOADD", "Sicily", "NX", "13.583333", "37.316667", "Agrigento"], b":0\r\n"),
        (&["ZSCORE", "Sicily", "Palermo"], b"$16\r\n3479099956230698\r\n"),
        (&["GEODIST", "Sicily", "Palermo", "Catania"], b"$11\r\n166274.1516\r\n"),
        (&["GEODIST", "Sicily", "Palermo", "Catania", "km"], b"$8\r\n166.2742\r\n"),
        (&["GEODIST", "Sicily", "Palermo", "Catania", "MI"], b"$8\r\n103.3182\r\n"),
        (&["GEODIST", "Sicily", "Palermo", "Nobody"], b"$-1\r\n"),
        (&["GEOHASH", "Sicily", "Palermo", "Catania", "Nobody"], b"*3\r\n$11\r\nsqc8b49rny0\r\n$11\r\nsqdtr74hyu0\r\n$-1\r\n"),
        (&["GEOPOS", "Sicily", "Palermo", "Nobody"], b"*2\r\n*2\r\n$20\r\n13.36138933897018433\r\n$20\r\n38.11555639549629859\r\n*-1\r\n"),
        (&["GEORADIUS", "Sicily", "15", "37", "200", "km", "WITHDIST", "WITHCOORD", "WITHHASH"], b"*3\r\n*4\r\n$9\r\nAgrigento\r\n$8\r\n137.1013\r\n:3479028340915260\r\n*2\r\n$20\r\n13.50000053644180298\r\n$19\r\n37.2999997235943539\r\n*4\r\n$7\r\nPalermo\r\n$8\r\n190.4424\r\n:3479099956230698\r\n*2\r\n$20\r\n13.36138933897018433\r\n$20\r\n38.11555639549629859\r\n*4\r\n$7\r\nCatania\r\n$7\r\n56.4413\r\n:3479447370796909\r\n*2\r\n$20\r\n15.08726745843887329\r\n$20\r\n37.50266842333162032\r\n"),
        (&["GEORADIUS", "Sicily", "15", "37", "200", "km", "DESC", "COUNT", "1"], b"*1\r\n$7\r\nPalermo\r\n"),
        (&["GEORADIUSBYMEMBER", "Sicily", "Agrigento", "100", "km", "WITHDIST"], b"*2\r\n*2\r\n$9\r\nAgrigento\r\n$6\r\n0.0000\r\n*2\r\n$7\r\nPalermo\r\n$7\r\n91.5277\r\n"),
        (&["GEORADIUSBYMEMBER_RO", "Sicily", "Agrigento", "100", "km", "ASC"], b"*2\r\n$9\r\nAgrigento\r\n$7\r\nPalermo\r\n"),
        (&["GEORADIUS_RO", "Sicily", "15", "37", "200", "km", "STORE", "x"], b"-ERR syntax error\r\n"),
        (&["GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "400", "400", "km", "ASC", "WITHCOORD", "WITHDIST"], b"*3\r\n*3\r\n$7\r\nCatania\r\n$7\r\n56.4413\r\n*2\r\n$20\r\n15.08726745843887329\r\n$20\r\n37.50266842333162032\r\n*3\r\n$9\r\nAgrigento\r\n$8\r\n137.1013\r\n*2\r\n$20\r\n13.50000053644180298\r\n$19\r\n37.2999997235943539\r\n*3\r\n$7\r\nPalermo\r\n$8\r\n190.4424\r\n*2\r\n$20\r\n13.36138933897018433\r\n$20\r\n38.11555639549629859\r\n"),
        (&["GEOSEARCH", "Sicily", "FROMMEMBER", "Palermo", "BYRADIUS", "100", "km", "COUNT", "2", "ANY"], b"*2\r\n$9\r\nAgrigento\r\n$7\r\nPalermo\r\n"),
        (&["GEOSEARCHSTORE", "dst", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "STOREDIST"], b":3\r\n"),
        (&["ZRANGE", "dst", "0", "-1", "WITHSCORES"], b"*6\r\n$7\r\nCatania\r\n$18\r\n56.441257870158204\r\n$9\r\nAgrigento\r\n$18\r\n137.10127733069919\r\n$7\r\nPalermo\r\n$18\r\n190.44242984775784\r\n"),
        (&["GEORADIUS", "Sicily", "15", "37", "200", "km", "STORE", "st"], b":3\r\n"),
        (&["ZRANGE", "st", "0", "-1", "WITHSCORES"], b"*6\r\n$9\r\nAgrigento\r\n$16\r\n3479028340915260\r\n$7\r\nPalermo\r\n$16\r\n3479099956230698\r\n$7\r\nCatania\r\n$16\r\n3479447370796909\r\n"),
        (&["GEOSEARCHSTORE", "dst", "nokey", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km"], b":0\r\n"),
        (&["EXISTS", "dst"], b":0\r\n"),
        (&["GEOADD", "k", "200", "100", "m"], b"-ERR invalid longitude,latitude pair 200.000000,100.000000\r\n"),
        (&["GEOADD", "k", "abc", "1", "m"], b"-ERR value is not a valid float\r\n"),
        (&["GEOADD", "k", "1", "2"], b"-ERR wrong number of arguments for 'geoadd' command\r\n"),
        (&["GEOADD", "k", "NX", "XX", "1", "2", "m"], b"-ERR syntax error\r\n"),
        (&["GEODIST", "Sicily", "Palermo", "Catania", "yd"], b"-ERR unsupported unit provided. please use M, KM, FT, MI\r\n"),
        (&["GEORADIUS", "Sicily", "15", "37", "-1", "km"], b"-ERR radius cannot be negative\r\n"),
        (&["GEORADIUS", "Sicily", "15", "37", "x", "km"], b"-ERR need numeric radius\r\n"),
        (&["GEORADIUS", "Sicily", "15", "37", "1", "km", "COUNT", "0"], b"-ERR COUNT must be > 0\r\n"),
        (&["GEORADIUS", "Sicily", "15", "37", "1", "km", "ANY"], b"-ERR the ANY argument requires COUNT argument\r\n"),
        (&["GEORADIUS", "Sicily", "15", "37", "1", "km", "WITHDIST", "STORE", "x"], b"-ERR STORE option in GEORADIUS is not compatible with WITHDIST, WITHHASH and WITHCOORD options\r\n"),
        (&["GEORADIUSBYMEMBER", "Sicily", "Nobody", "1", "km"], b"-ERR could not decode requested zset member\r\n"),
        (&["GEOSEARCH", "Sicily", "BYRADIUS", "1", "km"], b"-ERR wrong number of arguments for 'geosearch' command\r\n"),
        (&["GEOSEARCH", "Sicily", "FROMLONLAT", "1", "2"], b"-ERR wrong number of arguments for 'geosearch' command\r\n"),
        (&["GEOSEARCH", "Sicily", "FROMLONLAT", "1", "2", "BYBOX", "1", "-2", "km"], b"-ERR height or width cannot be negative\r\n"),
        (&["GEOSEARCH", "Sicily", "FROMLONLAT", "1", "2", "BYBOX", "x", "2", "km"], b"-ERR need numeric width\r\n"),
        (&["GEOSEARCH", "Sicily", "FROMLONLAT", "1", "2", "BYRADIUS", "1", "km", "STORE", "x"], b"-ERR syntax error\r\n"),
        (&["GEOSEARCHSTORE", "d", "Sicily", "FROMLONLAT", "1", "2", "BYRADIUS", "1", "km", "WITHDIST"], b"-ERR GEOSEARCHSTORE is not compatible with WITHDIST, WITHHASH and WITHCOORD options\r\n"),
        (&["GEOSEARCH", "Sicily", "FROMMEMBER", "Nobody", "BYRADIUS", "1", "km"], b"-ERR could not decode requested zset member\r\n"),
        (&["SET", "str", "x"], b"+OK\r\n"),
        (&["GEOADD", "str", "1", "2", "m"], b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
        (&["GEOPOS", "str", "a"], b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
    ];
    let (_server, mut c) = start().await;
    for (argv, want) in steps {
        expect(&mut c, argv, want).await;
    }
}

#[tokio::test]
async fn resp3_coordinates_are_doubles() {
    let (_server, mut c) = start().await;
    hello3(&mut c).await;
    expect(
        &mut c,
        &["GEOADD", "Sicily", "13.361389", "38.115556", "Palermo"],
        b":1\r\n",
    )
    .await;
    expect(
        &mut c,
        &["GEOPOS", "Sicily", "Palermo", "x"],
        b"*2\r\n*2\r\n,13.36138933897018433\r\n,38.11555639549629859\r\n_\r\n",
    )
    .await;
    expect(&mut c, &["GEODIST", "Sicily", "Palermo", "x"], b"_\r\n").await;
}

#[tokio::test]
async fn geoadd_reaches_replicas_as_zadd() {
    let master = TestServer::start().await.unwrap();
    let replica = TestServer::builder()
        .replica_of(master.addr())
        .start()
        .await
        .unwrap();
    let set = ReplicationSet {
        master,
        replicas: vec![replica],
    };
    set.wait_in_sync(Duration::from_secs(10)).await.unwrap();
    let mut m = connect(&set.master).await;
    expect(
        &mut m,
        &[
            "GEOADD",
            "g",
            "13.361389",
            "38.115556",
            "Palermo",
            "15.087269",
            "37.502669",
            "Catania",
        ],
        b":2\r\n",
    )
    .await;
    expect(
        &mut m,
        &["GEORADIUS", "g", "15", "37", "200", "km", "STORE", "st"],
        b":2\r\n",
    )
    .await;
    set.wait_in_sync(Duration::from_secs(10)).await.unwrap();
    let mut r = connect(&set.replicas[0]).await;
    for key in ["g", "st"] {
        let want = m.call(&["ZRANGE", key, "0", "-1", "WITHSCORES"]).await;
        assert_eq!(
            r.call(&["ZRANGE", key, "0", "-1", "WITHSCORES"]).await,
            want
        );
    }
    expect(
        &mut r,
        &["ZSCORE", "g", "Palermo"],
        b"$16\r\n3479099956230698\r\n",
    )
    .await;
}

/// Random points and searches of every shape, unit and option, compared reply by reply with a
/// real Redis when `REDISCOVER_REAL_REDIS=host:port` is set.
#[tokio::test]
async fn randomized_against_real_redis() {
    let Ok(target) = std::env::var("REDISCOVER_REAL_REDIS") else {
        eprintln!("real-Redis comparison SKIPPED: set REDISCOVER_REAL_REDIS=host:port");
        return;
    };
    let addr = target
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .expect("REDISCOVER_REAL_REDIS is host:port");
    let (_server, mut ours) = start().await;
    let mut real = RawConn::connect(addr).await;
    expect(&mut real, &["SELECT", "14"], b"+OK\r\n").await;
    expect(&mut real, &["FLUSHDB"], b"+OK\r\n").await;
    expect(&mut ours, &["SELECT", "14"], b"+OK\r\n").await;
    let mut rng = Rng(0x6e0_5eed);
    let coord = |rng: &mut Rng, max: f64| {
        let unit = rng.below(2_000_001) as f64 / 1_000_000.0 - 1.0;
        format!("{:.6}", unit * max)
    };
    let mut steps: Vec<Vec<String>> = Vec::new();
    for i in 0..400 {
        let (lon, lat) = (coord(&mut rng, 180.0), coord(&mut rng, 85.05));
        steps.push(vec!["GEOADD".into(), "w".into(), lon, lat, format!("p{i}")]);
    }
    let units = ["m", "km", "mi", "ft"];
    let options: &[&[&str]] = &[
        &[],
        &["WITHDIST"],
        &["WITHCOORD", "WITHHASH", "WITHDIST"],
        &["COUNT", "5"],
        &["COUNT", "3", "ANY"],
        &["DESC", "WITHDIST"],
        &["ASC", "COUNT", "10", "WITHDIST"],
    ];
    for _ in 0..300 {
        let (lon, lat) = (coord(&mut rng, 180.0), coord(&mut rng, 85.05));
        let unit = rng.pick(&units).to_string();
        let per_unit = match unit.as_str() {
            "m" => 1.0,
            "km" => 1000.0,
            "mi" => 1609.34,
            _ => 0.3048,
        };
        let meters = [1000.0, 50_000.0, 500_000.0, 2_000_000.0, 8_000_000.0][rng.below(5) as usize];
        let radius = format!("{}", meters / per_unit);
        let opts: Vec<String> = options[rng.below(options.len() as u64) as usize]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let member = format!("p{}", rng.below(400));
        let mut argv: Vec<String> = match rng.below(4) {
            0 => vec!["GEORADIUS".into(), "w".into(), lon, lat, radius, unit],
            1 => vec![
                "GEOSEARCH".into(),
                "w".into(),
                "FROMLONLAT".into(),
                lon,
                lat,
                "BYBOX".into(),
                format!("{}", meters * 2.0 / per_unit),
                radius,
                unit,
            ],
            2 => vec!["GEORADIUSBYMEMBER".into(), "w".into(), member, radius, unit],
            _ => vec![
                "GEODIST".into(),
                "w".into(),
                member,
                format!("p{}", rng.below(400)),
                unit,
            ],
        };
        if argv[0] != "GEODIST" {
            argv.extend(opts);
        }
        steps.push(argv);
    }
    for (i, argv) in steps.iter().enumerate() {
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        let want = real.call(&argv).await;
        let got = ours.call(&argv).await;
        assert_eq!(
            got.escape_ascii().to_string(),
            want.escape_ascii().to_string(),
            "step {i}: {argv:?}"
        );
    }
    expect(&mut real, &["FLUSHDB"], b"+OK\r\n").await;
}
