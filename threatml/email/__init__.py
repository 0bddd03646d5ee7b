"""Mail: parsing (headers, visible text, URLs, attachments), features and the ham/spam/phishing model.

Reading files is :mod:`threatml.readers.email`; the detector is :mod:`threatml.detectors.email`;
``docs/email.md`` describes the whole path. Nothing here makes a network call.
"""
