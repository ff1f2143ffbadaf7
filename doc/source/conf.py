"""Sphinx configuration for the messaging documentation."""
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
# Document the tree being built (not whichever copy is installed), and find
# the local extension that draws the migration table from it.
sys.path.insert(0, os.path.abspath(os.path.join(_HERE, '..', '..')))
sys.path.insert(0, os.path.join(_HERE, '_ext'))

project = 'messaging'
author = 'The messaging developers'
copyright = '2026, The messaging developers'

extensions = [
    'sphinx.ext.autodoc',
    'sphinx.ext.viewcode',
    'oslo_config.sphinxext',
    'migration_table',
]

autodoc_member_order = 'bysource'
autodoc_typehints = 'description'
master_doc = 'index'
exclude_patterns = ['_data']
html_theme = 'alabaster'
# Defaults, option values and signatures are shown as the code spells them.
smartquotes = False
