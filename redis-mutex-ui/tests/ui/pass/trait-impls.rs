//! Methods of trait impls, sync and async (native `async fn` in traits), and default bodies.
#![deny(warnings)]

use redis_mutex::mutex;

pub trait Store {
    fn put(&mut self, key: &str, value: u64) -> Result<(), redis_mutex::Error>;
    fn get(&self, key: &str) -> Option<u64>;
    fn load(&self, key: &str) -> impl Future<Output = Option<u64>> + Send;

    /// A default body can be annotated too.
    #[mutex("store:{key}")]
    fn touch(&self, key: &str) -> bool {
        self.get(key).is_some()
    }
}

#[derive(Default)]
pub struct Memory(std::collections::HashMap<String, u64>);

impl Store for Memory {
    #[mutex("store:{key}", wait = "1s")]
    fn put(&mut self, key: &str, value: u64) -> Result<(), redis_mutex::Error> {
        self.0.insert(key.to_owned(), value);
        Ok(())
    }

    #[mutex("store:{key}")]
    fn get(&self, key: &str) -> Option<u64> {
        self.0.get(key).copied()
    }

    #[mutex("store:{key}")]
    async fn load(&self, key: &str) -> Option<u64> {
        self.0.get(key).copied()
    }
}

impl std::fmt::Display for Memory {
    #[mutex("display")]
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} entries", self.0.len())
    }
}

/// Runs this case (called by the `ui-pass` binary, tests/ui/pass/main.rs).
pub fn main() {
    if std::env::args().len() > 1000 {
        let mut store = Memory::default();
        let _ = store.put("a", 1);
        let _ = (store.get("a"), store.touch("a"), store.to_string());
        drop(store.load("a"));
    }
}
