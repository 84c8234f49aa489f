use redis_mutex::mutex;

#[mutex("")]
fn empty() {}

#[mutex(["a", ""])]
fn empty_in_list() {}

fn main() {
    empty();
    empty_in_list();
}
