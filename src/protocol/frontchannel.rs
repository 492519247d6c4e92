//! Front-channel logout (OpenID Connect Front-Channel Logout 1.0): the frames the browser loads
//! to tell relying parties it logged out, each the registered URI with `iss` and `sid` added
//! (both, always: a relying party that requires them gets them, one that does not may ignore
//! them) and its own query kept.

use crate::http::uris::with_query;
use crate::protocol::backchannel::event::SessionEnd;
use crate::state::clients::Client;

pub struct Frames {
    pub uris: Vec<String>,
    /// Each frame origin once, for the page's `frame-src`.
    pub origins: Vec<String>,
}

pub fn frames(issuer: &str, ended: &[SessionEnd], clients: &[Client]) -> Frames {
    let mut uris = Vec::new();
    let mut origins: Vec<String> = Vec::new();
    for session in ended {
        for id in &session.clients {
            let Some(client) = clients.iter().find(|c| &c.client_id == id) else { continue };
            let Some(uri) = client.frontchannel_logout_uri.as_deref() else { continue };
            uris.push(with_query(uri, &[("iss", issuer), ("sid", &session.sid)]));
            if let Ok(url) = url::Url::parse(uri) {
                let origin = url.origin().ascii_serialization();
                if !origins.contains(&origin) {
                    origins.push(origin);
                }
            }
        }
    }
    Frames { uris, origins }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Alg;

    fn client(id: &str, fc: Option<&str>) -> Client {
        let mut c = crate::testing::fixtures::client(id, None, false, Alg::RS256);
        c.frontchannel_logout_uri = fc.map(str::to_string);
        c.frontchannel_logout_session_required = true;
        c
    }

    #[test]
    fn one_frame_per_relying_party_with_iss_and_sid() {
        let session = SessionEnd {
            sid: "s 1".into(),
            sub: "a".into(),
            clients: vec!["rp1".into(), "rp2".into(), "rp3".into(), "rp4".into()],
        };
        let clients = [
            client("rp1", Some("https://rp1.example/fc")),
            client("rp2", Some("https://rp2.example:8443/fc?x=1")),
            client("rp3", None),
            client("rp4", Some("https://rp1.example/other")),
        ];
        let f = frames("https://id.example", &[session], &clients);
        assert_eq!(
            f.uris,
            [
                "https://rp1.example/fc?iss=https%3A%2F%2Fid.example&sid=s%201",
                "https://rp2.example:8443/fc?x=1&iss=https%3A%2F%2Fid.example&sid=s%201",
                "https://rp1.example/other?iss=https%3A%2F%2Fid.example&sid=s%201",
            ]
        );
        assert_eq!(f.origins, ["https://rp1.example", "https://rp2.example:8443"]);
    }
}
