//! RESP at the edge: request framing in, replies out.

pub mod reply;
pub mod request;

pub use reply::Protocol;
pub use reply::Reply;
pub use reply::encode;
pub use request::Limits;
pub use request::ProtocolError;
pub use request::RequestParser;
