//! A web handler that takes a per-entity lock: two requests paying the same order at once, one
//! pays and the other is answered `409 Conflict` at once; another order is paid meanwhile.
//!
//! No web framework: `pay_order` has the shape of a handler (shared state and a path parameter
//! in, a status and a body out) and `main` sends it requests concurrently.
//!
//! ```text
//! cargo run --example web_handler
//! REDIS_MUTEX_URL=redis://127.0.0.1:6379/ cargo run --example web_handler
//! ```

mod common;

use std::time::Duration;

use redis_mutex::Client;

/// `POST /orders/{order_id}/pay`
async fn pay_order(locks: &Client, order_id: u64) -> (u16, String) {
    let order = match locks.mutex(format!("order:{order_id}")) {
        Ok(order) => order,
        Err(e) => return (500, e.to_string()),
    };
    // Wait a moment for a request that is finishing, never for a whole payment.
    let guard = match order.try_lock_for(Duration::from_millis(50)).await {
        Ok(guard) => guard,
        Err(e) if e.is_contention() => {
            return (
                409,
                format!("order {order_id} is being paid by another request"),
            );
        }
        Err(e) => return (503, format!("cannot lock order {order_id}: {e}")),
    };

    tokio::time::sleep(Duration::from_millis(300)).await; // charge the card, mark the order paid

    match guard.release().await {
        Ok(()) => (200, format!("order {order_id} paid")),
        // The lease ran out during the payment (a long pause): another request may have run.
        Err(e) => (500, format!("order {order_id}: {e}")),
    }
}

#[tokio::main]
async fn main() -> redis_mutex::Result<()> {
    let server = common::server();
    let locks = Client::open(&server.url)?; // real code: Client::from_env()?

    // A double-clicked "pay" button on order 7, and another customer paying order 8.
    let requests: Vec<_> = [7, 7, 8]
        .into_iter()
        .map(|order_id| {
            let locks = locks.clone(); // cheap: clones share one connection
            tokio::spawn(async move { (order_id, pay_order(&locks, order_id).await) })
        })
        .collect();
    for request in requests {
        let (order_id, (status, body)) = request.await.expect("request task");
        println!("POST /orders/{order_id}/pay -> {status} {body}");
    }

    // Once the first payment is over, the lock is free again.
    let (status, body) = pay_order(&locks, 7).await;
    println!("POST /orders/7/pay (later) -> {status} {body}");
    Ok(())
}
