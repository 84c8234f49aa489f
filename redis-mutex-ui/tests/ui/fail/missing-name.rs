use redis_mutex::mutex;

#[mutex(ttl = "10s")]
fn options_only() {}

#[mutex("a", "b")]
fn two_names_without_list() {}

fn main() {
    options_only();
    two_names_without_list();
}
