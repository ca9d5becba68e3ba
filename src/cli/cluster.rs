//! `berth join`, `berth leave`, `berth force-leave`: thin calls to the agent's HTTP API.

use super::flags::{parse, Spec};
use super::http_client::{base_url, request};

/// `berth join [-wan] <addr>...`.
pub fn join(args: &[String]) -> i32 {
    let flags = match parse(
        args,
        &Spec {
            values: &[],
            bools: &["wan"],
        },
    ) {
        Ok(f) => f,
        Err(e) => return usage_error(&e),
    };
    if flags.args.is_empty() {
        return usage_error("At least one address to join must be specified.");
    }
    let base = base_url(&flags);
    let wan = if flags.bool("wan") { "?wan=1" } else { "" };
    let mut joined = 0;
    for addr in &flags.args {
        match request(
            reqwest::Method::PUT,
            &format!("{base}/v1/agent/join/{addr}{wan}"),
        ) {
            Ok(_) => joined += 1,
            Err(e) => eprintln!("Error joining address '{addr}': {e}"),
        }
    }
    if joined == 0 {
        eprintln!("Failed to join any nodes.");
        return 1;
    }
    println!("Successfully joined cluster by contacting {joined} nodes.");
    0
}

/// `berth leave`: the agent leaves gracefully and stops.
pub fn leave(args: &[String]) -> i32 {
    let flags = match parse(
        args,
        &Spec {
            values: &[],
            bools: &[],
        },
    ) {
        Ok(f) => f,
        Err(e) => return usage_error(&e),
    };
    match request(
        reqwest::Method::PUT,
        &format!("{}/v1/agent/leave", base_url(&flags)),
    ) {
        Ok(_) => {
            println!("Graceful leave complete");
            0
        }
        Err(e) => {
            eprintln!("Error leaving: {e}");
            1
        }
    }
}

/// `berth force-leave [-prune] [-wan] <node>`.
pub fn force_leave(args: &[String]) -> i32 {
    let flags = match parse(
        args,
        &Spec {
            values: &[],
            bools: &["prune", "wan"],
        },
    ) {
        Ok(f) => f,
        Err(e) => return usage_error(&e),
    };
    let [node] = flags.args.as_slice() else {
        return usage_error("A single node name must be specified to force leave.");
    };
    let mut q = Vec::new();
    if flags.bool("prune") {
        q.push("prune=1");
    }
    if flags.bool("wan") {
        q.push("wan=1");
    }
    let query = if q.is_empty() {
        String::new()
    } else {
        format!("?{}", q.join("&"))
    };
    match request(
        reqwest::Method::PUT,
        &format!("{}/v1/agent/force-leave/{node}{query}", base_url(&flags)),
    ) {
        Ok(_) => 0,
        Err(e) => {
            eprintln!("Error force leaving: {e}");
            1
        }
    }
}

fn usage_error(msg: &str) -> i32 {
    eprintln!("{msg}");
    1
}
