//! Redis Cluster hash slots, and a multi-name lock's names grouped by slot.

use crate::protocol::{KeySet, hash_tag};

/// How many hash slots a Redis Cluster has.
const SLOTS: u16 = 16384;

/// The hash slot of `key`, as `CLUSTER KEYSLOT` computes it: CRC16 (XMODEM) of its hash tag, or
/// of the whole key when it has none, modulo 16384.
pub(crate) fn key_slot(key: &str) -> u16 {
    let hashed = hash_tag(key).unwrap_or(key);
    let crc = hashed.bytes().fold(0u16, |mut crc, byte| {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 == 0 {
                crc << 1
            } else {
                (crc << 1) ^ 0x1021
            };
        }
        crc
    });
    crc % SLOTS
}

/// The names of a lock that share one slot.
#[derive(Debug)]
pub(crate) struct Group {
    /// Their indices in the lock's [`KeySet`] (in name order).
    pub(crate) indices: Vec<usize>,
    /// Their Redis names, as a lock on these names alone has them.
    pub(crate) keys: KeySet,
}

/// The names of `keys` grouped by slot, in ascending slot order; `None` when they all share
/// one slot (a single name, or names with a common hash tag), which needs no grouping.
pub(crate) fn split(keys: &KeySet) -> Option<Vec<Group>> {
    let slots: Vec<u16> = keys.keys.iter().map(|key| key_slot(key)).collect();
    if slots.windows(2).all(|pair| pair[0] == pair[1]) {
        return None;
    }
    let mut order: Vec<usize> = (0..slots.len()).collect();
    order.sort_by_key(|&index| (slots[index], index));
    let groups = order
        .chunk_by(|&a, &b| slots[a] == slots[b])
        .map(|indices| Group {
            keys: select(keys, indices),
            indices: indices.to_vec(),
        })
        .collect();
    Some(groups)
}

/// The part of `keys` at `indices`.
fn select(keys: &KeySet, indices: &[usize]) -> KeySet {
    KeySet::of_keys(indices.iter().map(|&i| keys.keys[i].clone()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_match_redis() {
        // CLUSTER KEYSLOT, and the CRC16 check value of the Redis Cluster specification.
        assert_eq!(key_slot("foo"), 12182);
        assert_eq!(key_slot("123456789"), 0x31C3);
        assert_eq!(key_slot("{user1000}.following"), key_slot("user1000"));
        assert_ne!(key_slot("{}foo"), key_slot(""));
    }

    #[test]
    fn groups_by_slot() {
        let names = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        let same = KeySet::new("MUTEX_", &names(&["{t}a", "{t}b"])).unwrap();
        assert!(split(&same).is_none());
        let keys = KeySet::new("MUTEX_", &names(&["a", "b", "c", "{a}x"])).unwrap();
        let groups = split(&keys).unwrap();
        let mut seen: Vec<usize> = groups.iter().flat_map(|g| g.indices.clone()).collect();
        seen.sort_unstable();
        assert_eq!(seen, [0, 1, 2, 3]);
        let slots: Vec<u16> = groups.iter().map(|g| key_slot(&g.keys.keys[0])).collect();
        assert!(slots.windows(2).all(|pair| pair[0] < pair[1]), "{slots:?}");
        for group in &groups {
            for (j, &i) in group.indices.iter().enumerate() {
                assert_eq!(group.keys.keys[j], keys.keys[i]);
                assert_eq!(group.keys.queues()[j], keys.queues()[i]);
                assert_eq!(key_slot(&group.keys.fences()[j]), key_slot(&keys.keys[i]));
            }
        }
    }
}
