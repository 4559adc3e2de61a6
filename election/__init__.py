"""The election domain: definitions, validity rules, tallies and seat allocation.

Pure and free of I/O beyond JSON text, so every other room can depend on it and it
depends on none of them.
"""
