//! Salesforce record Ids: validation, the 18-character checksum, key prefixes, and pulling an
//! Id out of a pasted record URL.
//!
//! Users paste Ids and URLs into the New Account and Account Setup dialogs, and Ids are put
//! into SOQL unquoted-by-escaping. So an [`SfId`] can only be built from text that is exactly
//! a well-formed Id, which makes it safe to emit inside `'...'` and lets us reject anything
//! else before a call is made. Ids are stored and compared in their 18-character form,
//! because the 15-character form is case-sensitive and easy to mangle.

use std::fmt;
use std::str::FromStr;

const SUFFIX_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";

/// Why some text is not an acceptable Id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("a Salesforce Id has 15 or 18 letters and digits; `{0}` has {1} characters")]
    Length(String, usize),
    #[error("a Salesforce Id has only letters and digits; `{0}` has other characters")]
    Characters(String),
    #[error("`{0}` is not a valid Salesforce Id: its last 3 characters do not match the checksum (expected `{1}`)")]
    Checksum(String, String),
    #[error("`{id}` is a{} {found} Id, not a{} {expected} Id (those start with {prefix})", if starts_with_vowel(found) { "n" } else { "" }, if starts_with_vowel(expected) { "n" } else { "" })]
    WrongObject {
        id: String,
        found: String,
        expected: String,
        prefix: String,
    },
    #[error("no Salesforce record Id found in `{0}`; paste an Id (001…) or a record URL such as https://yourorg.lightning.force.com/lightning/r/Account/001…/view")]
    NoIdInText(String),
}

fn starts_with_vowel(s: &str) -> bool {
    matches!(s.chars().next(), Some('A' | 'E' | 'I' | 'O' | 'U'))
}

/// A validated Salesforce record Id, always held in the 18-character case-safe form.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SfId(String);

impl SfId {
    /// Parses a 15- or 18-character Id. An 18-character Id must carry the right checksum for
    /// its casing; [`SfId::parse_case_insensitive`] accepts one whose casing was lost.
    pub fn parse(text: &str) -> Result<SfId, IdError> {
        let text = text.trim();
        check_shape(text)?;
        let base = &text[..15];
        let expected = checksum(base);
        if text.len() == 18 {
            let suffix = &text[15..];
            if !suffix.eq_ignore_ascii_case(&expected) {
                return Err(IdError::Checksum(text.to_string(), expected));
            }
        }
        Ok(SfId(format!("{base}{expected}")))
    }

    /// Parses an 18-character Id whose letters may have been upper- or lower-cased (by a
    /// spreadsheet, say), restoring the original casing from the suffix. 15-character Ids
    /// cannot be repaired and go through [`SfId::parse`].
    pub fn parse_case_insensitive(text: &str) -> Result<SfId, IdError> {
        let text = text.trim();
        check_shape(text)?;
        if text.len() == 15 {
            return SfId::parse(text);
        }
        let mut base: Vec<u8> = text.as_bytes()[..15].to_vec();
        for (chunk, suffix_char) in text.as_bytes()[15..].iter().enumerate() {
            let upper = suffix_char.to_ascii_uppercase();
            let bits = SUFFIX_ALPHABET
                .iter()
                .position(|&c| c == upper)
                .ok_or_else(|| IdError::Checksum(text.to_string(), checksum(&text[..15])))?;
            for j in 0..5 {
                let b = &mut base[chunk * 5 + j];
                if b.is_ascii_alphabetic() {
                    *b = if bits & (1 << j) != 0 {
                        b.to_ascii_uppercase()
                    } else {
                        b.to_ascii_lowercase()
                    };
                } else if bits & (1 << j) != 0 {
                    // A digit can never be "upper case": the suffix is not a checksum.
                    return Err(IdError::Checksum(text.to_string(), checksum(&text[..15])));
                }
            }
        }
        let base = String::from_utf8(base).expect("ASCII stays ASCII");
        SfId::parse(&base)
    }

    /// Parses an Id and checks that it belongs to `object` (001 for Account, 006 for
    /// Opportunity, ...).
    pub fn parse_for(text: &str, object: KeyPrefix) -> Result<SfId, IdError> {
        let id = SfId::parse(text)?;
        id.expect(object)?;
        Ok(id)
    }

    /// Finds the record Id in what a user pasted: a bare Id, or a Lightning
    /// (`/lightning/r/Account/<id>/view`, `/lightning/r/<id>/view`) or Classic
    /// (`https://x.my.salesforce.com/<id>`) record URL. Anything else is refused.
    pub fn from_pasted(text: &str) -> Result<SfId, IdError> {
        let trimmed = text.trim();
        if !trimmed.contains('/') {
            return SfId::parse(trimmed);
        }
        let no_tail = trimmed
            .split(['?', '#'])
            .next()
            .unwrap_or(trimmed)
            .trim_end_matches('/');
        let path = match no_tail.find("://") {
            Some(scheme_end) => {
                let after = &no_tail[scheme_end + 3..];
                match after.find('/') {
                    Some(slash) => &after[slash..],
                    None => "",
                }
            }
            // A URL pasted without its scheme still starts with the host name.
            None => match no_tail.split_once('/') {
                Some((host, rest)) if host.contains('.') => {
                    &no_tail[host.len()..][..rest.len() + 1]
                }
                _ => no_tail,
            },
        };
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let candidate = match segments.as_slice() {
            ["lightning", "r", _object, id, "view" | "edit"] => Some(*id),
            ["lightning", "r", id, "view" | "edit"] => Some(*id),
            ["lightning", "r", _object, id] => Some(*id),
            [id] => Some(*id),
            [id, "e"] => Some(*id),
            _ => None,
        };
        match candidate {
            Some(id) => SfId::parse(id).map_err(|_| IdError::NoIdInText(trimmed.to_string())),
            None => Err(IdError::NoIdInText(trimmed.to_string())),
        }
    }

    /// Like [`SfId::from_pasted`], and the record must be of the expected object.
    pub fn from_pasted_for(text: &str, object: KeyPrefix) -> Result<SfId, IdError> {
        let id = SfId::from_pasted(text)?;
        id.expect(object)?;
        Ok(id)
    }

    fn expect(&self, object: KeyPrefix) -> Result<(), IdError> {
        if self.key_prefix() == object.prefix() {
            Ok(())
        } else {
            Err(IdError::WrongObject {
                id: self.0.clone(),
                found: KeyPrefix::describe(self.key_prefix()),
                expected: object.name().to_string(),
                prefix: object.prefix().to_string(),
            })
        }
    }

    /// The 18-character case-safe form.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 15-character case-sensitive form.
    pub fn to_15(&self) -> &str {
        &self.0[..15]
    }

    /// The first three characters, which name the object type.
    pub fn key_prefix(&self) -> &str {
        &self.0[..3]
    }
}

impl fmt::Display for SfId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for SfId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SfId({})", self.0)
    }
}

impl FromStr for SfId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SfId::parse(s)
    }
}

/// An Id reads as the text it holds (its 18-character form), so code that only looks at the
/// text (a URL, a SOQL literal, a map key) takes `&str` and needs no conversion.
impl std::ops::Deref for SfId {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for SfId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for SfId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl From<SfId> for String {
    fn from(id: SfId) -> String {
        id.0
    }
}

impl AsRef<str> for SfId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl serde::Serialize for SfId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for SfId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        SfId::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// The object types upsight needs to tell apart by Id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPrefix {
    Account,
    Contact,
    User,
    Opportunity,
    Organization,
    Case,
    Contract,
}

impl KeyPrefix {
    const ALL: [KeyPrefix; 7] = [
        KeyPrefix::Account,
        KeyPrefix::Contact,
        KeyPrefix::User,
        KeyPrefix::Opportunity,
        KeyPrefix::Organization,
        KeyPrefix::Case,
        KeyPrefix::Contract,
    ];

    pub fn prefix(self) -> &'static str {
        match self {
            KeyPrefix::Account => "001",
            KeyPrefix::Contact => "003",
            KeyPrefix::User => "005",
            KeyPrefix::Opportunity => "006",
            KeyPrefix::Organization => "00D",
            KeyPrefix::Case => "500",
            KeyPrefix::Contract => "800",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            KeyPrefix::Account => "Account",
            KeyPrefix::Contact => "Contact",
            KeyPrefix::User => "User",
            KeyPrefix::Opportunity => "Opportunity",
            KeyPrefix::Organization => "Organization",
            KeyPrefix::Case => "Case",
            KeyPrefix::Contract => "Contract",
        }
    }

    /// The object a prefix belongs to, for error messages.
    fn describe(prefix: &str) -> String {
        KeyPrefix::ALL
            .iter()
            .find(|k| k.prefix() == prefix)
            .map(|k| k.name().to_string())
            .unwrap_or_else(|| format!("`{prefix}…`"))
    }
}

fn check_shape(text: &str) -> Result<(), IdError> {
    let len = text.chars().count();
    if len != 15 && len != 18 {
        return Err(IdError::Length(text.to_string(), len));
    }
    if !text.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(IdError::Characters(text.to_string()));
    }
    Ok(())
}

/// The 3-character suffix for a 15-character Id: for each 5-character chunk, a bit per
/// upper-case letter, as an index into `A..Z0..5`.
pub fn checksum(id15: &str) -> String {
    debug_assert_eq!(id15.len(), 15);
    id15.as_bytes()
        .chunks(5)
        .map(|chunk| {
            let bits = chunk
                .iter()
                .enumerate()
                .filter(|(_, c)| c.is_ascii_uppercase())
                .fold(0usize, |acc, (j, _)| acc | (1 << j));
            SUFFIX_ALPHABET[bits] as char
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_wrong_object_is_named_with_its_article() {
        let wrong = |found: &str, expected: &str| {
            IdError::WrongObject {
                id: "x".into(),
                found: found.into(),
                expected: expected.into(),
                prefix: "001".into(),
            }
            .to_string()
        };
        assert!(wrong("Opportunity", "Account")
            .starts_with("`x` is an Opportunity Id, not an Account Id"));
        assert!(wrong("Contact", "Opportunity")
            .starts_with("`x` is a Contact Id, not an Opportunity Id"));
    }

    #[test]
    fn known_checksums() {
        for (short, long) in [
            ("a0BA0000000L2ZC", "a0BA0000000L2ZCMA0"),
            ("70130000001tcyI", "70130000001tcyIAAQ"),
            ("00558000001N0Ke", "00558000001N0KeAAK"),
            ("001550V000WOQZi", "001550V000WOQZiACP"),
            ("AaaAABbbBBCccCC", "AaaAABbbBBCccCCZZZ"),
            ("ABCDEFGHIJKLMNO", "ABCDEFGHIJKLMNO555"),
            ("AAaAAbbBBBCcCCC", "AAaAAbbBBBCcCCC123"),
            ("a0D30000001n7Pi", "a0D30000001n7PiEAI"),
        ] {
            assert_eq!(SfId::parse(short).unwrap().as_str(), long);
            assert_eq!(SfId::parse(long).unwrap().as_str(), long);
            assert_eq!(SfId::parse(long).unwrap().to_15(), short);
        }
    }

    #[test]
    fn rejects_bad_ids() {
        assert!(matches!(SfId::parse("001"), Err(IdError::Length(..))));
        assert!(matches!(
            SfId::parse("001000000000001AA'"),
            Err(IdError::Characters(_))
        ));
        assert!(matches!(
            SfId::parse("a0D30000001n7PiEAC"),
            Err(IdError::Checksum(_, s)) if s == "EAI"
        ));
        assert!(matches!(
            SfId::parse("001' OR Name != '"),
            Err(IdError::Length(..) | IdError::Characters(_))
        ));
        // Non-ASCII text of the right byte length must not slip through.
        assert!(SfId::parse("00100000000000é").is_err());
    }

    #[test]
    fn key_prefixes() {
        let acct = "001000000000001AAA";
        assert!(SfId::parse_for(acct, KeyPrefix::Account).is_ok());
        let err = SfId::parse_for(acct, KeyPrefix::Opportunity).unwrap_err();
        assert!(err.to_string().contains("Account"), "{err}");
        assert!(err.to_string().contains("an Opportunity"), "{err}");
        let opp = SfId::parse("006000000000001").unwrap();
        assert_eq!(opp.key_prefix(), "006");
    }

    #[test]
    fn ids_from_pasted_urls() {
        let want = "001000000000001AAA";
        for text in [
            "001000000000001AAA",
            "  001000000000001  ",
            "https://acme.lightning.force.com/lightning/r/Account/001000000000001AAA/view",
            "https://acme.lightning.force.com/lightning/r/Account/001000000000001AAA/view?ws=%2Fx",
            "https://acme.lightning.force.com/lightning/r/001000000000001AAA/view",
            "https://acme.lightning.force.com/lightning/r/Account/001000000000001/view/",
            "https://acme.my.salesforce.com/001000000000001AAA",
            "https://acme.my.salesforce.com/001000000000001",
            "https://acme.my.salesforce.com/001000000000001AAA/e",
            "acme.lightning.force.com/lightning/r/Account/001000000000001AAA/view",
        ] {
            assert_eq!(SfId::from_pasted(text).unwrap().as_str(), want, "{text}");
        }
        for text in [
            "https://acme.lightning.force.com/lightning/o/Account/list",
            "https://acme.my.salesforce.com/",
            "https://acme.my.salesforce.com/x/001000000000001AAA",
            "https://acme.lightning.force.com/lightning/r/Account/001000000000001AAB/view",
            "javascript:alert(1)",
            "",
            "Acme Corp",
        ] {
            assert!(SfId::from_pasted(text).is_err(), "{text}");
        }
        assert!(SfId::from_pasted_for(
            "https://acme.lightning.force.com/lightning/r/Opportunity/006000000000001AAA/view",
            KeyPrefix::Account
        )
        .is_err());
    }

    #[test]
    fn case_insensitive_repair() {
        let id = "a0D30000001n7PiEAI";
        assert_eq!(
            SfId::parse_case_insensitive(&id.to_lowercase())
                .unwrap()
                .as_str(),
            id
        );
        assert_eq!(
            SfId::parse_case_insensitive(&id.to_uppercase())
                .unwrap()
                .as_str(),
            id
        );
    }

    fn id15() -> impl Strategy<Value = String> {
        proptest::string::string_regex("[a-zA-Z0-9]{15}").unwrap()
    }

    proptest! {
        #[test]
        fn fifteen_to_eighteen_round_trips(short in id15()) {
            let id = SfId::parse(&short).unwrap();
            prop_assert_eq!(id.as_str().len(), 18);
            prop_assert_eq!(id.to_15(), short.as_str());
            prop_assert_eq!(SfId::parse(id.as_str()).unwrap(), id.clone());
            // The checksum lets a case-mangled 18-character Id be restored exactly.
            prop_assert_eq!(SfId::parse_case_insensitive(&id.as_str().to_lowercase()).unwrap(), id.clone());
            prop_assert_eq!(SfId::parse_case_insensitive(&id.as_str().to_uppercase()).unwrap(), id);
        }

        #[test]
        fn changing_the_case_of_a_letter_changes_the_checksum(short in id15(), pos in 0usize..15) {
            let b = short.as_bytes()[pos];
            prop_assume!(b.is_ascii_alphabetic());
            let mut flipped = short.clone().into_bytes();
            flipped[pos] = if b.is_ascii_uppercase() { b.to_ascii_lowercase() } else { b.to_ascii_uppercase() };
            let flipped = String::from_utf8(flipped).unwrap();
            prop_assert_ne!(checksum(&short), checksum(&flipped));
            // So the 18-character form of one is rejected with the other's suffix.
            let wrong = format!("{}{}", flipped, checksum(&short));
            prop_assert!(SfId::parse(&wrong).is_err());
        }

        #[test]
        fn anything_that_parses_is_safe_to_quote(text in ".{0,40}") {
            if let Ok(id) = SfId::parse(&text) {
                prop_assert!(id.as_str().bytes().all(|b| b.is_ascii_alphanumeric()));
            }
            if let Ok(id) = SfId::from_pasted(&text) {
                prop_assert!(id.as_str().bytes().all(|b| b.is_ascii_alphanumeric()));
            }
        }
    }
}
