//! Lists commands.

use super::CommandSpec;

#[allow(dead_code)]
const GROUP: &str = "list";

pub static COMMANDS: &[CommandSpec] = &[];
