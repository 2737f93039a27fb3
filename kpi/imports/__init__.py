"""Schools' files in: reading within limits, validating everything, applying all or nothing (audited),
the Excel templates whose headers the importer recognises, and evidence files checked by content.
"""
