//! The deterministic dataset generator.
