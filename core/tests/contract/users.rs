//! Registration, sign-in, accounts, staff administration and address books.

use shop_core::{
    app::{
        Actor, AddressInput, AppError, ChangePassword, ListUsers, RegisterUser, UpdateProfile,
        UpdateUserAdmin,
    },
    domain::{Role, UserId},
};

use crate::support::{
    PASSWORD, TestShop, actor_of, add_address, address_input, admin, all_users, events_of_type,
    expect_validation, register_admin, register_customer, register_customers,
};

fn registration(email: &str, role: Option<&str>) -> RegisterUser {
    RegisterUser {
        email: email.to_owned(),
        password: PASSWORD.to_owned(),
        full_name: "Ada Lovelace".to_owned(),
        role: role.map(str::to_owned),
    }
}

async fn registration_makes_customers_and_only_staff_make_admins(t: TestShop) {
    let ada = t
        .register_user(&Actor::Anonymous, registration("  Ada@Example.COM ", None))
        .await
        .expect("anyone may register");
    assert_eq!(ada.role, Role::Customer);
    assert_eq!(ada.email.as_str(), "ada@example.com");
    assert!(!ada.disabled);
    assert_eq!(
        t.get_user(&actor_of(&ada), ada.id)
            .await
            .expect("own account"),
        ada
    );

    for actor in [Actor::Anonymous, actor_of(&ada)] {
        let refused = t
            .register_user(&actor, registration("eve@example.com", Some("admin")))
            .await;
        assert!(
            matches!(refused, Err(AppError::Forbidden)),
            "{actor:?}: {refused:?}"
        );
    }
    let explicit_customer = t
        .register_user(
            &Actor::Anonymous,
            registration("bob@example.com", Some("customer")),
        )
        .await
        .expect("asking to be a customer is fine");
    assert_eq!(explicit_customer.role, Role::Customer);

    let root = t
        .register_user(
            &Actor::System,
            registration("root@example.com", Some("admin")),
        )
        .await
        .expect("the system creates administrators");
    assert_eq!(root.role, Role::Admin);
    let second = t
        .register_user(
            &actor_of(&root),
            registration("ops@example.com", Some("admin")),
        )
        .await
        .expect("administrators create administrators");
    assert_eq!(second.role, Role::Admin);

    let users = all_users(&t).await;
    let mut emails: Vec<&str> = users.iter().map(|user| user.email.as_str()).collect();
    emails.sort_unstable();
    assert_eq!(
        emails,
        [
            "ada@example.com",
            "bob@example.com",
            "ops@example.com",
            "root@example.com"
        ],
        "the refused registrations stored nobody"
    );
    let registered = events_of_type(&t, "dev.shop.user.registered.v1").await;
    assert_eq!(registered.len(), 4, "one event per registered user");
    assert!(
        registered
            .iter()
            .any(|event| event.payload["user_id"] == ada.id.to_string()
                && event.payload["email"] == "ada@example.com"
                && event.subject == format!("users/{}", ada.id))
    );
}

async fn duplicate_emails_are_refused_whatever_their_case(t: TestShop) {
    let (ada, _) = register_customer(&t, "ada@example.com").await;
    let duplicate = t
        .register_user(&Actor::Anonymous, registration("ADA@Example.com", None))
        .await;
    assert!(
        matches!(duplicate, Err(AppError::AlreadyExists { field: "email" })),
        "{duplicate:?}"
    );
    assert_eq!(all_users(&t).await, vec![ada.clone()]);
    assert_eq!(
        events_of_type(&t, "dev.shop.user.registered.v1")
            .await
            .len(),
        1
    );

    // Taking someone's address through a profile change is refused the same way.
    let (bob, bob_actor) = register_customer(&t, "bob@example.com").await;
    let taken = t
        .update_profile(
            &bob_actor,
            UpdateProfile {
                email: Some("Ada@example.com".into()),
                ..UpdateProfile::default()
            },
        )
        .await;
    assert!(
        matches!(taken, Err(AppError::AlreadyExists { field: "email" })),
        "{taken:?}"
    );
    assert_eq!(t.get_user(&admin(), bob.id).await.expect("bob"), bob);
}

async fn authentication_checks_passwords_and_disabled_accounts(t: TestShop) {
    let (ada, _) = register_customer(&t, "ada@example.com").await;
    let signed_in = t
        .authenticate("ADA@example.com", PASSWORD)
        .await
        .expect("the right password signs in, whatever the e-mail's case");
    assert_eq!(signed_in.id, ada.id);

    for (email, password) in [
        ("ada@example.com", "wrong password"),
        ("nobody@example.com", PASSWORD),
        ("not an e-mail", PASSWORD),
        ("ada@example.com", "short"),
    ] {
        let refused = t.authenticate(email, password).await;
        assert!(
            matches!(refused, Err(AppError::InvalidCredentials)),
            "{email}/{password}: {refused:?}"
        );
    }

    let disabled = t
        .update_user_admin(
            &admin(),
            ada.id,
            UpdateUserAdmin {
                disabled: Some(true),
                ..UpdateUserAdmin::default()
            },
        )
        .await
        .expect("staff disable accounts");
    assert!(disabled.disabled);
    let refused = t.authenticate("ada@example.com", PASSWORD).await;
    assert!(
        matches!(refused, Err(AppError::AccountDisabled)),
        "{refused:?}"
    );
    // A wrong password does not reveal that the account exists but is disabled.
    let refused = t.authenticate("ada@example.com", "wrong password").await;
    assert!(
        matches!(refused, Err(AppError::InvalidCredentials)),
        "{refused:?}"
    );

    t.update_user_admin(
        &admin(),
        ada.id,
        UpdateUserAdmin {
            disabled: Some(false),
            ..UpdateUserAdmin::default()
        },
    )
    .await
    .expect("staff enable accounts");
    t.authenticate("ada@example.com", PASSWORD)
        .await
        .expect("enabled again");
}

async fn users_see_only_their_own_account(t: TestShop) {
    let (ada, ada_actor) = register_customer(&t, "ada@example.com").await;
    let (bob, bob_actor) = register_customer(&t, "bob@example.com").await;
    let (_, admin_actor) = register_admin(&t, "root@example.com").await;

    assert_eq!(t.get_user(&ada_actor, ada.id).await.expect("own"), ada);
    assert_eq!(t.current_user(&bob_actor).await.expect("own"), bob);
    let other = t.get_user(&ada_actor, bob.id).await;
    assert!(matches!(other, Err(AppError::NotFound(_))), "{other:?}");
    for staff in [admin(), admin_actor] {
        assert_eq!(
            t.get_user(&staff, bob.id).await.expect("staff see all"),
            bob
        );
        let unknown = t.get_user(&staff, UserId::new()).await;
        assert!(matches!(unknown, Err(AppError::NotFound(_))), "{unknown:?}");
    }
    let anonymous = t.get_user(&Actor::Anonymous, ada.id).await;
    assert!(
        matches!(anonymous, Err(AppError::Unauthenticated)),
        "{anonymous:?}"
    );
    let anonymous = t.current_user(&Actor::Anonymous).await;
    assert!(
        matches!(anonymous, Err(AppError::Unauthenticated)),
        "{anonymous:?}"
    );
}

async fn listing_users_pages_newest_first_for_staff_only(t: TestShop) {
    let registered = register_customers(&t, "user", 5).await;
    let customer = registered[0].1;
    let mut expected: Vec<UserId> = registered.iter().map(|(user, _)| user.id).collect();
    expected.sort_unstable_by(|a, b| b.cmp(a));

    let mut seen = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = t
            .list_users(
                &admin(),
                ListUsers {
                    limit: Some(2),
                    cursor: cursor.take(),
                },
            )
            .await
            .expect("a page of users");
        pages += 1;
        assert!(page.items.len() <= 2);
        seen.extend(page.items.iter().map(|user| user.id));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, expected, "every user once, newest first");
    assert_eq!(pages, 3);

    let everyone = t
        .list_users(&admin(), ListUsers::default())
        .await
        .expect("one page holds them all");
    assert_eq!(everyone.items.len(), 5);
    assert_eq!(everyone.next_cursor, None);

    let forbidden = t.list_users(&customer, ListUsers::default()).await;
    assert!(
        matches!(forbidden, Err(AppError::Forbidden)),
        "{forbidden:?}"
    );
    let anonymous = t.list_users(&Actor::Anonymous, ListUsers::default()).await;
    assert!(
        matches!(anonymous, Err(AppError::Unauthenticated)),
        "{anonymous:?}"
    );
}

async fn profiles_change_names_and_emails(t: TestShop) {
    let (ada, actor) = register_customer(&t, "ada@example.com").await;
    let renamed = t
        .update_profile(
            &actor,
            UpdateProfile {
                full_name: Some("  Ada King ".into()),
                ..UpdateProfile::default()
            },
        )
        .await
        .expect("rename");
    assert_eq!(renamed.full_name.as_str(), "Ada King");
    assert_eq!(
        renamed.email, ada.email,
        "the e-mail was not asked to change"
    );

    let moved = t
        .update_profile(
            &actor,
            UpdateProfile {
                email: Some("Countess@Example.com".into()),
                ..UpdateProfile::default()
            },
        )
        .await
        .expect("new e-mail");
    assert_eq!(moved.email.as_str(), "countess@example.com");
    assert_eq!(moved.full_name.as_str(), "Ada King");
    assert_eq!(t.get_user(&actor, ada.id).await.expect("stored"), moved);
    t.authenticate("countess@example.com", PASSWORD)
        .await
        .expect("signs in with the new e-mail");
    let old = t.authenticate("ada@example.com", PASSWORD).await;
    assert!(matches!(old, Err(AppError::InvalidCredentials)), "{old:?}");

    let anonymous = t
        .update_profile(&Actor::Anonymous, UpdateProfile::default())
        .await;
    assert!(
        matches!(anonymous, Err(AppError::Unauthenticated)),
        "{anonymous:?}"
    );
}

async fn changing_passwords_requires_the_current_one(t: TestShop) {
    let (ada, actor) = register_customer(&t, "ada@example.com").await;
    let wrong = t
        .change_password(
            &actor,
            ChangePassword {
                current_password: "not my password".into(),
                new_password: "a brand new secret".into(),
            },
        )
        .await;
    expect_validation(wrong, &["current_password"]);
    let too_short = t
        .change_password(
            &actor,
            ChangePassword {
                current_password: PASSWORD.into(),
                new_password: "short".into(),
            },
        )
        .await;
    expect_validation(too_short, &["new_password"]);
    t.authenticate("ada@example.com", PASSWORD)
        .await
        .expect("refused changes keep the old password");

    t.change_password(
        &actor,
        ChangePassword {
            current_password: PASSWORD.into(),
            new_password: "a brand new secret".into(),
        },
    )
    .await
    .expect("change");
    let signed_in = t
        .authenticate("ada@example.com", "a brand new secret")
        .await
        .expect("the new password works");
    assert_eq!(signed_in.id, ada.id);
    let old = t.authenticate("ada@example.com", PASSWORD).await;
    assert!(matches!(old, Err(AppError::InvalidCredentials)), "{old:?}");
}

async fn staff_change_roles_and_disable_accounts_but_not_their_own(t: TestShop) {
    let (root, root_actor) = register_admin(&t, "root@example.com").await;
    let (ada, ada_actor) = register_customer(&t, "ada@example.com").await;

    let promoted = t
        .update_user_admin(
            &root_actor,
            ada.id,
            UpdateUserAdmin {
                role: Some("admin".into()),
                ..UpdateUserAdmin::default()
            },
        )
        .await
        .expect("promote");
    assert_eq!(promoted.role, Role::Admin);
    assert!(!promoted.disabled);
    assert_eq!(
        t.get_user(&admin(), ada.id).await.expect("stored").role,
        Role::Admin
    );

    let demoted = t
        .update_user_admin(
            &root_actor,
            ada.id,
            UpdateUserAdmin {
                role: Some("customer".into()),
                disabled: Some(true),
            },
        )
        .await
        .expect("demote and disable");
    assert_eq!((demoted.role, demoted.disabled), (Role::Customer, true));
    assert_eq!(t.get_user(&admin(), ada.id).await.expect("stored"), demoted);

    for command in [
        UpdateUserAdmin {
            role: Some("customer".into()),
            ..UpdateUserAdmin::default()
        },
        UpdateUserAdmin {
            disabled: Some(true),
            ..UpdateUserAdmin::default()
        },
    ] {
        let refused = t
            .update_user_admin(&root_actor, root.id, command.clone())
            .await;
        assert!(
            matches!(refused, Err(AppError::Rule(_))),
            "{command:?}: {refused:?}"
        );
    }
    let unchanged = t.get_user(&admin(), root.id).await.expect("root");
    assert_eq!((unchanged.role, unchanged.disabled), (Role::Admin, false));
    // Confirming one's own role is not a demotion.
    t.update_user_admin(
        &root_actor,
        root.id,
        UpdateUserAdmin {
            role: Some("admin".into()),
            disabled: Some(false),
        },
    )
    .await
    .expect("an admin may keep being an admin");

    let forbidden = t
        .update_user_admin(&ada_actor, root.id, UpdateUserAdmin::default())
        .await;
    assert!(
        matches!(forbidden, Err(AppError::Forbidden)),
        "{forbidden:?}"
    );
    let anonymous = t
        .update_user_admin(&Actor::Anonymous, root.id, UpdateUserAdmin::default())
        .await;
    assert!(
        matches!(anonymous, Err(AppError::Unauthenticated)),
        "{anonymous:?}"
    );
    let unknown = t
        .update_user_admin(&admin(), UserId::new(), UpdateUserAdmin::default())
        .await;
    assert!(matches!(unknown, Err(AppError::NotFound(_))), "{unknown:?}");
}

async fn address_books_keep_one_default(t: TestShop) {
    let (_, ada) = register_customer(&t, "ada@example.com").await;
    let (_, bob) = register_customer(&t, "bob@example.com").await;

    let home = add_address(&t, &ada, "Ada at home").await;
    assert!(home.is_default, "the first address is the default");
    let work = add_address(&t, &ada, "Ada at work").await;
    assert!(!work.is_default);
    let defaults = |addresses: &[shop_core::domain::Address]| {
        addresses
            .iter()
            .filter(|address| address.is_default)
            .map(|address| address.id)
            .collect::<Vec<_>>()
    };
    let listed = t.list_addresses(&ada).await.expect("list");
    assert_eq!(
        listed.iter().map(|a| a.id).collect::<Vec<_>>(),
        vec![home.id, work.id]
    );
    assert_eq!(listed[0], home, "stored as returned");
    assert_eq!(listed[0].fields.country.as_str(), "US");

    let cottage = t
        .add_address(
            &ada,
            AddressInput {
                is_default: true,
                ..address_input("Ada at the cottage")
            },
        )
        .await
        .expect("a new default");
    let listed = t.list_addresses(&ada).await.expect("list");
    assert_eq!(
        defaults(&listed),
        vec![cottage.id],
        "the old default is cleared"
    );

    let updated = t
        .update_address(
            &ada,
            work.id,
            AddressInput {
                city: "Shelbyville".into(),
                is_default: true,
                ..address_input("Ada at work")
            },
        )
        .await
        .expect("update");
    assert_eq!(updated.fields.city.as_str(), "Shelbyville");
    let listed = t.list_addresses(&ada).await.expect("list");
    assert_eq!(defaults(&listed), vec![work.id]);
    assert_eq!(
        listed.iter().find(|a| a.id == work.id),
        Some(&updated),
        "stored as returned"
    );

    // Someone else's address is not there for them.
    let foreign_update = t.update_address(&bob, work.id, address_input("Bob")).await;
    assert!(
        matches!(foreign_update, Err(AppError::NotFound(_))),
        "{foreign_update:?}"
    );
    let foreign_remove = t.remove_address(&bob, work.id).await;
    assert!(
        matches!(foreign_remove, Err(AppError::NotFound(_))),
        "{foreign_remove:?}"
    );
    assert!(t.list_addresses(&bob).await.expect("bob's").is_empty());
    assert_eq!(
        t.list_addresses(&ada).await.expect("ada's"),
        listed,
        "untouched"
    );

    t.remove_address(&ada, home.id).await.expect("remove");
    let listed = t.list_addresses(&ada).await.expect("list");
    assert_eq!(
        listed.iter().map(|a| a.id).collect::<Vec<_>>(),
        vec![work.id, cottage.id]
    );
    let again = t.remove_address(&ada, home.id).await;
    assert!(matches!(again, Err(AppError::NotFound(_))), "{again:?}");

    let anonymous = t.list_addresses(&Actor::Anonymous).await;
    assert!(
        matches!(anonymous, Err(AppError::Unauthenticated)),
        "{anonymous:?}"
    );
}

async fn address_books_are_bounded(t: TestShop) {
    let (_, ada) = register_customer(&t, "ada@example.com").await;
    for n in 0..20 {
        add_address(&t, &ada, &format!("Recipient {n}")).await;
    }
    let refused = t.add_address(&ada, address_input("One too many")).await;
    assert!(matches!(refused, Err(AppError::Rule(_))), "{refused:?}");
    assert_eq!(t.list_addresses(&ada).await.expect("list").len(), 20);
}

contract_tests! {
    registration_makes_customers_and_only_staff_make_admins,
    duplicate_emails_are_refused_whatever_their_case,
    authentication_checks_passwords_and_disabled_accounts,
    users_see_only_their_own_account,
    listing_users_pages_newest_first_for_staff_only,
    profiles_change_names_and_emails,
    changing_passwords_requires_the_current_one,
    staff_change_roles_and_disable_accounts_but_not_their_own,
    address_books_keep_one_default,
    address_books_are_bounded,
}
