//! `shop.v1.UserService`.

use shop_core::{
    app::{Actor, ListUsers, RegisterUser, UpdateProfile, UpdateUserAdmin},
    domain::UserId,
};
use tonic::{Request, Response, Status};

use super::{
    Context, convert,
    error::{OrStatus as _, PAGE_FIELDS, required_id},
    pb::{self, user_service_server::UserService},
};

#[derive(Debug, Clone)]
pub struct UserApi(pub(super) Context);

#[tonic::async_trait]
impl UserService for UserApi {
    async fn get_user(
        &self,
        request: Request<pb::GetUserRequest>,
    ) -> Result<Response<pb::GetUserResponse>, Status> {
        let actor = self.0.actor(&request)?;
        let id = required_id("user_id", &request.get_ref().user_id, UserId::parse)?;
        let user = self.0.shop().get_user(&actor, id).await.or_status()?;
        Ok(Response::new(pb::GetUserResponse {
            user: Some(convert::user(user)),
        }))
    }

    async fn create_user(
        &self,
        request: Request<pb::CreateUserRequest>,
    ) -> Result<Response<pb::CreateUserResponse>, Status> {
        let actor = self.0.actor(&request)?;
        let body = request.into_inner();
        let command = RegisterUser {
            email: body.email,
            password: body.password,
            full_name: body.full_name,
            role: convert::role_name("role", body.role)?,
        };
        let user = self
            .0
            .shop()
            .register_user(&actor, command)
            .await
            .or_status()?;
        self.0.state.metrics.users_registered.inc();
        Ok(Response::new(pb::CreateUserResponse {
            user: Some(convert::user(user)),
        }))
    }

    /// Two commands behind one call: account fields (role, disabled) go to the staff command,
    /// first, so a refused change writes nothing; profile fields go to the caller's own profile.
    async fn update_user(
        &self,
        request: Request<pb::UpdateUserRequest>,
    ) -> Result<Response<pb::UpdateUserResponse>, Status> {
        let actor = self.0.actor(&request)?;
        let body = request.into_inner();
        let id = required_id("user_id", &body.user_id, UserId::parse)?;
        let role = match body.role {
            Some(raw) => Some(convert::role_name("role", raw)?.ok_or_else(|| {
                super::error::invalid_argument("role", "must not be ROLE_UNSPECIFIED")
            })?),
            None => None,
        };
        let shop = self.0.shop();
        let mut user = None;
        if role.is_some() || body.disabled.is_some() {
            let command = UpdateUserAdmin {
                role,
                disabled: body.disabled,
            };
            user = Some(
                shop.update_user_admin(&actor, id, command)
                    .await
                    .or_status()?,
            );
        }
        if body.email.is_some() || body.full_name.is_some() {
            // The profile command changes the caller's own account, so the id must be theirs.
            // Anyone else's account is not found, or, for staff who can see it, not theirs to
            // edit.
            if !matches!(actor, Actor::User { id: own, .. } if own == id) {
                shop.get_user(&actor, id).await.or_status()?;
                return Err(super::error::status(shop_core::app::AppError::Forbidden));
            }
            let command = UpdateProfile {
                full_name: body.full_name,
                email: body.email,
            };
            user = Some(shop.update_profile(&actor, command).await.or_status()?);
        }
        let user = match user {
            Some(user) => user,
            // Nothing to change: the account as it is.
            None => shop.get_user(&actor, id).await.or_status()?,
        };
        Ok(Response::new(pb::UpdateUserResponse {
            user: Some(convert::user(user)),
        }))
    }

    async fn list_users(
        &self,
        request: Request<pb::ListUsersRequest>,
    ) -> Result<Response<pb::ListUsersResponse>, Status> {
        let actor = self.0.actor(&request)?;
        let body = request.into_inner();
        let query = ListUsers {
            limit: convert::page_size(body.page_size)?,
            cursor: convert::page_token(body.page_token),
        };
        let page = self
            .0
            .shop()
            .list_users(&actor, query)
            .await
            .or_status_renamed(PAGE_FIELDS)?;
        Ok(Response::new(pb::ListUsersResponse {
            next_page_token: convert::next_page_token(&page),
            users: page.items.into_iter().map(convert::user).collect(),
        }))
    }

    async fn login(
        &self,
        request: Request<pb::LoginRequest>,
    ) -> Result<Response<pb::LoginResponse>, Status> {
        let body = request.into_inner();
        let session = self
            .0
            .shop()
            .login(&body.email, &body.password)
            .await
            .or_status()?;
        Ok(Response::new(convert::session(session)))
    }
}
