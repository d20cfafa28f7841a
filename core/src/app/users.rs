//! Users, sign-in credentials and address books.

use super::{Actor, AppError, AppResult, FieldErrors, Page, Shop, pagination, password};
use crate::domain::{
    Address, AddressFields, AddressId, CountryCode, DomainEvent, Email, Password, PersonName, Role,
    User, UserId,
    address::{AddressLine, City, OptionalLine, Phone, PostalCode, Region},
};

#[derive(Debug, Clone, Default)]
pub struct RegisterUser {
    pub email: String,
    pub password: String,
    pub full_name: String,
    /// Only staff may create administrators; self-registration always makes a customer.
    pub role: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct UpdateProfile {
    pub full_name: Option<String>,
    pub email: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct ChangePassword {
    pub current_password: String,
    pub new_password: String,
}

#[derive(Debug, Clone, Default)]
pub struct UpdateUserAdmin {
    pub role: Option<String>,
    pub disabled: Option<bool>,
}

#[derive(Debug, Clone, Default)]
pub struct ListUsers {
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct AddressInput {
    pub recipient: String,
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub region: Option<String>,
    pub postal_code: String,
    pub country: String,
    pub phone: Option<String>,
    pub is_default: bool,
}

impl AddressInput {
    fn parse(&self) -> AppResult<AddressFields> {
        let mut errors = FieldErrors::default();
        let recipient = errors.check("recipient", PersonName::parse(&self.recipient));
        let line1 = errors.check("line1", AddressLine::parse(&self.line1));
        let line2 = errors.check(
            "line2",
            OptionalLine::parse(self.line2.as_deref().unwrap_or("")),
        );
        let city = errors.check("city", City::parse(&self.city));
        let region = errors.check(
            "region",
            Region::parse(self.region.as_deref().unwrap_or("")),
        );
        let postal_code = errors.check("postal_code", PostalCode::parse(&self.postal_code));
        let country = errors.check("country", CountryCode::parse(&self.country));
        let phone = errors.check("phone", Phone::parse(self.phone.as_deref().unwrap_or("")));
        match (
            recipient,
            line1,
            line2,
            city,
            region,
            postal_code,
            country,
            phone,
        ) {
            (
                Some(recipient),
                Some(line1),
                Some(line2),
                Some(city),
                Some(region),
                Some(postal_code),
                Some(country),
                Some(phone),
            ) => Ok(AddressFields {
                recipient,
                line1,
                line2,
                city,
                region,
                postal_code,
                country,
                phone,
            }),
            _ => Err(errors.into_error()),
        }
    }
}

impl Shop {
    pub async fn register_user(&self, actor: &Actor, command: RegisterUser) -> AppResult<User> {
        let mut errors = FieldErrors::default();
        let email = errors.check("email", Email::parse(&command.email));
        let password = errors.check("password", Password::parse(&command.password));
        let full_name = errors.check("full_name", PersonName::parse(&command.full_name));
        let role = errors.check_opt("role", command.role.as_deref(), Role::parse);
        let (Some(email), Some(password), Some(full_name), Some(role)) =
            (email, password, full_name, role)
        else {
            return Err(errors.into_error());
        };
        let role = role.unwrap_or(Role::Customer);
        if role == Role::Admin && !actor.is_staff() {
            return Err(AppError::Forbidden);
        }
        let now = self.clock.now();
        // Staff (an admin, or the operator's `user create`) vouch for the address they enter;
        // everyone else proves it with the verification e-mail.
        let vouched = actor.is_staff();
        let user = User {
            id: UserId::new(),
            email,
            full_name,
            role,
            password_hash: password::hash(password).await?,
            disabled: false,
            email_verified_at: vouched.then_some(now),
            created_at: now,
            updated_at: now,
        };
        let registered = DomainEvent::UserRegistered {
            user_id: user.id,
            email: user.email.to_string(),
            full_name: user.full_name.to_string(),
        };
        let mut events = vec![registered.into_outbox(now)];
        if !vouched {
            let verify = DomainEvent::EmailVerificationRequested {
                user_id: user.id,
                email: user.email.to_string(),
            };
            events.push(verify.into_outbox(now));
        }
        self.store.insert_user(&user, &events).await?;
        tracing::info!(user_id = %user.id, role = role.as_str(), "user registered");
        Ok(user)
    }

    /// Checks an e-mail and password. Unknown e-mails and wrong passwords are indistinguishable,
    /// in the answer and in the time it takes.
    pub async fn authenticate(&self, email: &str, password: &str) -> AppResult<User> {
        let (Ok(email), Ok(password)) = (Email::parse(email), Password::parse(password)) else {
            return Err(AppError::InvalidCredentials);
        };
        let user = self.store.find_user_by_email(&email).await?;
        let hash = match &user {
            Some(user) => user.password_hash.clone(),
            None => password::dummy_hash().await?,
        };
        let matches = password::verify(password, hash).await?;
        match user {
            Some(user) if matches && user.disabled => Err(AppError::AccountDisabled),
            Some(user) if matches => Ok(user),
            _ => Err(AppError::InvalidCredentials),
        }
    }

    /// A user's own account, or any account for staff. Others' accounts are "not found".
    pub async fn get_user(&self, actor: &Actor, id: UserId) -> AppResult<User> {
        if !actor.is_staff() && actor.user_id()? != id {
            return Err(AppError::NotFound("user"));
        }
        self.store
            .get_user(id)
            .await?
            .ok_or(AppError::NotFound("user"))
    }

    pub async fn current_user(&self, actor: &Actor) -> AppResult<User> {
        let id = actor.user_id()?;
        self.get_user(actor, id).await
    }

    pub async fn list_users(&self, actor: &Actor, query: ListUsers) -> AppResult<Page<User>> {
        actor.require_staff()?;
        let limit = pagination::page_size(query.limit)?;
        let after = pagination::decode::<UserId>(query.cursor.as_deref())?;
        let rows = self.store.list_users(after, limit + 1).await?;
        Ok(Page::from_rows(rows, limit, |user| user.id))
    }

    pub async fn update_profile(&self, actor: &Actor, command: UpdateProfile) -> AppResult<User> {
        let mut user = self.current_user(actor).await?;
        let mut errors = FieldErrors::default();
        let full_name =
            errors.check_opt("full_name", command.full_name.as_deref(), PersonName::parse);
        let email = errors.check_opt("email", command.email.as_deref(), Email::parse);
        let (Some(full_name), Some(email)) = (full_name, email) else {
            return Err(errors.into_error());
        };
        user.full_name = full_name.unwrap_or(user.full_name);
        let email_changed = email.as_ref().is_some_and(|email| *email != user.email);
        if email_changed {
            // The store forgets the verification of the old address too (users/update.sql).
            user.email_verified_at = None;
        }
        user.email = email.unwrap_or(user.email);
        user.updated_at = self.clock.now();
        self.store.update_user(&user).await?;
        if email_changed {
            // The new address gets its verification e-mail, as at registration.
            let verify = DomainEvent::EmailVerificationRequested {
                user_id: user.id,
                email: user.email.to_string(),
            };
            self.store
                .append_events(&[verify.into_outbox(user.updated_at)])
                .await?;
        }
        Ok(user)
    }

    /// Sets a new password after checking the current one. Outstanding reset tokens stop
    /// working (they were mailed for the old password).
    pub async fn change_password(&self, actor: &Actor, command: ChangePassword) -> AppResult<()> {
        let user = self.current_user(actor).await?;
        let new_password = Password::parse(&command.new_password)
            .map_err(|error| AppError::validation("new_password", error.0))?;
        let current_matches = match Password::parse(&command.current_password) {
            Ok(current) => password::verify(current, user.password_hash.clone()).await?,
            Err(_) => false,
        };
        if !current_matches {
            return Err(AppError::validation(
                "current_password",
                "is not your current password",
            ));
        }
        let password_hash = password::hash(new_password).await?;
        self.store
            .set_password(user.id, &password_hash, self.clock.now())
            .await?;
        tracing::info!(user_id = %user.id, "password changed");
        Ok(())
    }

    /// Staff change a user's role or disable the account. Admins cannot lock themselves out.
    pub async fn update_user_admin(
        &self,
        actor: &Actor,
        id: UserId,
        command: UpdateUserAdmin,
    ) -> AppResult<User> {
        actor.require_staff()?;
        let role = Role::parse_opt(command.role.as_deref())
            .map_err(|error| AppError::validation("role", error.0))?;
        let mut user = self
            .store
            .get_user(id)
            .await?
            .ok_or(AppError::NotFound("user"))?;
        let demotes_self = role.is_some_and(|role| role != Role::Admin);
        if actor.acting_user() == Some(id) && (demotes_self || command.disabled == Some(true)) {
            return Err(AppError::Rule(
                "administrators cannot demote or disable themselves".into(),
            ));
        }
        user.role = role.unwrap_or(user.role);
        user.disabled = command.disabled.unwrap_or(user.disabled);
        user.updated_at = self.clock.now();
        self.store.update_user(&user).await?;
        tracing::info!(user_id = %id, role = user.role.as_str(), disabled = user.disabled, "user updated by staff");
        Ok(user)
    }

    pub async fn list_addresses(&self, actor: &Actor) -> AppResult<Vec<Address>> {
        let user_id = actor.user_id()?;
        Ok(self.store.list_addresses(user_id).await?)
    }

    pub async fn add_address(&self, actor: &Actor, input: AddressInput) -> AppResult<Address> {
        let user_id = actor.user_id()?;
        let fields = input.parse()?;
        let existing = self.store.list_addresses(user_id).await?;
        if existing.len() >= MAX_ADDRESSES {
            return Err(AppError::Rule(format!(
                "an address book holds at most {MAX_ADDRESSES} addresses"
            )));
        }
        let address = Address {
            id: AddressId::new(),
            user_id,
            fields,
            // The first address is the default whether or not it was asked for.
            is_default: input.is_default || existing.is_empty(),
            created_at: self.clock.now(),
        };
        self.store.insert_address(&address).await?;
        Ok(address)
    }

    pub async fn update_address(
        &self,
        actor: &Actor,
        id: AddressId,
        input: AddressInput,
    ) -> AppResult<Address> {
        let user_id = actor.user_id()?;
        let fields = input.parse()?;
        let mut address = self
            .store
            .get_address(user_id, id)
            .await?
            .ok_or(AppError::NotFound("address"))?;
        address.fields = fields;
        address.is_default = input.is_default || address.is_default;
        self.store.update_address(&address).await?;
        Ok(address)
    }

    pub async fn remove_address(&self, actor: &Actor, id: AddressId) -> AppResult<()> {
        let user_id = actor.user_id()?;
        if self.store.delete_address(user_id, id).await? {
            Ok(())
        } else {
            Err(AppError::NotFound("address"))
        }
    }
}

const MAX_ADDRESSES: usize = 20;

impl Role {
    fn parse_opt(raw: Option<&str>) -> Result<Option<Self>, crate::domain::InvalidValue> {
        raw.map(Self::parse).transpose()
    }
}
