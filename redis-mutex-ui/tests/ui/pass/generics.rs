//! Generic functions, `where` clauses, `impl Trait` arguments and returns, lifetimes.
#![deny(warnings)]

use std::fmt::{Debug, Display};

use redis_mutex::mutex;

#[mutex("item:{item}")]
fn generic<T: Display + Clone>(item: T) -> T {
    item.clone()
}

#[mutex("item:{key}")]
fn with_where<K, V>(key: K, value: V) -> Result<V, redis_mutex::Error>
where
    K: Display,
    V: Debug + Send + 'static,
{
    Ok(value)
}

#[mutex("impl:{name}")]
fn impl_trait_argument(name: impl Display, values: impl IntoIterator<Item = u8>) -> u32 {
    values.into_iter().map(u32::from).sum()
}

#[mutex("impl-return")]
fn impl_trait_return() -> impl Display {
    42
}

#[mutex("impl-in-result")]
fn impl_trait_in_result() -> Result<impl Display, redis_mutex::Error> {
    Ok("ok")
}

#[mutex("lifetime")]
fn lifetimes<'a, 'b: 'a>(a: &'a str, _b: &'b str) -> &'a str {
    a
}

#[mutex("elided")]
fn elided(a: &str) -> &str {
    a
}

#[mutex("const-generic")]
fn const_generic<const N: usize>(x: [u8; N]) -> usize {
    x.len()
}

#[mutex("async:{item}")]
async fn async_generic<T>(item: T) -> Result<T, redis_mutex::Error>
where
    T: Display + Send,
{
    Ok(item)
}

#[mutex("async-impl:{name}")]
async fn async_impl_trait(name: impl Display + Send) -> impl Display {
    name.to_string()
}

#[mutex("async-borrow")]
async fn async_borrow<'a>(a: &'a str, b: &'a str) -> &'a str {
    if a.len() > b.len() { a } else { b }
}

#[mutex("dyn")]
fn dyn_return(flag: bool) -> Box<dyn Display> {
    if flag { Box::new(1) } else { Box::new("one") }
}

fn assert_send<T: Send>(_: T) {}

/// Runs this case (called by the `ui-pass` binary, tests/ui/pass/main.rs).
pub fn main() {
    if std::env::args().len() > 1000 {
        let _ = generic(1);
        let _ = with_where("k", 1);
        let _ = impl_trait_argument("x", [1, 2]);
        let _ = impl_trait_return().to_string();
        let _ = impl_trait_in_result().map(|x| x.to_string());
        let _ = lifetimes("a", "b");
        let _ = elided("a");
        let _ = const_generic([1, 2, 3]);
        assert_send(async_generic(1));
        assert_send(async_impl_trait("x"));
        assert_send(async_borrow("a", "b"));
        let _ = dyn_return(true);
    }
}
