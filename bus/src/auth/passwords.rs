//! Secrets of members and passwords of operators: only their argon2 hashes are kept.

use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The PHC string of `secret`'s argon2id hash, with a fresh salt.
pub fn hash(secret: &str) -> String {
    let hash: PasswordHash = Argon2::default().hash_password(secret.as_bytes()).expect("argon2 hashes any input");
    hash.to_string()
}

/// Whether `secret` is the one `phc` was made from. A hash that cannot be read matches nothing.
pub fn verify(secret: &str, phc: &str) -> bool {
    PasswordVerifier::<str>::verify_password(&Argon2::default(), secret.as_bytes(), phc).is_ok()
}

/// A new client secret: 32 random bytes, base64url.
pub fn generate() -> String {
    let mut bytes = [0u8; 32];
    SystemRandom::new().fill(&mut bytes).expect("the system has randomness");
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_secret_matches_its_hash() {
        let secret = generate();
        let phc = hash(&secret);
        assert!(phc.starts_with("$argon2id$"), "{phc}");
        assert!(!phc.contains(&secret));
        assert!(verify(&secret, &phc));
        assert!(!verify("sandbox", &phc));
        assert!(!verify(&secret, "not a hash"));
        assert_ne!(hash(&secret), phc, "a fresh salt each time");
    }
}
