//! Sorted sets commands.

use super::CommandSpec;

#[allow(dead_code)]
const GROUP: &str = "sorted_set";

pub static COMMANDS: &[CommandSpec] = &[];
