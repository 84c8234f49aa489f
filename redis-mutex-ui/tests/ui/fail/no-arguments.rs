use redis_mutex::mutex;

#[mutex]
fn no_name() {}

#[mutex()]
fn empty_parens() {}

fn main() {
    no_name();
    empty_parens();
}
