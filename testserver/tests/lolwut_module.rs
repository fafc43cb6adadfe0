//! LOLWUT and MODULE, against replies recorded from Redis 7.0.15.

mod common;

use common::{hello3, start};
use rediscover::resp::Frame;

fn text(frame: Frame) -> String {
    match frame {
        Frame::Bulk(b) => String::from_utf8(b.to_vec()).unwrap(),
        Frame::Verbatim { text, .. } => String::from_utf8(text.to_vec()).unwrap(),
        other => panic!("expected text, got {other:?}"),
    }
}

#[tokio::test]
async fn lolwut_draws_as_redis_7_0_does() {
    let (_server, mut c) = start().await;
    assert_eq!(text(c.frame(&["LOLWUT"]).await), "Redis ver. 7.0.15\n");
    assert_eq!(
        text(c.frame(&["LOLWUT", "VERSION", "7"]).await),
        "Redis ver. 7.0.15\n"
    );
    // Two rows of squares: nothing random yet, so every byte is Redis's.
    assert_eq!(
        text(c.frame(&["LOLWUT", "VERSION", "5", "10", "2", "2"]).await),
        "⠀⡤⠤⠤⠤⡤⠤⠤⠤⡄\n⠀⡇⠀⠀⠀⡇⠀⠀⠀⡇\n⠀⡧⠤⠤⠤⡧⠤⠤⠤⡇\n⠀⡇⠀⠀⠀⡇⠀⠀⠀⡇\n⠀⠧⠤⠤⠤⠧⠤⠤⠤⠇\n\nGeorg Nees - schotter, plotter on paper, 1968. Redis ver. 7.0.15\n"
    );
    assert_eq!(
        text(c.frame(&["LOLWUT", "VERSION", "5", "3", "1", "1"]).await),
        "⠀⡤⡄\n⠀⠉⠁\n\nGeorg Nees - schotter, plotter on paper, 1968. Redis ver. 7.0.15\n"
    );
    // The default Schotter: its first two rows are fixed, the rest is random.
    let schotter = text(c.frame(&["LOLWUT", "VERSION", "5"]).await);
    assert!(schotter.starts_with("⠀⡤⠤⠤⠤⠤⠤⠤⠤⡤⠤⠤⠤⠤⠤⠤⠤⡤"), "{schotter}");
    assert_eq!(schotter.lines().count(), 51);
    // The skyline: 20 rows of 80 colored cells.
    let skyline = text(c.frame(&["LOLWUT", "VERSION", "6"]).await);
    let rows: Vec<&str> = skyline.lines().collect();
    assert_eq!(rows.len(), 22);
    assert!(rows[..20]
        .iter()
        .all(|r| r.matches("\x1b[0m").count() == 80));
    assert_eq!(
        rows[21],
        "Original 8 bit image from Plaguemon by hikikomori. Redis ver. 7.0.15"
    );
    assert_reply!(
        c,
        ["LOLWUT", "VERSION", "x"],
        b"-ERR value is not an integer or out of range\r\n"
    );
    hello3(&mut c).await;
    let reply = c.call(&["LOLWUT"]).await;
    assert_eq!(reply, b"=22\r\ntxt:Redis ver. 7.0.15\n\r\n");
}

#[tokio::test]
async fn module_lists_nothing_and_loads_nothing() {
    let (_server, mut c) = start().await;
    assert_reply!(c, ["MODULE", "LIST"], b"*0\r\n");
    let refused = b"-ERR MODULE command not allowed. If the enable-module-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.\r\n";
    assert_reply!(c, ["MODULE", "LOAD", "/x.so"], refused);
    assert_reply!(c, ["MODULE", "LOADEX", "/x.so", "ARGS", "a"], refused);
    assert_reply!(c, ["MODULE", "UNLOAD", "foo"], refused);
    assert_reply!(
        c,
        ["MODULE", "FOO"],
        b"-ERR unknown subcommand 'FOO'. Try MODULE HELP.\r\n"
    );
    let help = c.call(&["MODULE", "HELP"]).await;
    assert!(help.starts_with(
        b"*11\r\n+MODULE <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n"
    ));

    let mut config = rediscover_testserver::config::Config::in_process();
    config
        .extra
        .insert("enable-module-command".into(), "yes".into());
    let server = rediscover_testserver::TestServer::builder()
        .config(config)
        .start()
        .await
        .unwrap();
    let mut c = common::connect(&server).await;
    assert_reply!(
        c,
        ["MODULE", "LOAD", "/x.so"],
        b"-ERR Error loading the extension. Please check the server logs.\r\n"
    );
    assert_reply!(
        c,
        ["MODULE", "UNLOAD", "foo"],
        b"-ERR Error unloading module: no such module with that name\r\n"
    );
}
