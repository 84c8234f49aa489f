use redis_mutex::mutex;

// A cluster URL lists its seed nodes with their ports.
#[mutex("orders", server = "redis+cluster://10.0.0.5:7000,10.0.0.6")]
fn on_a_cluster() {}

fn main() {
    on_a_cluster();
}
