//! Sets commands.

use super::CommandSpec;

#[allow(dead_code)]
const GROUP: &str = "set";

pub static COMMANDS: &[CommandSpec] = &[];
