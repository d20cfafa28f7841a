//! `shop.v1.CartService`: the signed-in user's cart, which checkout turns into an order.

use shop_core::{
    app::{AddToCart, UpdateCartItem},
    domain::CartItemId,
};
use tonic::{Request, Response, Status};

use super::{
    Context, convert,
    error::{OrStatus as _, required_id},
    pb::{self, cart_service_server::CartService},
};

#[derive(Debug, Clone)]
pub struct CartApi(pub(super) Context);

#[tonic::async_trait]
impl CartService for CartApi {
    async fn get_cart(
        &self,
        request: Request<pb::GetCartRequest>,
    ) -> Result<Response<pb::GetCartResponse>, Status> {
        let actor = self.0.actor(&request)?;
        let cart = self.0.shop().get_cart(&actor).await.or_status()?;
        Ok(Response::new(pb::GetCartResponse {
            cart: Some(convert::cart(cart)),
        }))
    }

    async fn add_cart_item(
        &self,
        request: Request<pb::AddCartItemRequest>,
    ) -> Result<Response<pb::AddCartItemResponse>, Status> {
        let actor = self.0.actor(&request)?;
        let body = request.into_inner();
        let command = AddToCart {
            product_id: body.product_id,
            quantity: body.quantity,
        };
        let cart = self
            .0
            .shop()
            .add_to_cart(&actor, command)
            .await
            .or_status()?;
        Ok(Response::new(pb::AddCartItemResponse {
            cart: Some(convert::cart(cart)),
        }))
    }

    async fn update_cart_item(
        &self,
        request: Request<pb::UpdateCartItemRequest>,
    ) -> Result<Response<pb::UpdateCartItemResponse>, Status> {
        let actor = self.0.actor(&request)?;
        let body = request.into_inner();
        let id = required_id("item_id", &body.item_id, CartItemId::parse)?;
        let command = UpdateCartItem {
            quantity: body.quantity,
        };
        let cart = self
            .0
            .shop()
            .update_cart_item(&actor, id, command)
            .await
            .or_status()?;
        Ok(Response::new(pb::UpdateCartItemResponse {
            cart: Some(convert::cart(cart)),
        }))
    }

    async fn remove_cart_item(
        &self,
        request: Request<pb::RemoveCartItemRequest>,
    ) -> Result<Response<pb::RemoveCartItemResponse>, Status> {
        let actor = self.0.actor(&request)?;
        let id = required_id("item_id", &request.get_ref().item_id, CartItemId::parse)?;
        let cart = self
            .0
            .shop()
            .remove_cart_item(&actor, id)
            .await
            .or_status()?;
        Ok(Response::new(pb::RemoveCartItemResponse {
            cart: Some(convert::cart(cart)),
        }))
    }

    async fn clear_cart(
        &self,
        request: Request<pb::ClearCartRequest>,
    ) -> Result<Response<pb::ClearCartResponse>, Status> {
        let actor = self.0.actor(&request)?;
        self.0.shop().clear_cart(&actor).await.or_status()?;
        Ok(Response::new(pb::ClearCartResponse {}))
    }
}
