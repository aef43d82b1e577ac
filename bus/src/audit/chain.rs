//! The chain: how an entry is bound to every entry before it, how the chain's head is sealed
//! (signed), and how a sequence of entries and seals is checked.
//!
//! `hash(n) = SHA-256(hash(n-1) ‖ bytes(n))`, where `bytes(n)` lays every stored field of entry
//! n out unambiguously (numbers big-endian, each text with its length), so a change to any byte
//! of any field changes its hash and every hash after it. A seal signs `(seq, hash, signed_at)`
//! with Ed25519: whoever rewrites entries must also forge the next seal, which needs the key.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::auth::keys::{PublicKey, SigningKey};

/// The hash before the first entry.
pub const GENESIS: [u8; 32] = [0; 32];

/// One entry as stored and exported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub seq: u64,
    /// Unix milliseconds.
    pub at: i64,
    /// What happened: `message.accepted`, `message.delivery`, `request.refused`, `lookup`,
    /// `operator.action`, `directory.change`, `log.opened`, `log.gap`, `log.archived`.
    pub kind: String,
    /// Who: the member, the operator, the adapter, or `anonymous`.
    pub actor: String,
    pub message: Option<String>,
    pub dossier: Option<String>,
    /// Whose data, or what the entry is about: a CCCD, an MST, a message's subject.
    pub subject: Option<String>,
    /// The rest, as JSON text (kept byte for byte: the hash covers the text).
    pub detail: String,
    /// This entry's link, hex.
    pub hash: String,
}

impl Entry {
    /// The link this entry makes after `previous`.
    pub fn link(&self, previous: &[u8; 32]) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(previous);
        hasher.update(self.seq.to_be_bytes());
        hasher.update(self.at.to_be_bytes());
        for text in [Some(&self.kind), Some(&self.actor)]
            .into_iter()
            .chain([&self.message, &self.dossier, &self.subject].map(Option::as_ref))
            .chain([Some(&self.detail)])
        {
            match text {
                Some(text) => {
                    hasher.update([1]);
                    hasher.update((text.len() as u64).to_be_bytes());
                    hasher.update(text.as_bytes());
                }
                None => hasher.update([0]),
            }
        }
        hasher.finalize().into()
    }
}

/// A signature over the chain's head.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seal {
    /// The entry it seals, and with it every entry before.
    pub seq: u64,
    /// That entry's hash, hex.
    pub hash: String,
    /// Unix milliseconds.
    pub signed_at: i64,
    /// The signing key's id (see [`PublicKey::id`]).
    pub key: String,
    /// Ed25519, hex.
    pub signature: String,
}

impl Seal {
    pub fn sign(key: &SigningKey, seq: u64, hash: &[u8; 32], signed_at: i64) -> Seal {
        Seal {
            seq,
            hash: hex::encode(hash),
            signed_at,
            key: key.public().id(),
            signature: hex::encode(key.sign(&sealed_bytes(seq, hash, signed_at))),
        }
    }

    fn verifies(&self, keys: &[PublicKey]) -> Result<(), String> {
        let hash = decode_hash(&self.hash).ok_or("its hash is not 64 hex digits")?;
        let key = keys.iter().find(|k| k.id() == self.key).ok_or_else(|| format!("unknown key {}", self.key))?;
        let signature = hex::decode(&self.signature)
            .ok()
            .filter(|bytes| hex::encode(bytes) == self.signature)
            .ok_or("its signature is not lower-case hex")?;
        if !key.verify(&sealed_bytes(self.seq, &hash, self.signed_at), &signature) {
            return Err("its signature does not verify".into());
        }
        Ok(())
    }
}

fn sealed_bytes(seq: u64, hash: &[u8; 32], signed_at: i64) -> Vec<u8> {
    let mut bytes = b"lgsp-audit-seal/1".to_vec();
    bytes.extend(seq.to_be_bytes());
    bytes.extend(hash);
    bytes.extend(signed_at.to_be_bytes());
    bytes
}

/// 64 hex digits, lower case, as the log writes them (no other spelling is accepted, so that
/// one stored text has one meaning).
pub fn decode_hash(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 || text.bytes().any(|b| b.is_ascii_uppercase()) {
        return None;
    }
    hex::decode(text).ok()?.try_into().ok()
}

/// Where a chain starts: the entry before the first one checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Anchor {
    pub seq: u64,
    pub hash: [u8; 32],
}

impl Anchor {
    pub const GENESIS: Anchor = Anchor { seq: 0, hash: GENESIS };
}

/// The first thing wrong, naming the entry where it shows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("entry {seq}: {what}")]
pub struct Finding {
    pub seq: u64,
    pub what: String,
}

/// What a check found.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Report {
    pub entries: u64,
    pub seals: u64,
    /// The last entry checked.
    pub last: u64,
    /// The last entry a seal covers.
    pub sealed: u64,
}

impl Report {
    /// Entries after the last seal: their content is chained but not yet signed (a bus that
    /// was killed leaves up to `sign_every` of them; it seals them when it starts again).
    pub fn unsealed(&self) -> u64 {
        self.last - self.sealed.min(self.last)
    }
}

/// Checks entries and seals in order: each entry follows the one before, its hash is its
/// content's, and each seal is a valid signature by a known key over an entry seen.
pub struct Verifier<'k> {
    keys: &'k [PublicKey],
    previous: Anchor,
    report: Report,
}

impl<'k> Verifier<'k> {
    pub fn new(anchor: Anchor, keys: &'k [PublicKey]) -> Self {
        Verifier {
            keys,
            previous: anchor,
            report: Report { last: anchor.seq, sealed: anchor.seq, ..Report::default() },
        }
    }

    pub fn entry(&mut self, entry: &Entry) -> Result<(), Finding> {
        let expected = self.previous.seq + 1;
        let finding = |seq, what: String| Err(Finding { seq, what });
        if entry.seq > expected {
            let gap = if entry.seq == expected + 1 {
                format!("entry {expected} is missing here: removed or moved")
            } else {
                format!("entries {expected} to {} are missing here: removed or moved", entry.seq - 1)
            };
            return finding(expected, gap);
        }
        if entry.seq < expected {
            return finding(
                entry.seq,
                format!("appears again after entry {}: inserted or reordered", self.previous.seq),
            );
        }
        let hash = entry.link(&self.previous.hash);
        if hex::encode(hash) != entry.hash {
            return finding(entry.seq, "altered: its content or place does not match its hash".into());
        }
        self.previous = Anchor { seq: entry.seq, hash };
        self.report.entries += 1;
        self.report.last = entry.seq;
        Ok(())
    }

    pub fn seal(&mut self, seal: &Seal) -> Result<(), Finding> {
        let finding = |what: String| Err(Finding { seq: seal.seq, what });
        if seal.seq != self.previous.seq {
            return finding(format!(
                "missing, though a seal covers it: removed (the entries before the seal end at {})",
                self.previous.seq
            ));
        }
        if seal.hash != hex::encode(self.previous.hash) {
            return finding(format!(
                "the seal of {} signed another chain: entries {} to {} were rewritten",
                seal.seq,
                self.report.sealed + 1,
                seal.seq
            ));
        }
        if let Err(why) = seal.verifies(self.keys) {
            return finding(format!("its seal is not valid: {why}"));
        }
        self.report.seals += 1;
        self.report.sealed = seal.seq;
        Ok(())
    }

    pub fn report(&self) -> &Report {
        &self.report
    }

    pub fn head(&self) -> Anchor {
        self.previous
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(key: &SigningKey, n: u64) -> (Vec<Entry>, Vec<Seal>) {
        let mut previous = GENESIS;
        let mut entries = Vec::new();
        for seq in 1..=n {
            let mut entry = Entry {
                seq,
                at: 1_700_000_000_000 + seq as i64,
                kind: "message.accepted".into(),
                actor: "onestop.sandbox".into(),
                message: Some(format!("m{seq}")),
                dossier: None,
                subject: Some("000.00.01.H42-261120-0001".into()),
                detail: format!(r#"{{"n":{seq}}}"#),
                hash: String::new(),
            };
            previous = entry.link(&previous);
            entry.hash = hex::encode(previous);
            entries.push(entry);
        }
        (entries, vec![Seal::sign(key, n, &previous, 1)])
    }

    fn check(keys: &[PublicKey], entries: &[Entry], seals: &[Seal]) -> Result<Report, Finding> {
        let mut verifier = Verifier::new(Anchor::GENESIS, keys);
        for entry in entries {
            verifier.entry(entry)?;
        }
        for seal in seals {
            verifier.seal(seal)?;
        }
        Ok(verifier.report().clone())
    }

    #[test]
    fn an_intact_chain_verifies_and_each_kind_of_tampering_is_named() {
        let key = SigningKey::generate();
        let keys = [key.public()];
        let (entries, seals) = chain(&key, 5);
        let report = check(&keys, &entries, &seals).unwrap();
        assert_eq!((report.entries, report.seals, report.unsealed()), (5, 1, 0));

        let mut altered = entries.clone();
        altered[2].detail = r#"{"n":4}"#.into();
        assert_eq!(check(&keys, &altered, &seals).unwrap_err().seq, 3);

        let mut removed = entries.clone();
        removed.remove(1);
        assert_eq!(
            check(&keys, &removed, &seals).unwrap_err(),
            Finding { seq: 2, what: "entry 2 is missing here: removed or moved".into() }
        );

        let mut swapped = entries.clone();
        swapped.swap(1, 2);
        assert_eq!(check(&keys, &swapped, &seals).unwrap_err().seq, 2);

        let truncated = &entries[..4];
        assert_eq!(check(&keys, truncated, &seals).unwrap_err().seq, 5);

        let other = SigningKey::generate();
        let (_, forged) = chain(&other, 5);
        assert!(check(&keys, &entries, &forged).unwrap_err().what.contains("unknown key"));
    }

    #[test]
    fn a_rewritten_chain_with_recomputed_hashes_fails_at_its_seal() {
        let key = SigningKey::generate();
        let (mut entries, seals) = chain(&key, 4);
        entries[1].actor = "someone.else".into();
        let mut previous = GENESIS;
        for entry in &mut entries {
            previous = entry.link(&previous);
            entry.hash = hex::encode(previous);
        }
        let finding = check(&[key.public()], &entries, &seals).unwrap_err();
        assert_eq!(finding.seq, 4);
        assert!(finding.what.contains("rewritten"), "{finding}");
    }

    #[test]
    fn a_hash_is_read_in_one_spelling_only() {
        let hash = [0xab; 32];
        assert_eq!(decode_hash(&hex::encode(hash)), Some(hash));
        assert_eq!(decode_hash(&hex::encode(hash).to_uppercase()), None);
        assert_eq!(decode_hash("ab"), None);
    }
}
