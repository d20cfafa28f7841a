//! Users and addresses refuse bad values.

use shop_core::app::{AddressInput, ListUsers, RegisterUser, UpdateProfile, UpdateUserAdmin};

use crate::support::{
    PASSWORD, TestShop, add_address, address_input, admin, expect_validation, register_customer,
    snapshot,
};

pub(super) async fn users_and_addresses_refuse_bad_values(t: TestShop) {
    let (ada_user, ada) = register_customer(&t, "ada@example.com").await;
    let home = add_address(&t, &ada, "Ada").await;
    let before = snapshot(&t).await;
    let addresses = t.list_addresses(&ada).await.expect("addresses");

    let register = |email: &str, password: &str, name: &str, role: Option<&str>| RegisterUser {
        email: email.into(),
        password: password.into(),
        full_name: name.into(),
        role: role.map(str::to_owned),
    };
    for (command, fields) in [
        (
            register("not-an-email", PASSWORD, "Bob", None),
            vec!["email"],
        ),
        (
            register("bob@localhost", PASSWORD, "Bob", None),
            vec!["email"],
        ),
        (register("", PASSWORD, "Bob", None), vec!["email"]),
        (
            register("bob@example.com", "short", "Bob", None),
            vec!["password"],
        ),
        (
            register("bob@example.com", "        ", "Bob", None),
            vec!["password"],
        ),
        (
            register("bob@example.com", &"x".repeat(129), "Bob", None),
            vec!["password"],
        ),
        (
            register("bob@example.com", PASSWORD, "   ", None),
            vec!["full_name"],
        ),
        (
            register("bob@example.com", PASSWORD, &"n".repeat(101), None),
            vec!["full_name"],
        ),
        (
            register("bob@example.com", PASSWORD, "Bob", Some("root")),
            vec!["role"],
        ),
        (
            register("bob", "short", "", Some("Admin")),
            vec!["email", "password", "full_name", "role"],
        ),
    ] {
        let refused = t.register_user(&admin(), command.clone()).await;
        expect_validation(refused, &fields);
    }

    for (command, fields) in [
        (
            UpdateProfile {
                email: Some("nope".into()),
                ..UpdateProfile::default()
            },
            vec!["email"],
        ),
        (
            UpdateProfile {
                full_name: Some(" ".into()),
                ..UpdateProfile::default()
            },
            vec!["full_name"],
        ),
        (
            UpdateProfile {
                full_name: Some("Bad\u{0}Name".into()),
                email: Some("@example.com".into()),
            },
            vec!["email", "full_name"],
        ),
    ] {
        expect_validation(t.update_profile(&ada, command).await, &fields);
    }
    let bad_role = t
        .update_user_admin(
            &admin(),
            ada_user.id,
            UpdateUserAdmin {
                role: Some("superuser".into()),
                disabled: Some(true),
            },
        )
        .await;
    expect_validation(bad_role, &["role"]);
    expect_validation(
        t.list_users(
            &admin(),
            ListUsers {
                limit: Some(0),
                cursor: None,
            },
        )
        .await,
        &["limit"],
    );
    expect_validation(
        t.list_users(
            &admin(),
            ListUsers {
                limit: Some(101),
                cursor: None,
            },
        )
        .await,
        &["limit"],
    );
    for cursor in ["garbage!", "bm90LWpzb24", ""] {
        expect_validation(
            t.list_users(
                &admin(),
                ListUsers {
                    limit: None,
                    cursor: Some(cursor.into()),
                },
            )
            .await,
            &["cursor"],
        );
    }

    let valid = address_input("Ada");
    for (input, fields) in [
        (
            AddressInput {
                country: "DEU".into(),
                ..valid.clone()
            },
            vec!["country"],
        ),
        (
            AddressInput {
                country: "1A".into(),
                ..valid.clone()
            },
            vec!["country"],
        ),
        (
            AddressInput {
                recipient: String::new(),
                ..valid.clone()
            },
            vec!["recipient"],
        ),
        (
            AddressInput {
                line1: " ".into(),
                city: String::new(),
                postal_code: "9".repeat(21),
                ..valid.clone()
            },
            vec!["line1", "city", "postal_code"],
        ),
        (
            AddressInput {
                phone: Some("1".repeat(31)),
                line2: Some("x".repeat(201)),
                region: Some("r".repeat(101)),
                ..valid.clone()
            },
            vec!["phone", "line2", "region"],
        ),
    ] {
        expect_validation(t.add_address(&ada, input.clone()).await, &fields);
        expect_validation(t.update_address(&ada, home.id, input).await, &fields);
    }
    expect_validation(
        t.change_password(
            &ada,
            shop_core::app::ChangePassword {
                current_password: PASSWORD.into(),
                new_password: "1234567".into(),
            },
        )
        .await,
        &["new_password"],
    );

    assert_eq!(snapshot(&t).await, before, "nothing was stored or changed");
    assert_eq!(t.list_addresses(&ada).await.expect("addresses"), addresses);
    t.authenticate("ada@example.com", PASSWORD)
        .await
        .expect("the password is unchanged");
}
