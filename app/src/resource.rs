//! Page data as resources, all carried in one JSON codec.
//!
//! A resource's value reaches the browser twice over: in the page, serialized for
//! hydration, and from its server function on later fetches. Leptos's default resource
//! codec decodes the first with `serde_json::from_str` while server functions decode the
//! second with `serde_json::from_slice`; each is its own copy of the JSON reader for every
//! type a page loads, so the WASM bundle carried two (about 40 KB before `wasm-opt`; see
//! the README, "Measured"). [`Json`] decodes resources from bytes too, with the reader the
//! server functions already use.
//!
//! Leptos writes each resource's encoded text into the page as a JavaScript string literal
//! with Rust's `{:?}`, which copies runs of printable ASCII at once but escapes every `"`
//! and `\` one character at a time. JSON is full of `"`: a dashboard's 4.8 KB of it cost
//! ~140,000 instructions a page in that escaping alone, 11% of the server's work for the
//! page (callgrind, README "Measured"). So [`Json`] hands Leptos the JSON with `"` and `'`
//! swapped (a byte swap of two ASCII characters, undone before decoding): what it writes
//! is then mostly one printable run, and each `\"` of the page is one byte instead of two.

use std::future::Future;

use leptos::prelude::*;
use leptos::server::codee::{Decoder, Encoder};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::errors::AppError;

/// JSON, decoded with `serde_json::from_slice` (see the module's documentation).
pub struct Json;

impl<T: Serialize> Encoder<T> for Json {
    type Error = serde_json::Error;
    type Encoded = String;

    fn encode(value: &T) -> Result<String, serde_json::Error> {
        let mut json = serde_json::to_vec(value)?;
        swap_quotes(&mut json);
        Ok(String::from_utf8(json).expect("JSON with two ASCII characters swapped is UTF-8"))
    }
}

impl<T: DeserializeOwned> Decoder<T> for Json {
    type Error = serde_json::Error;
    type Encoded = str;

    fn decode(text: &str) -> Result<T, serde_json::Error> {
        let mut json = text.as_bytes().to_vec();
        swap_quotes(&mut json);
        serde_json::from_slice(&json)
    }
}

/// Swaps `"` and `'` (see the module's documentation); its own inverse.
fn swap_quotes(text: &mut [u8]) {
    for byte in text {
        *byte = match *byte {
            b'"' => b'\'',
            b'\'' => b'"',
            other => other,
        };
    }
}

/// Data a page loads from a server function.
pub type Data<T> = Resource<Result<T, AppError>, Json>;

/// A [`Data`] resource: `fetcher` runs again whenever `source` changes (what
/// [`Resource::new`] does, with the [`Json`] codec).
#[track_caller]
pub fn data<T, S, Fut>(
    source: impl Fn() -> S + Send + Sync + 'static,
    fetcher: impl Fn(S) -> Fut + Send + Sync + 'static,
) -> Data<T>
where
    T: Serialize + DeserializeOwned + Send + Sync + 'static,
    S: PartialEq + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<T, AppError>> + Send + 'static,
{
    Resource::new_with_options(source, fetcher, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_encoded_decodes_to_the_same_value() {
        let value: Result<Vec<(String, i64)>, AppError> =
            Ok(vec![("é\"\\".to_owned(), -3), ("O'Brien".to_owned(), 7)]);
        let text = <Json as Encoder<_>>::encode(&value).expect("encodes");
        // JSON's own quotes travel as `'`; a `'` of the data as `"`.
        assert_eq!(text, r#"{'Ok':[['é\'\\',-3],['O"Brien',7]]}"#);
        let back: Result<Vec<(String, i64)>, AppError> =
            <Json as Decoder<_>>::decode(&text).expect("decodes");
        assert_eq!(back.ok(), value.ok());
        assert!(<Json as Decoder<Vec<i64>>>::decode("[1,").is_err());
    }
}
