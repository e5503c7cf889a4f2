//! Sending a batch of record updates so that one bad value fails alone.
//!
//! Salesforce refuses some requests as a whole because of one value in them: the body is
//! deserialized before any record is processed, and a value its field's type cannot hold
//! (`"2026-12-01"` for a datetime) is a 400 `JSON_PARSER_ERROR` for the request. Every
//! other record in it was never judged. [`send_splitting`] sends such a batch again in two
//! halves, each half the same way, down to single records: the records with valid values
//! go (each exactly once, in the request that succeeded), and only a record that is refused
//! on its own is the culprit. With `k` culprits among `n` records that is at most
//! `1 + 2·k·⌈log₂ n⌉` requests instead of one, and the count is reported.
//!
//! The I/O is the caller's `send` closure; everything else here is pure and tested with a
//! fake server.

/// Codes about one field's value (SOAP API Developer Guide, "StatusCode" in "Core Data Types
/// Used in API Calls"; `JSON_PARSER_ERROR` from the REST API's "Status Codes and Error
/// Responses"): the value does not deserialize, has the wrong type, is too long, is not in
/// a restricted picklist, is out of range, or breaks the field's integrity (a dependent
/// picklist). Each says a value is at fault, and, since upsight checked it against the
/// describe first, that the field's definition may have changed since.
pub const FIELD_VALUE_CODES: &[&str] = &[
    "JSON_PARSER_ERROR",
    "INVALID_TYPE_ON_FIELD_IN_RECORD",
    "STRING_TOO_LONG",
    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
    "NUMBER_OUTSIDE_VALID_RANGE",
    "FIELD_INTEGRITY_EXCEPTION",
];

/// Codes about an Id given as a value (same StatusCode page): of the wrong kind, malformed,
/// or naming a record that does not exist.
pub const ID_VALUE_CODES: &[&str] = &[
    "MALFORMED_ID",
    "INVALID_ID_FIELD",
    "INVALID_CROSS_REFERENCE_KEY",
];

/// Whether a whole-request refusal with `code` was caused by a value in the request, so
/// the same records in smaller requests can partly succeed ([`FIELD_VALUE_CODES`] and
/// [`ID_VALUE_CODES`]). A refusal with any other code (a limit, the session, a missing
/// field) would fail every half the same way.
pub fn is_value_refusal(code: &str) -> bool {
    FIELD_VALUE_CODES.contains(&code) || ID_VALUE_CODES.contains(&code)
}

/// What became of one item of a batch sent by [`send_splitting`].
#[derive(Debug, Clone, PartialEq)]
pub enum Sent<O, E> {
    /// The request carrying it was answered, with this answer for the item.
    Answered(O),
    /// Refused on its own, in a request of just this item, for a value.
    Culprit(E),
    /// The request carrying it failed as a whole for another reason, or was never sent
    /// because an earlier one did.
    RequestFailed(E),
    /// The request carrying it was answered, but with fewer answers than items.
    Unanswered,
}

/// The outcomes of [`send_splitting`], one per item in input order.
#[derive(Debug, Clone, PartialEq)]
pub struct Split<O, E> {
    pub outcomes: Vec<Sent<O, E>>,
    /// Requests made; more than one only when a value was refused.
    pub requests: usize,
    /// The failure that stopped sending (not a value refusal): the caller's later batches
    /// would fail the same way.
    pub stopped: Option<E>,
}

/// One request of a batch's items: the answer for each item, in order, or why the request
/// failed as a whole.
pub type SendFn<'a, T, O, E> = dyn FnMut(&[T]) -> Result<Vec<O>, E> + 'a;

/// Sends `items` through `send` as one request; when the request is refused as a whole for
/// a value (`is_value_refusal` of its error), sends each half on its own, recursively, so
/// that only the culprits fail. Any other whole-request failure stops sending: that part and
/// everything not yet sent get it as [`Sent::RequestFailed`].
pub fn send_splitting<T, O, E: Clone>(
    items: &[T],
    send: &mut SendFn<'_, T, O, E>,
    is_value_refusal: &dyn Fn(&E) -> bool,
) -> Split<O, E> {
    let mut outcomes: Vec<Option<Sent<O, E>>> = (0..items.len()).map(|_| None).collect();
    let mut requests = 0;
    let mut stopped: Option<E> = None;
    // Ranges still to send, the next one last: halves go back in order.
    let mut todo: Vec<std::ops::Range<usize>> = Vec::new();
    if !items.is_empty() {
        todo.push(0..items.len());
    }
    while let Some(range) = todo.pop() {
        if let Some(failure) = &stopped {
            for slot in &mut outcomes[range] {
                *slot = Some(Sent::RequestFailed(failure.clone()));
            }
            continue;
        }
        requests += 1;
        match send(&items[range.clone()]) {
            Ok(answers) => {
                let mut answers = answers.into_iter();
                for slot in &mut outcomes[range] {
                    *slot = Some(answers.next().map_or(Sent::Unanswered, Sent::Answered));
                }
            }
            Err(e) if is_value_refusal(&e) => {
                if range.len() == 1 {
                    outcomes[range.start] = Some(Sent::Culprit(e));
                } else {
                    let mid = range.start + range.len() / 2;
                    todo.push(mid..range.end);
                    todo.push(range.start..mid);
                }
            }
            Err(e) => {
                for slot in &mut outcomes[range] {
                    *slot = Some(Sent::RequestFailed(e.clone()));
                }
                stopped = Some(e);
            }
        }
    }
    Split {
        outcomes: outcomes
            .into_iter()
            .map(|o| o.unwrap_or(Sent::Unanswered))
            .collect(),
        requests,
        stopped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    #[derive(Debug, Clone, PartialEq)]
    enum Refusal {
        Value(usize),
        Down,
    }

    /// A server that refuses any request holding a culprit, for its value, and records
    /// every item it accepted.
    fn run(
        n: usize,
        culprits: &BTreeSet<usize>,
        down_after: Option<usize>,
    ) -> (Split<usize, Refusal>, Vec<usize>) {
        let items: Vec<usize> = (0..n).collect();
        let mut accepted = Vec::new();
        let mut calls = 0;
        let split = send_splitting(
            &items,
            &mut |part: &[usize]| {
                calls += 1;
                if down_after.is_some_and(|d| calls > d) {
                    return Err(Refusal::Down);
                }
                if let Some(bad) = part.iter().find(|i| culprits.contains(i)) {
                    return Err(Refusal::Value(*bad));
                }
                accepted.extend_from_slice(part);
                Ok(part.to_vec())
            },
            &|e| matches!(e, Refusal::Value(_)),
        );
        (split, accepted)
    }

    #[test]
    fn cases() {
        let set = |v: &[usize]| v.iter().copied().collect::<BTreeSet<_>>();
        // (items, culprits, requests)
        let table: &[(usize, &[usize], usize)] = &[
            (0, &[], 0),
            (1, &[], 1),
            (200, &[], 1),
            (1, &[0], 1),
            (2, &[1], 3),
            (4, &[0], 5),
            (8, &[3, 4], 11),
            (200, &[199], 1 + 2 * 8),
        ];
        for (n, culprits, requests) in table {
            let (split, accepted) = run(*n, &set(culprits), None);
            assert_eq!(
                split.requests, *requests,
                "{n} items, culprits {culprits:?}"
            );
            assert_eq!(split.stopped, None);
            for (i, outcome) in split.outcomes.iter().enumerate() {
                if culprits.contains(&i) {
                    assert_eq!(outcome, &Sent::Culprit(Refusal::Value(i)));
                } else {
                    assert_eq!(outcome, &Sent::Answered(i));
                }
            }
            assert_eq!(accepted.len(), n - culprits.len());
        }
    }

    #[test]
    fn any_other_failure_stops_and_fails_what_is_left() {
        let culprits: BTreeSet<usize> = [5].into();
        // The first request is refused for the value; the second (the first half) finds
        // the org down: nothing more is sent, and nothing is called a culprit.
        let (split, accepted) = run(10, &culprits, Some(1));
        assert_eq!(split.requests, 2);
        assert_eq!(split.stopped, Some(Refusal::Down));
        assert!(accepted.is_empty());
        assert!(split
            .outcomes
            .iter()
            .all(|o| o == &Sent::RequestFailed(Refusal::Down)));
    }

    #[test]
    fn a_short_answer_leaves_the_rest_unanswered() {
        let split = send_splitting(
            &[1, 2, 3],
            &mut |part: &[i32]| Ok::<_, ()>(part[..1].to_vec()),
            &|_| false,
        );
        assert_eq!(
            split.outcomes,
            vec![Sent::Answered(1), Sent::Unanswered, Sent::Unanswered]
        );
    }

    proptest! {
        /// Every valid item is sent exactly once, in a request that succeeded; only
        /// culprits fail; the cost stays within the bound.
        #[test]
        fn only_culprits_fail_and_every_valid_item_goes_once(
            n in 1usize..300,
            picks in proptest::collection::vec(0usize..300, 0..6),
        ) {
            let culprits: BTreeSet<usize> = picks.into_iter().filter(|p| *p < n).collect();
            let (split, accepted) = run(n, &culprits, None);
            let mut seen = accepted.clone();
            seen.sort_unstable();
            seen.dedup();
            prop_assert_eq!(seen.len(), accepted.len(), "an item was sent twice");
            let valid: Vec<usize> = (0..n).filter(|i| !culprits.contains(i)).collect();
            prop_assert_eq!(seen, valid);
            for (i, outcome) in split.outcomes.iter().enumerate() {
                if culprits.contains(&i) {
                    prop_assert_eq!(outcome, &Sent::Culprit(Refusal::Value(i)));
                } else {
                    prop_assert_eq!(outcome, &Sent::Answered(i));
                }
            }
            let depth = usize::BITS - (n - 1).leading_zeros();
            prop_assert!(split.requests <= 1 + 2 * culprits.len() * depth as usize);
        }
    }
}
