"""Website personalization: sites, their widgets with variants, the visitor token a
tracked click adds, the snippet a site loads, and the page visits it records (B12)."""
