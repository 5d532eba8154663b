//! rvnest's REST API, in Firecracker's conventions: the types shared by the config
//! file and the API ([`config`], [`types`]), the HTTP server that runs beside the VM
//! on a Unix socket ([`server`], [`http`], [`routes`]) and a client ([`client`]).
//!
//! The endpoints are documented in `api/openapi.yaml`; tests keep the document, the
//! route table and the serde types in agreement.
#![deny(missing_docs)]

pub mod client;
pub mod config;
pub mod http;
pub mod parse;
pub mod routes;
pub mod server;
pub mod types;

/// The OpenAPI 3 document of the API.
pub const OPENAPI_YAML: &str = include_str!("../openapi.yaml");
