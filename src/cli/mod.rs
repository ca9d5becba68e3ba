//! Subcommands, with Consul's Go-style flags. `agent` runs the daemon; the others are
//! one-shot commands. Invoked as `consul` (a symlink in the image) Berth behaves the same.
//!
//! Architecture Invariant: no subcommand but `agent` opens a listener or touches state.

pub mod agent;
pub mod cluster;
pub mod flags;
pub mod http_client;
pub mod keygen;
pub mod logging;
pub mod members;
pub mod operator;
pub mod syslog;
pub mod template;
pub mod validate;

/// Exit code for usage and configuration errors (`EX_USAGE`).
pub const EXIT_USAGE: i32 = 64;

/// Runs the command line `args` (without the program name); returns the exit code.
pub fn run(args: Vec<String>) -> i32 {
    let Some(cmd) = args.first() else {
        eprintln!("{}", usage());
        return 1;
    };
    let rest = &args[1..];
    match cmd.as_str() {
        "agent" => agent::run(rest),
        "validate" => validate::run(rest),
        "members" => members::run(rest),
        "join" => cluster::join(rest),
        "leave" => cluster::leave(rest),
        "force-leave" => cluster::force_leave(rest),
        "keygen" => keygen::run(rest),
        "operator" => operator::run(rest),
        "template" => template::run(rest),
        "version" | "-version" | "--version" | "-v" => {
            print!("{}", version_text());
            0
        }
        "-h" | "-help" | "--help" | "help" => {
            println!("{}", usage());
            0
        }
        other => {
            eprintln!("berth: unknown command {other:?}\n\n{}", usage());
            1
        }
    }
}

/// `berth version` output, in Consul's shape (clients parse the first line).
pub fn version_text() -> String {
    format!(
        "Consul v{}\nRevision berth-{}\nBuild Date 2026-11-21T00:00:00Z\nProtocol 2 spoken by default, understands 2 to 3 (agent will automatically use protocol >2 when speaking to compatible agents)\n",
        crate::CONSUL_VERSION,
        crate::VERSION
    )
}

fn usage() -> String {
    "Usage: berth [--version] [--help] <command> [<args>]\n\n\
     Available commands are:\n    \
     agent       Runs a Berth agent (Consul agent, registrator and consul-template in one)\n    \
     force-leave Forces a member of the cluster to enter the \"left\" state\n    \
     join        Tell Berth agent to join cluster\n    \
     keygen      Generates a new encryption key\n    \
     leave       Gracefully leaves the cluster and shuts down\n    \
     members     Lists the members of a cluster\n    \
     operator    Provides cluster-level tools for Consul operators\n    \
     template    Renders templates from the catalog (consul-template)\n    \
     validate    Validate config files/directories\n    \
     version     Prints the Berth version"
        .to_string()
}
