//! A small deterministic PRNG (xoshiro256** seeded through splitmix64) and the hashing and GUID
//! helpers the generator builds on. Not for anything secret: demo data only needs to be the same
//! on every machine and every run.

/// One step of splitmix64: advances `state` and returns a well-mixed word.
pub(crate) fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A hash of several words, for values that must not depend on the seed (user ids, devices).
pub(crate) fn mix(words: &[u64]) -> u64 {
    let mut h = 0x243F_6A88_85A3_08D3_u64;
    for &w in words {
        let mut s = h ^ w;
        h = splitmix64(&mut s);
    }
    h
}

/// FNV-1a of a string, to fold names and tenant ids into [`mix`].
pub(crate) fn hash_str(s: &str) -> u64 {
    s.bytes().fold(0xCBF2_9CE4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3))
}

/// `$rng.pick(first, rest)` of an array (or a reference to one): the irrefutable pattern splits
/// it, so an empty array does not compile and the pick cannot fail.
macro_rules! pick {
    ($rng:expr, $items:expr) => {{
        let [first, rest @ ..] = $items;
        $rng.pick(first, rest)
    }};
}

/// `$rng.weighted(first, rest)` of an array of `(item, weight)` pairs, split like [`pick!`].
macro_rules! weighted {
    ($rng:expr, $items:expr) => {{
        let [first, rest @ ..] = $items;
        $rng.weighted(first, rest)
    }};
}

pub(super) use {pick, weighted};

/// xoshiro256**: fast, small state, good enough statistics for synthetic logs.
#[derive(Debug, Clone)]
pub(super) struct Rng {
    s: [u64; 4],
}

impl Rng {
    pub(super) fn new(seed: u64) -> Self {
        let mut sm = seed;
        Self { s: [splitmix64(&mut sm), splitmix64(&mut sm), splitmix64(&mut sm), splitmix64(&mut sm)] }
    }

    pub(super) fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// A value in `0..n` (`0` when `n` is 0). The multiply-shift bias is far below what matters here.
    pub(super) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// A value in `lo..=hi`.
    pub(super) fn between(&mut self, lo: u32, hi: u32) -> u32 {
        lo + self.below(u64::from(hi.saturating_sub(lo)) + 1) as u32
    }

    /// A uniform value in `[0, 1)`.
    pub(super) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1_u64 << 53) as f64)
    }

    pub(super) fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// One of a non-empty list, given as its first item and the rest (so that there always is one),
    /// uniformly, with its index in the list. Takes one draw, `below(1 + rest.len())`.
    pub(super) fn pick_indexed<'a, T>(&mut self, first: &'a T, rest: &'a [T]) -> (usize, &'a T) {
        let i = self.below(1 + rest.len() as u64) as usize;
        (i, i.checked_sub(1).and_then(|r| rest.get(r)).unwrap_or(first))
    }

    /// [`Rng::pick_indexed`] without the index. Arrays use the [`pick!`] macro.
    pub(super) fn pick<'a, T>(&mut self, first: &'a T, rest: &'a [T]) -> &'a T {
        self.pick_indexed(first, rest).1
    }

    /// One of `items`, uniformly; `None`, without a draw, when it is empty.
    pub(super) fn choose<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        items.split_first().map(|(first, rest)| self.pick(first, rest))
    }

    /// An item of a non-empty list of `(item, weight)` pairs (its first pair and the rest), chosen
    /// in proportion to its weight; the last when all weights are 0. Arrays use [`weighted!`].
    pub(super) fn weighted<T: Copy>(&mut self, first: &(T, u32), rest: &[(T, u32)]) -> T {
        let items = || std::iter::once(first).chain(rest);
        let total: u64 = items().map(|(_, w)| u64::from(*w)).sum();
        let mut roll = self.below(total);
        for (item, w) in items() {
            let w = u64::from(*w);
            if roll < w {
                return *item;
            }
            roll -= w;
        }
        rest.last().unwrap_or(first).0
    }

    /// [`Rng::weighted`] of a slice; `None`, without a draw, when it is empty.
    pub(super) fn choose_weighted<T: Copy>(&mut self, items: &[(T, u32)]) -> Option<T> {
        items.split_first().map(|(first, rest)| self.weighted(first, rest))
    }

    /// A random version-4 GUID.
    pub(super) fn guid(&mut self) -> String {
        let (a, b) = (self.next_u64(), self.next_u64());
        guid_from(a, b)
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn push_hex(out: &mut String, value: u64, digits: u32) {
    for i in (0..digits).rev() {
        let nibble = ((value >> (i * 4)) & 0xF) as usize;
        // A nibble is below 16, the length of `HEX`.
        out.extend(HEX.get(nibble).map(|&h| char::from(h)));
    }
}

/// A lower-case version-4 GUID made of two words (the version and variant bits are overwritten).
pub(super) fn guid_from(a: u64, b: u64) -> String {
    let a = (a & 0xFFFF_FFFF_FFFF_0FFF) | 0x0000_0000_0000_4000;
    let b = (b & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000;
    let mut out = String::with_capacity(36);
    push_hex(&mut out, a >> 32, 8);
    out.push('-');
    push_hex(&mut out, a >> 16, 4);
    out.push('-');
    push_hex(&mut out, a, 4);
    out.push('-');
    push_hex(&mut out, b >> 48, 4);
    out.push('-');
    push_hex(&mut out, b, 12);
    out
}

/// A GUID derived from a hash of `words`: the same words always give the same GUID.
pub(crate) fn stable_guid(words: &[u64]) -> String {
    let a = mix(words);
    let b = mix(&[a, 0x5EED]);
    guid_from(a, b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::ids::is_guid;

    #[test]
    fn guids_are_well_formed_version_4() {
        let mut rng = Rng::new(7);
        for _ in 0..100 {
            let g = rng.guid();
            assert!(is_guid(&g), "{g}");
            assert_eq!(&g[14..15], "4");
            assert!(matches!(&g[19..20], "8" | "9" | "a" | "b"), "{g}");
        }
        assert_eq!(guid_from(0, 0), "00000000-0000-4000-8000-000000000000");
    }

    #[test]
    fn the_same_seed_gives_the_same_stream() {
        let (mut a, mut b, mut c) = (Rng::new(1), Rng::new(1), Rng::new(2));
        let xs: Vec<u64> = (0..8).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..8).map(|_| b.next_u64()).collect();
        let zs: Vec<u64> = (0..8).map(|_| c.next_u64()).collect();
        assert_eq!(xs, ys);
        assert_ne!(xs, zs);
    }

    #[test]
    fn weighted_choice_follows_the_weights() {
        let mut rng = Rng::new(3);
        let items = [("rare", 1), ("common", 9), ("never", 0)];
        let common = (0..10_000).filter(|_| weighted!(rng, &items) == "common").count();
        assert!((8_700..9_300).contains(&common), "{common}");
        assert!((0..1_000).all(|_| weighted!(rng, &items) != "never"));
    }
}
