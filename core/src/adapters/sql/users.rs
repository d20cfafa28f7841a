//! [`UserStore`]: accounts and their addresses.

use async_trait::async_trait;

use super::{
    Sql, SqlStore, Tx,
    rows::{AddressRow, UserRow},
};
use crate::{
    domain::{Address, AddressId, Email, OutboxEvent, User, UserId},
    ports::{StoreResult, UserStore},
};

const SELECT_USER: &str = include_str!("queries/users/select.sql");
const SELECT_ADDRESS: &str = include_str!("queries/users/select_address.sql");
const EMAIL_TAKEN: &[(&str, &str)] = &[("email", "email")];

fn select_user(filter: &str) -> Sql {
    Sql::new(format!("{SELECT_USER}{filter}"))
}

fn select_address(filter: &str) -> Sql {
    Sql::new(format!("{SELECT_ADDRESS}{filter}"))
}

/// The user's columns from `id` to `disabled`, in the order both user statements bind them.
fn bind_user(sql: Sql, user: &User) -> Sql {
    sql.bind(user.id.as_uuid())
        .bind(user.email.as_str())
        .bind(user.full_name.as_str())
        .bind(user.role.as_str())
        .bind(user.password_hash.as_phc())
        .bind(user.disabled)
}

/// The address's columns from `id` to `is_default`, in the order both address statements bind
/// them.
fn bind_address(sql: Sql, address: &Address) -> Sql {
    let f = &address.fields;
    sql.bind(address.id.as_uuid())
        .bind(address.user_id.as_uuid())
        .bind(f.recipient.as_str())
        .bind(f.line1.as_str())
        .bind(f.line2.as_str())
        .bind(f.city.as_str())
        .bind(f.region.as_str())
        .bind(f.postal_code.as_str())
        .bind(f.country.as_str())
        .bind(f.phone.as_str())
        .bind(address.is_default)
}

async fn clear_default_address(tx: &mut Tx, user_id: UserId) -> StoreResult<()> {
    Sql::new("UPDATE addresses SET is_default = FALSE WHERE user_id = $1 AND is_default")
        .bind(user_id.as_uuid())
        .execute(tx)
        .await
        .map(drop)
}

#[async_trait]
impl UserStore for SqlStore {
    async fn insert_user(&self, user: &User, events: &[OutboxEvent]) -> StoreResult<()> {
        let mut tx = self.db.begin().await?;
        bind_user(Sql::new(include_str!("queries/users/insert.sql")), user)
            .bind(user.created_at)
            .bind(user.updated_at)
            .bind(user.email_verified_at)
            .unique(EMAIL_TAKEN)
            .execute(&mut tx)
            .await?;
        super::outbox::insert_events(&mut tx, events).await?;
        tx.commit().await
    }

    async fn get_user(&self, id: UserId) -> StoreResult<Option<User>> {
        select_user(" WHERE id = $1")
            .bind(id.as_uuid())
            .fetch_parsed::<UserRow, _>(&self.db)
            .await
    }

    async fn find_user_by_email(&self, email: &Email) -> StoreResult<Option<User>> {
        select_user(" WHERE email = $1")
            .bind(email.as_str())
            .fetch_parsed::<UserRow, _>(&self.db)
            .await
    }

    async fn update_user(&self, user: &User) -> StoreResult<()> {
        // Never the password hash: see users/update.sql.
        Sql::new(include_str!("queries/users/update.sql"))
            .bind(user.id.as_uuid())
            .bind(user.email.as_str())
            .bind(user.full_name.as_str())
            .bind(user.role.as_str())
            .bind(user.disabled)
            .bind(user.updated_at)
            .unique(EMAIL_TAKEN)
            .execute_found(&self.db)
            .await
    }

    async fn list_users(&self, after: Option<UserId>, limit: u32) -> StoreResult<Vec<User>> {
        Sql::new(include_str!("queries/users/list.sql"))
            .bind(after.map(|id| id.as_uuid()))
            .bind(i64::from(limit))
            .fetch_all_parsed::<UserRow, _>(&self.db)
            .await
    }

    async fn count_users(&self) -> StoreResult<u64> {
        let (count,): (i64,) = Sql::new("SELECT COUNT(*) FROM users")
            .fetch_one(&self.db)
            .await?;
        Ok(u64::try_from(count).unwrap_or_default())
    }

    async fn insert_address(&self, address: &Address) -> StoreResult<()> {
        let mut tx = self.db.begin().await?;
        if address.is_default {
            clear_default_address(&mut tx, address.user_id).await?;
        }
        bind_address(
            Sql::new(include_str!("queries/users/insert_address.sql")),
            address,
        )
        .bind(address.created_at)
        .execute(&mut tx)
        .await?;
        tx.commit().await
    }

    async fn update_address(&self, address: &Address) -> StoreResult<()> {
        let mut tx = self.db.begin().await?;
        if address.is_default {
            clear_default_address(&mut tx, address.user_id).await?;
        }
        bind_address(
            Sql::new(include_str!("queries/users/update_address.sql")),
            address,
        )
        .execute_found(&mut tx)
        .await?;
        tx.commit().await
    }

    async fn delete_address(&self, user_id: UserId, id: AddressId) -> StoreResult<bool> {
        let deleted = Sql::new("DELETE FROM addresses WHERE id = $1 AND user_id = $2")
            .bind(id.as_uuid())
            .bind(user_id.as_uuid())
            .execute(&self.db)
            .await?;
        Ok(deleted > 0)
    }

    async fn get_address(&self, user_id: UserId, id: AddressId) -> StoreResult<Option<Address>> {
        select_address(" WHERE id = $1 AND user_id = $2")
            .bind(id.as_uuid())
            .bind(user_id.as_uuid())
            .fetch_parsed::<AddressRow, _>(&self.db)
            .await
    }

    async fn list_addresses(&self, user_id: UserId) -> StoreResult<Vec<Address>> {
        select_address(" WHERE user_id = $1 ORDER BY created_at, id")
            .bind(user_id.as_uuid())
            .fetch_all_parsed::<AddressRow, _>(&self.db)
            .await
    }
}
