//! JSON Web Tokens for user sessions, HS256 only (RFC 7519 over RFC 7515): `header.payload.sig`,
//! each part base64url without padding, the signature an HMAC-SHA256 of `header.payload` under
//! the server's key. Verification checks the algorithm, then the signature (in constant time),
//! then the expiry, and says which of them failed. No HTTP and no store here.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Shortest accepted signing key, in bytes (the size of the HMAC-SHA256 output).
pub const MIN_KEY_BYTES: usize = 32;

/// `{"alg":"HS256","typ":"JWT"}`, encoded once.
const HEADER: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";

/// The HMAC key that signs and checks tokens. Its `Debug` hides it.
#[derive(Clone)]
pub struct JwtKey(Vec<u8>);

impl std::fmt::Debug for JwtKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwtKey(***)")
    }
}

impl JwtKey {
    /// A key of at least [`MIN_KEY_BYTES`] bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Self, JwtError> {
        let bytes = bytes.into();
        if bytes.len() < MIN_KEY_BYTES {
            return Err(JwtError::KeyTooShort { len: bytes.len() });
        }
        Ok(Self(bytes))
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC takes keys of any length; this cannot fail.
        <HmacSha256 as Mac>::new_from_slice(&self.0).unwrap_or_else(|_| unreachable!())
    }
}

/// What a session token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: String,
    /// The user's owner id.
    pub owner: String,
    /// `admin` or `member`.
    pub role: String,
    /// Issued at, unix seconds.
    pub iat: i64,
    /// Expires at, unix seconds.
    pub exp: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("token expired at {}", rfc3339(*at))]
    Expired { at: i64 },
    #[error("token signature does not verify")]
    BadSignature,
    #[error("token is malformed: {0}")]
    Malformed(String),
    #[error("the JWT signing key has {len} bytes; at least {MIN_KEY_BYTES} are needed")]
    KeyTooShort { len: usize },
}

fn rfc3339(unix_secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix_secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| format!("unix time {unix_secs}"))
}

/// The base64url signature of `signing_input` (`header.payload`).
pub fn sign(key: &JwtKey, signing_input: &str) -> String {
    let mut mac = key.mac();
    mac.update(signing_input.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// Checks `signature` (base64url) over `signing_input` in constant time.
pub fn verify_signature(
    key: &JwtKey,
    signing_input: &str,
    signature: &str,
) -> Result<(), JwtError> {
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| JwtError::BadSignature)?;
    let mut mac = key.mac();
    mac.update(signing_input.as_bytes());
    mac.verify_slice(&signature)
        .map_err(|_| JwtError::BadSignature)
}

/// A signed token carrying `claims`.
pub fn issue(key: &JwtKey, claims: &Claims) -> String {
    // Serializing five plain fields cannot fail.
    let payload = serde_json::to_vec(claims).unwrap_or_default();
    let signing_input = format!("{HEADER}.{}", URL_SAFE_NO_PAD.encode(payload));
    let signature = sign(key, &signing_input);
    format!("{signing_input}.{signature}")
}

/// True when `token` has the shape of a JWT (three dot-separated parts), as opposed to an API key.
pub fn looks_like_jwt(token: &str) -> bool {
    token.split('.').count() == 3
}

/// The claims of `token` if it is an HS256 token signed by `key` that has not expired at
/// `now_secs`.
pub fn verify(key: &JwtKey, token: &str, now_secs: i64) -> Result<Claims, JwtError> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed(
            "expected three dot-separated parts".into(),
        ));
    };
    let header: serde_json::Value = decode_json(header, "header")?;
    match header.get("alg").and_then(|a| a.as_str()) {
        Some("HS256") => {}
        Some(other) => {
            return Err(JwtError::Malformed(format!(
                "algorithm {other:?} is not accepted; only HS256"
            )));
        }
        None => return Err(JwtError::Malformed("header has no `alg`".into())),
    }
    let signing_input = &token[..token.len() - signature.len() - 1];
    verify_signature(key, signing_input, signature)?;
    let claims: Claims = decode_json(payload, "payload")?;
    if claims.exp <= now_secs {
        return Err(JwtError::Expired { at: claims.exp });
    }
    Ok(claims)
}

fn decode_json<T: serde::de::DeserializeOwned>(part: &str, what: &str) -> Result<T, JwtError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| JwtError::Malformed(format!("{what} is not base64url")))?;
    serde_json::from_slice(&bytes).map_err(|e| JwtError::Malformed(format!("{what}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test_key() -> JwtKey {
        JwtKey::new(b"0123456789abcdef0123456789abcdef".to_vec()).unwrap()
    }

    fn claims(exp: i64) -> Claims {
        Claims {
            sub: "u1".into(),
            owner: "o1".into(),
            role: "member".into(),
            iat: 1_000,
            exp,
        }
    }

    /// RFC 7515 appendix A.1: the HS256 example's key, signing input and signature.
    #[test]
    fn rfc7515_a1_vector() {
        let key = URL_SAFE_NO_PAD
            .decode(
                "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow",
            )
            .unwrap();
        let key = JwtKey::new(key).unwrap();
        let signing_input = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9\
             .eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
        let expected = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert_eq!(sign(&key, signing_input), expected);
        assert_eq!(verify_signature(&key, signing_input, expected), Ok(()));
        let mut altered = signing_input.to_string();
        altered.push('A');
        assert_eq!(
            verify_signature(&key, &altered, expected),
            Err(JwtError::BadSignature)
        );
    }

    #[test]
    fn header_constant_is_hs256() {
        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(HEADER).unwrap()).unwrap();
        assert_eq!(header, serde_json::json!({"alg": "HS256", "typ": "JWT"}));
    }

    #[test]
    fn round_trip_expiry_and_tampering() {
        let key = test_key();
        let token = issue(&key, &claims(2_000));
        assert!(looks_like_jwt(&token));
        assert_eq!(verify(&key, &token, 1_999), Ok(claims(2_000)));
        let expired = verify(&key, &token, 2_000).unwrap_err();
        assert_eq!(expired, JwtError::Expired { at: 2_000 });
        assert_eq!(expired.to_string(), "token expired at 1970-01-01T00:33:20Z");

        // Another payload under the old signature.
        let parts: Vec<&str> = token.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims(9_999)).unwrap());
        let tampered = format!("{}.{forged}.{}", parts[0], parts[2]);
        assert_eq!(verify(&key, &tampered, 1_500), Err(JwtError::BadSignature));

        // Another key.
        let other = JwtKey::new(vec![7u8; 32]).unwrap();
        assert_eq!(verify(&other, &token, 1_500), Err(JwtError::BadSignature));
    }

    #[test]
    fn refuses_other_algorithms_and_garbage() {
        let key = test_key();
        let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims(2_000)).unwrap());
        let unsigned = format!("{none_header}.{payload}.");
        assert!(matches!(
            verify(&key, &unsigned, 1_500),
            Err(JwtError::Malformed(m)) if m.contains("only HS256")
        ));
        assert!(matches!(
            verify(&key, "a.b", 0),
            Err(JwtError::Malformed(_))
        ));
        assert!(matches!(
            verify(&key, "!!.b.c", 0),
            Err(JwtError::Malformed(_))
        ));
        assert_eq!(
            JwtKey::new(vec![0u8; 31]).unwrap_err(),
            JwtError::KeyTooShort { len: 31 }
        );
    }
}
