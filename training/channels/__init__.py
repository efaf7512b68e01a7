"""Marketing's channel review: what drives conversion per channel (analysis and page)."""
