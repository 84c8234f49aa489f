//! `#[mutex]` on the methods of `#[async_trait]` traits and impls (`Send` and `?Send`), on
//! default bodies, with one-line bodies, options and `guard`, and stacked with
//! `#[tracing::instrument]` in either order (both also recognise `#[async_trait]`'s shape).
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
    async fn traced_outer(&self, id: u64) -> u64;
    async fn traced_inner(&self, id: u64) -> redis_mutex::Result<u64>;

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

    #[tracing::instrument(skip(self))]
    #[mutex("traced:{id}")]
    async fn traced_outer(&self, id: u64) -> u64 {
        id
    }

    #[mutex("traced:{id}")]
    #[tracing::instrument(skip(self), err)]
    async fn traced_inner(&self, id: u64) -> redis_mutex::Result<u64> {
        Ok(id)
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

/// Runs this case (called by the `ui-pass` binary, tests/ui/pass/main.rs).
pub fn main() {
    if std::env::args().len() > 1000 {
        let mut store = Memory::default();
        assert_send(store.put("a", 1));
        assert_send(store.get("a".to_owned()));
        assert_send(store.touch("a"));
        assert_send(store.traced_outer(1));
        assert_send(store.traced_inner(1));
        assert_send(store.fencing());
        drop(std::rc::Rc::new(vec![1u8]).count());
    }
}
