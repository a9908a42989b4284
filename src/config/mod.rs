//! The configuration model, its TOML loader and the keepalived.conf importer.
