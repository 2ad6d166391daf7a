"""Curated public data shipped with the package (copied from the project's ``shared/data``).

Every file here is a verbatim copy of the curated public statistics, each row naming its source
and URL, except ``cluster_assumptions.csv`` which holds labelled modelling assumptions.
"""
