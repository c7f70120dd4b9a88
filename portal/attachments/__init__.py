"""Files members attach to posts: the safety pipeline every file passes (safety) and where the
files that pass it, and the ones it holds back, are kept (storage)."""
