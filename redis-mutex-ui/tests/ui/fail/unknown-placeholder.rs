use redis_mutex::mutex;

#[mutex("account:{acount}")]
fn typo(account: u64) {}

#[mutex("account:{id}")]
fn no_arguments() {}

#[mutex("account:{self.id}")]
fn no_receiver(id: u64) {}

fn main() {
    typo(1);
    no_arguments();
    no_receiver(1);
}
