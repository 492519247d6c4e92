//! The HTML pages a person sees: confirmation, signed out, still signed in, error, and the
//! front-channel page. Every value goes through askama's escaping, the operator's texts too.
//! The stylesheet and the one script are inline and allowed by their hashes, so the pages load
//! nothing from elsewhere (but the optional logo and stylesheet, and the front-channel frames,
//! whose origins the CSP names exactly).

use askama::Template;
use base64::{engine::general_purpose::STANDARD, Engine};
use sha2::{Digest, Sha256};

use super::i18n::Texts;
use crate::http::HttpResponse;

/// How the pages present the provider (`PROVIDER_NAME`, `PROVIDER_LOGO_URL`, `PROVIDER_COLOR`,
/// `PROVIDER_STYLESHEET_URL`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Branding {
    pub name: String,
    pub logo_url: Option<String>,
    /// The logo's origin, for the CSP's `img-src`.
    pub logo_origin: Option<String>,
    /// The operator's stylesheet, linked after the inline one.
    pub stylesheet_url: Option<String>,
    /// The stylesheet's origin, for the CSP's `style-src`.
    pub stylesheet_origin: Option<String>,
    /// The stylesheet with the brand colour (`#rgb` or `#rrggbb`) in it, and its CSP source:
    /// made once with the configuration, not on every page.
    css: String,
    css_source: String,
}

impl Branding {
    pub fn new(name: String, logo_url: Option<String>, logo_origin: Option<String>, color: Option<&str>) -> Self {
        let css = match color {
            // The brand colour fills the primary button; its text is black or white, whichever
            // reads better on it (WCAG contrast).
            Some(color) => format!("{CSS}:root{{--button:{color};--on-button:{}}}", text_on(color)),
            None => CSS.to_string(),
        };
        let css_source = sha256_source(&css);
        Branding { name, logo_url, logo_origin, stylesheet_url: None, stylesheet_origin: None, css, css_source }
    }

    /// The same branding, with the operator's stylesheet at `url`, of origin `origin`, linked
    /// from every page.
    pub fn with_stylesheet(self, url: String, origin: String) -> Self {
        Branding { stylesheet_url: Some(url), stylesheet_origin: Some(origin), ..self }
    }
}

const CSS: &str = "\
:root{color-scheme:light dark;--fg:#1b1f24;--bg:#f4f5f7;--card:#fff;--accent:#1f6feb;--muted:#57606a;\
--button:#1f6feb;--on-button:#fff}\
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--bg:#0d1117;--card:#161b22;--accent:#4493f8;--muted:#9198a1}}\
*{box-sizing:border-box}\
body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;\
font:16px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:var(--fg);background:var(--bg)}\
main{width:100%;max-width:28rem;margin:1rem;padding:2rem;background:var(--card);border-radius:12px;\
box-shadow:0 1px 3px rgba(0,0,0,.12)}\
.provider{display:flex;align-items:center;gap:.5rem;margin:0 0 1.25rem;color:var(--muted);font-size:.9rem;\
font-weight:600}\
.provider img{border-radius:6px}\
h1{margin:0 0 1rem;font-size:1.4rem;line-height:1.25}\
.detail{color:var(--muted);font-size:.875rem}\
a{color:var(--accent)}\
.buttons{display:flex;gap:.75rem;flex-wrap:wrap;margin-top:1.5rem}\
button{flex:1 1 8rem;min-height:44px;padding:.7rem 1rem;font:inherit;border-radius:8px;\
border:1px solid var(--muted);background:transparent;color:var(--fg);cursor:pointer}\
button.primary{background:var(--button);border-color:var(--button);color:var(--on-button)}\
button:focus-visible,a:focus-visible{outline:3px solid var(--accent);outline-offset:2px}\
.frames{position:absolute;width:0;height:0;overflow:hidden}\
.frames iframe{border:0}";

/// Continues to the next page once every frame has loaded (the window's load event waits for
/// them) or the timeout passes, whichever comes first. Constant, so that its hash is too.
const FRONTCHANNEL_SCRIPT: &str = "(function(){var a=document.getElementById('continue');if(!a)return;\
var done=false;function go(){if(!done){done=true;location.replace(a.href);}}\
setTimeout(go,+a.getAttribute('data-wait-ms')||3000);addEventListener('load',go);})();";

/// `#000` or `#fff`, whichever contrasts more with the `#rgb`/`#rrggbb` colour `bg` (WCAG).
fn text_on(bg: &str) -> &'static str {
    let hex = bg.trim_start_matches('#');
    let expanded: String = if hex.len() == 3 { hex.chars().flat_map(|c| [c, c]).collect() } else { hex.to_string() };
    // sRGB to linear light. x^2.375 (square roots only) stands in for the curve's x^2.4: close
    // enough for this choice, and it keeps a float power function out of the wasm.
    let channel = |i: usize| {
        let v = f32::from(u8::from_str_radix(expanded.get(i..i + 2).unwrap_or("00"), 16).unwrap_or(0)) / 255.0;
        if v <= 0.04045 {
            return v / 12.92;
        }
        let x = (v + 0.055) / 1.055;
        let x_075 = x.sqrt() * x.sqrt().sqrt();
        x * x * x_075.sqrt()
    };
    let luminance = 0.2126 * channel(0) + 0.7152 * channel(2) + 0.0722 * channel(4);
    // Contrast with white: 1.05 / (L + 0.05); with black: (L + 0.05) / 0.05.
    if 1.05 / (luminance + 0.05) >= (luminance + 0.05) / 0.05 {
        "#fff"
    } else {
        "#000"
    }
}

fn sha256_source(text: &str) -> String {
    format!("'sha256-{}'", STANDARD.encode(Sha256::digest(text.as_bytes())))
}

/// The CSP source of [`FRONTCHANNEL_SCRIPT`], hashed once per isolate.
fn frontchannel_script_source() -> &'static str {
    static SOURCE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SOURCE.get_or_init(|| sha256_source(FRONTCHANNEL_SCRIPT))
}

/// Who the pages speak for, and in which language.
pub struct PageContext<'a> {
    pub brand: &'a Branding,
    pub texts: &'a Texts,
}

/// The way back to the application after "Stay signed in": its registered `client_uri`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WayBack {
    pub uri: String,
    /// The client's name, as the confirmation page showed it.
    pub client: String,
}

/// A link of a message page, its label in the page's language.
struct Link<'a> {
    href: &'a str,
    label: String,
}

#[derive(Template)]
#[template(path = "confirm.html")]
struct ConfirmPage<'a> {
    t: &'a Texts,
    brand: &'a Branding,
    css: &'a str,
    client_name: Option<&'a str>,
    action: &'a str,
    token: &'a str,
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage<'a> {
    t: &'a Texts,
    brand: &'a Branding,
    css: &'a str,
    title: &'a str,
    text: &'a str,
    detail: Option<&'a str>,
    link: Option<Link<'a>>,
}

#[derive(Template)]
#[template(path = "frontchannel.html")]
struct FrontchannelPage<'a> {
    t: &'a Texts,
    brand: &'a Branding,
    css: &'a str,
    frames: &'a [String],
    next: Option<&'a str>,
    wait_ms: u32,
    wait_s: u32,
    script: &'a str,
}

/// The security headers of a page: a CSP allowing exactly what the page uses (the inline
/// stylesheet always, by its hash).
struct Policy<'a> {
    /// The CSP source of the page's inline script, if it has one.
    script_source: Option<&'a str>,
    frame_origins: &'a [String],
    form_targets: Option<&'a [&'a str]>,
}

fn page(status: u16, ctx: &PageContext<'_>, html: String, p: Policy<'_>) -> HttpResponse {
    let mut csp = format!("default-src 'none'; style-src {}", ctx.brand.css_source);
    if let Some(origin) = &ctx.brand.stylesheet_origin {
        csp.push_str(&format!(" {origin}"));
    }
    if let Some(origin) = &ctx.brand.logo_origin {
        csp.push_str(&format!("; img-src {origin}"));
    }
    if let Some(source) = p.script_source {
        csp.push_str(&format!("; script-src {source}"));
    }
    if !p.frame_origins.is_empty() {
        csp.push_str(&format!("; frame-src {}", p.frame_origins.join(" ")));
    }
    let form_action = match p.form_targets {
        None => "'none'".to_string(),
        Some(origins) => std::iter::once("'self'").chain(origins.iter().copied()).collect::<Vec<_>>().join(" "),
    };
    csp.push_str(&format!("; form-action {form_action}; frame-ancestors 'none'; base-uri 'none'"));
    HttpResponse::html(status, html)
        .with_header("content-security-policy", &csp)
        .with_header("content-language", &ctx.texts.lang)
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
    let html = ConfirmPage { t: ctx.texts, brand: ctx.brand, css: &ctx.brand.css, client_name, action, token }
        .render()
        .expect("the confirmation template renders");
    let targets: Vec<&str> = redirect_origin.into_iter().collect();
    page(200, ctx, html, Policy { script_source: None, frame_origins: &[], form_targets: Some(&targets) })
}

pub fn message(status: u16, ctx: &PageContext<'_>, title: &str, text: &str, detail: Option<&str>) -> HttpResponse {
    message_page(
        status,
        ctx,
        MessagePage { t: ctx.texts, brand: ctx.brand, css: &ctx.brand.css, title, text, detail, link: None },
    )
}

/// "You are still signed in", with a link back to the application when it registered a
/// `client_uri` (a plain link: the CSP needs nothing for it).
pub fn still_signed_in(ctx: &PageContext<'_>, way_back: Option<&WayBack>) -> HttpResponse {
    let t = ctx.texts;
    let link = way_back.map(|w| Link { href: &w.uri, label: t.back_to_client(&w.client) });
    let (title, text) = (&t.still_signed_in_title, &t.still_signed_in_text);
    message_page(200, ctx, MessagePage { t, brand: ctx.brand, css: &ctx.brand.css, title, text, detail: None, link })
}

fn message_page(status: u16, ctx: &PageContext<'_>, view: MessagePage<'_>) -> HttpResponse {
    let html = view.render().expect("the message template renders");
    page(status, ctx, html, Policy { script_source: None, frame_origins: &[], form_targets: None })
}

/// The front-channel page: one hidden frame per relying party, then on to `next` (or, without
/// one, the signed-out text stays). Works without JavaScript through a meta refresh.
pub fn frontchannel(
    ctx: &PageContext<'_>,
    frames: &[String],
    frame_origins: &[String],
    next: Option<&str>,
    wait_ms: u32,
) -> HttpResponse {
    let html = FrontchannelPage {
        t: ctx.texts,
        brand: ctx.brand,
        css: &ctx.brand.css,
        frames,
        next,
        wait_ms,
        wait_s: wait_ms.div_ceil(1000),
        script: FRONTCHANNEL_SCRIPT,
    }
    .render()
    .expect("the front-channel template renders");
    let script_source = Some(frontchannel_script_source());
    page(200, ctx, html, Policy { script_source, frame_origins, form_targets: None })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::i18n::Languages;

    fn brand() -> Branding {
        Branding::new("Example <ID>".into(), None, None, None)
    }

    fn builtin() -> &'static Languages {
        static BUILT_IN: std::sync::OnceLock<Languages> = std::sync::OnceLock::new();
        BUILT_IN.get_or_init(Languages::default)
    }

    fn body(r: &HttpResponse) -> String {
        String::from_utf8(r.body.clone()).unwrap()
    }

    /// A CSP hash source as CSP Level 3 defines it, written out independently of
    /// `sha256_source`, and checked against a known answer (the SHA-256 of "", in base64).
    fn csp_hash(text: &str) -> String {
        let b64 = |d: &[u8]| {
            const ABC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
            let mut out = String::new();
            for chunk in d.chunks(3) {
                let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
                for i in 0..4 {
                    out.push(if i <= chunk.len() { ABC[((n >> (18 - 6 * i)) & 63) as usize] as char } else { '=' });
                }
            }
            out
        };
        assert_eq!(b64(&Sha256::digest(b"")), "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
        format!("'sha256-{}'", b64(&Sha256::digest(text.as_bytes())))
    }

    fn inline(html: &str, tag: &str) -> String {
        let open = format!("<{tag}>");
        let start = html.find(&open).unwrap() + open.len();
        let end = html[start..].find(&format!("</{tag}>")).unwrap() + start;
        html[start..end].to_string()
    }

    #[test]
    fn confirmation_form_has_the_token_and_both_buttons() {
        let b = brand();
        let ctx = PageContext { brand: &b, texts: builtin().negotiate(None, None) };
        let r = confirm(&ctx, Some("<script>x</script>"), "/session/end", "tok\"en", Some("https://rp.example"));
        let html = body(&r);
        assert!(html.contains(r#"<form method="post" action="/session/end">"#));
        assert!(html.contains(r#"<input type="hidden" name="confirm" value="tok&#34;en">"#));
        assert!(html.contains(r#"<button type="submit" name="logout" value="yes""#));
        assert!(html.contains(r#"<button type="submit" name="logout" value="no""#));
        assert!(html.contains("&#60;script&#62;x&#60;/script&#62;"), "{html}");
        assert!(!html.contains("<script>"));
        assert!(html.contains("Sign out of Example &#60;ID&#62;?"));
        let csp = r.header("content-security-policy").unwrap();
        assert!(csp.contains("form-action 'self' https://rp.example"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"));
        assert_eq!(r.header("x-frame-options"), Some("DENY"));
        assert_eq!(r.header("cache-control"), Some("no-store"));
        assert_eq!(r.header("content-language"), Some("en"));
    }

    #[test]
    fn the_hashes_match_the_inline_style_and_script() {
        let b = Branding::new("Example <ID>".into(), None, None, Some("#aa3300"));
        let ctx = PageContext { brand: &b, texts: builtin().negotiate(Some("de"), None) };
        let r = frontchannel(
            &ctx,
            &["https://rp.example/fc?iss=x&sid=y".into()],
            &["https://rp.example".into()],
            Some("https://rp.example/bye"),
            2500,
        );
        let html = body(&r);
        let csp = r.header("content-security-policy").unwrap();
        // The expected sources by CSP's own definition (a quoted 'sha256-' and the standard
        // base64 of the digest of the element's text), not by the code's sha256_source.
        assert!(csp.contains(&csp_hash(&inline(&html, "style"))), "{csp}");
        assert!(csp.contains(&format!("script-src {}", csp_hash(&inline(&html, "script")))), "{csp}");
        assert!(csp.contains("frame-src https://rp.example;"));
        assert!(csp.contains("form-action 'none'"));
        assert!(inline(&html, "style").contains("--button:#aa3300;--on-button:#fff"));
        assert!(html.contains(r#"<html lang="de">"#));
        assert_eq!(r.header("content-language"), Some("de"));
        assert!(html.contains(r#"src="https://rp.example/fc?iss=x&#38;sid=y""#), "{html}");
        assert!(html.contains(r#"<meta http-equiv="refresh" content="3;url=https://rp.example/bye">"#));
        assert!(html.contains(r#"data-wait-ms="2500""#));
    }

    #[test]
    fn logo_is_allowed_by_origin_only() {
        let b = Branding::new(
            "Example <ID>".into(),
            Some("https://cdn.example/logo.png".into()),
            Some("https://cdn.example".into()),
            None,
        );
        let ctx = PageContext { brand: &b, texts: builtin().negotiate(None, None) };
        let r = message(400, &ctx, "t", "x", Some("d"));
        assert!(r.header("content-security-policy").unwrap().contains("img-src https://cdn.example;"));
        assert!(body(&r).contains(r#"<img src="https://cdn.example/logo.png""#));
        assert_eq!(r.status, 400);
    }

    #[test]
    fn the_stylesheet_is_linked_and_allowed_by_origin_only() {
        let b = brand().with_stylesheet("https://cdn.example/brand.css?v=2&x=1".into(), "https://cdn.example".into());
        let ctx = PageContext { brand: &b, texts: builtin().negotiate(None, None) };
        let link = r#"<link rel="stylesheet" href="https://cdn.example/brand.css?v=2&#38;x=1">"#;
        for r in [
            message(400, &ctx, "t", "x", None),
            confirm(&ctx, None, "/session/end", "tok", None),
            still_signed_in(&ctx, None),
            frontchannel(&ctx, &[], &[], None, 1000),
        ] {
            let html = body(&r);
            assert!(html.contains(link), "{html}");
            let csp = r.header("content-security-policy").unwrap();
            let style_src = csp.split("; ").find(|d| d.starts_with("style-src ")).unwrap();
            assert_eq!(style_src, format!("style-src {} https://cdn.example", csp_hash(&inline(&html, "style"))));
        }
        let plain = body(&message(
            200,
            &PageContext { brand: &brand(), texts: builtin().negotiate(None, None) },
            "t",
            "x",
            None,
        ));
        assert!(!plain.contains("<link"), "no stylesheet, no link: {plain}");
    }

    #[test]
    fn still_signed_in_links_back_to_the_client_uri_escaped() {
        let b = brand();
        let ctx = PageContext { brand: &b, texts: builtin().negotiate(Some("fr"), None) };
        let way_back = WayBack { uri: "https://rp.example/home?a=1&b=\"2\"".into(), client: "<App & 'Co'>".into() };
        let r = still_signed_in(&ctx, Some(&way_back));
        let html = body(&r);
        assert!(
            html.contains(r#"<a id="back" href="https://rp.example/home?a=1&#38;b=&#34;2&#34;">Retour à &#60;App &#38; &#39;Co&#39;&#62;</a>"#),
            "{html}"
        );
        assert!(html.contains("Vous êtes toujours connecté"));
        let csp = r.header("content-security-policy").unwrap();
        assert!(!csp.contains("rp.example"), "a link needs nothing in the CSP: {csp}");
        assert_eq!(r.status, 200);
        let without = body(&still_signed_in(&ctx, None));
        assert!(!without.contains("<a "), "no client_uri, no link: {without}");
    }

    #[test]
    fn overridden_texts_are_escaped_like_every_value() {
        let languages = Languages::with_overrides(
            r#"{"en": {"still_signed_in_text": "<script>alert(\"x\")</script> & 'y'",
                       "confirm_title": "<b>Leave</b> {provider}?", "confirm_yes": "\"><img src=x onerror=alert(1)>"}}"#,
        )
        .unwrap();
        let b = brand();
        let ctx = PageContext { brand: &b, texts: languages.negotiate(None, None) };
        let kept = body(&still_signed_in(&ctx, None));
        assert!(kept.contains("&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62; &#38; &#39;y&#39;"), "{kept}");
        let asked = body(&confirm(&ctx, None, "/session/end", "tok", None));
        assert!(asked.contains("<h1>&#60;b&#62;Leave&#60;/b&#62; Example &#60;ID&#62;?</h1>"), "{asked}");
        assert!(asked.contains("&#34;&#62;&#60;img src=x onerror=alert(1)&#62;</button>"), "{asked}");
        for html in [kept, asked] {
            assert!(!html.contains("<script") && !html.contains("<b>") && !html.contains("<img"), "{html}");
        }
    }

    #[test]
    fn button_text_contrasts_with_the_brand_colour() {
        assert_eq!(text_on("#1f6feb"), "#fff");
        assert_eq!(text_on("#000"), "#fff");
        assert_eq!(text_on("#ffd33d"), "#000");
        assert_eq!(text_on("#fff"), "#000");
        assert_eq!(text_on("#0b6e4f"), "#fff");
    }
}
