"""Rendering: the terminal summary, report facts, Markdown and HTML.  Pure: data in,
text out."""
