//! The one-shot commands against a real agent.

use std::time::Duration;

use crate::harness::{run_cli, Agent};

#[test]
fn members_join_leave_keygen() {
    let mut a = Agent::dev();
    let addr = format!("-http-addr={}", a.base);
    let (code, out, err) = run_cli(&["members", &addr]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("Node       Address") || lines[0].starts_with("Node"),
        "{out}"
    );
    assert!(
        lines[1].starts_with("test-node")
            && lines[1].contains("alive")
            && lines[1].contains("server"),
        "{out}"
    );
    let (code, _, _) = run_cli(&["members", &addr, "-status=failed"]);
    assert_eq!(code, 2, "nothing matches: exit 2 as Consul");
    let (code, out, _) = run_cli(&["members", &addr, "-detailed"]);
    assert_eq!(code, 0);
    assert!(out.contains("role=consul"), "{out}");
    let (code, out, _) = run_cli(&["keygen"]);
    assert_eq!((code, out.trim().len()), (0, 44));
    let (code, _, err) = run_cli(&["members", "-http-addr=http://127.0.0.1:1"]);
    assert_eq!(code, 1);
    assert!(err.contains("Error retrieving members"), "{err}");
    let (code, out, err) = run_cli(&["leave", &addr]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Graceful leave complete"));
    assert_eq!(a.wait_exit(Duration::from_secs(5)), Some(0));
}
