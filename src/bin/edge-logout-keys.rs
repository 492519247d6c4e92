//! Generates and rotates the provider's signing keys, as the private JWKS that
//! `wrangler secret put SIGNING_JWKS` takes on its standard input.
//!
//!   edge-logout-keys new                  a fresh JWKS: one RS256, one ES256, one EdDSA key
//!   edge-logout-keys rotate [DELAY_S] < jwks.json   the same keys plus a new one per algorithm,
//!                                         each with `sign_from` DELAY_S ahead (default two days)
//!   edge-logout-keys retire KID < jwks.json   without the key KID
//!   edge-logout-keys public < jwks.json   the public JWKS (what jwks_uri serves)
//!
//! Rotation: `rotate`, deploy; the new keys are published at once and sign from their
//! `sign_from` on (relying parties that cache the JWKS for up to DELAY_S have them by then);
//! every key still verifies, the newest of each algorithm whose time has come signs.
//! After the longest lifetime of a token signed by an old key (logout tokens: LOGOUT_TOKEN_TTL_S;
//! ID tokens used as id_token_hint: as long as relying parties keep them), `retire` it and deploy.

use std::io::Read;
use std::process::ExitCode;

use edge_logout::keys::{generate, Alg, KeySet};
use serde_json::{json, Value};

/// How long after `rotate` the new keys start signing: longer than relying parties cache the
/// JWKS (commonly up to a day).
const DEFAULT_SIGN_DELAY_S: i64 = 2 * 86_400;

fn usage() -> ExitCode {
    eprintln!("usage: edge-logout-keys new | rotate [DELAY_S] | retire KID | public   (JWKS on stdin for all but new)");
    ExitCode::from(2)
}

fn new_keys() -> Vec<Value> {
    let stamp = chrono::Utc::now().format("%Y%m%d%H%M%S");
    Alg::ALL.iter().map(|alg| generate::private_jwk(*alg, &format!("{}-{stamp}", alg.name().to_lowercase()))).collect()
}

fn read_jwks() -> Result<Vec<Value>, String> {
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input).map_err(|e| e.to_string())?;
    // Parsing checks every key as the worker will.
    KeySet::parse(&input, None).map_err(|e| format!("the JWKS on stdin is not valid: {e}"))?;
    let v: Value = serde_json::from_str(&input).map_err(|e| e.to_string())?;
    Ok(v["keys"].as_array().cloned().unwrap_or_default())
}

fn run(args: &[String]) -> Result<Value, String> {
    let keys = match args {
        [cmd] if cmd == "new" => new_keys(),
        [cmd, delay @ ..] if cmd == "rotate" && delay.len() <= 1 => {
            let delay_s: i64 = match delay {
                [] => DEFAULT_SIGN_DELAY_S,
                [d] => d.parse().ok().filter(|d| *d >= 0).ok_or_else(|| format!("{d:?} is not a delay in seconds"))?,
                _ => unreachable!(),
            };
            let sign_from = chrono::Utc::now().timestamp() + delay_s;
            let mut keys = read_jwks()?;
            keys.extend(new_keys().into_iter().map(|mut k| {
                k["sign_from"] = json!(sign_from);
                k
            }));
            keys
        }
        [cmd, kid] if cmd == "retire" => {
            let keys = read_jwks()?;
            let kept: Vec<Value> = keys.iter().filter(|k| k["kid"] != kid.as_str()).cloned().collect();
            if kept.len() == keys.len() {
                return Err(format!("no key has the kid {kid:?}"));
            }
            KeySet::parse(&json!({ "keys": kept }).to_string(), None)
                .map_err(|e| format!("retiring {kid:?} would leave an unusable JWKS: {e}"))?;
            kept
        }
        [cmd] if cmd == "public" => {
            let keys = read_jwks()?;
            let set = KeySet::parse(&json!({ "keys": keys }).to_string(), None).map_err(|e| e.to_string())?;
            return Ok(set.public_jwks().clone());
        }
        _ => return Err(String::new()),
    };
    Ok(json!({ "keys": keys }))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(jwks) => {
            println!("{jwks}");
            ExitCode::SUCCESS
        }
        Err(e) if e.is_empty() => usage(),
        Err(e) => {
            eprintln!("edge-logout-keys: {e}");
            ExitCode::FAILURE
        }
    }
}
