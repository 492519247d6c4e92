//! Ready-made pieces for fuzzing and property tests on the host: a configuration with fresh
//! keys, an in-memory store seeded with clients and a session, and ID token minting.

use std::sync::OnceLock;

use serde_json::{json, Value};

use crate::app::{self, Ctx};
use crate::backchannel::LogoutEvent;
use crate::clients::Client;
use crate::config::Config;
use crate::http::{HttpRequest, HttpResponse};
use crate::keys::{generate, Alg};
use crate::logout::{Platform, Summary};
use crate::sessions::{self, Session};
use crate::store::memory::MemoryStore;

pub const ISSUER: &str = "https://id.example.com";
pub const ADMIN_TOKEN: &str = "fuzz-admin-token-0123456789";
pub const NOW: i64 = 1_800_000_000;
/// The browser cookie of the seeded session `sid-1` of `alice`: `b64url("sid-1")`, then its secret.
pub const COOKIE: &str = "c2lkLTE.cookie-of-alice-0123456789abcdefghijklmnopq";

/// One private JWKS (RS256, ES256, EdDSA), generated once per process.
pub fn jwks() -> &'static str {
    static JWKS: OnceLock<String> = OnceLock::new();
    JWKS.get_or_init(|| {
        let keys: Vec<Value> = Alg::ALL.iter().map(|a| generate::private_jwk(*a, &format!("k-{a}"))).collect();
        json!({ "keys": keys }).to_string()
    })
}

pub fn config() -> &'static Config {
    static CONFIG: OnceLock<Config> = OnceLock::new();
    CONFIG.get_or_init(|| {
        Config::from_lookup(|name| match name {
            "ISSUER" => Some(ISSUER.into()),
            "SIGNING_JWKS" => Some(jwks().into()),
            "ADMIN_TOKEN" => Some(ADMIN_TOKEN.into()),
            _ => None,
        })
        .expect("the test configuration is valid")
    })
}

/// Tells nobody, counts nothing.
pub struct Quiet;

impl Platform for Quiet {
    async fn notify(&self, _event: &LogoutEvent, _clients: &[Client], _inline_max: usize) -> Summary {
        Summary::default()
    }
}

/// A store with clients `rp1` and `rp2` and the session `sid-1` of `alice` (cookie [`COOKIE`]).
pub fn seeded_store() -> MemoryStore {
    let store = MemoryStore::new(NOW);
    futures::executor::block_on(async {
        for id in ["rp1", "rp2"] {
            let body = json!({
                "redirect_uris": [format!("https://{id}.example/cb")],
                "post_logout_redirect_uris": [format!("https://{id}.example/bye"), format!("https://{id}.example/q?x=1")],
                "backchannel_logout_uri": format!("https://{id}.example/bc"),
                "frontchannel_logout_uri": format!("https://{id}.example/fc"),
            });
            let client = Client::from_registration(id, body.to_string().as_bytes(), config().uri_policy, &Alg::ALL)
                .expect("valid metadata");
            let record = serde_json::to_string(&client).unwrap();
            crate::store::Store::put(&store, crate::store::Ns::Clients, &format!("client/{id}"), &record, None, None)
                .await
                .unwrap();
        }
        let session = Session {
            sid: "sid-1".into(),
            sub: "alice".into(),
            clients: vec!["rp1".into(), "rp2".into()],
            created_at: NOW,
            expires_at: NOW + 3600,
            cookie_hash: sessions::hash_secret(COOKIE.split_once('.').expect("sid.secret").1),
        };
        sessions::save(&store, &session, true).await.unwrap();
    });
    store
}

/// An ID token for `claims` signed by the configuration's `alg` key.
pub fn id_token(alg: Alg, claims: Value) -> String {
    let mut c = jwt_compact::Claims::new(claims);
    c.issued_at = chrono::DateTime::from_timestamp(NOW - 60, 0);
    config().keys.signer(alg).expect("a key per algorithm").sign(None, &c)
}

/// Handles one request with the test configuration.
pub fn call(store: &MemoryStore, req: &HttpRequest) -> HttpResponse {
    store.now.set(NOW);
    store.ops.set(0);
    let ctx = Ctx { config: config(), store, platform: &Quiet, now: NOW };
    futures::executor::block_on(app::handle(&ctx, req))
}
