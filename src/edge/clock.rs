//! The clock, randomness and the console of the runtime.

use serde_json::Value;

use crate::state::secrets::random_token;

/// Unix time in seconds.
pub fn now() -> i64 {
    (now_ms() / 1000) as i64
}

/// Unix time in milliseconds.
pub fn now_ms() -> u64 {
    worker::Date::now().as_millis()
}

/// A fresh random URL-safe string of `bytes` random bytes (the runtime's `crypto.getRandomValues`).
pub fn random(bytes: usize) -> String {
    random_token(bytes)
}

/// Writes a log line (console.log): Workers Logs indexes the fields of a JSON object.
pub fn log(line: &Value) {
    worker::console_log!("{line}");
}

/// Writes an error line (console.error).
pub fn error(line: &Value) {
    worker::console_error!("{line}");
}
