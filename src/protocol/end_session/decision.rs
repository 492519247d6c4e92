//! The decision table of RP-initiated logout: given what the request proved and what the
//! browser has, whether to refuse, to ask the user, or to log out now, which session ends, and
//! where to go after ([`decide_request`]); and the same for the user's answer on the
//! confirmation page ([`decide_answer`]). Each has its own result type holding only what it can
//! decide, so that every match on one is total; [`decide`] is the step's one call, on what
//! `gather` read. Pure: every row is unit-tested here.

use super::errors::Rejection;
use super::gather::{Browser, Gathered};
use super::hint::VerifiedHint;
use super::params::LogoutParams;
use crate::http::uris::with_query;
use crate::protocol::logout::Unseen;
use crate::state::clients::Client;
use crate::state::sessions::{Lookup, Session};

/// The client a request names (through its hint or `client_id`), as found in the registry.
#[derive(Debug, Clone, Copy)]
pub enum NamedClient<'a> {
    None,
    Found(&'a Client),
    Unknown,
}

/// What a logout that goes ahead ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'a> {
    /// Nothing left to end here: already signed out, or nothing at stake.
    Nothing,
    /// A session seen here, ended with every relying party it has (`protocol::logout`).
    Seen(&'a Session),
    /// A session this location does not see (yet): its tombstone now, its relying parties once
    /// KV shows them (`protocol::logout::end_unseen`).
    Unseen(Unseen<'a>),
}

/// What to do with an end-session request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict<'a> {
    Reject(Rejection),
    /// End `target` now, then go to `redirect` or the signed-out page.
    LogOut {
        target: Target<'a>,
        redirect: Option<String>,
    },
    /// Ask the user first about the session `sid` (the browser's, seen or not, or else the
    /// hint's); if they agree, it ends, and then to `redirect`.
    Ask {
        sid: &'a str,
        redirect: Option<String>,
    },
}

/// What to do with the user's answer on the confirmation page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnswerVerdict<'a> {
    /// "Stay signed in": nothing ends.
    StaySignedIn,
    /// "Log out", for the session this browser still presents (or none): end `target`, then go
    /// to `redirect` or the signed-out page.
    LogOut { target: Target<'a>, redirect: Option<String> },
    /// "Log out", but the browser now presents another session `sid` than the one the user was
    /// asked about: end neither, ask again about `sid`.
    AskAgain { sid: &'a str, redirect: Option<String> },
}

/// A step's decision: the request's, or the answer's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision<'a> {
    Request(Verdict<'a>),
    /// The answer's verdict, and the token it answered with (what a "Log out" spends).
    Answer {
        token: &'a str,
        verdict: AnswerVerdict<'a>,
    },
}

/// Decides the step `gathered` read (pure).
pub fn decide<'a>(gathered: &'a Gathered<'_>) -> Decision<'a> {
    let browser = &gathered.reads().browser;
    let session = &gathered.reads().session;
    let client = named(gathered.client_id(), gathered.client());
    match gathered {
        Gathered::Request { params, hint, hint_recent, .. } => Decision::Request(decide_request(&Facts {
            params,
            hint: hint.as_ref(),
            client,
            browser,
            hint_session: session,
            hint_recent: *hint_recent,
        })),
        Gathered::Answer { answer, pending, .. } => Decision::Answer {
            token: &answer.token,
            verdict: decide_answer(&Answered {
                log_out: answer.log_out,
                target_sid: &pending.target_sid,
                browser,
                recorded: session,
                redirect: pending.redirect.clone(),
            }),
        },
    }
}

/// The client a step names, as the registry has it.
fn named<'a>(client_id: Option<&str>, client: Option<&'a Client>) -> NamedClient<'a> {
    match (client_id, client) {
        (None, _) => NamedClient::None,
        (Some(_), Some(c)) => NamedClient::Found(c),
        (Some(_), None) => NamedClient::Unknown,
    }
}

/// What an end-session request established: everything [`decide_request`] looks at.
pub struct Facts<'a> {
    pub params: &'a LogoutParams,
    /// The verified hint, whatever its age: it names the client in any case.
    pub hint: Option<&'a VerifiedHint>,
    pub client: NamedClient<'a>,
    pub browser: &'a Browser,
    /// The session the hint's `sid` names, as this location sees it: read when
    /// `gather::hint_sid_to_read` says so, else [`Lookup::Unknown`] (nothing to read).
    pub hint_session: &'a Lookup,
    /// Whether the hint is recent enough to put a session at stake without the browser's
    /// cookie (`gather::hint_is_recent`: it expired no more than `HINT_MAX_AGE_S` ago).
    pub hint_recent: bool,
}

/// The hint as far as it may put a session at stake: whole when the browser presents a session
/// seen here (that one is at stake, never the hint's), or when it is `recent`; else `None`. An
/// old hint, sent without the session's cookie, ends nothing, whatever the answer to a
/// confirmation; it still names the client (the decision keeps the whole hint for that), so the
/// relying party gets its redirect.
fn hint_for_sessions<'a>(hint: Option<&'a VerifiedHint>, browser: &Browser, recent: bool) -> Option<&'a VerifiedHint> {
    hint.filter(|_| matches!(browser, Browser::Seen(_)) || recent)
}

/// The request's decision.
pub fn decide_request<'a>(f: &Facts<'a>) -> Verdict<'a> {
    let client = match f.client {
        NamedClient::Unknown => return Verdict::Reject(Rejection::UnknownClient),
        NamedClient::Found(c) => Some(c),
        NamedClient::None => None,
    };
    let redirect = match (&f.params.post_logout_redirect_uri, client) {
        (None, _) => None,
        (Some(_), None) => return Verdict::Reject(Rejection::RedirectWithoutClient),
        (Some(uri), Some(c)) if c.allows_post_logout_redirect(uri) => {
            Some(redirect_url(uri, f.params.state.as_deref()))
        }
        (Some(_), Some(_)) => return Verdict::Reject(Rejection::RedirectNotRegistered),
    };
    // Without the browser's session, a hint long expired names its client only (point 13).
    let hint = hint_for_sessions(f.hint, f.browser, f.hint_recent);
    // A `logout_hint` naming someone else than the user at stake: always asked.
    let logout_hint_is = |sub: &str| f.params.logout_hint.as_deref().is_none_or(|l| l == sub);
    match f.browser {
        // Only a verified hint naming the browser's own session (same sid and sub) skips the
        // prompt, and never when a `logout_hint` names another user than the session's.
        Browser::Seen(b) => {
            let hint_is_browsers = hint.is_some_and(|h| h.sid.as_deref() == Some(b.sid.as_str()) && h.sub == b.sub);
            let logout_hint_fits = f.params.logout_hint.as_deref().is_none_or(|l| b.answers_to(l));
            match hint_is_browsers && logout_hint_fits {
                true => Verdict::LogOut { target: Target::Seen(b), redirect },
                false => Verdict::Ask { sid: &b.sid, redirect },
            }
        }
        // The browser's own session, not seen here yet: as for a seen one, only a verified hint
        // naming it (and a `logout_hint` naming the hint's user, if any) skips the prompt; it
        // then ends with the hint's user.
        Browser::Unseen(sid) => match hint.filter(|h| h.sid.as_deref() == Some(sid) && logout_hint_is(&h.sub)) {
            Some(h) => Verdict::LogOut { target: Target::Unseen(Unseen { sid, sub: Some(&h.sub) }), redirect },
            None => Verdict::Ask { sid, redirect },
        },
        Browser::None => {
            let Some(h) = hint else {
                // Already logged out, or nothing at stake: not an error.
                return Verdict::LogOut { target: Target::Nothing, redirect };
            };
            match f.hint_session {
                // The hint's session is at stake only when it is the hint's user's; without the
                // browser's cookie, always asked.
                Lookup::Live(s) if s.sub == h.sub => Verdict::Ask { sid: &s.sid, redirect },
                // Seen as another user's, or ended already: nothing to end.
                Lookup::Live(_) | Lookup::Ended => Verdict::LogOut { target: Target::Nothing, redirect },
                // A session the hint names and this location does not see: ended unseen, with
                // the hint's user, unless a `logout_hint` names someone else.
                Lookup::Unknown => {
                    let target = match h.sid.as_deref() {
                        Some(sid) if logout_hint_is(&h.sub) => Target::Unseen(Unseen { sid, sub: Some(&h.sub) }),
                        _ => Target::Nothing,
                    };
                    Verdict::LogOut { target, redirect }
                }
            }
        }
    }
}

/// The user's answer on the confirmation page: everything [`decide_answer`] looks at.
pub struct Answered<'a> {
    pub log_out: bool,
    /// The `sid` the confirmation was shown for.
    pub target_sid: &'a str,
    /// The browser's current session, from its cookie (read only on "Log out").
    pub browser: &'a Browser,
    /// The session the confirmation was shown for, as this location sees it: read when
    /// `gather::recorded_sid_to_read` says so, else [`Lookup::Unknown`] (nothing to read).
    pub recorded: &'a Lookup,
    /// Where the confirmed logout goes, as decided when it was asked.
    pub redirect: Option<String>,
}

/// The confirmation step ends exactly the session it was shown for. On "yes": the browser's
/// session when it is that one (seen here, or else unseen: ended where KV shows it); the
/// recorded one when the browser presents none (its cookie was not sent with the original
/// cross-site request); when the browser presents another session, seen or not (it changed
/// since the page was shown), neither: ask again about the current one. On "no" nothing ends.
pub fn decide_answer<'a>(a: &Answered<'a>) -> AnswerVerdict<'a> {
    if !a.log_out {
        return AnswerVerdict::StaySignedIn;
    }
    let redirect = a.redirect.clone();
    let current = match a.browser {
        Browser::Seen(b) => Some(b.sid.as_str()),
        Browser::Unseen(sid) => Some(sid.as_str()),
        Browser::None => None,
    };
    if let Some(sid) = current.filter(|sid| *sid != a.target_sid) {
        return AnswerVerdict::AskAgain { sid, redirect };
    }
    let target = match (a.browser, a.recorded) {
        (Browser::Seen(b), _) => Target::Seen(b),
        (Browser::Unseen(_) | Browser::None, Lookup::Live(s)) => Target::Seen(s),
        (Browser::Unseen(sid), Lookup::Unknown) => Target::Unseen(Unseen { sid, sub: None }),
        // Already ended, or gone: nothing left to end, still the redirect.
        (Browser::Unseen(_) | Browser::None, Lookup::Unknown | Lookup::Ended) => Target::Nothing,
    };
    AnswerVerdict::LogOut { target, redirect }
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
    use super::super::gather::{hint_is_recent, hint_sid_to_read, recorded_sid_to_read};
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
        VerifiedHint { sub: sub.into(), sid: sid.map(str::to_string), client_id: "rp1".into(), expires_at: Some(NOW) }
    }

    /// The test clock, and a day: the default maximum hint age.
    const NOW: i64 = 1_000_000;
    const DAY: i64 = 86_400;

    fn params(uri: Option<&str>, state: Option<&str>) -> LogoutParams {
        LogoutParams {
            post_logout_redirect_uri: uri.map(str::to_string),
            state: state.map(str::to_string),
            ..Default::default()
        }
    }

    /// One row of the table. `hint_session` is what the store holds for the hint's `sid`; the
    /// decision sees it only when [`hint_sid_to_read`] has the flow read it.
    struct Case<'a> {
        params: LogoutParams,
        hint: Option<VerifiedHint>,
        client: NamedClient<'a>,
        browser: Browser,
        hint_session: Lookup,
    }

    /// Whether `hint` may put a session at stake without the cookie, on the test clock.
    fn recent(hint: Option<&VerifiedHint>) -> bool {
        hint.is_some_and(|h| hint_is_recent(h, NOW, DAY))
    }

    /// What the flow hands the decision for `c`'s hint's session: read, or not.
    fn read_hint_session(c: &Case<'_>) -> Lookup {
        match hint_sid_to_read(c.hint.as_ref(), recent(c.hint.as_ref()), &c.browser) {
            Some(_) => c.hint_session.clone(),
            None => Lookup::Unknown,
        }
    }

    impl Case<'_> {
        /// The verdict on this row, owned (the verdict borrows the facts).
        fn decide(&self) -> Owned {
            let hint_session = read_hint_session(self);
            let facts = Facts {
                params: &self.params,
                hint: self.hint.as_ref(),
                client: self.client,
                browser: &self.browser,
                hint_session: &hint_session,
                hint_recent: recent(self.hint.as_ref()),
            };
            Owned::of(decide_request(&facts))
        }
    }

    /// A verdict with what it borrows copied, to be compared across rows.
    #[derive(Debug, PartialEq, Eq)]
    enum Owned {
        Reject(Rejection),
        /// The session ended: seen (`Some(sub)`: the record's user) or unseen (its user if known).
        LogOut {
            ends: Option<(String, Option<String>, bool)>,
            redirect: Option<String>,
        },
        Ask {
            sid: String,
            redirect: Option<String>,
        },
        AskAgain {
            sid: String,
            redirect: Option<String>,
        },
        StaySignedIn,
    }

    fn ends(t: Target<'_>) -> Option<(String, Option<String>, bool)> {
        match t {
            Target::Nothing => None,
            Target::Seen(s) => Some((s.sid.clone(), Some(s.sub.clone()), true)),
            Target::Unseen(u) => Some((u.sid.to_string(), u.sub.map(str::to_string), false)),
        }
    }

    impl Owned {
        fn of(v: Verdict<'_>) -> Self {
            match v {
                Verdict::Reject(r) => Owned::Reject(r),
                Verdict::LogOut { target, redirect } => Owned::LogOut { ends: ends(target), redirect },
                Verdict::Ask { sid, redirect } => Owned::Ask { sid: sid.to_string(), redirect },
            }
        }

        fn of_answer(v: AnswerVerdict<'_>) -> Self {
            match v {
                AnswerVerdict::StaySignedIn => Owned::StaySignedIn,
                AnswerVerdict::LogOut { target, redirect } => Owned::LogOut { ends: ends(target), redirect },
                AnswerVerdict::AskAgain { sid, redirect } => Owned::AskAgain { sid: sid.to_string(), redirect },
            }
        }
    }

    /// Logs out, ending nothing.
    fn nothing(redirect: Option<&str>) -> Owned {
        Owned::LogOut { ends: None, redirect: redirect.map(str::to_string) }
    }

    /// Logs out, ending the seen session `sid` of `sub`.
    fn seen(sid: &str, sub: &str, redirect: Option<&str>) -> Owned {
        Owned::LogOut { ends: Some((sid.into(), Some(sub.into()), true)), redirect: redirect.map(str::to_string) }
    }

    /// Logs out, ending the unseen session `sid` (of `sub`, when known).
    fn unseen(sid: &str, sub: Option<&str>, redirect: Option<&str>) -> Owned {
        Owned::LogOut {
            ends: Some((sid.into(), sub.map(str::to_string), false)),
            redirect: redirect.map(str::to_string),
        }
    }

    fn ask(sid: &str, redirect: Option<&str>) -> Owned {
        Owned::Ask { sid: sid.into(), redirect: redirect.map(str::to_string) }
    }

    fn case(params: LogoutParams) -> Case<'static> {
        Case { params, hint: None, client: NamedClient::None, browser: Browser::None, hint_session: Lookup::Unknown }
    }

    #[test]
    fn a_hint_expired_longer_ago_than_the_maximum_age_ends_no_session_without_the_cookie() {
        let cl = client();
        let mut c = case(params(Some("https://rp1.example/bye"), Some("s")));
        c.client = NamedClient::Found(&cl);
        c.hint_session = Lookup::Live(session("s1", "alice"));
        let redirect = Some("https://rp1.example/bye?state=s");
        let with_exp = |c: &mut Case<'_>, exp: Option<i64>| {
            let mut h = hint("alice", Some("s1"));
            h.expires_at = exp;
            c.hint = Some(h);
        };
        // Two days past exp, or without exp: nothing at stake, not even unseen; the RP still
        // gets its redirect (the hint named the client).
        for exp in [Some(NOW - 2 * DAY), Some(NOW - DAY - 1), None] {
            with_exp(&mut c, exp);
            assert_eq!(c.decide(), nothing(redirect), "{exp:?}");
        }
        c.hint_session = Lookup::Unknown;
        with_exp(&mut c, Some(NOW - 2 * DAY));
        assert_eq!(c.decide(), nothing(redirect), "an unseen session is not ended either");
        // Within the maximum age (even expired): the hint's session is asked about.
        c.hint_session = Lookup::Live(session("s1", "alice"));
        for exp in [Some(NOW - DAY), Some(NOW - 1), Some(NOW + 3600)] {
            with_exp(&mut c, exp);
            assert_eq!(c.decide(), ask("s1", redirect), "{exp:?}");
        }
        c.hint_session = Lookup::Unknown;
        with_exp(&mut c, Some(NOW - DAY));
        assert_eq!(c.decide(), unseen("s1", Some("alice"), redirect));
    }

    #[test]
    fn with_the_browsers_cookie_a_hint_of_any_age_still_ends_the_browsers_session() {
        let cl = client();
        let mut c = case(params(None, None));
        c.client = NamedClient::Found(&cl);
        c.browser = Browser::Seen(session("s1", "alice"));
        for exp in [Some(NOW - 30 * DAY), None] {
            let mut h = hint("alice", Some("s1"));
            h.expires_at = exp;
            c.hint = Some(h);
            assert_eq!(c.decide(), seen("s1", "alice", None), "{exp:?}");
        }
    }

    #[test]
    fn no_parameters_with_a_session_asks_then_shows_the_signed_out_page() {
        let mut c = case(params(None, None));
        c.browser = Browser::Seen(session("s1", "alice"));
        assert_eq!(c.decide(), ask("s1", None));
        c.params.state = Some("xyz".into());
        assert_eq!(c.decide(), ask("s1", None));
    }

    #[test]
    fn a_redirect_without_hint_or_client_id_is_refused() {
        let mut c = case(params(Some("https://rp1.example/bye"), Some("s")));
        c.browser = Browser::Seen(session("s1", "alice"));
        assert_eq!(c.decide(), Owned::Reject(Rejection::RedirectWithoutClient));
    }

    #[test]
    fn client_id_without_hint_checks_the_uri_then_asks() {
        let cl = client();
        let mut c = case(params(Some("https://rp1.example/bye"), Some("s")));
        c.client = NamedClient::Found(&cl);
        c.browser = Browser::Seen(session("s1", "alice"));
        assert_eq!(c.decide(), ask("s1", Some("https://rp1.example/bye?state=s")));
    }

    #[test]
    fn a_valid_hint_for_the_browsers_session_logs_out_at_once() {
        let cl = client();
        let mut c = case(params(Some("https://rp1.example/bye"), Some("s")));
        c.client = NamedClient::Found(&cl);
        c.hint = Some(hint("alice", Some("s1")));
        c.browser = Browser::Seen(session("s1", "alice"));
        c.hint_session = Lookup::Live(session("s1", "alice"));
        assert_eq!(c.decide(), seen("s1", "alice", Some("https://rp1.example/bye?state=s")));
    }

    #[test]
    fn a_hint_with_state_and_no_uri_logs_out_to_the_signed_out_page() {
        let cl = client();
        let mut c = case(params(None, Some("s")));
        c.client = NamedClient::Found(&cl);
        c.hint = Some(hint("alice", Some("s1")));
        c.browser = Browser::Seen(session("s1", "alice"));
        assert_eq!(c.decide(), seen("s1", "alice", None));
    }

    #[test]
    fn a_hint_of_another_session_or_user_must_be_confirmed() {
        let cl = client();
        for h in [hint("alice", Some("s2")), hint("bob", Some("s1")), hint("alice", None)] {
            let mut c = case(params(None, None));
            c.client = NamedClient::Found(&cl);
            c.hint = Some(h.clone());
            c.browser = Browser::Seen(session("s1", "alice"));
            // The store holds the hint's session too: the browser's is the one at stake.
            c.hint_session = Lookup::Live(session("s2", "alice"));
            assert_eq!(c.decide(), ask("s1", None), "{h:?}");
        }
    }

    #[test]
    fn without_a_cookie_the_hints_session_is_the_target_after_confirmation() {
        let cl = client();
        let mut c = case(params(Some("https://rp1.example/bye"), None));
        c.client = NamedClient::Found(&cl);
        c.hint = Some(hint("alice", Some("s1")));
        c.hint_session = Lookup::Live(session("s1", "alice"));
        assert_eq!(c.decide(), ask("s1", Some("https://rp1.example/bye")));
    }

    #[test]
    fn already_logged_out_still_reaches_a_valid_uri() {
        let cl = client();
        let mut c = case(params(Some("https://rp1.example/bye"), Some("s")));
        c.client = NamedClient::Found(&cl);
        c.hint = Some(hint("alice", Some("gone")));
        c.hint_session = Lookup::Ended;
        assert_eq!(c.decide(), nothing(Some("https://rp1.example/bye?state=s")));
        assert_eq!(case(params(None, None)).decide(), nothing(None));
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
            c.browser = Browser::Seen(session("s1", "alice"));
            assert_eq!(c.decide(), Owned::Reject(Rejection::RedirectNotRegistered), "{uri}");
        }
    }

    #[test]
    fn unknown_clients_are_refused_even_without_a_redirect() {
        let mut c = case(params(None, None));
        c.client = NamedClient::Unknown;
        assert_eq!(c.decide(), Owned::Reject(Rejection::UnknownClient));
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
        let read = |h: Option<&VerifiedHint>, b: &Browser| hint_sid_to_read(h, recent(h), b).map(str::to_string);
        assert_eq!(read(Some(&h), &Browser::None), Some("s1".into()));
        assert_eq!(read(Some(&h), &Browser::Seen(session("s2", "alice"))), None);
        assert_eq!(read(Some(&h), &Browser::Unseen("s2".into())), None, "the browser's unseen session is at stake");
        assert_eq!(read(Some(&hint("alice", None)), &Browser::None), None);
        assert_eq!(read(None, &Browser::None), None);
        let old = VerifiedHint { expires_at: Some(NOW - 2 * DAY), ..h };
        assert_eq!(read(Some(&old), &Browser::None), None, "too old to put a session at stake");
    }

    #[test]
    fn a_hints_session_of_another_user_is_not_at_stake() {
        let cl = client();
        let mut c = case(params(None, None));
        c.client = NamedClient::Found(&cl);
        c.hint = Some(hint("alice", Some("s1")));
        c.hint_session = Lookup::Live(session("s1", "mallory"));
        assert_eq!(c.decide(), nothing(None));
    }

    #[test]
    fn a_hints_session_not_seen_here_is_ended_where_it_is_seen_later() {
        let cl = client();
        let mut c = case(params(None, None));
        c.client = NamedClient::Found(&cl);
        c.hint = Some(hint("alice", Some("s1")));
        assert_eq!(c.decide(), unseen("s1", Some("alice"), None));
        // Seen here (even as another user's), or a browser session at stake: not this rule.
        c.hint_session = Lookup::Live(session("s1", "mallory"));
        assert_eq!(c.decide(), nothing(None));
        c.hint_session = Lookup::Unknown;
        c.browser = Browser::Seen(session("s2", "alice"));
        assert_eq!(c.decide(), ask("s2", None));
        c.browser = Browser::None;
        c.hint_session = Lookup::Ended;
        assert_eq!(c.decide(), nothing(None), "ended already");
        c.hint_session = Lookup::Unknown;
        c.params.logout_hint = Some("bob".into());
        assert_eq!(c.decide(), nothing(None), "a logout_hint of another user");
        c.params.logout_hint = Some("alice".into());
        assert_eq!(c.decide(), unseen("s1", Some("alice"), None));
        c.params.logout_hint = None;
        c.hint = Some(hint("alice", None));
        assert_eq!(c.decide(), nothing(None));
    }

    #[test]
    fn a_signed_cookie_whose_session_is_not_seen_here_is_the_browsers_session_all_the_same() {
        let cl = client();
        let mut c = case(params(None, None));
        c.browser = Browser::Unseen("s1".into());
        // No hint: asked, about that session; never "already signed out".
        assert_eq!(c.decide(), ask("s1", None));
        // A hint naming another session: asked too (its session is not read: not at stake).
        c.client = NamedClient::Found(&cl);
        c.hint = Some(hint("alice", Some("s9")));
        c.hint_session = Lookup::Live(session("s9", "alice"));
        assert_eq!(c.decide(), ask("s1", None));
        // A hint without sid cannot name it: asked.
        c.hint = Some(hint("alice", None));
        assert_eq!(c.decide(), ask("s1", None));
        // A hint naming it: logged out at once, ended with the hint's user.
        c.hint = Some(hint("alice", Some("s1")));
        assert_eq!(c.decide(), unseen("s1", Some("alice"), None));
        // ... unless a logout_hint names someone else.
        c.params.logout_hint = Some("bob".into());
        assert_eq!(c.decide(), ask("s1", None));
        // ... or the hint is too old to end a session this location does not see.
        c.params.logout_hint = None;
        c.hint.as_mut().unwrap().expires_at = Some(NOW - 2 * DAY);
        assert_eq!(c.decide(), ask("s1", None));
    }

    #[test]
    fn a_logout_hint_of_the_sessions_user_logs_out_at_once_another_asks() {
        let cl = client();
        for (logout_hint, asks) in [("alice", false), ("bob", true)] {
            let mut c = case(params(Some("https://rp1.example/bye"), None));
            c.params.logout_hint = Some(logout_hint.into());
            c.client = NamedClient::Found(&cl);
            c.hint = Some(hint("alice", Some("s1")));
            c.browser = Browser::Seen(session("s1", "alice"));
            let redirect = Some("https://rp1.example/bye");
            let want = if asks { ask("s1", redirect) } else { seen("s1", "alice", redirect) };
            assert_eq!(c.decide(), want, "{logout_hint}");
        }
    }

    /// The answer to a confirmation shown for `s1`; `recorded` is what the store holds for
    /// `s1`, seen by the decision only when [`recorded_sid_to_read`] has the flow read it.
    fn decide_on(log_out: bool, browser: Browser, recorded: Lookup) -> Owned {
        let recorded = match recorded_sid_to_read(log_out, &browser, "s1") {
            Some(_) => recorded,
            None => Lookup::Unknown,
        };
        let a = Answered {
            log_out,
            target_sid: "s1",
            browser: &browser,
            recorded: &recorded,
            redirect: Some("https://rp1.example/bye".into()),
        };
        Owned::of_answer(decide_answer(&a))
    }

    const BYE: Option<&str> = Some("https://rp1.example/bye");

    #[test]
    fn on_no_nothing_ends() {
        let (browser, other) = (session("s1", "alice"), session("s2", "alice"));
        let live = Lookup::Live(browser.clone());
        assert_eq!(decide_on(false, Browser::Seen(browser.clone()), Lookup::Unknown), Owned::StaySignedIn);
        assert_eq!(decide_on(false, Browser::Seen(other), Lookup::Unknown), Owned::StaySignedIn);
        assert_eq!(decide_on(false, Browser::None, live.clone()), Owned::StaySignedIn);
        assert_eq!(decide_on(false, Browser::Unseen("s1".into()), live), Owned::StaySignedIn);
    }

    #[test]
    fn on_yes_the_browsers_session_ends_when_it_is_the_target() {
        let browser = session("s1", "alice");
        assert_eq!(decide_on(true, Browser::Seen(browser), Lookup::Unknown), seen("s1", "alice", BYE));
    }

    #[test]
    fn on_yes_another_browser_session_than_the_target_is_asked_about_again() {
        let (target, current) = (Lookup::Live(session("s1", "alice")), session("s2", "alice"));
        let again = |sid: &str| Owned::AskAgain { sid: sid.into(), redirect: BYE.map(str::to_string) };
        assert_eq!(decide_on(true, Browser::Seen(current), target.clone()), again("s2"));
        assert_eq!(decide_on(true, Browser::Seen(session("s3", "bob")), Lookup::Unknown), again("s3"));
        // Another session proven by a signed cookie but not seen here: the browser's all the same.
        assert_eq!(decide_on(true, Browser::Unseen("s2".into()), target), again("s2"));
    }

    #[test]
    fn on_yes_without_a_browser_session_the_target_ends() {
        let target = Lookup::Live(session("s1", "alice"));
        assert_eq!(decide_on(true, Browser::None, target), seen("s1", "alice", BYE));
        // Already gone or ended: nothing left to end, still the redirect.
        assert_eq!(decide_on(true, Browser::None, Lookup::Unknown), nothing(BYE));
        assert_eq!(decide_on(true, Browser::None, Lookup::Ended), nothing(BYE));
    }

    #[test]
    fn the_target_is_read_only_when_the_browser_presents_no_session_or_that_one_unseen() {
        let browser = Browser::Seen(session("s1", "alice"));
        assert_eq!(recorded_sid_to_read(true, &Browser::None, "s1"), Some("s1"));
        assert_eq!(recorded_sid_to_read(true, &Browser::Unseen("s1".into()), "s1"), Some("s1"));
        assert_eq!(recorded_sid_to_read(true, &Browser::Unseen("s2".into()), "s1"), None);
        assert_eq!(recorded_sid_to_read(true, &browser, "s1"), None);
        assert_eq!(recorded_sid_to_read(false, &Browser::None, "s1"), None);
    }

    #[test]
    fn a_yes_ends_the_browsers_unseen_session_only_when_it_is_the_one_asked_about() {
        let unseen_s1 = || Browser::Unseen("s1".into());
        assert_eq!(decide_on(true, Browser::None, Lookup::Unknown), nothing(BYE), "no signed cookie");
        assert_eq!(decide_on(true, unseen_s1(), Lookup::Unknown), unseen("s1", None, BYE));
        // Seen here by now: ended as seen; ended already: nothing more.
        assert_eq!(decide_on(true, unseen_s1(), Lookup::Live(session("s1", "alice"))), seen("s1", "alice", BYE));
        assert_eq!(decide_on(true, unseen_s1(), Lookup::Ended), nothing(BYE));
        assert_eq!(decide_on(false, unseen_s1(), Lookup::Unknown), Owned::StaySignedIn, "no");
    }
}
