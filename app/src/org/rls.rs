//! `RlsTx`: a transaction that runs as `authenticated` with the session user's claims, the
//! way PostgREST runs a request. Both settings are transaction-local, so they end with it.

use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::auth::server::Authenticated;
use crate::errors::AppError;

pub struct RlsTx {
    tx: Transaction<'static, Postgres>,
}

/// `text` as an SQL string literal. The `E'…'` form escapes backslashes and quotes the
/// same way whatever `standard_conforming_strings` says; NUL cannot occur in JSON text.
fn string_literal(text: &str) -> String {
    let mut literal = String::with_capacity(text.len() + 3);
    literal.push_str("E'");
    for c in text.chars() {
        match c {
            '\\' => literal.push_str("\\\\"),
            '\'' => literal.push_str("''"),
            c => literal.push(c),
        }
    }
    literal.push('\'');
    literal
}

/// The statement that opens every `RlsTx`, in one round trip: both settings, then
/// `BEGIN`. In a multi-statement query the settings run in an implicit transaction that
/// `BEGIN` then adopts, so they hold until the end of the transaction; if they fail, the
/// implicit transaction rolls back and the connection is left idle, not in a failed
/// transaction. (sqlx binds no parameters here, hence the literal.)
pub fn begin_statement(user_id: Uuid, email: &str) -> String {
    let claims = serde_json::json!({
        "sub": user_id,
        "role": "authenticated",
        "aud": "authenticated",
        "email": email,
    });
    format!(
        "SELECT set_config('role', 'authenticated', true), \
         set_config('request.jwt.claims', {}, true); BEGIN",
        string_literal(&claims.to_string())
    )
}

impl RlsTx {
    /// Opens the transaction for `auth`'s user. Only `store::OrgStore` calls this.
    pub(crate) async fn begin(pool: &PgPool, auth: &Authenticated) -> Result<Self, AppError> {
        let tx = pool
            .begin_with(begin_statement(auth.user.id, &auth.user.email))
            .await?;
        Ok(Self { tx })
    }

    pub(crate) fn conn(&mut self) -> &mut PgConnection {
        &mut self.tx
    }

    pub(crate) async fn commit(self) -> Result<(), AppError> {
        self.tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::string_literal;

    #[test]
    fn literals_escape_quotes_and_backslashes() {
        assert_eq!(string_literal("plain"), "E'plain'");
        assert_eq!(
            string_literal(r#"{"email":"o'brien\\x@example.com"}"#),
            r#"E'{"email":"o''brien\\\\x@example.com"}'"#
        );
        assert_eq!(
            string_literal("'; drop table calls; --"),
            "E'''; drop table calls; --'"
        );
    }
}
