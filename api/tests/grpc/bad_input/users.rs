//! User calls refuse bad input.

use shop_api::grpc::pb;
use tonic::Code;

use crate::support::{Backend, expect_code, expect_invalid, start};

use super::{MALFORMED_IDS, UNKNOWN_ID};

pub(super) async fn user_calls_refuse_bad_input(backend: Backend) {
    let server = start(backend).await;
    let admin = server.admin().await;
    let mut users = server.users();

    for id in MALFORMED_IDS {
        expect_invalid(
            users
                .get_user(admin.request(pb::GetUserRequest {
                    user_id: id.to_owned(),
                }))
                .await,
            "user_id",
        );
        expect_invalid(
            users
                .update_user(admin.request(pb::UpdateUserRequest {
                    user_id: id.to_owned(),
                    disabled: Some(false),
                    ..Default::default()
                }))
                .await,
            "user_id",
        );
    }
    expect_code(
        users
            .get_user(admin.request(pb::GetUserRequest {
                user_id: UNKNOWN_ID.to_owned(),
            }))
            .await,
        Code::NotFound,
    );

    // Every invalid field is named at once.
    let status = expect_invalid(
        users
            .create_user(pb::CreateUserRequest {
                email: "not-an-email".to_owned(),
                password: "short".to_owned(),
                full_name: String::new(),
                role: 0,
            })
            .await,
        "email",
    );
    for field in ["password", "full_name"] {
        expect_invalid::<()>(Err(status.clone()), field);
    }
    expect_invalid(
        users
            .create_user(pb::CreateUserRequest {
                email: "someone@example.com".to_owned(),
                password: crate::support::PASSWORD.to_owned(),
                full_name: "Some One".to_owned(),
                role: 99,
            })
            .await,
        "role",
    );
    for role in [0, 99] {
        expect_invalid(
            users
                .update_user(admin.request(pb::UpdateUserRequest {
                    user_id: admin.user_id.clone(),
                    role: Some(role),
                    ..Default::default()
                }))
                .await,
            "role",
        );
    }
    expect_invalid(
        users
            .update_user(admin.request(pb::UpdateUserRequest {
                user_id: admin.user_id.clone(),
                email: Some("nope".to_owned()),
                ..Default::default()
            }))
            .await,
        "email",
    );
    expect_code(
        users
            .update_user(admin.request(pb::UpdateUserRequest {
                user_id: UNKNOWN_ID.to_owned(),
                disabled: Some(true),
                ..Default::default()
            }))
            .await,
        Code::NotFound,
    );

    for page_size in [-1, 101, i32::MAX] {
        expect_invalid(
            users
                .list_users(admin.request(pb::ListUsersRequest {
                    page_size,
                    page_token: String::new(),
                }))
                .await,
            "page_size",
        );
    }
    for page_token in ["garbage!!", "bm90LWpzb24"] {
        expect_invalid(
            users
                .list_users(admin.request(pb::ListUsersRequest {
                    page_size: 0,
                    page_token: page_token.to_owned(),
                }))
                .await,
            "page_token",
        );
    }

    // Wrong credentials are UNAUTHENTICATED, whatever is wrong with them.
    for (email, password) in [
        (admin.email.as_str(), "wrong password"),
        ("", ""),
        ("nobody@example.com", crate::support::PASSWORD),
    ] {
        expect_code(
            users
                .login(pb::LoginRequest {
                    email: email.to_owned(),
                    password: password.to_owned(),
                })
                .await,
            Code::Unauthenticated,
        );
    }
}
