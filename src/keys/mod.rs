//! The provider's keys: private signing keys from `SIGNING_JWKS`, extra verification keys from
//! `ID_TOKEN_JWKS`, and the public JWKS served at `jwks_uri`. Parsed once per isolate.
//!
//! Every key is tied to exactly one algorithm, so a token's `alg` header can only select a key of
//! the matching type: `none`, HS* with a public key's bytes, or RS256 against an EC key never verify.
//!
//! May import nothing of the crate's: keys are a leaf.

mod alg;
pub mod generate;
mod jwk;
mod set;

use std::fmt;

pub use alg::Alg;
pub use jwk::{SigningKey, VerifyingKey};
pub use set::{Candidates, KeySet, VerifyError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError(pub String);

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn err(msg: impl Into<String>) -> KeyError {
    KeyError(msg.into())
}
