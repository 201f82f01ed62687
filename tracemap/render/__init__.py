"""Renderers: a result in, text out. Only render/text.py imports rich."""
