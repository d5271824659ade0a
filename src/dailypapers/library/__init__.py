"""Reading libraries from reference managers: BibTeX, RIS, CSL-JSON and plain id lists
(parse.py), matching them to papers here (match.py) and importing them in the background
(imports.py)."""
