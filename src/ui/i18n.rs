//! The words of the pages, one table per language, and which language a request gets: the
//! first supported tag of `ui_locales`, then `Accept-Language` by preference, then English.
//! An unsupported locale is never an error.

pub struct Texts {
    /// BCP 47 tag, for `<html lang>` and `Content-Language`.
    pub lang: &'static str,
    /// "Sign out of {provider}?"
    pub confirm_title: &'static str,
    /// "{client} asks to sign you out."
    pub confirm_from: &'static str,
    pub confirm_text: &'static str,
    pub confirm_yes: &'static str,
    pub confirm_no: &'static str,
    pub signed_out_title: &'static str,
    pub signed_out_text: &'static str,
    pub still_signed_in_title: &'static str,
    pub still_signed_in_text: &'static str,
    pub frontchannel_title: &'static str,
    pub frontchannel_text: &'static str,
    pub frontchannel_cookies: &'static str,
    pub continue_link: &'static str,
    pub error_title: &'static str,
    pub error_bad_request: &'static str,
    pub error_bad_hint: &'static str,
    pub error_unknown_client: &'static str,
    pub error_bad_redirect: &'static str,
    pub error_confirmation: &'static str,
    pub error_unavailable: &'static str,
}

impl Texts {
    pub fn confirm_title(&self, provider: &str) -> String {
        self.confirm_title.replace("{provider}", provider)
    }

    pub fn confirm_text(&self, provider: &str) -> String {
        self.confirm_text.replace("{provider}", provider)
    }

    pub fn confirm_from(&self, client: &str) -> String {
        self.confirm_from.replace("{client}", client)
    }
}

const EN: Texts = Texts {
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

const DE: Texts = Texts {
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

const FR: Texts = Texts {
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

const ES: Texts = Texts {
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

const LANGUAGES: [&Texts; 4] = [&EN, &DE, &FR, &ES];

/// The supported language of one BCP 47 tag, by its primary subtag (`de-CH` is German).
fn supported(tag: &str) -> Option<&'static Texts> {
    let primary = tag.split(['-', '_']).next()?.trim();
    LANGUAGES.into_iter().find(|t| t.lang.eq_ignore_ascii_case(primary))
}

/// The language of a page: `ui_locales` (space-separated, in order of preference) first, then
/// `Accept-Language` (by q-value), then English.
pub fn negotiate(ui_locales: Option<&str>, accept_language: Option<&str>) -> &'static Texts {
    if let Some(t) = ui_locales.into_iter().flat_map(str::split_whitespace).find_map(supported) {
        return t;
    }
    // The supported tag with the highest q-value; the first listed wins a tie.
    let mut best: Option<(u16, &'static Texts)> = None;
    for item in accept_language.unwrap_or("").split(',').take(32) {
        let mut parts = item.split(';');
        let tag = parts.next().unwrap_or("").trim();
        let Some(q) = crate::http::negotiate::weight(parts) else { continue };
        if q == 0 || tag.is_empty() || tag == "*" || best.is_some_and(|(b, _)| b >= q) {
            continue;
        }
        if let Some(t) = supported(tag) {
            best = Some((q, t));
        }
    }
    best.map_or(&EN, |(_, t)| t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lang(ui: Option<&str>, accept: Option<&str>) -> &'static str {
        negotiate(ui, accept).lang
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
        for t in LANGUAGES {
            for (name, filled, marker) in [
                ("confirm_title", t.confirm_title(P), P),
                ("confirm_text", t.confirm_text(P), P),
                ("confirm_from", t.confirm_from(C), C),
            ] {
                assert!(filled.contains(marker), "{} {name}: {filled}", t.lang);
                assert!(!filled.contains('{') && !filled.contains('}'), "{} {name}: {filled}", t.lang);
            }
        }
    }
}
