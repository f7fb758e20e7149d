//! The one error type of the app: what went wrong, the HTTP status it maps to, and the
//! message a client may see. Internal causes are logged once, on the server, never sent.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum AppError {
    #[error("{0}")]
    BadRequest(String),
    #[error("Please sign in to continue.")]
    Unauthorized,
    #[error("You do not have permission to do that.")]
    Forbidden,
    #[error("Not found.")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    #[error("Confirm your email address before signing in: we sent you a link. Need a new one? Use the form below.")]
    Unconfirmed,
    #[error("Too many attempts. Please try again in {retry_after_secs} seconds.")]
    TooManyRequests { retry_after_secs: u64 },
    #[error("The service is temporarily unavailable. Please try again shortly.")]
    Unavailable,
    #[error("Something went wrong on our side. Please try again.")]
    Internal,
    /// The request itself could not be carried out (a network or encoding failure between
    /// the browser and the server). The text comes from the framework, never from the database.
    #[error("The request could not be completed. Please try again.")]
    Transport(String),
}

impl AppError {
    pub fn status_code(&self) -> u16 {
        match self {
            AppError::BadRequest(_) => 400,
            AppError::Unauthorized => 401,
            AppError::Forbidden => 403,
            AppError::NotFound => 404,
            AppError::Conflict(_) => 409,
            AppError::Unconfirmed => 403,
            AppError::TooManyRequests { .. } => 429,
            AppError::Unavailable => 503,
            AppError::Internal => 500,
            AppError::Transport(_) => 400,
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            // On the server, a body that cannot be decoded is the request's fault too.
            ServerFnErrorErr::Args(_)
            | ServerFnErrorErr::MissingArg(_)
            | ServerFnErrorErr::Deserialization(_)
                if cfg!(feature = "ssr") =>
            {
                let error =
                    AppError::BadRequest("The form was incomplete or malformed.".to_owned());
                // Answered 400 (not the framework's 500) when the request itself was bad.
                #[cfg(feature = "ssr")]
                let error = crate::auth::server::fail(error);
                error
            }
            ServerFnErrorErr::Request(_) | ServerFnErrorErr::Deserialization(_) => {
                AppError::Transport("network".to_owned())
            }
            other => {
                #[cfg(feature = "ssr")]
                tracing::error!(error = %other, "server function failure");
                #[cfg(not(feature = "ssr"))]
                let _ = other;
                AppError::Internal
            }
        }
    }
}

#[cfg(feature = "ssr")]
mod ssr {
    use axum::response::{IntoResponse, Response};
    use axum::Json;
    use http::StatusCode;

    use super::AppError;

    impl AppError {
        /// Logs an internal failure once, here, and returns the error a client may see.
        pub fn internal(context: &'static str, cause: impl std::fmt::Display) -> Self {
            tracing::error!(%cause, context, "internal error");
            AppError::Internal
        }
    }

    impl From<sqlx::Error> for AppError {
        fn from(error: sqlx::Error) -> Self {
            match &error {
                sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                    tracing::warn!(%error, "database unavailable");
                    AppError::Unavailable
                }
                sqlx::Error::RowNotFound => AppError::NotFound,
                // Data exceptions (class 22: bad encoding, out-of-range values...) come
                // from what the request carried.
                sqlx::Error::Database(db) if db.code().is_some_and(|c| c.starts_with("22")) => {
                    tracing::info!(%error, "database refused the request's data");
                    AppError::BadRequest("Some of the values are not valid.".to_owned())
                }
                _ => AppError::internal("database", error),
            }
        }
    }

    impl IntoResponse for AppError {
        fn into_response(self) -> Response {
            let status = StatusCode::from_u16(self.status_code())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut response = (
                status,
                Json(serde_json::json!({ "error": self.to_string() })),
            )
                .into_response();
            if let AppError::TooManyRequests { retry_after_secs } = self {
                if let Ok(value) = http::HeaderValue::from_str(&retry_after_secs.to_string()) {
                    response
                        .headers_mut()
                        .insert(http::header::RETRY_AFTER, value);
                }
            }
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_maps_to_a_client_or_server_status() {
        assert_eq!(AppError::Unauthorized.status_code(), 401);
        assert_eq!(
            AppError::TooManyRequests {
                retry_after_secs: 5
            }
            .status_code(),
            429
        );
        assert_eq!(AppError::Internal.status_code(), 500);
        assert_eq!(AppError::Unavailable.status_code(), 503);
    }

    #[test]
    fn internal_errors_show_a_generic_message() {
        let shown = AppError::Internal.to_string();
        assert!(!shown.contains("sqlx") && !shown.contains("SQLSTATE"));
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn database_errors_never_reach_the_client_as_text() {
        let error = AppError::from(sqlx::Error::Protocol(
            "relation \"auth.users\" secret".into(),
        ));
        assert_eq!(error, AppError::Internal);
        assert!(!error.to_string().contains("auth.users"));
    }
}
