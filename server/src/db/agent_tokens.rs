//! The `agent_tokens` table: one token per director, kept as its SHA-256.

use sqlx::SqliteConnection;

/// Who a token belongs to.
#[derive(Debug, Clone)]
pub struct TokenOwner {
    pub director_id: i64,
    pub director: String,
    pub cluster_id: i64,
    pub cluster: String,
}

/// Sets the director's token, replacing the one it had.
pub async fn replace(
    conn: &mut SqliteConnection,
    director_id: i64,
    hash: &[u8],
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO agent_tokens (director_id, token_hash, created_at) VALUES (?, ?, ?)
         ON CONFLICT (director_id) DO UPDATE
         SET token_hash = excluded.token_hash, created_at = excluded.created_at",
        director_id,
        hash,
        now
    )
    .execute(conn)
    .await
    .map(drop)
}

/// Revokes the director's token; whether it had one.
pub async fn delete(conn: &mut SqliteConnection, director_id: i64) -> Result<bool, sqlx::Error> {
    let result = sqlx::query!(
        "DELETE FROM agent_tokens WHERE director_id = ?",
        director_id
    )
    .execute(conn)
    .await?;
    Ok(result.rows_affected() > 0)
}

/// The director and cluster a token hash belongs to.
pub async fn owner(
    conn: &mut SqliteConnection,
    hash: &[u8],
) -> Result<Option<TokenOwner>, sqlx::Error> {
    sqlx::query_as!(
        TokenOwner,
        r#"SELECT d.id AS "director_id!", d.name AS director, c.id AS "cluster_id!",
                c.name AS cluster
         FROM agent_tokens t
         JOIN directors d ON d.id = t.director_id
         JOIN clusters c ON c.id = d.cluster_id
         WHERE t.token_hash = ?"#,
        hash
    )
    .fetch_optional(conn)
    .await
}
