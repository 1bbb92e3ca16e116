//! `puppet-catalog`: check, order and diff catalog documents (the commands land with the next commit).

fn main() {}
