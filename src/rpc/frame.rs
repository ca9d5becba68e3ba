//! The wire format: every message is `[u32 big-endian length][u8 version][JSON body]`, where
//! the length counts the version byte and the body. A frame of another version is answered
//! with a clear refusal, never decoded; a frame over `MAX_FRAME` is refused before it is read.

use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The protocol version this build speaks. Bump it when `Request`/`Reply` change shape.
pub const PROTOCOL_VERSION: u8 = 1;

/// Largest frame accepted: snapshot chunks (openraft's default is 3 MiB, JSON-encoded) fit.
pub const MAX_FRAME: usize = 64 * 1024 * 1024;

/// Why a frame could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The socket failed or closed mid-frame.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The peer closed the connection between frames.
    #[error("connection closed")]
    Closed,
    /// The peer announced a frame larger than `MAX_FRAME` (or an empty one).
    #[error("frame of {0} bytes is outside 1..={MAX_FRAME}")]
    Size(usize),
    /// The peer speaks another protocol version.
    #[error(
        "unsupported rpc protocol version {got}; this server speaks version {PROTOCOL_VERSION}"
    )]
    Version {
        /// The version byte received.
        got: u8,
    },
    /// The body is not a message this build knows.
    #[error("undecodable rpc message: {0}")]
    Decode(#[from] serde_json::Error),
}

/// Writes one message as a frame of this build's version.
pub async fn write<W, T>(w: &mut W, msg: &T) -> Result<(), FrameError>
where
    W: AsyncWrite + Unpin,
    T: Serialize,
{
    let body = serde_json::to_vec(msg)?;
    let len = body.len() + 1;
    if len > MAX_FRAME {
        return Err(FrameError::Size(len));
    }
    let mut buf = Vec::with_capacity(5 + body.len());
    buf.extend_from_slice(&(len as u32).to_be_bytes());
    buf.push(PROTOCOL_VERSION);
    buf.extend_from_slice(&body);
    w.write_all(&buf).await?;
    w.flush().await?;
    Ok(())
}

/// Reads one frame and decodes its body. `Closed` when the peer hung up between frames.
pub async fn read<R, T>(r: &mut R) -> Result<T, FrameError>
where
    R: AsyncRead + Unpin,
    T: DeserializeOwned,
{
    let mut head = [0u8; 4];
    match r.read_exact(&mut head).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Err(FrameError::Closed),
        Err(e) => return Err(e.into()),
    }
    let len = u32::from_be_bytes(head) as usize;
    if len == 0 || len > MAX_FRAME {
        return Err(FrameError::Size(len));
    }
    let mut version = [0u8; 1];
    r.read_exact(&mut version).await?;
    if version[0] != PROTOCOL_VERSION {
        return Err(FrameError::Version { got: version[0] });
    }
    // Grow with what arrives rather than trusting the announced length up front.
    let want = len - 1;
    let mut body = Vec::with_capacity(want.min(64 * 1024));
    let got = (&mut *r).take(want as u64).read_to_end(&mut body).await?;
    if got < want {
        return Err(FrameError::Io(std::io::ErrorKind::UnexpectedEof.into()));
    }
    Ok(serde_json::from_slice(&body)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn round_trip() {
        let mut buf = Vec::new();
        write(&mut buf, &vec!["a".to_string(), "b".into()])
            .await
            .unwrap();
        let got: Vec<String> = read(&mut buf.as_slice()).await.unwrap();
        assert_eq!(got, ["a", "b"]);
    }

    #[tokio::test]
    async fn refuses_other_versions_oversize_and_garbage() {
        let frame = |len: u32, version: u8, body: &[u8]| {
            let mut f = len.to_be_bytes().to_vec();
            f.push(version);
            f.extend_from_slice(body);
            f
        };
        let v2 = frame(3, 2, b"{}");
        let e = read::<_, serde_json::Value>(&mut v2.as_slice())
            .await
            .unwrap_err();
        assert!(matches!(e, FrameError::Version { got: 2 }), "{e}");
        assert!(e.to_string().contains("version 2"));
        let big = frame(u32::MAX, 1, b"");
        let e = read::<_, serde_json::Value>(&mut big.as_slice())
            .await
            .unwrap_err();
        assert!(matches!(e, FrameError::Size(_)), "{e}");
        let bad = frame(4, 1, b"{x}");
        let e = read::<_, serde_json::Value>(&mut bad.as_slice())
            .await
            .unwrap_err();
        assert!(matches!(e, FrameError::Decode(_)), "{e}");
        let e = read::<_, serde_json::Value>(&mut [].as_slice())
            .await
            .unwrap_err();
        assert!(matches!(e, FrameError::Closed), "{e}");
        let cut = frame(10, 1, b"{}");
        let e = read::<_, serde_json::Value>(&mut cut.as_slice())
            .await
            .unwrap_err();
        assert!(matches!(e, FrameError::Io(_)), "{e}");
    }
}
