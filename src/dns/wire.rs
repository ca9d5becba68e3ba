//! Encoding a response within the size the transport allows, by Consul's trimming rules
//! (reference §3): over UDP at most 512 bytes, or the client's EDNS buffer size; over TCP at
//! most 64 KiB. Answers are dropped from the end until the message fits, the additional
//! section keeps only the records of SRV targets still answered, and the TC bit is set only
//! with `dns_config.enable_truncate` (otherwise the answer is trimmed silently).

use hickory_proto::op::Message;
use std::collections::HashSet;

use hickory_proto::rr::{Name, RData, RecordType};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder, NameEncoding};

/// How the message may be encoded.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest message in bytes.
    pub max_size: usize,
    /// Set TC when something was trimmed (`enable_truncate`; always for recursed answers).
    pub set_tc: bool,
    /// Something was already left out before encoding (the UDP answer cap): TC if `set_tc`.
    pub capped: bool,
    /// Write names in full (`disable_compression`).
    pub uncompressed: bool,
}

/// The encoded message, trimmed to `limits`; `None` only when encoding itself fails.
pub fn encode(msg: &mut Message, limits: Limits) -> Option<Vec<u8>> {
    if limits.capped && limits.set_tc {
        msg.metadata.truncation = true;
    }
    let bytes = to_vec(msg, limits.uncompressed)?;
    if bytes.len() <= limits.max_size {
        return Some(bytes);
    }
    // Too big: the authority section goes first, then answers from the end (binary search for
    // the most that fit), keeping only the additionals that belong to the answers left.
    msg.authorities.clear();
    let all_answers = std::mem::take(&mut msg.answers);
    let all_additionals = std::mem::take(&mut msg.additionals);
    // No record is smaller than 11 bytes (a one-byte compressed name, type, class, TTL,
    // length), so at most max_size / 11 answers can fit: the search stays short.
    let (mut lo, mut hi) = (0, all_answers.len().min(limits.max_size / 11));
    let mut best = None;
    while lo <= hi {
        let mid = (lo + hi) / 2;
        fill(msg, &all_answers[..mid], &all_additionals);
        match to_vec(msg, limits.uncompressed) {
            Some(b) if b.len() <= limits.max_size => {
                best = Some((mid, b));
                lo = mid + 1;
            }
            _ if mid == 0 => break,
            _ => hi = mid - 1,
        }
    }
    match best {
        Some((_, bytes)) if !limits.set_tc => Some(bytes),
        Some((n, _)) => {
            fill(msg, &all_answers[..n], &all_additionals);
            msg.metadata.truncation = true;
            to_vec(msg, limits.uncompressed)
        }
        None => {
            // Not even one answer fits: header and question only, or the header alone when
            // the questions themselves are too big (a query with several long ones).
            msg.answers.clear();
            msg.additionals.clear();
            msg.metadata.truncation = true;
            let bytes = to_vec(msg, limits.uncompressed)?;
            if bytes.len() <= limits.max_size {
                return Some(bytes);
            }
            msg.queries.clear();
            to_vec(msg, limits.uncompressed)
        }
    }
}

/// Puts `answers` into `msg`, with the additionals whose names are targets of those answers.
fn fill(
    msg: &mut Message,
    answers: &[hickory_proto::rr::Record],
    additionals: &[hickory_proto::rr::Record],
) {
    msg.answers = answers.to_vec();
    let targets: HashSet<&Name> = answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::SRV(srv) => Some(&srv.target),
            _ => None,
        })
        .collect();
    msg.additionals = additionals
        .iter()
        .filter(|r| r.record_type() != RecordType::OPT && targets.contains(&r.name))
        .cloned()
        .collect();
}

fn to_vec(msg: &Message, uncompressed: bool) -> Option<Vec<u8>> {
    let mut buf = Vec::with_capacity(512);
    let mut encoder = BinEncoder::new(&mut buf);
    if uncompressed {
        encoder.set_name_encoding(NameEncoding::Uncompressed);
    }
    msg.emit(&mut encoder).ok()?;
    Some(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::{MessageType, OpCode, Query};
    use hickory_proto::rr::rdata::{A, SRV};
    use hickory_proto::rr::{Name, Record};

    fn srv_message(n: usize) -> Message {
        let mut msg = Message::new(7, MessageType::Response, OpCode::Query);
        let q = Name::from_ascii("web.service.consul.").unwrap();
        msg.add_query(Query::query(q.clone(), RecordType::SRV));
        for i in 0..n {
            let target = Name::from_ascii(format!("node-{i}.node.dc1.consul.")).unwrap();
            let srv = SRV::new(1, 1, 8000 + i as u16, target.clone());
            msg.add_answer(Record::from_rdata(q.clone(), 0, RData::SRV(srv)));
            let a = A::new(10, 0, (i / 256) as u8, (i % 256) as u8);
            msg.add_additional(Record::from_rdata(target, 0, RData::A(a)));
        }
        msg
    }

    fn limits(max_size: usize, set_tc: bool) -> Limits {
        Limits {
            max_size,
            set_tc,
            capped: false,
            uncompressed: false,
        }
    }

    #[test]
    fn trims_answers_and_their_additionals_to_fit() {
        let mut msg = srv_message(30);
        let bytes = encode(&mut msg, limits(512, false)).unwrap();
        assert!(bytes.len() <= 512);
        let back = Message::from_vec(&bytes).unwrap();
        assert!(!back.metadata.truncation, "TC only with enable_truncate");
        assert!(back.answers.len() > 3 && back.answers.len() < 30);
        assert_eq!(back.answers.len(), back.additionals.len());
        for (srv, a) in back.answers.iter().zip(&back.additionals) {
            let RData::SRV(srv) = &srv.data else { panic!() };
            assert_eq!(srv.target, a.name);
        }
        let mut msg = srv_message(30);
        let back = Message::from_vec(&encode(&mut msg, limits(512, true)).unwrap()).unwrap();
        assert!(back.metadata.truncation);
    }

    #[test]
    fn small_messages_pass_unchanged() {
        let mut msg = srv_message(3);
        let back = Message::from_vec(&encode(&mut msg, limits(512, true)).unwrap()).unwrap();
        assert_eq!((back.answers.len(), back.additionals.len()), (3, 3));
        assert!(!back.metadata.truncation);
        let mut msg = srv_message(3);
        let plain = encode(&mut msg, limits(512, false)).unwrap();
        let mut msg = srv_message(3);
        let full = encode(
            &mut msg,
            Limits {
                uncompressed: true,
                ..limits(512, false)
            },
        )
        .unwrap();
        assert!(
            full.len() > plain.len(),
            "disable_compression writes names in full"
        );
    }

    /// Found by the fuzzer: a FORMERR echoing four long questions did not fit 512 bytes.
    #[test]
    fn questions_too_big_for_the_limit_are_dropped() {
        let mut msg = Message::new(9, MessageType::Response, OpCode::Query);
        for i in 0..4 {
            let label = "a".repeat(60);
            let long = format!("{label}.{label}.{i}.example.");
            msg.add_query(Query::query(Name::from_ascii(long).unwrap(), RecordType::A));
        }
        let bytes = encode(&mut msg, limits(512, false)).unwrap();
        assert!(bytes.len() <= 512);
        let back = Message::from_vec(&bytes).unwrap();
        assert!(back.queries.is_empty() && back.metadata.truncation);
    }
}
