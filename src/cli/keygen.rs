//! `berth keygen`: a new gossip encryption key (32 random bytes, base64), as `consul keygen`.

use base64::Engine;
use rand::RngCore;

/// Prints the key.
pub fn run(args: &[String]) -> i32 {
    if let Some(a) = args.first() {
        eprintln!("flag provided but not defined: {a}");
        return 1;
    }
    println!("{}", new_key());
    0
}

/// 32 bytes from the OS RNG, standard base64 with padding (44 characters).
pub fn new_key() -> String {
    let mut key = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut key);
    base64::engine::general_purpose::STANDARD.encode(key)
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_are_44_chars_of_32_bytes_and_differ() {
        use base64::Engine;
        let a = super::new_key();
        assert_eq!(a.len(), 44);
        assert_eq!(
            base64::engine::general_purpose::STANDARD
                .decode(&a)
                .unwrap()
                .len(),
            32
        );
        assert_ne!(a, super::new_key());
    }
}
