"""Sphinx configuration for the messaging documentation."""

project = 'messaging'
author = 'The messaging developers'
copyright = '2026, The messaging developers'

extensions = [
    'sphinx.ext.autodoc',
    'sphinx.ext.viewcode',
    'oslo_config.sphinxext',
]

autodoc_member_order = 'bysource'
autodoc_typehints = 'description'
master_doc = 'index'
exclude_patterns = []
html_theme = 'alabaster'
