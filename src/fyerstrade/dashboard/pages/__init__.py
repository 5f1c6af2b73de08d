"""One module per dashboard page; each exposes ``render_page() -> None``."""
