"""A toy project written against experimaestro, in the shape of its official demo.

Runs unchanged on the reference and on xpm_nb's stand-in (``XPM_NB_EXPERIMAESTRO=1``).
"""
