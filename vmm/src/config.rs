//! VM configuration for `rvnest --config-file FILE`, in Firecracker's format. The
//! types live in the `api` crate because a config file is exactly the bodies of the
//! API's PUT requests; see [`api::config`].

pub use api::config::*;
pub use api::parse::FieldError;
