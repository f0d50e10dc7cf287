//! Users (email, argon2 PHC hash, role, owner) and the one-time setup tokens of the first admin.
//! Emails are stored lower case and are unique across owners; only a setup token's SHA-256 is
//! stored. Hashing and checking passwords is `auth`'s; this module stores what it is given.

use sqlx::Row;

use super::{Store, StoreResult};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    pub id: String,
    pub owner_id: String,
    /// Lower case.
    pub email: String,
    /// An argon2id PHC string.
    pub password_hash: String,
    /// `admin` or `member`.
    pub role: String,
    pub created_at: i64,
    pub disabled_at: Option<i64>,
}

/// `SELECT` of every user column, then `$tail`: one static SQL string.
macro_rules! select_users {
    ($tail:literal) => {
        concat!(
            "SELECT id, owner_id, email, password_hash, role, created_at, disabled_at FROM users ",
            $tail
        )
    };
}

/// What [`Store::create_first_admin`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstAdmin {
    Created,
    /// A user exists already: setup is over.
    UsersExist,
    /// The token is unknown, used or expired.
    TokenRefused,
}

fn user_from_row(row: &sqlx::any::AnyRow) -> StoreResult<UserRow> {
    Ok(UserRow {
        id: row.try_get("id")?,
        owner_id: row.try_get("owner_id")?,
        email: row.try_get("email")?,
        password_hash: row.try_get("password_hash")?,
        role: row.try_get("role")?,
        created_at: row.try_get("created_at")?,
        disabled_at: row.try_get("disabled_at")?,
    })
}

impl Store {
    /// Stores a user. Returns false when the email is taken.
    pub async fn insert_user(&self, user: &UserRow) -> StoreResult<bool> {
        let inserted = sqlx::query(
            "INSERT INTO users (id, owner_id, email, password_hash, role, created_at, disabled_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (email) DO NOTHING",
        )
        .bind(&user.id)
        .bind(&user.owner_id)
        .bind(&user.email)
        .bind(&user.password_hash)
        .bind(&user.role)
        .bind(user.created_at)
        .bind(user.disabled_at)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(inserted == 1)
    }

    /// The user with this (lower-case) email, disabled or not.
    pub async fn user_by_email(&self, email: &str) -> StoreResult<Option<UserRow>> {
        let row = sqlx::query(select_users!("WHERE email = $1"))
            .bind(email)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// The user with this id, disabled or not.
    pub async fn user_by_id(&self, id: &str) -> StoreResult<Option<UserRow>> {
        let row = sqlx::query(select_users!("WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// Users of every owner; zero on a fresh install.
    pub async fn count_users(&self) -> StoreResult<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM users")
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get("n")?)
    }

    /// Stores a new setup token (its hash) and retires every earlier unused one, so only the
    /// token shown last works.
    pub async fn replace_setup_token(
        &self,
        hash: &str,
        now: i64,
        expires_at: i64,
    ) -> StoreResult<()> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("UPDATE setup_tokens SET used_at = $1 WHERE used_at IS NULL")
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO setup_tokens (hash, created_at, expires_at) VALUES ($1, $2, $3)")
            .bind(hash)
            .bind(now)
            .bind(expires_at)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// In one transaction: while no user exists, spends the setup token with this hash (unused,
    /// not expired at `now`) and stores `user`. A token is spent at most once.
    pub async fn create_first_admin(
        &self,
        token_hash: &str,
        user: &UserRow,
        now: i64,
    ) -> StoreResult<FirstAdmin> {
        let mut tx = self.pool().begin().await?;
        let users: i64 = sqlx::query("SELECT COUNT(*) AS n FROM users")
            .fetch_one(&mut *tx)
            .await?
            .try_get("n")?;
        if users > 0 {
            return Ok(FirstAdmin::UsersExist);
        }
        let spent = sqlx::query(
            "UPDATE setup_tokens SET used_at = $1 \
             WHERE hash = $2 AND used_at IS NULL AND expires_at > $1",
        )
        .bind(now)
        .bind(token_hash)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if spent != 1 {
            return Ok(FirstAdmin::TokenRefused);
        }
        sqlx::query(
            "INSERT INTO users (id, owner_id, email, password_hash, role, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&user.id)
        .bind(&user.owner_id)
        .bind(&user.email)
        .bind(&user.password_hash)
        .bind(&user.role)
        .bind(user.created_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(FirstAdmin::Created)
    }
}
