//! `#[mutex]` on the methods of `#[async_trait]` traits and impls (`Send` and `?Send`), on
//! default bodies, with one-line bodies, options and `guard`.
#![deny(warnings)]

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use redis_mutex::mutex;

#[async_trait]
pub trait Store {
    async fn put(&self, key: &str, value: u64) -> redis_mutex::Result<()>;
    async fn get(&self, key: String) -> Option<u64>;
    async fn fencing(&mut self) -> Result<Option<u64>, redis_mutex::Error>;

    /// A default body can be annotated too.
    #[mutex("store:{key}")]
    async fn touch(&self, key: &str) -> bool {
        self.get(key.to_owned()).await.is_some()
    }
}

#[derive(Default)]
pub struct Memory(Mutex<HashMap<String, u64>>);

#[async_trait]
impl Store for Memory {
    #[mutex("store:{key}", wait = "1s")]
    async fn put(&self, key: &str, value: u64) -> redis_mutex::Result<()> {
        self.0.lock().unwrap().insert(key.to_owned(), value);
        Ok(())
    }

    #[mutex("store:{key}")]
    async fn get(&self, key: String) -> Option<u64> { self.0.lock().unwrap().get(&key).copied() }

    #[mutex("fenced", fencing = true, guard = lock, on_lost = "cancel")]
    async fn fencing(&mut self) -> Result<Option<u64>, redis_mutex::Error> {
        Ok(lock.and_then(|guard| guard.fencing_token()))
    }
}

#[async_trait(?Send)]
pub trait Local {
    async fn count(&self) -> usize;
}

#[async_trait(?Send)]
impl Local for std::rc::Rc<Vec<u8>> {
    #[mutex("local")]
    async fn count(&self) -> usize {
        self.len()
    }
}

fn assert_send<T: Send>(_: T) {}

fn main() {
    if std::env::args().len() > 1000 {
        let mut store = Memory::default();
        assert_send(store.put("a", 1));
        assert_send(store.get("a".to_owned()));
        assert_send(store.touch("a"));
        assert_send(store.fencing());
        drop(std::rc::Rc::new(vec![1u8]).count());
    }
}
