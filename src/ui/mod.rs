//! What a person sees: the HTML pages and their words in each language. Imports only `http`.

pub mod i18n;
pub mod pages;
