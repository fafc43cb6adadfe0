//! `rediscover-server`: a drop-in for `redis-server`.
//!
//! Same command line (`rediscover-server [config-file] [--directive value ...] [-]`), same
//! configuration errors and exit codes, same log lines, so scripts and test harnesses written
//! for `redis-server` can start this instead.
//!
//! With `--sentinel`, or when started under a name containing `rediscover-sentinel` (a link
//! named so), it runs as `redis-sentinel`: `sentinel` directives in the config file, which
//! it rewrites with its state.

use std::io::Read;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use rediscover_testserver::config::Config;
use rediscover_testserver::config_table::{apply_directive, parse_config_file};
use rediscover_testserver::logging::{Level, Logger, Role};
use rediscover_testserver::node::{Node, ShutdownFlags};
use rediscover_testserver::sentinel::SentinelConfig;
use rediscover_testserver::REDIS_VERSION;
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};

const NAME: &str = "rediscover-server";

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options: a background thread gives freed pages back to the system within about a
/// second, as Redis's jemalloc does.
#[allow(non_upper_case_globals)]
#[export_name = "_rjem_malloc_conf"]
pub static malloc_conf: &[u8] = b"background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0\0";

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    // Redis's test: the program's name, or `--sentinel` anywhere.
    let sentinel = std::env::args().next().is_some_and(|a| {
        let base = std::path::Path::new(&a)
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        base.contains("rediscover-sentinel") || base.contains("redis-sentinel")
    }) || args.iter().any(|a| a == "--sentinel");
    args.retain(|a| a != "--sentinel");
    match args.first().map(String::as_str) {
        Some("-v" | "--version") => {
            println!(
                "Redis server v={REDIS_VERSION} sha=00000000:0 malloc=libc bits=64 build=rediscover-{}",
                env!("CARGO_PKG_VERSION")
            );
            return ExitCode::SUCCESS;
        }
        Some("-h" | "--help") => {
            eprint!("{}", usage());
            return ExitCode::FAILURE;
        }
        _ => {}
    }
    let startup = match load_config(&args, sentinel) {
        Ok(s) => s,
        Err(e) => {
            eprint!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let logger = match Logger::new(&startup.config.loglevel, &startup.config.logfile) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("Can't open the log file: {} ({e})", startup.config.logfile);
            return ExitCode::FAILURE;
        }
    };
    // A sentinel's directives are checked, and its file must be writable, before it starts.
    let sentinel = match &startup.sentinel {
        None => None,
        Some(_) if startup.config.config_file.is_none() => {
            let msg = "Sentinel needs config file on disk to save state. Exiting...";
            logger.log(Role::Sentinel, Level::Warning, msg);
            return ExitCode::FAILURE;
        }
        Some(conf) => {
            match rediscover_testserver::sentinel::new_node(
                startup.config.clone(),
                conf.clone(),
                Default::default(),
            ) {
                Ok(node) => Some(node),
                Err(e) if e.starts_with('\n') => {
                    eprint!("{e}");
                    return ExitCode::FAILURE;
                }
                Err(e) => {
                    logger.log(Role::Sentinel, Level::Warning, &e);
                    return ExitCode::FAILURE;
                }
            }
        }
    };
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    // As many worker threads as `io-threads` (default 1, as in Redis, whose commands all run
    // on one thread): the node's state is behind one lock, so on a small machine a second
    // worker mostly contends for it (on 2 cores, EVALSHA -P 16 ran 0.64x Redis with two
    // workers and 0.79x with one; XADD 0.69x and 0.88x). `io-threads N` gives N workers, for
    // many connections on many cores. TOKIO_WORKER_THREADS, when set, still decides.
    if std::env::var_os("TOKIO_WORKER_THREADS").is_none() {
        let io_threads = startup
            .config
            .extra_or("io-threads", "1")
            .parse::<usize>()
            .unwrap_or(1)
            .clamp(1, 128);
        builder.worker_threads(io_threads);
    }
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("Can't start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(serve(startup, sentinel, std::sync::Arc::new(logger)))
}

fn usage() -> String {
    format!(
        "rediscover-server {} — a Redis {REDIS_VERSION}-compatible server written in Rust (not Redis)\n\
         \n\
         Usage: {NAME} [/path/to/redis.conf] [options] [-]\n\
         \x20      {NAME} - (read config from stdin)\n\
         \x20      {NAME} -v or --version\n\
         \x20      {NAME} -h or --help\n\
         \n\
         Examples:\n\
         \x20      {NAME} (run the server with default conf)\n\
         \x20      echo 'port 7000' | {NAME} -\n\
         \x20      {NAME} /etc/redis/6379.conf\n\
         \x20      {NAME} --port 7777\n\
         \x20      {NAME} --port 0 --save '' (port 0: pick a free port, logged at startup)\n\
         \x20      {NAME} /etc/myredis.conf --loglevel verbose\n",
        env!("CARGO_PKG_VERSION")
    )
}

/// The configuration to start with, and how it was given (for the startup log).
struct Startup {
    config: Config,
    from_file_or_options: bool,
    /// Sentinel mode: the `sentinel` directives.
    sentinel: Option<SentinelConfig>,
}

/// One configuration line: where it came from (for error messages) and what it says.
struct Line {
    number: usize,
    shown: String,
    name: String,
    args: Vec<String>,
}

/// Reads the config file, stdin (`-`) and `--directive value...` options, in that order, and
/// applies them like redis-server does; errors are its FATAL CONFIG FILE ERROR block.
fn load_config(args: &[String], sentinel_mode: bool) -> Result<Startup, String> {
    let mut rest = args;
    let mut text = String::new();
    let mut config = Config::default();
    if sentinel_mode {
        config.port = 26379;
    }
    if let Some(path) = rest.first().filter(|a| !a.starts_with('-')) {
        text = std::fs::read_to_string(path)
            .map_err(|e| format!("Fatal error, can't open config file '{path}': {e}\n"))?;
        let absolute = std::fs::canonicalize(path).unwrap_or_else(|_| path.into());
        config.config_file = Some(absolute);
        rest = &rest[1..];
    }
    let mut options: Vec<(String, Vec<String>)> = Vec::new();
    let mut stdin = false;
    for arg in rest {
        if arg == "-" {
            stdin = true;
        } else if let Some(name) = arg.strip_prefix("--").filter(|n| !n.is_empty()) {
            options.push((name.to_string(), Vec::new()));
        } else if let Some((_, values)) = options.last_mut() {
            values.push(arg.clone());
        } else {
            return Err(format!(
                "Invalid option '{arg}'. Options must start with --.\n{}",
                usage()
            ));
        }
    }
    if stdin {
        let mut extra = String::new();
        std::io::stdin()
            .read_to_string(&mut extra)
            .map_err(|e| format!("Fatal error, can't read config from stdin: {e}\n"))?;
        text.push('\n');
        text.push_str(&extra);
    }
    let mut lines = Vec::new();
    for (i, raw) in text.split('\n').enumerate() {
        for (name, args) in parse_config_file(raw).map_err(|e| fatal(i + 1, raw.trim(), &e))? {
            lines.push(Line {
                number: i + 1,
                shown: raw.trim().to_string(),
                name,
                args,
            });
        }
    }
    // redis-server appends the options after the file text and a blank line.
    let first_option_line = text.matches('\n').count() + 2;
    for (i, (name, args)) in options.iter().enumerate() {
        let mut shown = name.clone();
        for a in args {
            shown.push(' ');
            shown.push_str(&quote(a));
        }
        lines.push(Line {
            number: first_option_line + i,
            shown,
            name: name.to_ascii_lowercase(),
            args: args.clone(),
        });
    }
    let from_file_or_options = !lines.is_empty() || config.config_file.is_some();
    let mut sentinel =
        sentinel_mode.then(|| SentinelConfig::new(config.config_file.clone().unwrap_or_default()));
    for line in &lines {
        if line.name == "sentinel" {
            // Applied once every other directive is, in Redis's order.
            match &mut sentinel {
                None => {
                    let err = "sentinel directive while not in sentinel mode";
                    return Err(fatal(line.number, &line.shown, err));
                }
                Some(conf) if !line.args.is_empty() => {
                    conf.lines
                        .push((line.number, line.shown.clone(), line.args.clone()))
                }
                Some(_) => {}
            }
            continue;
        }
        apply_directive(&mut config, &line.name, &line.args)
            .map_err(|e| fatal(line.number, &line.shown, &e))?;
    }
    if config.cluster_enabled && config.replicaof.is_some() {
        return Err(format!(
            "\n*** FATAL CONFIG FILE ERROR (Redis {REDIS_VERSION}) ***\n\
             replicaof directive not allowed in cluster mode\n"
        ));
    }
    Ok(Startup {
        config,
        from_file_or_options,
        sentinel,
    })
}

/// Redis's configuration error block.
fn fatal(line: usize, shown: &str, err: &str) -> String {
    format!(
        "\n*** FATAL CONFIG FILE ERROR (Redis {REDIS_VERSION}) ***\n\
         Reading the configuration file, at line {line}\n\
         >>> '{shown}'\n{err}\n"
    )
}

/// An argument as redis-server shows it in errors (`sdscatrepr`: double-quoted, escaped).
fn quote(s: &str) -> String {
    rediscover_testserver::logging::repr(s.as_bytes())
}

/// Binds every `bind` address on the configured port. With port 0 the first address picks a
/// free port and the others reuse it. Addresses starting with `-` may fail (Redis's rule).
async fn bind_all(config: &Config, log: &Logger) -> Result<(Vec<TcpListener>, u16), ()> {
    let mut port = config.port;
    let mut listeners = Vec::new();
    for spec in &config.bind {
        let (optional, host) = match spec.strip_prefix('-') {
            Some(h) => (true, h),
            None => (false, spec.as_str()),
        };
        let host = match host {
            "*" => "0.0.0.0",
            "::*" => "::",
            h => h,
        };
        let addr = match host.parse::<std::net::IpAddr>() {
            Ok(ip) => SocketAddr::new(ip, port),
            Err(_) => {
                log.log(
                    Role::Master,
                    Level::Warning,
                    &format!("Warning: Could not create server TCP listening socket {host}:{port}: Invalid address"),
                );
                if optional {
                    continue;
                }
                return Err(());
            }
        };
        match rediscover_testserver::server::listen(addr, config.tcp_backlog) {
            Ok(l) => {
                if port == 0 {
                    port = l.local_addr().map(|a| a.port()).unwrap_or(0);
                }
                listeners.push(l);
            }
            // `-addr`: listen there only if the address exists on this host.
            Err(_) if optional => {}
            Err(e) => {
                let reason = if e.kind() == std::io::ErrorKind::AddrInUse {
                    "Address already in use".to_string()
                } else {
                    e.to_string()
                };
                log.log(
                    Role::Master,
                    Level::Warning,
                    &format!("Warning: Could not create server TCP listening socket {host}:{port}: bind: {reason}"),
                );
                return Err(());
            }
        }
    }
    Ok((listeners, port))
}

/// Binds the cluster bus port (`cluster-port`, else the client port + 10000) on the first
/// bind address, with Redis's errors.
async fn bind_bus(config: &Config, log: &Logger) -> Result<TcpListener, ()> {
    let configured: u16 = config.extra_or("cluster-port", "0").parse().unwrap_or(0);
    if configured == 0 && config.port > 55535 {
        log.log(
            Role::Master,
            Level::Warning,
            "Redis port number too high. Cluster communication port is 10,000 port numbers higher than your Redis port. Your Redis port number must be 55535 or less.",
        );
        return Err(());
    }
    let cport = if configured == 0 {
        config.port + 10000
    } else {
        configured
    };
    let Some(host) = config.bind.first() else {
        log.log(
            Role::Master,
            Level::Warning,
            "No bind address is configured, but it is required for the Cluster bus.",
        );
        return Err(());
    };
    let host = match host.trim_start_matches('-') {
        "*" => "0.0.0.0",
        "::*" => "::",
        h => h,
    };
    let addr = match host.parse::<std::net::IpAddr>() {
        Ok(ip) => SocketAddr::new(ip, cport),
        Err(_) => SocketAddr::from(([127, 0, 0, 1], cport)),
    };
    match rediscover_testserver::server::listen(addr, config.tcp_backlog) {
        Ok(l) => Ok(l),
        Err(_) => {
            log.log(
                Role::Master,
                Level::Warning,
                &format!("Failed listening on port {cport} (cluster), aborting."),
            );
            Err(())
        }
    }
}

async fn serve(startup: Startup, sentinel: Option<Arc<Node>>, log: Arc<Logger>) -> ExitCode {
    let Startup {
        mut config,
        from_file_or_options,
        ..
    } = startup;
    let pid = std::process::id();
    let starting = if sentinel.is_some() {
        Role::Sentinel
    } else {
        Role::Config
    };
    log.log(
        starting,
        Level::Warning,
        "oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo",
    );
    log.log(
        starting,
        Level::Warning,
        &format!("Redis version={REDIS_VERSION}, bits=64, commit=00000000, modified=0, pid={pid}, just started"),
    );
    log.log(
        starting,
        Level::Warning,
        &format!(
            "This is rediscover-server {}, a Redis-compatible server in Rust, not Redis",
            env!("CARGO_PKG_VERSION")
        ),
    );
    if from_file_or_options {
        log.log(starting, Level::Warning, "Configuration loaded");
    } else {
        log.log(starting, Level::Warning, &format!("Warning: no config file specified, using the default config. In order to specify a config file use {NAME} /path/to/redis.conf"));
    }
    let Ok((listeners, port)) = bind_all(&config, &log).await else {
        log.log(
            Role::Master,
            Level::Warning,
            &format!("Failed listening on port {} (TCP), aborting.", config.port),
        );
        return ExitCode::FAILURE;
    };
    config.port = port;
    check_tcp_backlog(config.tcp_backlog, &log);
    let role = if sentinel.is_some() {
        Role::Sentinel
    } else if config.replicaof.is_some() {
        Role::Replica
    } else {
        Role::Master
    };
    let cluster = config.cluster_enabled;
    let mode = if sentinel.is_some() {
        "sentinel"
    } else if cluster {
        "cluster"
    } else {
        "standalone"
    };
    let mut bus = None;
    let node = match sentinel {
        Some(node) => {
            {
                let mut st = node.lock();
                st.config.port = port;
                st.logger = Some(log.clone());
                if let Some(s) = st.sentinel.as_mut() {
                    s.exit_on_crash(true);
                }
            }
            log.log(
                role,
                Level::Notice,
                &format!("Running mode={mode}, port={port}."),
            );
            rediscover_testserver::sentinel::started(&node, port);
            node
        }
        None => {
            let node = Node::new(config);
            // Replication and other node events log through the same logger.
            node.lock().logger = Some(log.clone());
            if cluster {
                let mut st = node.lock();
                if let Err(e) = rediscover_testserver::cluster::init(&mut st) {
                    log.log(Role::Master, Level::Warning, &e);
                    return ExitCode::FAILURE;
                }
                if let Some(c) = st.cluster.as_mut() {
                    // A process can crash: nodes.conf is replaced atomically and fsynced.
                    c.durable = true;
                }
            }
            // As Redis's clusterInit: the configuration is loaded and locked, then the bus
            // listens.
            if cluster {
                let config = node.lock().config.clone();
                match bind_bus(&config, &log).await {
                    Ok(b) => bus = Some(b),
                    Err(()) => return ExitCode::FAILURE,
                }
            }
            log.log(
                role,
                Level::Notice,
                &format!("Running mode={mode}, port={port}."),
            );
            log.log(role, Level::Warning, "Server initialized");
            let workers = tokio::runtime::Handle::current().metrics().num_workers();
            log.log(
                role,
                Level::Notice,
                &format!("Commands and I/O run on {workers} worker thread(s) (io-threads)."),
            );
            // Redis's `ACLLoadUsersAtStartup`: `user` lines or `aclfile`, not both, and no error.
            let acl = rediscover_testserver::acl::Acl::at_startup(&node.lock().config, false);
            if let Err(lines) = acl {
                for line in lines {
                    log.log(Role::Master, Level::Warning, &line);
                }
                return ExitCode::FAILURE;
            }
            if load_rdb(&node, &log).is_err() {
                return ExitCode::FAILURE;
            }
            if let Err(e) = rediscover_testserver::cluster::verify_with_data(&mut node.lock()) {
                log.log(Role::Master, Level::Warning, &e);
                return ExitCode::FAILURE;
            }
            node
        }
    };
    let mut stopped = node.shutdown_signal();
    // Handlers go in before the ready line: a supervisor may signal as soon as it sees it.
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        log.log(
            role,
            Level::Warning,
            "Can't install signal handlers, aborting.",
        );
        return ExitCode::FAILURE;
    };
    // As in Redis, the ready line comes before anything the running server does (a replica's
    // link to its master starts after it); clients already wait in the listen queue. A
    // sentinel does not say it is ready (Redis's does not either).
    if role != Role::Sentinel {
        log.log(role, Level::Notice, "Ready to accept connections");
    }
    let server = tokio::spawn(rediscover_testserver::server::run_node(
        node.clone(),
        listeners,
        bus,
    ));
    let role = if role == Role::Sentinel {
        role
    } else {
        Role::Master
    };
    loop {
        let setting = tokio::select! {
            _ = term.recv() => {
                log.signal("SIGTERM");
                "shutdown-on-sigterm"
            }
            _ = int.recv() => {
                log.signal("SIGINT");
                "shutdown-on-sigint"
            }
            // SHUTDOWN from a client: it did the final save, and the node has stopped.
            _ = stopped.wait_for(|&down| down) => {
                log.log(role, Level::Warning, "User requested shutdown...");
                break;
            }
        };
        log.log(role, Level::Warning, "User requested shutdown...");
        // Redis's prepareForShutdown: a sentinel never saves.
        let mut flags = ShutdownFlags::parse(&node.lock().config.extra_or(setting, "default"));
        if role == Role::Sentinel {
            flags.save = false;
            flags.nosave = true;
        }
        // The shutdown (replica wait, final save) runs on its own task, so a second SIGINT
        // meanwhile is seen: Redis then exits at once, with an error status.
        let dir = node.lock().config.dir.clone();
        let mut shutting = tokio::spawn({
            let node = node.clone();
            async move { node.shutdown_on_signal(flags).await }
        });
        let done = loop {
            tokio::select! {
                done = &mut shutting => break done.unwrap_or(false),
                _ = int.recv() => {
                    log.from_signal_handler("You insist... exiting now.");
                    remove_temp_rdb_files(&dir);
                    std::process::exit(1);
                }
                _ = term.recv() => log.signal("SIGTERM"),
            }
        };
        if done {
            break;
        }
        // The final save failed (logged): the server goes on, as Redis's does.
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
    let bye = if role == Role::Sentinel {
        "Sentinel is now ready to exit, bye bye..."
    } else {
        "Redis is now ready to exit, bye bye..."
    };
    log.log(role, Level::Warning, bye);
    ExitCode::SUCCESS
}

/// Removes this process's temporary RDB files in `dir` (`temp-<pid>-*.rdb`), as Redis's
/// `rdbRemoveTempFile` does before exiting on a second SIGINT.
fn remove_temp_rdb_files(dir: &str) {
    let prefix = format!("temp-{}-", std::process::id());
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(&prefix) && name.ends_with(".rdb") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Warns, as Redis does, when the kernel caps the listen queue below `tcp-backlog`.
fn check_tcp_backlog(backlog: u32, log: &Logger) {
    let Some(somaxconn) = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
    else {
        return;
    };
    if somaxconn < backlog {
        log.log(
            Role::Master,
            Level::Warning,
            &format!("WARNING: The TCP backlog setting of {backlog} cannot be enforced because /proc/sys/net/core/somaxconn is set to the lower value of {somaxconn}."),
        );
    }
}

/// Loads the AOF (`appendonly yes`) or else `dir/dbfilename` when it exists, as redis-server
/// does before accepting clients.
fn load_rdb(node: &Node, log: &Logger) -> Result<(), ()> {
    use rediscover_testserver::aof::Source;
    let started = std::time::Instant::now();
    let now = rediscover_testserver::node::unix_ms();
    let loaded = rediscover_testserver::aof::load_at_startup(&mut node.lock(), now);
    match loaded {
        Ok(Source::Nothing | Source::Aof) => Ok(()),
        Ok(Source::Rdb(loaded, expired)) => {
            let secs = started.elapsed().as_secs_f64();
            let done = format!("Done loading RDB, keys loaded: {loaded}, keys expired: {expired}.");
            log.log(Role::Master, Level::Notice, &done);
            let line = format!("DB loaded from disk: {secs:.3} seconds");
            log.log(Role::Master, Level::Notice, &line);
            Ok(())
        }
        Err(e) if node.lock().config.appendonly => {
            log.log(Role::Master, Level::Warning, &e);
            Err(())
        }
        Err(e) => {
            let line = format!("Fatal error loading the DB: {e}. Exiting.");
            log.log(Role::Master, Level::Warning, &line);
            Err(())
        }
    }
}
