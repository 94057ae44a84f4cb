//! Errors at the edge and their wire text. This is the only place Redis
//! error strings are written: shard errors ([`OpError`]) and command errors
//! ([`CmdError`]) both become a [`Reply::Error`] here, exactly once.

use shardis_shards::error::OpError;
use thiserror::Error;

use crate::resp::Reply;

/// Why a command was refused before (or instead of) reaching a shard.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum CmdError {
    #[error("wrong number of arguments for '{0}' command")]
    WrongArity(String),
    #[error("unknown command")]
    UnknownCommand { name: String, args: String },
    #[error("unknown subcommand")]
    UnknownSubcommand { command: String, sub: String },
    #[error("syntax error")]
    Syntax,
    #[error("not an integer")]
    NotInteger,
    #[error("not a float")]
    NotFloat,
    #[error("invalid expire time")]
    InvalidExpire(&'static str),
    #[error("decrement would overflow")]
    DecrementOverflow,
    #[error("offset is out of range")]
    OffsetOutOfRange,
    #[error("invalid cursor")]
    InvalidCursor,
    #[error("DB index is out of range")]
    DbIndexOutOfRange,
    #[error("NX and XX, GT or LT options at the same time are not compatible")]
    ExpireNxConflict,
    #[error("GT and LT options at the same time are not compatible")]
    ExpireGtLtConflict,
    #[error("unsupported option")]
    UnsupportedOption(String),
    #[error("unsupported protocol version")]
    NoProto,
    #[error("unknown CONFIG SET option")]
    ConfigSetUnknown(String),
    #[error("invalid CONFIG SET value")]
    ConfigSetInvalid { name: String, reason: String },
    #[error("Client names cannot contain spaces, newlines or special characters.")]
    BadClientName,
    #[error("no such client")]
    NoSuchClient,
    /// A fixed Redis error text; `ERR ` is prepended on the wire.
    #[error("{0}")]
    Text(&'static str),
    #[error("shard operation failed")]
    Op(#[from] OpError),
}

impl CmdError {
    /// The Redis error reply for this error.
    pub fn to_reply(&self) -> Reply {
        Reply::error(match self {
            CmdError::WrongArity(cmd) => {
                format!("ERR wrong number of arguments for '{cmd}' command")
            }
            CmdError::UnknownCommand { name, args } => {
                format!("ERR unknown command '{name}', with args beginning with: {args}")
            }
            CmdError::UnknownSubcommand { command, sub } => {
                format!(
                    "ERR unknown subcommand '{sub}'. Try {} HELP.",
                    command.to_uppercase()
                )
            }
            CmdError::Syntax => "ERR syntax error".into(),
            CmdError::NotInteger => "ERR value is not an integer or out of range".into(),
            CmdError::NotFloat => "ERR value is not a valid float".into(),
            CmdError::InvalidExpire(cmd) => format!("ERR invalid expire time in '{cmd}' command"),
            CmdError::DecrementOverflow => "ERR decrement would overflow".into(),
            CmdError::OffsetOutOfRange => "ERR offset is out of range".into(),
            CmdError::InvalidCursor => "ERR invalid cursor".into(),
            CmdError::DbIndexOutOfRange => "ERR DB index is out of range".into(),
            CmdError::ExpireNxConflict => {
                "ERR NX and XX, GT or LT options at the same time are not compatible".into()
            }
            CmdError::ExpireGtLtConflict => {
                "ERR GT and LT options at the same time are not compatible".into()
            }
            CmdError::UnsupportedOption(o) => format!("ERR Unsupported option {o}"),
            CmdError::NoProto => "NOPROTO unsupported protocol version".into(),
            CmdError::ConfigSetUnknown(name) => {
                format!("ERR Unknown option or number of arguments for CONFIG SET - '{name}'")
            }
            CmdError::ConfigSetInvalid { name, reason } => {
                format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {reason}")
            }
            CmdError::BadClientName => {
                "ERR Client names cannot contain spaces, newlines or special characters.".into()
            }
            CmdError::NoSuchClient => "ERR No such client".into(),
            CmdError::Text(what) => format!("ERR {what}"),
            CmdError::Op(e) => return op_error_reply(e),
        })
    }
}

/// The Redis error reply for a shard error.
pub fn op_error_reply(e: &OpError) -> Reply {
    Reply::error(match e {
        OpError::WrongType => {
            "WRONGTYPE Operation against a key holding the wrong kind of value".to_string()
        }
        OpError::NotInteger => "ERR value is not an integer or out of range".into(),
        OpError::NotFloat => "ERR value is not a valid float".into(),
        OpError::HashNotInteger => "ERR hash value is not an integer".into(),
        OpError::HashNotFloat => "ERR hash value is not a float".into(),
        OpError::Overflow => "ERR increment or decrement would overflow".into(),
        OpError::NanOrInfinity => "ERR increment would produce NaN or Infinity".into(),
        OpError::TooLarge => "ERR string exceeds maximum allowed size (proto-max-bulk-len)".into(),
        OpError::NoSuchKey => "ERR no such key".into(),
        OpError::NoLeader => "TRYAGAIN no leader for this shard yet, try again".into(),
        OpError::Storage(why) => format!("IOERR storage failure, writes refused: {why}"),
        OpError::IndexOutOfRange => "ERR index out of range".into(),
        OpError::BusyKey => "BUSYKEY Target key name already exists.".into(),
        OpError::BadDataFormat => "ERR Bad data format".into(),
        OpError::ScoreNaN => "ERR resulting score is not a number (NaN)".into(),
    })
}

/// Reply for a protocol violation; the connection closes after it.
pub fn protocol_error_reply(text: &str) -> Reply {
    Reply::error(format!("ERR Protocol error: {text}"))
}

/// Reply sent to a connection refused by `maxclients`.
pub const MAX_CLIENTS_REPLY: &[u8] = b"-ERR max number of clients reached\r\n";
