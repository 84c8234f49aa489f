//! Items and `use`s in the body do not change what the generated code means: the body's
//! statements share the function's block (sync) or an `async move` block, and the expansion
//! names no type from the signature there (tracing#3306).
#![deny(warnings)]

use redis_mutex::mutex;

type Foo = ();

#[allow(dead_code)]
enum Bar {
    Foo,
}

/// A glob import shadows the return type's name inside the body.
#[mutex("shadow")]
fn glob_import_shadows_return_type() -> Foo {
    use Bar::*;
    let _ = Foo;
}

#[mutex("shadow")]
async fn async_glob_import_shadows_return_type() -> Foo {
    use Bar::*;
    let _ = Foo;
}

/// The body defines its own `Result`: the function still returns lock errors as its `Err`.
#[mutex("shadow", wait = "0s")]
fn local_result_alias() -> Result<u32, redis_mutex::Error> {
    #[allow(dead_code)]
    type Result = ();
    Ok(1)
}

#[mutex("shadow", wait = "0s")]
async fn async_local_result_alias() -> Result<u32, redis_mutex::Error> {
    #[allow(dead_code)]
    struct Result;
    Ok(1)
}

/// An item named like the generated code's helpers.
#[mutex("shadow")]
fn local_items_named_like_generated_code() -> u32 {
    #[allow(dead_code, non_snake_case)]
    fn __redis_mutex_fail() {}
    #[allow(dead_code)]
    struct Tag;
    1
}

/// Runs this case (called by the `ui-pass` binary, tests/ui/pass/main.rs).
pub fn main() {
    if std::env::args().len() > 1000 {
        glob_import_shadows_return_type();
        let _ = (local_result_alias(), local_items_named_like_generated_code());
        drop((
            async_glob_import_shadows_return_type(),
            async_local_result_alias(),
        ));
    }
}
