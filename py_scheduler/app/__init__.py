"""The running scheduler: composition root, HTTP endpoints, process lifecycle."""
