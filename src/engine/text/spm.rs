//! SentencePiece tokenization from GGUF metadata (`tokenizer.ggml.model = "llama"`, as Gemma
//! ships it): no merges list, only pieces with scores. Text is split at special tokens; each
//! span has its spaces written as `▁` and is segmented by repeatedly merging the adjacent pair
//! whose joined piece exists with the highest score (ties: leftmost), as llama.cpp does;
//! characters with no piece fall back to `<0xXX>` byte pieces.

use std::collections::BinaryHeap;

use ahash::AHashMap;

const SPACE: &str = "\u{2581}";

/// A SentencePiece vocabulary.
pub struct SpmTokenizer {
    pieces: Vec<String>,
    scores: Vec<f32>,
    ids: AHashMap<String, u32>,
    /// Specials matched in text before segmentation, by their text.
    specials: AHashMap<String, u32>,
    is_special: Vec<bool>,
    /// `<0xXX>` piece ids, by byte.
    bytes: [Option<u32>; 256],
    unknown: u32,
}

/// A candidate merge of symbols `left` and `right` into a piece with `score`.
#[derive(PartialEq)]
struct Bigram {
    score: f32,
    left: usize,
    right: usize,
    len: usize,
}

impl Eq for Bigram {}

impl Ord for Bigram {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.score
            .total_cmp(&other.score)
            .then_with(|| other.left.cmp(&self.left))
    }
}

impl PartialOrd for Bigram {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// A span of the text being segmented, linked to its neighbours.
struct Symbol {
    start: usize,
    len: usize,
    prev: Option<usize>,
    next: Option<usize>,
}

impl SpmTokenizer {
    /// `types` are GGUF token types: 3 (control) and 4 (user-defined) are special.
    pub fn new(pieces: Vec<String>, scores: Vec<f32>, types: &[i32], unknown: u32) -> Self {
        let ids: AHashMap<String, u32> = pieces
            .iter()
            .enumerate()
            .map(|(i, p)| (p.clone(), i as u32))
            .collect();
        let is_special: Vec<bool> = (0..pieces.len())
            .map(|i| matches!(types.get(i), Some(3 | 4)))
            .collect();
        let specials = pieces
            .iter()
            .enumerate()
            .filter(|(i, p)| is_special[*i] && !p.is_empty())
            .map(|(i, p)| (p.clone(), i as u32))
            .collect();
        let mut bytes = [None; 256];
        for (b, slot) in bytes.iter_mut().enumerate() {
            *slot = ids.get(&format!("<0x{b:02X}>")).copied();
        }
        Self {
            pieces,
            scores,
            ids,
            specials,
            is_special,
            bytes,
            unknown,
        }
    }

    pub fn vocab_size(&self) -> usize {
        self.pieces.len()
    }

    pub fn piece(&self, id: u32) -> Option<&str> {
        self.pieces.get(id as usize).map(String::as_str)
    }

    pub fn is_special(&self, id: u32) -> bool {
        self.is_special.get(id as usize).copied().unwrap_or(false)
    }

    /// The raw bytes a token stands for (`▁` as a space, byte pieces as their byte).
    pub fn token_bytes(&self, id: u32) -> Vec<u8> {
        let Some(piece) = self.piece(id) else {
            return Vec::new();
        };
        if let Some(b) = self.bytes.iter().position(|&x| x == Some(id)) {
            return vec![b as u8];
        }
        piece.replace(SPACE, " ").into_bytes()
    }

    /// Token ids of `text`; special tokens written in the text (`<start_of_turn>`) are matched.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let mut out = Vec::new();
        let mut plain_start = 0;
        let mut i = 0;
        while let Some(offset) = text[i..].find('<') {
            let at = i + offset;
            let special = text[at..]
                .char_indices()
                .take(64)
                .find(|(_, c)| *c == '>')
                .and_then(|(end, _)| {
                    let candidate = &text[at..=at + end];
                    self.specials
                        .get(candidate)
                        .map(|&id| (id, candidate.len()))
                });
            match special {
                Some((id, len)) => {
                    self.segment(&text[plain_start..at], &mut out);
                    out.push(id);
                    i = at + len;
                    plain_start = i;
                }
                None => i = at + 1,
            }
        }
        self.segment(&text[plain_start..], &mut out);
        out
    }

    /// Text of `ids`; special tokens left out when `skip_special`.
    pub fn decode(&self, ids: &[u32], skip_special: bool) -> String {
        let mut bytes = Vec::new();
        for &id in ids {
            if skip_special && self.is_special(id) {
                continue;
            }
            bytes.extend(self.token_bytes(id));
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }

    fn segment(&self, text: &str, out: &mut Vec<u32>) {
        if text.is_empty() {
            return;
        }
        let text = text.replace(' ', SPACE);
        let mut symbols: Vec<Symbol> = text
            .char_indices()
            .enumerate()
            .map(|(n, (start, c))| Symbol {
                start,
                len: c.len_utf8(),
                prev: n.checked_sub(1),
                next: Some(n + 1),
            })
            .collect();
        if let Some(last) = symbols.last_mut() {
            last.next = None;
        }
        let mut queue = BinaryHeap::new();
        let push = |queue: &mut BinaryHeap<Bigram>, symbols: &[Symbol], left: usize| {
            let Some(right) = symbols[left].next else {
                return;
            };
            let (a, b) = (&symbols[left], &symbols[right]);
            let joined = &text[a.start..b.start + b.len];
            if let Some(&id) = self.ids.get(joined) {
                queue.push(Bigram {
                    score: self.scores.get(id as usize).copied().unwrap_or(0.0),
                    left,
                    right,
                    len: joined.len(),
                });
            }
        };
        for left in 0..symbols.len() {
            push(&mut queue, &symbols, left);
        }
        while let Some(bigram) = queue.pop() {
            let (left, right) = (bigram.left, bigram.right);
            // Stale: one side was merged away or grew since this pair was queued.
            if symbols[left].len == 0
                || symbols[right].len == 0
                || symbols[left].len + symbols[right].len != bigram.len
                || symbols[left].next != Some(right)
            {
                continue;
            }
            symbols[left].len += symbols[right].len;
            symbols[right].len = 0;
            symbols[left].next = symbols[right].next;
            if let Some(next) = symbols[right].next {
                symbols[next].prev = Some(left);
            }
            if let Some(prev) = symbols[left].prev {
                push(&mut queue, &symbols, prev);
            }
            push(&mut queue, &symbols, left);
        }
        let mut at = Some(0);
        while let Some(i) = at {
            let symbol = &symbols[i];
            let piece = &text[symbol.start..symbol.start + symbol.len];
            match self.ids.get(piece) {
                Some(&id) => out.push(id),
                None => {
                    for b in piece.bytes() {
                        out.push(self.bytes[b as usize].unwrap_or(self.unknown));
                    }
                }
            }
            at = symbol.next;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy() -> SpmTokenizer {
        let pieces = [
            "<unk>",
            "<bos>",
            "<start_of_turn>",
            "▁",
            "a",
            "b",
            "c",
            "ab",
            "▁ab",
            "abc",
            "<0x21>",
            "<0xC3>",
            "<0xA9>",
        ];
        let scores = [
            0.0, 0.0, 0.0, -1.0, -2.0, -2.0, -2.0, -0.5, -0.2, -0.4, 0.0, 0.0, 0.0,
        ];
        let types = [2, 3, 3, 1, 1, 1, 1, 1, 1, 1, 6, 6, 6];
        SpmTokenizer::new(
            pieces.iter().map(|s| s.to_string()).collect(),
            scores.to_vec(),
            &types,
            0,
        )
    }

    #[test]
    fn merges_by_score_and_falls_back_to_bytes() {
        let t = toy();
        // "ab" (-0.5) merges first, then "▁ab" (-0.2); "abc" would need "ab"+"c" (-0.4).
        assert_eq!(t.encode(" ab"), vec![8]);
        assert_eq!(t.encode("abc"), vec![9]);
        // "!" has no piece: its byte; "é" is two bytes.
        assert_eq!(t.encode("a!"), vec![4, 10]);
        assert_eq!(t.encode("é"), vec![11, 12]);
        assert_eq!(t.decode(&[11, 12, 8], true), "é ab");
    }

    #[test]
    fn special_tokens_are_matched_in_text() {
        let t = toy();
        assert_eq!(t.encode("<bos><start_of_turn>ab"), vec![1, 2, 7]);
        // Not a special: segmented as text (no pieces for '<' or 'x': unknown bytes).
        assert_eq!(t.encode("<x>").len(), 3);
        assert_eq!(t.decode(&[1, 2, 7], true), "ab");
        assert_eq!(t.decode(&[1, 2, 7], false), "<bos><start_of_turn>ab");
    }
}
