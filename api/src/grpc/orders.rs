//! `shop.v1.OrderService`: checkout, orders, and watching an order's status.

use shop_core::{
    app::{Actor, ChangeOrderStatus, Checkout, ListOrders, RefundCommand},
    domain::{OrderId, OrderStatus, Payment, PaymentStatus, Refund},
    ports::StatusChange,
};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};
use tracing::Instrument as _;

use super::{
    Context, convert,
    error::{self, OrStatus as _, PAGE_FIELDS, invalid_argument, required_id},
    pb::{self, order_service_server::OrderService},
};

#[derive(Debug, Clone)]
pub struct OrderApi(pub(super) Context);

fn order_response(order: shop_core::domain::Order) -> Option<pb::Order> {
    Some(convert::order(order))
}

/// Statuses after which a watch ends: nothing more is expected to happen to the order.
fn ends_watch(status: OrderStatus) -> bool {
    status.is_final() || status == OrderStatus::Delivered
}

#[tonic::async_trait]
impl OrderService for OrderApi {
    async fn create_order(
        &self,
        request: Request<pb::CreateOrderRequest>,
    ) -> Result<Response<pb::CreateOrderResponse>, Status> {
        let actor = self.0.actor(&request)?;
        let body = request.into_inner();
        let command = Checkout {
            idempotency_key: body.idempotency_key,
            shipping_address_id: body.shipping_address_id,
            shipping_method_id: body.shipping_method_id,
        };
        let metrics = &self.0.state.metrics;
        let result = match self.0.shop().checkout(&actor, command).await {
            Ok(result) => result,
            Err(failure) => {
                metrics.checkout_failed(failure.code());
                return Err(error::status(failure));
            }
        };
        if !result.replayed {
            metrics.order_placed(&result.order);
        }
        Ok(Response::new(pb::CreateOrderResponse {
            order: order_response(result.order),
            replayed: result.replayed,
        }))
    }

    async fn get_order(
        &self,
        request: Request<pb::GetOrderRequest>,
    ) -> Result<Response<pb::GetOrderResponse>, Status> {
        let actor = self.0.actor(&request)?;
        let id = required_id("order_id", &request.get_ref().order_id, OrderId::parse)?;
        let order = self.0.shop().get_order(&actor, id).await.or_status()?;
        Ok(Response::new(pb::GetOrderResponse {
            order: order_response(order),
        }))
    }

    async fn get_user_orders(
        &self,
        request: Request<pb::GetUserOrdersRequest>,
    ) -> Result<Response<pb::GetUserOrdersResponse>, Status> {
        let actor = self.0.actor(&request)?;
        let body = request.into_inner();
        let query = ListOrders {
            all_users: false,
            status: convert::order_status_name("status", body.status)?,
            number: Some(body.number).filter(|number| !number.is_empty()),
            limit: convert::page_size(body.page_size)?,
            cursor: convert::page_token(body.page_token),
        };
        let page = self
            .0
            .shop()
            .list_orders(&actor, query)
            .await
            .or_status_renamed(PAGE_FIELDS)?;
        Ok(Response::new(pb::GetUserOrdersResponse {
            next_page_token: convert::next_page_token(&page),
            orders: page.items.into_iter().map(convert::order).collect(),
        }))
    }

    async fn cancel_order(
        &self,
        request: Request<pb::CancelOrderRequest>,
    ) -> Result<Response<pb::CancelOrderResponse>, Status> {
        let actor = self.0.actor(&request)?;
        let id = required_id("order_id", &request.get_ref().order_id, OrderId::parse)?;
        let order = self.0.shop().cancel_order(&actor, id).await.or_status()?;
        Ok(Response::new(pb::CancelOrderResponse {
            order: order_response(order),
        }))
    }

    async fn update_order_status(
        &self,
        request: Request<pb::UpdateOrderStatusRequest>,
    ) -> Result<Response<pb::UpdateOrderStatusResponse>, Status> {
        let actor = self.0.actor(&request)?;
        let body = request.into_inner();
        let id = required_id("order_id", &body.order_id, OrderId::parse)?;
        let status = convert::order_status_name("status", body.status)?
            .ok_or_else(|| invalid_argument("status", "is required"))?;
        let order = self
            .0
            .shop()
            .change_order_status(&actor, id, ChangeOrderStatus { status })
            .await
            .or_status()?;
        Ok(Response::new(pb::UpdateOrderStatusResponse {
            order: order_response(order),
        }))
    }

    type WatchOrderStream = ReceiverStream<Result<pb::WatchOrderResponse, Status>>;

    async fn watch_order(
        &self,
        request: Request<pb::WatchOrderRequest>,
    ) -> Result<Response<Self::WatchOrderStream>, Status> {
        let actor = self.0.actor(&request)?;
        let id = required_id("order_id", &request.get_ref().order_id, OrderId::parse)?;
        // Checked before the stream starts, so a caller who may not see the order gets
        // NOT_FOUND as the call's status rather than an empty stream.
        let history = self.0.shop().order_history(&actor, id).await.or_status()?;
        let first = match history.last() {
            Some(change) => change.clone(),
            // Every order records its first status; should one not, its current status stands in.
            None => {
                let order = self.0.shop().get_order(&actor, id).await.or_status()?;
                StatusChange {
                    from: None,
                    to: order.status,
                    actor: None,
                    at: order.updated_at,
                }
            }
        };
        let (sender, receiver) = mpsc::channel(16);
        let watch = Watch {
            context: self.0.clone(),
            actor,
            id,
            seen: history.len(),
            sender,
        };
        tokio::spawn(watch.run(first).instrument(tracing::Span::current()));
        Ok(Response::new(ReceiverStream::new(receiver)))
    }

    async fn start_payment(
        &self,
        request: Request<pb::StartPaymentRequest>,
    ) -> Result<Response<pb::StartPaymentResponse>, Status> {
        let actor = self.0.actor(&request)?;
        let id = required_id("order_id", &request.get_ref().order_id, OrderId::parse)?;
        let session = self.0.shop().start_payment(&actor, id).await.or_status()?;
        Ok(Response::new(pb::StartPaymentResponse {
            session: Some(pb::PaymentSession {
                provider: session.provider.as_str().to_owned(),
                redirect_url: session.redirect_url,
                token: session.token,
                expire_time: Some(convert::timestamp(session.expires_at)),
            }),
        }))
    }

    async fn list_payments(
        &self,
        request: Request<pb::ListPaymentsRequest>,
    ) -> Result<Response<pb::ListPaymentsResponse>, Status> {
        let actor = self.0.actor(&request)?;
        let id = required_id("order_id", &request.get_ref().order_id, OrderId::parse)?;
        let payments = self.0.shop().list_payments(&actor, id).await.or_status()?;
        let refunds = self.0.shop().list_refunds(&actor, id).await.or_status()?;
        let payments = crate::rest::payments::with_refunds(payments, refunds)
            .into_iter()
            .map(|(payment, refunds)| payment_message(payment, refunds))
            .collect();
        Ok(Response::new(pb::ListPaymentsResponse { payments }))
    }

    async fn refund_order(
        &self,
        request: Request<pb::RefundOrderRequest>,
    ) -> Result<Response<pb::RefundOrderResponse>, Status> {
        let actor = self.0.actor(&request)?;
        let body = request.into_inner();
        let id = required_id("order_id", &body.order_id, OrderId::parse)?;
        let command = RefundCommand {
            amount_minor: body.amount_minor,
            reason: body.reason,
            restock: body.restock,
            idempotency_key: body.idempotency_key,
        };
        let asked_at = chrono::Utc::now();
        let refund = self
            .0
            .shop()
            .refund_order(&actor, id, command)
            .await
            .or_status()?;
        crate::rest::payments::count_new_refund(&self.0.state.metrics, &refund, asked_at);
        Ok(Response::new(pb::RefundOrderResponse {
            refund: Some(refund_message(refund)),
        }))
    }
}

fn refund_message(refund: Refund) -> pb::Refund {
    pb::Refund {
        id: refund.id.to_string(),
        order_id: refund.order_id.to_string(),
        amount: Some(convert::money(refund.amount)),
        reason: refund.reason.to_string(),
        provider: refund.provider,
        provider_reference: refund.provider_reference,
        restock: refund.restock,
        full: refund.full,
        create_time: Some(convert::timestamp(refund.created_at)),
    }
}

fn payment_message(payment: Payment, refunds: Vec<Refund>) -> pb::Payment {
    let status = match payment.status {
        PaymentStatus::Succeeded => pb::PaymentStatus::Succeeded,
        PaymentStatus::Failed => pb::PaymentStatus::Failed,
    };
    pb::Payment {
        id: payment.id.to_string(),
        order_id: payment.order_id.to_string(),
        amount: Some(convert::money(payment.amount)),
        provider: payment.provider.to_string(),
        reference: payment.reference.to_string(),
        status: status.into(),
        failure_reason: payment.failure_reason,
        create_time: Some(convert::timestamp(payment.created_at)),
        refunds: refunds.into_iter().map(refund_message).collect(),
    }
}

/// One `WatchOrder` stream: polls the order's history (replicas share no memory, so polling the
/// database sees changes made anywhere) and sends every change it has not sent yet.
struct Watch {
    context: Context,
    actor: Actor,
    id: OrderId,
    /// How many entries of the history were already accounted for.
    seen: usize,
    sender: mpsc::Sender<Result<pb::WatchOrderResponse, Status>>,
}

impl Watch {
    async fn run(mut self, first: StatusChange) {
        if self
            .sender
            .send(Ok(convert::status_change(&first)))
            .await
            .is_err()
            || ends_watch(first.to)
        {
            return;
        }
        let mut stopping = self.context.stopping.clone();
        let mut ticks = tokio::time::interval(self.context.settings.watch_poll_interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The first tick is immediate; the first status was just sent.
        ticks.tick().await;
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                // The client went away.
                () = self.sender.closed() => return,
                () = super::stopped(&mut stopping) => {
                    let _ = self
                        .sender
                        .send(Err(Status::unavailable("the server is shutting down; watch again")))
                        .await;
                    return;
                }
            }
            let history = match self
                .context
                .shop()
                .order_history(&self.actor, self.id)
                .await
            {
                Ok(history) => history,
                Err(failure) => {
                    let _ = self.sender.send(Err(error::status(failure))).await;
                    return;
                }
            };
            for change in history.iter().skip(self.seen) {
                if self
                    .sender
                    .send(Ok(convert::status_change(change)))
                    .await
                    .is_err()
                    || ends_watch(change.to)
                {
                    return;
                }
            }
            self.seen = history.len();
        }
    }
}
