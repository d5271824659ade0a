"""Text renderings shared by pages, feeds and emails: text-mode LaTeX, BibTeX entries."""
