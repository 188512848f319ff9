//! Go `text/template` rendering with Docker's template functions, for `--format` and `inspect -f`.
