//! How a failure maps to an exit code: the one fact every error type of the engine
//! (the engine's own and the write-back vocabulary) shares, kept apart so neither depends
//! on the other for it.

/// How a failure maps to an exit code (and, in the web app, to a status class).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitClass {
    /// Something went wrong that the input did not cause: exit code 1.
    Failure,
    /// The request itself was bad (an Id, a setting value, an unknown account): exit code 2.
    Usage,
}

impl ExitClass {
    pub fn code(self) -> u8 {
        match self {
            ExitClass::Failure => 1,
            ExitClass::Usage => 2,
        }
    }
}
