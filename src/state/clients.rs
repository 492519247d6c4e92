//! The client registry: the logout-relevant metadata of each relying party (OpenID Connect
//! Dynamic Client Registration / RFC 7591 names), validated before it is stored under
//! `client/{client_id}` in the `CLIENTS` namespace.

use serde::{Deserialize, Serialize};
use url::Url;

use super::store::{ListPage, Ns, Store, StoreError};
use crate::http::json;
use crate::http::uris::{self, UriPolicy};
use crate::keys::Alg;

/// At most this many URIs per list: the registry is not a dumping ground.
const MAX_URIS: usize = 50;
const MAX_NAME_LEN: usize = 200;
pub const MAX_CLIENT_ID_LEN: usize = 255;

/// A registered client, as stored in KV and returned by the admin API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Client {
    pub client_id: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_uri: Option<String>,
    pub backchannel_logout_session_required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frontchannel_logout_uri: Option<String>,
    pub frontchannel_logout_session_required: bool,
    pub id_token_signed_response_alg: Alg,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_name: Option<String>,
    /// The client's home page: the way back after "Stay signed in".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_uri: Option<String>,
}

/// The metadata a `PUT /admin/clients/{client_id}` may carry. Members this service does not use
/// are ignored, as RFC 7591 allows; members it uses must have the right type.
#[derive(Debug, Deserialize)]
struct ClientInput {
    client_id: Option<String>,
    #[serde(default)]
    redirect_uris: Vec<String>,
    #[serde(default)]
    post_logout_redirect_uris: Vec<String>,
    backchannel_logout_uri: Option<String>,
    #[serde(default)]
    backchannel_logout_session_required: bool,
    frontchannel_logout_uri: Option<String>,
    #[serde(default)]
    frontchannel_logout_session_required: bool,
    id_token_signed_response_alg: Option<String>,
    client_name: Option<String>,
    client_uri: Option<String>,
}

/// Why client metadata was refused: the text of an `invalid_client_metadata` error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataError(pub String);

fn refuse(msg: impl Into<String>) -> MetadataError {
    MetadataError(msg.into())
}

/// Each client id once, in first-seen order.
pub fn unique_ids<'a>(ids: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let mut seen = std::collections::HashSet::new();
    ids.into_iter().filter(|id| seen.insert(*id)).collect()
}

/// A client identifier: visible ASCII, no slash (it is a path segment of the admin API).
pub fn valid_client_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_CLIENT_ID_LEN && id.bytes().all(|b| b.is_ascii_graphic() && b != b'/')
}

fn check_uris(member: &str, list: &[String], policy: UriPolicy) -> Result<Vec<Url>, MetadataError> {
    if list.len() > MAX_URIS {
        return Err(refuse(format!("{member} has more than {MAX_URIS} entries")));
    }
    list.iter().map(|u| uris::parse_absolute(u, policy).map_err(|e| refuse(format!("{member}: {u:?} {e}")))).collect()
}

impl Client {
    /// Validates the JSON body of a registration for `client_id` against the provider's
    /// URI policy and signing algorithms.
    pub fn from_registration(
        client_id: &str,
        body: &[u8],
        policy: UriPolicy,
        signing_algs: &[Alg],
    ) -> Result<Client, MetadataError> {
        if !valid_client_id(client_id) {
            return Err(refuse("client_id must be 1 to 255 visible ASCII characters without '/'"));
        }
        let input: ClientInput = json::object(body).map_err(|e| refuse(e.to_string()))?;
        if input.client_id.as_deref().is_some_and(|id| id != client_id) {
            return Err(refuse("client_id in the body differs from the one in the path"));
        }

        let redirect = check_uris("redirect_uris", &input.redirect_uris, policy)?;
        check_uris("post_logout_redirect_uris", &input.post_logout_redirect_uris, policy)?;
        if let Some(uri) = &input.backchannel_logout_uri {
            uris::parse_reachable(uri, policy).map_err(|e| refuse(format!("backchannel_logout_uri {e}")))?;
        }
        if input.backchannel_logout_session_required && input.backchannel_logout_uri.is_none() {
            return Err(refuse("backchannel_logout_session_required needs a backchannel_logout_uri"));
        }
        if let Some(uri) = &input.client_uri {
            uris::parse_absolute(uri, policy).map_err(|e| refuse(format!("client_uri {e}")))?;
        }
        if let Some(uri) = &input.frontchannel_logout_uri {
            let url = uris::parse_reachable(uri, policy).map_err(|e| refuse(format!("frontchannel_logout_uri {e}")))?;
            if !redirect.iter().any(|r| uris::same_origin(r, &url)) {
                return Err(refuse(
                    "frontchannel_logout_uri must have the scheme, host and port of one of the redirect_uris",
                ));
            }
        }
        if input.frontchannel_logout_session_required && input.frontchannel_logout_uri.is_none() {
            return Err(refuse("frontchannel_logout_session_required needs a frontchannel_logout_uri"));
        }
        let alg = match input.id_token_signed_response_alg.as_deref() {
            None => Alg::RS256,
            Some(name) => match Alg::parse(name) {
                Some(alg) if signing_algs.contains(&alg) => alg,
                _ => {
                    let known: Vec<&str> = signing_algs.iter().map(|a| a.name()).collect();
                    return Err(refuse(format!(
                        "id_token_signed_response_alg {name:?} is not one of {}",
                        known.join(", ")
                    )));
                }
            },
        };
        if let Some(name) = &input.client_name {
            if name.chars().count() > MAX_NAME_LEN || name.chars().any(char::is_control) {
                return Err(refuse(format!(
                    "client_name must be at most {MAX_NAME_LEN} characters, without control characters"
                )));
            }
        }

        Ok(Client {
            client_id: client_id.to_string(),
            redirect_uris: input.redirect_uris,
            post_logout_redirect_uris: input.post_logout_redirect_uris,
            backchannel_logout_uri: input.backchannel_logout_uri,
            backchannel_logout_session_required: input.backchannel_logout_session_required,
            frontchannel_logout_uri: input.frontchannel_logout_uri,
            frontchannel_logout_session_required: input.frontchannel_logout_session_required,
            id_token_signed_response_alg: alg,
            client_name: input.client_name,
            client_uri: input.client_uri,
        })
    }

    /// How the pages name the client: its `client_name`, else its id.
    pub fn display_name(&self) -> &str {
        self.client_name.as_deref().unwrap_or(&self.client_id)
    }

    /// Whether `uri` is, byte for byte, one of this client's registered post-logout URIs.
    pub fn allows_post_logout_redirect(&self, uri: &str) -> bool {
        self.post_logout_redirect_uris.iter().any(|r| r == uri)
    }
}

const KEY_PREFIX: &str = "client/";

fn key(client_id: &str) -> String {
    format!("{KEY_PREFIX}{client_id}")
}

/// Several clients in one bulk read (per 100), each in the place of its id: `None` for an
/// invalid id, an unknown (or deleted) client or an unreadable record.
pub async fn read_many<I: AsRef<str>>(store: &impl Store, ids: &[I]) -> Result<Vec<Option<Client>>, StoreError> {
    let valid: Vec<&str> = ids.iter().map(AsRef::as_ref).filter(|id| valid_client_id(id)).collect();
    let keys: Vec<String> = valid.iter().map(|id| key(id)).collect();
    let mut found = valid.into_iter().zip(store.get_many(Ns::Clients, &keys).await?);
    Ok(ids
        .iter()
        .map(|id| {
            if !valid_client_id(id.as_ref()) {
                return None;
            }
            let (_, raw) = found.next().expect("one value per valid id");
            raw.and_then(|r| serde_json::from_str(&r).ok())
        })
        .collect())
}

/// Several clients in one bulk read; unknown (or deleted) ones are left out.
pub async fn load_many(store: &impl Store, ids: &[&str]) -> Result<Vec<Client>, StoreError> {
    Ok(read_many(store, ids).await?.into_iter().flatten().collect())
}

pub async fn load(store: &impl Store, client_id: &str) -> Result<Option<Client>, StoreError> {
    if !valid_client_id(client_id) {
        return Ok(None);
    }
    let raw = store.get(Ns::Clients, &key(client_id)).await?;
    Ok(raw.and_then(|r| serde_json::from_str(&r).ok()))
}

/// Whether a record exists under the client's key (readable or not).
pub async fn exists(store: &impl Store, client_id: &str) -> Result<bool, StoreError> {
    Ok(store.get(Ns::Clients, &key(client_id)).await?.is_some())
}

pub async fn save(store: &impl Store, client: &Client) -> Result<(), StoreError> {
    let record = serde_json::to_string(client).expect("a client serialises");
    store.put(Ns::Clients, &key(&client.client_id), &record, None, None).await
}

pub async fn delete(store: &impl Store, client_id: &str) -> Result<(), StoreError> {
    store.delete(Ns::Clients, &key(client_id)).await
}

/// A page of at most `limit` registered clients from `cursor` (one listing, one bulk read), and
/// where the next page starts.
pub async fn page(
    store: &impl Store,
    cursor: Option<String>,
    limit: u32,
) -> Result<(Vec<Client>, Option<String>), StoreError> {
    let ListPage { keys, cursor } = store.list(Ns::Clients, KEY_PREFIX, cursor, limit).await?;
    let ids: Vec<&str> = keys.iter().map(|l| &l.key[KEY_PREFIX.len()..]).collect();
    Ok((load_many(store, &ids).await?, cursor))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALGS: &[Alg] = &[Alg::RS256, Alg::ES256, Alg::EdDSA];

    fn register(json: &str) -> Result<Client, MetadataError> {
        Client::from_registration("rp1", json.as_bytes(), UriPolicy::HttpsOnly, ALGS)
    }

    #[test]
    fn full_registration() {
        let c = register(
            r#"{"redirect_uris": ["https://rp.example/cb"],
                "post_logout_redirect_uris": ["https://rp.example/bye?x=1"],
                "backchannel_logout_uri": "https://rp.example/bc?k=v",
                "backchannel_logout_session_required": true,
                "frontchannel_logout_uri": "https://rp.example/fc",
                "frontchannel_logout_session_required": true,
                "id_token_signed_response_alg": "ES256",
                "client_name": "Relying Party One",
                "client_uri": "https://rp.example/home?from=op",
                "token_endpoint_auth_method": "none"}"#,
        )
        .unwrap();
        assert_eq!(c.client_id, "rp1");
        assert_eq!(c.id_token_signed_response_alg, Alg::ES256);
        assert!(c.allows_post_logout_redirect("https://rp.example/bye?x=1"));
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["id_token_signed_response_alg"], "ES256");
        assert_eq!(c.client_uri.as_deref(), Some("https://rp.example/home?from=op"));
        assert_eq!(json["client_uri"], "https://rp.example/home?from=op");
        assert_eq!(c.display_name(), "Relying Party One");
        assert!(json.get("token_endpoint_auth_method").is_none());
    }

    #[test]
    fn defaults() {
        let c = register("{}").unwrap();
        assert_eq!(c.id_token_signed_response_alg, Alg::RS256);
        assert!(c.post_logout_redirect_uris.is_empty());
        assert!(!c.backchannel_logout_session_required);
        assert_eq!(c.display_name(), "rp1");
        let json = serde_json::to_value(&c).unwrap();
        assert!(json.get("client_uri").is_none(), "serialised only when set: {json}");
        let stored: Client = serde_json::from_value(json).unwrap();
        assert_eq!(stored.client_uri, None, "a record without client_uri reads");
    }

    #[test]
    fn exact_match_only() {
        let c = register(r#"{"post_logout_redirect_uris": ["https://rp.example/bye"]}"#).unwrap();
        assert!(c.allows_post_logout_redirect("https://rp.example/bye"));
        for near in [
            "https://rp.example/bye?foo=bar",
            "https://rp.example/bye/",
            "https://RP.example/bye",
            "https://rp.example/Bye",
            "https://rp.example:443/bye",
            "https://rp.example/bye#",
            " https://rp.example/bye",
        ] {
            assert!(!c.allows_post_logout_redirect(near), "{near}");
        }
    }

    #[test]
    fn refusals() {
        for (json, why) in [
            ("[]", "JSON object"),
            ("{", "not JSON"),
            (r#"{"redirect_uris": "https://rp.example/cb"}"#, "sequence"),
            (r#"{"post_logout_redirect_uris": ["https://rp.example/x#f"]}"#, "fragment"),
            (r#"{"post_logout_redirect_uris": ["/relative"]}"#, "absolute"),
            (r#"{"post_logout_redirect_uris": ["http://rp.example/x"]}"#, "https"),
            (r#"{"backchannel_logout_uri": "https://rp.example/x#f"}"#, "fragment"),
            (r#"{"backchannel_logout_session_required": true}"#, "needs a backchannel_logout_uri"),
            (r#"{"client_uri": "http://rp.example/"}"#, "client_uri must use https"),
            (r#"{"client_uri": "javascript:alert(1)"}"#, "client_uri has the scheme"),
            (r#"{"client_uri": "https://rp.example/#top"}"#, "client_uri must not have a fragment"),
            (r#"{"client_uri": "/home"}"#, "client_uri is not an absolute URI"),
            (r#"{"client_uri": ["https://rp.example/"]}"#, "string"),
            (
                r#"{"redirect_uris": ["https://rp.example/cb"], "frontchannel_logout_uri": "https://other.example/fc"}"#,
                "scheme, host and port",
            ),
            (r#"{"frontchannel_logout_uri": "https://rp.example/fc"}"#, "scheme, host and port"),
            (r#"{"id_token_signed_response_alg": "none"}"#, "not one of"),
            (r#"{"id_token_signed_response_alg": "HS256"}"#, "not one of"),
            (r#"{"client_id": "other"}"#, "differs"),
            (r#"{"backchannel_logout_session_required": "yes"}"#, "boolean"),
            (
                r#"{"post_logout_redirect_uris": ["https://a/x"], "post_logout_redirect_uris": ["https://b/x"]}"#,
                "duplicate",
            ),
        ] {
            let e = register(json).expect_err(json).0;
            assert!(e.contains(why), "{json}: {e}");
        }
    }

    #[test]
    fn alg_must_be_one_the_provider_signs_with() {
        let only_rsa = Client::from_registration(
            "rp1",
            br#"{"id_token_signed_response_alg": "EdDSA"}"#,
            UriPolicy::HttpsOnly,
            &[Alg::RS256],
        );
        assert!(only_rsa.is_err());
    }

    #[test]
    fn client_ids() {
        assert!(valid_client_id("rp-1.example:app"));
        for bad in ["", "a/b", "a b", "é", &"x".repeat(256)] {
            assert!(!valid_client_id(bad), "{bad}");
        }
        assert!(Client::from_registration("a b", b"{}", UriPolicy::HttpsOnly, ALGS).is_err());
    }
}
