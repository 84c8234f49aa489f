use redis_mutex::mutex;

#[mutex("orders", tll = "10s")]
fn typo() {}

#[mutex("orders", blocking = false)]
fn seed_spelling() {}

#[mutex("orders", colour = "red")]
fn unrelated() {}

fn main() {
    typo();
    seed_spelling();
    unrelated();
}
