//! The words of the pages, one table per language.

pub struct Texts {
    pub confirm_title: &'static str,
    pub confirm_from: &'static str,
    pub confirm_text: &'static str,
    pub confirm_yes: &'static str,
    pub confirm_no: &'static str,
    pub signed_out_title: &'static str,
    pub signed_out_text: &'static str,
    pub still_signed_in_title: &'static str,
    pub still_signed_in_text: &'static str,
    pub error_title: &'static str,
}

const EN: Texts = Texts {
    confirm_title: "Sign out?",
    confirm_from: "The request comes from",
    confirm_text: "Do you want to sign out? You will be signed out of this provider and of the applications you signed in to with it.",
    confirm_yes: "Sign out",
    confirm_no: "Stay signed in",
    signed_out_title: "You are signed out",
    signed_out_text: "You have been signed out. You can close this window.",
    still_signed_in_title: "You are still signed in",
    still_signed_in_text: "Nothing was changed: you are still signed in.",
    error_title: "Sign-out could not proceed",
};

/// The texts of a language this service speaks (English for any other).
pub fn texts(_lang: &str) -> &'static Texts {
    &EN
}
