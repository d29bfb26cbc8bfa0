"""Data set manifests (package data): one `<name>.toml` + `<name>.sha256` per data set."""
