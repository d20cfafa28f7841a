//! The signed-in user's cart.

use super::{Actor, AppError, AppResult, Shop};
use crate::domain::{CartItemId, CartLine, Money, ProductId, Quantity, cart};

#[derive(Debug, Clone, Default)]
pub struct AddToCart {
    pub product_id: String,
    pub quantity: i64,
}

#[derive(Debug, Clone, Default)]
pub struct UpdateCartItem {
    pub quantity: i64,
}

/// The cart as it is now: current prices, and the subtotal when the lines share a currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CartView {
    pub lines: Vec<CartLine>,
    /// `None` for an empty cart or one that mixes currencies (which checkout will refuse).
    pub subtotal: Option<Money>,
    /// The coupon applied to the cart, with the discount it gives now.
    pub coupon: Option<super::CartCoupon>,
}

impl Shop {
    pub async fn get_cart(&self, actor: &Actor) -> AppResult<CartView> {
        let user_id = actor.user_id()?;
        let lines = self.store.cart_lines(user_id).await?;
        let subtotal = cart::subtotal(&lines).ok().flatten();
        let coupon = self.cart_coupon(user_id, &lines).await?;
        Ok(CartView {
            lines,
            subtotal,
            coupon,
        })
    }

    /// Adds units of an active product; asking for more than is in stock is refused here already,
    /// although only checkout can promise the units.
    pub async fn add_to_cart(&self, actor: &Actor, command: AddToCart) -> AppResult<CartView> {
        let user_id = actor.user_id()?;
        let mut errors = super::FieldErrors::default();
        let product_id = errors.check("product_id", ProductId::parse(&command.product_id));
        let quantity = errors.check("quantity", Quantity::new(command.quantity));
        let (Some(product_id), Some(quantity)) = (product_id, quantity) else {
            return Err(errors.into_error());
        };
        let product = self
            .store
            .get_product(product_id)
            .await?
            .filter(|product| product.active)
            .ok_or_else(|| AppError::validation("product_id", "no such product"))?;
        let in_cart = self
            .store
            .cart_lines(user_id)
            .await?
            .into_iter()
            .find(|line| line.product.id == product_id)
            .map_or(0, |line| line.item.quantity.units());
        let wanted = in_cart + quantity.units();
        if wanted > product.stock.units() {
            return Err(AppError::InsufficientStock {
                product_id: Some(product_id),
                requested: wanted,
                available: product.stock.units(),
            });
        }
        match self
            .store
            .add_to_cart(user_id, product_id, quantity, self.clock.now())
            .await
        {
            Err(crate::ports::StoreError::Conflict) => {
                return Err(AppError::validation(
                    "quantity",
                    "a cart line holds at most 1000 units",
                ));
            }
            other => other?,
        };
        self.get_cart(actor).await
    }

    pub async fn update_cart_item(
        &self,
        actor: &Actor,
        item_id: CartItemId,
        command: UpdateCartItem,
    ) -> AppResult<CartView> {
        let user_id = actor.user_id()?;
        let quantity = Quantity::new(command.quantity)
            .map_err(|error| AppError::validation("quantity", error.0))?;
        if !self
            .store
            .set_cart_quantity(user_id, item_id, quantity, self.clock.now())
            .await?
        {
            return Err(AppError::NotFound("cart item"));
        }
        self.get_cart(actor).await
    }

    pub async fn remove_cart_item(
        &self,
        actor: &Actor,
        item_id: CartItemId,
    ) -> AppResult<CartView> {
        let user_id = actor.user_id()?;
        if !self
            .store
            .remove_cart_item(user_id, item_id, self.clock.now())
            .await?
        {
            return Err(AppError::NotFound("cart item"));
        }
        self.get_cart(actor).await
    }

    pub async fn clear_cart(&self, actor: &Actor) -> AppResult<()> {
        let user_id = actor.user_id()?;
        Ok(self.store.clear_cart(user_id).await?)
    }
}
