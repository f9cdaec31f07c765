"""The concurrency lab's harness: launch each server variant, load it, wait for its
background work, and report what was measured beside what theory expects."""
