//! Benches live in `benches/benches/`; results and commands in `README.md`.
