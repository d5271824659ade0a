"""RSS 2.0 and Atom feeds of the lists, searches and people the site's pages show."""
