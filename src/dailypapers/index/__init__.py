"""Indexes: the text analyser, the BM25 keyword index, embeddings and the vector index."""
