//! The DNS interface through hickory's client (UDP and TCP) beside dig: SRV targets with their
//! addresses and node-meta TXT, CNAMEs for host-name addresses, PTR for node and service
//! addresses, node TXT; `enable_truncate`; and load shedding when recursion piles up.

use std::net::{SocketAddr, UdpSocket};
use std::str::FromStr;
use std::time::{Duration, Instant};

use hickory_net::client::{Client, ClientHandle};
use hickory_net::proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_net::proto::rr::{DNSClass, Name, RecordType};
use hickory_net::runtime::TokioRuntimeProvider;
use hickory_net::tcp::TcpClientStream;
use hickory_net::udp::UdpClientStream;
use serde_json::json;

use crate::dns::{agent, count, dig, register, register_big, short, status};
use crate::harness::config_file;

async fn udp_client(port: u16) -> Client<TokioRuntimeProvider> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let conn = UdpClientStream::builder(addr, TokioRuntimeProvider::default()).build();
    let (client, bg) = Client::<TokioRuntimeProvider>::from_sender(conn);
    tokio::spawn(bg);
    client
}

async fn tcp_client(port: u16) -> Client<TokioRuntimeProvider> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let (stream, sender) = TcpClientStream::new(addr, None, None, TokioRuntimeProvider::new());
    let (client, bg) = Client::<TokioRuntimeProvider>::new(stream.await.unwrap(), sender);
    tokio::spawn(bg);
    client
}

/// Every record of a section as `name type data` text, sorted (without the `consul-version`
/// meta, which changes with releases).
fn lines(records: &[hickory_net::proto::rr::Record]) -> Vec<String> {
    let mut v: Vec<String> = records
        .iter()
        .map(|r| format!("{} {} {}", r.name, r.record_type(), r.data))
        .filter(|l| !l.contains("consul-version="))
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn hickory_client_srv_txt_cname_and_ptr() {
    let (a, port) = agent(&["-node=hk1", "-node-meta=rack:r1"]);
    let c = crate::Client::new();
    register(
        &c,
        &a,
        json!({"Name": "web", "ID": "web-1", "Port": 8001, "Address": "10.0.0.1"}),
    )
    .await;
    register(&c, &a, json!({"Name": "web", "ID": "web-2", "Port": 8002})).await;
    register(
        &c,
        &a,
        json!({"Name": "ext", "Port": 5432, "Address": "db.example.com"}),
    )
    .await;
    let mut udp = udp_client(port).await;
    let name = |s: &str| Name::from_str(s).unwrap();

    let r = udp
        .query(name("web.service.consul."), DNSClass::IN, RecordType::SRV)
        .await
        .unwrap();
    assert_eq!(r.metadata.response_code, ResponseCode::NoError);
    assert!(r.metadata.authoritative);
    assert_eq!(
        lines(&r.answers),
        vec![
            "web.service.consul. SRV 1 1 8001 0a000001.addr.dc1.consul.",
            "web.service.consul. SRV 1 1 8002 hk1.node.dc1.consul.",
        ]
    );
    assert_eq!(
        lines(&r.additionals),
        vec![
            "0a000001.addr.dc1.consul. A 10.0.0.1",
            "hk1.node.dc1.consul. A 127.0.0.1",
            "hk1.node.dc1.consul. TXT consul-network-segment=",
            "hk1.node.dc1.consul. TXT rack=r1",
        ]
    );

    // Node: A with the meta as additional TXT; TXT asks for the meta itself.
    let r = udp
        .query(name("hk1.node.consul."), DNSClass::IN, RecordType::TXT)
        .await
        .unwrap();
    assert_eq!(
        lines(&r.answers),
        vec![
            "hk1.node.consul. TXT consul-network-segment=",
            "hk1.node.consul. TXT rack=r1"
        ]
    );

    // Over TCP: a host-name address answers as a CNAME; SRV targets the host name.
    let mut tcp = tcp_client(port).await;
    let r = tcp
        .query(name("ext.service.consul."), DNSClass::IN, RecordType::A)
        .await
        .unwrap();
    assert_eq!(
        lines(&r.answers),
        vec!["ext.service.consul. CNAME db.example.com."]
    );
    let r = tcp
        .query(name("ext.service.consul."), DNSClass::IN, RecordType::SRV)
        .await
        .unwrap();
    assert_eq!(
        lines(&r.answers),
        vec!["ext.service.consul. SRV 1 1 5432 db.example.com."]
    );

    // PTR: a node's address names the node, a service's address the service.
    let r = udp
        .query(
            name("1.0.0.127.in-addr.arpa."),
            DNSClass::IN,
            RecordType::PTR,
        )
        .await
        .unwrap();
    assert_eq!(
        lines(&r.answers),
        vec!["1.0.0.127.in-addr.arpa. PTR hk1.node.dc1.consul."]
    );
    assert_eq!(
        short(port, &["-x", "10.0.0.1"]),
        vec!["web.service.dc1.consul."]
    );
    let r = udp
        .query(
            name("9.9.9.10.in-addr.arpa."),
            DNSClass::IN,
            RecordType::PTR,
        )
        .await
        .unwrap();
    assert_eq!(r.metadata.response_code, ResponseCode::NXDomain);
}

#[tokio::test]
async fn enable_truncate_sets_tc_and_dig_retries_over_tcp() {
    let (_dir, flag) = config_file(r#"{"dns_config": {"enable_truncate": true}}"#);
    let (a, port) = agent(&[&flag]);
    register_big(&a).await;
    let out = dig(
        port,
        &["+bufsize=512", "+ignore", "big.service.consul", "SRV"],
    );
    assert!(out.contains(" tc"), "TC with enable_truncate: {out}");
    assert!(count(&out, "ANSWER") < 30, "{out}");
    let out = dig(port, &["+bufsize=512", "big.service.consul", "SRV"]);
    assert!(out.contains("Truncated, retrying in TCP mode"), "{out}");
    assert_eq!(count(&out, "ANSWER"), 30, "{out}");
    // Without EDNS the answer cap (3) is trimming too.
    let out = dig(port, &["+noedns", "+ignore", "big.service.consul"]);
    assert!(out.contains(" tc"), "{out}");
    assert_eq!(count(&out, "ANSWER"), 3, "{out}");
}

/// AXFR and opcodes other than QUERY get NOTIMP; a query whose header is readable but whose
/// question is not gets FORMERR with its ID.
#[tokio::test]
async fn notimp_and_formerr() {
    let (_a, port) = agent(&[]);
    let mut tcp = tcp_client(port).await;
    let r = tcp
        .query(
            Name::from_str("consul.").unwrap(),
            DNSClass::IN,
            RecordType::AXFR,
        )
        .await;
    let code = match r {
        Ok(r) => r.metadata.response_code,
        Err(e) => panic!("AXFR: {e}"),
    };
    assert_eq!(code, ResponseCode::NotImp);
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut notify = query_packet(0x4242, "web.service.consul.");
    notify[2] = (notify[2] & 0x87) | (4 << 3); // opcode NOTIFY
    let mut broken = vec![0x51, 0x15, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    broken.extend_from_slice(&[0xC0, 0x0C, 0, 1, 0, 1]); // name points at itself
    for (packet, id, want) in [(notify, 0x4242, 4u8), (broken, 0x5115, 1)] {
        sock.send_to(&packet, ("127.0.0.1", port)).unwrap();
        let mut buf = [0u8; 512];
        let (n, _) = sock.recv_from(&mut buf).expect("no answer");
        assert!(n >= 12);
        assert_eq!(u16::from_be_bytes([buf[0], buf[1]]), id);
        assert_eq!(buf[3] & 0x0F, want, "rcode");
    }
}

/// A server that never heard from a leader may hold an empty catalog: it answers SERVFAIL
/// rather than an authoritative NXDOMAIN (Consul treats it as infinitely stale).
#[tokio::test]
async fn a_server_that_never_saw_a_leader_answers_servfail() {
    let dir = tempfile::tempdir().unwrap();
    let port = crate::harness::free_port();
    let data = format!("-data-dir={}", dir.path().join("data").display());
    let dns = format!("-dns-port={port}");
    let _a = crate::harness::Agent::start_client_in(
        dir.path(),
        &["-server", "-bootstrap-expect=3", &data, &dns],
    );
    let out = dig(port, &["web.service.consul"]);
    assert_eq!(status(&out), "SERVFAIL", "{out}");
}

fn query_packet(id: u16, name: &str) -> Vec<u8> {
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_str(name).unwrap(), RecordType::A));
    m.to_vec().unwrap()
}

/// Recursion to a recursor that never answers ties up the work slots (256): each query beyond
/// them aborts the oldest (never answered) instead of queueing without bound, the newest 256
/// get SERVFAIL when the recursor times out, and names answered from the catalog are served at
/// once throughout.
#[tokio::test]
async fn overload_sheds_work_and_local_answers_go_on() {
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let silent_addr = silent.local_addr().unwrap();
    let (_dir, flag) = config_file(format!(
        r#"{{"recursors": ["{silent_addr}"], "dns_config": {{"recursor_timeout": "3s"}}}}"#
    ));
    let (a, port) = agent(&[&flag]);
    register(
        &crate::Client::new(),
        &a,
        json!({"Name": "ok", "Address": "10.5.0.1"}),
    )
    .await;
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    for id in 0..300u16 {
        sock.send_to(
            &query_packet(id, &format!("n{id}.example.")),
            ("127.0.0.1", port),
        )
        .unwrap();
        if id % 50 == 49 {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    let started = Instant::now();
    assert_eq!(short(port, &["ok.service.consul"]), vec!["10.5.0.1"]);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "local answer waited"
    );
    let out = dig(port, &["ok.service.consul"]);
    assert_eq!(status(&out), "NOERROR", "{out}");

    sock.set_read_timeout(Some(Duration::from_secs(6))).unwrap();
    let mut answered = Vec::new();
    let mut buf = [0u8; 512];
    while let Ok((n, _)) = sock.recv_from(&mut buf) {
        let m = Message::from_vec(&buf[..n]).unwrap();
        assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
        answered.push(m.metadata.id);
        sock.set_read_timeout(Some(Duration::from_millis(1500)))
            .unwrap();
    }
    answered.sort();
    let newest: Vec<u16> = (44..300).collect();
    assert_eq!(
        answered, newest,
        "256 slots; the oldest 44 queries were shed, the newest answered"
    );
    drop(silent);
}
