"""The configuration core: classes, fields, identifiers. Imports nothing of ours outside core."""
