//! Methods: `&self`, `&mut self`, `self`, `self: Box<Self>`, sync and async, with names built
//! from `self`'s fields.
#![deny(warnings)]

use redis_mutex::mutex;

pub struct Account {
    id: u64,
    owner: (String, u8),
    balance: i64,
}

impl Account {
    #[mutex("account:{self.id}")]
    pub fn balance(&self) -> i64 {
        self.balance
    }

    #[mutex("account:{self.id}", wait = "1s")]
    pub fn deposit(&mut self, cents: i64) -> Result<i64, redis_mutex::Error> {
        self.balance += cents;
        Ok(self.balance)
    }

    #[mutex("owner:{self.owner.0}")]
    pub fn close(self) -> String {
        self.owner.0
    }

    #[mutex("boxed:{self.id}")]
    pub fn boxed(self: Box<Self>) -> u64 {
        self.id
    }

    #[mutex("account:{self.id}")]
    pub async fn balance_async(&self) -> i64 {
        self.balance
    }

    #[mutex("account:{self.id}", guard = lock)]
    pub async fn deposit_async(&mut self, cents: i64) -> Result<i64, redis_mutex::Error> {
        let _ = lock.map(|guard| guard.token().len());
        self.balance += cents;
        Ok(self.balance)
    }

    #[mutex("owner:{self.owner.1}")]
    pub async fn close_async(self) -> u8 {
        self.owner.1
    }

    /// Associated function (no receiver) with `Self` in the signature.
    #[mutex("new:{id}")]
    pub fn new(id: u64) -> Self {
        Account {
            id,
            owner: (String::new(), 0),
            balance: 0,
        }
    }

    #[mutex("new:{id}")]
    pub async fn new_async(id: u64) -> Result<Self, redis_mutex::Error> {
        Ok(Self::new(id))
    }
}

fn assert_send<T: Send>(_: T) {}

/// Runs this case (called by the `ui-pass` binary, tests/ui/pass/main.rs).
pub fn main() {
    if std::env::args().len() > 1000 {
        let mut account = Account::new(1);
        let _ = account.balance();
        let _ = account.deposit(1);
        assert_send(account.balance_async());
        assert_send(account.deposit_async(1));
        assert_send(Account::new_async(2));
        let _ = Box::new(Account::new(3)).boxed();
        assert_send(Account::new(4).close_async());
        let _ = account.close();
    }
}
