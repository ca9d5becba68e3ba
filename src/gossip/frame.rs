//! Framing shared by UDP and TCP: every packet starts with a version byte, plaintext (0) or sealed
//! (1), and the receiving side applies Consul's `encrypt_verify_*` rules.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::keyring::{Keyring, PLAIN, SEALED};

/// First byte of an unsealed TCP frame that tells the joiner "I could not open your frame": the
/// joiner then reports a key mismatch instead of a bare EOF.
pub(crate) const KEY_MISMATCH: u8 = 0xEE;

/// The largest TCP handshake frame we accept, so a bad peer cannot make us allocate without bound.
pub(crate) const MAX_TCP_FRAME: usize = 4 << 20;

/// How a node seals and opens its traffic.
#[derive(Clone, Debug)]
pub(crate) struct Crypto {
    /// `None` = plaintext cluster.
    pub(crate) keyring: Option<Keyring>,
    /// Refuse plaintext input when a keyring is set (Consul's default).
    pub(crate) verify_incoming: bool,
    /// Seal output when a keyring is set (Consul's default).
    pub(crate) verify_outgoing: bool,
}

/// Why an incoming frame was dropped.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum OpenError {
    /// Sealed, but no key of ours opens it (or we have no keyring).
    Decrypt,
    /// Plaintext while we insist on encryption, or an unknown version byte or empty frame.
    Refused,
}

impl Crypto {
    /// Frame `pt` for the wire.
    pub(crate) fn seal(&self, pt: &[u8]) -> Vec<u8> {
        match &self.keyring {
            Some(k) if self.verify_outgoing => k.seal(pt),
            _ => {
                let mut out = Vec::with_capacity(pt.len() + 1);
                out.push(PLAIN);
                out.extend_from_slice(pt);
                out
            }
        }
    }

    /// Unframe a packet, applying the verify rules.
    pub(crate) fn open(&self, data: &[u8]) -> Result<Vec<u8>, OpenError> {
        let (&ver, body) = data.split_first().ok_or(OpenError::Refused)?;
        match ver {
            SEALED => self
                .keyring
                .as_ref()
                .and_then(|k| k.open(body))
                .ok_or(OpenError::Decrypt),
            PLAIN if self.keyring.is_none() || !self.verify_incoming => Ok(body.to_vec()),
            PLAIN => Err(OpenError::Decrypt),
            _ => Err(OpenError::Refused),
        }
    }
}

/// Write one length-prefixed frame.
pub(crate) async fn write_frame<W: AsyncWriteExt + Unpin>(
    w: &mut W,
    frame: &[u8],
) -> std::io::Result<()> {
    let len = u32::try_from(frame.len()).unwrap_or(u32::MAX);
    w.write_all(&len.to_be_bytes()).await?;
    w.write_all(frame).await?;
    w.flush().await
}

/// Largest join *request* a node accepts: a request is one member's metadata, so anything
/// bigger is hostile and is refused before a byte of it is buffered.
pub(crate) const MAX_JOIN_REQUEST: usize = 64 << 10;

/// Read one length-prefixed frame, bounded by [`MAX_TCP_FRAME`].
pub(crate) async fn read_frame<R: AsyncReadExt + Unpin>(r: &mut R) -> std::io::Result<Vec<u8>> {
    read_frame_limited(r, MAX_TCP_FRAME).await
}

/// Read one length-prefixed frame of at most `limit` bytes.
pub(crate) async fn read_frame_limited<R: AsyncReadExt + Unpin>(
    r: &mut R,
    limit: usize,
) -> std::io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len).await?;
    let len = u32::from_be_bytes(len) as usize;
    if len > limit {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "frame too large",
        ));
    }
    let mut buf = vec![0u8; len];
    r.read_exact(&mut buf).await?;
    Ok(buf)
}
