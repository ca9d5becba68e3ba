//! `berth agent`: parses Consul's agent flags, loads and validates every config source (all
//! errors at once, before any port is bound), then runs the daemon.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::EXIT_USAGE;
use crate::config::{self, RuntimeConfig};
use crate::daemon::{self, Hooks};

/// Runs the agent; returns the process exit code.
pub fn run(args: &[String]) -> i32 {
    let flags = match config::parse_agent_flags(args) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{e}");
            return EXIT_USAGE;
        }
    };
    let config = match config::load(&flags) {
        Ok(c) => c,
        Err(errors) => {
            eprintln!("==> Config validation failed:\n{errors}");
            return EXIT_USAGE;
        }
    };
    if let Err(e) = crate::runner::preflight(&config.templates) {
        eprintln!("==> Config validation failed:\n{e}");
        return EXIT_USAGE;
    }
    let set_level = logging_init(&config);
    print_banner(&config);
    let flags = Arc::new(flags);
    let hooks = Hooks {
        reload: Box::new(move || config::load(&flags).map_err(|e| e.to_string())),
        set_log_level: Box::new(set_level),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("==> Error starting agent: cannot start the async runtime: {e}");
            return 1;
        }
    };
    let result = runtime.block_on(daemon::run(config, hooks, CancellationToken::new()));
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("==> Error starting agent: {e}");
            1
        }
    }
}

fn logging_init(config: &RuntimeConfig) -> impl Fn(config::LogLevel) + Send + Sync + 'static {
    super::logging::init(config.log_level, config.log_json, config.syslog.as_deref())
}

fn print_banner(c: &RuntimeConfig) {
    let port = |p: Option<u16>| p.map(|p| p.to_string()).unwrap_or_else(|| "-1".into());
    let clients: Vec<String> = c.client_addrs.iter().map(|a| a.to_string()).collect();
    println!("==> Starting Consul agent...");
    println!(
        "              Version: '{}' (berth {})",
        crate::CONSUL_VERSION,
        crate::VERSION
    );
    println!("            Node name: '{}'", c.node_name);
    println!(
        "           Datacenter: '{}' (Segment: '<all>')",
        c.datacenter
    );
    println!(
        "               Server: {} (Bootstrap: {})",
        c.server,
        c.bootstrap || c.dev
    );
    println!(
        "          Client Addr: [{}] (HTTP: {}, HTTPS: -1, gRPC: -1, DNS: {})",
        clients.join(" "),
        port(c.ports.http),
        port(c.ports.dns)
    );
    println!(
        "         Cluster Addr: {} (LAN: {}, WAN: {})",
        c.advertise_addr,
        c.ports.serf_lan,
        port(c.ports.serf_wan)
    );
    println!("    Gossip Encryption: {}", c.encrypt.is_some());
    println!();
    println!("==> Log data will now stream in as it occurs:");
    println!();
}
