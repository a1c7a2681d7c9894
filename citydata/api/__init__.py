"""HTTP adapters: they translate requests and results and hold no business rules."""
