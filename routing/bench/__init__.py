"""Readers and writers for published routing benchmark formats (VRPLIB, Kim 2006).

Each reader turns a file into a plain instance record with its matrices built in the
instance's own objective convention; ``routing.bench.to_problem`` turns that record into
the product's problem model so the product solver is what gets measured.
"""
