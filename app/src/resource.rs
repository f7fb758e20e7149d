//! Page data as resources, all carried in one JSON codec.
//!
//! A resource's value reaches the browser twice over: in the page, serialized for
//! hydration, and from its server function on later fetches. Leptos's default resource
//! codec decodes the first with `serde_json::from_str` while server functions decode the
//! second with `serde_json::from_slice`; each is its own copy of the JSON reader for every
//! type a page loads, so the WASM bundle carried two (about 40 KB before `wasm-opt`; see
//! the README, "Measured"). [`Json`] decodes resources from bytes too, with the reader the
//! server functions already use.

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
        serde_json::to_string(value)
    }
}

impl<T: DeserializeOwned> Decoder<T> for Json {
    type Error = serde_json::Error;
    type Encoded = str;

    fn decode(text: &str) -> Result<T, serde_json::Error> {
        serde_json::from_slice(text.as_bytes())
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
        let value: Result<Vec<(String, i64)>, AppError> = Ok(vec![("é\"\\".to_owned(), -3)]);
        let text = <Json as Encoder<_>>::encode(&value).expect("encodes");
        let back: Result<Vec<(String, i64)>, AppError> =
            <Json as Decoder<_>>::decode(&text).expect("decodes");
        assert_eq!(back.ok(), value.ok());
        assert!(<Json as Decoder<Vec<i64>>>::decode("[1,").is_err());
    }
}
