//! TLS (`rediss://`), against a TLS-enabled real Redis named by `REDISCOVER_TLS_URL` with its
//! CA certificate at `REDISCOVER_TLS_CA` (a PEM file). Without those variables the networked
//! test has nothing to talk to and only the configuration checks run.

#[cfg(feature = "tls")]
use rediscover::{Bytes, Commands, Subscriber};
use rediscover::{Client, Config, ErrorKind};

#[cfg(not(feature = "tls"))]
#[tokio::test]
async fn rediss_without_the_feature_is_a_config_error() {
    let config: Config = "rediss://127.0.0.1:1".parse().unwrap();
    assert!(config.is_tls());
    let e = Client::with_config(config).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
}

#[cfg(feature = "tls")]
#[tokio::test]
async fn bad_root_certificate_is_a_config_error() {
    let server = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("rediss://{}", server.local_addr().unwrap());
    let pem = "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n";
    let config = Config::from_url(&url).unwrap().tls_root_certificate(pem);
    let e = Client::with_config(config).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config, "{e:?}");
}

#[cfg(feature = "tls")]
#[tokio::test]
async fn talks_tls_to_a_real_server() {
    let (Ok(url), Ok(ca)) = (
        std::env::var("REDISCOVER_TLS_URL"),
        std::env::var("REDISCOVER_TLS_CA"),
    ) else {
        eprintln!("REDISCOVER_TLS_URL / REDISCOVER_TLS_CA not set: no TLS server to test");
        return;
    };
    let pem = std::fs::read(ca).unwrap();
    let config = Config::from_url(&url)
        .unwrap()
        .tls_root_certificate(pem.clone());
    let client = Client::with_config(config.clone()).await.unwrap();
    assert_eq!(client.ping().await.unwrap(), "PONG");
    client.set("tls:k", "v").await.unwrap();
    assert_eq!(
        client.get::<Option<Bytes>>("tls:k").await.unwrap().unwrap(),
        &b"v"[..]
    );
    let mut sub = Subscriber::with_config(config).await.unwrap();
    sub.subscribe("tls:ch").await.unwrap();
    assert_eq!(client.publish("tls:ch", "m").await.unwrap(), 1);
    assert_eq!(sub.next_message().await.unwrap().payload, "m");
    // Without the CA the certificate is refused.
    let e = Client::connect(&url).await.unwrap_err();
    assert!(e.is_not_sent(), "{e:?}");
}
