//! Word error rate (WER) of speech recognition against reference transcripts.
//!
//! The numbers agree with the Python `jiwer` package (version 4), which is the reference
//! implementation the project tests against (`tests/reference/kpi_golden.py`):
//!
//! - Text is normalised by [`normalize`] and split into words on spaces.
//! - Words are aligned by Levenshtein distance (unit cost for substitution, deletion and
//!   insertion). When several alignments have the same minimal cost, the split into
//!   substitutions, deletions and insertions is not unique; this module breaks ties exactly
//!   as `rapidfuzz.distance.Levenshtein.opcodes` (which `jiwer.process_words` calls) does:
//!   common prefix and suffix are matched first, then the bit-parallel matrix of Hyyrö is
//!   walked back from the end preferring deletion, then insertion, then the diagonal.
//!   rapidfuzz switches to Hirschberg's algorithm for very long inputs (well beyond a
//!   thousand words each); there the split may differ, the total error count never does.
//! - WER = (S + D + I) / N with N the number of reference words. Corpus WER sums errors and
//!   reference words over all pairs first (what `jiwer.wer(list, list)` does).
//!
//! Deviation from jiwer: jiwer returns the *number of insertions* as the "WER" of an empty
//! reference. A rate with a zero denominator is undefined, so here it is `None`; the counts
//! (including insertions) are still reported.

use serde::Serialize;
use unicode_properties::{GeneralCategoryGroup, UnicodeGeneralCategory};

/// Alignments larger than this many cells (reference words × hypothesis words) are refused,
/// so that a runaway transcript cannot exhaust memory (two bits per cell are kept).
pub const MAX_ALIGNMENT_CELLS: usize = 1 << 28;

/// Why a WER could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WerError {
    /// Corpus input with different numbers of references and hypotheses.
    #[error("{references} reference transcripts but {hypotheses} hypotheses")]
    LengthMismatch {
        /// Number of reference transcripts.
        references: usize,
        /// Number of hypothesis transcripts.
        hypotheses: usize,
    },
    /// The alignment matrix would exceed [`MAX_ALIGNMENT_CELLS`].
    #[error("alignment of {reference_words} reference words with {hypothesis_words} hypothesis words exceeds {limit} cells")]
    TooLong {
        /// Words in the reference.
        reference_words: usize,
        /// Words in the hypothesis.
        hypothesis_words: usize,
        /// The cell limit.
        limit: usize,
    },
}

/// Result alias of this module.
pub type Result<T, E = WerError> = std::result::Result<T, E>;

/// Normalises a transcript: lowercase, punctuation removed, whitespace collapsed, trimmed.
///
/// - Lowercasing is Unicode full lowercasing (`str::to_lowercase`, like Python `str.lower`).
/// - Punctuation is every character whose Unicode general category starts with `P`
///   (`jiwer.RemovePunctuation`). It is deleted, not replaced by a space, so `pick-up`
///   becomes `pickup` and `don't` becomes `dont`, as in jiwer.
/// - Whitespace is what Python's `str.isspace` accepts: Unicode `White_Space` plus the
///   ASCII information separators U+001C..U+001F. Each run becomes one space.
///
/// The Unicode tables may be newer than the Python's (Python 3.11 ships Unicode 14); this
/// only matters for characters assigned since, none of which occur in practice in robot
/// commands.
pub fn normalize(text: &str) -> String {
    let lowered = text.to_lowercase();
    let mut out = String::with_capacity(lowered.len());
    let mut pending_space = false;
    for c in lowered.chars() {
        if is_python_space(c) {
            pending_space = !out.is_empty();
        } else if c.general_category_group() != GeneralCategoryGroup::Punctuation {
            if pending_space {
                out.push(' ');
                pending_space = false;
            }
            out.push(c);
        }
    }
    out
}

/// Splits a transcript into normalised words (see [`normalize`]).
pub fn words(text: &str) -> Vec<String> {
    normalize(text)
        .split(' ')
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

fn is_python_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Kind of a word-level edit turning the reference into the hypothesis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EditKind {
    /// A reference word was recognised as a different word.
    Substitution,
    /// A reference word is missing from the hypothesis.
    Deletion,
    /// The hypothesis has a word the reference lacks.
    Insertion,
}

/// One word-level edit; positions index the reference and hypothesis word lists.
///
/// For an insertion `reference_pos` is where the word goes in (the index of the following
/// reference word); for a deletion `hypothesis_pos` is likewise the gap position, matching
/// rapidfuzz's `Editop` convention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct EditOp {
    /// What kind of edit.
    pub kind: EditKind,
    /// Position in the reference words.
    pub reference_pos: usize,
    /// Position in the hypothesis words.
    pub hypothesis_pos: usize,
}

/// Error counts of one or more aligned transcript pairs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct WordErrors {
    /// Reference words recognised correctly.
    pub hits: u64,
    /// Reference words recognised as another word.
    pub substitutions: u64,
    /// Reference words missing from the hypothesis.
    pub deletions: u64,
    /// Hypothesis words with no reference counterpart.
    pub insertions: u64,
    /// Words in the reference(s), N = hits + substitutions + deletions.
    pub reference_words: u64,
    /// Words in the hypothesis (or hypotheses).
    pub hypothesis_words: u64,
}

impl WordErrors {
    /// Total edits S + D + I (the word-level Levenshtein distance).
    pub fn errors(&self) -> u64 {
        self.substitutions + self.deletions + self.insertions
    }

    /// Word error rate (S + D + I) / N; `None` when the reference has no words.
    pub fn wer(&self) -> Option<f64> {
        (self.reference_words > 0).then(|| self.errors() as f64 / self.reference_words as f64)
    }

    /// Adds another pair's counts (saturating, so a long-running monitor never wraps).
    pub fn add(&mut self, other: &WordErrors) {
        self.hits = self.hits.saturating_add(other.hits);
        self.substitutions = self.substitutions.saturating_add(other.substitutions);
        self.deletions = self.deletions.saturating_add(other.deletions);
        self.insertions = self.insertions.saturating_add(other.insertions);
        self.reference_words = self.reference_words.saturating_add(other.reference_words);
        self.hypothesis_words = self.hypothesis_words.saturating_add(other.hypothesis_words);
    }

    fn from_ops(ops: &[EditOp], reference_words: usize, hypothesis_words: usize) -> Self {
        let mut counts = WordErrors {
            reference_words: reference_words as u64,
            hypothesis_words: hypothesis_words as u64,
            ..WordErrors::default()
        };
        for op in ops {
            match op.kind {
                EditKind::Substitution => counts.substitutions += 1,
                EditKind::Deletion => counts.deletions += 1,
                EditKind::Insertion => counts.insertions += 1,
            }
        }
        counts.hits = counts.reference_words - counts.substitutions - counts.deletions;
        counts
    }
}

/// Minimal word edits turning `reference` into `hypothesis`, ties broken as rapidfuzz does.
///
/// The words are compared as given (no normalisation).
pub fn edit_ops<R, H>(reference: &[R], hypothesis: &[H]) -> Result<Vec<EditOp>>
where
    R: AsRef<str>,
    H: AsRef<str>,
{
    let same = |i: usize, j: usize| reference[i].as_ref() == hypothesis[j].as_ref();
    let mut prefix = 0;
    while prefix < reference.len() && prefix < hypothesis.len() && same(prefix, prefix) {
        prefix += 1;
    }
    let mut suffix = 0;
    while suffix < reference.len() - prefix
        && suffix < hypothesis.len() - prefix
        && same(reference.len() - 1 - suffix, hypothesis.len() - 1 - suffix)
    {
        suffix += 1;
    }
    let m = reference.len() - prefix - suffix;
    let n = hypothesis.len() - prefix - suffix;
    if m.saturating_mul(n) > MAX_ALIGNMENT_CELLS {
        return Err(WerError::TooLong {
            reference_words: reference.len(),
            hypothesis_words: hypothesis.len(),
            limit: MAX_ALIGNMENT_CELLS,
        });
    }
    let s1 = |i: usize| reference[prefix + i].as_ref();
    let s2 = |j: usize| hypothesis[prefix + j].as_ref();
    let matrix = VerticalDeltas::compute(m, n, |i, j| s1(i) == s2(j));

    let mut ops = Vec::new();
    let (mut col, mut row) = (m, n);
    let op = |kind, col: usize, row: usize| EditOp {
        kind,
        reference_pos: col + prefix,
        hypothesis_pos: row + prefix,
    };
    // The walk mirrors rapidfuzz's `recover_alignment`; `col` runs over the reference and
    // `row` over the hypothesis. Ops are collected back to front.
    while row != 0 && col != 0 {
        if matrix.vertical_plus(row - 1, col - 1) {
            col -= 1;
            ops.push(op(EditKind::Deletion, col, row));
        } else {
            row -= 1;
            if row != 0 && matrix.vertical_minus(row - 1, col - 1) {
                ops.push(op(EditKind::Insertion, col, row));
            } else {
                col -= 1;
                if s1(col) != s2(row) {
                    ops.push(op(EditKind::Substitution, col, row));
                }
            }
        }
    }
    while col != 0 {
        col -= 1;
        ops.push(op(EditKind::Deletion, col, row));
    }
    while row != 0 {
        row -= 1;
        ops.push(op(EditKind::Insertion, col, row));
    }
    ops.reverse();
    Ok(ops)
}

/// Vertical differences D[i+1][j+1] − D[i][j+1] of the Levenshtein matrix, one bit set per
/// sign, in the layout of Hyyrö's bit-parallel algorithm (row = hypothesis position).
struct VerticalDeltas {
    words_per_row: usize,
    plus: Vec<u64>,
    minus: Vec<u64>,
}

impl VerticalDeltas {
    fn compute(m: usize, n: usize, same: impl Fn(usize, usize) -> bool) -> Self {
        let words_per_row = m.div_ceil(64);
        let mut plus = vec![0u64; words_per_row * n];
        let mut minus = vec![0u64; words_per_row * n];
        // A plain DP over columns of the hypothesis is clearer than the bit-parallel
        // recurrence and yields the same (unique) difference bits.
        let mut prev: Vec<usize> = (0..=m).collect();
        let mut cur = vec![0usize; m + 1];
        for j in 0..n {
            cur[0] = j + 1;
            for i in 1..=m {
                let diagonal = prev[i - 1] + usize::from(!same(i - 1, j));
                cur[i] = diagonal.min(prev[i] + 1).min(cur[i - 1] + 1);
                let (word, bit) = (j * words_per_row + (i - 1) / 64, (i - 1) % 64);
                if cur[i] > cur[i - 1] {
                    plus[word] |= 1 << bit;
                } else if cur[i] < cur[i - 1] {
                    minus[word] |= 1 << bit;
                }
            }
            std::mem::swap(&mut prev, &mut cur);
        }
        VerticalDeltas {
            words_per_row,
            plus,
            minus,
        }
    }

    fn bit(bits: &[u64], words_per_row: usize, row: usize, col: usize) -> bool {
        bits[row * words_per_row + col / 64] & (1 << (col % 64)) != 0
    }

    fn vertical_plus(&self, row: usize, col: usize) -> bool {
        Self::bit(&self.plus, self.words_per_row, row, col)
    }

    fn vertical_minus(&self, row: usize, col: usize) -> bool {
        Self::bit(&self.minus, self.words_per_row, row, col)
    }
}

/// Aligns two already-split word lists and counts hits and errors.
pub fn align_words<R, H>(reference: &[R], hypothesis: &[H]) -> Result<WordErrors>
where
    R: AsRef<str>,
    H: AsRef<str>,
{
    let ops = edit_ops(reference, hypothesis)?;
    Ok(WordErrors::from_ops(
        &ops,
        reference.len(),
        hypothesis.len(),
    ))
}

/// Normalises both transcripts (see [`normalize`]) and counts word errors.
pub fn word_errors(reference: &str, hypothesis: &str) -> Result<WordErrors> {
    align_words(&words(reference), &words(hypothesis))
}

/// Corpus-level counts over paired transcripts (what `jiwer.process_words(list, list)` does).
pub fn corpus_word_errors<R, H>(references: &[R], hypotheses: &[H]) -> Result<WordErrors>
where
    R: AsRef<str>,
    H: AsRef<str>,
{
    if references.len() != hypotheses.len() {
        return Err(WerError::LengthMismatch {
            references: references.len(),
            hypotheses: hypotheses.len(),
        });
    }
    let mut acc = WerAccumulator::default();
    for (r, h) in references.iter().zip(hypotheses) {
        acc.add(r.as_ref(), h.as_ref())?;
    }
    Ok(acc.totals())
}

/// Running corpus-level WER over transcript pairs as they arrive.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WerAccumulator {
    totals: WordErrors,
    pairs: u64,
}

impl WerAccumulator {
    /// An empty accumulator.
    pub fn new() -> Self {
        Self::default()
    }

    /// Normalises and aligns one pair, adds it to the totals and returns its own counts.
    pub fn add(&mut self, reference: &str, hypothesis: &str) -> Result<WordErrors> {
        let counts = word_errors(reference, hypothesis)?;
        self.add_counts(&counts);
        Ok(counts)
    }

    /// Adds counts computed elsewhere (for example by [`align_words`]).
    pub fn add_counts(&mut self, counts: &WordErrors) {
        self.totals.add(counts);
        self.pairs = self.pairs.saturating_add(1);
    }

    /// Summed counts over all pairs so far.
    pub fn totals(&self) -> WordErrors {
        self.totals
    }

    /// Number of pairs added.
    pub fn pairs(&self) -> u64 {
        self.pairs
    }

    /// Corpus WER: total errors over total reference words; `None` before any reference word.
    pub fn wer(&self) -> Option<f64> {
        self.totals.wer()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn counts(r: &str, h: &str) -> WordErrors {
        word_errors(r, h).unwrap()
    }

    #[test]
    fn normalisation_lowercases_strips_punctuation_and_collapses_whitespace() {
        assert_eq!(
            normalize("  Pick UP,\tthe  «red» cup!\u{a0}\u{1f}Now… "),
            "pick up the red cup now"
        );
        assert_eq!(normalize("don't pick-up"), "dont pickup");
        assert_eq!(normalize("?!."), "");
    }

    #[test]
    fn identical_transcripts_have_zero_wer() {
        let c = counts("Go to the kitchen.", "go to the kitchen");
        assert_eq!(c.wer(), Some(0.0));
        assert_eq!(c.hits, 4);
    }

    #[test]
    fn substitution_deletion_and_insertion_are_counted() {
        let c = counts("pick up the red cup", "pick the bed cup please");
        assert_eq!((c.substitutions, c.deletions, c.insertions), (1, 1, 1));
        assert_eq!(c.hits, 3);
        assert_eq!(c.wer(), Some(3.0 / 5.0));
    }

    #[test]
    fn ties_are_broken_like_rapidfuzz() {
        // rapidfuzz.distance.Levenshtein.opcodes([1,2,1,2],[2,1,2,1]) gives
        // insert at 0, then equal 0..3, then delete 3.
        let ops = edit_ops(&["a", "b", "a", "b"], &["b", "a", "b", "a"]).unwrap();
        assert_eq!(
            ops,
            vec![
                EditOp {
                    kind: EditKind::Insertion,
                    reference_pos: 0,
                    hypothesis_pos: 0
                },
                EditOp {
                    kind: EditKind::Deletion,
                    reference_pos: 3,
                    hypothesis_pos: 4
                },
            ]
        );
    }

    #[test]
    fn empty_reference_has_undefined_wer_but_counts_insertions() {
        let c = counts("", "hello robot");
        assert_eq!(c.wer(), None);
        assert_eq!(c.insertions, 2);
        let c = counts("", "");
        assert_eq!(c.wer(), None);
        assert_eq!(c.errors(), 0);
    }

    #[test]
    fn empty_hypothesis_deletes_every_reference_word() {
        let c = counts("stop now", "");
        assert_eq!((c.deletions, c.wer()), (2, Some(1.0)));
    }

    #[test]
    fn corpus_wer_sums_errors_before_dividing() {
        let refs = ["a b c d", "e"];
        let hyps = ["a b c d", "f"];
        let c = corpus_word_errors(&refs, &hyps).unwrap();
        assert_eq!(c.wer(), Some(1.0 / 5.0));
        let mut acc = WerAccumulator::new();
        acc.add(refs[0], hyps[0]).unwrap();
        acc.add(refs[1], hyps[1]).unwrap();
        assert_eq!((acc.totals(), acc.pairs()), (c, 2));
    }

    #[test]
    fn corpus_with_mismatched_lengths_is_an_error() {
        let err = corpus_word_errors(&["a"], &["a", "b"]).unwrap_err();
        assert_eq!(
            err,
            WerError::LengthMismatch {
                references: 1,
                hypotheses: 2
            }
        );
    }

    #[test]
    fn oversized_alignment_is_refused_not_allocated() {
        let r: Vec<String> = (0..20_000).map(|i| format!("r{i}")).collect();
        let h: Vec<String> = (0..20_000).map(|i| format!("h{i}")).collect();
        assert!(matches!(align_words(&r, &h), Err(WerError::TooLong { .. })));
    }

    fn levenshtein(a: &[String], b: &[String]) -> usize {
        let mut prev: Vec<usize> = (0..=b.len()).collect();
        for (i, x) in a.iter().enumerate() {
            let mut cur = vec![i + 1; b.len() + 1];
            for (j, y) in b.iter().enumerate() {
                cur[j + 1] = (prev[j] + usize::from(x != y))
                    .min(prev[j + 1] + 1)
                    .min(cur[j] + 1);
            }
            prev = cur;
        }
        prev[b.len()]
    }

    fn word_list() -> impl Strategy<Value = Vec<String>> {
        // A tiny vocabulary forces repeated words and therefore alignment ties.
        prop::collection::vec(prop::sample::select(vec!["a", "b", "c", "go"]), 0..70)
            .prop_map(|v| v.into_iter().map(str::to_owned).collect())
    }

    /// Applies edit ops to the reference and checks the result is the hypothesis.
    fn replay(reference: &[String], hypothesis: &[String], ops: &[EditOp]) -> Vec<String> {
        let mut out = Vec::new();
        let mut i = 0;
        for op in ops {
            while i < op.reference_pos {
                out.push(reference[i].clone());
                i += 1;
            }
            match op.kind {
                EditKind::Substitution => {
                    out.push(hypothesis[op.hypothesis_pos].clone());
                    i += 1;
                }
                EditKind::Deletion => i += 1,
                EditKind::Insertion => out.push(hypothesis[op.hypothesis_pos].clone()),
            }
        }
        out.extend_from_slice(&reference[i..]);
        out
    }

    proptest! {
        #[test]
        fn edit_count_equals_levenshtein_distance(r in word_list(), h in word_list()) {
            let c = align_words(&r, &h).unwrap();
            prop_assert_eq!(c.errors() as usize, levenshtein(&r, &h));
            prop_assert_eq!(c.hits + c.substitutions + c.deletions, r.len() as u64);
            prop_assert_eq!(c.hits + c.substitutions + c.insertions, h.len() as u64);
        }

        #[test]
        fn edit_ops_replayed_on_the_reference_give_the_hypothesis(r in word_list(), h in word_list()) {
            let ops = edit_ops(&r, &h).unwrap();
            prop_assert_eq!(replay(&r, &h, &ops), h);
        }

        #[test]
        fn identical_word_lists_have_zero_wer(r in word_list()) {
            let c = align_words(&r, &r).unwrap();
            prop_assert_eq!(c.errors(), 0);
            prop_assert_eq!(c.wer(), (!r.is_empty()).then_some(0.0));
        }

        #[test]
        fn swapping_reference_and_hypothesis_keeps_the_distance(r in word_list(), h in word_list()) {
            let a = align_words(&r, &h).unwrap();
            let b = align_words(&h, &r).unwrap();
            prop_assert_eq!(a.errors(), b.errors());
            prop_assert_eq!(a.substitutions + a.deletions + a.insertions, b.errors());
        }

        #[test]
        fn normalisation_is_idempotent_and_never_panics(s in "\\PC{0,40}") {
            let once = normalize(&s);
            prop_assert_eq!(normalize(&once), once.clone());
            prop_assert!(!once.starts_with(' ') && !once.ends_with(' ') && !once.contains("  "));
        }
    }
}
