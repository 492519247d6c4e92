//! The HTML pages a person sees. Every value goes through askama's escaping; the stylesheet is
//! inline and allowed by its hash, so the pages load nothing from anywhere.

use std::sync::OnceLock;

use askama::Template;
use base64::{engine::general_purpose::STANDARD, Engine};
use sha2::{Digest, Sha256};

use crate::http::HttpResponse;
use crate::i18n::Texts;

const CSS: &str = "\
:root{color-scheme:light dark;--fg:#1b1f24;--bg:#f4f5f7;--card:#fff;--accent:#1f6feb;--muted:#57606a}\
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--bg:#0d1117;--card:#161b22;--accent:#4493f8;--muted:#9198a1}}\
*{box-sizing:border-box}\
body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;\
font:16px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:var(--fg);background:var(--bg)}\
main{width:100%;max-width:28rem;margin:1rem;padding:2rem;background:var(--card);border-radius:12px;\
box-shadow:0 1px 3px rgba(0,0,0,.12)}\
.provider{margin:0 0 1rem;color:var(--muted);font-size:.9rem;font-weight:600}\
h1{margin:0 0 1rem;font-size:1.4rem}\
.buttons{display:flex;gap:.75rem;flex-wrap:wrap;margin-top:1.5rem}\
button{flex:1 1 8rem;padding:.7rem 1rem;font:inherit;border-radius:8px;border:1px solid var(--muted);\
background:transparent;color:var(--fg);cursor:pointer}\
button.primary{background:var(--accent);border-color:var(--accent);color:#fff}\
button:focus-visible{outline:3px solid var(--accent);outline-offset:2px}";

fn style_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| format!("'sha256-{}'", STANDARD.encode(Sha256::digest(CSS.as_bytes()))))
}

/// Who the pages speak for, and in which language.
pub struct PageContext<'a> {
    pub provider: &'a str,
    pub lang: &'static str,
    pub texts: &'static Texts,
}

#[derive(Template)]
#[template(path = "confirm.html")]
struct ConfirmPage<'a> {
    lang: &'a str,
    provider: &'a str,
    css: &'a str,
    t: &'a Texts,
    client_name: Option<&'a str>,
    action: &'a str,
    token: &'a str,
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage<'a> {
    lang: &'a str,
    provider: &'a str,
    css: &'a str,
    title: &'a str,
    text: &'a str,
}

/// A page response: HTML, its language, and a CSP that allows the inline style and, for forms,
/// posting to this origin and being redirected on to `form_targets`.
fn page(status: u16, ctx: &PageContext<'_>, html: String, form_targets: Option<&[&str]>) -> HttpResponse {
    let form_action = match form_targets {
        None => "'none'".to_string(),
        Some(origins) => std::iter::once("'self'").chain(origins.iter().copied()).collect::<Vec<_>>().join(" "),
    };
    let csp = format!(
        "default-src 'none'; style-src {}; form-action {form_action}; frame-ancestors 'none'; base-uri 'none'",
        style_hash()
    );
    HttpResponse::html(status, html)
        .with_header("content-security-policy", &csp)
        .with_header("content-language", ctx.lang)
}

/// "Sign out of <provider>?" with a form that posts the confirmation token back.
/// `redirect_origin` is where the logout may redirect after the form is posted: the CSP's
/// `form-action` must allow it, or browsers block the redirect.
pub fn confirm(
    ctx: &PageContext<'_>,
    client_name: Option<&str>,
    action: &str,
    token: &str,
    redirect_origin: Option<&str>,
) -> HttpResponse {
    let html =
        ConfirmPage { lang: ctx.lang, provider: ctx.provider, css: CSS, t: ctx.texts, client_name, action, token }
            .render()
            .expect("the confirmation template renders");
    let targets: Vec<&str> = redirect_origin.into_iter().collect();
    page(200, ctx, html, Some(&targets))
}

pub fn message(status: u16, ctx: &PageContext<'_>, title: &str, text: &str) -> HttpResponse {
    let html = MessagePage { lang: ctx.lang, provider: ctx.provider, css: CSS, title, text }
        .render()
        .expect("the message template renders");
    page(status, ctx, html, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> PageContext<'static> {
        PageContext { provider: "Example <ID>", lang: "en", texts: crate::i18n::texts("en") }
    }

    fn body(r: &HttpResponse) -> String {
        String::from_utf8(r.body.clone()).unwrap()
    }

    #[test]
    fn confirmation_form_has_the_token_and_both_buttons() {
        let r = confirm(&ctx(), Some("<script>x</script>"), "/session/end", "tok\"en", Some("https://rp.example"));
        let html = body(&r);
        assert!(html.contains(r#"<form method="post" action="/session/end">"#));
        assert!(html.contains(r#"<input type="hidden" name="confirm" value="tok&#34;en">"#));
        assert!(html.contains(r#"<button type="submit" name="logout" value="yes""#));
        assert!(html.contains(r#"<button type="submit" name="logout" value="no""#));
        assert!(html.contains("&#60;script&#62;x&#60;/script&#62;"), "{html}");
        assert!(!html.contains("<script>"));
        assert!(html.contains("Example &#60;ID&#62;"));
        let csp = r.header("content-security-policy").unwrap();
        assert!(csp.contains("form-action 'self' https://rp.example"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"));
        assert_eq!(r.header("x-frame-options"), Some("DENY"));
        assert_eq!(r.header("cache-control"), Some("no-store"));
        assert_eq!(r.header("content-language"), Some("en"));
    }

    #[test]
    fn the_style_hash_matches_the_inline_style() {
        let r = message(200, &ctx(), "t", "x");
        let html = body(&r);
        let start = html.find("<style>").unwrap() + "<style>".len();
        let end = html.find("</style>").unwrap();
        let digest = STANDARD.encode(Sha256::digest(&html.as_bytes()[start..end]));
        assert!(r.header("content-security-policy").unwrap().contains(&digest));
        assert!(r.header("content-security-policy").unwrap().contains("form-action 'none'"));
    }
}
