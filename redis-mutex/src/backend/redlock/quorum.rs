//! Counting the masters' replies: what a majority says. No I/O here.

use std::time::Duration;

/// The majority of `masters`: `N/2 + 1`.
pub(super) fn quorum(masters: usize) -> usize {
    masters / 2 + 1
}

/// What one master's part of an acquisition found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Part {
    /// Every key taken on this master.
    Taken,
    /// A key held by someone else, for this long (`None`: no expiry).
    Held(Option<Duration>),
}

/// How an acquisition over every master stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Verdict {
    /// A quorum took every key, with validity left.
    Acquired,
    /// No quorum: retry after `pttl` (a random delay when nobody else holds a quorum).
    Busy(Option<Duration>),
    /// Fewer masters than a quorum answered.
    Unreachable {
        /// How many answered.
        answered: usize,
    },
}

/// Judges an acquisition from its `parts` (one per master that answered) out of `masters`,
/// `valid` telling whether validity time is left; `jitter` is a random delay to add to a
/// retry.
pub(super) fn judge(parts: &[Part], masters: usize, valid: bool, jitter: Duration) -> Verdict {
    let quorum = quorum(masters);
    let taken = parts.iter().filter(|part| **part == Part::Taken).count();
    if taken >= quorum && valid {
        return Verdict::Acquired;
    }
    if parts.len() < quorum {
        return Verdict::Unreachable {
            answered: parts.len(),
        };
    }
    let mut held: Vec<Option<Duration>> = parts
        .iter()
        .filter_map(|part| match part {
            Part::Held(pttl) => Some(*pttl),
            Part::Taken => None,
        })
        .collect();
    if held.len() < quorum {
        // Nobody holds a quorum: a split vote, or a release under way. Retry soon, at a
        // random moment, so that contenders do not split again.
        return Verdict::Busy(Some(jitter));
    }
    // The lock frees up for us once enough held keys expire for a quorum with ours.
    held.sort_by_key(|pttl| pttl.unwrap_or(Duration::MAX));
    let need = quorum.saturating_sub(taken).max(1);
    Verdict::Busy(held[need - 1].map(|pttl| pttl + jitter))
}

/// What a majority says of one key, from the replies of the masters that answered, as
/// `(value, pttl)` pairs: the value a quorum of `masters` holds, with how long at least a
/// quorum keeps holding it (`None` in the pttl: no expiry).
pub(super) fn majority<'a>(
    replies: &[(Option<&'a str>, Option<Duration>)],
    masters: usize,
) -> Option<(&'a str, Option<Duration>)> {
    let quorum = quorum(masters);
    let holding = |value: &str| -> Vec<Option<Duration>> {
        replies
            .iter()
            .filter(|(v, _)| *v == Some(value))
            .map(|(_, pttl)| *pttl)
            .collect()
    };
    let value = replies
        .iter()
        .filter_map(|(value, _)| *value)
        .find(|value| holding(value).len() >= quorum)?;
    let mut pttls = holding(value);
    // Longest first; no expiry is longest.
    pttls.sort_by_key(|pttl| std::cmp::Reverse(pttl.unwrap_or(Duration::MAX)));
    Some((value, pttls[quorum - 1]))
}

/// How many of a lock's keys a quorum of `masters` reported as the token's, from per-key flags
/// of the masters that answered; `Err(())` when that is uncertain (a key without a quorum
/// could still have one among the masters that did not answer).
pub(super) fn ours<'a, I>(flags: I, keys: usize, masters: usize) -> Result<usize, ()>
where
    I: IntoIterator<Item = &'a Vec<i64>>,
    I::IntoIter: Clone,
{
    let flags = flags.into_iter();
    let quorum = quorum(masters);
    let silent = masters - flags.clone().count();
    let mut ours = 0;
    for key in 0..keys {
        let yes = flags
            .clone()
            .filter(|flags| flags.get(key) == Some(&1))
            .count();
        if yes >= quorum {
            ours += 1;
        } else if yes + silent >= quorum {
            return Err(());
        }
    }
    Ok(ours)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn majorities() {
        assert_eq!([3, 4, 5, 6, 7].map(quorum), [2, 3, 3, 4, 4]);
    }

    #[test]
    fn acquisitions() {
        use Part::*;
        let j = MS * 7;
        assert_eq!(judge(&[Taken; 3], 5, true, j), Verdict::Acquired);
        // Out of validity: retry soon.
        assert_eq!(judge(&[Taken; 5], 5, false, j), Verdict::Busy(Some(j)));
        assert_eq!(
            judge(&[Taken, Taken], 5, true, j),
            Verdict::Unreachable { answered: 2 }
        );
        // Held by another on 3, two silent: all three must expire.
        let held = [
            Held(Some(MS * 30)),
            Held(Some(MS * 10)),
            Held(Some(MS * 20)),
        ];
        assert_eq!(judge(&held, 5, true, j), Verdict::Busy(Some(MS * 37)));
        // Ours on the other two: the first to expire will do.
        let five = [&held[..], &[Taken, Taken]].concat();
        assert_eq!(judge(&five, 5, true, j), Verdict::Busy(Some(MS * 17)));
        let mut four = held.to_vec();
        four.push(Held(None));
        four.push(Taken);
        // Ours on 1, held on 4: two more must expire.
        assert_eq!(judge(&four, 5, true, j), Verdict::Busy(Some(MS * 27)));
        // A split vote: retry after the jitter only.
        let split = [
            Taken,
            Taken,
            Held(Some(MS * 900)),
            Held(Some(MS * 900)),
            Taken,
        ];
        assert_eq!(judge(&split[..4], 5, true, j), Verdict::Busy(Some(j)));
    }

    #[test]
    fn majority_views() {
        let r = |v: Option<&'static str>, ms: u32| (v, Some(MS * ms));
        let replies = [
            r(Some("a"), 10),
            r(Some("b"), 50),
            r(Some("a"), 30),
            r(Some("a"), 20),
            r(None, 0),
        ];
        assert_eq!(majority(&replies, 5), Some(("a", Some(MS * 10))));
        assert_eq!(majority(&replies[..3], 5), None);
    }

    #[test]
    fn counting_our_keys() {
        assert_eq!(ours(&[vec![1, 1], vec![1, 0], vec![1, 1]], 2, 3), Ok(2));
        assert_eq!(ours(&[vec![1, 1], vec![1, 0], vec![0, 0]], 2, 3), Ok(1));
        // Two of five answered, both ours: the other three decide.
        assert_eq!(ours(&[vec![1], vec![1]], 1, 5), Err(()));
        assert_eq!(ours(&[vec![0], vec![0], vec![0]], 1, 5), Ok(0));
        assert_eq!(ours(&[vec![1], vec![1], vec![0], vec![0]], 1, 5), Err(()));
    }
}
