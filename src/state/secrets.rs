//! Random secrets and their stored form: what is kept is only ever a hash.

use std::cell::RefCell;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD as B64, Engine};
use sha2::{Digest, Sha256};

/// Bytes drawn from the platform's CSPRNG at once. In the worker every draw is a call into JS
/// (`crypto.getRandomValues` through getrandom's glue: a subarray, the call, a copy back: three
/// crossings); a logout takes about seven tokens (its id, a `jti` per relying party, retry
/// ids), a session creation two. One draw of 256 bytes serves a few requests.
const POOL_BYTES: usize = 256;

/// CSPRNG output not handed out yet. Each byte is handed out once and zeroed as it leaves, so
/// the pool holds no secret that was issued; it holds no request data either (an isolate's
/// memory is its own, and nothing here depends on a request).
struct Pool {
    bytes: [u8; POOL_BYTES],
    /// How many of `bytes` are spent (zeroed); `POOL_BYTES`: empty.
    spent: usize,
    /// Draws from the platform so far (counted for the tests).
    draws: usize,
}

thread_local! {
    static POOL: RefCell<Pool> = const { RefCell::new(Pool { bytes: [0; POOL_BYTES], spent: POOL_BYTES, draws: 0 }) };
}

/// Fills `out` with random bytes from the pool, drawing from the platform's CSPRNG whenever
/// the pool runs dry.
fn fill(out: &mut [u8]) {
    POOL.with(|pool| {
        let mut pool = pool.borrow_mut();
        let mut out = out;
        while !out.is_empty() {
            if pool.spent == POOL_BYTES {
                getrandom::getrandom(&mut pool.bytes).expect("the platform has a CSPRNG");
                pool.spent = 0;
                pool.draws += 1;
            }
            let from = pool.spent;
            let n = out.len().min(POOL_BYTES - from);
            out[..n].copy_from_slice(&pool.bytes[from..from + n]);
            pool.bytes[from..from + n].fill(0);
            pool.spent += n;
            out = &mut out[n..];
        }
    })
}

/// `n` random bytes from the platform's CSPRNG, base64url.
pub fn random_token(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    fill(&mut bytes);
    B64.encode(bytes)
}

/// SHA-256 of a secret, base64url: what the store keeps in its place.
pub fn hash_secret(secret: &str) -> String {
    B64.encode(Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draws() -> usize {
        POOL.with(|p| p.borrow().draws)
    }

    #[test]
    fn random_tokens_are_unique_and_url_safe() {
        let a = random_token(32);
        assert_eq!(a.len(), 43);
        assert_ne!(a, random_token(32));
        assert!(a.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    }

    /// A logout's tokens (an id, a `jti` per relying party, retry ids) cost one draw from the
    /// platform among several logouts, not one each; and no byte is handed out twice: every
    /// token across many draws, the pool's edges included, is distinct.
    #[test]
    fn tokens_come_from_one_draw_per_pool_and_never_repeat_bytes() {
        let before = draws();
        // Seven tokens as a logout of three relying parties takes them: 12 + 3 × 16 + 3 × 12 bytes.
        let mut tokens = vec![random_token(12)];
        tokens.extend((0..3).map(|_| random_token(16)));
        tokens.extend((0..3).map(|_| random_token(12)));
        assert!(draws() - before <= 1, "{} draws for one logout's tokens", draws() - before);
        // 2,000 tokens of 16 bytes: 32,000 bytes, 125 pools, tokens straddling their edges.
        let start = draws();
        let mut seen: std::collections::HashSet<String> = tokens.into_iter().collect();
        for _ in 0..2000 {
            assert!(seen.insert(random_token(16)), "a token came twice");
        }
        let used = draws() - start;
        assert!((125..=126).contains(&used), "{used} draws for 32,000 bytes");
    }

    /// A token longer than the pool is drawn across several fills, and the bytes handed out are
    /// zeroed in the pool.
    #[test]
    fn a_token_longer_than_the_pool_and_spent_bytes_are_zeroed() {
        let long = random_token(POOL_BYTES * 2 + 5);
        assert_eq!(B64.decode(&long).unwrap().len(), POOL_BYTES * 2 + 5);
        POOL.with(|p| {
            let p = p.borrow();
            assert!(p.bytes[..p.spent].iter().all(|b| *b == 0));
        });
    }
}
