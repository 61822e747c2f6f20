//! What the fleet store holds for an answer: a version byte, a flag byte,
//! with `key_file` an HMAC-SHA256 tag, then the entry as the snapshot saves
//! it (postcard: its cache key, rcode, record sections in wire form and the
//! wall-clock time it arrived). The tag covers the store key and the
//! payload, so a valid entry cannot be moved to another name either. A
//! value is read back through the snapshot's checks ([`SavedEntry::restore`]:
//! `Entry::from_reply` on the rebuilt reply), so whatever the store holds,
//! stubborn caches nothing it would not cache from an upstream.

use ring::hmac;

use crate::cache::persist::SavedEntry;

/// Bumped whenever the layout changes; other versions are invalid.
pub const VERSION: u8 = 1;
const TAGGED: u8 = 1;
const TAG_LEN: usize = 32;

/// Why a value was not used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No valid tag where `key_file` asks for one: counted `rejected`.
    Rejected,
    /// Not a value this build wrote: counted `invalid`.
    Invalid,
}

/// The value for `saved` under `store_key`, tagged with `secret` if any.
pub fn encode(store_key: &[u8], saved: &SavedEntry, secret: Option<&hmac::Key>) -> Option<Vec<u8>> {
    let payload = postcard::to_stdvec(saved).ok()?;
    let mut value = Vec::with_capacity(2 + TAG_LEN + payload.len());
    value.push(VERSION);
    match secret {
        Some(secret) => {
            value.push(TAGGED);
            value.extend_from_slice(tag(secret, store_key, &payload).as_ref());
        }
        None => value.push(0),
    }
    value.extend_from_slice(&payload);
    Some(value)
}

/// The entry in `value`, read under `store_key`, for the cache key `key`.
pub fn decode(store_key: &[u8], key: &[u8], value: &[u8], secret: Option<&hmac::Key>) -> Result<SavedEntry, Refusal> {
    let [version, flags, rest @ ..] = value else { return Err(Refusal::Invalid) };
    if *version != VERSION || flags & !TAGGED != 0 {
        return Err(Refusal::Invalid);
    }
    let payload = if flags & TAGGED != 0 {
        let (tagged, payload) = rest.split_at_checked(TAG_LEN).ok_or(Refusal::Invalid)?;
        if let Some(secret) = secret {
            let mut message = store_key.to_vec();
            message.extend_from_slice(payload);
            hmac::verify(secret, &message, tagged).map_err(|_| Refusal::Rejected)?;
        }
        payload
    } else if secret.is_some() {
        return Err(Refusal::Rejected);
    } else {
        rest
    };
    let saved: SavedEntry = postcard::from_bytes(payload).map_err(|_| Refusal::Invalid)?;
    // A value under another key than its own is a copy or a forgery.
    if saved.key != key {
        return Err(if secret.is_some() { Refusal::Rejected } else { Refusal::Invalid });
    }
    Ok(saved)
}

fn tag(secret: &hmac::Key, store_key: &[u8], payload: &[u8]) -> hmac::Tag {
    let mut context = hmac::Context::with_key(secret);
    context.update(store_key);
    context.update(payload);
    context.sign()
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use tokio::time::Instant;

    use super::*;
    use crate::{cache::Entry, config::CacheConfig, test_packets::positive_reply};

    const KEY: &[u8] = b"\x03www\x07example\x03com\x00\x00\x01\x00\x01\x00";

    fn saved() -> SavedEntry {
        let entry = Entry::from_reply(&positive_reply(), 21, 1, &CacheConfig::default(), Instant::now()).unwrap();
        SavedEntry::of(KEY.to_vec(), &entry, Instant::now(), SystemTime::now())
    }

    fn secret(byte: u8) -> hmac::Key {
        hmac::Key::new(hmac::HMAC_SHA256, &[byte; 32])
    }

    #[test]
    fn a_tagged_value_reads_back_only_with_its_key_and_name() {
        let value = encode(b"s:www", &saved(), Some(&secret(1))).unwrap();
        assert!(decode(b"s:www", KEY, &value, Some(&secret(1))).is_ok());
        assert_eq!(decode(b"s:www", KEY, &value, Some(&secret(2))).err(), Some(Refusal::Rejected));
        assert_eq!(decode(b"s:mail", KEY, &value, Some(&secret(1))).err(), Some(Refusal::Rejected));
        let mut flipped = value.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert_eq!(decode(b"s:www", KEY, &flipped, Some(&secret(1))).err(), Some(Refusal::Rejected));
    }

    #[test]
    fn untagged_values_are_rejected_where_a_key_is_set() {
        let value = encode(b"s:www", &saved(), None).unwrap();
        assert!(decode(b"s:www", KEY, &value, None).is_ok());
        assert_eq!(decode(b"s:www", KEY, &value, Some(&secret(1))).err(), Some(Refusal::Rejected));
    }

    #[test]
    fn garbage_is_invalid_never_a_panic() {
        for value in [&b""[..], b"\x01", b"\x02\x00abc", b"\x01\x00\xff\xff\xff", b"\x01\x01short"] {
            assert_eq!(decode(b"s:www", KEY, value, None).err(), Some(Refusal::Invalid), "{value:?}");
        }
        let other_name = encode(b"s:www", &saved(), None).unwrap();
        assert_eq!(decode(b"s:www", b"\x00\x00\x01\x00\x01\x00", &other_name, None).err(), Some(Refusal::Invalid));
        for _ in 0..10_000 {
            let len = rand::random_range(0..64usize);
            let value: Vec<u8> = (0..len).map(|_| rand::random()).collect();
            let _ = decode(b"s:www", KEY, &value, Some(&secret(1)));
        }
    }
}
