"""The JSON API, in Hugging Face Papers' shapes so existing clients work."""
