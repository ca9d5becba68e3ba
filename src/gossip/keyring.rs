//! The encryption keyring: AES-GCM keys as Consul's `encrypt` gives them, sealing and opening of
//! every UDP packet and TCP frame, and the `serf/local.keyring` file.

use std::path::{Path, PathBuf};

use aes_gcm::aead::consts::U12;
use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::aes::Aes192;
use aes_gcm::{Aes128Gcm, Aes256Gcm, AesGcm, Nonce};
use base64::Engine;

use super::GossipError;

/// First byte of a sealed frame, so a later format can be told apart.
pub(crate) const SEALED: u8 = 1;
/// First byte of a plaintext frame (no keyring, or `encrypt_verify_outgoing = false`).
pub(crate) const PLAIN: u8 = 0;
/// Bytes a sealed frame adds: version byte, 12-byte nonce, 16-byte tag.
pub const SEAL_OVERHEAD: usize = 1 + 12 + 16;

/// AES-192-GCM, which RustCrypto has no alias for; Consul accepts 24-byte keys.
type Aes192Gcm = AesGcm<Aes192, U12>;

/// One key with its cipher built once, because building the AES key schedule per packet is waste.
#[derive(Clone)]
enum Cipher {
    /// 16-byte key.
    A128(Box<Aes128Gcm>),
    /// 24-byte key.
    A192(Box<Aes192Gcm>),
    /// 32-byte key (what `consul keygen` emits).
    A256(Box<Aes256Gcm>),
}

/// One key: raw bytes (to save the file) and its cipher.
#[derive(Clone)]
struct Key {
    /// The raw key, written back base64 into the keyring file.
    raw: Vec<u8>,
    /// The ready cipher.
    cipher: Cipher,
}

/// Gossip keys, primary first: we seal with the primary and open with any, which is how Consul
/// rotates keys without a flag day.
#[derive(Clone)]
pub struct Keyring {
    /// Primary at index 0, then the others.
    keys: Vec<Key>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        write!(f, "Keyring({} keys)", self.keys.len())
    }
}

impl Key {
    fn from_raw(raw: Vec<u8>) -> Result<Key, GossipError> {
        let bad = |_| GossipError::BadKey("cannot build the cipher".into());
        let cipher = match raw.len() {
            16 => Cipher::A128(Box::new(Aes128Gcm::new_from_slice(&raw).map_err(bad)?)),
            24 => Cipher::A192(Box::new(Aes192Gcm::new_from_slice(&raw).map_err(bad)?)),
            32 => Cipher::A256(Box::new(Aes256Gcm::new_from_slice(&raw).map_err(bad)?)),
            n => {
                return Err(GossipError::BadKey(format!(
                    "key is {n} bytes, must be 16, 24 or 32 bytes"
                )))
            }
        };
        Ok(Key { raw, cipher })
    }

    fn from_base64(s: &str) -> Result<Key, GossipError> {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(s.trim())
            .map_err(|e| GossipError::BadKey(format!("not base64: {e}")))?;
        Key::from_raw(raw)
    }

    fn encrypt(&self, nonce: &[u8; 12], pt: &[u8]) -> Option<Vec<u8>> {
        let n = Nonce::<U12>::from(*nonce);
        match &self.cipher {
            Cipher::A128(c) => c.encrypt(&n, pt).ok(),
            Cipher::A192(c) => c.encrypt(&n, pt).ok(),
            Cipher::A256(c) => c.encrypt(&n, pt).ok(),
        }
    }

    fn decrypt(&self, nonce: &[u8; 12], ct: &[u8]) -> Option<Vec<u8>> {
        let n = Nonce::<U12>::from(*nonce);
        match &self.cipher {
            Cipher::A128(c) => c.decrypt(&n, ct).ok(),
            Cipher::A192(c) => c.decrypt(&n, ct).ok(),
            Cipher::A256(c) => c.decrypt(&n, ct).ok(),
        }
    }
}

impl Keyring {
    /// One key from Consul's `encrypt` setting (base64 of 16, 24 or 32 bytes).
    pub fn from_base64(key: &str) -> Result<Keyring, GossipError> {
        Ok(Keyring {
            keys: vec![Key::from_base64(key)?],
        })
    }

    /// A ring from several base64 keys, primary first (the keyring file's order).
    pub fn from_base64_list<S: AsRef<str>>(keys: &[S]) -> Result<Keyring, GossipError> {
        if keys.is_empty() {
            return Err(GossipError::BadKey("empty keyring".into()));
        }
        let keys = keys
            .iter()
            .map(|k| Key::from_base64(k.as_ref()))
            .collect::<Result<_, _>>()?;
        Ok(Keyring { keys })
    }

    /// The keys as base64, primary first, as the keyring file and `consul keyring -list` show them.
    pub fn to_base64_list(&self) -> Vec<String> {
        let b64 = base64::engine::general_purpose::STANDARD;
        self.keys.iter().map(|k| b64.encode(&k.raw)).collect()
    }

    /// Where Consul keeps the LAN keyring under a data dir, so restarts need no `encrypt` flag.
    pub fn file_path(data_dir: &Path) -> PathBuf {
        data_dir.join("serf").join("local.keyring")
    }

    /// Read a keyring file (a JSON array of base64 keys, primary first).
    pub fn load(path: &Path) -> Result<Keyring, GossipError> {
        let err = |reason: String| GossipError::KeyringFile {
            path: path.to_path_buf(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let list: Vec<String> = serde_json::from_str(&text).map_err(|e| err(e.to_string()))?;
        Keyring::from_base64_list(&list).map_err(|e| err(e.to_string()))
    }

    /// Write the keyring file atomically with mode 0600, since it holds secrets.
    pub fn save(&self, path: &Path) -> Result<(), GossipError> {
        let err = |e: std::io::Error| GossipError::KeyringFile {
            path: path.to_path_buf(),
            reason: e.to_string(),
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let body = serde_json::to_string(&self.to_base64_list()).unwrap_or_else(|_| "[]".into());
        let tmp = path.with_extension("keyring.tmp");
        {
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)
                .map_err(err)?;
            f.write_all(body.as_bytes()).map_err(err)?;
            f.sync_all().map_err(err)?;
        }
        std::fs::rename(&tmp, path).map_err(err)
    }

    /// Seal with the primary key: `[1][nonce 12][ciphertext + tag]`.
    pub(crate) fn seal(&self, pt: &[u8]) -> Vec<u8> {
        let nonce: [u8; 12] = rand_010::random();
        let ct = self.keys[0].encrypt(&nonce, pt).unwrap_or_default();
        let mut out = Vec::with_capacity(SEAL_OVERHEAD + pt.len());
        out.push(SEALED);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        out
    }

    /// Open a sealed body (after the version byte) with any key in the ring.
    pub(crate) fn open(&self, body: &[u8]) -> Option<Vec<u8>> {
        if body.len() < 12 + 16 {
            return None;
        }
        let (nonce, ct) = body.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().ok()?;
        self.keys.iter().find_map(|k| k.decrypt(&nonce, ct))
    }
}
