"""Figures (matplotlib, no pyplot state)."""
