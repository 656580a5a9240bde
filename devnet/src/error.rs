//! The one error shape of the devnet's HTTP API: `{ "error": { "code", "message" } }` with a
//! 4xx or 5xx status.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use l2pay_hub::client::ClientError;
use serde_json::json;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({ "error": { "code": self.code, "message": self.message } })),
        )
            .into_response()
    }
}

impl From<ClientError> for ApiError {
    fn from(e: ClientError) -> Self {
        let message = e.to_string();
        match e {
            ClientError::Core(core) => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, core.code(), message)
            }
            ClientError::Invoice(_) => Self::bad_request("BAD_INVOICE", message),
            ClientError::Hub { .. } => Self::new(StatusCode::BAD_GATEWAY, "HUB_REFUSED", message),
            ClientError::Connect(_) | ClientError::Stopped => {
                Self::new(StatusCode::SERVICE_UNAVAILABLE, "HUB_UNREACHABLE", message)
            }
            ClientError::PaymentFailed(_) => {
                Self::new(StatusCode::BAD_GATEWAY, "PAYMENT_FAILED", message)
            }
            ClientError::UnknownChannel(_) => Self::internal(message),
        }
    }
}

/// Parses a money amount: a decimal string of digits (no sign, no exponent, no fraction) in
/// the token's smallest unit, at most `u128::MAX`.
pub fn parse_amount(field: &str, s: &str) -> Result<u128, ApiError> {
    let bad = |why: &str| {
        ApiError::bad_request(
            "BAD_AMOUNT",
            format!("{field} must be a decimal string in the token's smallest unit: {why}"),
        )
    };
    if s.is_empty() {
        return Err(bad("empty"));
    }
    if s.len() > 39 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(&format!("{s:?} is not a whole number of digits")));
    }
    s.parse::<u128>().map_err(|_| bad("too large"))
}

#[cfg(test)]
mod tests {
    use super::parse_amount;

    #[test]
    fn amounts_are_plain_decimal_strings() {
        assert_eq!(parse_amount("amount", "0").unwrap(), 0);
        assert_eq!(parse_amount("amount", "1500000").unwrap(), 1_500_000);
        assert_eq!(
            parse_amount("amount", &u128::MAX.to_string()).unwrap(),
            u128::MAX
        );
        for bad in [
            "",
            "-1",
            "+1",
            "1.5",
            "1e6",
            " 1",
            "0x10",
            "340282366920938463463374607431768211456",
        ] {
            let e = parse_amount("amount", bad).unwrap_err();
            assert_eq!(e.code, "BAD_AMOUNT", "{bad:?}");
        }
    }
}
