"""Which article a request is about, and the article's row."""
