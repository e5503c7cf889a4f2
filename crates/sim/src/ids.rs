//! Salesforce record Ids: the 15-character case-sensitive form, the 18-character case-safe form
//! with its 3-character checksum suffix, and a deterministic generator.
//!
//! The checksum makes an 18-character Id survive case-insensitive systems: each suffix
//! character encodes which of 5 characters in its chunk are upper-case letters.

/// The alphabet of the checksum suffix, indexed by the 5-bit upper-case mask of a chunk.
const SUFFIX_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// The 3-character checksum suffix of a 15-character Id.
pub fn checksum_suffix(id15: &str) -> String {
    id15.as_bytes()
        .chunks(5)
        .map(|chunk| {
            let mask = chunk
                .iter()
                .enumerate()
                .filter(|(_, b)| b.is_ascii_uppercase())
                .fold(0usize, |m, (j, _)| m | (1 << j));
            SUFFIX_ALPHABET[mask] as char
        })
        .collect()
}

/// The 18-character form of a well-formed 15- or 18-character Id, or `None` when `id` is not
/// one: wrong length, a character outside `[A-Za-z0-9]`, or an 18-character Id whose suffix
/// does not match (compared case-insensitively, since case-safe Ids may be re-cased).
///
/// An 18-character Id whose casing was lost is repaired from its suffix, so
/// `001abc...` in lower case normalises to the same Id as the original.
pub fn normalize(id: &str) -> Option<String> {
    if !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    match id.len() {
        15 => Some(format!("{id}{}", checksum_suffix(id))),
        18 => {
            let (body, suffix) = id.split_at(15);
            if checksum_suffix(body).eq_ignore_ascii_case(suffix) {
                return Some(format!("{body}{}", checksum_suffix(body)));
            }
            let repaired = repair_case(body, suffix)?;
            let canonical = format!("{repaired}{}", checksum_suffix(&repaired));
            canonical.eq_ignore_ascii_case(id).then_some(canonical)
        }
        _ => None,
    }
}

/// Re-cases the 15-character body from the suffix bits (upper-case where a bit is set).
fn repair_case(body: &str, suffix: &str) -> Option<String> {
    let mut out = String::with_capacity(15);
    for (chunk, s) in body.as_bytes().chunks(5).zip(suffix.bytes()) {
        let mask = SUFFIX_ALPHABET
            .iter()
            .position(|&a| a == s.to_ascii_uppercase())?;
        for (j, &b) in chunk.iter().enumerate() {
            let c = if mask & (1 << j) != 0 {
                b.to_ascii_uppercase()
            } else {
                b.to_ascii_lowercase()
            };
            out.push(c as char);
        }
    }
    Some(out)
}

/// Issues Ids for one org: `<key prefix><pod><counter in base 62>` plus the checksum, so the
/// same sequence of inserts always yields the same Ids.
#[derive(Debug, Clone)]
pub struct IdGen {
    pod: String,
}

impl IdGen {
    /// `pod` is two characters that make this org's Ids look like they come from one
    /// instance (real Ids carry the pod after the key prefix).
    pub fn new(pod: &str) -> IdGen {
        IdGen {
            pod: pod.chars().take(2).collect(),
        }
    }

    /// The `n`th Id with key prefix `prefix`, 18 characters.
    pub fn id(&self, prefix: &str, n: u64) -> String {
        let mut digits = [b'0'; 10];
        let mut rest = n;
        for slot in digits.iter_mut().rev() {
            *slot = BASE62[(rest % 62) as usize];
            rest /= 62;
        }
        let body = format!(
            "{prefix}{}{}",
            self.pod,
            std::str::from_utf8(&digits).unwrap_or("0000000000")
        );
        let body: String = body.chars().take(15).collect();
        format!("{body}{}", checksum_suffix(&body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_matches_the_known_vectors() {
        for (id15, id18) in [
            ("a0BA0000000L2ZC", "a0BA0000000L2ZCMA0"),
            ("70130000001tcyI", "70130000001tcyIAAQ"),
            ("00558000001N0Ke", "00558000001N0KeAAK"),
            ("001550V000WOQZi", "001550V000WOQZiACP"),
            ("ABCDEFGHIJKLMNO", "ABCDEFGHIJKLMNO555"),
            ("AAaAAbbBBBCcCCC", "AAaAAbbBBBCcCCC123"),
            ("a0D30000001n7Pi", "a0D30000001n7PiEAI"),
        ] {
            assert_eq!(normalize(id15).as_deref(), Some(id18));
            assert_eq!(normalize(id18).as_deref(), Some(id18));
        }
    }

    #[test]
    fn normalize_repairs_case_and_rejects_garbage() {
        assert_eq!(
            normalize("a0ba0000000l2zcma0").as_deref(),
            Some("a0BA0000000L2ZCMA0")
        );
        assert_eq!(normalize("a0BA0000000L2ZCMA1"), None);
        assert_eq!(normalize("001'; DROP--xxxx"), None);
        assert_eq!(normalize("001"), None);
    }

    #[test]
    fn generated_ids_are_valid_and_distinct() {
        let g = IdGen::new("5g");
        let a = g.id("001", 1);
        let b = g.id("001", 62);
        assert_eq!(a.len(), 18);
        assert!(a.starts_with("0015g"));
        assert_ne!(a, b);
        assert_eq!(normalize(&a).as_deref(), Some(a.as_str()));
        assert_eq!(normalize(&b[..15]).as_deref(), Some(b.as_str()));
    }
}
