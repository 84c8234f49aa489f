use redis_mutex::mutex;

#[mutex("account:{id:?}")]
fn format_spec(id: u64) {}

#[mutex("account:{id")]
fn unclosed(id: u64) {}

#[mutex("account:{}")]
fn empty(id: u64) {}

#[mutex("account:{id + 1}")]
fn expression(id: u64) {}

fn main() {
    format_spec(1);
    unclosed(1);
    empty(1);
    expression(1);
}
