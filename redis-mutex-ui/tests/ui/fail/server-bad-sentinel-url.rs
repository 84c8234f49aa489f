use redis_mutex::mutex;

// A Sentinel URL names the master after the sentinels: `.../mymaster`.
#[mutex("orders", server = "redis+sentinel://10.0.0.5:26379,10.0.0.6:26379")]
fn no_master_name() {}

fn main() {
    no_master_name();
}
