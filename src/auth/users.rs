//! Users: the first admin (from the environment, or through a one-time setup token printed on
//! start), new users with an owner of their own, and password sign-in that issues a session
//! token. A wrong password and an unknown email fail alike, after the same argon2 work.
//! Argon2 runs on a blocking thread.

use rand::Rng;

use super::jwt::{self, Claims};
use super::password::{self, MAX_PASSWORD_BYTES, MIN_PASSWORD_CHARS};
use super::{ADMIN_OWNER_ID, AuthError, AuthSettings, hash_key};
use crate::secret::Secret;
use crate::store::{FirstAdmin, Store, UserRow, now_ms};

pub const ROLES: &[&str] = &["admin", "member"];
/// How long a setup token works.
pub const SETUP_TOKEN_TTL_MS: i64 = 24 * 3600 * 1000;
/// Longest email accepted (RFC 5321's path limit).
pub const MAX_EMAIL_CHARS: usize = 254;

/// An email trimmed and lower-cased, or why it is not one.
pub fn normalize_email(email: &str) -> Result<String, String> {
    let email = email.trim().to_lowercase();
    let chars = email.chars().count();
    let valid_shape = email
        .split_once('@')
        .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
        && !email.chars().any(char::is_whitespace);
    if chars > MAX_EMAIL_CHARS {
        return Err(format!(
            "email: {chars} characters; at most {MAX_EMAIL_CHARS} allowed"
        ));
    }
    if !valid_shape {
        return Err(format!("email: `{email}` is not an email address"));
    }
    Ok(email)
}

/// Why a new password is refused, if it is.
pub fn check_new_password(password: &str) -> Result<(), String> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(format!(
            "password: {chars} characters; at least {MIN_PASSWORD_CHARS} needed"
        ));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(format!(
            "password: {} bytes; at most {MAX_PASSWORD_BYTES} allowed",
            password.len()
        ));
    }
    Ok(())
}

/// Hashes `password` on a blocking thread.
pub async fn hash_password(password: String) -> Result<String, AuthError> {
    tokio::task::spawn_blocking(move || password::hash(&password))
        .await
        .map_err(|e| AuthError::Task(e.to_string()))?
        .map_err(AuthError::from)
}

/// Makes sure the first admin can sign in. With `admin` (email and password from the
/// environment) that user is created on the `admin` owner unless the email exists. Otherwise,
/// while no user exists, a setup token is made and returned, to be shown once; tokens shown
/// before stop working.
pub async fn bootstrap_first_user(
    store: &Store,
    admin: Option<(&str, &Secret)>,
) -> Result<Option<Secret>, AuthError> {
    let now = now_ms();
    store.ensure_owner(ADMIN_OWNER_ID, "admin", now).await?;
    if let Some((email, password)) = admin {
        let email = normalize_email(email)
            .map_err(|e| AuthError::InvalidAdmin(format!("ADFORGE_ADMIN_EMAIL: {e}")))?;
        check_new_password(password.expose())
            .map_err(|e| AuthError::InvalidAdmin(format!("ADFORGE_ADMIN_PASSWORD: {e}")))?;
        if store.user_by_email(&email).await?.is_some() {
            return Ok(None);
        }
        let user = UserRow {
            id: uuid::Uuid::now_v7().to_string(),
            owner_id: ADMIN_OWNER_ID.to_string(),
            email,
            password_hash: hash_password(password.expose().to_string()).await?,
            role: "admin".into(),
            created_at: now,
            disabled_at: None,
        };
        if store.insert_user(&user).await? {
            tracing::info!(email = %user.email, "created the first admin user");
        }
        return Ok(None);
    }
    if store.count_users().await? > 0 {
        return Ok(None);
    }
    let token = setup_token();
    store
        .replace_setup_token(&hash_key(token.expose()), now, now + SETUP_TOKEN_TTL_MS)
        .await?;
    Ok(Some(token))
}

/// A new random setup token: `adfsetup_` and 32 base-62 characters.
fn setup_token() -> Secret {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    let body: String = (0..32)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect();
    Secret::new(format!("adfsetup_{body}"))
}

/// Why a setup or sign-in was refused.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error("wrong email or password")]
    WrongCredentials,
    #[error("setup is over: a user exists already; sign in at /api/auth/login")]
    SetupOver,
    #[error("setup token is unknown, used or expired; restart the server for a new one")]
    SetupTokenRefused,
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Auth(#[from] AuthError),
}

impl From<crate::store::StoreError> for SignInError {
    fn from(e: crate::store::StoreError) -> Self {
        Self::Auth(e.into())
    }
}

/// Creates the first admin (on the `admin` owner) with a setup token, spending it.
pub async fn setup_first_admin(
    store: &Store,
    token: &str,
    email: &str,
    password: &str,
) -> Result<UserRow, SignInError> {
    let email = normalize_email(email).map_err(SignInError::Invalid)?;
    check_new_password(password).map_err(SignInError::Invalid)?;
    if store.count_users().await? > 0 {
        return Err(SignInError::SetupOver);
    }
    let now = now_ms();
    let user = UserRow {
        id: uuid::Uuid::now_v7().to_string(),
        owner_id: ADMIN_OWNER_ID.to_string(),
        email,
        password_hash: hash_password(password.to_string()).await?,
        role: "admin".into(),
        created_at: now,
        disabled_at: None,
    };
    match store
        .create_first_admin(&hash_key(token), &user, now)
        .await?
    {
        FirstAdmin::Created => Ok(user),
        FirstAdmin::UsersExist => Err(SignInError::SetupOver),
        FirstAdmin::TokenRefused => Err(SignInError::SetupTokenRefused),
    }
}

/// A signed-in session.
#[derive(Debug, Clone)]
pub struct Session {
    pub token: String,
    pub claims: Claims,
    pub user: UserRow,
}

/// Checks the password of `email` (on a blocking thread) and issues a session token. Unknown
/// emails, disabled users and wrong passwords all answer [`SignInError::WrongCredentials`].
pub async fn login(
    store: &Store,
    settings: &AuthSettings,
    email: &str,
    password: &str,
) -> Result<Session, SignInError> {
    let email = email.trim().to_lowercase();
    let user = store.user_by_email(&email).await?;
    let password = password.to_string();
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    let matches = tokio::task::spawn_blocking(move || match stored {
        Some(stored) => password::verify(&password, &stored),
        None => {
            password::verify_against_nothing(&password);
            Ok(false)
        }
    })
    .await
    .map_err(|e| AuthError::Task(e.to_string()))?
    .map_err(AuthError::from)?;
    let Some(user) = user.filter(|u| matches && u.disabled_at.is_none()) else {
        return Err(SignInError::WrongCredentials);
    };
    let iat = now_ms() / 1000;
    let claims = Claims {
        sub: user.id.clone(),
        owner: user.owner_id.clone(),
        role: user.role.clone(),
        iat,
        exp: iat + settings.token_lifetime.as_secs() as i64,
    };
    Ok(Session {
        token: jwt::issue(&settings.jwt_key, &claims),
        claims,
        user,
    })
}
