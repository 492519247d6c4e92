//! The words of the pages, one table per language, and which language a request gets: the
//! first supported tag of `ui_locales`, then `Accept-Language` by preference, then English.
//! An unsupported locale is never an error.
//!
//! The built-in tables (English, German, French, Spanish) are the defaults; the operator's
//! `PAGE_TEXTS` overrides any string per locale, and may add locales, which fall back key by
//! key to the built-in table of their language, else to English. The merged tables are made
//! once, with the configuration ([`Languages::with_overrides`]).

use std::borrow::Cow;

use serde_json::{Map, Value};

/// The placeholders a text may hold, filled in when a page is rendered.
const PLACEHOLDERS: [&str; 2] = ["{provider}", "{client}"];

/// At most this many characters per overriding text.
const MAX_TEXT_LEN: usize = 1000;

/// Defines, from one list of keys, the built-in table ([`BuiltIn`], `&'static str` each) and
/// the served one ([`Texts`], borrowed from a built-in or owned from the setting), with the key
/// names the setting uses.
macro_rules! text_keys {
    ($($(#[$doc:meta])* $key:ident,)*) => {
        /// A built-in language's words.
        struct BuiltIn {
            lang: &'static str,
            $($key: &'static str,)*
        }

        /// The words of the pages in one language, as served.
        pub struct Texts {
            /// BCP 47 tag, for `<html lang>` and `Content-Language`.
            pub lang: Cow<'static, str>,
            $($(#[$doc])* pub $key: Cow<'static, str>,)*
        }

        /// Every text key, as `PAGE_TEXTS` names them.
        pub const TEXT_KEYS: &[&str] = &[$(stringify!($key),)*];

        impl BuiltIn {
            fn texts(&self) -> Texts {
                Texts { lang: Cow::Borrowed(self.lang), $($key: Cow::Borrowed(self.$key),)* }
            }

            /// The text of a key, by its name.
            fn text(&self, key: &str) -> Option<&'static str> {
                match key {
                    $(stringify!($key) => Some(self.$key),)*
                    _ => None,
                }
            }
        }

        impl Texts {
            /// The place of a key's text, by its name.
            fn slot(&mut self, key: &str) -> Option<&mut Cow<'static, str>> {
                match key {
                    $(stringify!($key) => Some(&mut self.$key),)*
                    _ => None,
                }
            }
        }
    };
}

text_keys! {
    /// "Sign out of {provider}?"
    confirm_title,
    /// "{client} asks to sign you out."
    confirm_from,
    /// Holds {provider}.
    confirm_text,
    confirm_yes,
    confirm_no,
    signed_out_title,
    signed_out_text,
    still_signed_in_title,
    still_signed_in_text,
    /// "Back to {client}": the way back to the client's `client_uri` after "Stay signed in".
    back_to_client,
    frontchannel_title,
    frontchannel_text,
    frontchannel_cookies,
    continue_link,
    error_title,
    error_bad_request,
    error_bad_hint,
    error_unknown_client,
    error_bad_redirect,
    error_confirmation,
    error_unavailable,
}

/// `text` with `placeholder` replaced by `value`.
fn fill(text: &str, placeholder: &str, value: &str) -> String {
    text.replace(placeholder, value)
}

impl Texts {
    pub fn confirm_title(&self, provider: &str) -> String {
        fill(&self.confirm_title, "{provider}", provider)
    }

    pub fn confirm_text(&self, provider: &str) -> String {
        fill(&self.confirm_text, "{provider}", provider)
    }

    pub fn confirm_from(&self, client: &str) -> String {
        fill(&self.confirm_from, "{client}", client)
    }

    pub fn back_to_client(&self, client: &str) -> String {
        fill(&self.back_to_client, "{client}", client)
    }
}

const EN: BuiltIn = BuiltIn {
    lang: "en",
    confirm_title: "Sign out of {provider}?",
    confirm_from: "{client} asks to sign you out.",
    confirm_text: "You will be signed out of {provider} and of the applications you signed in to with it.",
    confirm_yes: "Sign out",
    confirm_no: "Stay signed in",
    signed_out_title: "You are signed out",
    signed_out_text: "You have been signed out. You can close this window.",
    still_signed_in_title: "You are still signed in",
    still_signed_in_text: "Nothing was changed: you are still signed in.",
    back_to_client: "Back to {client}",
    frontchannel_title: "Signing you out",
    frontchannel_text: "Signing you out of the applications you used…",
    frontchannel_cookies:
        "If your browser blocks third-party cookies, some applications may only notice when you next visit them.",
    continue_link: "Continue",
    error_title: "Sign-out could not proceed",
    error_bad_request: "The sign-out request is not valid.",
    error_bad_hint: "The sign-out request carries a token this provider cannot accept.",
    error_unknown_client: "The application that asked to sign you out is not known to this provider.",
    error_bad_redirect: "The address to return to after signing out is not registered for this application.",
    error_confirmation: "This confirmation has expired or was already used. Please start again from the application.",
    error_unavailable: "The service is temporarily unavailable. Please try again.",
};

const DE: BuiltIn = BuiltIn {
    lang: "de",
    confirm_title: "Von {provider} abmelden?",
    confirm_from: "{client} möchte Sie abmelden.",
    confirm_text: "Sie werden von {provider} und von den Anwendungen abgemeldet, bei denen Sie sich damit angemeldet haben.",
    confirm_yes: "Abmelden",
    confirm_no: "Angemeldet bleiben",
    signed_out_title: "Sie sind abgemeldet",
    signed_out_text: "Sie wurden abgemeldet. Sie können dieses Fenster schließen.",
    still_signed_in_title: "Sie sind weiterhin angemeldet",
    still_signed_in_text: "Es wurde nichts geändert: Sie sind weiterhin angemeldet.",
    back_to_client: "Zurück zu {client}",
    frontchannel_title: "Abmeldung läuft",
    frontchannel_text: "Sie werden von den verwendeten Anwendungen abgemeldet…",
    frontchannel_cookies: "Blockiert Ihr Browser Cookies von Drittanbietern, bemerken manche Anwendungen die Abmeldung erst bei Ihrem nächsten Besuch.",
    continue_link: "Weiter",
    error_title: "Abmeldung nicht möglich",
    error_bad_request: "Die Abmeldeanfrage ist ungültig.",
    error_bad_hint: "Die Abmeldeanfrage enthält ein Token, das dieser Anbieter nicht akzeptieren kann.",
    error_unknown_client: "Die Anwendung, die die Abmeldung angefordert hat, ist diesem Anbieter nicht bekannt.",
    error_bad_redirect: "Die Rücksprungadresse nach der Abmeldung ist für diese Anwendung nicht registriert.",
    error_confirmation: "Diese Bestätigung ist abgelaufen oder wurde bereits verwendet. Bitte beginnen Sie erneut in der Anwendung.",
    error_unavailable: "Der Dienst ist vorübergehend nicht verfügbar. Bitte versuchen Sie es erneut.",
};

const FR: BuiltIn = BuiltIn {
    lang: "fr",
    confirm_title: "Se déconnecter de {provider} ?",
    confirm_from: "{client} demande à vous déconnecter.",
    confirm_text: "Vous serez déconnecté de {provider} et des applications auxquelles vous vous êtes connecté avec.",
    confirm_yes: "Se déconnecter",
    confirm_no: "Rester connecté",
    signed_out_title: "Vous êtes déconnecté",
    signed_out_text: "Vous avez été déconnecté. Vous pouvez fermer cette fenêtre.",
    still_signed_in_title: "Vous êtes toujours connecté",
    still_signed_in_text: "Rien n’a changé : vous êtes toujours connecté.",
    back_to_client: "Retour à {client}",
    frontchannel_title: "Déconnexion en cours",
    frontchannel_text: "Déconnexion des applications que vous avez utilisées…",
    frontchannel_cookies: "Si votre navigateur bloque les cookies tiers, certaines applications ne le remarqueront qu’à votre prochaine visite.",
    continue_link: "Continuer",
    error_title: "La déconnexion n’a pas pu aboutir",
    error_bad_request: "La demande de déconnexion n’est pas valide.",
    error_bad_hint: "La demande de déconnexion contient un jeton que ce fournisseur ne peut pas accepter.",
    error_unknown_client: "L’application qui a demandé la déconnexion n’est pas connue de ce fournisseur.",
    error_bad_redirect: "L’adresse de retour après la déconnexion n’est pas enregistrée pour cette application.",
    error_confirmation: "Cette confirmation a expiré ou a déjà été utilisée. Veuillez recommencer depuis l’application.",
    error_unavailable: "Le service est temporairement indisponible. Veuillez réessayer.",
};

const ES: BuiltIn = BuiltIn {
    lang: "es",
    confirm_title: "¿Cerrar sesión en {provider}?",
    confirm_from: "{client} solicita cerrar su sesión.",
    confirm_text: "Se cerrará su sesión en {provider} y en las aplicaciones en las que inició sesión con él.",
    confirm_yes: "Cerrar sesión",
    confirm_no: "Mantener la sesión",
    signed_out_title: "Ha cerrado la sesión",
    signed_out_text: "Se ha cerrado su sesión. Puede cerrar esta ventana.",
    still_signed_in_title: "Su sesión sigue abierta",
    still_signed_in_text: "No se ha cambiado nada: su sesión sigue abierta.",
    back_to_client: "Volver a {client}",
    frontchannel_title: "Cerrando la sesión",
    frontchannel_text: "Cerrando la sesión en las aplicaciones que utilizó…",
    frontchannel_cookies:
        "Si su navegador bloquea las cookies de terceros, algunas aplicaciones solo lo notarán en su próxima visita.",
    continue_link: "Continuar",
    error_title: "No se pudo cerrar la sesión",
    error_bad_request: "La solicitud de cierre de sesión no es válida.",
    error_bad_hint: "La solicitud de cierre de sesión contiene un token que este proveedor no puede aceptar.",
    error_unknown_client: "La aplicación que solicitó cerrar la sesión no es conocida por este proveedor.",
    error_bad_redirect: "La dirección de retorno tras cerrar la sesión no está registrada para esta aplicación.",
    error_confirmation: "Esta confirmación ha caducado o ya se utilizó. Vuelva a empezar desde la aplicación.",
    error_unavailable: "El servicio no está disponible temporalmente. Inténtelo de nuevo.",
};

const BUILT_IN: [&BuiltIn; 4] = [&EN, &DE, &FR, &ES];

/// Why `PAGE_TEXTS` was refused: the text of the configuration error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextsError(pub String);

fn refuse(message: impl Into<String>) -> TextsError {
    TextsError(message.into())
}

/// The languages the pages speak: the built-in ones, with the operator's overrides and added
/// locales merged in. English is the first, and the last resort.
pub struct Languages {
    tables: Vec<Texts>,
}

impl Default for Languages {
    /// The built-in languages only.
    fn default() -> Self {
        Languages { tables: BUILT_IN.iter().map(|b| b.texts()).collect() }
    }
}

/// The primary language subtag of a BCP 47 tag (`de` of `de-CH`).
fn primary(tag: &str) -> &str {
    tag.split(['-', '_']).next().unwrap_or("").trim()
}

/// A language tag as `PAGE_TEXTS` may name it: a 2-3 letter language, then subtags of 1-8
/// letters and digits (`nl`, `pt-BR`, `zh-Hant-TW`).
fn valid_tag(tag: &str) -> bool {
    let mut subtags = tag.split('-');
    let language = subtags.next().unwrap_or("");
    (2..=3).contains(&language.len())
        && language.bytes().all(|b| b.is_ascii_alphabetic())
        && tag.len() <= 35
        && subtags.all(|s| (1..=8).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// The placeholders of a key: those its English text holds.
fn placeholders_of(key: &str) -> impl Iterator<Item = &'static str> {
    let english = EN.text(key).unwrap_or("");
    PLACEHOLDERS.into_iter().filter(move |p| english.contains(p))
}

/// Checks one overriding text of `locale`: a non-empty string without control characters,
/// holding exactly the placeholders of its key.
fn checked_text(locale: &str, key: &str, value: &Value) -> Result<String, TextsError> {
    let at = format!("{locale}.{key}");
    let Value::String(text) = value else { return Err(refuse(format!("{at} must be a string"))) };
    if text.trim().is_empty() || text.chars().count() > MAX_TEXT_LEN || text.chars().any(char::is_control) {
        return Err(refuse(format!("{at} must be 1 to {MAX_TEXT_LEN} characters, without control characters")));
    }
    if let Some(missing) = placeholders_of(key).find(|p| !text.contains(p)) {
        return Err(refuse(format!("{at} must contain {missing}")));
    }
    let allowed: Vec<&str> = placeholders_of(key).collect();
    if let Some(foreign) = PLACEHOLDERS.into_iter().find(|p| text.contains(p) && !allowed.contains(p)) {
        return Err(refuse(format!("{at} cannot use {foreign}")));
    }
    Ok(text.clone())
}

impl Languages {
    /// The built-in languages with `PAGE_TEXTS` (`{"<locale>": {"<text key>": "<text>"}}`)
    /// merged in. A locale that is not built in is added, falling back key by key to the
    /// built-in table of its language, else to English.
    pub fn with_overrides(json: &str) -> Result<Languages, TextsError> {
        let locales = match serde_json::from_str::<Value>(json) {
            Ok(Value::Object(locales)) => locales,
            Ok(_) => return Err(refuse("must be a JSON object of locales")),
            Err(e) => return Err(refuse(format!("is not valid JSON: {e}"))),
        };
        let mut languages = Languages::default();
        let mut seen: Vec<String> = Vec::new();
        for (locale, texts) in &locales {
            if !valid_tag(locale) {
                return Err(refuse(format!("{locale:?} is not a language tag (such as \"nl\" or \"pt-BR\")")));
            }
            if seen.iter().any(|s| s.eq_ignore_ascii_case(locale)) {
                return Err(refuse(format!("{locale:?} is given twice")));
            }
            seen.push(locale.clone());
            let Value::Object(texts) = texts else {
                return Err(refuse(format!("{locale} must be a JSON object of texts")));
            };
            languages.merge(locale, texts)?;
        }
        Ok(languages)
    }

    /// Merges one locale's texts into its table, made first when it is not built in.
    fn merge(&mut self, locale: &str, texts: &Map<String, Value>) -> Result<(), TextsError> {
        let index = match self.tables.iter().position(|t| t.lang.eq_ignore_ascii_case(locale)) {
            Some(index) => index,
            None => {
                let base = BUILT_IN.into_iter().find(|b| b.lang.eq_ignore_ascii_case(primary(locale))).unwrap_or(&EN);
                self.tables.push(Texts { lang: Cow::Owned(locale.to_string()), ..base.texts() });
                self.tables.len() - 1
            }
        };
        let table = &mut self.tables[index];
        for (key, value) in texts {
            let Some(slot) = table.slot(key) else {
                return Err(refuse(format!("{locale}.{key} is not a text key; the keys are {}", TEXT_KEYS.join(", "))));
            };
            *slot = Cow::Owned(checked_text(locale, key, value)?);
        }
        Ok(())
    }

    /// The language of one BCP 47 tag: the table of exactly that tag, else of its language
    /// (`de-CH` gets `de`), else one of the same language (`pt-PT` gets `pt-BR`).
    fn supported(&self, tag: &str) -> Option<&Texts> {
        let tag = tag.trim();
        let language = primary(tag);
        if language.is_empty() {
            return None;
        }
        self.tables
            .iter()
            .find(|t| t.lang.eq_ignore_ascii_case(tag))
            .or_else(|| self.tables.iter().find(|t| t.lang.eq_ignore_ascii_case(language)))
            .or_else(|| self.tables.iter().find(|t| primary(&t.lang).eq_ignore_ascii_case(language)))
    }

    /// The language of a page: `ui_locales` (space-separated, in order of preference) first,
    /// then `Accept-Language` (by q-value), then English.
    pub fn negotiate(&self, ui_locales: Option<&str>, accept_language: Option<&str>) -> &Texts {
        if let Some(t) = ui_locales.into_iter().flat_map(str::split_whitespace).find_map(|tag| self.supported(tag)) {
            return t;
        }
        // The supported tag with the highest q-value; the first listed wins a tie.
        let mut best: Option<(u16, &Texts)> = None;
        for item in accept_language.unwrap_or("").split(',').take(32) {
            let mut parts = item.split(';');
            let tag = parts.next().unwrap_or("").trim();
            let Some(q) = crate::http::negotiate::weight(parts) else { continue };
            if q == 0 || tag.is_empty() || tag == "*" || best.is_some_and(|(b, _)| b >= q) {
                continue;
            }
            if let Some(t) = self.supported(tag) {
                best = Some((q, t));
            }
        }
        best.map_or(&self.tables[0], |(_, t)| t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lang(ui: Option<&str>, accept: Option<&str>) -> String {
        Languages::default().negotiate(ui, accept).lang.to_string()
    }

    fn overridden(json: &str) -> Languages {
        Languages::with_overrides(json).expect("valid overrides")
    }

    fn refusal(json: &str) -> String {
        Languages::with_overrides(json).err().expect("a refusal").0
    }

    #[test]
    fn ui_locales_first_then_accept_language_then_english() {
        assert_eq!(lang(Some("de"), Some("fr")), "de");
        assert_eq!(lang(Some("xx-YY fr-CA de"), None), "fr");
        assert_eq!(lang(Some("xx"), Some("es-ES,es;q=0.9,en;q=0.8")), "es");
        assert_eq!(lang(None, Some("en;q=0.5, de;q=0.9")), "de");
        assert_eq!(lang(None, Some("de;q=0, fr")), "fr");
        assert_eq!(lang(Some("tlh"), Some("*")), "en");
        assert_eq!(lang(None, None), "en");
        assert_eq!(lang(Some(""), Some(";;;,q=x")), "en");
    }

    #[test]
    fn every_language_fills_its_placeholders() {
        // A marker no language's words contain, so that finding it proves the substitution.
        const P: &str = "\u{2603}provider";
        const C: &str = "\u{2603}client";
        for t in &Languages::default().tables {
            for (name, filled, marker) in [
                ("confirm_title", t.confirm_title(P), P),
                ("confirm_text", t.confirm_text(P), P),
                ("confirm_from", t.confirm_from(C), C),
                ("back_to_client", t.back_to_client(C), C),
            ] {
                assert!(filled.contains(marker), "{} {name}: {filled}", t.lang);
                assert!(!filled.contains('{') && !filled.contains('}'), "{} {name}: {filled}", t.lang);
            }
        }
    }

    #[test]
    fn every_key_is_named_and_has_an_english_text() {
        let mut en = EN.texts();
        for key in TEXT_KEYS {
            assert!(EN.text(key).is_some_and(|t| !t.is_empty()), "{key}");
            assert!(en.slot(key).is_some(), "{key}");
        }
        assert!(EN.text("lang").is_none() && en.slot("lang").is_none(), "lang is not a text");
    }

    #[test]
    fn an_override_replaces_one_text_and_keeps_the_others() {
        let l = overridden(r#"{"de": {"confirm_yes": "Jetzt abmelden"}, "EN": {"confirm_no": "Keep me"}}"#);
        let de = l.negotiate(Some("de"), None);
        assert_eq!(de.confirm_yes, "Jetzt abmelden");
        assert_eq!(de.confirm_no, DE.confirm_no);
        let en = l.negotiate(None, None);
        assert_eq!((en.lang.as_ref(), en.confirm_no.as_ref()), ("en", "Keep me"));
        assert_eq!(en.confirm_yes, EN.confirm_yes);
        assert_eq!(l.tables.len(), 4, "no locale added");
    }

    #[test]
    fn an_added_locale_is_negotiated_like_a_built_in_one_and_falls_back_to_english() {
        let l = overridden(r#"{"nl": {"confirm_title": "Afmelden bij {provider}?", "confirm_yes": "Afmelden"}}"#);
        for (ui, accept) in
            [(Some("xx nl-BE de"), None), (None, Some("fr;q=0.5, nl-NL;q=0.9")), (Some("nl"), Some("de"))]
        {
            assert_eq!(l.negotiate(ui, accept).lang, "nl", "{ui:?} {accept:?}");
        }
        let nl = l.negotiate(Some("nl"), None);
        assert_eq!(nl.confirm_title("P"), "Afmelden bij P?");
        assert_eq!(nl.confirm_no, EN.confirm_no, "a text not given is English");
        assert_eq!(l.negotiate(None, Some("de, nl;q=0.9")).lang, "de");
        assert_eq!(Languages::default().negotiate(Some("nl"), None).lang, "en", "only through the setting");
    }

    #[test]
    fn an_added_regional_locale_falls_back_to_its_language() {
        let l = overridden(r#"{"de-CH": {"confirm_yes": "Abmelden, bitte"}, "pt-BR": {"confirm_yes": "Sair"}}"#);
        let ch = l.negotiate(Some("de-CH"), None);
        assert_eq!((ch.lang.as_ref(), ch.confirm_yes.as_ref()), ("de-CH", "Abmelden, bitte"));
        assert_eq!(ch.confirm_no, DE.confirm_no);
        assert_eq!(l.negotiate(Some("de-AT"), None).lang, "de", "the language's own table first");
        assert_eq!(l.negotiate(Some("pt-PT"), None).lang, "pt-BR", "then one of the same language");
        assert_eq!(l.negotiate(Some("pt"), None).confirm_no, EN.confirm_no);
    }

    #[test]
    fn bad_overrides_are_refused_with_where_and_why() {
        for (json, why) in [
            ("[]", "JSON object of locales"),
            ("{", "not valid JSON"),
            (r#"{"nl": "Afmelden"}"#, "nl must be a JSON object of texts"),
            (r#"{"nl": {"sign_out": "Afmelden"}}"#, "nl.sign_out is not a text key; the keys are confirm_title, "),
            (r#"{"nl": {"lang": "nl"}}"#, "nl.lang is not a text key"),
            (r#"{"nl": {"confirm_yes": 1}}"#, "nl.confirm_yes must be a string"),
            (r#"{"nl": {"confirm_yes": null}}"#, "nl.confirm_yes must be a string"),
            (r#"{"nl": {"confirm_yes": " "}}"#, "nl.confirm_yes must be 1 to 1000 characters"),
            (r#"{"nl": {"confirm_yes": "a\nb"}}"#, "without control characters"),
            (r#"{"de": {"confirm_title": "Abmelden?"}}"#, "de.confirm_title must contain {provider}"),
            (r#"{"nl": {"confirm_from": "Afmelden"}}"#, "nl.confirm_from must contain {client}"),
            (r#"{"nl": {"back_to_client": "Terug"}}"#, "nl.back_to_client must contain {client}"),
            (r#"{"nl": {"confirm_yes": "Afmelden bij {provider}"}}"#, "nl.confirm_yes cannot use {provider}"),
            (r#"{"nl": {"confirm_title": "{client} {provider}"}}"#, "nl.confirm_title cannot use {client}"),
            (r#"{"nl_NL": {}}"#, "\"nl_NL\" is not a language tag"),
            (r#"{"": {}}"#, "is not a language tag"),
            (r#"{"dutch": {}}"#, "is not a language tag"),
            (r#"{"nl-": {}}"#, "is not a language tag"),
            (r#"{"nl": {}, "NL": {}}"#, "given twice"),
        ] {
            let e = refusal(json);
            assert!(e.contains(why), "{json}: {e}");
        }
    }

    #[test]
    fn markup_in_an_override_is_kept_as_text_here() {
        // The table keeps what the operator wrote; the pages escape it (ui::pages tests).
        let l = overridden(r#"{"en": {"still_signed_in_text": "<script>alert(\"x\")</script> & 'y'"}}"#);
        assert_eq!(l.negotiate(None, None).still_signed_in_text, r#"<script>alert("x")</script> & 'y'"#);
    }
}
