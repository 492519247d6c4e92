//! Host micro-benchmarks of the per-request work of a logout, with the worker's own code: verifying
//! an `id_token_hint` (RS256, ES256, EdDSA) and minting one logout token per algorithm (claims,
//! signing input, Rust signature, compact JWT), plus parsing the keys (once per isolate).
//! Native code with the release profile (the worker's opt-level), so it shows regressions without
//! the runtime; in the worker, verification runs as wasm and signing in WebCrypto (see bench/).
//!
//!   cargo bench --bench logout_crypto                 # a table
//!   cargo bench --bench logout_crypto -- --json FILE  # and the figures as JSON
//!   cargo bench --bench logout_crypto -- --quick      # shorter rounds

use std::hint::black_box;
use std::time::{Duration, Instant};

use edge_logout::keys::{generate, Alg, KeySet};
use edge_logout::protocol::backchannel::token as backchannel;
use edge_logout::protocol::end_session::hint;
use edge_logout::state::deliveries::Delivery;
use edge_logout::state::secrets::random_token;
use edge_logout::testing::Recorder;
use jwt_compact::Claims;
use serde_json::{json, Value};

const ISSUER: &str = "https://id.example.com";
const ROUNDS: usize = 5;

struct Figure {
    name: String,
    /// Median over the rounds, and the fastest round.
    median_ns: f64,
    min_ns: f64,
    iterations: u64,
}

/// Times `f` in `ROUNDS` rounds of about `round` each (after a warm-up), per iteration.
fn bench(name: &str, round: Duration, mut f: impl FnMut()) -> Figure {
    let warm = Instant::now();
    let mut calibrate = 0u64;
    while warm.elapsed() < round / 4 || calibrate < 2 {
        f();
        calibrate += 1;
    }
    let per_iter = warm.elapsed().as_secs_f64() / calibrate as f64;
    let batch = ((round.as_secs_f64() / per_iter) as u64).clamp(1, 10_000_000);
    let mut rounds = Vec::with_capacity(ROUNDS);
    let mut iterations = 0;
    for _ in 0..ROUNDS {
        let t = Instant::now();
        for _ in 0..batch {
            f();
        }
        rounds.push(t.elapsed().as_nanos() as f64 / batch as f64);
        iterations += batch;
    }
    rounds.sort_by(f64::total_cmp);
    Figure { name: name.to_string(), median_ns: rounds[ROUNDS / 2], min_ns: rounds[0], iterations }
}

fn jwks() -> String {
    let keys: Vec<Value> =
        Alg::ALL.iter().map(|a| generate::private_jwk(*a, &format!("bench-{}", a.name().to_lowercase()))).collect();
    json!({ "keys": keys }).to_string()
}

/// An ID token as a login system issues it to a client: what the end-session endpoint verifies.
fn id_token(keys: &KeySet, alg: Alg, now: i64) -> String {
    let mut claims = Claims::new(json!({
        "iss": ISSUER, "sub": "user-1234", "aud": "client-a", "sid": random_token(16), "auth_time": now - 60,
    }));
    claims.issued_at = chrono::DateTime::from_timestamp(now - 60, 0);
    claims.expiration = chrono::DateTime::from_timestamp(now + 3600, 0);
    keys.signer(alg).expect("a key per algorithm").sign(None, &claims)
}

fn delivery(alg: Alg) -> Delivery {
    Delivery {
        id: random_token(12),
        client_id: "client-a".into(),
        uri: "https://rp.example/backchannel".into(),
        alg,
        sub: "user-1234".into(),
        sid: Some(random_token(16)),
        attempt: 1,
        last_error: None,
        nonce: None,
        issued_at: None,
        redriven: 0,
        kind: Default::default(),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let json_out = args.iter().position(|a| a == "--json").and_then(|i| args.get(i + 1)).cloned();
    let round = if quick { Duration::from_millis(60) } else { Duration::from_millis(300) };

    let jwks_text = jwks();
    let keys = KeySet::parse(&jwks_text, None).expect("generated keys parse");
    let now = chrono::Utc::now().timestamp();
    let mut figures = Vec::new();

    figures.push(bench("keys: KeySet::parse (3 keys, once per isolate)", round, || {
        black_box(KeySet::parse(black_box(&jwks_text), None).expect("parse"));
    }));
    for alg in Alg::ALL {
        let jwt = id_token(&keys, alg, now);
        assert!(
            futures::executor::block_on(hint::verify(&keys, &Recorder::default(), ISSUER, &jwt, None, now)).is_ok(),
            "{alg} hint verifies"
        );
        figures.push(bench(&format!("verify id_token_hint {alg}"), round, || {
            black_box(
                futures::executor::block_on(hint::verify(
                    &keys,
                    &Recorder::default(),
                    ISSUER,
                    black_box(&jwt),
                    None,
                    now,
                ))
                .expect("valid"),
            );
        }));
    }
    for alg in Alg::ALL {
        let key = keys.signer(alg).expect("a key per algorithm");
        let d = delivery(alg);
        figures.push(bench(&format!("logout token {alg}: claims + input + sign + assemble"), round, || {
            let claims = backchannel::claims(&d, ISSUER, now, 120, &random_token(16));
            let input = backchannel::signing_input(&key.kid, alg, "logout+jwt", &claims);
            let jwt = backchannel::assemble(&input, &key.sign_bytes(input.as_bytes()));
            black_box(backchannel::request(&d, &jwt));
        }));
        let claims = backchannel::claims(&d, ISSUER, now, 120, "fixed-jti-0123456789a");
        let input = backchannel::signing_input(&key.kid, alg, "logout+jwt", &claims);
        figures.push(bench(&format!("logout token {alg}: signature alone (sign_bytes)"), round, || {
            black_box(key.sign_bytes(black_box(input.as_bytes())));
        }));
    }
    let d = delivery(Alg::ES256);
    figures.push(bench("logout token: claims + input + assemble, no signature", round, || {
        let claims = backchannel::claims(&d, ISSUER, now, 120, &random_token(16));
        let input = backchannel::signing_input("bench-es256", Alg::ES256, "logout+jwt", &claims);
        black_box(backchannel::assemble(&input, &[0u8; 64]));
    }));

    println!(
        "{:<58} {:>14} {:>14} {:>10}",
        "host micro-benchmark (release profile)", "median µs", "fastest µs", "iters"
    );
    for f in &figures {
        println!("{:<58} {:>14.2} {:>14.2} {:>10}", f.name, f.median_ns / 1e3, f.min_ns / 1e3, f.iterations);
    }
    if let Some(path) = json_out {
        let out: Vec<Value> = figures
            .iter()
            .map(|f| json!({"name": f.name, "median_us": f.median_ns / 1e3, "min_us": f.min_ns / 1e3, "iterations": f.iterations}))
            .collect();
        std::fs::write(&path, serde_json::to_string_pretty(&json!({ "host": out })).expect("serialises"))
            .expect("write the JSON");
        println!("wrote {path}");
    }
}
