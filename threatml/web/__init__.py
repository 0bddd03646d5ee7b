"""URLs and domain names: normalisation, lexical features, the URL and DGA models, DNS tunneling.

Everything here works offline: the registered domain comes from tldextract's
bundled public-suffix snapshot (never fetched), and no URL is ever visited.
"""
