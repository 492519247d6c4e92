//! The decision table of RP-initiated logout: given what the request proved and what the
//! browser has, whether to refuse, to ask the user, or to log out now, which session ends, and
//! where to go after; and the same for the user's answer on the confirmation page.
//! Pure: every row is unit-tested here.

use std::fmt;

use super::hint::VerifiedHint;
use super::params::LogoutParams;
use crate::http::uris::with_query;
use crate::state::clients::Client;
use crate::state::sessions::Session;

/// The client a request names (through its hint or `client_id`), as found in the registry.
#[derive(Debug, Clone, Copy)]
pub enum NamedClient<'a> {
    None,
    Found(&'a Client),
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    UnknownClient,
    /// A `post_logout_redirect_uri` with neither hint nor `client_id` to check it against.
    RedirectWithoutClient,
    RedirectNotRegistered,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Rejection::UnknownClient => "the client is not registered",
            Rejection::RedirectWithoutClient => {
                "post_logout_redirect_uri needs an id_token_hint or a client_id to be checked against"
            }
            Rejection::RedirectNotRegistered => "post_logout_redirect_uri is not registered for this client",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Reject(Rejection),
    /// End `target` now (`None`: nothing left to end), then go to `redirect` or the
    /// signed-out page.
    LogOut {
        target: Option<Session>,
        redirect: Option<String>,
    },
    /// Ask the user first; if they agree, end the browser's session (or else `target`).
    Confirm {
        target: Session,
        redirect: Option<String>,
    },
    /// The user agreed, but the browser now presents another session than the one they were
    /// asked about: end neither, ask again about `target` (the browser's current session).
    AskAgain {
        target: Session,
        redirect: Option<String>,
    },
    /// The user chose to stay signed in: nothing ends.
    StaySignedIn,
}

/// What an end-session request established.
pub struct Facts<'a> {
    pub params: &'a LogoutParams,
    pub hint: Option<&'a VerifiedHint>,
    pub client: NamedClient<'a>,
    /// The browser's current session, from its cookie.
    pub browser: Option<&'a Session>,
    /// The session the hint's `sid` names (read when [`hint_sid_to_read`] says so).
    pub hint_session: Option<&'a Session>,
    /// Whether that session's tombstone was seen: it ended already.
    pub hint_session_ended: bool,
}

/// The `sid` whose session the decision needs besides the browser's: the hint's, when the
/// browser presents no session (its cookie was not sent with a cross-site request). With a
/// browser session, that one is at stake, never the hint's.
pub fn hint_sid_to_read<'a>(hint: Option<&'a VerifiedHint>, browser: Option<&Session>) -> Option<&'a str> {
    match browser {
        Some(_) => None,
        None => hint?.sid.as_deref(),
    }
}

pub fn decide(f: &Facts<'_>) -> Decision {
    let client = match f.client {
        NamedClient::Unknown => return Decision::Reject(Rejection::UnknownClient),
        NamedClient::Found(c) => Some(c),
        NamedClient::None => None,
    };
    let redirect = match (&f.params.post_logout_redirect_uri, client) {
        (None, _) => None,
        (Some(_), None) => return Decision::Reject(Rejection::RedirectWithoutClient),
        (Some(uri), Some(c)) if c.allows_post_logout_redirect(uri) => {
            Some(redirect_url(uri, f.params.state.as_deref()))
        }
        (Some(_), Some(_)) => return Decision::Reject(Rejection::RedirectNotRegistered),
    };
    // The hint's session is at stake only when it is the hint's user's.
    let hint_session = f.hint_session.filter(|s| f.hint.is_some_and(|h| h.sub == s.sub));
    let Some(target) = f.browser.or(hint_session) else {
        // Already logged out: not an error.
        return Decision::LogOut { target: None, redirect };
    };
    // Only a verified hint naming the browser's own session (same sid and sub) skips the prompt,
    // and never when a `logout_hint` names another user than the session's.
    let hint_is_browsers = match (f.hint, f.browser) {
        (Some(h), Some(b)) => h.sid.as_deref() == Some(b.sid.as_str()) && h.sub == b.sub,
        _ => false,
    };
    let logout_hint_fits = f.params.logout_hint.as_deref().is_none_or(|h| target.answers_to(h));
    if hint_is_browsers && logout_hint_fits {
        Decision::LogOut { target: Some(target.clone()), redirect }
    } else {
        Decision::Confirm { target: target.clone(), redirect }
    }
}

/// The session a verified hint names that this location does not see: with no browser session
/// and no session found for the hint's `sid`, a logout that goes ahead still ends that session
/// where KV shows it later (see `protocol::logout::end_unseen`).
pub fn unseen_hint_session<'a>(f: &Facts<'a>) -> Option<(&'a str, &'a str)> {
    let hint = f.hint?;
    // A `logout_hint` naming someone else than the hint's user: nothing is ended unseen.
    if f.params.logout_hint.as_deref().is_some_and(|h| h != hint.sub) {
        return None;
    }
    match (f.browser, f.hint_session, f.hint_session_ended, hint.sid.as_deref()) {
        (None, None, false, Some(sid)) => Some((sid, hint.sub.as_str())),
        _ => None,
    }
}

/// The user's answer on the confirmation page.
pub struct Answered<'a> {
    pub log_out: bool,
    /// The `sid` the confirmation was shown for.
    pub target_sid: &'a str,
    /// The browser's current session, from its cookie.
    pub browser: Option<&'a Session>,
    /// The session the confirmation was shown for (read when [`recorded_sid_to_read`] says so).
    pub recorded: Option<&'a Session>,
    /// Where the confirmed logout goes, as decided when it was asked.
    pub redirect: Option<String>,
}

/// The `sid` of the confirmation's recorded session, when the decision needs it: only when the
/// user agreed and the browser presents no session of its own.
pub fn recorded_sid_to_read<'a>(log_out: bool, browser: Option<&Session>, recorded_sid: &'a str) -> Option<&'a str> {
    (log_out && browser.is_none()).then_some(recorded_sid)
}

/// The confirmation step ends exactly the session it was shown for. On "yes": the browser's
/// session when it is that one; the recorded one when the browser presents none (its cookie
/// was not sent with the original cross-site request); when the browser presents another
/// session (it changed since the page was shown), neither: ask again about the current one.
/// On "no" nothing ends.
pub fn decide_answer(a: &Answered<'_>) -> Decision {
    if !a.log_out {
        return Decision::StaySignedIn;
    }
    let redirect = a.redirect.clone();
    match a.browser {
        Some(b) if b.sid == a.target_sid => Decision::LogOut { target: Some(b.clone()), redirect },
        Some(b) => Decision::AskAgain { target: b.clone(), redirect },
        None => Decision::LogOut { target: a.recorded.cloned(), redirect },
    }
}

/// The registered URI with `state` added as one more query parameter, encoded so that the
/// relying party decodes exactly what it sent; any query already there is kept.
pub fn redirect_url(registered: &str, state: Option<&str>) -> String {
    match state {
        None => registered.to_string(),
        Some(state) => with_query(registered, &[("state", state)]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Alg;

    fn client() -> Client {
        let mut c = crate::testing::fixtures::client("rp1", None, false, Alg::RS256);
        c.post_logout_redirect_uris = vec!["https://rp1.example/bye".into(), "https://rp1.example/q?x=1".into()];
        c
    }

    fn session(sid: &str, sub: &str) -> Session {
        Session {
            sid: sid.into(),
            sub: sub.into(),
            clients: vec!["rp1".into()],
            created_at: 0,
            expires_at: 10,
            cookie_hash: String::new(),
            logout_hints: Vec::new(),
        }
    }

    fn hint(sub: &str, sid: Option<&str>) -> VerifiedHint {
        VerifiedHint { sub: sub.into(), sid: sid.map(str::to_string), client_id: "rp1".into() }
    }

    fn params(uri: Option<&str>, state: Option<&str>) -> LogoutParams {
        LogoutParams {
            post_logout_redirect_uri: uri.map(str::to_string),
            state: state.map(str::to_string),
            ..Default::default()
        }
    }

    struct Case<'a> {
        params: LogoutParams,
        hint: Option<VerifiedHint>,
        client: NamedClient<'a>,
        browser: Option<Session>,
        hint_session: Option<Session>,
        ended: bool,
    }

    impl Case<'_> {
        fn decide(&self) -> Decision {
            decide(&Facts {
                params: &self.params,
                hint: self.hint.as_ref(),
                client: self.client,
                browser: self.browser.as_ref(),
                hint_session: self.hint_session.as_ref(),
                hint_session_ended: self.ended,
            })
        }
    }

    fn case(params: LogoutParams) -> Case<'static> {
        Case { params, hint: None, client: NamedClient::None, browser: None, hint_session: None, ended: false }
    }

    #[test]
    fn no_parameters_with_a_session_asks_then_shows_the_signed_out_page() {
        let mut c = case(params(None, None));
        c.browser = Some(session("s1", "alice"));
        assert_eq!(c.decide(), Decision::Confirm { target: session("s1", "alice"), redirect: None });
        c.params.state = Some("xyz".into());
        assert_eq!(c.decide(), Decision::Confirm { target: session("s1", "alice"), redirect: None });
    }

    #[test]
    fn a_redirect_without_hint_or_client_id_is_refused() {
        let mut c = case(params(Some("https://rp1.example/bye"), Some("s")));
        c.browser = Some(session("s1", "alice"));
        assert_eq!(c.decide(), Decision::Reject(Rejection::RedirectWithoutClient));
    }

    #[test]
    fn client_id_without_hint_checks_the_uri_then_asks() {
        let cl = client();
        let mut c = case(params(Some("https://rp1.example/bye"), Some("s")));
        c.client = NamedClient::Found(&cl);
        c.browser = Some(session("s1", "alice"));
        assert_eq!(
            c.decide(),
            Decision::Confirm {
                target: session("s1", "alice"),
                redirect: Some("https://rp1.example/bye?state=s".into())
            }
        );
    }

    #[test]
    fn a_valid_hint_for_the_browsers_session_logs_out_at_once() {
        let cl = client();
        let mut c = case(params(Some("https://rp1.example/bye"), Some("s")));
        c.client = NamedClient::Found(&cl);
        c.hint = Some(hint("alice", Some("s1")));
        c.browser = Some(session("s1", "alice"));
        c.hint_session = Some(session("s1", "alice"));
        assert_eq!(
            c.decide(),
            Decision::LogOut {
                target: Some(session("s1", "alice")),
                redirect: Some("https://rp1.example/bye?state=s".into())
            }
        );
    }

    #[test]
    fn a_hint_with_state_and_no_uri_logs_out_to_the_signed_out_page() {
        let cl = client();
        let mut c = case(params(None, Some("s")));
        c.client = NamedClient::Found(&cl);
        c.hint = Some(hint("alice", Some("s1")));
        c.browser = Some(session("s1", "alice"));
        assert_eq!(c.decide(), Decision::LogOut { target: Some(session("s1", "alice")), redirect: None });
    }

    #[test]
    fn a_hint_of_another_session_or_user_must_be_confirmed() {
        let cl = client();
        for h in [hint("alice", Some("s2")), hint("bob", Some("s1")), hint("alice", None)] {
            let mut c = case(params(None, None));
            c.client = NamedClient::Found(&cl);
            c.hint = Some(h.clone());
            c.browser = Some(session("s1", "alice"));
            // The browser's session is the one at stake, never the hint's.
            assert_eq!(c.decide(), Decision::Confirm { target: session("s1", "alice"), redirect: None }, "{h:?}");
        }
    }

    #[test]
    fn without_a_cookie_the_hints_session_is_the_target_after_confirmation() {
        let cl = client();
        let mut c = case(params(Some("https://rp1.example/bye"), None));
        c.client = NamedClient::Found(&cl);
        c.hint = Some(hint("alice", Some("s1")));
        c.hint_session = Some(session("s1", "alice"));
        assert_eq!(
            c.decide(),
            Decision::Confirm { target: session("s1", "alice"), redirect: Some("https://rp1.example/bye".into()) }
        );
    }

    #[test]
    fn already_logged_out_still_reaches_a_valid_uri() {
        let cl = client();
        let mut c = case(params(Some("https://rp1.example/bye"), Some("s")));
        c.client = NamedClient::Found(&cl);
        c.hint = Some(hint("alice", Some("gone")));
        assert_eq!(
            c.decide(),
            Decision::LogOut { target: None, redirect: Some("https://rp1.example/bye?state=s".into()) }
        );
        assert_eq!(case(params(None, None)).decide(), Decision::LogOut { target: None, redirect: None });
    }

    #[test]
    fn redirects_must_match_exactly() {
        let cl = client();
        for uri in [
            "https://rp1.example/bye?foo=bar",
            "https://rp1.example/bye/",
            "https://RP1.example/bye",
            "https://rp1.example/BYE",
            "https://rp2.example/bye",
            "https://rp1.example/q",
        ] {
            let mut c = case(params(Some(uri), None));
            c.client = NamedClient::Found(&cl);
            c.browser = Some(session("s1", "alice"));
            assert_eq!(c.decide(), Decision::Reject(Rejection::RedirectNotRegistered), "{uri}");
        }
    }

    #[test]
    fn unknown_clients_are_refused_even_without_a_redirect() {
        let mut c = case(params(None, None));
        c.client = NamedClient::Unknown;
        assert_eq!(c.decide(), Decision::Reject(Rejection::UnknownClient));
    }

    #[test]
    fn state_is_appended_exactly() {
        assert_eq!(redirect_url("https://rp/bye", None), "https://rp/bye");
        assert_eq!(redirect_url("https://rp/bye", Some("a b&c=d")), "https://rp/bye?state=a%20b%26c%3Dd");
        assert_eq!(redirect_url("https://rp/q?x=1", Some("s")), "https://rp/q?x=1&state=s");
        assert_eq!(redirect_url("https://rp/q?", Some("s")), "https://rp/q?state=s");
        let long: String = (0..128).map(|i| (b'a' + (i % 26) as u8) as char).collect();
        let url = url::Url::parse(&redirect_url("https://rp/bye", Some(&long))).unwrap();
        let state: Vec<_> = url.query_pairs().filter(|(k, _)| k == "state").map(|(_, v)| v.into_owned()).collect();
        assert_eq!(state, [long]);
    }

    #[test]
    fn the_hints_session_is_read_only_when_the_browser_presents_none() {
        let h = hint("alice", Some("s1"));
        assert_eq!(hint_sid_to_read(Some(&h), None), Some("s1"));
        assert_eq!(hint_sid_to_read(Some(&h), Some(&session("s2", "alice"))), None);
        assert_eq!(hint_sid_to_read(Some(&hint("alice", None)), None), None);
        assert_eq!(hint_sid_to_read(None, None), None);
    }

    #[test]
    fn a_hints_session_of_another_user_is_not_at_stake() {
        let cl = client();
        let mut c = case(params(None, None));
        c.client = NamedClient::Found(&cl);
        c.hint = Some(hint("alice", Some("s1")));
        c.hint_session = Some(session("s1", "mallory"));
        assert_eq!(c.decide(), Decision::LogOut { target: None, redirect: None });
    }

    fn answer<'a>(log_out: bool, browser: Option<&'a Session>, recorded: Option<&'a Session>) -> Answered<'a> {
        Answered { log_out, target_sid: "s1", browser, recorded, redirect: Some("https://rp1.example/bye".into()) }
    }

    fn bye() -> Option<String> {
        Some("https://rp1.example/bye".to_string())
    }

    #[test]
    fn on_no_nothing_ends() {
        let (browser, other) = (session("s1", "alice"), session("s2", "alice"));
        assert_eq!(decide_answer(&answer(false, Some(&browser), None)), Decision::StaySignedIn);
        assert_eq!(decide_answer(&answer(false, Some(&other), None)), Decision::StaySignedIn);
        assert_eq!(decide_answer(&answer(false, None, Some(&browser))), Decision::StaySignedIn);
    }

    #[test]
    fn on_yes_the_browsers_session_ends_when_it_is_the_target() {
        let browser = session("s1", "alice");
        assert_eq!(
            decide_answer(&answer(true, Some(&browser), None)),
            Decision::LogOut { target: Some(browser.clone()), redirect: bye() }
        );
    }

    #[test]
    fn on_yes_another_browser_session_than_the_target_is_asked_about_again() {
        let (target, current) = (session("s1", "alice"), session("s2", "alice"));
        assert_eq!(
            decide_answer(&answer(true, Some(&current), Some(&target))),
            Decision::AskAgain { target: current.clone(), redirect: bye() }
        );
        let bobs = session("s3", "bob");
        assert_eq!(
            decide_answer(&answer(true, Some(&bobs), None)),
            Decision::AskAgain { target: bobs.clone(), redirect: bye() }
        );
    }

    #[test]
    fn on_yes_without_a_browser_session_the_target_ends() {
        let target = session("s1", "alice");
        assert_eq!(
            decide_answer(&answer(true, None, Some(&target))),
            Decision::LogOut { target: Some(target.clone()), redirect: bye() }
        );
        // Already gone: nothing left to end, still the redirect.
        assert_eq!(decide_answer(&answer(true, None, None)), Decision::LogOut { target: None, redirect: bye() });
    }

    #[test]
    fn the_target_is_read_only_when_the_browser_presents_no_session() {
        let browser = session("s2", "alice");
        assert_eq!(recorded_sid_to_read(true, None, "s1"), Some("s1"));
        assert_eq!(recorded_sid_to_read(true, Some(&browser), "s1"), None);
        assert_eq!(recorded_sid_to_read(false, None, "s1"), None);
    }

    #[test]
    fn a_hints_session_not_seen_here_is_ended_where_it_is_seen_later() {
        let cl = client();
        let mut c = case(params(None, None));
        c.client = NamedClient::Found(&cl);
        c.hint = Some(hint("alice", Some("s1")));
        let facts = |c: &Case<'_>| {
            unseen_hint_session(&Facts {
                params: &c.params,
                hint: c.hint.as_ref(),
                client: c.client,
                browser: c.browser.as_ref(),
                hint_session: c.hint_session.as_ref(),
                hint_session_ended: c.ended,
            })
            .map(|(sid, sub)| (sid.to_string(), sub.to_string()))
        };
        assert_eq!(facts(&c), Some(("s1".to_string(), "alice".to_string())));
        // Seen here (even as another user's), or a browser session at stake: not this rule.
        c.hint_session = Some(session("s1", "mallory"));
        assert_eq!(facts(&c), None);
        c.hint_session = None;
        c.browser = Some(session("s2", "alice"));
        assert_eq!(facts(&c), None);
        c.browser = None;
        c.ended = true;
        assert_eq!(facts(&c), None, "ended already");
        c.ended = false;
        c.params.logout_hint = Some("bob".into());
        assert_eq!(facts(&c), None, "a logout_hint of another user");
        c.params.logout_hint = Some("alice".into());
        assert_eq!(facts(&c), Some(("s1".to_string(), "alice".to_string())));
        c.params.logout_hint = None;
        c.hint = Some(hint("alice", None));
        assert_eq!(facts(&c), None);
    }

    #[test]
    fn a_logout_hint_of_the_sessions_user_logs_out_at_once_another_asks() {
        let cl = client();
        for (logout_hint, asks) in [("alice", false), ("bob", true)] {
            let mut c = case(params(Some("https://rp1.example/bye"), None));
            c.params.logout_hint = Some(logout_hint.into());
            c.client = NamedClient::Found(&cl);
            c.hint = Some(hint("alice", Some("s1")));
            c.browser = Some(session("s1", "alice"));
            let redirect = Some("https://rp1.example/bye".to_string());
            let target = session("s1", "alice");
            let want = if asks {
                Decision::Confirm { target, redirect }
            } else {
                Decision::LogOut { target: Some(target), redirect }
            };
            assert_eq!(c.decide(), want, "{logout_hint}");
        }
    }
}
