use redis_mutex::mutex;

trait Store {
    #[mutex("store")]
    fn put(&self);
}

fn main() {}
